package promapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSubqueries: a subquery without a step evaluates (the engine had no
// default step and failed it), and one that would take more steps than
// subquery.MaxSteps is refused before the engine allocates for it (the
// instant query below made the agent allocate terabytes and crash).
func TestSubqueries(t *testing.T) {
	st := openStore(t, "")
	a, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		params url.Values
		code   int
		want   string
	}{
		{"/api/v1/query", url.Values{"query": {"max_over_time(vector(1)[5m:])"}, "time": {"1800000000"}}, 200, `"value":[1800000000,"1"]`},
		{"/api/v1/query", url.Values{"query": {"count_over_time(vector(1)[1h:])"}, "time": {"1800000000"}}, 200, `"value":[1800000000,"60"]`},
		{"/api/v1/query", url.Values{"query": {"count_over_time(vector(1)[100y:1ms])"}, "time": {"1800000000"}}, 400,
			"subquery vector(1)[100y:1ms] would be evaluated at 3.15e+12 steps, more than the limit of 1000000"},
		{"/api/v1/query", url.Values{"query": {"max_over_time(count_over_time(vector(1)[2d:1m])[700d:1d])"}}, 400,
			"subquery vector(1)[2d:1m] would be evaluated at 1.01e+06 steps"},
		{"/api/v1/query", url.Values{"query": {"sum(rate(x[5m])) + count_over_time(vector(1)[1d:1s])"}}, 200, `"resultType":"vector"`},
		{"/api/v1/query_range", url.Values{"query": {"count_over_time(vector(1)[1d:1s])"}, "start": {"0"}, "end": {"1000000"}, "step": {"1000"}}, 400,
			"would be evaluated at 1.09e+06 steps"},
		{"/api/v1/query_range", url.Values{"query": {"count_over_time(vector(1)[1m:1s])"}, "start": {"1970-01-01T00:00:00Z"}, "end": {"1970-01-01T01:00:00Z"}, "step": {"60"}}, 200, `"resultType":"matrix"`},
	} {
		r := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.params.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		start := time.Now()
		a.ServeHTTP(w, r)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s %v: %d %s; want %d and %q", tc.path, tc.params, w.Code, w.Body.String(), tc.code, tc.want)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s: not JSON", tc.path)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s %v took %s", tc.path, tc.params, d)
		}
	}
}
