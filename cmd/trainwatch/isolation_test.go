package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// isoLog is a log sink safe for the agent's goroutines.
type isoLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *isoLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines contain every one of parts.
func (l *isoLog) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// isoInstant runs an instant PromQL query against the agent and returns
// the value of its single result (false when the result is empty).
func isoInstant(t *testing.T, base, expr string) (float64, bool) {
	t.Helper()
	resp, body := get(t, base+"/api/v1/query?"+url.Values{"query": {expr}}.Encode(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query %s: %d %s", expr, resp.StatusCode, body)
	}
	var env struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	if len(env.Data.Result) == 0 {
		return 0, false
	}
	s, _ := env.Data.Result[0].Value[1].(string)
	var v float64
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("query %s: value %q: %v", expr, s, err)
	}
	return v, true
}

// TestIsolationServeStuckAndPanickingCollectors runs `serve` in process
// with the real host collectors, two of which break after the agent is
// ready: loadavg's read of /proc/loadavg blocks for good (a read stuck in
// the kernel: no context interrupts it) and vmstat panics on every tick
// (both injected through hostfs.Roots' Trace hook, which every read passes
// through). The agent keeps serving /metrics, /-/healthy and the query API,
// keeps storing every tick, the healthy collectors stay fresh, the two
// broken ones show trainwatch_collector_success 0 on /metrics and in the
// history (loadavg's duration at least the deadline), and each is logged
// once.
func TestIsolationServeStuckAndPanickingCollectors(t *testing.T) {
	var broken atomic.Bool
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // lets the stuck read return
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Host.Roots = hostfs.Roots{Trace: func(path string) {
		if !broken.Load() {
			return
		}
		switch {
		case strings.HasSuffix(path, "/loadavg"):
			<-release
		case strings.HasSuffix(path, "/vmstat"):
			panic("simulated bug reading " + path)
		}
	}}
	deadline := cfg.EffectiveTimeout()

	log := &isoLog{}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(log, nil)), func(a net.Addr) { addrc <- a })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop within 15s")
		}
	})
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not listen")
	}
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		end := time.Now().Add(d)
		for !ok() {
			if time.Now().After(end) {
				t.Fatalf("%s not within %s", what, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the agent ready", 15*time.Second, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	metrics := func() map[string]*familyValues {
		t.Helper()
		resp, body := get(t, base+"/metrics", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		return parseText(t, body)
	}
	success := func(m map[string]*familyValues, c string) float64 {
		v, ok := m["trainwatch_collector_success"].find(map[string]string{"collector": c})
		if !ok {
			return -1
		}
		return v
	}
	waitFor("a working vmstat and loadavg", 15*time.Second, func() bool {
		m := metrics()
		return success(m, "vmstat") == 1 && success(m, "loadavg") == 1
	})
	load1, _ := metrics()["node_load1"].find(nil)

	broken.Store(true)
	broke := time.Now()
	waitFor("both failures on /metrics", 10*time.Second, func() bool {
		m := metrics()
		return success(m, "vmstat") == 0 && success(m, "loadavg") == 0
	})
	var lastTime, lastCtxt float64
	for i := range 6 {
		time.Sleep(time.Duration(cfg.Interval))
		m := metrics()
		if success(m, "vmstat") != 0 || success(m, "loadavg") != 0 {
			t.Errorf("poll %d: success vmstat %v, loadavg %v; want 0 and 0", i, success(m, "vmstat"), success(m, "loadavg"))
		}
		if d, _ := m["trainwatch_collector_duration_seconds"].find(map[string]string{"collector": "loadavg"}); d < deadline.Seconds() {
			t.Errorf("poll %d: loadavg's duration %vs, want at least the deadline %s", i, d, deadline)
		}
		if v, ok := m["node_load1"].find(nil); !ok || v != load1 {
			t.Errorf("poll %d: node_load1 = %v, %v; want its last good value %v", i, v, ok, load1)
		}
		now, _ := m["node_time_seconds"].find(nil)
		ctxt, _ := m["node_context_switches_total"].find(nil)
		if now <= lastTime || ctxt < lastCtxt {
			t.Errorf("poll %d: node_time_seconds %v (was %v), node_context_switches_total %v (was %v): the healthy collectors stopped", i, now, lastTime, ctxt, lastCtxt)
		}
		lastTime, lastCtxt = now, ctxt
		for _, c := range []string{"time", "stat", "meminfo", "self"} {
			if v := success(m, c); v != 1 {
				t.Errorf("poll %d: trainwatch_collector_success{collector=%q} = %v, want 1", i, c, v)
			}
		}
		if resp, _ := get(t, base+"/-/healthy", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("poll %d: /-/healthy answered %d", i, resp.StatusCode)
		}
	}
	// History: the ticks since the fault are all stored, the failures too.
	since := time.Since(broke).Round(time.Second) + time.Second
	rng := "[" + model.Duration(since).String() + "]"
	if n, _ := isoInstant(t, base, `count_over_time(up{job="trainwatch"}`+rng+`)`); n < 6 {
		t.Errorf("history: %v ticks since the fault, want at least 6", n)
	}
	if n, _ := isoInstant(t, base, `count_over_time(node_time_seconds`+rng+`)`); n < 6 {
		t.Errorf("history: %v samples of node_time_seconds since the fault, want at least 6", n)
	}
	if v, ok := isoInstant(t, base, `max_over_time(trainwatch_collector_success{collector="loadavg"}[2s])`); !ok || v != 0 {
		t.Errorf("history: loadavg's success over the last 2s = %v, %v; want 0", v, ok)
	}
	if v, ok := isoInstant(t, base, `max_over_time(trainwatch_collector_success{collector="vmstat"}[2s])`); !ok || v != 0 {
		t.Errorf("history: vmstat's success over the last 2s = %v, %v; want 0", v, ok)
	}
	if n := log.count(`msg="collector failed"`, "collector=loadavg"); n != 1 {
		t.Errorf("the stuck collector was logged %d times, want once", n)
	}
	if n := log.count(`msg="collector failed"`, "collector=vmstat", "simulated bug", "stack="); n != 1 {
		t.Errorf("the panic was logged %d times (with its stack), want once", n)
	}
}
