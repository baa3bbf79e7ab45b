package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// crashAgent is one `trainwatch serve` child process of the crash test.
type crashAgent struct {
	cmd  *exec.Cmd
	log  *testenv.LogBuffer
	done chan struct{} // closed when the process has exited and its stderr is drained
}

// startCrashAgent starts the binary on addr over dataDir; it does not wait
// for the agent to listen.
func startCrashAgent(t *testing.T, bin, addr, dataDir string) *crashAgent {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data-dir", dataDir, "--interval", "500ms")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &crashAgent{cmd: cmd, log: &testenv.LogBuffer{}, done: make(chan struct{})}
	go func() {
		_, _ = io.Copy(a.log, pipe)
		_ = cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() { // a test that failed half-way leaves no agent behind
		select {
		case <-a.done:
		default:
			_ = cmd.Process.Kill()
			<-a.done
		}
	})
	return a
}

// kill sends SIGKILL and waits until the process is gone.
func (a *crashAgent) kill(t *testing.T) {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not die within 10s of SIGKILL")
	}
}

// waitReady waits until the agent at base answers /-/ready, failing the test
// (with the agent's log) when it exits or takes more than d.
func (a *crashAgent) waitReady(t *testing.T, base string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			t.Fatalf("the agent exited during start-up:\n%s", a.log.String())
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the agent was not ready within %s:\n%s", d, a.log.String())
}

// freeLoopbackPort returns a loopback address whose port was free a moment
// ago, so that every restart of the agent listens on the same address (and
// its series keep one instance label).
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// crashAck is one write the agent acknowledged with a 2xx answer: the value it
// carried and when the answer arrived.
type crashAck struct {
	value float64
	at    time.Time
}

// crashWriter writes a sample with a new value (1, 2, 3, ...) in a loop until
// stop is closed, and records the values the agent acknowledged.
type crashWriter struct {
	name   string // for the report
	series string // the stored series that holds the values
	send   func(n int) (*http.Response, error)
	acked  []crashAck     // owned by run until it returns
	tries  int            // requests made
	errs   map[string]int // answers other than 2xx and transport errors, by kind
}

func (w *crashWriter) run(stop <-chan struct{}) {
	w.errs = map[string]int{}
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		w.tries++
		resp, err := w.send(n)
		if err != nil {
			w.errs["transport error"]++
			time.Sleep(5 * time.Millisecond) // the agent is down: do not spin
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			w.errs[resp.Status]++
			continue
		}
		w.acked = append(w.acked, crashAck{value: float64(n), at: time.Now()})
	}
}

// crashStored is one raw sample read back from the history.
type crashStored struct {
	t int64 // ms
	v float64
}

// crashRawSamples returns every raw sample of the series matching sel between
// start and end, as /api/v1/query with a range selector returns them.
func crashRawSamples(t *testing.T, base, sel string, start, end time.Time) map[float64]crashStored {
	t.Helper()
	rng := end.Sub(start).Round(time.Second) + time.Second
	q := url.Values{
		"query": {fmt.Sprintf("%s[%ds]", sel, int(rng.Seconds()))},
		"time":  {strconv.FormatFloat(float64(end.UnixMilli())/1e3, 'f', 3, 64)},
	}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("query %s: %v", q.Get("query"), err)
	}
	if env.Status != "success" || env.Data.ResultType != "matrix" {
		t.Fatalf("query %s: %s %s (%s)", q.Get("query"), env.Status, env.Error, env.Data.ResultType)
	}
	out := map[float64]crashStored{}
	for _, s := range env.Data.Result {
		for _, p := range s.Values {
			ts, _ := p[0].(float64)
			vs, _ := p[1].(string)
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				t.Fatalf("query %s: value %v: %v", q.Get("query"), p[1], err)
			}
			out[v] = crashStored{t: int64(ts*1e3 + 0.5), v: v}
		}
	}
	return out
}

// TestCrashKeepsAcknowledgedSamples runs `trainwatch serve` as a child
// process, writes to it without pause (Pushgateway pushes to four groups
// and run log entries, each with a new value), kills it with SIGKILL at random
// moments and restarts it on the same data directory, and then checks that
// every write the agent acknowledged with a 2xx answer is in the history:
// an acknowledgement must mean the sample is in the write-ahead log.
func TestCrashKeepsAcknowledgedSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it repeatedly")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TRAINWATCH_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TRAINWATCH_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with TRAINWATCH_CRASH_SEED=%d)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rounds := 6 + rnd.IntN(3) // kills

	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeLoopbackPort(t)
	base := "http://" + addr
	start := time.Now()

	client := &http.Client{Timeout: 5 * time.Second}
	push := func(group string) func(int) (*http.Response, error) {
		return func(n int) (*http.Response, error) {
			body := fmt.Sprintf("# TYPE crash_push_seq gauge\ncrash_push_seq %d\n", n)
			req, err := http.NewRequest(http.MethodPut, base+"/metrics/job/crash/worker/"+group, strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "text/plain; version=0.0.4")
			return client.Do(req)
		}
	}
	logRun := func(n int) (*http.Response, error) {
		body := fmt.Sprintf(`{"step": %d, "loss": %d}`, n, n)
		return client.Post(base+"/api/v1/runs/crash-run/log", "application/x-ndjson", strings.NewReader(body))
	}
	// Four pushing ranks (one group each) and a run logging its loss.
	var writers []*crashWriter
	for _, w := range []string{"w0", "w1", "w2", "w3"} {
		writers = append(writers, &crashWriter{name: "push worker " + w, series: `crash_push_seq{worker="` + w + `"}`, send: push(w)})
	}
	writers = append(writers, &crashWriter{name: "run log", series: `training_loss{run="crash-run"}`, send: logRun})

	agent := startCrashAgent(t, bin, addr, dataDir)
	var logs []string
	defer func() {
		if t.Failed() {
			for i, l := range logs {
				t.Logf("agent log, run %d (first lines):\n%s", i+1, firstLines(l, 15))
			}
		}
	}()
	agent.waitReady(t, base, 30*time.Second)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stop) }()
	}
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters()

	var uptimes []string
	for round := range rounds {
		// A random moment of the agent's life: mostly while it serves
		// writes, sometimes during start-up (WAL replay) right after a
		// restart.
		var d time.Duration
		if round > 0 && rnd.IntN(4) == 0 {
			d = time.Duration(rnd.IntN(300)) * time.Millisecond
		} else {
			d = time.Second + time.Duration(rnd.IntN(2000))*time.Millisecond
		}
		time.Sleep(d)
		uptimes = append(uptimes, d.String())
		agent.kill(t)
		logs = append(logs, agent.log.String())
		agent = startCrashAgent(t, bin, addr, dataDir)
		if round == 0 || rnd.IntN(4) != 0 {
			agent.waitReady(t, base, 30*time.Second)
		}
	}
	agent.waitReady(t, base, 30*time.Second)
	// Some writes after the last restart, then stop writing and read back.
	time.Sleep(300 * time.Millisecond)
	stopWriters()
	defer func() {
		_ = agent.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-agent.done:
		case <-time.After(10 * time.Second):
			_ = agent.cmd.Process.Kill()
		}
	}()

	end := time.Now()
	totalAcked, totalFound := 0, 0
	for _, w := range writers {
		// Query a little into the future too, so that a sample stored with
		// a timestamp ahead of the clock is found (and reported) rather
		// than counted as lost.
		stored := crashRawSamples(t, base, w.series, start.Add(-time.Minute), end.Add(time.Minute))
		var lost []crashAck
		ahead, maxAhead := 0, time.Duration(0)
		for _, a := range w.acked {
			s, ok := stored[a.value]
			if !ok {
				lost = append(lost, a)
				continue
			}
			if d := s.t - a.at.UnixMilli(); d > 1 {
				ahead++ // stored at a time after its acknowledgement
				maxAhead = max(maxAhead, time.Duration(d)*time.Millisecond)
			}
		}
		found := len(w.acked) - len(lost)
		totalAcked += len(w.acked)
		totalFound += found
		t.Logf("%s (%s): %d requests, %d acknowledged, %d found in history, %d lost, %d stored at a time after their acknowledgement (up to %s later), %d stored in all; not acknowledged: %v",
			w.name, w.series, w.tries, len(w.acked), found, len(lost), ahead, maxAhead, len(stored), w.errs)
		if len(w.acked) < 50 {
			t.Errorf("%s: only %d writes acknowledged; the test did not exercise the agent", w.name, len(w.acked))
		}
		for i, a := range lost {
			if i == 10 {
				t.Errorf("... and %d more", len(lost)-10)
				break
			}
			t.Errorf("%s: acknowledged value %v (at %s) is not in the history", w.name, a.value, a.at.Format("15:04:05.000"))
		}
	}
	t.Logf("crash test: %d SIGKILLs (after %s), %d acknowledged writes, %d found, %d lost",
		rounds, strings.Join(uptimes, ", "), totalAcked, totalFound, totalAcked-totalFound)
	// Samples the history refused, as the agent logged them.
	logs = append(logs, agent.log.String())
	for i, l := range logs {
		n, first := 0, ""
		for sc := bufio.NewScanner(strings.NewReader(l)); sc.Scan(); {
			if line := sc.Text(); strings.Contains(line, "refused") || strings.Contains(line, "rejected") {
				if n++; n == 1 {
					first = line
				}
			}
		}
		if n > 0 {
			t.Logf("agent run %d: %d log lines about refused samples; the first: %s", i+1, n, first)
		}
	}
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}

// TestCrashRunLogKeepsTimeOrder: a run logs a step with its own time, the
// agent is killed (SIGKILL: runs.json, saved every 10 s, does not have the
// step yet) and restarted, and the run logs a step whose time is earlier
// (another rank's clock, or a resumed run) with a new key. The API
// promises that such a line is moved a millisecond after the previous one;
// acknowledged, all its values must be in the history.
func TestCrashRunLogKeepsTimeOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeLoopbackPort(t)
	base := "http://" + addr
	logLine := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(base+"/api/v1/runs/resumed/log", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t0 := time.Now().Add(-10 * time.Second)
	secs := func(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64) }

	agent := startCrashAgent(t, bin, addr, dataDir)
	agent.waitReady(t, base, 30*time.Second)
	if code, body := logLine(`{"step": 1, "time": ` + secs(t0) + `, "loss": 1}`); code != http.StatusOK {
		t.Fatalf("first log: %d %s", code, body)
	}
	agent.kill(t)
	agent = startCrashAgent(t, bin, addr, dataDir)
	defer func() {
		_ = agent.cmd.Process.Signal(syscall.SIGTERM)
		<-agent.done
	}()
	agent.waitReady(t, base, 30*time.Second)
	code, body := logLine(`{"step": 2, "time": ` + secs(t0.Add(-time.Second)) + `, "loss": 2, "accuracy": 0.5}`)
	t.Logf("log after the restart: %d %s", code, strings.TrimSpace(body))
	from, to := t0.Add(-time.Minute), time.Now().Add(time.Minute)
	loss := crashRawSamples(t, base, `training_loss{run="resumed"}`, from, to)
	acc := crashRawSamples(t, base, `accuracy{run="resumed"}`, from, to)
	if _, ok := loss[1]; !ok {
		t.Errorf("the first loss, acknowledged before the kill, is not in the history: %v", loss)
	}
	if code/100 == 2 {
		if _, ok := loss[2]; !ok {
			t.Errorf("the second line was acknowledged (%d) but its loss is not in the history: loss %v, accuracy %v", code, loss, acc)
		}
		if _, ok := acc[0.5]; !ok {
			t.Errorf("the second line was acknowledged (%d) but its accuracy is not in the history: %v", code, acc)
		}
	}
	if code != http.StatusOK {
		t.Errorf("the second line was refused (%d %s); the API moves an earlier line after the previous one", code, body)
	}
}
