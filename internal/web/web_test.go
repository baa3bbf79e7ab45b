package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/exposition"
)

type fixedSource struct{ st *agent.State }

func (f fixedSource) Latest() *agent.State { return f.st }
func (f fixedSource) Ready() bool          { return f.st != nil }

func realState(tb testing.TB) *agent.State {
	tb.Helper()
	cs, err := host.Collectors(host.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	self, err := agent.NewSelfCollector()
	if err != nil {
		tb.Fatal(err)
	}
	r, err := collector.NewRunner(collector.RunnerOptions{}, append(cs, self)...)
	if err != nil {
		tb.Fatal(err)
	}
	snap := r.Tick(context.Background())
	return &agent.State{Snapshot: snap, Cache: exposition.NewCache(snap.Families)}
}

func TestNotReadyBeforeFirstTick(t *testing.T) {
	srv := httptest.NewServer(New(fixedSource{}, Options{}))
	defer srv.Close()
	for _, path := range []string{"/-/ready", "/metrics", "/api/v1/snapshot"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: %d, want 503", path, resp.StatusCode)
		}
		if !strings.Contains(string(body), "first collection has not finished") {
			t.Errorf("%s: body %q does not say why", path, body)
		}
	}
	resp, err := http.Get(srv.URL + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/-/healthy: %d", resp.StatusCode)
	}
}

func TestMetricsServedFromCache(t *testing.T) {
	st := realState(t)
	srv := httptest.NewServer(New(fixedSource{st}, Options{}))
	defer srv.Close()
	var bodies []string
	for i := 0; i < 2; i++ {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], "node_cpu_seconds_total") {
		t.Fatal("two scrapes of one tick differ, or lack node_cpu_seconds_total")
	}
}

// BenchmarkMetricsConcurrent4 scrapes /metrics from the cache with four
// concurrent clients over real HTTP and reports latency percentiles.
// Budget: p99 <= 5ms.
func BenchmarkMetricsConcurrent4(b *testing.B) {
	st := realState(b)
	srv := httptest.NewServer(New(fixedSource{st}, Options{}))
	defer srv.Close()
	const clients = 4
	var mu sync.Mutex
	var lat []time.Duration
	per := b.N/clients + 1
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			local := make([]time.Duration, 0, per)
			for i := 0; i < per; i++ {
				t0 := time.Now()
				resp, err := client.Get(srv.URL + "/metrics")
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkEncode measures encoding one tick's snapshot, which happens once
// per tick and format on the first scrape; "expfmt" is the peer path
// through client_model structs, for the ratio.
func BenchmarkEncode(b *testing.B) {
	st := realState(b)
	text := expfmt.NewFormat(expfmt.TypeTextPlain)
	shared := exposition.NewEncoder(nil)
	cases := []struct {
		name string
		run  func() error
	}{
		{"text", func() error { _, err := exposition.NewCache(st.Snapshot.Families).Bytes(text, false); return err }},
		{"text-gzip", func() error { _, err := exposition.NewCache(st.Snapshot.Families).Bytes(text, true); return err }},
		{"openmetrics", func() error {
			_, err := exposition.NewCache(st.Snapshot.Families).Bytes(expfmt.NewFormat(expfmt.TypeOpenMetrics), false)
			return err
		}},
		{"openmetrics-gzip", func() error {
			_, err := exposition.NewCache(st.Snapshot.Families).Bytes(expfmt.NewFormat(expfmt.TypeOpenMetrics), true)
			return err
		}},
		// What a tick costs with the agent's encoder, shared across ticks.
		{"openmetrics-gzip-shared", func() error {
			_, err := shared.NewCache(st.Snapshot.Families).Bytes(expfmt.NewFormat(expfmt.TypeOpenMetrics), true)
			return err
		}},
		{"expfmt-text", func() error {
			enc := expfmt.NewEncoder(io.Discard, text)
			for _, mf := range exposition.ToDTO(st.Snapshot.Families) {
				if err := enc.Encode(mf); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAPIPathsAnswerJSON: without the Prometheus API (the agent keeps no
// history), a path under /api/v1/ that no route serves answers a JSON 404
// in Prometheus' error format, as the API's own router does, and the
// routes that are there still answer; a write to a read-only endpoint, or
// a method a route does not take, is a JSON 405 with the Allow header.
func TestAPIPathsAnswerJSON(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
	})
	srv := httptest.NewServer(New(fixedSource{}, Options{Routes: []Route{
		{Pattern: "GET /api/v1/push/groups", Handler: ok},
		{Pattern: "GET /api/v1/runs", Handler: ok},
		{Pattern: "POST /api/v1/runs", Handler: ok},
		{Pattern: "GET /api/v1/runs/{run}", Handler: ok},
		{Pattern: "POST /api/v1/runs/{run}/log", Handler: ok},
	}}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		status       string
		errorType    string
		allow        string
	}{
		{http.MethodGet, "/api/v1/query", http.StatusNotFound, "error", "not_found", ""},
		{http.MethodPost, "/api/v1/query_range", http.StatusNotFound, "error", "not_found", ""},
		{http.MethodGet, "/api/v1/", http.StatusNotFound, "error", "not_found", ""},
		{http.MethodPost, "/api/v1/push/groups", http.StatusMethodNotAllowed, "error", "bad_data", "GET, HEAD"},
		{http.MethodGet, "/api/v1/push/groups", http.StatusOK, "success", "", ""},
		{http.MethodPost, "/api/v1/snapshot", http.StatusMethodNotAllowed, "error", "bad_data", "GET, HEAD"},
		{http.MethodDelete, "/api/v1/runs", http.StatusMethodNotAllowed, "error", "bad_data", "GET, HEAD, POST"},
		{http.MethodPost, "/api/v1/runs", http.StatusOK, "success", "", ""},
		{http.MethodDelete, "/api/v1/runs/r1", http.StatusMethodNotAllowed, "error", "bad_data", "GET, HEAD"},
		{http.MethodGet, "/api/v1/runs/r1/log", http.StatusMethodNotAllowed, "error", "bad_data", "POST"},
		{http.MethodGet, "/api/v1/runs/r1/other", http.StatusNotFound, "error", "not_found", ""},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("x=1"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Status    string `json:"status"`
			ErrorType string `json:"errorType"`
			Error     string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		what := tc.method + " " + tc.path
		if err != nil {
			t.Errorf("%s: %d answer is not JSON: %v", what, resp.StatusCode, err)
			continue
		}
		if resp.StatusCode != tc.code || env.Status != tc.status || env.ErrorType != tc.errorType ||
			(tc.status == "error" && !strings.Contains(env.Error, tc.path)) {
			t.Errorf("%s: %d %+v; want %d %s/%s naming the path", what, resp.StatusCode, env, tc.code, tc.status, tc.errorType)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", what, ct)
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s: Allow %q; want %q", what, got, tc.allow)
		}
	}
}
