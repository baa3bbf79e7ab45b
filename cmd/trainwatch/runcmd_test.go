package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/gpu/demo"
	"github.com/trainwatch/trainwatch/internal/logparse"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runRunCmdTo runs "trainwatch run ARGS..." in-process, as run() does, with
// the exit code of the command propagated.
func runRunCmdTo(out, errOut *syncBuffer, args ...string) int {
	root := newRootCmd(out, errOut)
	if c, _, err := root.Find([]string{"run"}); err != nil || c == root {
		root.AddCommand(newRunCmd())
	}
	root.SetIn(strings.NewReader(""))
	root.SetArgs(append([]string{"run"}, args...))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	fmt.Fprintf(errOut, "trainwatch: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return 2
	}
	return 1
}

func runRunCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	code := runRunCmdTo(&out, &errOut, args...)
	return code, out.String(), errOut.String()
}

func runAgent(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.Processes.Disable = true
	return startAgent(t, cfg)
}

var runIDRE = regexp.MustCompile(`trainwatch: run (\S+) `)

func runIDOf(t *testing.T, stderr string) string {
	t.Helper()
	m := runIDRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no run id in stderr:\n%s", stderr)
	}
	return m[1]
}

type runView struct {
	Status     string             `json:"status"`
	ExitCode   *int               `json:"exit_code"`
	Step       int64              `json:"step"`
	TotalSteps int64              `json:"total_steps"`
	Command    string             `json:"command"`
	Name       string             `json:"name"`
	Metrics    map[string]float64 `json:"metrics"`
}

func getRun(t *testing.T, base, id string) runView {
	t.Helper()
	resp, b := get(t, base+"/api/v1/runs/"+id, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET run %s: %d %s", id, resp.StatusCode, b)
	}
	var v runView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// TestRunCmdPassThrough: stdout and stderr come through byte for byte,
// carriage returns and a missing final newline included; the child sees
// TRAINWATCH_URL and TRAINWATCH_RUN.
func TestRunCmdPassThrough(t *testing.T) {
	base := runAgent(t)
	script := `import os, sys
sys.stdout.write("a\r b\r\nline2\n\x00bin\xff".encode("latin1").decode("latin1"))
sys.stdout.flush()
sys.stderr.write("err1\nerr2")
sys.stderr.flush()
sys.stdout.write("|" + os.environ["TRAINWATCH_URL"] + "|" + os.environ["TRAINWATCH_RUN"])
`
	python := testenv.LookPath(t, "python3")
	code, out, errOut := runRunCmd(t, "--url", base, "--name", "pass", "--no-watch", "--", python, "-c", script)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	id := runIDOf(t, errOut)
	want := "a\r b\r\nline2\n\x00bin\u00ff|" + base + "|" + id
	if out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if !strings.HasPrefix(errOut, "err1\nerr2") {
		t.Errorf("stderr does not start with the child's: %q", errOut)
	}
	if !strings.HasPrefix(id, "pass-") {
		t.Errorf("id %q", id)
	}
	if v := getRun(t, base, id); v.Status != "finished" || v.ExitCode == nil || *v.ExitCode != 0 || v.Name != "pass" {
		t.Errorf("run %+v", v)
	}
}

// TestRunCmdMetrics: tqdm bars (with \r updates) and HF dicts are logged.
func TestRunCmdMetrics(t *testing.T) {
	base := runAgent(t)
	script := `import sys, time
for i in range(1, 41):
    sys.stderr.write("\r%3d%%|#   | %d/40 [00:01<00:01, 20.00it/s, loss=%.2f]" % (i*100//40, i, 2.0 - i*0.01))
    sys.stderr.flush()
    if i % 10 == 0:
        print("{'loss': %.2f, 'learning_rate': 1e-4, 'epoch': %.2f}" % (1.0 - i*0.01, i/40), flush=True)
    time.sleep(0.01)
sys.stderr.write("\n")
`
	python := testenv.LookPath(t, "python3")
	code, _, errOut := runRunCmd(t, "--url", base, "--no-watch", "--", python, "-c", script)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	id := runIDOf(t, errOut)
	v := getRun(t, base, id)
	if v.Step != 40 || v.Status != "finished" {
		t.Errorf("run %+v, want step 40 finished", v)
	}
	if got := instantValue(t, base, `training_loss{run="`+id+`"}`); got == "" {
		t.Errorf("no training_loss for run %s", id)
	}
	if got := instantValue(t, base, `max_over_time(batches_processed_total{run="`+id+`"}[10m])`); got != "40" {
		t.Errorf("batches_processed_total %q, want 40", got)
	}
	for _, want := range []string{"steps: 40 seen, last step 40", "loss: last 1.6, best 0.6", "exit code 0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("report lacks %q:\n%s", want, errOut)
		}
	}
}

// TestRunCmdExitCode: a failing command's code propagates; the run fails.
func TestRunCmdExitCode(t *testing.T) {
	base := runAgent(t)
	code, _, errOut := runRunCmd(t, "--url", base, "--no-watch", "--", "sh", "-c", "echo step=5 loss=0.5; exit 3")
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, errOut)
	}
	v := getRun(t, base, runIDOf(t, errOut))
	if v.Status != "failed" || v.ExitCode == nil || *v.ExitCode != 3 {
		t.Errorf("run %+v, want failed with exit_code 3", v)
	}
	if v.Step != 5 {
		t.Errorf("step %d, want 5", v.Step)
	}
}

// TestRunCmdSignal: SIGINT and SIGTERM sent to "trainwatch run" (stdin not
// a terminal: a scheduler signalling trainwatch only) reach the command
// exactly once, trainwatch survives them, and a command that dies of the
// signal gives 128+N: 130 and 143. A command killed outright gives 137.
func TestRunCmdSignal(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	base := runAgent(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{
		{syscall.SIGINT, 130},
		{syscall.SIGTERM, 143},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			var out, errOut syncBuffer
			done := make(chan int, 1)
			name := unix.SignalName(tc.sig)
			go func() {
				done <- runRunCmdTo(&out, &errOut, "--url", base, "--no-watch", "--", python, "testdata/python/run_signals.py", name)
			}()
			waitFor(t, &out, "ready", 10*time.Second)
			if err := syscall.Kill(os.Getpid(), tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case code := <-done:
				if code != tc.code {
					t.Errorf("exit %d, want %d\nstdout %q\nstderr %q", code, tc.code, out.String(), errOut.String())
				}
				if want := name + " x1"; !strings.Contains(out.String(), want) {
					t.Errorf("stdout %q, want %q (the signal delivered once)", out.String(), want)
				}
				if !strings.HasPrefix(out.String(), "pipe\n") {
					t.Errorf("stdout %q: the command should be on pipes", out.String())
				}
				v := getRun(t, base, runIDOf(t, errOut.String()))
				if v.Status != "failed" || v.ExitCode == nil || *v.ExitCode != tc.code {
					t.Errorf("run %+v, want failed with %d", v, tc.code)
				}
				if !strings.Contains(errOut.String(), "failed ("+name+")") {
					t.Errorf("report does not name the signal:\n%s", errOut.String())
				}
			case <-time.After(15 * time.Second):
				t.Fatal("run did not end after the signal")
			}
		})
	}

	code, _, errOut2 := runRunCmd(t, "--url", base, "--no-watch", "--", "sh", "-c", "kill -KILL $$")
	if code != 128+9 {
		t.Errorf("killed child: exit %d, want 137\n%s", code, errOut2)
	}
}

// waitFor waits until b holds want.
func waitFor(t *testing.T, b *syncBuffer, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %s: %q", want, d, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunCmdAgentDown: without an agent the command runs normally, with
// one warning.
func TestRunCmdAgentDown(t *testing.T) {
	code, out, errOut := runRunCmd(t, "--url", "http://127.0.0.1:1", "--no-watch", "--", "sh", "-c", "echo hi; echo step=1 loss=1; exit 4")
	if code != 4 || out != "hi\nstep=1 loss=1\n" {
		t.Errorf("exit %d stdout %q\n%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "warning"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, errOut)
	}
}

// TestRunCmdUsage: no command, or a bad --regex, is a usage error.
func TestRunCmdUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--"}, {"--regex", "(", "--", "true"}, {"--no-watch", "--watch", ".", "--", "true"},
		{"--report", "/nonexistent/dir/r.json", "--", "true"}} {
		if code, _, errOut := runRunCmd(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}

// sample is one raw sample of a series.
type sample struct {
	T int64 // ms
	V float64
}

// rawSamples returns the samples of the one series expr (a range selector)
// selects, in time order; none when it selects nothing.
func rawSamples(t *testing.T, base, expr string) []sample {
	t.Helper()
	_, b := get(t, base+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	var env struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: %v %s", expr, err, b)
	}
	if len(env.Data.Result) > 1 {
		t.Fatalf("%s: %d series, want one", expr, len(env.Data.Result))
	}
	var out []sample
	for _, r := range env.Data.Result {
		for _, v := range r.Values {
			ts, _ := v[0].(float64)
			vs, _ := v[1].(string)
			f, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				t.Fatalf("%s: value %q", expr, vs)
			}
			out = append(out, sample{int64(math.Round(ts * 1000)), f})
		}
	}
	return out
}

// byStep joins a run's series with its step (batches_processed_total) and
// epoch (current_epoch, -1 when none) by sample time.
func byStep(t *testing.T, base, id, series string) map[[2]float64]float64 {
	t.Helper()
	steps := map[int64]float64{}
	for _, s := range rawSamples(t, base, `batches_processed_total{run="`+id+`"}[1h]`) {
		steps[s.T] = s.V
	}
	epochs := map[int64]float64{}
	for _, s := range rawSamples(t, base, `current_epoch{run="`+id+`"}[1h]`) {
		epochs[s.T] = s.V
	}
	out := map[[2]float64]float64{}
	for _, s := range rawSamples(t, base, series+`{run="`+id+`"}[1h]`) {
		step, ok := steps[s.T]
		if !ok {
			t.Errorf("%s sample at %d has no step", series, s.T)
			continue
		}
		ep, ok := epochs[s.T]
		if !ok {
			ep = -1
		}
		out[[2]float64{ep, step}] = s.V
	}
	return out
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// g4 is v as the scripts print it (%.4g).
func g4(v float64) float64 {
	f, _ := strconv.ParseFloat(fmt.Sprintf("%.4g", v), 64)
	return f
}

// TestRunCmdFormats: real Python children print tqdm bars (\r-redrawn, on
// stderr), Hugging Face Trainer dicts, Lightning bars (the count restarting
// each epoch, a validation bar) and key=value lines, with a NaN loss among
// them; each value arrives in the run's series with its step (and epoch).
func TestRunCmdFormats(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	base := runAgent(t)
	run := func(t *testing.T, style string) string {
		code, _, errOut := runRunCmd(t, "--url", base, "--no-watch", "--", python, "testdata/python/run_metrics.py", style)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		return runIDOf(t, errOut)
	}
	loss := func(step int) float64 {
		if step == 3 {
			return math.NaN()
		}
		return g4(2 / float64(step))
	}
	check := func(t *testing.T, got, want map[[2]float64]float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%d values, want %d: %v", len(got), len(want), got)
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || !sameFloat(g, w) {
				t.Errorf("epoch %v step %v: %v (present %v), want %v", k[0], k[1], g, ok, w)
			}
		}
	}
	t.Run("tqdm", func(t *testing.T) {
		t.Parallel()
		id := run(t, "tqdm")
		want := map[[2]float64]float64{}
		for i := 1; i <= 8; i++ {
			want[[2]float64{-1, float64(i)}] = loss(i)
		}
		check(t, byStep(t, base, id, "training_loss"), want)
		if v := getRun(t, base, id); v.Step != 8 {
			t.Errorf("run step %d, want 8", v.Step)
		}
	})
	t.Run("kv", func(t *testing.T) {
		t.Parallel()
		id := run(t, "kv")
		want := map[[2]float64]float64{{-1, 7}: math.Inf(1)}
		for i := 1; i <= 6; i++ {
			want[[2]float64{-1, float64(i)}] = loss(i)
		}
		check(t, byStep(t, base, id, "training_loss"), want)
		if n := len(rawSamples(t, base, `learning_rate{run="`+id+`"}[1h]`)); n != 6 {
			t.Errorf("%d learning_rate samples, want 6", n)
		}
	})
	t.Run("lightning", func(t *testing.T) {
		t.Parallel()
		id := run(t, "lightning")
		want := map[[2]float64]float64{}
		for ep := 0; ep < 2; ep++ {
			for i := 1; i <= 4; i++ {
				want[[2]float64{float64(ep), float64(i)}] = g4(2 / float64(ep*4+i))
			}
		}
		check(t, byStep(t, base, id, "training_loss"), want)
	})
	t.Run("hf", func(t *testing.T) {
		t.Parallel()
		id := run(t, "hf")
		// The dicts carry no step (the bar on stderr does): the values, in
		// order, and the epochs.
		var got []float64
		for _, s := range rawSamples(t, base, `training_loss{run="`+id+`"}[1h]`) {
			got = append(got, s.V)
		}
		want := []float64{1, 0.5, math.NaN(), 0.25, 0.2, 0.6}
		if len(got) != len(want) {
			t.Fatalf("training_loss %v, want %v", got, want)
		}
		for i := range want {
			if !sameFloat(got[i], want[i]) {
				t.Errorf("training_loss %v, want %v", got, want)
				break
			}
		}
		if got := instantValue(t, base, `max_over_time(batches_processed_total{run="`+id+`"}[1h])`); got != "5" {
			t.Errorf("last step %q, want 5", got)
		}
		if got := instantValue(t, base, `max_over_time(current_epoch{run="`+id+`"}[1h])`); got != "1" {
			t.Errorf("last epoch %q, want 1", got)
		}
		if got := instantValue(t, base, `last_over_time(samples_per_second{run="`+id+`"}[1h])`); got != "42.5" {
			t.Errorf("samples_per_second %q, want 42.5", got)
		}
	})
}

// readReport reads a --report file.
func readReport(t *testing.T, path string) (runReport, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep runReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return rep, raw
}

// reportFields are the report's top-level fields (docs/training.md).
var reportFields = []string{"run", "name", "command", "host", "recorded", "agent", "figures", "sample_interval_seconds",
	"start", "end", "duration_seconds", "status", "exit_code", "steps", "loss", "metrics_file", "cpu", "gpus",
	"gpu_hours", "energy_kwh", "underutilised", "alerts", "notes"}

// TestRunCmdReportJSON: --report writes the report's fields, with an agent
// (figures read back from its history, alerts evaluated) and without
// (figures sampled here, nothing recorded, alerts not evaluated).
func TestRunCmdReportJSON(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	base := runAgent(t)
	for _, tc := range []struct {
		name, url string
		figures   string
	}{
		{"agent", base, "agent"},
		{"standalone", "http://127.0.0.1:1", "sampled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "report.json")
			code, _, errOut := runRunCmd(t, "--url", tc.url, "--no-watch", "--report", path, "--", python, "testdata/python/run_metrics.py", "kv")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			rep, raw := readReport(t, path)
			for _, f := range reportFields {
				if _, ok := raw[f]; !ok {
					t.Errorf("report lacks %q", f)
				}
			}
			if rep.Run != runIDOf(t, errOut) || rep.Status != "finished" || rep.ExitCode != 0 || rep.Figures != tc.figures {
				t.Errorf("report %+v", rep)
			}
			if rep.Recorded != (tc.figures == "agent") || (rep.Alerts == nil) != (tc.figures == "sampled") {
				t.Errorf("recorded %v, alerts %v", rep.Recorded, rep.Alerts)
			}
			if rep.Steps.Last == nil || *rep.Steps.Last != 7 || rep.Steps.WithStep != 7 || rep.Steps.StepsPerSecond == nil {
				t.Errorf("steps %+v", rep.Steps)
			}
			if l := rep.Loss; l == nil || !math.IsInf(float64(l.Final), 1) || l.Best == nil || float64(*l.Best) != 0.3333 || l.BestStep == nil || *l.BestStep != 6 {
				t.Errorf("loss %+v", rep.Loss)
			}
			if rep.CPU.MeanPercent == nil || rep.CPU.PeakRSSBytes == nil || *rep.CPU.PeakRSSBytes <= 0 || rep.CPU.Seconds <= 0 {
				t.Errorf("cpu %+v", rep.CPU)
			}
			if len(rep.GPUs) != 0 || rep.EnergyKWh != nil || rep.GPUHours != 0 || rep.Underutil.ThresholdPercent != 50 {
				t.Errorf("gpus %+v energy %v", rep.GPUs, rep.EnergyKWh)
			}
			if rep.DurationSeconds <= 0 || !rep.End.After(rep.Start) {
				t.Errorf("duration %v from %v to %v", rep.DurationSeconds, rep.Start, rep.End)
			}
			if tc.figures == "sampled" && (len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "not recorded")) {
				t.Errorf("notes %q", rep.Notes)
			}
		})
	}
}

// TestRunCmdGPUDemo wires the GPU figures end to end against the simulated
// GPUs of --demo. The demo's GPU processes have made-up PIDs, so the test
// counts them as the run's (extraPIDs); the figures must then come out, read
// back from the agent's history, or sampled in-process without an agent.
func TestRunCmdGPUDemo(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.Processes.Disable = true
	cfg.Demo = true
	base := startAgent(t, cfg)
	var pids []int
	for _, p := range demo.New(demoSeed, time.Now()).Processes() {
		pids = append(pids, int(p.PID))
	}
	// Wait for the agent's first GPU samples.
	deadline := time.Now().Add(10 * time.Second)
	for instantValue(t, base, `count(`+famGPUProc+`)`) == "" {
		if time.Now().After(deadline) {
			t.Fatal("no GPU process series in the demo agent")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tc := range []struct{ name, url string }{{"agent", base}, {"standalone", "http://127.0.0.1:1"}} {
		t.Run(tc.name, func(t *testing.T) {
			parser, err := logparse.New(logparse.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut syncBuffer
			r := newCmdRunner("gpu", tc.url, []string{python, "-c", "import time; time.sleep(2.5)"}, parser)
			r.stdin, r.stdout, r.stderr = strings.NewReader(""), &out, &errOut
			r.interval = 300 * time.Millisecond
			r.localCfg.Demo = true
			r.extraPIDs = pids
			r.reportPath = filepath.Join(t.TempDir(), "report.json")
			code, err := r.run()
			if err != nil || code != 0 {
				t.Fatalf("exit %d %v\n%s", code, err, errOut.String())
			}
			rep, _ := readReport(t, r.reportPath)
			if len(rep.GPUs) == 0 {
				t.Fatalf("no GPUs in the report:\n%s", errOut.String())
			}
			for _, g := range rep.GPUs {
				if g.UUID == "" || g.InUseSeconds <= 0 || g.UtilMean == nil || g.UtilMax == nil || g.MemMaxBytes == nil ||
					g.RunMemMaxBytes == nil || g.PowerMeanWatts == nil || g.EnergyKWh == nil || *g.EnergyKWh <= 0 || g.Model == "" {
					t.Errorf("gpu %+v", g)
				}
				if g.InUseSeconds > rep.DurationSeconds+0.001 {
					t.Errorf("gpu %s in use %vs of a %vs run", g.GPU, g.InUseSeconds, rep.DurationSeconds)
				}
				// The energy counter agrees with the power drawn.
				if g.EnergyKWh != nil && g.PowerMeanWatts != nil {
					want := *g.PowerMeanWatts * g.InUseSeconds / 3.6e6
					if r := *g.EnergyKWh / want; r < 0.75 || r > 1.25 {
						t.Errorf("gpu %s: %v kWh, but %v W for %vs is %v kWh", g.GPU, *g.EnergyKWh, *g.PowerMeanWatts, g.InUseSeconds, want)
					}
				}
			}
			if rep.GPUHours <= 0 || rep.EnergyKWh == nil {
				t.Errorf("gpu_hours %v energy %v", rep.GPUHours, rep.EnergyKWh)
			}
			if !strings.Contains(errOut.String(), "GPU-hours") {
				t.Errorf("report text lacks the GPUs:\n%s", errOut.String())
			}
		})
	}
}

// TestRunCmdOutputToFile: with stdout (and stderr) a regular file, the
// command writes to it directly, in order, stdout and stderr interleaved
// as written, and trainwatch reads its lines back from the file: the
// metrics still arrive. Content the file had before is not parsed.
func TestRunCmdOutputToFile(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	base := runAgent(t)
	parser, err := logparse.New(logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "train.log")
	before := "step=99 loss=9\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	script := `import sys, os, time
print("pid", os.getpid(), "stdout is a file:", os.path.isfile("/proc/self/fd/1"), flush=True)
for i in range(1, 6):
    print("step=%d loss=%g" % (i, 1.0 / i), flush=True)
    sys.stderr.write("err %d\n" % i)
    sys.stderr.flush()
    time.sleep(0.1)
sys.stdout.write("step=6 loss=0.1")
`
	r := newCmdRunner("file", base, []string{python, "-c", script}, parser)
	r.stdin, r.stdout, r.stderr = strings.NewReader(""), f, f
	code, err := r.run()
	if err != nil || code != 0 {
		t.Fatalf("exit %d %v", code, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	var want strings.Builder
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&want, "step=%d loss=%.6g\nerr %d\n", i, 1.0/float64(i), i) // Python's %g
	}
	want.WriteString("step=6 loss=0.1")
	if !strings.HasPrefix(out, before) || !strings.Contains(out, "stdout is a file: True\n"+want.String()) {
		t.Errorf("file:\n%s", out)
	}
	id := runIDOf(t, out)
	got := byStep(t, base, id, "training_loss")
	if len(got) != 6 || got[[2]float64{-1, 6}] != 0.1 || got[[2]float64{-1, 2}] != 0.5 {
		t.Errorf("training_loss by step %v, want steps 1-6 (not 99)", got)
	}
}

// TestRunCmdOutputToDevNull: with stdout and stderr /dev/null, the command
// writes to an in-memory file that trainwatch reads back (no pipe): the
// metrics of both streams arrive, apart or as 2>&1; once the run is over
// the file is sealed, so a process left behind that still writes gets an
// error (EPERM) rather than filling memory.
func TestRunCmdOutputToDevNull(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	base := runAgent(t)
	parser, err := logparse.New(logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sameStream := range []bool{false, true} {
		t.Run(fmt.Sprintf("2>&1=%v", sameStream), func(t *testing.T) {
			dir := t.TempDir()
			done, result := filepath.Join(dir, "run-returned"), filepath.Join(dir, "late-write")
			script := `import sys, os, time
for i in range(1, 6):
    print("step=%d loss=%g" % (i, 1.0 / i), flush=True)
    sys.stderr.write("step=%d val_loss=%g\n" % (i, 2.0 / i))
    sys.stderr.flush()
if os.fork() == 0:
    # Left behind: write once the run is over.
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.02)
    try:
        print("late", flush=True)
        r = "written"
    except OSError as e:
        r = "errno %d" % e.errno
    open(sys.argv[2], "w").write(r)
    os._exit(0)
`
			null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer null.Close()
			errNull := null
			if !sameStream {
				if errNull, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
					t.Fatal(err)
				}
				defer errNull.Close()
			}
			r := newCmdRunner("null", base, []string{python, "-c", script, done, result}, parser)
			r.stdin, r.stdout, r.stderr = strings.NewReader(""), null, errNull
			r.reportPath = filepath.Join(dir, "report.json")
			code, err := r.run()
			if err != nil || code != 0 {
				t.Fatalf("exit %d %v", code, err)
			}
			if err := os.WriteFile(done, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(r.reportPath)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct{ Run string }
			if err := json.Unmarshal(b, &rep); err != nil || rep.Run == "" {
				t.Fatalf("report %s: %v", b, err)
			}
			id := rep.Run
			// A burst of lines logged in one millisecond is spread a
			// millisecond apart, up to a few ms ahead of now: wait for them.
			time.Sleep(50 * time.Millisecond)
			if got := byStep(t, base, id, "training_loss"); len(got) != 5 || got[[2]float64{-1, 2}] != 0.5 {
				t.Errorf("training_loss by step %v, want steps 1-5", got)
			}
			if got := byStep(t, base, id, "validation_loss"); len(got) != 5 || got[[2]float64{-1, 4}] != 0.5 {
				t.Errorf("validation_loss by step %v, want steps 1-5 (stderr)", got)
			}
			deadline := time.Now().Add(10 * time.Second)
			var late []byte
			for time.Now().Before(deadline) {
				if late, err = os.ReadFile(result); err == nil && len(late) > 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if string(late) != "errno 1" {
				t.Errorf("a write after the run: %q, want errno 1 (EPERM: the in-memory file is sealed)", late)
			}
		})
	}
}

// TestMemoryTailFreesWhatItRead: the in-memory file standing for
// /dev/null holds only what was not read yet.
func TestMemoryTailFreesWhatItRead(t *testing.T) {
	tail, err := newMemoryTail()
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(tail.f.Fd())), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	line := bytes.Repeat([]byte("step=1 loss=0.5 "), 64)
	line[len(line)-1] = '\n'
	buf := make([]byte, copyReadSize)
	var n countingWriter
	for range 8 {
		for written := 0; written < 1<<20; written += len(line) {
			if _, err := w.Write(line); err != nil {
				t.Fatal(err)
			}
		}
		tail.readNew(buf, &n)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(tail.f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if n.n < 8<<20 {
		t.Errorf("read back %d bytes, want at least 8 MiB", n.n)
	}
	if held := st.Blocks * 512; held > 64<<10 {
		t.Errorf("the file still holds %d bytes after everything was read (size %d)", held, st.Size)
	}
	close(tail.done)
	tail.finish()
}

// countingWriter counts what is written to it.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
