package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// sharedCompat is the shared compat folder beside the repository.
const sharedCompat = "../../../shared/compat"

type dashboardQuery struct {
	PanelTitle string   `json:"panel_title"`
	Expr       string   `json:"expr_default"`
	Metrics    []string `json:"metrics"`
	Source     string   `json:"source"`
}

// dashboardQueries extracts every query of a dashboard with the shared
// dashboard_queries.py, variables substituted.
func dashboardQueries(t *testing.T, dashboard string, set ...string) []dashboardQuery {
	t.Helper()
	script := sharedCompat + "/dashboard_queries.py"
	if _, err := os.Stat(script); err != nil {
		if testenv.InCI() {
			t.Fatalf("%s: %v", script, err)
		}
		t.Skipf("shared compat folder not found: %v", err)
	}
	python := testenv.LookPath(t, "python3")
	args := []string{script, sharedCompat + "/dashboards/" + dashboard}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(python, args...).Output()
	if err != nil {
		t.Fatalf("dashboard_queries.py: %v", err)
	}
	var qs []dashboardQuery
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var q dashboardQuery
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		t.Fatal("no queries extracted")
	}
	return qs
}

// labelValuesRE turns Grafana's label_values(metric, label) into a query.
var labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

// checkDashboard runs every query of a dashboard against a real Prometheus
// that scrapes the agent, and returns the queries that fail and the ones
// that return nothing although the agent emits every metric they use.
func checkDashboard(t *testing.T, prom *testenv.Prometheus, exposition string, qs []dashboardQuery) (failed, empty []string) {
	t.Helper()
	for _, q := range qs {
		expr := q.Expr
		if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
			expr = "count by (" + m[2] + ") (" + m[1] + ")"
		}
		r, err := prom.Query(expr)
		if err != nil {
			failed = append(failed, q.PanelTitle+": "+err.Error())
			continue
		}
		emitted := true
		for _, m := range q.Metrics {
			if !strings.Contains(exposition, "\n"+m+"{") && !strings.Contains(exposition, "\n"+m+" ") {
				emitted = false
			}
		}
		if emitted && len(r.Result) == 0 {
			empty = append(empty, q.PanelTitle+": "+expr)
		}
	}
	sort.Strings(empty)
	return failed, empty
}

// TestNodeExporterFullAgainstPrometheus: a real Prometheus scrapes the
// agent; every query of Grafana dashboard 1860 runs, and every query whose
// metrics the agent emits returns data (but the few listed, which filter
// on conditions this VM does not meet).
func TestNodeExporterFullAgainstPrometheus(t *testing.T) {
	qs := dashboardQueries(t, "node-exporter-full.json", "job=node")
	cfg := config.Default()
	base := startAgent(t, cfg)
	prom := testenv.StartPrometheus(t, "node", time.Second, strings.TrimPrefix(base, "http://"))
	prom.WaitForSeries(t, `count_over_time(node_uname_info{job="node"}[1m]) >= 3`, 30*time.Second)
	_, body := get(t, base+"/metrics", nil)

	failed, empty := checkDashboard(t, prom, string(body), qs)
	for _, f := range failed {
		t.Errorf("query failed: %s", f)
	}
	// Queries that select on values this machine does not have, and
	// node_network_up{operstate="up"}: node_exporter's node_network_up has
	// only a device label, so that panel is empty with node_exporter too.
	allowedEmpty := regexp.MustCompile(`node_systemd|node_textfile|> 0|!= 0|node_memory_HardwareCorrupted|node_network_speed|node_cpu_scaling|node_hwmon|node_schedstat|node_pressure_irq|node_network_up\{operstate="up"`)
	for _, e := range empty {
		if !allowedEmpty.MatchString(e) {
			t.Errorf("no data although the agent emits the metrics: %s", e)
		}
	}
	t.Logf("%d queries of dashboard 1860 ran against Prometheus; %d returned nothing (allowed: conditions not met on this machine)", len(qs), len(empty))
}

// TestDCGMDashboardAgainstDemo: a real Prometheus scrapes a --demo agent;
// every query of NVIDIA's DCGM dashboard (12239) runs and returns data,
// with the gpu label the dashboard filters on, for all 8 simulated GPUs.
func TestDCGMDashboardAgainstDemo(t *testing.T) {
	qs := dashboardQueries(t, "dcgm-exporter.json")
	cfg := config.Default()
	cfg.Demo = true
	base := startAgent(t, cfg)
	prom := testenv.StartPrometheus(t, "dcgm", time.Second, strings.TrimPrefix(base, "http://"))
	prom.WaitForSeries(t, `count_over_time(DCGM_FI_DEV_GPU_TEMP[1m]) >= 2`, 30*time.Second)
	_, body := get(t, base+"/metrics", nil)

	failed, empty := checkDashboard(t, prom, string(body), qs)
	for _, f := range failed {
		t.Errorf("query failed: %s", f)
	}
	for _, e := range empty {
		t.Errorf("no data: %s", e)
	}
	for _, q := range qs {
		for _, m := range q.Metrics {
			if !strings.Contains(string(body), "\n"+m+"{") {
				t.Errorf("panel %q needs %s, which the demo agent does not emit", q.PanelTitle, m)
			}
		}
	}
	r, err := prom.Query(`count by (gpu) (DCGM_FI_DEV_GPU_TEMP{instance=~".+", gpu=~".+"})`)
	if err != nil || len(r.Result) != 8 {
		t.Fatalf("want 8 GPUs selectable by the gpu variable, got %v (%v)", r, err)
	}
}

// absentReasons explains, by metric-name prefix, why a metric of dashboard
// 1860 has no data on a machine: hardware or kernel features this CI VM
// lacks, or node_exporter collectors trainwatch does not implement.
var absentReasons = []struct{ prefix, reason string }{
	{"node_systemd_", "systemd collector not implemented (off by default in node_exporter too)"},
	{"node_textfile_", "textfile collector not implemented"},
	{"node_hwmon_", "hardware absent: the VM exposes no hwmon sensors"},
	{"node_cpu_scaling_", "hardware absent: the VM exposes no cpufreq"},
	{"node_cpu_frequency_", "hardware absent: the VM exposes no cpufreq"},
	{"node_schedstat_", "kernel built without CONFIG_SCHEDSTATS"},
	{"node_power_supply_", "hardware absent: no power supply class devices"},
	{"node_rapl_", "hardware absent: no RAPL counters in a VM"},
	{"node_thermal_", "hardware absent: no thermal zones in the VM"},
	{"node_cooling_", "hardware absent: no cooling devices in the VM"},
	{"node_memory_HardwareCorrupted", "kernel without CONFIG_MEMORY_FAILURE: meminfo has no HardwareCorrupted line"},
	{"node_network_speed_bytes", "the virtual NIC reports no link speed"},
	{"node_pressure_irq_", "kernel without IRQ pressure stall information"},
	{"node_kernel_hung_tasks", "the dashboard asks for node_kernel_hung_tasks; node_exporter's kernel_hung collector (and trainwatch) name it node_kernel_hung_tasks_total, so the panel is empty with node_exporter too"},
}

// unansweredReason says why a dashboard query returned no data, or "" when
// there is no acceptable reason.
func unansweredReason(q dashboardQuery, expr, exposition string) string {
	for _, m := range q.Metrics {
		if strings.Contains(exposition, "\n"+m+"{") || strings.Contains(exposition, "\n"+m+" ") {
			continue
		}
		for _, r := range absentReasons {
			if strings.HasPrefix(m, r.prefix) {
				return m + ": " + r.reason
			}
		}
		return ""
	}
	switch {
	case strings.Contains(expr, `node_network_up{operstate="up"`):
		return "node_network_up has only a device label in node_exporter too; the panel is empty there as well"
	case regexp.MustCompile(`(>|!=) ?0\b`).MatchString(expr):
		return "filters on a value (> 0 or != 0) that is 0 on this machine"
	}
	return ""
}

// TestDashboardsAgainstAgentAPI runs every query of Grafana dashboards 1860
// (Node Exporter Full) and 12239 (DCGM) against the agent's own Prometheus
// API after more than two minutes of its history, as Grafana would with the
// agent added as a Prometheus data source. Every query must run; every 1860
// query must answer or have a listed reason; every DCGM query must answer.
func TestDashboardsAgainstAgentAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("needs more than two minutes of history")
	}
	node := dashboardQueries(t, "node-exporter-full.json", "job=trainwatch")
	dcgm := dashboardQueries(t, "dcgm-exporter.json")
	cfg := config.Default()
	cfg.Demo = true
	base := startAgent(t, cfg)
	api := &testenv.Prometheus{URL: base}
	time.Sleep(125 * time.Second)
	r, err := api.Query(`count_over_time(node_uname_info[3m])`)
	if err != nil || len(r.Result) != 1 {
		t.Fatalf("history after 2 minutes: %v %v", r, err)
	}
	_, body := get(t, base+"/metrics", nil)
	exposition := string(body)

	for _, d := range []struct {
		name      string
		qs        []dashboardQuery
		allAnswer bool
	}{
		{"1860 Node Exporter Full", node, false},
		{"12239 NVIDIA DCGM Exporter", dcgm, true},
	} {
		answered := 0
		var unanswered []string
		for _, q := range d.qs {
			expr := q.Expr
			if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
				expr = "count by (" + m[2] + ") (" + m[1] + ")"
			}
			res, err := api.Query(expr)
			if err != nil {
				t.Errorf("%s: %q failed: %v", d.name, expr, err)
				continue
			}
			if len(res.Result) > 0 {
				answered++
				continue
			}
			reason := unansweredReason(q, expr, exposition)
			if reason == "" || d.allAnswer {
				t.Errorf("%s: panel %q: no data and no known reason: %s", d.name, q.PanelTitle, expr)
				reason = "UNEXPLAINED"
			}
			unanswered = append(unanswered, fmt.Sprintf("%s [%s]: %s", q.PanelTitle, reason, expr))
		}
		sort.Strings(unanswered)
		t.Logf("%s: %d/%d queries answered with data from the agent's API", d.name, answered, len(d.qs))
		for _, u := range unanswered {
			t.Logf("  unanswered: %s", u)
		}
	}
}
