package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/ui"
)

// fixtureEvent is the fixture as one server-sent event, as the agent
// writes it.
func fixtureEvent(t *testing.T, hostname string) string {
	t.Helper()
	p := loadPayload(t)
	p.Host.Hostname = hostname
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return "event: snapshot\ndata: " + string(b) + "\n\n"
}

// next reads one event, failing after 5 s.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
		return Event{}
	}
}

// TestAgentStreamReconnects: the stream's events arrive decoded; when the
// agent closes the stream the source says so, with its retry delay, and
// reconnects; comments and unknown events are skipped.
func TestAgentStreamReconnects(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/ui/events" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		conns++
		n := conns
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\n: keep-alive\n\nevent: other\ndata: {}\n\n")
		fmt.Fprint(w, fixtureEvent(t, fmt.Sprintf("conn-%d", n)))
		w.(http.Flusher).Flush()
		if n == 1 {
			return // the agent goes away
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	a, err := NewAgentSource(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Event)
	done := make(chan struct{})
	go func() { a.Stream(ctx, ch); close(done) }()

	if ev := next(t, ch); ev.Payload == nil || ev.Payload.Host.Hostname != "conn-1" || len(ev.Payload.Host.GPUs) != 8 {
		t.Fatalf("first event: %+v", ev)
	}
	ev := next(t, ch)
	if ev.Err == nil || ev.Retry != minBackoff || !strings.Contains(ev.Err.Error(), "closed the stream") {
		t.Fatalf("after the agent left: %+v", ev)
	}
	if ev := next(t, ch); ev.Payload == nil || ev.Payload.Host.Hostname != "conn-2" {
		t.Fatalf("after reconnecting: %+v", ev)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stream did not end with its context")
	}
}

// TestAgentStreamBacksOff: an agent that does not answer is retried with
// a doubling delay, and the error says what failed.
func TestAgentStreamBacksOff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"status":"error","error":"64 dashboard streams are open already"}`)
	}))
	defer srv.Close()
	a, _ := NewAgentSource(srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan Event)
	go a.Stream(ctx, ch)
	first, second := next(t, ch), next(t, ch)
	if first.Err == nil || !strings.Contains(first.Err.Error(), "429") || !strings.Contains(first.Err.Error(), "64 dashboard streams") {
		t.Errorf("error: %v", first.Err)
	}
	if first.Retry != minBackoff || second.Retry != 2*minBackoff {
		t.Errorf("retries %s then %s, want %s then %s", first.Retry, second.Retry, minBackoff, 2*minBackoff)
	}
}

func TestAgentRequests(t *testing.T) {
	procs, err := os.ReadFile("testdata/processes.json")
	if err != nil {
		t.Fatal(err)
	}
	var gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/ui/config":
			fmt.Fprint(w, `{"version":"1.2.3","interval_seconds":2,"history":true,"alerting":false,"runs":true,"processes":true}`)
		case "/api/ui/processes":
			_, _ = w.Write(procs)
		case "/api/v1/query_range":
			gotQuery = r.URL.RawQuery
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"gpu":"0"},"values":[[1764324000,"97"],[1764324001.5,"NaN"]]}]}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"status":"error","error":"not here"}`)
		}
	}))
	defer srv.Close()
	a, err := NewAgentSource(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := a.Info(ctx)
	if err != nil || info.Interval != 2*time.Second || !info.History || info.Alerting || !info.Processes || info.Version != "1.2.3" {
		t.Errorf("Info = %+v, %v", info, err)
	}
	l, err := a.Processes(ctx)
	if err != nil || len(l.Processes) != 36 || len(l.Jobs) != 2 {
		t.Errorf("Processes: %v", err)
	}
	start := time.Unix(1764324000, 0)
	ss, err := a.QueryRange(ctx, `DCGM_FI_DEV_GPU_UTIL{gpu="0"}`, start, start.Add(time.Minute), time.Second)
	if err != nil || len(ss) != 1 || ss[0].Labels["gpu"] != "0" || len(ss[0].Points) != 2 || ss[0].Points[1].T != 1764324001500 {
		t.Errorf("QueryRange = %+v, %v", ss, err)
	}
	if !strings.Contains(gotQuery, "step=1.000") || !strings.Contains(gotQuery, "start=1764324000.000") {
		t.Errorf("query string %q", gotQuery)
	}
	if err := Probe(ctx, srv.URL, time.Second); err != nil {
		t.Errorf("Probe of a live agent: %v", err)
	}
	srv.Close()
	if err := Probe(ctx, srv.URL, time.Second); err == nil {
		t.Error("Probe of a closed server succeeded")
	}
}

func TestAgentErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"status":"error","error":"the process collector is off (processes.disable in the configuration)"}`)
	}))
	defer srv.Close()
	a, _ := NewAgentSource(srv.URL)
	_, err := a.Processes(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the process collector is off") || !strings.Contains(err.Error(), "404") {
		t.Errorf("error: %v", err)
	}
	if _, err := NewAgentSource("127.0.0.1:9835"); err == nil {
		t.Error("a URL without a scheme was accepted")
	}
}

func TestAgentCanSignal(t *testing.T) {
	cases := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:9835", true},
		{"http://localhost:9835", true},
		{"http://[::1]:9835", true},
		{"http://127.0.0.2:9835", true},
		{"http://gpu-box:9835", false},
		{"https://10.0.0.5", false},
	}
	for _, c := range cases {
		a, err := NewAgentSource(c.url)
		if err != nil {
			t.Fatal(err)
		}
		err = a.CanSignal()
		if (err == nil) != c.ok {
			t.Errorf("%s: CanSignal = %v", c.url, err)
		}
		if err != nil {
			if err := a.Signal(os.Getpid(), syscall.Signal(0)); err == nil {
				t.Errorf("%s: Signal went through", c.url)
			}
		}
	}
}

func TestKill(t *testing.T) {
	if err := kill(1, syscall.SIGTERM); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("PID 1: %v", err)
	}
	if err := kill(os.Getpid(), syscall.Signal(0)); err != nil {
		t.Errorf("signal 0 to this process: %v", err)
	}
	if err := kill(1<<30, syscall.SIGTERM); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("a PID that does not exist: %v", err)
	}
}

// fakeTicker returns empty snapshots one second apart.
type fakeTicker struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeTicker) Tick(context.Context) *collector.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(time.Second)
	return &collector.Snapshot{Time: f.t}
}

func TestLocalSource(t *testing.T) {
	tab := &process.Table{Time: time.Unix(1764324000, 0), Procs: map[int]*process.Proc{
		1:   {PID: 1, Comm: "systemd", Cmdline: "/sbin/init", User: "root", State: 'S'},
		2:   {PID: 2, Comm: "kthreadd", KernelThread: true},
		300: {PID: 300, PPID: 1, Comm: "python3", Cmdline: "python3 train.py", User: "alice", State: 'R', CPUPercent: 99, ReadBytesPerSecond: 5},
		301: {PID: 301, PPID: 300, Comm: "worker", User: "alice", Missing: []string{"io"}},
	}}
	src, err := NewLocalSource(LocalOptions{Runner: &fakeTicker{t: time.Unix(1764324000, 0)}, Processes: func() *process.Table { return tab }, Interval: 10 * time.Millisecond, Instance: "box"})
	if err != nil {
		t.Fatal(err)
	}
	if src.Label() != "local (no agent)" || src.CanSignal() != nil {
		t.Errorf("label %q, CanSignal %v", src.Label(), src.CanSignal())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan Event)
	go src.Stream(ctx, ch)
	first, second := next(t, ch), next(t, ch)
	if first.Payload == nil || first.Payload.Instance != "box" || first.Payload.Host == nil || second.Payload == nil {
		t.Fatalf("events %+v %+v", first, second)
	}
	if len(first.Payload.Runs) != 0 || first.Payload.Runs == nil || first.Payload.Alerts == nil {
		t.Errorf("runs %v alerts %v: want empty lists", first.Payload.Runs, first.Payload.Alerts)
	}
	l, err := src.Processes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := pidsOf(l.Processes); got != "1 300 301" {
		t.Errorf("processes %s, want 1 300 301 (no kernel thread)", got)
	}
	py := l.Processes[1]
	if py.State != "R" || py.ReadBytesPerSecond == nil || *py.ReadBytesPerSecond != 5 || py.CPUPercent != 99 {
		t.Errorf("python3 row %+v", py)
	}
	if l.Processes[2].ReadBytesPerSecond != nil {
		t.Error("a process without readable I/O has an I/O rate")
	}
	if _, err := src.QueryRange(ctx, "up", time.Now(), time.Now(), time.Second); err != ErrNoHistory {
		t.Errorf("QueryRange: %v, want ErrNoHistory", err)
	}
	info, _ := src.Info(ctx)
	if info.History || info.Runs || info.Alerting || !info.Processes {
		t.Errorf("Info %+v", info)
	}
	off, _ := NewLocalSource(LocalOptions{Runner: &fakeTicker{}})
	if _, err := off.Processes(ctx); err == nil || !strings.Contains(err.Error(), "process collector is off") {
		t.Errorf("processes off: %v", err)
	}
}

func pidsOf(rows []ui.ProcessRow) string {
	s := make([]string, len(rows))
	for i, r := range rows {
		s[i] = fmt.Sprint(r.PID)
	}
	return strings.Join(s, " ")
}
