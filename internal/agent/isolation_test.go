package agent_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/filesystem"
	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/store"
	"github.com/trainwatch/trainwatch/internal/testenv"
	"github.com/trainwatch/trainwatch/internal/web"
)

// countLines returns how many lines of lb contain every one of parts.
func countLines(lb *testenv.LogBuffer, parts ...string) int {
	n := 0
	for _, l := range strings.Split(lb.String(), "\n") {
		ok := l != ""
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// isoAgent is an agent as `serve` wires it: the collector Runner (each
// collector with its deadline), the tick loop, the TSDB as its sink and the
// HTTP server's /metrics.
type isoAgent struct {
	a       *agent.Agent
	db      *store.Store
	metrics string // URL of /metrics
	log     *testenv.LogBuffer
}

// isoLogger returns a logger into lb, as the agent's.
func isoLogger(lb *testenv.LogBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(lb, nil)) }

// startIsoAgent starts the agent over cs, logging into lb; it stops when
// the test ends.
func startIsoAgent(t *testing.T, interval, timeout time.Duration, lb *testenv.LogBuffer, cs ...collector.Collector) *isoAgent {
	t.Helper()
	logger := isoLogger(lb)
	r, err := collector.NewRunner(collector.RunnerOptions{Timeout: timeout, Logger: logger}, cs...)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.Options{Dir: t.TempDir(), Instance: "isolation:9835", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(r, interval, logger, db)
	srv := httptest.NewServer(web.New(a, web.Options{Logger: logger}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent loop: %v", err)
		}
		srv.Close()
		if err := db.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", lb.String())
		}
	})
	return &isoAgent{a: a, db: db, metrics: srv.URL + "/metrics", log: lb}
}

// waitTicks waits until the agent has published n more snapshots.
func (ia *isoAgent) waitTicks(t *testing.T, n int) {
	t.Helper()
	ch, cancel := ia.a.Subscribe()
	defer cancel()
	for i := 0; i < n; i++ {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("the agent published only %d of %d ticks in 10s", i, n)
		}
	}
}

// scrapedSample is one sample of /metrics.
type scrapedSample struct {
	labels map[string]string
	value  float64
}

// scrape gets /metrics, failing unless it answers 200 with valid text.
func (ia *isoAgent) scrape(t *testing.T) map[string][]scrapedSample {
	t.Helper()
	resp, err := http.Get(ia.metrics)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string][]scrapedSample{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ls := map[string]string{}
			for _, lp := range m.GetLabel() {
				ls[lp.GetName()] = lp.GetValue()
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			out[name] = append(out[name], scrapedSample{ls, v})
		}
	}
	return out
}

// find returns the value of the first sample of name whose labels include
// the given name/value pairs.
func find(fams map[string][]scrapedSample, name string, kv ...string) (float64, bool) {
next:
	for _, s := range fams[name] {
		for i := 0; i+1 < len(kv); i += 2 {
			if s.labels[kv[i]] != kv[i+1] {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

// historyPoint is one stored sample.
type historyPoint struct {
	t int64
	v float64
}

// history returns the stored samples of the series matching name and the
// label pairs since since, oldest first, all series together.
func (ia *isoAgent) history(t *testing.T, since time.Time, name string, kv ...string) []historyPoint {
	t.Helper()
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, name)}
	for i := 0; i+1 < len(kv); i += 2 {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, kv[i], kv[i+1]))
	}
	q, err := ia.db.Queryable().Querier(since.UnixMilli(), math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var out []historyPoint
	ss := q.Select(context.Background(), false, nil, ms...)
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			out = append(out, historyPoint{ts, v})
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// faultyRoots reads the real host through hostfs.Roots' Trace hook, which
// every read of a host collector passes through before it happens: once
// broken, a read of /proc/loadavg blocks until released (a read stuck in
// the kernel, which no context can interrupt) and a read of /proc/vmstat
// panics (a bug in the collector).
type faultyRoots struct {
	broken  atomic.Bool
	release chan struct{}
	once    sync.Once
}

func (f *faultyRoots) trace(path string) {
	if !f.broken.Load() {
		return
	}
	switch {
	case strings.HasSuffix(path, "/loadavg"):
		<-f.release
	case strings.HasSuffix(path, "/vmstat"):
		panic("simulated bug: index out of range reading " + path)
	}
}

func (f *faultyRoots) unblock() { f.once.Do(func() { close(f.release) }) }

// hungNFS is the filesystem collector's statfs over its fixture mount
// table: the real statfs of the fixture directory for every mount, except
// the NFS mount /mnt/datasets, whose statfs blocks until released.
type hungNFS struct {
	release chan struct{}
	once    sync.Once
}

const fsFixture = "../collector/filesystem/testdata"

func (h *hungNFS) statfs(path string, st *unix.Statfs_t) error {
	if strings.HasSuffix(path, "/mnt/datasets") {
		<-h.release
	}
	return unix.Statfs(fsFixture+"/rootfs", st)
}

func (h *hungNFS) unblock() { h.once.Do(func() { close(h.release) }) }

// TestIsolationHungAndPanickingCollectors runs the agent (Runner, tick
// loop, TSDB, /metrics) over the real host collectors while one of them
// (loadavg) is stuck in a read that never returns, one (vmstat) panics on
// every tick, and the filesystem collector's statfs of an NFS mount hangs.
// The agent keeps ticking on time, the other collectors' values keep
// updating on /metrics and in the history, the stuck and the panicking
// collector serve their last values with trainwatch_collector_success 0
// (the stuck one's duration at and then past the deadline), each failure
// is logged once, and the hung NFS mount is reported by the filesystem
// collector itself (device_error="mountpoint timeout") while its other
// mounts stay fresh. Released, the stuck collector recovers.
func TestIsolationHungAndPanickingCollectors(t *testing.T) {
	const interval, timeout = 500 * time.Millisecond, 400 * time.Millisecond
	faults := &faultyRoots{release: make(chan struct{})}
	nfs := &hungNFS{release: make(chan struct{})}
	t.Cleanup(faults.unblock)
	t.Cleanup(nfs.unblock)
	hostCs, err := host.Collectors(host.Config{
		Roots:   hostfs.Roots{Trace: faults.trace},
		Disable: []string{"filesystem"},
	})
	if err != nil {
		t.Fatal(err)
	}
	fsCs, err := filesystem.New(hostfs.Roots{Proc: fsFixture + "/proc", Sys: fsFixture + "/sys", RootFS: fsFixture + "/rootfs"},
		filesystem.Config{Statfs: nfs.statfs})
	if err != nil {
		t.Fatal(err)
	}
	self, err := agent.NewSelfCollector()
	if err != nil {
		t.Fatal(err)
	}
	ia := startIsoAgent(t, interval, timeout, &testenv.LogBuffer{}, append(append(hostCs, fsCs...), self)...)
	ia.waitTicks(t, 2)
	before := ia.scrape(t)
	load1, ok := find(before, "node_load1")
	if !ok {
		t.Fatal("no node_load1 before the fault")
	}
	if v, _ := find(before, "trainwatch_collector_success", "collector", "vmstat"); v != 1 {
		t.Fatalf("vmstat not working before the fault: success %v", v)
	}

	faults.broken.Store(true)
	broke := time.Now()
	ia.waitTicks(t, 1) // the tick in progress may have read before the break
	const ticks = 6
	var lastTime, lastCtxt float64
	for i := range ticks {
		ia.waitTicks(t, 1)
		m := ia.scrape(t)
		// The healthy collectors are fresh every tick.
		now, _ := find(m, "node_time_seconds")
		ctxt, _ := find(m, "node_context_switches_total")
		if now <= lastTime || ctxt < lastCtxt {
			t.Fatalf("tick %d: node_time_seconds %v (was %v), node_context_switches_total %v (was %v): the healthy collectors stopped updating", i, now, lastTime, ctxt, lastCtxt)
		}
		lastTime, lastCtxt = now, ctxt
		for _, c := range []string{"cpu", "stat", "meminfo", "time", "self", "filesystem"} {
			if v, ok := find(m, "trainwatch_collector_success", "collector", c); !ok || v != 1 {
				t.Errorf("tick %d: trainwatch_collector_success{collector=%q} = %v, %v; want 1", i, c, v, ok)
			}
		}
		// The stuck collector: success 0, its duration at (first tick) and
		// then past the deadline, its last value still served.
		if v, _ := find(m, "trainwatch_collector_success", "collector", "loadavg"); v != 0 {
			t.Errorf("tick %d: trainwatch_collector_success{collector=\"loadavg\"} = %v, want 0", i, v)
		}
		if d, _ := find(m, "trainwatch_collector_duration_seconds", "collector", "loadavg"); d < timeout.Seconds() {
			t.Errorf("tick %d: trainwatch_collector_duration_seconds{collector=\"loadavg\"} = %v, want at least the deadline %v", i, d, timeout.Seconds())
		}
		if v, ok := find(m, "node_load1"); !ok || v != load1 {
			t.Errorf("tick %d: node_load1 = %v, %v; want its last good value %v", i, v, ok, load1)
		}
		// The panicking collector.
		if v, _ := find(m, "trainwatch_collector_success", "collector", "vmstat"); v != 0 {
			t.Errorf("tick %d: trainwatch_collector_success{collector=\"vmstat\"} = %v, want 0", i, v)
		}
		// The hung NFS mount, reported by the filesystem collector; the
		// other mounts answer.
		if v, ok := find(m, "node_filesystem_device_error", "mountpoint", "/mnt/datasets", "device_error", "mountpoint timeout"); !ok || v != 1 {
			t.Errorf("tick %d: node_filesystem_device_error{mountpoint=\"/mnt/datasets\",device_error=\"mountpoint timeout\"} = %v, %v; want 1", i, v, ok)
		}
		if _, ok := find(m, "node_filesystem_avail_bytes", "mountpoint", "/data"); !ok {
			t.Errorf("tick %d: node_filesystem_avail_bytes{mountpoint=\"/data\"} missing", i)
		}
		// The tick waits for no one past the deadline (generous margin
		// for a loaded test machine).
		if d, _ := find(m, "trainwatch_tick_duration_seconds"); d > (timeout + time.Second).Seconds() {
			t.Errorf("tick %d took %vs with a deadline of %s", i, d, timeout)
		}
	}

	// The history keeps getting every tick, the failures included.
	if n := len(ia.history(t, broke, "up")); n < ticks {
		t.Errorf("history: %d ticks of up since the fault, want at least %d", n, ticks)
	}
	if n := len(ia.history(t, broke, "node_time_seconds")); n < ticks {
		t.Errorf("history: %d samples of node_time_seconds since the fault, want at least %d", n, ticks)
	}
	if h := ia.history(t, broke, "trainwatch_collector_success", "collector", "loadavg"); len(h) < ticks-1 || h[len(h)-1].v != 0 {
		t.Errorf("history of trainwatch_collector_success{collector=\"loadavg\"} since the fault: %v, want 0s", h)
	}

	// Each failure logged once, the panic with its stack.
	if n := countLines(ia.log, `msg="collector failed"`, "collector=loadavg"); n != 1 {
		t.Errorf("the stuck collector was logged %d times in %d ticks, want once", n, ticks)
	}
	if n := countLines(ia.log, `msg="collector failed"`, "collector=vmstat", "simulated bug", "stack="); n != 1 {
		t.Errorf("the panic was logged %d times (with its stack) in %d ticks, want once", n, ticks)
	}

	// Released, the stuck read returns and the collector recovers.
	faults.broken.Store(false)
	faults.unblock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ia.waitTicks(t, 1)
		m := ia.scrape(t)
		if v, _ := find(m, "trainwatch_collector_success", "collector", "loadavg"); v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("loadavg did not recover after its read returned")
		}
	}
	if n := countLines(ia.log, `msg="collector recovered"`, "collector=loadavg"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

// isStale reports whether v is Prometheus' staleness marker.
func isStale(v float64) bool { return value.IsStaleNaN(v) }
