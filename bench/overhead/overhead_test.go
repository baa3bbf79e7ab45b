package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestOverheadShort runs the harness in -short mode when TRAINWATCH_BENCH=1
// or CI=true: it builds trainwatch, starts every target found on this
// machine and logs the report. It never fails on the figures, only when the
// harness itself breaks (a target does not start, a measurement cannot be
// read); missing peers are skipped and named in the log.
func TestOverheadShort(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if os.Getenv("TRAINWATCH_BENCH") != "1" && !ci {
		t.Skip("set TRAINWATCH_BENCH=1 (or CI=true) to run the overhead harness in short mode (about two minutes)")
	}
	c, err := parseFlags([]string{"-short"})
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	o.Log = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	began := time.Now()
	res, err := run(ctx, o, "go test ./bench/overhead (TRAINWATCH_BENCH=1: -short)")
	if err != nil {
		t.Fatalf("the harness broke: %v", err)
	}
	for k, why := range res.Skipped {
		if ci {
			t.Logf("CI: peer %s skipped: %s (not a failure; CI decides what it installs)", k, why)
		} else {
			t.Logf("peer %s skipped: %s", k, why)
		}
	}
	if len(res.Phases) != len(o.Procs) {
		t.Fatalf("%d phases measured, want %d", len(res.Phases), len(o.Procs))
	}
	for _, ph := range res.Phases {
		for _, tr := range ph.Targets {
			if tr.Mem.RSS == 0 {
				t.Errorf("phase %d: no RSS read for %s", ph.Extra, tr.Key)
			}
		}
	}
	t.Logf("report (harness took %s):\n%s", time.Since(began).Round(time.Second), res.markdown())
}

// testWriter sends the harness's progress lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-short", "-window", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if o := c.opts; o.Window != 3*time.Second || o.Warmup != 5*time.Second || len(o.Procs) != 2 || o.Procs[1] != 300 {
		t.Errorf("-short -window 3s: got window %s, warm-up %s, procs %v", o.Window, o.Warmup, o.Procs)
	}
	if o := c.opts; o.OpenWindow != 2*time.Second || !slices.Equal(o.OpenClients, []int{64}) {
		t.Errorf("-short: open-loop window %s at %v clients, want 2s at [64]", o.OpenWindow, o.OpenClients)
	}
	if c, err := parseFlags([]string{"-short", "-clients", "8,2"}); err != nil || !slices.Equal(c.opts.OpenClients, []int{8}) {
		t.Errorf("-short -clients 8,2: open loop at %v, %v; want [8]", c.opts.OpenClients, err)
	}
	if c, err := parseFlags([]string{"-short", "-open-window", "0"}); err != nil || c.opts.OpenWindow != 0 {
		t.Errorf("-short -open-window 0: %s, %v; want no open loop", c.opts.OpenWindow, err)
	}
	if c, err := parseFlags(nil); err != nil || c.opts.OpenWindow != 20*time.Second || !slices.Equal(c.opts.OpenClients, []int{4, 64}) {
		t.Errorf("defaults: open-loop window %s at %v clients, %v; want 20s at [4 64]", c.opts.OpenWindow, c.opts.OpenClients, err)
	}
	if c, err := parseFlags([]string{"-short", "-open-clients", "4,64"}); err != nil || !slices.Equal(c.opts.OpenClients, []int{4, 64}) {
		t.Errorf("-short -open-clients 4,64: %v, %v", c.opts.OpenClients, err)
	}
	if _, err := parseFlags([]string{"-open-window", "-1s"}); err == nil {
		t.Error("-open-window -1s: no error")
	}
	if _, err := parseFlags([]string{"-procs", "0,x"}); err == nil {
		t.Error("-procs 0,x: no error")
	}
}

func TestParseProcStat(t *testing.T) {
	line := []byte("42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 12345 1000 10 18446744073709551615\n")
	st, ok := parseProcStat(42, line)
	if !ok {
		t.Fatal("not parsed")
	}
	if st.comm != "a) b (c)" || st.ppid != 1 || st.state != 'S' || st.ticks != 13 || st.start != 12345 {
		t.Errorf("got %+v", st)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p99, mx := percentiles(ds)
	if p50 != 50 || p99 != 99 || mx != 100 {
		t.Errorf("got %v %v %v", p50, p99, mx)
	}
}

func TestBucketQuantile(t *testing.T) {
	inf := math.Inf(1)
	h := histogram{{0.001, 0}, {0.002, 50}, {0.005, 99}, {inf, 100}}
	for _, tc := range []struct {
		name string
		q    float64
		h    histogram
		want float64
	}{
		{"median at a bucket's top", 0.5, h, 0.002},
		{"quarter interpolated", 0.25, h, 0.0015},
		{"p99", 0.99, h, 0.005},
		{"rank in +Inf: the highest finite bound", 1, h, 0.005},
		{"lowest bucket starts at 0", 0.5, histogram{{0.001, 10}, {inf, 10}}, 0.0005},
		{"no observations", 0.5, histogram{{0.001, 0}, {inf, 0}}, math.NaN()},
		{"no +Inf bucket", 0.5, histogram{{0.001, 1}, {0.002, 1}}, math.NaN()},
	} {
		got := bucketQuantile(tc.q, tc.h)
		if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
			t.Errorf("%s: bucketQuantile(%g) = %g, want %g", tc.name, tc.q, got, tc.want)
		}
	}
}

// histogramBody is a /metrics body with the request duration histogram of
// two handlers, /metrics with two codes.
const histogramBody = `# HELP trainwatch_http_request_duration_seconds Time.
# TYPE trainwatch_http_request_duration_seconds histogram
trainwatch_http_request_duration_seconds_bucket{handler="/metrics",code="200",le="0.001"} 3
trainwatch_http_request_duration_seconds_bucket{handler="/metrics",code="200",le="0.002"} 9
trainwatch_http_request_duration_seconds_bucket{handler="/metrics",code="200",le="+Inf"} 10
trainwatch_http_request_duration_seconds_sum{handler="/metrics",code="200"} 0.02
trainwatch_http_request_duration_seconds_count{handler="/metrics",code="200"} 10
trainwatch_http_request_duration_seconds_bucket{handler="/metrics",code="429",le="0.001"} 2
trainwatch_http_request_duration_seconds_bucket{handler="/metrics",code="429",le="0.002"} 2
trainwatch_http_request_duration_seconds_bucket{handler="/metrics",code="429",le="+Inf"} 2
trainwatch_http_request_duration_seconds_sum{handler="/metrics",code="429"} 0.0001
trainwatch_http_request_duration_seconds_count{handler="/metrics",code="429"} 2
trainwatch_http_request_duration_seconds_bucket{handler="/-/ready",code="200",le="0.001"} 7
trainwatch_http_request_duration_seconds_bucket{handler="/-/ready",code="200",le="0.002"} 7
trainwatch_http_request_duration_seconds_bucket{handler="/-/ready",code="200",le="+Inf"} 7
trainwatch_http_request_duration_seconds_sum{handler="/-/ready",code="200"} 0.001
trainwatch_http_request_duration_seconds_count{handler="/-/ready",code="200"} 7
# TYPE node_load1 gauge
node_load1 0.5
`

func TestParseServerHistogram(t *testing.T) {
	h, err := parseServerHistogram([]byte(histogramBody), "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	want := histogram{{0.001, 5}, {0.002, 11}, {math.Inf(1), 12}}
	if !slices.Equal(h, want) {
		t.Errorf("/metrics summed over codes: %v, want %v", h, want)
	}
	if h, err := parseServerHistogram([]byte("# TYPE node_load1 gauge\nnode_load1 1\n"), "/metrics"); err != nil || h != nil {
		t.Errorf("a body without the histogram: %v, %v; want nil, nil", h, err)
	}
	before := histogram{{0.001, 5}, {0.002, 5}, {math.Inf(1), 6}}
	after := histogram{{0.001, 5}, {0.002, 104}, {math.Inf(1), 106}}
	q := after.quantiles(before)
	// 100 observations: 99 in (1 ms, 2 ms], 1 above 2 ms.
	if q == nil || q.Observations != 100 || math.Abs(q.P50Ms-(1+50.0/99)) > 1e-9 || q.P99Ms != 2 {
		t.Errorf("quantiles of the delta: %+v, want 100 observations, p50 %.4f ms, p99 2 ms", q, 1+50.0/99)
	}
	if q := before.quantiles(before); q != nil {
		t.Errorf("no observations: %+v, want nil", q)
	}
}

// TestServerReaderWaitsForTick: the histogram is read only once the
// target's snapshot is from after the given time.
func TestServerReaderWaitsForTick(t *testing.T) {
	start := time.Now()
	var metricsReads atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/snapshot", func(w http.ResponseWriter, _ *http.Request) {
		// Ticks every 300 ms from start.
		tick := start.Add(time.Since(start).Truncate(300 * time.Millisecond))
		fmt.Fprintf(w, `{"time":%q,"host":{}}`, tick.UTC().Format(time.RFC3339Nano))
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		metricsReads.Add(1)
		_, _ = io.WriteString(w, histogramBody)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := &serverReader{client: srv.Client(), metrics: srv.URL + "/metrics", snapshot: srv.URL + snapshotPath}
	since := time.Now()
	h, err := r.readAfter(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(since); waited < 50*time.Millisecond {
		t.Errorf("read after %s: did not wait for the next tick", waited)
	}
	if len(h) != 3 || metricsReads.Load() != 1 {
		t.Errorf("%d buckets in %d /metrics reads; want 3 in 1", len(h), metricsReads.Load())
	}
}

func TestOpenLoop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{{"ok", http.StatusOK}, {"errors", http.StatusServiceUnavailable}} {
		t.Run(tc.name, func(t *testing.T) {
			var served atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				if r.Header.Get("Accept") != acceptPrometheus || r.Header.Get("Accept-Encoding") != "gzip" {
					t.Errorf("headers %v, want Prometheus' Accept and gzip", r.Header)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			// 3 scrapers, one slot each 200 ms over 1 s: 5 slots each.
			res := openLoop(context.Background(), newClient(3), srv.URL, 3, 200*time.Millisecond, time.Second)
			n := res.Requests + res.Errors
			if n < 12 || n > 15 || int(served.Load()) != n {
				t.Errorf("%d requests and %d errors, %d served; want 15 (12 on a loaded machine)", res.Requests, res.Errors, served.Load())
			}
			if tc.status == http.StatusOK && (res.Errors != 0 || res.P99Ms <= 0 || res.MaxMs < res.P99Ms) {
				t.Errorf("%+v", res)
			}
			if tc.status != http.StatusOK && res.Requests != 0 {
				t.Errorf("%d requests counted as answered with status %d", res.Requests, tc.status)
			}
		})
	}
}

// TestReportLatencyTables: the server-side figures and the open loop are
// in the markdown when measured, "–" for a peer, and a result saved before
// they existed still renders, without the open-loop table.
func TestReportLatencyTables(t *testing.T) {
	res := result{
		Settings: map[string]string{"open_window": "20s", "open_clients": "[4 64]", "scrape_interval": "1s", "latency_max": "20s"},
		Phases: []phaseResult{{Extra: 300, Targets: []targetResult{
			{Key: "tw", Name: "trainwatch serve",
				Latency: []latencyResult{{Clients: 64, Requests: 640, P50Ms: 9, P99Ms: 40, MaxMs: 50,
					Server: &serverQuantiles{Observations: 641, P50Ms: 0.06, P99Ms: 1.8}}},
				OpenLoop: []openLoopResult{{Scrapers: 64, IntervalS: 1, WindowS: 20, Requests: 1280, P50Ms: 0.9, P99Ms: 4.6, MaxMs: 7,
					Server: &serverQuantiles{Observations: 1281, P50Ms: 0.19, P99Ms: 1.97}}}},
			{Key: "process", Name: "process-exporter",
				Latency:  []latencyResult{{Clients: 64, Requests: 56, Capped: true, P50Ms: 9000, P99Ms: 19000, MaxMs: 19000}},
				OpenLoop: []openLoopResult{{Scrapers: 64, IntervalS: 1, WindowS: 20, Skipped: "64 requests per 1s at 697.5 ms of CPU each (closed loop) need 44.6 cores"}}},
		}}},
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	md := back.markdown()
	for _, want := range []string{
		"| trainwatch serve | 300 | 64 | 640 | 9.00 | 40.00 | 50.00 | 0.06 / 1.80 |",
		"| process-exporter | 300 | 64 | 56 (time cap) | 9000.00 | 19000.00 | 19000.00 | – |",
		"## /metrics latency, open loop",
		"| trainwatch serve | 300 | 64 at 1 s | 20 | 1280 | 0 | 0.90 | 4.60 | 7.00 | 0.19 / 1.97 |",
		"| process-exporter | 300 | 64 at 1 s | – | skipped: 64 requests per 1s",
		"Open loop: as many scrapers as clients ([4 64])",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}

	old, err := os.ReadFile("../results/overhead-2026-11-29-vm.json")
	if err != nil {
		t.Skip(err)
	}
	var prev result
	if err := json.Unmarshal(old, &prev); err != nil {
		t.Fatal(err)
	}
	md = prev.markdown()
	if strings.Contains(md, "## /metrics latency, open loop") || strings.Contains(md, "Open loop: as many") {
		t.Error("a result without an open loop renders an open-loop table or setting")
	}
	if !strings.Contains(md, "| trainwatch serve --demo | 0 | 4 | 640 | 0.79 | 6.62 | 9.49 | – | 0.12 | 0.18 |") {
		t.Errorf("an older result's latency row is not rendered with – for the server side:\n%s", md)
	}
}
