package alerting

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/prometheus/rules"

	"github.com/trainwatch/trainwatch/internal/collector"
)

const nanRule = `groups:
  - name: training
    rules:
      - alert: TrainingLossNaN
        expr: training_loss != training_loss
        labels:
          severity: critical
        annotations:
          summary: "training loss of {{ $labels.run }} is NaN"
`

func TestLoadRuleFiles(t *testing.T) {
	dir, bad := t.TempDir(), t.TempDir()
	good := writeFile(t, dir, "good.yml", nanRule)
	writeFile(t, dir, "more.yml", "groups:\n  - name: more\n    rules:\n      - record: x:y\n        expr: vector(1)\n")
	brokenFS := fstest.MapFS{
		"ok.yml":  {Data: []byte("groups: [{name: builtin-ok, rules: [{record: a:b, expr: vector(2)}]}]\n")},
		"bad.yml": {Data: []byte("groups:\n  - name: builtin-bad\n    rules:\n      - alert: X\n        expr: sum(\n")},
	}
	e := newEnv(t, "") // the managers only load
	for _, tc := range []struct {
		name      string
		files     []string
		builtin   bool
		fsys      fs.FS
		names     []string // Options.BuiltinFiles
		wantFiles []string
		wantErrs  []string // substrings, each its own problem
	}{
		{name: "one file", files: []string{good}, wantFiles: []string{good}},
		{name: "glob", files: []string{filepath.Join(dir, "*.yml")}, wantFiles: []string{good, filepath.Join(dir, "more.yml")}},
		{name: "glob matching nothing", files: []string{filepath.Join(dir, "*.rules")}},
		{name: "built-in pack from an fs.FS", builtin: true, fsys: os.DirFS("testdata/builtin"),
			wantFiles: []string{"builtin:gpu.yaml", "builtin:training.yml"}},
		{name: "built-in files named", builtin: true, fsys: os.DirFS("testdata/builtin"), names: []string{"training.yml"},
			wantFiles: []string{"builtin:training.yml"}},
		{name: "built-in pack off", builtin: false, fsys: os.DirFS("testdata/builtin")},
		{name: "built-in and user files", files: []string{good}, builtin: true, fsys: os.DirFS("testdata/builtin"),
			wantFiles: []string{"builtin:gpu.yaml", "builtin:training.yml", good}},
		{name: "missing file", files: []string{filepath.Join(dir, "nope.yml")},
			wantErrs: []string{filepath.Join(dir, "nope.yml") + ": no such file or directory"}},
		{name: "broken built-in file", builtin: true, fsys: brokenFS,
			wantErrs: []string{`builtin:bad.yml:5:15: group "builtin-bad", rule 1, "X": could not parse expression`}},
		{name: "yaml syntax", files: []string{writeFile(t, bad, "syntax.yml", "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: \"up\n")},
			wantErrs: []string{filepath.Join(bad, "syntax.yml") + ":5: found unexpected end of stream"}},
		{name: "unknown field", files: []string{writeFile(t, bad, "field.yml", "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        fro: 5m\n")},
			wantErrs: []string{filepath.Join(bad, "field.yml") + ":6: field fro not found"}},
		{name: "bad expression", files: []string{writeFile(t, bad, "expr.yml", "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n")},
			wantErrs: []string{filepath.Join(bad, "expr.yml") + `:5:15: group "a", rule 1, "X": could not parse expression`}},
		{name: "bad template", files: []string{writeFile(t, bad, "tmpl.yml", "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        annotations:\n          summary: '{{ $labels.instance'\n")},
			wantErrs: []string{filepath.Join(bad, "tmpl.yml") + `: group "a", rule 1, "X": annotation "summary": template: __alert_X:1: unclosed action`}},
		{name: "duplicate group", files: []string{writeFile(t, bad, "dup.yml", "groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n")},
			wantErrs: []string{filepath.Join(bad, "dup.yml") + `: groupname: "a" is repeated in the same file`}},
		{name: "subquery with too many steps", files: []string{writeFile(t, bad, "subquery.yml",
			"groups:\n  - name: a\n    rules:\n      - record: ok:sq\n        expr: max_over_time(up[1h:])\n      - alert: Huge\n        expr: count_over_time(up[100y:1ms]) > 0\n")},
			wantErrs: []string{filepath.Join(bad, "subquery.yml") + `:7:15: group "a", rule 2, "Huge": subquery up[100y:1ms] would be evaluated at 3.15e+12 steps, more than the limit of 1000000`}},
		{name: "every broken file is reported", files: []string{good, filepath.Join(bad, "expr.yml"), filepath.Join(bad, "field.yml")},
			wantErrs: []string{"expr.yml:5:15", "field.yml:6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fastConfig(tc.files...)
			cfg.BuiltinRules = &tc.builtin
			m := e.build(t, Options{Config: cfg, BuiltinFS: tc.fsys, BuiltinFiles: tc.names})
			err := m.Load()
			if len(tc.wantErrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got := m.Files(); !slices.Equal(got, tc.wantFiles) {
					t.Fatalf("files %q, want %q", got, tc.wantFiles)
				}
				return
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T), want a *LoadError", err, err)
			}
			if len(le.Errs) != len(tc.wantErrs) {
				t.Errorf("%d problems, want %d:\n%v", len(le.Errs), len(tc.wantErrs), err)
			}
			for _, w := range tc.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain %q", err, w)
				}
			}
			if len(m.RuleGroups()) != 0 {
				t.Errorf("a failed first load runs %d groups", len(m.RuleGroups()))
			}
		})
	}
}

// TestBrokenReloadKeepsRules proves that a reload with a broken file
// changes nothing: the alert keeps firing and the group keeps evaluating;
// a fixed file then adds a rule.
func TestBrokenReloadKeepsRules(t *testing.T) {
	e := newEnv(t, "")
	dir := t.TempDir()
	path := writeFile(t, dir, "rules.yml", nanRule)
	m := e.start(t, Options{Config: fastConfig(path)})
	e.add(t, "training_loss", math.NaN(), time.Now(), "run", "a")
	waitFor(t, 5*time.Second, "TrainingLossNaN firing", func() bool { return hasState(m, "TrainingLossNaN", rules.StateFiring) })

	writeFile(t, dir, "rules.yml", nanRule+"      - alert: Broken\n        expr: sum(training_loss\n")
	err := m.Reload()
	var le *LoadError
	if !errors.As(err, &le) || !le.Kept {
		t.Fatalf("Reload: %v, want a *LoadError with Kept", err)
	}
	want := path + `:11:15: group "training", rule 2, "Broken": could not parse expression`
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "the previous rules keep running") {
		t.Fatalf("Reload error:\n%v\nwant it to contain %q", err, want)
	}
	rec := httptest.NewRecorder()
	m.ReloadHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("POST /-/reload: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	m.ReloadHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/reload", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d", rec.Code)
	}
	fams := collect(t, m)
	if v := fams["trainwatch_rules_last_reload_success"]; v[""] != 0 {
		t.Errorf("trainwatch_rules_last_reload_success %v, want 0", v)
	}
	g := m.RuleGroups()[0]
	before := g.GetLastEvaluation()
	waitFor(t, 5*time.Second, "more evaluations after the failed reload", func() bool {
		return g.GetLastEvaluation().After(before.Add(250 * time.Millisecond))
	})
	if len(m.RuleGroups()) != 1 || len(m.RuleGroups()[0].Rules()) != 1 || !hasState(m, "TrainingLossNaN", rules.StateFiring) {
		t.Fatal("the previous rule does not keep firing after a broken reload")
	}
	if e.querySeries(t, `ALERTS{alertname="TrainingLossNaN", alertstate="firing"}`) == nil {
		t.Fatal("no ALERTS series after a broken reload")
	}

	writeFile(t, dir, "rules.yml", nanRule+"      - record: training_loss:count\n        expr: count(training_loss)\n")
	rec = httptest.NewRecorder()
	m.ReloadHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "rules reloaded: 1 files, 1 groups\n" {
		t.Fatalf("POST /-/reload: %d %s", rec.Code, rec.Body)
	}
	waitFor(t, 5*time.Second, "the new recording rule's series", func() bool {
		return len(e.querySeries(t, "training_loss:count")) == 1
	})
	if !hasState(m, "TrainingLossNaN", rules.StateFiring) {
		t.Error("the unchanged alert lost its state over the reload")
	}
	if v := collect(t, m)["trainwatch_rules_last_reload_success"]; v[""] != 1 {
		t.Errorf("trainwatch_rules_last_reload_success %v, want 1", v)
	}
}

// TestAlertLifecycle follows an alert through pending, firing and
// resolved over a real store, with its ALERTS series and the query API's
// /api/v1/rules and /api/v1/alerts.
func TestAlertLifecycle(t *testing.T) {
	e := newEnv(t, "")
	path := writeFile(t, t.TempDir(), "rules.yml", `groups:
  - name: training
    rules:
      - record: training_loss:max
        expr: max(training_loss)
      - alert: TrainingLossNaN
        expr: training_loss != training_loss
        for: 600ms
        labels:
          severity: critical
        annotations:
          summary: "training loss of {{ $labels.run }} is NaN"
`)
	m := e.start(t, Options{Config: fastConfig(path)})
	e.add(t, "training_loss", 0.5, time.Now(), "run", "a")
	waitFor(t, 5*time.Second, "an evaluation", func() bool { return len(e.querySeries(t, "training_loss:max")) == 1 })
	if s := alertStates(m, "TrainingLossNaN"); len(s) != 0 {
		t.Fatalf("alert states %v before the condition", s)
	}

	e.add(t, "training_loss", math.NaN(), time.Now(), "run", "a")
	waitFor(t, 5*time.Second, "pending", func() bool { return hasState(m, "TrainingLossNaN", rules.StatePending) })
	pendingAt := time.Now()
	waitFor(t, 2*time.Second, "pending ALERTS series", func() bool {
		got := e.querySeries(t, `ALERTS{alertstate="pending"}`)
		return len(got) == 1 && got[0]["run"] == "a" && got[0]["severity"] == "critical"
	})
	var alerts struct {
		Alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			State       string            `json:"state"`
			Value       string            `json:"value"`
		} `json:"alerts"`
	}
	e.apiGet(t, "/api/v1/alerts", nil, &alerts)
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].State != "pending" || alerts.Alerts[0].Annotations["summary"] != "training loss of a is NaN" || alerts.Alerts[0].Value != "NaN" {
		t.Errorf("/api/v1/alerts while pending: %+v", alerts)
	}

	waitFor(t, 5*time.Second, "firing", func() bool { return hasState(m, "TrainingLossNaN", rules.StateFiring) })
	if d := time.Since(pendingAt); d < 400*time.Millisecond {
		t.Errorf("fired %s after pending; the rule says for: 600ms", d)
	}
	waitFor(t, 2*time.Second, "firing ALERTS series", func() bool {
		return len(e.querySeries(t, `ALERTS{alertname="TrainingLossNaN", alertstate="firing", run="a"}`)) == 1
	})
	if len(e.querySeries(t, `ALERTS_FOR_STATE{alertname="TrainingLossNaN"}`)) != 1 {
		t.Error("no ALERTS_FOR_STATE series")
	}
	var rulesData struct {
		Groups []struct {
			Name  string `json:"name"`
			File  string `json:"file"`
			Rules []struct {
				Name   string `json:"name"`
				Type   string `json:"type"`
				State  string `json:"state"`
				Health string `json:"health"`
				Alerts []struct {
					State string `json:"state"`
				} `json:"alerts"`
			} `json:"rules"`
		} `json:"groups"`
	}
	e.apiGet(t, "/api/v1/rules", nil, &rulesData)
	if len(rulesData.Groups) != 1 || rulesData.Groups[0].Name != "training" || rulesData.Groups[0].File != path || len(rulesData.Groups[0].Rules) != 2 {
		t.Fatalf("/api/v1/rules: %+v", rulesData)
	}
	rec, al := rulesData.Groups[0].Rules[0], rulesData.Groups[0].Rules[1]
	if rec.Type != "recording" || rec.Health != "ok" || al.Type != "alerting" || al.State != "firing" || len(al.Alerts) != 1 {
		t.Errorf("/api/v1/rules rules: %+v", rulesData.Groups[0].Rules)
	}

	e.add(t, "training_loss", 0.25, time.Now(), "run", "a")
	waitFor(t, 5*time.Second, "resolved", func() bool {
		s := alertStates(m, "TrainingLossNaN")
		return len(s) == 1 && s[0] == rules.StateInactive
	})
	waitFor(t, 2*time.Second, "the ALERTS series to end", func() bool {
		return len(e.querySeries(t, `ALERTS{alertname="TrainingLossNaN"}`)) == 0
	})
	fams := collect(t, m)
	if fams["trainwatch_alerts"]["firing"] != 0 || fams["trainwatch_alerts"]["pending"] != 0 {
		t.Errorf("trainwatch_alerts after resolution: %v", fams["trainwatch_alerts"])
	}
}

// TestForStateRestored restarts the rule engine over the same store: a
// firing alert's `for` state comes back from ALERTS_FOR_STATE, so it fires
// again without waiting its `for` anew.
func TestForStateRestored(t *testing.T) {
	dir := t.TempDir()
	rulesPath := writeFile(t, t.TempDir(), "rules.yml", strings.Replace(nanRule, "        labels:", "        for: 2s\n        labels:", 1))
	e := newEnv(t, dir)
	m := e.start(t, Options{Config: fastConfig(rulesPath), ForGracePeriod: time.Second})
	e.add(t, "training_loss", math.NaN(), time.Now(), "run", "a")
	waitFor(t, 10*time.Second, "firing", func() bool { return hasState(m, "TrainingLossNaN", rules.StateFiring) })
	var activeAt time.Time
	m.AlertingRules()[0].ForEachActiveAlert(func(a *rules.Alert) { activeAt = a.ActiveAt })
	m.Stop()

	restart := time.Now()
	m2 := e.start(t, Options{Config: fastConfig(rulesPath), ForGracePeriod: time.Second})
	waitFor(t, 5*time.Second, "firing after the restart", func() bool { return hasState(m2, "TrainingLossNaN", rules.StateFiring) })
	if d := time.Since(restart); d > 1500*time.Millisecond {
		t.Errorf("fired %s after the restart: the `for` state was not restored", d)
	}
	m2.AlertingRules()[0].ForEachActiveAlert(func(a *rules.Alert) {
		if a.ActiveAt.Unix() != activeAt.Unix() {
			t.Errorf("restored ActiveAt %s, want %s", a.ActiveAt, activeAt)
		}
	})
}

// TestEvaluationFailuresCounted checks the self-metrics, with a recording
// rule that fails at every evaluation.
func TestEvaluationFailuresCounted(t *testing.T) {
	e := newEnv(t, "")
	path := writeFile(t, t.TempDir(), "rules.yml", `groups:
  - name: failing
    rules:
      - record: both
        expr: '{__name__=~"dup_a|dup_b"}'
`)
	now := time.Now()
	e.add(t, "dup_a", 1, now)
	e.add(t, "dup_b", 1, now)
	logger, logs := logBuffer()
	m := e.start(t, Options{Config: fastConfig(path), Logger: logger})
	waitFor(t, 5*time.Second, "three failed evaluations", func() bool {
		return collect(t, m)["trainwatch_rule_evaluation_failures_total"][""] >= 3
	})
	if n := logs.Count("Evaluating rule failed"); n != 1 {
		t.Errorf("the same failure was logged %d times, want once:\n%s", n, logs)
	}
	fams := collect(t, m)
	key := path + ";failing"
	if _, ok := fams["trainwatch_rule_group_last_duration_seconds"][key]; !ok {
		t.Errorf("no trainwatch_rule_group_last_duration_seconds{group=%q}: %v", key, fams["trainwatch_rule_group_last_duration_seconds"])
	}
	if fams["trainwatch_rules_last_reload_success"][""] != 1 || fams["trainwatch_rules_last_reload_timestamp_seconds"][""] < float64(now.Unix()-1) {
		t.Errorf("reload metrics: %v %v", fams["trainwatch_rules_last_reload_success"], fams["trainwatch_rules_last_reload_timestamp_seconds"])
	}
	if r := m.RuleGroups()[0].Rules()[0]; r.Health() != rules.HealthBad || r.LastError() == nil {
		t.Errorf("rule health %s, error %v", r.Health(), r.LastError())
	}
}

// collect runs the Manager's collector and returns family -> first label
// value ("" for none) -> value.
func collect(t testing.TB, m *Manager) map[string]map[string]float64 {
	t.Helper()
	fams, err := collector.CollectOnce(context.Background(), m.Collector())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, f := range fams {
		vals := map[string]float64{}
		for _, s := range f.Samples {
			k := ""
			if len(s.LabelValues) > 0 {
				k = s.LabelValues[0]
			}
			vals[k] = s.Value
		}
		out[f.Desc.Name] = vals
	}
	return out
}

// TestNilManager: with alerting off the API still answers.
func TestNilManager(t *testing.T) {
	var m *Manager
	r := m.Retriever(context.Background())
	if r.RuleGroups() != nil || r.AlertingRules() != nil || m.Alertmanagers() != nil || m.DroppedAlertmanagers() != nil {
		t.Error("a nil Manager should have nothing")
	}
}
