package push

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/store"
)

const (
	ctText     = "text/plain; version=0.0.4; charset=utf-8"
	ctOM       = "application/openmetrics-text; version=1.0.0; charset=utf-8"
	ctProto    = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
	testEpoch  = 1_800_000_000
	testPrefix = "http://agent:9100"
)

// env is a Gateway writing into a real store, with a fake clock and the
// events it sent.
type env struct {
	t  testing.TB
	st *store.Store
	gw *Gateway

	mu     sync.Mutex
	now    time.Time
	events []Event
}

// reservedForTest reserves names like the agent does.
func reservedForTest(name string) bool {
	for _, p := range []string{"node_", "DCGM_", "process_", "namedprocess_", "go_", "scrape_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	if strings.HasPrefix(name, "trainwatch_") && !strings.HasPrefix(name, "trainwatch_run_") {
		return true
	}
	return name == "up"
}

func newEnv(t testing.TB, mod ...func(*Options)) *env {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), Instance: "x:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &env{t: t, st: st, now: time.Unix(testEpoch, 0)}
	o := Options{
		Now:      e.clock,
		Append:   st.Append,
		Reserved: reservedForTest,
		OnPush: func(ev Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
	}
	for _, m := range mod {
		m(&o)
	}
	e.gw = New(o)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
	return e.now
}

// do sends a request to the gateway; hdr holds header name/value pairs.
func (e *env) do(method, path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if body == nil {
		r = httptest.NewRequest(method, testPrefix+path, nil)
	} else {
		r = httptest.NewRequest(method, testPrefix+path, bytes.NewReader(body))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.gw.ServeHTTP(w, r)
	return w
}

// push sends a body and fails the test unless the answer is want.
func (e *env) push(method, path, ct string, body string, want int) *httptest.ResponseRecorder {
	e.t.Helper()
	w := e.do(method, path, []byte(body), "Content-Type", ct)
	if w.Code != want {
		e.t.Fatalf("%s %s: got %d %q, want %d", method, path, w.Code, w.Body.String(), want)
	}
	return w
}

type point struct {
	T int64
	V float64
}

// stored returns every stored series matching the matchers (name=value
// equality pairs), keyed by its label set's String.
func (e *env) stored(pairs ...string) map[string][]point {
	e.t.Helper()
	q, err := e.st.Queryable().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		e.t.Fatal(err)
	}
	defer q.Close()
	var ms []*labels.Matcher
	for i := 0; i+1 < len(pairs); i += 2 {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, pairs[i], pairs[i+1]))
	}
	if len(ms) == 0 {
		ms = append(ms, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	}
	ss := q.Select(context.Background(), true, nil, ms...)
	out := make(map[string][]point)
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		var pts []point
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			pts = append(pts, point{t, v})
		}
		out[s.Labels().String()] = pts
	}
	if err := ss.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// last returns the last stored value of every series matching pairs.
func (e *env) last(pairs ...string) map[string]float64 {
	out := make(map[string]float64)
	for k, pts := range e.stored(pairs...) {
		out[k] = pts[len(pts)-1].V
	}
	return out
}

// text returns the gateway's exposition in the text format.
func (e *env) text() string {
	b, err := exposition.Text(e.gw.Families())
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) eventsCopy() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}

// ser formats a label set the way labels.Labels.String does.
func ser(pairs ...string) string { return labels.FromStrings(pairs...).String() }

func isStale(v float64) bool { return value.IsStaleNaN(v) }

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func protoBody(t testing.TB, mfs ...*dto.MetricFamily) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := protodelim.MarshalTo(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func lp(name, value string) *dto.LabelPair { return &dto.LabelPair{Name: &name, Value: &value} }

func ptr[T any](v T) *T { return &v }

// sameValues compares two value maps, NaN equal to NaN.
func sameValues(t testing.TB, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing series %s", k)
		case math.IsNaN(w) && !math.IsNaN(g), !math.IsNaN(w) && g != w:
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s = %v", k, g)
		}
	}
}
