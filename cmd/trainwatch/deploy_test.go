package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// deployDir holds the Prometheus and Alertmanager configurations shipped
// for trainwatch.
const deployDir = "../../deploy/prometheus"

// TestDeployRulesCopy: deploy/prometheus/trainwatch.rules.yml is a copy of
// the built-in pack, byte for byte, so that the directory works on its own
// once copied to /etc/prometheus.
func TestDeployRulesCopy(t *testing.T) {
	pack, err := os.ReadFile("../../rules/trainwatch.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(filepath.Join(deployDir, "trainwatch.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pack, copied) {
		t.Fatal("deploy/prometheus/trainwatch.rules.yml differs from rules/trainwatch.rules.yml: " +
			"run cp rules/trainwatch.rules.yml deploy/prometheus/trainwatch.rules.yml")
	}
}

// TestDeployConfigsCheck: promtool and amtool accept the shipped files as
// they are (promtool check config also checks the rule files and the
// file_sd target files they name).
func TestDeployConfigsCheck(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool")
	amtool := testenv.LookPath(t, "amtool")
	rules := 0
	for _, n := range ruleFileGroups(t, filepath.Join(deployDir, "trainwatch.rules.yml")) {
		rules += n
	}
	tests := []struct {
		tool string
		args []string
		want string
	}{
		{promtool, []string{"check", "config", "prometheus.yml"}, "SUCCESS: prometheus.yml is valid prometheus config file syntax"},
		{promtool, []string{"check", "config", "prometheus-fleet.yml"}, "SUCCESS: prometheus-fleet.yml is valid prometheus config file syntax"},
		{promtool, []string{"check", "rules", "trainwatch.rules.yml"}, fmt.Sprintf("SUCCESS: %d rules found", rules)},
		{amtool, []string{"check-config", "alertmanager.yml"}, "SUCCESS"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(tt.tool, tt.args...)
			cmd.Dir = deployDir
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("%s %s: %v\n%s", filepath.Base(tt.tool), strings.Join(tt.args, " "), err, out)
			}
			if strings.Contains(string(out), "WARNING") {
				t.Errorf("warnings:\n%s", out)
			}
		})
	}

	// The fleet example's targets carry the labels the comments promise.
	var groups []struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels"`
	}
	b, err := os.ReadFile(filepath.Join(deployDir, "targets", "trainwatch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 {
		t.Fatal("no target groups in targets/trainwatch.yml")
	}
	for _, g := range groups {
		if len(g.Targets) == 0 || g.Labels["cluster"] == "" || g.Labels["rack"] == "" {
			t.Errorf("target group %+v: want targets and cluster and rack labels", g)
		}
	}
}

// rewriteDeployFile reads deploy/prometheus/name and applies the rewrites
// (old, new pairs) that running it in a test needs. Each old string must
// occur exactly once, so that a change to the shipped file that a rewrite
// no longer fits fails here instead of testing something else.
func rewriteDeployFile(t *testing.T, name string, rewrites ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(rewrites); i += 2 {
		if n := strings.Count(s, rewrites[i]); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once (update the test's rewrite)", name, rewrites[i], n)
		}
		s = strings.Replace(s, rewrites[i], rewrites[i+1], 1)
	}
	return s
}

// TestDeployPrometheus: a real Prometheus started with the shipped
// prometheus.yml, and another with prometheus-fleet.yml, scrape a --demo
// agent, load the shipped rules, evaluate them without error over the
// agent's series, and know the Alertmanager (the real one, with the
// shipped alertmanager.yml). The files are used as shipped (their 15 s
// scrape and evaluation intervals included) except for these rewrites:
//   - the target localhost:9835 becomes the test agent's address (fleet:
//     the targets/*.yml glob becomes a temporary directory whose file lists
//     the agent, labelled cluster="test", rack="r1");
//   - the relative rule file becomes its absolute path (the configuration
//     is written to a temporary directory);
//   - the Alertmanager localhost:9093 becomes the test's Alertmanager.
func TestDeployPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent, Alertmanager and two Prometheus servers, and waits for 15 s scrapes")
	}
	testenv.LookPath(t, "prometheus")
	am := startDeployAlertmanager(t, filepath.Join(deployDir, "alertmanager.yml"))
	amTarget := strings.TrimPrefix(am, "http://")

	demo := config.Default()
	demo.Demo = true
	demo.Interval = model.Duration(time.Second)
	target := strings.TrimPrefix(startAgent(t, demo), "http://")

	rules, err := filepath.Abs(filepath.Join(deployDir, "trainwatch.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	common := []string{
		"  - trainwatch.rules.yml\n", "  - " + strconv.Quote(rules) + "\n",
		`- targets: ["localhost:9093"]`, fmt.Sprintf("- targets: [%q]", amTarget),
	}

	t.Run("single host", func(t *testing.T) {
		t.Parallel()
		cfg := rewriteDeployFile(t, "prometheus.yml", append(common,
			`- targets: ["localhost:9835"]`, fmt.Sprintf("- targets: [%q]", target))...)
		prom := testenv.StartPrometheusWith(t, testenv.PrometheusOptions{Config: cfg})
		checkDeployedPrometheus(t, prom, target, `job="trainwatch",instance="`+target+`"`, am)
	})

	t.Run("fleet file_sd", func(t *testing.T) {
		t.Parallel()
		sd := t.TempDir()
		writeFile(t, filepath.Join(sd, "agents.yml"), fmt.Appendf(nil,
			"- targets: [%q]\n  labels:\n    cluster: test\n    rack: r1\n", target))
		cfg := rewriteDeployFile(t, "prometheus-fleet.yml", append(common,
			"- targets/*.yml\n", "- "+strconv.Quote(filepath.Join(sd, "*.yml"))+"\n")...)
		prom := testenv.StartPrometheusWith(t, testenv.PrometheusOptions{Config: cfg})
		checkDeployedPrometheus(t, prom, target, `job="trainwatch",instance="`+target+`",cluster="test",rack="r1"`, am)
	})
}

// checkDeployedPrometheus checks what TestDeployPrometheus promises of one
// Prometheus: sel selects the agent's series.
func checkDeployedPrometheus(t *testing.T, prom *testenv.Prometheus, target, sel, am string) {
	t.Helper()
	const within = 60 * time.Second // the first 15 s scrape and evaluation
	prom.WaitForSeries(t, `up{`+sel+`} == 1`, within)
	for _, c := range []struct {
		expr string
		want float64
	}{
		{`count(node_cpu_seconds_total{` + sel + `,mode="idle"}) > 0`, -1},
		{`node_memory_MemTotal_bytes{` + sel + `} > 0`, -1},
		{`count(DCGM_FI_DEV_GPU_TEMP{` + sel + `})`, 8}, // the demo's 8 x H200
		{`count(DCGM_FI_DEV_FB_USED{` + sel + `,modelName=~".*H200.*"})`, 8},
		{`trainwatch_demo{` + sel + `}`, 1},
	} {
		r, err := prom.Query(c.expr)
		if err != nil || len(r.Result) == 0 {
			t.Errorf("%s: %v, %d series", c.expr, err, len(r.Result))
			continue
		}
		if c.want >= 0 {
			if v := instantValueOf(t, r.Result[0]); v != c.want {
				t.Errorf("%s = %v, want %v", c.expr, v, c.want)
			}
		}
	}

	// The shipped rules: every group and rule of the file is loaded, and
	// once evaluated none has an error.
	want := ruleFileGroups(t, filepath.Join(deployDir, "trainwatch.rules.yml"))
	deadline := time.Now().Add(within)
	for {
		got, problems := loadedRules(t, prom.URL)
		if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
			t.Fatalf("rule groups %v, want %v", got, want)
		}
		for g, n := range want {
			if got[g] != n {
				t.Errorf("group %s: %d rules loaded, want %d", g, got[g], n)
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not evaluated cleanly within %s:\n%s", within, strings.Join(problems, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// A recording rule of the pack over the agent's scraped GPU series:
	// its labels line up with what the agent serves.
	prom.WaitForSeries(t, `instance_gpu:DCGM_FI_DEV_GPU_UTIL:avg5m_in_use{`+sel+`}`, within)

	var ams struct {
		Data struct {
			Active []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		} `json:"data"`
	}
	getJSON(t, prom.URL+"/api/v1/alertmanagers", &ams)
	if len(ams.Data.Active) != 1 || ams.Data.Active[0].URL != am+"/api/v2/alerts" {
		t.Errorf("active Alertmanagers %+v, want %s/api/v2/alerts", ams.Data.Active, am)
	}
	if t.Failed() {
		t.Logf("prometheus log:\n%s", prom.Log())
	}
}

// ruleFileGroups returns the rule groups of a rule file and how many rules
// each has.
func ruleFileGroups(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []yaml.Node `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	for _, g := range f.Groups {
		groups[g.Name] = len(g.Rules)
	}
	return groups
}

// loadedRules returns the rule groups Prometheus has loaded with their
// rule counts, and the rules not (yet) evaluated cleanly.
func loadedRules(t *testing.T, base string) (map[string]int, []string) {
	t.Helper()
	var body struct {
		Data struct {
			Groups []struct {
				Name           string    `json:"name"`
				LastEvaluation time.Time `json:"lastEvaluation"`
				Rules          []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, base+"/api/v1/rules", &body)
	groups := map[string]int{}
	var problems []string
	for _, g := range body.Data.Groups {
		groups[g.Name] = len(g.Rules)
		for _, r := range g.Rules {
			if r.Health != "ok" {
				problems = append(problems, fmt.Sprintf("%s/%s: health %q %s", g.Name, r.Name, r.Health, r.LastError))
			}
		}
	}
	return groups, problems
}

// instantValueOf returns the value of one sample of an instant query.
func instantValueOf(t *testing.T, raw json.RawMessage) float64 {
	t.Helper()
	var s struct {
		Value [2]any `json:"value"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("sample %s: %v", raw, err)
	}
	return v
}

// TestDeployAlertmanagerInhibits: Debian's Alertmanager runs the shipped
// alertmanager.yml as it is, and its inhibit rules hold back exactly the
// warnings that a critical alert of the same GPU or run explains.
func TestDeployAlertmanagerInhibits(t *testing.T) {
	am := startDeployAlertmanager(t, filepath.Join(deployDir, "alertmanager.yml"))
	alert := func(name, severity string, labels ...string) map[string]any {
		l := map[string]string{"alertname": name, "severity": severity, "instance": "gpu-node-01:9835"}
		for i := 0; i+1 < len(labels); i += 2 {
			l[labels[i]] = labels[i+1]
		}
		return map[string]any{"labels": l}
	}
	alerts := []map[string]any{
		alert("GPUTemperatureCritical", "critical", "gpu", "0"),
		alert("GPUTemperatureHigh", "warning", "gpu", "0"),
		alert("GPUTemperatureHigh", "warning", "gpu", "1"),
		alert("TrainingRunHung", "critical", "run", "r1"),
		alert("TrainingRunStalled", "warning", "run", "r1"),
		alert("TrainingRunStalled", "warning", "run", "r2"),
		alert("HostMemoryHigh", "warning"),
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
	want := map[string]bool{ // "alertname gpu/run" -> inhibited
		"GPUTemperatureCritical 0": false,
		"GPUTemperatureHigh 0":     true,
		"GPUTemperatureHigh 1":     false,
		"TrainingRunHung r1":       false,
		"TrainingRunStalled r1":    true,
		"TrainingRunStalled r2":    false,
		"HostMemoryHigh ":          false, // not held back by the critical GPU or run alerts
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		getJSON(t, am+"/api/v2/alerts", &got)
		states := map[string]bool{}
		for _, a := range got {
			states[a.Labels["alertname"]+" "+a.Labels["gpu"]+a.Labels["run"]] = len(a.Status.InhibitedBy) > 0
		}
		if maps.Equal(states, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("inhibited: %v\nwant %v", states, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startDeployAlertmanager starts Debian's Alertmanager with the given
// configuration file on a free port and returns its URL; it is stopped
// when the test ends. It sends nothing in the time a test runs (the
// shipped file's SMTP server is a placeholder and its group_wait 10 s or
// more).
func startDeployAlertmanager(t *testing.T, cfg string) string {
	t.Helper()
	return testenv.StartAlertmanager(t, cfg)
}
