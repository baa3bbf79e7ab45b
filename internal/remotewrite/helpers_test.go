package remotewrite

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/trainwatch/trainwatch/internal/store"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// newLogger returns a logger writing to the test log and to a buffer.
func newLogger(t testing.TB) (*slog.Logger, *testenv.LogBuffer) {
	lb := &testenv.LogBuffer{}
	return slog.New(slog.NewTextHandler(io.MultiWriter(lb, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// point is one sample as the test sees it.
type point struct {
	T int64
	V float64
}

// ticker makes synthetic ticks of nSeries series: half counters, half
// gauges, with deterministic values.
type ticker struct {
	series []labels.Labels
	n      int
	batch  []store.Appended
	// sent remembers every sample enqueued, by series index.
	sent [][]point
}

func newTicker(nSeries int, extra ...string) *ticker {
	tk := &ticker{}
	for i := range nSeries {
		name := "rwtest_gauge"
		if i%2 == 0 {
			name = "rwtest_counter_total"
		}
		lbls := append([]string{"__name__", name, "instance", "host:9835", "job", "trainwatch", "idx", fmt.Sprint(i)}, extra...)
		tk.series = append(tk.series, labels.FromStrings(lbls...))
	}
	tk.sent = make([][]point, nSeries)
	return tk
}

// tick returns the samples of the next tick at time t (ms).
func (tk *ticker) tick(t int64) []store.Appended {
	tk.n++
	tk.batch = tk.batch[:0]
	for i, ls := range tk.series {
		v := float64(tk.n*(i+1)) + float64(i)/7
		if i%2 == 1 {
			v = math.Sin(float64(tk.n+i)) * 1e3
		}
		tk.batch = append(tk.batch, store.Appended{Labels: ls, T: t, V: v})
		tk.sent[i] = append(tk.sent[i], point{t, v})
	}
	return tk.batch
}

// want returns what a receiver should hold: every sample sent, by series
// (with the external labels ext added where the series lacks them), from
// the first'th sample of each series on.
func (tk *ticker) want(ext map[string]string, first int) map[string][]point {
	out := make(map[string][]point, len(tk.series))
	for i, ls := range tk.series {
		b := labels.NewBuilder(ls)
		for k, v := range ext {
			if !ls.Has(k) {
				b.Set(k, v)
			}
		}
		if first < len(tk.sent[i]) {
			out[b.Labels().String()] = tk.sent[i][first:]
		}
	}
	return out
}

// receiver is an in-process remote write receiver that decodes requests
// and records every sample. status, when set, chooses the HTTP status of
// each request (its number counts from 1); samples are recorded only when
// it returns 2xx.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	got    map[string][]point
	order  []string // series in arrival order (first sample)
	reqs   int
	status func(n int) int
	hdrs   http.Header
	maxReq int // most samples in one request
}

func newReceiver(t testing.TB, status func(n int) int) *receiver {
	r := &receiver{t: t, got: make(map[string][]point), status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs++
	r.hdrs = req.Header.Clone()
	code := http.StatusNoContent
	if r.status != nil {
		code = r.status(r.reqs)
	}
	if code/100 != 2 {
		http.Error(w, fmt.Sprintf("test receiver says %d", code), code)
		return
	}
	if req.Header.Get("Content-Encoding") != "snappy" || req.Header.Get("Content-Type") != "application/x-protobuf" ||
		req.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" || !strings.HasPrefix(req.Header.Get("User-Agent"), "trainwatch/") {
		r.t.Errorf("bad request headers: %v", req.Header)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		r.t.Errorf("snappy: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		r.t.Errorf("protobuf: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	n := 0
	for _, ts := range wr.Timeseries {
		if !sort.SliceIsSorted(ts.Labels, func(i, j int) bool { return ts.Labels[i].Name < ts.Labels[j].Name }) {
			r.t.Errorf("labels not sorted: %v", ts.Labels)
		}
		b := labels.NewScratchBuilder(len(ts.Labels))
		for _, l := range ts.Labels {
			b.Add(l.Name, l.Value)
		}
		key := b.Labels().String()
		for i, s := range ts.Samples {
			if i > 0 && s.Timestamp < ts.Samples[i-1].Timestamp {
				r.t.Errorf("series %s: samples out of order in one request", key)
			}
			if _, ok := r.got[key]; !ok {
				r.order = append(r.order, key)
			}
			r.got[key] = append(r.got[key], point{s.Timestamp, s.Value})
			n++
		}
	}
	r.maxReq = max(r.maxReq, n)
	w.WriteHeader(code)
}

// total returns the number of samples received.
func (r *receiver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.got {
		n += len(p)
	}
	return n
}

// samples returns a copy of what was received.
func (r *receiver) samples() map[string][]point {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]point, len(r.got))
	for k, v := range r.got {
		out[k] = append([]point(nil), v...)
	}
	return out
}

// merge appends what b received after what a received.
func merge(a, b map[string][]point) map[string][]point {
	out := make(map[string][]point, len(a))
	for k, v := range a {
		out[k] = append(out[k], v...)
	}
	for k, v := range b {
		out[k] = append(out[k], v...)
	}
	return out
}

// sameSamples reports the first difference between want and got, comparing
// values bit for bit (NaNs included).
func sameSamples(want, got map[string][]point) error {
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			return fmt.Errorf("series %s: got %d samples, want %d", k, len(g), len(w))
		}
		for i := range w {
			if g[i].T != w[i].T || math.Float64bits(g[i].V) != math.Float64bits(w[i].V) {
				return fmt.Errorf("series %s sample %d: got %v, want %v", k, i, g[i], w[i])
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("unexpected series %s", k)
		}
	}
	return nil
}

// testConfig is a Config sending to url with fast backoff.
func testConfig(url string) Config {
	return Config{
		Name: "test",
		URL:  url,
		Queue: QueueConfig{
			MinBackoff: model.Duration(5 * time.Millisecond),
			MaxBackoff: model.Duration(50 * time.Millisecond),
		},
	}
}

// startRun runs w.Run until the test ends (or stop is called).
func startRun(t testing.TB, w *Writer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drained waits until w has nothing pending.
func drained(t testing.TB, w *Writer, within time.Duration) {
	t.Helper()
	waitFor(t, within, "the queue to drain", func() bool { return w.Stats().PendingSamples == 0 })
}
