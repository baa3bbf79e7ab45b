package ruletest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

func TestRunPasses(t *testing.T) {
	for _, f := range []string{"pass.yml", "start_timestamp.yml"} {
		t.Run(f, func(t *testing.T) {
			fails, err := Run(filepath.Join("testdata", f))
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range fails {
				t.Error(fl)
			}
		})
	}
}

// TestRunFails proves that the runner fails a test whose expectations are
// wrong, and says which and how.
func TestRunFails(t *testing.T) {
	fails, err := Run(filepath.Join("testdata", "fail.yml"))
	if err != nil {
		t.Fatal(err)
	}
	hot := labels.FromStrings("alertname", "Hot", "job", "trainer", "severity", "warning")
	// In eval_time order, alert tests first, as the runner reports them.
	tests := []struct {
		alertname, expr string
		at              time.Duration
		want, got       string // Want and Got, or WantSamples and GotSamples, printed
	}{
		{alertname: "TrainerMissing", at: time.Minute,
			want: "[]",
			got: fmt.Sprint([]Alert{{labels.FromStrings("alertname", "TrainerMissing", "job", "trainer", "severity", "critical"),
				labels.FromStrings("summary", "no trainer")}})},
		{alertname: "Hot", at: 3 * time.Minute,
			want: fmt.Sprint([]Alert{{hot, labels.FromStrings("env", "prod", "summary", "trainer is at 85 °C")}}),
			got:  "[]"},
		{alertname: "Hot", at: 5 * time.Minute,
			want: fmt.Sprint([]Alert{{hot, labels.FromStrings("env", "prod", "summary", "trainer is at 84 °C")}}),
			got:  fmt.Sprint([]Alert{{hot, labels.FromStrings("env", "prod", "summary", "trainer is at 85 °C")}})},
		{expr: "job:temp:max", at: 5 * time.Minute,
			want: `[{__name__="job:temp:max", job="trainer"} 86]`,
			got:  `[{__name__="job:temp:max", job="trainer"} 85]`},
	}
	if len(fails) != len(tests) {
		t.Fatalf("%d failures, want %d:\n%v", len(fails), len(tests), fails)
	}
	for i, tt := range tests {
		fl := fails[i]
		if fl.Test != "wrong" || fl.Alertname != tt.alertname || fl.Expr != tt.expr || fl.EvalTime != tt.at || fl.Err != nil {
			t.Errorf("failure %d = %+v, want test wrong, alert %q, expr %q at %s", i, fl, tt.alertname, tt.expr, tt.at)
			continue
		}
		want, got := fmt.Sprint(fl.Want), fmt.Sprint(fl.Got)
		if tt.expr != "" {
			want, got = fmt.Sprint(fl.WantSamples), fmt.Sprint(fl.GotSamples)
		}
		if want != tt.want || got != tt.got {
			t.Errorf("failure %d: want %s got %s; expected want %s got %s", i, want, got, tt.want, tt.got)
		}
		if s := fl.String(); !strings.Contains(s, "test wrong, ") || !strings.Contains(s, "want:") || !strings.Contains(s, "got:") {
			t.Errorf("failure %d prints as %q", i, s)
		}
	}
}

func TestRunEvalError(t *testing.T) {
	fails, err := Run(filepath.Join("testdata", "evalerror.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 1 || fails[0].Err == nil || !strings.Contains(fails[0].Err.Error(), "broken/ManyToMany: ") ||
		!strings.Contains(fails[0].Err.Error(), "many-to-many matching not allowed") || fails[0].EvalTime != 0 {
		t.Fatalf("failures = %v, want the rule's evaluation error at 0s", fails)
	}
	if s := fails[0].String(); !strings.HasPrefix(s, "test #0, evaluation at 0s: broken/ManyToMany: ") {
		t.Errorf("prints as %q", s)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"bad/missing.yml", "reading rule test file"},
		{"bad/unknown_field.yml", "field evaluation_intervall not found"},
		{"bad/bad_series.yml", `test #0: input series temp{job="trainer"} "1 + x"`},
		{"bad/unknown_alert.yml", `no rule has the alertname "Hott"`},
		{"bad/no_alertname.yml", "an alert_rule_test at eval_time 1m0s has no alertname"},
		{"bad/no_rule_file.yml", "matches no file"},
		{"bad/bad_rules.yml", "loading rules: "},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fails, err := Run(filepath.Join("testdata", tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, %v; want an error containing %q", fails, err, tt.want)
			}
		})
	}
}

// TestAgainstPromtool checks the runner against the real promtool on the
// same files: both pass pass.yml, both fail the same checks of fail.yml.
func TestAgainstPromtool(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool")
	run := func(f string) (string, error) {
		out, err := exec.Command(promtool, "test", "rules", filepath.Join("testdata", f)).CombinedOutput()
		return string(out), err
	}
	if out, err := run("pass.yml"); err != nil {
		t.Errorf("promtool fails pass.yml: %v\n%s", err, out)
	}
	out, err := run("fail.yml")
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("promtool passes fail.yml (%v):\n%s", err, out)
	}
	fails, err := Run(filepath.Join("testdata", "fail.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fails {
		var want string
		if fl.Alertname != "" {
			want = fmt.Sprintf("alertname: %s, time: %s,", fl.Alertname, shortDuration(fl.EvalTime))
		} else {
			want = fmt.Sprintf("expr: %q, time: %s,", fl.Expr, shortDuration(fl.EvalTime))
		}
		if !strings.Contains(out, want) {
			t.Errorf("promtool does not report %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "time: "); n != len(fails) {
		t.Errorf("promtool reports %d failures, the runner %d:\n%s", n, len(fails), out)
	}
}

// shortDuration prints as model.Duration does ("5m", "1m30s").
func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// TestEvaluatorFS loads rules from an fs.FS and evaluates them over data
// appended directly, as a benchmark does.
func TestEvaluatorFS(t *testing.T) {
	fsys := fstest.MapFS{"pack.rules.yml": {Data: []byte(`groups:
  - name: g
    rules:
      - alert: Hot
        expr: temp > 80
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.gpu }} at {{ $value }}"}
`)}}
	st, err := NewStorage()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	app := st.AppenderV2(ctx)
	for i, v := range []float64{70, 90} {
		lset := labels.FromStrings("__name__", "temp", "gpu", fmt.Sprint(i))
		if _, err := app.Append(0, lset, 0, 1000, v, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(st, EvalOptions{FS: fsys}, "pack.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if errs := ev.Eval(ctx, time.UnixMilli(2000)); len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []Alert{{labels.FromStrings("alertname", "Hot", "gpu", "1", "severity", "warning"), labels.FromStrings("summary", "1 at 90")}}
	if got := ev.Firing("Hot"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Firing = %v, want %v", got, want)
	}
	v, err := ev.Query(ctx, "ALERTS", time.UnixMilli(2000))
	if err != nil || len(v) != 1 {
		t.Errorf("ALERTS = %v, %v; want the firing alert's series", v, err)
	}
	if _, err := NewEvaluator(st, EvalOptions{FS: fsys}, "missing.rules.yml"); err == nil || !strings.Contains(err.Error(), "reading rule file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	f, err := Parse([]byte("rule_files: [a.yml]\ntests:\n  - input_series: []\n  - interval: 15s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(f.EvaluationInterval) != time.Minute || time.Duration(f.Tests[0].Interval) != time.Minute ||
		time.Duration(f.Tests[1].Interval) != 15*time.Second {
		t.Errorf("intervals %v %v %v; want 1m, 1m (default), 15s", f.EvaluationInterval, f.Tests[0].Interval, f.Tests[1].Interval)
	}
	for _, in := range []string{"tests: [{start_timestamp: yesterday}]", "tests: 3"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
	f, err = Parse([]byte("tests: [{start_timestamp: '2025-11-28T17:13:20Z'}, {start_timestamp: 1764350000.5}]"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Tests[0].StartTimestamp.Unix(); got != 1764350000 {
		t.Errorf("RFC 3339 start = %d", got)
	}
	if got := f.Tests[1].StartTimestamp.UnixMilli(); got != 1764350000500 {
		t.Errorf("Unix start = %d", got)
	}
}

// TestStartTimestampRange: a Unix start_timestamp must be a time RFC 3339
// can write (years 0000 to 9999); NaN and 1e300 were read as times of
// years past 292 billion or garbage (found by FuzzParse).
func TestStartTimestampRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // Unix seconds; ignored when err is set
		err  string
	}{
		{"0", 0, ""},
		{"1764350000.5", 1764350000, ""},
		{"253402300799", 253402300799, ""},
		{"-62167219200", -62167219200, ""},
		{"253402300800", 0, "out of range"},
		{"-62167219201", 0, "out of range"},
		{"1e300", 0, "out of range"},
		{"nan", 0, "out of range"},
		{"-inf", 0, "out of range"},
	} {
		f, err := Parse([]byte("tests:\n  - start_timestamp: " + tc.in + "\n"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("%s: err %v, want one quoting it and saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := f.Tests[0].StartTimestamp.Unix(); got != tc.want {
			t.Errorf("%s: read as %d", tc.in, got)
		}
	}
}

// TestSubqueryWithoutStep: a subquery without a step ([5m:]) evaluates at
// a 1m step, as in promtool; the engine had no default step and failed it.
func TestSubqueryWithoutStep(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"rules.yml": "groups: []\n",
		"test.yml": `rule_files: [rules.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="a"}'
        values: '1x10'
    promql_expr_test:
      - expr: count_over_time(up[5m:])
        eval_time: 10m
        exp_samples:
          - labels: '{job="a"}'
            value: 5
      - expr: count_over_time(up[5m:30s])
        eval_time: 10m
        exp_samples:
          - labels: '{job="a"}'
            value: 10
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fails, err := Run(filepath.Join(dir, "test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fails {
		t.Error(fl)
	}
}

// TestSubqueryTooManySteps: a subquery the agent would refuse to load (see
// internal/subquery) is refused in a rule file and in a promql_expr_test,
// before the engine allocates for it.
func TestSubqueryTooManySteps(t *testing.T) {
	const huge = "count_over_time(up[100y:1ms])"
	for _, tc := range []struct {
		name, rules, expr string
		wantErr, wantFail string
	}{
		{name: "in a rule file", rules: "groups:\n  - name: g\n    rules:\n      - record: huge:count\n        expr: " + huge + "\n",
			expr: "up", wantErr: `rules.yml: 5:15: group "g", rule 1, "huge:count": subquery up[100y:1ms] would be evaluated at 3.15e+12 steps`},
		{name: "in an expression test", rules: "groups: []\n", expr: huge,
			wantFail: "subquery up[100y:1ms] would be evaluated at 3.15e+12 steps, more than the limit of 1000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			test := "rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'up{job=\"a\"}'\n        values: '1x10'\n" +
				"    promql_expr_test:\n      - expr: " + tc.expr + "\n        eval_time: 10m\n        exp_samples:\n          - labels: 'up{job=\"a\"}'\n            value: 1\n"
			for name, body := range map[string]string{"rules.yml": tc.rules, "test.yml": test} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			fails, err := Run(filepath.Join(dir, "test.yml"))
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Run = %v, %v; want an error containing %q", fails, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(fails) != 1 || fails[0].Err == nil || !strings.Contains(fails[0].Err.Error(), tc.wantFail) {
				t.Fatalf("failures %v, want one whose error contains %q", fails, tc.wantFail)
			}
		})
	}
}
