package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// debianPython returns Debian's python3 with prometheus_client, skipping
// locally (failing under CI=true) when it is missing.
func debianPython(t *testing.T, module string) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = testenv.LookPath(t, "python3")
	}
	if module != "" {
		if err := exec.Command(py, "-c", "import "+module).Run(); err != nil {
			if testenv.InCI() {
				t.Fatalf("%s cannot import %s (apt-get install python3-prometheus-client): %v", py, module, err)
			}
			t.Skipf("%s cannot import %s: %v", py, module, err)
		}
	}
	return py
}

// TestPrometheusClientPushes: Debian's prometheus_client pushes to the agent
// with push_to_gateway, pushadd_to_gateway and delete_from_gateway; grouping
// keys with a space ('+', kept literally as the Pushgateway does), a slash
// (@base64) and an empty value; NaN and +Inf survive; the values come back
// through /api/v1/query; the deleted group is gone; the run is listed.
func TestPrometheusClientPushes(t *testing.T) {
	py := debianPython(t, "prometheus_client")
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.Processes.Disable = true
	base := startAgent(t, cfg)
	out, err := exec.Command(py, "testdata/python/push_client.py", base).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pushed") {
		t.Fatalf("push_client.py: %v\n%s", err, out)
	}
	sel := `job="mnist",run="run+1",path="/data/imagenet"`
	for _, c := range []struct{ expr, want string }{
		{`training_loss{` + sel + `}`, "0.5"},
		{`batches_processed_total{` + sel + `}`, "10"},
		{`learning_rate{` + sel + `}`, "0.001"},
		{`validation_loss{` + sel + `}`, "NaN"},
		{`grad_norm{` + sel + `,layer="fc 1"}`, "+Inf"},
		{`batch_processing_time_count{` + sel + `}`, "2"},
		{`batch_processing_time_bucket{` + sel + `,le="0.1"}`, "1"},
		{`count(push_time_seconds{` + sel + `})`, "1"},
		{`count_over_time(scratch_value{job="scratch/job"}[10m])`, "1"},
		{`scratch_value{job="scratch/job"}`, ""},
		{`count(training_loss{empty!=""})`, ""},
	} {
		if got := instantValue(t, base, c.expr); got != c.want {
			t.Errorf("%s = %q, want %q", c.expr, got, c.want)
		}
	}
	_, b := get(t, base+"/api/v1/runs/run-1", nil)
	if !strings.Contains(string(b), `"source":"push"`) || !strings.Contains(string(b), `"step":10`) {
		t.Errorf("run from the push: %s", b)
	}
	// Re-exposed on /metrics for a Prometheus scraping with honor_labels.
	_, m := get(t, base+"/metrics", nil)
	if !strings.Contains(string(m), `training_loss{empty="",job="mnist",path="/data/imagenet",run="run+1"} 0.5`) &&
		!regexp.MustCompile(`training_loss\{[^}]*run="run\+1"[^}]*\} 0\.5`).Match(m) {
		t.Errorf("/metrics does not re-expose the pushed group:\n%s", grepLines(string(m), "training_loss"))
	}
}

// TestPythonClientLoop: the Python client logs every step of a 10,000-step
// loop to a live agent: every step is queryable afterwards and the run is
// finished; the same loop with no agent listening finishes too, quickly.
// Both print log()'s mean cost per call.
func TestPythonClientLoop(t *testing.T) {
	py := debianPython(t, "")
	cfg := config.Default()
	cfg.Interval = model.Duration(500 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.Processes.Disable = true
	base := startAgent(t, cfg)
	const steps = 10000

	run := func(url, id string) (float64, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, "testdata/python/client_loop.py", id, strconv.Itoa(steps))
		cmd.Env = append(os.Environ(), "TRAINWATCH_URL="+url, "PYTHONPATH="+filepath.Join("..", "..", "clients", "python"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("client_loop.py (%s): %v\n%s", url, err, out.String())
		}
		m := regexp.MustCompile(`PERCALL_US ([0-9.]+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no PERCALL_US in:\n%s", out.String())
		}
		us, _ := strconv.ParseFloat(m[1], 64)
		return us, time.Since(start)
	}

	us, took := run(base, "loop-up")
	t.Logf("agent up: log() %.2f µs per call; script %s", us, took.Round(time.Millisecond))
	// The loop logs far faster than one step per millisecond (the TSDB's
	// resolution), so the agent stores its steps 1 ms apart, running up to
	// 10 s ahead of the clock: query at a time after all of them.
	later := time.Now().Add(time.Minute)
	if got := instantValueAt(t, base, `count_over_time(training_loss{run="loop-up"}[1h])`, later); got != strconv.Itoa(steps) {
		t.Errorf("training_loss points = %q, want %d", got, steps)
	}
	if got := instantValueAt(t, base, `max_over_time(batches_processed_total{run="loop-up"}[1h])`, later); got != strconv.Itoa(steps) {
		t.Errorf("last step = %q, want %d", got, steps)
	}
	_, b := get(t, base+"/api/v1/runs/loop-up", nil)
	if !strings.Contains(string(b), `"status":"finished"`) || !strings.Contains(string(b), fmt.Sprintf(`"step":%d`, steps)) {
		t.Errorf("run: %s", b)
	}

	down := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	us, took = run(down, "loop-down")
	t.Logf("agent down: log() %.2f µs per call; script %s", us, took.Round(time.Millisecond))
	if took > 20*time.Second {
		t.Errorf("with the agent down the script took %s", took)
	}
	if us > 100 {
		t.Errorf("log() costs %.1f µs per call with the agent down", us)
	}
}

// TestPythonClientUnitTests runs the Python client's own unittest suite
// (clients/python/test_trainwatch.py), so that the README's test command
// covers it.
func TestPythonClientUnitTests(t *testing.T) {
	if testing.Short() {
		t.Skip("about 25 s")
	}
	py := debianPython(t, "")
	cmd := exec.Command(py, "-m", "unittest", "discover", "-s", filepath.Join("..", "..", "clients", "python"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python unittest: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^OK`).Match(out) {
		t.Fatalf("python unittest did not say OK:\n%s", out)
	}
	t.Logf("%s", lastLines(string(out), 3))
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
