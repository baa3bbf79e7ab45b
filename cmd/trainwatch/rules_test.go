package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// runRules runs "trainwatch rules ARGS..." in-process, as run() does: the
// root command with the rules command added (when the root does not have
// it yet), the same exit codes and the same error line on stderr.
func runRules(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	if c, _, err := root.Find([]string{"rules"}); err != nil || c == root {
		root.AddCommand(newRulesCmd())
	}
	root.SetArgs(append([]string{"rules"}, args...))
	err := root.ExecuteContext(context.Background())
	switch {
	case err == nil:
		code = 0
	default:
		fmt.Fprintf(&errOut, "trainwatch: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) || isCobraUsage(err) {
			code = 2
		} else {
			code = 1
		}
	}
	return code, out.String(), errOut.String()
}

// lineOf returns the 1-based line of the first line of file that contains
// s, so that the tests do not hard-code the layout of the rule files.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, s)
	return 0
}

var (
	briefRules     = filepath.Join("testdata", "rules", "brief.rules.yml")
	correctedRules = filepath.Join("testdata", "rules", "corrected.rules.yml")
	brokenRules    = filepath.Join("testdata", "rules", "broken.rules.yml")
)

// TestRulesCheckBrief: the brief's original rules parse, but the check
// finds both of their bugs, at their lines, with the corrected expressions.
func TestRulesCheckBrief(t *testing.T) {
	code, out, errOut := runRules(t, "check", briefRules)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	gpuLine := lineOf(t, briefRules, "expr: DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE")
	lossLine := lineOf(t, briefRules, "expr: rate(training_loss[5m])")
	for _, want := range []string{
		fmt.Sprintf("%s:%d: error: alert \"HighGPUMemoryUsage\": DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE divides used by free", briefRules, gpuLine),
		"(used-over-free)\n    corrected: DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 100 > 90\n",
		fmt.Sprintf("%s:%d: error: alert \"TrainingLossIncreasing\": rate() assumes a counter, but training_loss is a gauge", briefRules, lossLine),
		"(counter-function-on-gauge)\n    corrected: deriv(training_loss[5m]) > 0\n",
		briefRules + ": 5 rules, 2 errors, 0 warnings\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, ": error: "); n != 2 {
		t.Errorf("%d errors, want exactly the 2 bugs:\n%s", n, out)
	}
	if !strings.Contains(errOut, "1 of 1 rule files failed the check") {
		t.Errorf("stderr: %s", errOut)
	}

	// --lint=warn reports the same findings without failing.
	code, out, _ = runRules(t, "check", "--lint=warn", briefRules)
	if code != 0 || strings.Count(out, ": warning: ") != 2 || !strings.Contains(out, "5 rules, OK, 2 warnings") ||
		!strings.Contains(out, "corrected: deriv(training_loss[5m]) > 0") {
		t.Errorf("--lint=warn: exit %d\n%s", code, out)
	}
	// --lint=none is what promtool checks.
	code, out, _ = runRules(t, "check", "--lint=none", briefRules)
	if code != 0 || out != briefRules+": 5 rules, OK\n" {
		t.Errorf("--lint=none: exit %d\n%s", code, out)
	}
}

func TestRulesCheckCorrected(t *testing.T) {
	code, out, errOut := runRules(t, "check", correctedRules)
	if code != 0 || out != correctedRules+": 5 rules, OK\n" || errOut != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestRulesCheckBroken(t *testing.T) {
	code, out, errOut := runRules(t, "check", brokenRules, correctedRules)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	line := lineOf(t, brokenRules, "expr: sum by (run) (rate(")
	want := fmt.Sprintf("%s:%d: error: alert \"TrainingStalled\": could not parse expression: unclosed left parenthesis (syntax)\n", brokenRules, line)
	if !strings.Contains(out, want) || !strings.Contains(out, brokenRules+": 2 rules, 1 error, 0 warnings\n") {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	// The other file is still checked.
	if !strings.Contains(out, correctedRules+": 5 rules, OK\n") || !strings.Contains(errOut, "1 of 2 rule files failed") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

func TestRulesCheckUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check"}, 2, "one or more rule files"},
		{[]string{"check", "--lint=strict", correctedRules}, 2, `--lint "strict"`},
		{[]string{"check", "--metadata-url", "prom:9090", correctedRules}, 2, "--metadata-url"},
		{[]string{"check", "--no-such-flag", correctedRules}, 2, "unknown flag"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"check", filepath.Join("testdata", "rules", "missing.yml"), correctedRules}, 1, "1 of 2 rule files failed"},
	} {
		code, out, errOut := runRules(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("rules %v: exit %d, stderr %q; want %d and %q\nstdout: %s", tc.args, code, errOut, tc.code, tc.want, out)
		}
	}
	_, out, _ := runRules(t, "check", filepath.Join("testdata", "rules", "missing.yml"))
	if !strings.Contains(out, "missing.yml: error: read rule file: open ") {
		t.Errorf("missing file: %s", out)
	}
	if code, out, _ := runRules(t); code != 0 || !strings.Contains(out, "trainwatch rules check FILE...") {
		t.Errorf("bare rules: exit %d\n%s", code, out)
	}
	code, out, _ := runRules(t, "check", "--help")
	if code != 0 || !strings.Contains(out, "Exit status: 0 when no file has an error") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}

// TestRulesCheckMetadata: --metadata-url adds the types a server knows.
func TestRulesCheckMetadata(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/metadata" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"queue_depth":[{"type":"gauge","help":"","unit":""}]}}`))
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "queue.yml")
	if err := os.WriteFile(file, []byte("groups:\n  - name: q\n    rules:\n      - alert: QueueGrowing\n        expr: rate(queue_depth[5m]) > 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Unknown to the agent: no type lint.
	if code, out, _ := runRules(t, "check", file); code != 0 {
		t.Fatalf("without metadata: exit %d\n%s", code, out)
	}
	code, out, _ := runRules(t, "check", "--metadata-url", srv.URL, file)
	if code != 1 || !strings.Contains(out, file+":5: error:") || !strings.Contains(out, "corrected: deriv(queue_depth[5m]) > 0") {
		t.Fatalf("with metadata: exit %d\n%s", code, out)
	}
	srv.Close()
	if code, _, errOut := runRules(t, "check", "--metadata-url", srv.URL, file); code != 1 || !strings.Contains(errOut, "--metadata-url") {
		t.Fatalf("unreachable server: exit %d, %s", code, errOut)
	}
}

// TestRulesAgentTypes: the agent knows its own families' types, dcgm-exporter's
// names included (from the demo GPUs), and the training series'.
func TestRulesAgentTypes(t *testing.T) {
	types, err := agentTypes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]collector.ValueType{
		"DCGM_FI_DEV_GPU_TEMP":    collector.Gauge,
		"DCGM_FI_DEV_FB_USED":     collector.Gauge,
		"DCGM_FI_DEV_FB_FREE":     collector.Gauge,
		"node_cpu_seconds_total":  collector.Counter,
		"node_load1":              collector.Gauge,
		"training_loss":           collector.Gauge,
		"batches_processed_total": collector.Counter,
	} {
		if got, ok := types[name]; !ok || got != want {
			t.Errorf("%s: %v (known %v), want %v", name, got, ok, want)
		}
	}
}

// TestRulesPromtoolAgrees: promtool and trainwatch agree on syntax: both
// accept the brief's rules and the corrected ones, and both reject the
// broken file.
func TestRulesPromtoolAgrees(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool")
	for _, tc := range []struct {
		file string
		ok   bool
	}{
		{briefRules, true},
		{correctedRules, true},
		{brokenRules, false},
	} {
		out, err := exec.Command(promtool, "check", "rules", tc.file).CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if (err == nil) != tc.ok {
			t.Errorf("promtool check rules %s: %v, want ok=%v\n%s", tc.file, err, tc.ok, out)
		}
		code, ours, _ := runRules(t, "check", "--lint=none", tc.file)
		if (code == 0) != tc.ok {
			t.Errorf("trainwatch rules check --lint=none %s: exit %d, want ok=%v\n%s", tc.file, code, tc.ok, ours)
		}
	}
}
