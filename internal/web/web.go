// Package web serves the agent's HTTP surface: /metrics from the cached
// snapshot, health and readiness endpoints, and the JSON API.
package web

import (
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
)

// Source is where the server gets the latest collected state.
type Source interface {
	Latest() *agent.State
	Ready() bool
}

// Options configures the server.
type Options struct {
	// Summarize turns the latest two snapshots into the typed JSON document
	// served at /api/v1/snapshot.
	Summarize func(prev, cur *collector.Snapshot) any
	Logger    *slog.Logger
	// Version is shown on the index page.
	Version string
	// API, when set, serves the Prometheus HTTP API under /api/v1/.
	API http.Handler
	// Pprof serves Go's profiling endpoints under /debug/pprof/. They are
	// restricted as writes are: they show the command line and cost CPU.
	Pprof bool
	// Extra returns families served on /metrics after the tick's (pushed
	// groups) and a generation that changes whenever they do. They are not
	// part of the snapshot, so they are not stored twice.
	Extra func() ([]*collector.Family, uint64)
	// Routes are further handlers (runs API, pushes). Those marked Writes
	// answer only clients on this machine (loopback) until authentication
	// is configured.
	Routes []Route
	// WebConfigFile is an exporter-toolkit web configuration file (TLS,
	// basic auth, extra headers), re-read on every request as
	// exporter-toolkit does. It is applied by (*Server).Serve; serving the
	// handler any other way applies none of it. Empty: plain HTTP without
	// authentication.
	WebConfigFile string
	// MaxRequestsInFlight bounds the requests served at once; one more is
	// answered 429 with Retry-After. The health endpoints and the
	// dashboard's event streams (bounded on their own) do not count.
	// Default DefaultMaxRequestsInFlight.
	MaxRequestsInFlight int
	// MaxBodyBytes bounds the body of a request to a route without a limit
	// of its own (413 beyond). Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Requests, when set, records every request the server answers in
	// trainwatch_http_request_duration_seconds; run it as a collector so
	// that /metrics serves it.
	Requests *RequestMetrics
}

// Defaults of Options.
const (
	DefaultMaxRequestsInFlight = 256
	DefaultMaxBodyBytes        = 1 << 20
	// OwnBodyLimit as a Route's MaxBodyBytes says that the handler bounds
	// its body itself (pushes, the runs API), with its own 413.
	OwnBodyLimit = -1
)

// Route is one extra handler with its ServeMux pattern.
type Route struct {
	Pattern string
	Handler http.Handler
	// Writes marks a route that changes state: it answers other machines
	// only when authentication is configured.
	Writes bool
	// MaxBodyBytes bounds the request body (413 beyond): 0 means
	// Options.MaxBodyBytes, OwnBodyLimit that the handler bounds it.
	MaxBodyBytes int64
}

// Server is the agent's HTTP handler.
type Server struct {
	src      Source
	opts     Options
	mux      *http.ServeMux
	inflight chan struct{}
	csrf     *http.CrossOriginProtection
	// routes are the request statistics of each pattern (nil values
	// without Options.Requests); written by New only.
	routes map[string]*handlerStats

	mergedMu  sync.Mutex
	merged    mergedCache
	mergedEnc *exposition.Encoder
}

// mergedCache is the /metrics cache of a snapshot merged with the extra
// families of one generation.
type mergedCache struct {
	snap  *collector.Snapshot
	gen   uint64
	cache *exposition.Cache
}

// cacheFor returns the exposition cache to serve for st: the tick's own, or
// the tick's merged with the extra families.
func (s *Server) cacheFor(st *agent.State) *exposition.Cache {
	if s.opts.Extra == nil {
		return st.Cache
	}
	extra, gen := s.opts.Extra()
	if len(extra) == 0 {
		return st.Cache
	}
	s.mergedMu.Lock()
	defer s.mergedMu.Unlock()
	if s.merged.snap != st.Snapshot || s.merged.gen != gen || s.merged.cache == nil {
		s.merged = mergedCache{snap: st.Snapshot, gen: gen,
			cache: s.mergedEnc.NewCache(collector.MergeFamilies(st.Snapshot.Families, extra))}
	}
	return s.merged.cache
}

// New returns the handler. Serve it with (*Server).Serve, which applies
// Options.WebConfigFile.
func New(src Source, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRequestsInFlight <= 0 {
		opts.MaxRequestsInFlight = DefaultMaxRequestsInFlight
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{src: src, opts: opts, mux: http.NewServeMux(), mergedEnc: exposition.NewEncoder(nil),
		inflight: make(chan struct{}, opts.MaxRequestsInFlight), csrf: http.NewCrossOriginProtection(),
		routes: make(map[string]*handlerStats)}
	s.handle(Route{Pattern: "/metrics", Handler: getOnly(s.metrics)})
	s.handle(Route{Pattern: "/-/healthy", Handler: getOnly(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "trainwatch is Healthy.")
	})})
	s.handle(Route{Pattern: "/-/ready", Handler: getOnly(s.ready)})
	s.handle(Route{Pattern: "/api/v1/snapshot", Handler: getOnly(s.snapshot)})
	hasIndex := false
	for _, r := range opts.Routes {
		hasIndex = hasIndex || r.Pattern == "/"
	}
	if !hasIndex {
		s.handle(Route{Pattern: "GET /{$}", Handler: http.HandlerFunc(s.index)})
	}
	if opts.API != nil {
		s.handle(Route{Pattern: "/api/v1/", Handler: opts.API})
	} else {
		// Without the Prometheus API (no history), a path under /api/v1/
		// that no route serves still answers in the API's JSON format.
		s.handle(Route{Pattern: "/api/v1/", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSONError(w, http.StatusNotFound, "not_found", "404 page not found: no endpoint of the agent serves "+r.Method+" "+r.URL.Path+" (the Prometheus API is off: the agent keeps no history)")
		})})
	}
	for _, r := range opts.Routes {
		s.handle(r)
	}
	if opts.Pprof {
		for p, h := range map[string]http.HandlerFunc{
			"/debug/pprof/": pprof.Index, "/debug/pprof/cmdline": pprof.Cmdline, "/debug/pprof/profile": pprof.Profile,
			"/debug/pprof/symbol": pprof.Symbol, "/debug/pprof/trace": pprof.Trace,
		} {
			s.handle(Route{Pattern: p, Handler: h, Writes: true})
		}
	}
	s.methodFallbacks()
	return s
}

// methodFallbacks registers, for every path served only by method-bound
// patterns ("GET /api/v1/runs"), the path alone, answering 405 with the
// Allow header. Without it a request with another method (DELETE
// /api/v1/runs) fell through to a catch-all such as the Prometheus API
// under /api/v1/ and got its 404 "not found", which hides that the path
// exists and tells nothing of the methods it takes.
func (s *Server) methodFallbacks() {
	allow := map[string][]string{}
	var paths []string
	for pattern := range s.routes {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok || method == "" || strings.ToUpper(method) != method || strings.HasSuffix(path, "/") {
			continue // no method, or a subtree, whose 405 ServeMux gives
		}
		if _, ok := s.routes[path]; ok {
			continue // the path has a handler for every method already
		}
		if len(allow[path]) == 0 {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], method)
		if method == http.MethodGet {
			allow[path] = append(allow[path], http.MethodHead)
		}
	}
	slices.Sort(paths)
	for _, path := range paths {
		methods := allow[path]
		slices.Sort(methods)
		methods = slices.Compact(methods)
		list := strings.Join(methods, ", ")
		s.handle(Route{Pattern: path, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", list)
			writeJSONError(w, http.StatusMethodNotAllowed, "bad_data", fmt.Sprintf(
				"%s %s: this endpoint takes %s", r.Method, r.URL.Path, list))
		})})
	}
}

// handle registers a route behind its body limit and, for writes, the
// write check, and marks its requests with the route's statistics. The
// Origin header is removed before the handler runs, so that no handler
// (Prometheus' API, the fleet forwarder) answers with CORS headers: the
// agent serves no other origin.
func (s *Server) handle(r Route) {
	var stats *handlerStats
	if s.opts.Requests != nil {
		stats = s.opts.Requests.handler(r.Pattern)
	}
	s.routes[r.Pattern] = stats
	h := r.Handler
	limit := r.MaxBodyBytes
	if limit == 0 {
		limit = s.opts.MaxBodyBytes
	}
	setting := ""
	if r.MaxBodyBytes == 0 {
		setting = " (web.max_body_bytes)"
	}
	writes := r.Writes
	s.mux.Handle(r.Pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if sw, ok := w.(*statusWriter); ok {
			sw.route = stats
		}
		if writes {
			if msg := s.writeRefusal(req); msg != "" {
				writeJSONError(w, http.StatusForbidden, "forbidden", msg)
				return
			}
		}
		req.Header.Del("Origin")
		if limit > 0 {
			if req.ContentLength > limit {
				writeJSONError(w, http.StatusRequestEntityTooLarge, "bad_data", fmt.Sprintf(
					"the request body is %d bytes; %s accepts at most %d%s: send less per request", req.ContentLength, req.URL.Path, limit, setting))
				return
			}
			if req.Body != nil && req.Body != http.NoBody {
				req.Body = http.MaxBytesReader(w, req.Body, limit)
			}
		}
		h.ServeHTTP(w, req)
	}))
}

// ServeHTTP implements http.Handler: security headers, the bound on
// requests in flight and the cross-origin check, then the routes; with
// Options.Requests, the time until it returns is recorded. A handler that
// panics is not recorded.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := s.opts.Requests
	if m == nil {
		s.serve(w, r)
		return
	}
	sw := m.begin(w)
	s.serve(sw, r)
	m.end(sw)
}

// refused marks a request refused before routing (429, cross-origin) with
// the statistics of the route it asked for.
func (s *Server) refused(w http.ResponseWriter, r *http.Request) {
	if sw, ok := w.(*statusWriter); ok {
		_, pattern := s.mux.Handler(r)
		sw.route = s.routes[pattern]
	}
}

// serve is ServeHTTP without the recording.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// A header the web configuration file set (http_server_config.headers)
	// is kept.
	if h.Get("X-Content-Type-Options") == "" {
		h.Set("X-Content-Type-Options", "nosniff")
	}
	if h.Get("X-Frame-Options") == "" {
		h.Set("X-Frame-Options", "DENY")
	}
	if !unbounded(r.URL.Path) {
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
		default:
			s.refused(w, r)
			h.Set("Retry-After", "1")
			writeJSONError(w, http.StatusTooManyRequests, "unavailable", fmt.Sprintf(
				"too many requests in flight: the agent serves at most %d at once (web.max_requests_in_flight); retry in a second", cap(s.inflight)))
			return
		}
	}
	if err := s.csrf.Check(r); err != nil {
		s.refused(w, r)
		writeJSONError(w, http.StatusForbidden, "forbidden",
			"cross-origin request refused: a web page of another site may not send "+r.Method+" requests to this agent ("+err.Error()+")")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// getOnly answers 405 to methods other than GET and HEAD.
func getOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "bad_data", fmt.Sprintf("%s %s: this endpoint only reads; use GET", r.Method, r.URL.Path))
			return
		}
		h(w, r)
	})
}

// unbounded reports the paths that the bound on requests in flight leaves
// alone: the health endpoints, which probes must reach under load, and the
// dashboard's event streams, which last as long as a tab is open and are
// bounded on their own.
func unbounded(path string) bool {
	switch path {
	case "/-/healthy", "/-/ready", "/api/ui/events":
		return true
	}
	return false
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.src.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "trainwatch is not ready: the first collection has not finished.")
		return
	}
	fmt.Fprintln(w, "trainwatch is Ready.")
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	st := s.src.Latest()
	if st == nil {
		http.Error(w, "no metrics yet: the first collection has not finished", http.StatusServiceUnavailable)
		return
	}
	// The two text formats only; a protobuf-preferring scraper gets text.
	format := expfmt.NegotiateAccept(r.Header, expfmt.NewFormat(expfmt.TypeOpenMetrics), expfmt.NewFormat(expfmt.TypeTextPlain))
	gz := AcceptsGzip(r)
	body, err := s.cacheFor(st).Bytes(format, gz)
	if err != nil {
		s.opts.Logger.Error("encoding metrics", "err", err)
		http.Error(w, "encoding metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(format))
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Vary", "Accept, Accept-Encoding")
	_, _ = w.Write(body)
}

// AcceptsGzip reports whether the request accepts a gzip-encoded answer.
func AcceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

func (s *Server) snapshot(w http.ResponseWriter, _ *http.Request) {
	st := s.src.Latest()
	if st == nil {
		writeJSONError(w, http.StatusServiceUnavailable, "unavailable", "no snapshot yet: the first collection has not finished")
		return
	}
	if s.opts.Summarize == nil {
		writeJSONError(w, http.StatusNotImplemented, "not_implemented", "this server has no snapshot view")
		return
	}
	writeJSON(w, http.StatusOK, s.opts.Summarize(st.Prev, st.Snapshot))
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	banner := ""
	if st := s.src.Latest(); st != nil {
		if f := st.Snapshot.Family("trainwatch_demo"); f != nil && len(f.Samples) > 0 {
			banner = `<p style="background:#fde68a;padding:.5em;font-weight:bold">DEMO MODE: the GPU data is simulated (` +
				html.EscapeString(f.Label(0, "scenario")) + `). Host metrics are real.</p>`
		}
	}
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>trainwatch</title></head>
<body>%s<h1>trainwatch %s</h1><ul>
<li><a href="metrics">/metrics</a>: Prometheus exposition of the latest tick</li>
<li><a href="api/v1/snapshot">/api/v1/snapshot</a>: latest values as JSON, rates computed</li>
<li><a href="-/healthy">/-/healthy</a>, <a href="-/ready">/-/ready</a></li>
</ul></body></html>
`, banner, html.EscapeString(s.opts.Version))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, kind, msg string) {
	writeJSON(w, code, map[string]string{"status": "error", "errorType": kind, "error": msg})
}
