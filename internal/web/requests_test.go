package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// requestSeries reads the histogram's series from the collector's output,
// by "handler code".
func requestSeries(t *testing.T, m *RequestMetrics) map[string]*collector.Distribution {
	t.Helper()
	fams, err := collector.CollectOnce(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*collector.Distribution)
	for _, f := range fams {
		if f.Desc.Name != RequestDurationName || f.Desc.Type != collector.Histogram ||
			strings.Join(f.Desc.LabelNames, ",") != "handler,code" {
			t.Fatalf("unexpected family %s (%s, labels %v)", f.Desc.Name, f.Desc.Type, f.Desc.LabelNames)
		}
		for i, s := range f.Samples {
			key := f.Label(i, "handler") + " " + f.Label(i, "code")
			if out[key] != nil {
				t.Errorf("series %q emitted twice", key)
			}
			out[key] = s.Dist
		}
	}
	return out
}

// checkHistogram checks that a series is a well-formed histogram over
// RequestBuckets.
func checkHistogram(t *testing.T, key string, d *collector.Distribution) {
	t.Helper()
	bounds := RequestBuckets()
	if len(d.Buckets) != len(bounds) {
		t.Errorf("%s: %d buckets, want %d", key, len(d.Buckets), len(bounds))
		return
	}
	var prev uint64
	for i, b := range d.Buckets {
		if b.UpperBound != bounds[i] || b.Count < prev || b.Count > d.Count {
			t.Errorf("%s: bucket %d is le=%g count %d (previous %d, total %d)", key, i, b.UpperBound, b.Count, prev, d.Count)
		}
		prev = b.Count
	}
	if d.Sum <= 0 || d.Sum > 60*float64(d.Count) {
		t.Errorf("%s: sum %g s for %d requests", key, d.Sum, d.Count)
	}
}

// TestRequestDurationHistogram makes requests against a real server and
// checks the histogram series the collector emits: one per route pattern
// and status code, refusals under the route asked for, requests no route
// matched under "unmatched".
func TestRequestDurationHistogram(t *testing.T) {
	m := NewRequestMetrics()
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	srv := httptest.NewServer(New(fixedSource{realState(t)}, Options{
		Requests:            m,
		MaxRequestsInFlight: 1,
		Routes: []Route{
			{Pattern: "GET /slow", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				time.Sleep(3 * time.Millisecond)
				w.WriteHeader(http.StatusAccepted)
			})},
			{Pattern: "GET /hold", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				held <- struct{}{}
				<-hold
			})},
			{Pattern: "POST /write", Writes: true, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})},
			{Pattern: "GET /files/", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})},
		},
	}))
	defer srv.Close()

	do := func(method, path string, header http.Header) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	for _, tc := range []struct {
		name         string
		method, path string
		header       http.Header
		times        int
		code         int
		series       string // "handler code"
	}{
		{"metrics", http.MethodGet, "/metrics", nil, 3, http.StatusOK, "/metrics 200"},
		{"metrics head", http.MethodHead, "/metrics", nil, 1, http.StatusOK, "/metrics 200"},
		{"metrics post", http.MethodPost, "/metrics", nil, 2, http.StatusMethodNotAllowed, "/metrics 405"},
		{"health", http.MethodGet, "/-/healthy", nil, 1, http.StatusOK, "/-/healthy 200"},
		{"api without history", http.MethodGet, "/api/v1/query", nil, 1, http.StatusNotFound, "/api/v1/ 404"},
		{"no route", http.MethodGet, "/nowhere", nil, 2, http.StatusNotFound, "unmatched 404"},
		// A path served for other methods only answers 405 from the
		// server's fallback for that path; under a subtree pattern, from
		// the ServeMux itself.
		{"wrong method", http.MethodGet, "/write", nil, 1, http.StatusMethodNotAllowed, "/write 405"},
		{"wrong method in a subtree", http.MethodPost, "/files/a", nil, 1, http.StatusMethodNotAllowed, "unmatched 405"},
		{"slow", http.MethodGet, "/slow", nil, 1, http.StatusAccepted, "GET /slow 202"},
		{"cross-origin", http.MethodPost, "/write", crossSite, 1, http.StatusForbidden, "POST /write 403"},
	} {
		for range tc.times {
			if got := do(tc.method, tc.path, tc.header); got != tc.code {
				t.Fatalf("%s: %s %s answered %d, want %d", tc.name, tc.method, tc.path, got, tc.code)
			}
		}
	}
	// One request holds the only slot: the next is refused with 429,
	// under the route it asked for.
	holding := make(chan int, 1)
	go func() { holding <- do(http.MethodGet, "/hold", nil) }()
	<-held
	if got := do(http.MethodGet, "/metrics", nil); got != http.StatusTooManyRequests {
		t.Fatalf("GET /metrics with the slot held: %d, want 429", got)
	}
	close(hold)
	if got := <-holding; got != http.StatusOK {
		t.Fatalf("GET /hold: %d", got)
	}

	want := map[string]uint64{
		"/metrics 200":    4,
		"/metrics 405":    2,
		"/metrics 429":    1,
		"/-/healthy 200":  1,
		"/api/v1/ 404":    1,
		"unmatched 404":   2,
		"unmatched 405":   1,
		"/write 405":      1,
		"GET /slow 202":   1,
		"POST /write 403": 1,
		"GET /hold 200":   1,
	}
	got := requestSeries(t, m)
	for key, n := range want {
		d := got[key]
		if d == nil {
			t.Errorf("no series %q", key)
			continue
		}
		if d.Count != n {
			t.Errorf("%s: count %d, want %d", key, d.Count, n)
		}
		checkHistogram(t, key, d)
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected series %q", key)
		}
	}
	// The slow route took at least 3 ms: nothing at or below 2 ms.
	if d := got["GET /slow 202"]; d != nil {
		for _, b := range d.Buckets {
			if b.UpperBound <= 0.002 && b.Count != 0 {
				t.Errorf("GET /slow: %d requests in le=%g, but it sleeps 3 ms", b.Count, b.UpperBound)
			}
		}
		if d.Sum < 0.003 {
			t.Errorf("GET /slow: sum %g s, want at least 3 ms", d.Sum)
		}
	}
}

// TestRequestCodesBounded: a handler's codes past maxCodesPerHandler are
// counted under "other".
func TestRequestCodesBounded(t *testing.T) {
	m := NewRequestMetrics()
	h := m.handler("/x")
	for code := 200; code < 200+maxCodesPerHandler+3; code++ {
		m.observe(h, code, time.Millisecond)
	}
	m.observe(h, 200, 2*time.Millisecond)
	got := requestSeries(t, m)
	if len(got) != maxCodesPerHandler+1 {
		t.Errorf("%d series, want %d", len(got), maxCodesPerHandler+1)
	}
	if d := got["/x "+CodeOther]; d == nil || d.Count != 3 {
		t.Errorf("other: %+v, want 3 requests", d)
	}
	if d := got["/x 200"]; d == nil || d.Count != 2 || d.Buckets[3].Count != 1 || d.Buckets[4].Count != 2 {
		t.Errorf("/x 200: %+v, want 1 request in le=0.001 and 2 in le=0.002", d)
	}
}

// nopWriter is a ResponseWriter that allocates nothing.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

// TestRequestRecordingAllocs: recording a request allocates nothing once
// its route and code have been seen.
func TestRequestRecordingAllocs(t *testing.T) {
	m := NewRequestMetrics()
	h := m.handler("/metrics")
	w := nopWriter{h: http.Header{}}
	record := func() {
		sw := m.begin(w)
		sw.route = h
		_, _ = sw.Write(nil)
		m.end(sw)
	}
	record()
	if n := testing.AllocsPerRun(1000, record); n != 0 {
		t.Errorf("%.1f allocations per request, want 0", n)
	}
}
