// Package promapi serves the Prometheus HTTP API (/api/v1/...) over the
// agent's embedded TSDB with Prometheus' own PromQL engine and API handlers,
// so that Grafana, promtool and any Prometheus client can use the agent as a
// Prometheus data source and get byte-for-byte the answers Prometheus gives.
//
// What a scraping Prometheus server knows from its targets (metric metadata)
// comes from the agent's collectors instead; what the agent does not do
// (scraping, remote-write receiving, admin writes) answers as an empty or
// disabled Prometheus would.
package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/route"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/util/features"
	"github.com/prometheus/prometheus/util/notifications"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/store"
	"github.com/trainwatch/trainwatch/internal/subquery"
)

// Defaults for Options.
const (
	DefaultTimeout       = 2 * time.Minute
	DefaultMaxSamples    = 50_000_000
	DefaultMaxConcurrent = 20
	DefaultLookbackDelta = 5 * time.Minute
	// concurrencyWait is how long a query waits for a free slot before it
	// is refused with 429.
	concurrencyWait = 2 * time.Second
)

// Metadata is one metric family's type, help and unit, as served by
// /api/v1/metadata.
type Metadata struct {
	Name string
	Type model.MetricType
	Help string
	Unit string
}

// Options configures the API.
type Options struct {
	// Store is the embedded TSDB the API reads.
	Store *store.Store
	// Logger receives the engine's and the API's logs.
	Logger *slog.Logger
	// Timeout bounds each query's evaluation (Prometheus' --query.timeout).
	Timeout time.Duration
	// MaxSamples bounds the samples a query may hold in memory at once
	// (Prometheus' --query.max-samples); a query that needs more fails with
	// 422 and a message.
	MaxSamples int
	// MaxConcurrent bounds the queries evaluated at once; a query that finds
	// no free slot within 2 s is refused with 429.
	MaxConcurrent int
	// LookbackDelta is how far back an instant selector looks for a sample.
	LookbackDelta time.Duration
	// Metadata returns the metric families the agent currently collects.
	Metadata func() []Metadata
	// Rules returns the rule groups and alerting rules for /api/v1/rules and
	// /api/v1/alerts; nil serves empty lists.
	Rules func(context.Context) v1.RulesRetriever
	// Alertmanagers returns the Alertmanagers alerts go to, for
	// /api/v1/alertmanagers; nil serves an empty list.
	Alertmanagers func(context.Context) v1.AlertmanagerRetriever
	// ListenAddress is the agent's listen address (shown by status calls).
	ListenAddress string
	// Flags are shown by /api/v1/status/flags.
	Flags map[string]string
	// Version is trainwatch's version, reported in /api/v1/status/buildinfo's
	// branch field ("trainwatch-VERSION"); the version field carries the
	// Prometheus release whose engine answers, which is what Grafana uses to
	// decide which API features it may call.
	Version, Revision, BuildDate string
}

// API is the Prometheus HTTP API handler.
type API struct {
	opts    Options
	engine  *promql.Engine
	parser  parser.Parser
	router  *route.Router
	slots   chan struct{}
	started time.Time
}

// New builds the API over o.Store.
func New(o Options) (*API, error) {
	if o.Store == nil {
		return nil, errors.New("promapi: no store given")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = DefaultLookbackDelta
	}
	if o.Metadata == nil {
		o.Metadata = func() []Metadata { return nil }
	}
	if o.Flags == nil {
		o.Flags = map[string]string{} // Prometheus answers an object, never null
	}
	p := parser.NewParser(parser.Options{})
	engine := NewEngine(EngineOptions{Logger: o.Logger.With("component", "query engine"), Parser: p,
		MaxSamples: o.MaxSamples, Timeout: o.Timeout, LookbackDelta: o.LookbackDelta})
	a := &API{
		opts:    o,
		engine:  engine,
		parser:  p,
		slots:   make(chan struct{}, o.MaxConcurrent),
		started: time.Now(),
	}
	ams := o.Alertmanagers
	if ams == nil {
		ams = func(context.Context) v1.AlertmanagerRetriever { return noAlertmanagers{} }
	}
	rr := o.Rules
	if rr == nil {
		rr = func(context.Context) v1.RulesRetriever { return noRules{} }
	}
	db := o.Store.DB()
	reg := prometheus.NewRegistry()
	api := v1.NewAPI(
		engine,
		db,
		nil, // no appender: the agent is not a remote-write receiver
		db,
		func(context.Context) v1.ScrapePoolsRetriever { return noTargets{} },
		func(context.Context) v1.TargetRetriever { return noTargets{} },
		ams,
		func() config.Config { return config.DefaultConfig },
		o.Flags,
		v1.GlobalURLOptions{ListenAddress: o.ListenAddress, Host: o.ListenAddress, Scheme: "http"},
		func(f http.HandlerFunc) http.HandlerFunc { return f },
		o.Store.Admin(),
		o.Store.Dir(),
		false, // admin API (deletes, snapshots) off
		false, // experimental search endpoints off
		0,
		o.Logger.With("component", "api"),
		rr,
		0, 1, 1<<20, // remote read: sample limit, concurrency, frame bytes
		false,
		regexp.MustCompile(`^$`), // no CORS: an Origin header never matches
		a.runtimeInfo,
		a.buildInfo(),
		func() []notifications.Notification { return []notifications.Notification{} },
		func() (<-chan notifications.Notification, func(), bool) { return nil, func() {}, false },
		reg,
		reg,
		nil,
		false, nil, // remote-write receiver off
		false, false, false, // OTLP receiver off
		o.LookbackDelta,
		false, false,
		nil,
		featureRegistry(p),
		v1.OpenAPIOptions{Version: a.buildInfo().Version},
		p,
		false,
		o.Timeout,
	)
	a.router = route.New()
	api.Register(a.router.WithPrefix("/api/v1"))
	return a, nil
}

// featureRegistry lists the PromQL features this engine has, for
// /api/v1/features (which the Prometheus 3 UI and tools read).
func featureRegistry(p parser.Parser) features.Collector {
	r := features.NewRegistry()
	p.RegisterFeatures(r)
	return r
}

// InFlight returns how many queries are being evaluated now.
func (a *API) InFlight() int { return len(a.slots) }

// Engine returns the PromQL engine, for the rule manager.
func (a *API) Engine() *promql.Engine { return a.engine }

// limited reports whether path evaluates queries or walks the index, and so
// shares the concurrency limit.
func limited(path string) bool {
	switch path {
	case "/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
		"/api/v1/query_exemplars", "/api/v1/read":
		return true
	}
	return strings.HasPrefix(path, "/api/v1/label/")
}

// ServeHTTP serves /api/v1/...
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/v1/metadata" {
		a.metadata(w, r)
		return
	}
	if limited(r.URL.Path) {
		t := time.NewTimer(concurrencyWait)
		select {
		case a.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			writeError(w, http.StatusTooManyRequests, "unavailable", fmt.Sprintf(
				"too many concurrent queries: %d are running (query.max_concurrency); retry later or raise the limit", cap(a.slots)))
			return
		case <-r.Context().Done():
			t.Stop()
			return
		}
		defer func() { <-a.slots }()
	}
	if err := a.checkQuery(r); err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	rw := &routerWriter{ResponseWriter: w, r: r}
	a.router.ServeHTTP(rw, r)
	rw.finish()
}

// routerWriter passes the API's answers through, except plain-text 404s
// and 405s, which become Prometheus' JSON error envelope that every client
// of /api/v1 parses: the router's own answers to a path it has no endpoint
// for and to a method an endpoint does not take (it has no hook for them),
// and the handlers' few http.Error answers (remote write is off). Both are
// written with http.Error: a text/plain Content-Type, then one Write of
// the message.
type routerWriter struct {
	http.ResponseWriter
	r     *http.Request
	state int // one of the rw* states
	code  int // the status held back (rwHeld)
}

// The states of a routerWriter.
const (
	rwFresh    = iota // nothing written yet
	rwHeld            // a plain-text 404 or 405 held back until its text comes
	rwReplaced        // the JSON error was written: drop the rest
	rwPassed          // the answer is the handler's: pass it on
)

// WriteHeader implements http.ResponseWriter.
func (w *routerWriter) WriteHeader(code int) {
	switch w.state {
	case rwFresh:
		if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
			strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			w.state, w.code = rwHeld, code
			return
		}
		w.state = rwPassed
		w.ResponseWriter.WriteHeader(code)
	case rwPassed:
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write implements http.ResponseWriter.
func (w *routerWriter) Write(b []byte) (int, error) {
	switch w.state {
	case rwHeld:
		w.replace(strings.TrimSpace(string(b)))
		return len(b), nil
	case rwReplaced:
		return len(b), nil
	}
	w.state = rwPassed
	return w.ResponseWriter.Write(b)
}

// finish writes a held status that no text followed.
func (w *routerWriter) finish() {
	if w.state == rwHeld {
		w.replace("")
	}
}

// replace writes the JSON error for the held status and the handler's
// text: the router's own texts are replaced by ones that say what was
// asked.
func (w *routerWriter) replace(text string) {
	w.state = rwReplaced
	w.Header().Del("Content-Length")
	typ := "not_found"
	if w.code == http.StatusMethodNotAllowed {
		typ = "bad_data"
	}
	switch {
	case w.code == http.StatusNotFound && (text == "404 page not found" || text == ""):
		text = fmt.Sprintf("404 page not found: no endpoint of the agent serves %s %s", w.r.Method, w.r.URL.Path)
	case w.code == http.StatusMethodNotAllowed && (text == http.StatusText(http.StatusMethodNotAllowed) || text == ""):
		text = fmt.Sprintf("method not allowed: %s %s takes only %s", w.r.Method, w.r.URL.Path, w.Header().Get("Allow"))
	}
	writeError(w.ResponseWriter, w.code, typ, text)
}

// Flush implements http.Flusher, which remote read needs.
func (w *routerWriter) Flush() {
	w.finish()
	if w.state == rwFresh {
		w.state = rwPassed
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *routerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkQuery refuses a query or range query whose subqueries would take
// too many steps (see subquery.Check); other requests pass.
func (a *API) checkQuery(r *http.Request) error {
	var span time.Duration
	switch r.URL.Path {
	case "/api/v1/query":
	case "/api/v1/query_range":
		span = querySpan(r.FormValue("start"), r.FormValue("end"))
	default:
		return nil
	}
	return subquery.CheckQuery(a.parser, r.FormValue("query"), span)
}

// EngineOptions are the settings of NewEngine; zero values take the API's
// defaults (DefaultMaxSamples, DefaultTimeout, DefaultLookbackDelta, a new
// parser, no logging).
type EngineOptions struct {
	Logger        *slog.Logger
	Parser        parser.Parser
	MaxSamples    int
	Timeout       time.Duration
	LookbackDelta time.Duration
}

// NewEngine returns a PromQL engine with the agent's settings: @ and
// negative offsets allowed, and a subquery without a step ([1h:]) evaluated
// every subquery.DefaultStep (without that function the engine fails such
// subqueries). The API, `trainwatch query --data-dir` and `trainwatch rules
// test` all evaluate through it, so that a query means the same in each.
func NewEngine(o EngineOptions) *promql.Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Parser == nil {
		o.Parser = parser.NewParser(parser.Options{})
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = DefaultLookbackDelta
	}
	return promql.NewEngine(promql.EngineOpts{
		Logger:                   o.Logger,
		MaxSamples:               o.MaxSamples,
		Timeout:                  o.Timeout,
		LookbackDelta:            o.LookbackDelta,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		Parser:                   o.Parser,
		NoStepSubqueryIntervalFn: subquery.NoStepInterval,
	})
}

// writeError writes Prometheus' error envelope.
func writeError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": typ, "error": msg})
}

// metadata serves /api/v1/metadata from the collectors' descriptions, with
// Prometheus' parameters (metric, limit, limit_per_metric) and shape.
func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "bad_data", "use GET or POST")
		return
	}
	limit, limitPer := -1, -1
	for name, dst := range map[string]*int{"limit": &limit, "limit_per_metric": &limitPer} {
		if s := r.FormValue(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_data", name+" must be a number")
				return
			}
			*dst = n
		}
	}
	metric := r.FormValue("metric")
	out := map[string][]map[string]string{}
	for _, m := range a.opts.Metadata() {
		if metric != "" && m.Name != metric {
			continue
		}
		if _, ok := out[m.Name]; !ok && limit >= 0 && len(out) >= limit {
			continue
		}
		if limitPer > 0 && len(out[m.Name]) >= limitPer {
			continue
		}
		out[m.Name] = append(out[m.Name], map[string]string{"type": string(m.Type), "help": m.Help, "unit": m.Unit})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": out})
}

// runtimeInfo answers /api/v1/status/runtimeinfo.
func (a *API) runtimeInfo() (v1.RuntimeInfo, error) {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	ret := model.Duration(a.opts.Store.RetentionTime()).String()
	if sz := a.opts.Store.RetentionSize(); sz > 0 {
		ret += " or " + bytesize.Size(sz).String()
	}
	return v1.RuntimeInfo{
		StartTime:           a.started,
		CWD:                 cwd,
		Hostname:            host,
		ServerTime:          time.Now(),
		ReloadConfigSuccess: true,
		LastConfigTime:      a.started,
		GoroutineCount:      runtime.NumGoroutine(),
		GOMAXPROCS:          runtime.GOMAXPROCS(0),
		GOMEMLIMIT:          debug.SetMemoryLimit(-1),
		GOGC:                os.Getenv("GOGC"),
		GODEBUG:             os.Getenv("GODEBUG"),
		StorageRetention:    ret,
	}, nil
}

// buildInfo answers /api/v1/status/buildinfo.
func (a *API) buildInfo() *v1.PrometheusVersion {
	return &v1.PrometheusVersion{
		Version:   EngineVersion(),
		Revision:  a.opts.Revision,
		Branch:    "trainwatch-" + a.opts.Version,
		BuildDate: a.opts.BuildDate,
		GoVersion: runtime.Version(),
	}
}

// EngineVersion returns the Prometheus release the linked PromQL engine
// comes from: module v0.316.0 is Prometheus 3.16.0.
func EngineVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "3.0.0"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/prometheus/prometheus" {
			return moduleToRelease(d.Version)
		}
	}
	return "3.0.0"
}

// moduleToRelease maps a prometheus/prometheus module version (v0.MMP.x,
// where MMP is major*100+minor) to the release it was tagged from.
func moduleToRelease(v string) string {
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) != 3 || parts[0] != "0" {
		return "3.0.0"
	}
	mm, err := strconv.Atoi(parts[1])
	if err != nil || mm < 100 {
		return "3.0.0"
	}
	patch := parts[2]
	if i := strings.IndexAny(patch, "-+"); i >= 0 {
		patch = patch[:i]
	}
	return fmt.Sprintf("%d.%d.%s", mm/100, mm%100, patch)
}

// noTargets answers the target and scrape-pool calls: the agent collects
// itself and scrapes nothing.
type noTargets struct{}

func (noTargets) ScrapePools() []string                       { return []string{} }
func (noTargets) TargetsActive() map[string][]*scrape.Target  { return map[string][]*scrape.Target{} }
func (noTargets) TargetsDropped() map[string][]*scrape.Target { return map[string][]*scrape.Target{} }
func (noTargets) TargetsDroppedCounts() map[string]int        { return map[string]int{} }
func (noTargets) ScrapePoolConfig(string) (*config.ScrapeConfig, error) {
	return nil, errors.New("trainwatch scrapes no targets; it collects its own metrics")
}

// noAlertmanagers answers /api/v1/alertmanagers until alerting is wired.
type noAlertmanagers struct{}

func (noAlertmanagers) Alertmanagers() []*url.URL        { return nil }
func (noAlertmanagers) DroppedAlertmanagers() []*url.URL { return nil }

// noRules answers /api/v1/rules and /api/v1/alerts when no rules run.
type noRules struct{}

func (noRules) RuleGroups() []*rules.Group           { return nil }
func (noRules) AlertingRules() []*rules.AlertingRule { return nil }
