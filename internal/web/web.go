// Package web serves the agent's HTTP surface: /metrics from the cached
// snapshot, health and readiness endpoints, and the JSON API.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

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
	// Pprof serves Go's profiling endpoints under /debug/pprof/.
	Pprof bool
	// Extra returns families served on /metrics after the tick's (pushed
	// groups) and a generation that changes whenever they do. They are not
	// part of the snapshot, so they are not stored twice.
	Extra func() ([]*collector.Family, uint64)
	// Routes are further handlers (runs API, pushes). Those marked Writes
	// answer only clients on this machine (loopback) until authentication
	// is configured.
	Routes []Route
}

// Route is one extra handler with its ServeMux pattern.
type Route struct {
	Pattern string
	Handler http.Handler
	Writes  bool
}

// Server is the agent's HTTP handler.
type Server struct {
	src  Source
	opts Options
	mux  *http.ServeMux

	mergedMu sync.Mutex
	merged   mergedCache
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
			cache: exposition.NewCache(collector.MergeFamilies(st.Snapshot.Families, extra))}
	}
	return s.merged.cache
}

// New returns the handler.
func New(src Source, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{src: src, opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /metrics", s.metrics)
	s.mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "trainwatch is Healthy.")
	})
	s.mux.HandleFunc("GET /-/ready", s.ready)
	s.mux.HandleFunc("GET /api/v1/snapshot", s.snapshot)
	hasIndex := false
	for _, r := range opts.Routes {
		hasIndex = hasIndex || r.Pattern == "/"
	}
	if !hasIndex {
		s.mux.HandleFunc("GET /{$}", s.index)
	}
	if opts.API != nil {
		s.mux.Handle("/api/v1/", opts.API)
	}
	for _, r := range opts.Routes {
		h := r.Handler
		if r.Writes {
			h = LocalWritesOnly(h)
		}
		s.mux.Handle(r.Pattern, h)
	}
	if opts.Pprof {
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return s
}

// LocalWritesOnly refuses requests from other machines with 403: endpoints
// that change state (pushes, run registration) must not be open to the
// network without authentication.
func LocalWritesOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || !ip.IsLoopback() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"status":"error","error":%q}`+"\n",
				"writes are accepted only from this machine (loopback) until authentication is configured; push from the training host itself, or through an SSH tunnel")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
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

// ListenAndServe serves h on addr until ctx ends, then shuts down gracefully
// within the given grace period. ready, when non-nil, receives the bound
// address once listening.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, grace time.Duration, logger *slog.Logger, ready func(net.Addr)) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return Serve(ctx, ln, h, grace, logger)
}

// Listen opens the agent's TCP listener.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx ends, then shuts down gracefully within
// grace. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, logger *slog.Logger) error {
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down HTTP server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	logger.Info("HTTP server stopped")
	return nil
}
