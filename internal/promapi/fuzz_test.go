package promapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fuzzPaths are the endpoints FuzzAPIParams picks from by number.
var fuzzPaths = []string{
	"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values",
	"/api/v1/metadata", "/api/v1/query_exemplars", "/api/v1/format_query", "/api/v1/parse_query",
}

// FuzzAPIParams sends any query string (GET) or form (POST) to the
// Prometheus API the dashboard and Grafana use, under small limits: every
// answer is Prometheus' JSON envelope with a known status (or, as from
// Prometheus, an empty 204 to an exemplar query without a selector), and
// an error says what it is.
func FuzzAPIParams(f *testing.F) {
	for _, s := range []struct {
		path  uint8
		query string
	}{
		{0, "query=up&time=1800000000"},
		{0, "query=sum(&time=x"},
		{1, "query=rate(node_cpu_seconds_total[5m])&start=1800000000&end=1800003600&step=15"},
		{1, "query=vector(1)&start=0&end=1e18&step=0.001"},
		{0, "query=count_over_time(vector(1)[100y:1ms])"},
		{2, "match[]={job=\"trainwatch\"}&start=-Inf&end=+Inf"},
		{3, "match[]=up{"},
		{4, "limit=-1"},
		{5, "metric=node_load1&limit=x&limit_per_metric=2"},
		{5, "limit=0"},
		{7, "query=sum by(job)(up)"},
		{8, "query=a+"},
	} {
		f.Add(s.path, s.query, false)
	}
	st := openStore(f, "")
	a, err := New(Options{
		Store: st, Timeout: 2 * time.Second, MaxSamples: 100_000, MaxConcurrent: 2,
		Metadata: func() []Metadata {
			return []Metadata{{Name: "node_load1", Type: "gauge", Help: "1m load average."}, {Name: "up", Type: "gauge"}}
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path uint8, query string, post bool) {
		target := fuzzPaths[int(path)%len(fuzzPaths)]
		var r *http.Request
		if post {
			r = httptest.NewRequest(http.MethodPost, target, strings.NewReader(query))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			var err error
			r, err = http.NewRequest(http.MethodGet, "http://agent:9835"+target, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.URL.RawQuery = query
		}
		w := httptest.NewRecorder()
		start := time.Now()
		a.ServeHTTP(w, r)
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("%s?%s took %s under a 2s timeout", target, query, d)
		}
		if w.Code == http.StatusNoContent {
			// Prometheus' answer to an exemplar query without a series
			// selector (query_exemplars?query=0): no content at all.
			if w.Body.Len() != 0 || target != "/api/v1/query_exemplars" {
				t.Fatalf("%s?%s: 204 with %q", target, query, w.Body.String())
			}
			return
		}
		var env struct {
			Status    string          `json:"status"`
			ErrorType string          `json:"errorType"`
			Error     string          `json:"error"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s?%s: %d answer is not JSON: %v: %.300q", target, query, w.Code, err, w.Body.String())
		}
		switch w.Code {
		case http.StatusOK:
			if env.Status != "success" {
				t.Fatalf("%s?%s: 200 with status %q", target, query, env.Status)
			}
		case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusTooManyRequests,
			http.StatusMethodNotAllowed:
			if env.Status != "error" || env.ErrorType == "" || env.Error == "" {
				t.Fatalf("%s?%s: %d without an explained error: %s", target, query, w.Code, w.Body.String())
			}
		default:
			t.Fatalf("%s?%s: status %d: %s", target, query, w.Code, w.Body.String())
		}
	})
}
