package web

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	toolkit "github.com/prometheus/exporter-toolkit/web"
)

// Timeouts of the HTTP server. There is no write timeout: event streams
// last as long as a tab is open, and a query may run for query.timeout.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 1 << 20
)

// ServeOptions configures Serve.
type ServeOptions struct {
	// WebConfigFile is an exporter-toolkit web configuration file (TLS,
	// basic auth); empty: plain HTTP.
	WebConfigFile string
	// Grace is how long a shutdown waits for requests in flight.
	Grace  time.Duration
	Logger *slog.Logger
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout are http.Server's;
	// zero means the defaults above.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
}

// serverLogWriter takes http.Server's log lines: a recovered handler panic
// ("http: panic serving ADDR: VALUE" and its stack) is logged as an error,
// everything else (TLS handshake failures, accept retries, clients that
// sent garbage) at debug level, as it is the client's business.
type serverLogWriter struct{ logger *slog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	if strings.HasPrefix(msg, "http: panic serving") {
		first, stack, _ := strings.Cut(msg, "\n")
		w.logger.Error("a request handler panicked; the request was answered with a closed connection (please report this as a bug)",
			"panic", strings.TrimPrefix(first, "http: "), "stack", stack)
		return len(p), nil
	}
	w.logger.Debug(msg, "component", "http")
	return len(p), nil
}

// Listen opens the agent's TCP listener.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves s on ln with its web configuration file until ctx ends,
// then shuts down gracefully within grace. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	return Serve(ctx, ln, s, ServeOptions{WebConfigFile: s.opts.WebConfigFile, Grace: grace, Logger: s.opts.Logger})
}

// Serve serves h on ln through exporter-toolkit (which applies the web
// configuration file: TLS, basic auth, headers, re-read as it does) until
// ctx ends, then shuts down gracefully within o.Grace. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o ServeOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(o.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(o.ReadTimeout, DefaultReadTimeout),
		IdleTimeout:       orDefault(o.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		// TLS handshake failures and the like are the client's business
		// (debug); a handler's panic is the agent's (error).
		ErrorLog: log.New(serverLogWriter{o.Logger}, "", 0),
	}
	file := o.WebConfigFile
	errc := make(chan error, 1)
	go func() {
		errc <- toolkit.Serve(ln, srv, &toolkit.FlagConfig{WebConfigFile: &file}, o.Logger.With("component", "web"))
	}()
	select {
	case err := <-errc:
		_ = ln.Close()
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.Grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down HTTP server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	o.Logger.Info("HTTP server stopped")
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
