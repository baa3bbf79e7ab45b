package web

import (
	"cmp"
	"context"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// RequestDurationName is the name of the histogram of request durations.
const RequestDurationName = "trainwatch_http_request_duration_seconds"

// HandlerUnmatched is the handler label of requests that no route
// matched: the ServeMux's own 404, 405 and redirect answers.
const HandlerUnmatched = "unmatched"

// CodeOther is the code label of a handler's status codes beyond the
// first maxCodesPerHandler it answered.
const CodeOther = "other"

// maxCodesPerHandler bounds the status codes kept apart per handler, so
// that the series stay few whatever the handlers answer.
const maxCodesPerHandler = 16

// numBuckets is the number of finite buckets of the histogram.
const numBuckets = 18

// RequestBuckets returns the upper bounds, in seconds, of the histogram's
// finite buckets: fine below 10 ms, so that a 2 ms p99 can be read, and up
// to a minute for queries and profiles.
func RequestBuckets() []float64 {
	return []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

// RequestMetrics records how long the agent's HTTP handler took to answer
// each request, by route and status code, and serves it as the histogram
// trainwatch_http_request_duration_seconds: it is a collector.Collector,
// to be run by the collector runner like any other source, and is given to
// the server as Options.Requests. Recording a request takes a few atomic
// additions and allocates nothing once the (route, code) pair has been
// seen.
type RequestMetrics struct {
	desc   *collector.Desc
	bounds []float64
	// limits are bounds as durations, for observe.
	limits [numBuckets]time.Duration
	// writers are idle statusWriters, so that wrapping a request's
	// ResponseWriter allocates nothing.
	writers sync.Pool
	// unmatched counts the requests no route matched.
	unmatched *handlerStats

	// mu guards handlers, which grows as servers register their routes.
	mu       sync.Mutex
	handlers []*handlerStats
}

// handlerStats is the histograms of one handler label, one per status
// code, in slots taken on first use.
type handlerStats struct {
	name  string
	cells [maxCodesPerHandler]atomic.Pointer[codeStats]
	// other holds the codes past the slots.
	other codeStats
}

// codeStats is one histogram: the (non-cumulative) bucket counts, the last
// one for +Inf, and the sum of the durations.
type codeStats struct {
	status int
	code   string // the label value
	counts [numBuckets + 1]atomic.Uint64
	sumNs  atomic.Int64
}

// NewRequestMetrics returns an empty recorder.
func NewRequestMetrics() *RequestMetrics {
	m := &RequestMetrics{
		desc: collector.NewDesc(RequestDurationName,
			`Time from the agent's HTTP handler receiving a request until it returned, by the route pattern that matched (handler; "unmatched" when none did) and the status code; requests refused for too many in flight (429) or as cross-origin (403) count under the route they asked for.`,
			collector.Histogram, "handler", "code"),
		bounds: RequestBuckets(),
	}
	for i, b := range m.bounds {
		m.limits[i] = time.Duration(math.Round(b * float64(time.Second)))
	}
	m.writers.New = func() any { return new(statusWriter) }
	m.unmatched = m.handler(HandlerUnmatched)
	return m
}

// handler returns the statistics of a handler label, made on first use.
func (m *RequestMetrics) handler(name string) *handlerStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.handlers {
		if h.name == name {
			return h
		}
	}
	h := &handlerStats{name: name, other: codeStats{code: CodeOther}}
	m.handlers = append(m.handlers, h)
	return h
}

// cell returns the histogram of one status code, taking a free slot on
// its first use.
func (h *handlerStats) cell(status int) *codeStats {
	for i := range h.cells {
		c := h.cells[i].Load()
		if c == nil {
			fresh := &codeStats{status: status, code: strconv.Itoa(status)}
			if h.cells[i].CompareAndSwap(nil, fresh) {
				return fresh
			}
			c = h.cells[i].Load()
		}
		if c.status == status {
			return c
		}
	}
	return &h.other
}

// observe records one request.
func (m *RequestMetrics) observe(h *handlerStats, status int, d time.Duration) {
	c := h.cell(status)
	i := 0
	for i < numBuckets && d > m.limits[i] {
		i++
	}
	c.counts[i].Add(1)
	c.sumNs.Add(int64(d))
}

// begin wraps w to see the status code of the request starting now.
func (m *RequestMetrics) begin(w http.ResponseWriter) *statusWriter {
	sw := m.writers.Get().(*statusWriter)
	*sw = statusWriter{ResponseWriter: w, start: time.Now()}
	return sw
}

// end records the request of sw, under the route that marked it (none:
// unmatched), and takes sw back.
func (m *RequestMetrics) end(sw *statusWriter) {
	d := time.Since(sw.start)
	status := sw.status
	if status == 0 {
		status = http.StatusOK // net/http's answer to a handler that wrote nothing
	}
	h := sw.route
	if h == nil {
		h = m.unmatched
	}
	m.observe(h, status, d)
	*sw = statusWriter{}
	m.writers.Put(sw)
}

// Name implements collector.Collector.
func (m *RequestMetrics) Name() string { return "http" }

// Collect implements collector.Collector: one histogram per handler and
// status code that has answered a request.
func (m *RequestMetrics) Collect(_ context.Context, e *collector.Emitter) error {
	type series struct {
		handler string
		c       *codeStats
	}
	var all []series
	m.mu.Lock()
	for _, h := range m.handlers {
		for i := range h.cells {
			if c := h.cells[i].Load(); c != nil {
				all = append(all, series{h.name, c})
			}
		}
		all = append(all, series{h.name, &h.other})
	}
	m.mu.Unlock()
	slices.SortFunc(all, func(a, b series) int {
		return cmp.Or(cmp.Compare(a.handler, b.handler), cmp.Compare(a.c.code, b.c.code))
	})
	for _, s := range all {
		buckets := make([]collector.Bucket, numBuckets)
		var n uint64
		for i := range numBuckets {
			n += s.c.counts[i].Load()
			buckets[i] = collector.Bucket{UpperBound: m.bounds[i], Count: n}
		}
		n += s.c.counts[numBuckets].Load()
		if n == 0 {
			continue
		}
		e.EmitSample(m.desc, collector.Sample{
			LabelValues: []string{s.handler, s.c.code},
			Dist:        &collector.Distribution{Count: n, Sum: time.Duration(s.c.sumNs.Load()).Seconds(), Buckets: buckets},
		})
	}
	return nil
}

// statusWriter is a request's ResponseWriter as the server's handlers see
// it: it remembers the status code and which route served the request.
type statusWriter struct {
	http.ResponseWriter
	start  time.Time
	status int
	// route is set by the route's wrapper (see (*Server).handle), or by
	// a refusal, to the handler label's statistics.
	route *handlerStats
}

// WriteHeader implements http.ResponseWriter; the first final status is
// the one recorded.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom implements io.ReaderFrom, so that files are still sent with
// the underlying writer's own ReadFrom (sendfile).
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

// Flush implements http.Flusher, which event streams and remote read use.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
