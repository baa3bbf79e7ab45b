package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
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
	Status   string             `json:"status"`
	ExitCode *int               `json:"exit_code"`
	Step     int64              `json:"step"`
	Command  string             `json:"command"`
	Name     string             `json:"name"`
	Metrics  map[string]float64 `json:"metrics"`
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
	code, out, errOut := runRunCmd(t, "--url", base, "--name", "pass", "--", "/usr/bin/python3", "-c", script)
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
	code, _, errOut := runRunCmd(t, "--url", base, "--", "/usr/bin/python3", "-c", script)
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
	code, _, errOut := runRunCmd(t, "--url", base, "--", "sh", "-c", "echo step=5 loss=0.5; exit 3")
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

// TestRunCmdSignal: SIGTERM to trainwatch run goes to the child, and
// trainwatch itself survives it; a child killed by a signal gives 128+N.
func TestRunCmdSignal(t *testing.T) {
	base := runAgent(t)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runRunCmdTo(&out, &errOut, "--url", base, "--", "sh", "-c",
			`trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("child never ready: %q %q", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "got TERM") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end after SIGTERM")
	}

	code, _, errOut2 := runRunCmd(t, "--url", base, "--", "sh", "-c", "kill -KILL $$")
	if code != 128+9 {
		t.Errorf("killed child: exit %d, want 137\n%s", code, errOut2)
	}
}

// TestRunCmdAgentDown: without an agent the command runs normally, with
// one warning.
func TestRunCmdAgentDown(t *testing.T) {
	code, out, errOut := runRunCmd(t, "--url", "http://127.0.0.1:1", "--", "sh", "-c", "echo hi; echo step=1 loss=1; exit 4")
	if code != 4 || out != "hi\nstep=1 loss=1\n" {
		t.Errorf("exit %d stdout %q\n%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "warning"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, errOut)
	}
}

// TestRunCmdUsage: no command, or a bad --regex, is a usage error.
func TestRunCmdUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--"}, {"--regex", "(", "--", "true"}} {
		if code, _, errOut := runRunCmd(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}
