package main

import (
	"bufio"
	"bytes"
	"encoding/json"
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
