package ui

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// ticks is a hand-driven tick source: the test publishes states.
type ticks struct {
	mu     sync.Mutex
	latest *agent.State
	subs   []chan *agent.State
}

func (t *ticks) Latest() *agent.State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

func (t *ticks) Subscribe() (<-chan *agent.State, func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan *agent.State, 1)
	t.subs = append(t.subs, ch)
	return ch, func() {}
}

func (t *ticks) publish(st *agent.State) {
	t.mu.Lock()
	t.latest = st
	subs := append([]chan *agent.State(nil), t.subs...)
	t.mu.Unlock()
	for _, ch := range subs {
		ch <- st
	}
}

// snapshot is a tick with one CPU's counters and a GPU's utilisation.
func snapshot(at time.Time, idle, util float64) *collector.Snapshot {
	cpu := &collector.Family{Desc: collector.NewDesc("node_cpu_seconds_total", "", collector.Counter, "cpu", "mode"),
		Samples: []collector.Sample{{LabelValues: []string{"0", "idle"}, Value: idle}, {LabelValues: []string{"0", "user"}, Value: at.Sub(time.Unix(0, 0)).Seconds() - idle}}}
	gpu := &collector.Family{Desc: collector.NewDesc("DCGM_FI_DEV_GPU_UTIL", "", collector.Gauge, "gpu", "UUID", "modelName", "device"),
		Samples: []collector.Sample{{LabelValues: []string{"0", "GPU-1", "Test GPU", "nvidia0"}, Value: util}}}
	return &collector.Snapshot{Time: at, Families: []*collector.Family{gpu, cpu},
		Collectors: []collector.CollectorStatus{{Name: "cpu", Success: true}, {Name: "gpu_nvml", Success: false, Error: "NVML not found"}}}
}

func newTestUI(t *testing.T, o Options) (*UI, *ticks, *httptest.Server) {
	t.Helper()
	tk := &ticks{}
	o.States = tk
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	u, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range u.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go u.Run(done)
	return u, tk, srv
}

func TestStaticFiles(t *testing.T) {
	_, _, srv := newTestUI(t, Options{})
	tests := []struct {
		path, wantType string
		wantCode       int
		gzip           bool
	}{
		{"/", "text/html; charset=utf-8", 200, true},
		{"/index.html", "text/html; charset=utf-8", 200, false},
		{"/app.js", "text/javascript; charset=utf-8", 200, true},
		{"/app.css", "text/css; charset=utf-8", 200, true},
		{"/vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8", 200, true},
		{"/nope.js", "text/plain; charset=utf-8", 404, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			if tc.gzip {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			if tc.wantCode != 200 {
				return
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
			var body io.Reader = resp.Body
			if tc.gzip {
				if resp.Header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("not gzipped: %v", resp.Header)
				}
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			} else if resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("gzipped without Accept-Encoding")
			}
			b, err := io.ReadAll(body)
			if err != nil || len(b) == 0 {
				t.Fatalf("body: %d bytes, %v", len(b), err)
			}
			// Revalidation costs a 304 with no body.
			req2, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			req2.Header.Set("If-None-Match", resp.Header.Get("ETag"))
			resp2, err := http.DefaultClient.Do(req2)
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.StatusCode != http.StatusNotModified {
				t.Errorf("revalidation: %d, want 304", resp2.StatusCode)
			}
		})
	}
	resp, err := http.Post(srv.URL+"/index.html", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

// TestIndexReferencesOnlyLocalFiles: the page works offline — every script
// and stylesheet it loads is one of the embedded files.
func TestIndexReferencesOnlyLocalFiles(t *testing.T) {
	u, _, _ := newTestUI(t, Options{})
	index := string(u.assets["/index.html"].body)
	for _, attr := range []string{`src="`, `href="`} {
		for rest := index; ; {
			i := strings.Index(rest, attr)
			if i < 0 {
				break
			}
			rest = rest[i+len(attr):]
			ref := rest[:strings.IndexByte(rest, '"')]
			if strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "data:") {
				continue
			}
			if strings.Contains(ref, "//") {
				t.Errorf("index.html loads %q from outside", ref)
				continue
			}
			if _, ok := u.assets["/"+strings.TrimPrefix(ref, "./")]; !ok {
				t.Errorf("index.html loads %q, which is not embedded", ref)
			}
		}
	}
}

// readEvents reads n server-sent events of the stream at url.
func readEvents(t *testing.T, url string, n int) []map[string]json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var out []map[string]json.RawMessage
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	event := ""
	for sc.Scan() && len(out) < n {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if event != "snapshot" {
				t.Fatalf("event %q: %s", event, line)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m); err != nil {
				t.Fatalf("data line: %v", err)
			}
			out = append(out, m)
		}
	}
	if len(out) < n {
		t.Fatalf("got %d events, want %d (%v)", len(out), n, sc.Err())
	}
	return out
}

func TestEventsStreamEachTick(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	_, tk, srv := newTestUI(t, Options{Instance: "box:9835",
		Runs: func() []runs.Run { return []runs.Run{{ID: "r1", Name: "r1", Status: "running", PID: 4242}} },
	})
	tk.publish(&agent.State{Snapshot: snapshot(start, 0, 10)})
	got := make(chan []map[string]json.RawMessage, 1)
	go func() { got <- readEvents(t, srv.URL+"/api/ui/events", 3) }()
	// Publish until the stream has its events; the first is sent on connect.
	deadline := time.After(10 * time.Second)
	for i := 1; ; i++ {
		select {
		case evs := <-got:
			var first, last Payload
			_ = json.Unmarshal(mustJSON(t, evs[0]), &first)
			_ = json.Unmarshal(mustJSON(t, evs[len(evs)-1]), &last)
			if first.Instance != "box:9835" || len(last.Runs) != 1 || last.Runs[0].ID != "r1" || last.Runs[0].PID != 4242 {
				t.Errorf("payload: %+v", last)
			}
			if len(last.Host.GPUs) != 1 || last.Host.GPUs[0].UtilizationPercent == nil {
				t.Fatalf("GPUs: %+v", last.Host.GPUs)
			}
			if *last.Host.GPUs[0].UtilizationPercent == 10 {
				t.Errorf("the last event still has the first tick's utilisation")
			}
			if !last.Host.RatesAvailable {
				t.Errorf("rates not computed from the previous tick")
			}
			var failing []string
			for _, c := range last.Host.Collectors {
				if !c.Success {
					failing = append(failing, c.Name+": "+c.Error)
				}
			}
			if len(failing) != 1 || !strings.Contains(failing[0], "NVML not found") {
				t.Errorf("failing collectors: %v", failing)
			}
			return
		case <-deadline:
			t.Fatal("no events")
		case <-time.After(100 * time.Millisecond):
			at := start.Add(time.Duration(i) * time.Second)
			prev := tk.Latest().Snapshot
			tk.publish(&agent.State{Prev: prev, Snapshot: snapshot(at, float64(i)*0.5, float64(10+i))})
		}
	}
}

func mustJSON(t *testing.T, m map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEventsBuiltOncePerTick: with no stream open nothing is built; with
// several, one build serves all.
func TestEventsBuiltOncePerTick(t *testing.T) {
	builds := 0
	var mu sync.Mutex
	h := newHub(func(st *agent.State) Payload {
		mu.Lock()
		builds++
		mu.Unlock()
		return Payload{Host: &summary.Host{}}
	})
	st := &agent.State{Snapshot: snapshot(time.Unix(1, 0), 0, 0)}
	h.publish(st)
	if builds != 0 {
		t.Fatalf("built %d times with no stream open", builds)
	}
	a, b := h.join(), h.join()
	h.publish(st)
	h.publish(st) // the same tick again: cached
	if builds != 1 {
		t.Errorf("built %d times for one tick and two streams, want 1", builds)
	}
	ea, eb := <-a, <-b
	if string(ea) != string(eb) || !strings.HasPrefix(string(ea), "event: snapshot\ndata: {") || !strings.HasSuffix(string(ea), "}\n\n") {
		t.Errorf("events %q %q", ea, eb)
	}
	h.leave(a)
	h.leave(b)
	if h.count() != 0 {
		t.Errorf("%d streams left", h.count())
	}
}

func TestStreamLimit(t *testing.T) {
	_, tk, srv := newTestUI(t, Options{MaxStreams: 1})
	tk.publish(&agent.State{Snapshot: snapshot(time.Unix(1_800_000_000, 0), 0, 0)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/ui/events", nil)
	first, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	resp, err := http.Get(srv.URL + "/api/ui/events")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "close some dashboard tabs") {
		t.Errorf("second stream: %d %s", resp.StatusCode, b)
	}
}

func TestConfig(t *testing.T) {
	_, tk, srv := newTestUI(t, Options{Version: "1.2.3", Instance: "box:9835", Job: "trainwatch", History: true, Retention: 24 * time.Hour})
	snap := snapshot(time.Unix(1_800_000_000, 0), 0, 0)
	snap.Families = append(snap.Families, &collector.Family{Desc: collector.NewDesc("trainwatch_demo", "", collector.Gauge, "scenario"),
		Samples: []collector.Sample{{LabelValues: []string{"8x H200"}, Value: 1}}}) // families are sorted by name
	tk.publish(&agent.State{Snapshot: snap})
	resp, err := http.Get(srv.URL + "/api/ui/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c Info
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := Info{Version: "1.2.3", Instance: "box:9835", Job: "trainwatch", IntervalSeconds: 1, History: true,
		RetentionSeconds: 86400, Demo: true, DemoScenario: "8x H200"}
	if c != want {
		t.Errorf("config\n got %+v\nwant %+v", c, want)
	}
}

// table builds a process table: a launcher (100) with two ranks (101,
// 102), a DataLoader worker (103) and an unrelated shell (200).
func table() *process.Table {
	procs := []*process.Proc{
		{PID: 1, PPID: 0, Comm: "systemd", Cmdline: "/sbin/init", User: "root"},
		{PID: 100, PPID: 1, Comm: "torchrun", Cmdline: "/usr/bin/python3 /usr/bin/torchrun --nproc-per-node 2 train.py", User: "ana", CPUPercent: 1},
		{PID: 101, PPID: 100, Comm: "python3", Cmdline: "/usr/bin/python3 train.py", User: "ana", CPUPercent: 90, ResidentBytes: 2 << 30},
		{PID: 102, PPID: 100, Comm: "python3", Cmdline: "/usr/bin/python3 train.py", User: "ana", CPUPercent: 95, ResidentBytes: 2 << 30},
		{PID: 103, PPID: 101, Comm: "pt_data_worker", Cmdline: "/usr/bin/python3 train.py", User: "ana", CPUPercent: 30},
		{PID: 200, PPID: 1, Comm: "bash", Cmdline: "-bash", User: "bo", Missing: []string{"io"}},
		{PID: 2, PPID: 0, Comm: "kthreadd", KernelThread: true},
	}
	t := &process.Table{Time: time.Unix(1_800_000_000, 0), Procs: map[int]*process.Proc{}}
	for _, p := range procs {
		p.State = 'S'
		t.Procs[p.PID] = p
	}
	return t
}

func TestProcessList(t *testing.T) {
	tab := table()
	gpu := map[int][]jobs.GPUUse{101: {{GPU: "0", UUID: "GPU-a", MemoryBytes: 1 << 30}}, 102: {{GPU: "1", UUID: "GPU-b", MemoryBytes: 1 << 30}}}
	pl := BuildProcessList(tab, gpu, jobs.Options{})
	if len(pl.Processes) != 6 {
		t.Fatalf("%d processes, want 6 (kernel threads left out): %+v", len(pl.Processes), pl.Processes)
	}
	if pl.Processes[0].PID != 102 {
		t.Errorf("first process %d, want the busiest (102)", pl.Processes[0].PID)
	}
	if len(pl.Jobs) != 1 {
		t.Fatalf("jobs: %+v", pl.Jobs)
	}
	j := pl.Jobs[0]
	if j.RootPID != 100 || j.Ranks != 2 || j.Processes != 4 || strings.Join(j.GPUs, ",") != "0,1" || j.GPUMemoryBytes != 2<<30 {
		t.Errorf("job %+v", j)
	}
	for _, p := range pl.Processes {
		wantJob := p.PID >= 100 && p.PID < 200
		if (p.Job != "") != wantJob || (wantJob && p.Job != j.ID) {
			t.Errorf("pid %d: job %q", p.PID, p.Job)
		}
		if p.PID == 101 && (p.GPUMemoryBytes != 1<<30 || strings.Join(p.GPUs, ",") != "0") {
			t.Errorf("pid 101 GPU: %d %v", p.GPUMemoryBytes, p.GPUs)
		}
		if p.PID == 200 && p.ReadBytesPerSecond != nil {
			t.Errorf("pid 200: I/O rate given although io could not be read")
		}
	}
}

func TestRunJobs(t *testing.T) {
	tab := table()
	js := []summary.Job{{ID: "100-1", RootPID: 100, GPUs: []string{"0", "1"}}}
	tests := []struct {
		name    string
		pid     int
		wantJob string
	}{
		{"the root itself", 100, "100-1"},
		{"a rank (Python client in the training script)", 101, "100-1"},
		{"a worker below a rank", 103, "100-1"},
		{"the parent of the root (trainwatch run started a shell)", 1, "100-1"},
		{"an unrelated process", 200, ""},
		{"unknown PID", 0, ""},
		{"a PID that is gone", 99999, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := runViews([]runs.Run{{ID: "r", PID: tc.pid}}, js, tab)
			if vs[0].Job != tc.wantJob {
				t.Errorf("job %q, want %q", vs[0].Job, tc.wantJob)
			}
			if tc.wantJob != "" && strings.Join(vs[0].GPUs, ",") != "0,1" {
				t.Errorf("GPUs %v", vs[0].GPUs)
			}
			if vs[0].GPUs == nil {
				t.Errorf("GPUs is nil (JSON null), want []")
			}
		})
	}
}

func TestSnapshotFromVector(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	lbl := func(kv ...string) model.Metric {
		m := model.Metric{}
		for i := 0; i < len(kv); i += 2 {
			m[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
		}
		return m
	}
	v := model.Vector{
		{Metric: lbl("__name__", "DCGM_FI_DEV_GPU_UTIL", "gpu", "0", "UUID", "GPU-a", "instance", "h1:9835"), Value: 77},
		{Metric: lbl("__name__", "DCGM_FI_DEV_GPU_UTIL", "gpu", "1", "UUID", "GPU-b", "instance", "h1:9835", "extra", "x"), Value: 12},
		{Metric: lbl("__name__", "trainwatch_collector_success", "collector", "disk", "instance", "h1:9835"), Value: 0},
		{Metric: lbl("__name__", "trainwatch_run_info", "run", "r1", "name", "bert", "status", "running", "instance", "h1:9835"), Value: 1},
		{Metric: lbl("__name__", "trainwatch_run_step", "run", "r1", "instance", "h1:9835"), Value: 120},
		{Metric: lbl("__name__", "trainwatch_run_start_time_seconds", "run", "r1", "instance", "h1:9835"), Value: 1_799_999_000},
		{Metric: lbl("__name__", "training_loss", "run", "r1", "instance", "h1:9835"), Value: 0.5},
		{Metric: lbl("__name__", "ALERTS", "alertname", "GPUHot", "alertstate", "firing", "severity", "critical", "instance", "h1:9835"), Value: 1},
	}
	snap := snapshotFromVector(v, at)
	p := fleetPayload("h1:9835", nil, snap)
	if len(p.Host.GPUs) != 2 || *p.Host.GPUs[0].UtilizationPercent != 77 || *p.Host.GPUs[1].UtilizationPercent != 12 {
		t.Errorf("GPUs %+v", p.Host.GPUs)
	}
	if len(p.Host.Collectors) != 1 || p.Host.Collectors[0].Success || p.Host.Collectors[0].Error == "" {
		t.Errorf("collectors %+v", p.Host.Collectors)
	}
	if len(p.Runs) != 1 || p.Runs[0].Name != "bert" || p.Runs[0].Step != 120 || p.Runs[0].Metrics["training_loss"] != 0.5 || p.Runs[0].Start.Unix() != 1_799_999_000 {
		t.Errorf("runs %+v", p.Runs)
	}
	if len(p.Alerts) != 1 || p.Alerts[0].Name != "GPUHot" || p.Alerts[0].State != "firing" || p.Alerts[0].Severity != "critical" {
		t.Errorf("alerts %+v", p.Alerts)
	}
}

func TestFleetValidate(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string
	}{
		{"", ""},
		{"http://prometheus:9090", ""},
		{"https://prom.example.com/prefix", ""},
		{"prometheus:9090", "want an http:// or https:// URL"},
		{"ftp://x", "want an http:// or https:// URL"},
		{"http://user:pw@prom:9090", "not in the URL"},
	}
	for _, tc := range tests {
		f := Fleet{URL: tc.url}
		err := f.Validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: %v, want %q", tc.url, err, tc.wantErr)
		}
	}
}

func TestFleetOffAnswers404(t *testing.T) {
	_, _, srv := newTestUI(t, Options{})
	for _, p := range []string{"/api/ui/fleet/hosts", "/api/ui/fleet/api/v1/query?query=up", "/api/ui/events?instance=other:9835"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), "ui.fleet.url") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
}

// TestFleetRunOddValues: a fleet host's run series whose values are not
// finite numbers, or times JSON cannot write, are left out of the run, and
// the snapshot event still encodes (FuzzFleetAnswer found NaN and ±Inf
// progress, ETA and speed, and start times past the year 9999, making the
// event fail to encode, so that the host never showed).
func TestFleetRunOddValues(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name                     string
		step, sps, progress, eta float64
		start, end               float64
		wantStep                 int64
		wantSPS                  float64
		wantProgress, wantETA    bool
		wantStart, wantEnd       bool
	}{
		{"plain", 120, 2.5, 0.5, 60, 1_799_999_000, 1_800_000_000, 120, 2.5, true, true, true, true},
		{"NaN", nan, nan, nan, nan, nan, nan, 0, 0, false, false, false, false},
		{"+Inf", inf, inf, inf, inf, inf, inf, 0, 0, false, false, false, false},
		{"-Inf", -inf, -inf, -inf, -inf, -inf, -inf, 0, 0, false, false, false, false},
		{"past the year 9999", 1e300, 1, 0.5, 1, 1e300, 253402300800, 0, 1, true, true, false, false},
		{"before the year 0", -1, 1, 0.5, 1, -62167219201, -1e18, 0, 1, true, true, false, false},
		{"the last second of 9999", 1 << 53, 1, 1, 1, 253402300799, -62167219200, 1 << 53, 1, true, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(name string, v float64) *model.Sample {
				return &model.Sample{Metric: model.Metric{"__name__": model.LabelValue(name), "run": "r1", "instance": "h1:9835"}, Value: model.SampleValue(v)}
			}
			v := model.Vector{
				{Metric: model.Metric{"__name__": "trainwatch_run_info", "run": "r1", "name": "bert", "status": "running", "instance": "h1:9835"}, Value: 1},
				run("trainwatch_run_step", tc.step), run("trainwatch_run_steps_per_second", tc.sps),
				run("trainwatch_run_progress_ratio", tc.progress), run("trainwatch_run_eta_seconds", tc.eta),
				run("trainwatch_run_start_time_seconds", tc.start), run("trainwatch_run_end_time_seconds", tc.end),
			}
			p := fleetPayload("h1:9835", nil, snapshotFromVector(v, at))
			if _, err := json.Marshal(p); err != nil {
				t.Fatalf("the event does not encode: %v", err)
			}
			if len(p.Runs) != 1 {
				t.Fatalf("runs %+v", p.Runs)
			}
			r := p.Runs[0]
			if r.Step != tc.wantStep || r.StepsPerSec != tc.wantSPS || (r.Progress != nil) != tc.wantProgress ||
				(r.ETASeconds != nil) != tc.wantETA || !r.Start.IsZero() != tc.wantStart || (r.End != nil) != tc.wantEnd {
				t.Errorf("step %d, speed %v, progress %v, eta %v, start %v, end %v", r.Step, r.StepsPerSec, r.Progress, r.ETASeconds, r.Start, r.End)
			}
		})
	}
}
