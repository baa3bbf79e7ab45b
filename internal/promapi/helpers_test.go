package promapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/store"
)

// testInstance is the instance label the test stores put on every series.
const testInstance = "node1:9400"

// openStore opens a store in dir (a fresh temporary directory when empty)
// and closes it when the test ends.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(store.Options{Dir: dir, Instance: testInstance})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	return st
}

// newAPI builds the API over o.Store and serves it from an httptest server
// that is closed when the test ends.
func newAPI(t testing.TB, o Options) (*API, *httptest.Server) {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

// gaugeSample is one sample of family: its label values and value.
type gaugeSample struct {
	labels []string
	value  float64
}

// consumeTicks writes n ticks, every step apart from start, of the families
// made by fams(i) into st.
func consumeTicks(t testing.TB, st *store.Store, start time.Time, step time.Duration, n int, fams func(i int) []*collector.Family) {
	t.Helper()
	for i := range n {
		st.Consume(context.Background(), &collector.Snapshot{Time: start.Add(time.Duration(i) * step), Families: fams(i)})
	}
	if s := st.Stats(); s.AppendErrors() != 0 {
		t.Fatalf("store rejected samples: %+v", s)
	}
}

// family builds a gauge or counter family.
func family(name string, typ collector.ValueType, labelNames []string, samples ...gaugeSample) *collector.Family {
	f := &collector.Family{Desc: collector.NewDesc(name, name+" help.", typ, labelNames...)}
	for _, s := range samples {
		f.Samples = append(f.Samples, collector.Sample{LabelValues: s.labels, Value: s.value})
	}
	return f
}

// q builds request parameters from name, value pairs.
func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// apiResponse is one HTTP answer: status code, headers, body and the body
// decoded as JSON (numbers kept as json.Number, so that their text is
// compared exactly).
type apiResponse struct {
	code   int
	header http.Header
	body   []byte
	json   map[string]any
}

// str returns a top-level string field of the JSON body.
func (r apiResponse) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

// call sends one request to base+path: GET with params in the URL, or POST
// (or another method) with params as a form body. A body must be a JSON
// object.
func call(t testing.TB, base, method, path string, params url.Values, header http.Header) apiResponse {
	t.Helper()
	r, err := send(base, method, path, params, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is call for goroutines other than the test's: it returns its error.
func send(base, method, path string, params url.Values, header http.Header) (apiResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, body := base+path, ""
	if method == http.MethodGet {
		if len(params) > 0 {
			u += "?" + params.Encode()
		}
	} else {
		body = params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return apiResponse{}, err
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResponse{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	r := apiResponse{code: resp.StatusCode, header: resp.Header, body: b}
	if len(bytes.TrimSpace(b)) > 0 {
		if r.json, err = decodeObject(b); err != nil {
			return r, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return r, nil
}

// decodeObject decodes a JSON object, keeping numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %w\n%s", err, b)
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON object:\n%s", b)
	}
	return m, nil
}

// wantSuccess fails the test unless r is a 200 Prometheus success envelope,
// and returns its data field.
func wantSuccess(t testing.TB, what string, r apiResponse) any {
	t.Helper()
	if r.code != http.StatusOK || r.str("status") != "success" {
		t.Fatalf("%s: got %d %s, want 200 success", what, r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	data, ok := r.json["data"]
	if !ok {
		t.Fatalf("%s: no data field: %s", what, r.body)
	}
	return data
}

// wantError fails the test unless r is Prometheus' error envelope with the
// given status code and errorType and an error message containing substr.
func wantError(t testing.TB, what string, r apiResponse, code int, errorType, substr string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: status %d, want %d (%s)", what, r.code, code, r.body)
	}
	if r.str("status") != "error" || r.str("errorType") != errorType {
		t.Errorf("%s: got status %q errorType %q, want error/%s (%s)", what, r.str("status"), r.str("errorType"), errorType, r.body)
	}
	if msg := r.str("error"); !strings.Contains(msg, substr) {
		t.Errorf("%s: error %q does not contain %q", what, msg, substr)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}
