package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	v1 "github.com/prometheus/prometheus/web/api/v1"
	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/alerting"
	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/promapi"
	"github.com/trainwatch/trainwatch/internal/push"
	"github.com/trainwatch/trainwatch/internal/remotewrite"
	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/store"
	"github.com/trainwatch/trainwatch/internal/summary"
	"github.com/trainwatch/trainwatch/internal/ui"
	"github.com/trainwatch/trainwatch/internal/web"
	rulepack "github.com/trainwatch/trainwatch/rules"
)

// defaultMemProfileRate is the runtime's default runtime.MemProfileRate:
// one sampled allocation per 512 KiB allocated.
const defaultMemProfileRate = 512 * 1024

// loadConfig reads --config (if given) and applies the flags the user set
// explicitly on top of it. Any problem is a usage error.
func loadConfig(cmd *cobra.Command, path string, apply func(*config.Config) error) (config.Config, error) {
	cfg := config.Default()
	if path != "" {
		c, err := config.Load(path)
		if err != nil {
			return cfg, usageError{err}
		}
		cfg = c
	}
	if apply != nil {
		if err := apply(&cfg); err != nil {
			return cfg, usageError{err}
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// newRunner builds the collector runner for a configuration: host, GPU
// and (for the agent) self collectors, plus extra ones. Call release when
// done.
func newRunner(cfg config.Config, withSelf bool, logger *slog.Logger, extra ...collector.Collector) (r *collector.Runner, release func(), err error) {
	r, _, release, err = buildRunner(cfg, withSelf, logger, extra...)
	return r, release, err
}

// buildRunner is newRunner that also returns the process scanner (nil when
// the process collector is off), whose full table the dashboard lists.
func buildRunner(cfg config.Config, withSelf bool, logger *slog.Logger, extra ...collector.Collector) (r *collector.Runner, scanner *process.Scanner, release func(), err error) {
	cs, err := host.Collectors(cfg.Host)
	if err != nil {
		return nil, nil, func() {}, usageError{fmt.Errorf("config: %w", err)}
	}
	gpus, release, err := gpuCollectors(cfg, logger)
	if err != nil {
		return nil, nil, release, err
	}
	cs = append(cs, gpus...)
	var derivers []collector.Deriver
	if !cfg.Processes.Disable {
		scanner = process.NewScanner(cfg.Host.Roots.WithDefaults(), nil)
		// The scanner keeps /proc descriptors open between scans.
		releaseGPUs, sc := release, scanner
		release = func() {
			releaseGPUs()
			if err := sc.Close(); err != nil {
				logger.Warn("closing the process scanner's descriptors", "err", err)
			}
		}
		pc, err := process.NewCollector(scanner, cfg.Processes.Config)
		if err != nil {
			return nil, nil, release, usageError{fmt.Errorf("config processes: %w", err)}
		}
		cs = append(cs, pc)
		derivers = append(derivers, jobs.NewDeriver(scanner, cfg.Processes.Jobs))
	}
	if withSelf {
		self, err := agent.NewSelfCollector()
		if err != nil {
			return nil, nil, release, err
		}
		cs = append(cs, self)
	}
	cs = append(cs, extra...)
	r, err = collector.NewRunner(collector.RunnerOptions{Timeout: cfg.EffectiveTimeout(), Logger: logger, Derivers: derivers}, cs...)
	if err != nil {
		return nil, nil, release, fmt.Errorf("collectors: %w", err)
	}
	return r, scanner, release, nil
}

func newServeCmd() *cobra.Command {
	var (
		configPath string
		listen     string
		dataDir    string
		interval   time.Duration
		demoMode   bool
		retTime    model.Duration
		retSize    string
		noHistory  bool
		qTimeout   time.Duration
		qSamples   int
		qConc      int
		pprofOn    bool
		amURLs     []string
		webConfig  string
		blockDur   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the agent: collect every interval and serve /metrics and the API",
		Long: `Run the agent. Every --interval it collects all metrics once, concurrently, each
collector with its own deadline, and serves the result at /metrics (Prometheus text
format or OpenMetrics), /api/v1/snapshot (JSON with rates computed), /-/healthy and
/-/ready. Every tick is also written to an embedded Prometheus TSDB under --data-dir
(write-ahead logged; kept for --retention.time and at most --retention.size), which
the Prometheus HTTP API (/api/v1/query, /api/v1/query_range, /api/v1/series,
/api/v1/labels, ...) answers from, so Grafana can use the agent as a Prometheus data
source. It listens on loopback by default.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, configPath, func(c *config.Config) error {
				if cmd.Flags().Changed("listen") {
					c.Listen = listen
				}
				if cmd.Flags().Changed("data-dir") {
					c.DataDir = dataDir
				}
				if cmd.Flags().Changed("interval") {
					c.Interval = model.Duration(interval)
				}
				if cmd.Flags().Changed("demo") {
					c.Demo = demoMode
				}
				if cmd.Flags().Changed("retention.time") {
					c.Storage.RetentionTime = retTime
				}
				if cmd.Flags().Changed("retention.size") {
					sz, err := bytesize.Parse(retSize)
					if err != nil {
						return fmt.Errorf("--retention.size: %w", err)
					}
					c.Storage.RetentionSize = sz
				}
				if cmd.Flags().Changed("no-history") {
					c.Storage.Disable = noHistory
				}
				if cmd.Flags().Changed("query.timeout") {
					c.Query.Timeout = model.Duration(qTimeout)
				}
				if cmd.Flags().Changed("query.max-samples") {
					c.Query.MaxSamples = qSamples
				}
				for _, u := range amURLs {
					c.Alerting.Alertmanagers = append(c.Alerting.Alertmanagers, alerting.AlertmanagerConfig{URL: u})
				}
				if cmd.Flags().Changed("web.enable-pprof") {
					c.Pprof = pprofOn
				}
				if cmd.Flags().Changed("query.max-concurrency") {
					c.Query.MaxConcurrency = qConc
				}
				if cmd.Flags().Changed("web.config.file") {
					c.Web.ConfigFile = webConfig
				}
				c.Storage.BlockDuration = blockDur
				return nil
			})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, slog.Default(), nil)
		},
	}
	d := config.Default()
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (see docs/configuration.md)")
	cmd.Flags().StringVar(&listen, "listen", d.Listen, "HTTP listen address; a non-loopback address exposes the agent to the network")
	cmd.Flags().StringVar(&dataDir, "data-dir", d.DataDir, "directory for history and state")
	cmd.Flags().DurationVar(&interval, "interval", time.Duration(d.Interval), "collection interval")
	retTime = model.Duration(store.DefaultRetentionTime)
	cmd.Flags().Var(&retTime, "retention.time", "how long history is kept, e.g. 15d, 12h")
	cmd.Flags().StringVar(&retSize, "retention.size", "0", "most disk the history may take, e.g. 10GB (base 2); 0: no cap")
	cmd.Flags().BoolVar(&noHistory, "no-history", false, "keep no history: no TSDB, no /api/v1/query, no remote write")
	cmd.Flags().DurationVar(&qTimeout, "query.timeout", promapi.DefaultTimeout, "longest a PromQL query may run")
	cmd.Flags().IntVar(&qSamples, "query.max-samples", promapi.DefaultMaxSamples, "most samples a PromQL query may load at once (422 beyond)")
	cmd.Flags().IntVar(&qConc, "query.max-concurrency", promapi.DefaultMaxConcurrent, "most PromQL queries evaluated at once (429 beyond)")
	cmd.Flags().StringArrayVar(&amURLs, "alertmanager.url", nil, "send alerts to this Alertmanager (API v2), e.g. http://am:9093; repeat for several")
	cmd.Flags().StringVar(&webConfig, "web.config.file", "", "exporter-toolkit web configuration file: TLS and basic auth for every endpoint (see docs/security.md)")
	cmd.Flags().BoolVar(&pprofOn, "web.enable-pprof", false, "serve Go's profiler at /debug/pprof/ (for performance work; exposes internals)")
	cmd.Flags().BoolVar(&demoMode, "demo", false, "simulate an 8 x H200 GPU training server (clearly marked as a demo); host metrics stay real")
	// Hidden, as Prometheus' --storage.tsdb.min-block-duration: for soak
	// tests that must see the head compacted within their run.
	cmd.Flags().DurationVar(&blockDur, "storage.tsdb.block-duration", 0, "range of the TSDB blocks the head is compacted into (0: 2h); for tests")
	_ = cmd.Flags().MarkHidden("storage.tsdb.block-duration")
	return cmd
}

// serve runs the agent until ctx ends. onListen, when non-nil, is told the
// bound address.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, onListen func(net.Addr)) error {
	var webCfg web.Settings
	if cfg.Web.ConfigFile != "" {
		c, err := web.CheckWebConfig(cfg.Web.ConfigFile)
		if err != nil {
			return usageError{err}
		}
		webCfg = c
	}
	ln, err := web.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	var (
		sinks  []agent.Sink
		api    *promapi.API
		db     *store.Store
		a      *agent.Agent
		extra  []collector.Collector
		reg    *runs.Registry
		gw     *push.Gateway
		am     *alerting.Manager
		routes []web.Route
	)
	instance := instanceLabel(cfg.Storage.Instance, ln.Addr())
	if !cfg.Storage.Disable {
		writers, closeWriters, err := openRemoteWriters(cfg, logger)
		if err != nil {
			return err
		}
		defer closeWriters()
		for _, w := range writers {
			extra = append(extra, w)
		}
		db, err = store.Open(store.Options{
			OnCommit:      fanOut(writers),
			Dir:           cfg.DataDir,
			RetentionTime: time.Duration(cfg.Storage.RetentionTime),
			RetentionSize: int64(cfg.Storage.RetentionSize),
			BlockDuration: cfg.Storage.BlockDuration,
			Job:           cfg.Storage.Job,
			Instance:      instance,
			Logger:        logger,
		})
		var nw *store.NotWritableError
		if errors.As(err, &nw) {
			return usageError{err}
		}
		if err != nil {
			return err
		}
		defer func() {
			if cerr := db.Close(); cerr != nil {
				logger.Error("closing history", "err", cerr)
			}
		}()
		sinks = append(sinks, db)
		extra = append(extra, db.Collector())
		reg, err = runs.Open(runs.Options{
			Dir:      filepath.Join(cfg.DataDir, "runs"),
			Job:      cfg.Storage.Job,
			Instance: instance,
			Append:   db.AppendAll,
			After:    db.MaxTime(),
			Reserved: reservedName,
			Logger:   logger,

			MaxSeriesPerRun: cfg.Runs.MaxSeriesPerRun,
		})
		if err != nil {
			return err
		}
		extra = append(extra, reg.Collector())
		for _, r := range reg.Routes() {
			// The runs API bounds its bodies itself (413 past runs.MaxLogBody).
			routes = append(routes, web.Route{Pattern: r.Pattern, Handler: r.Handler, Writes: r.Writes, MaxBodyBytes: web.OwnBodyLimit})
		}
		ttl := time.Duration(cfg.Push.TTL)
		if ttl == 0 {
			ttl = push.DefaultTTL
		}
		gw = push.New(push.Options{
			TTL:               ttl,
			MaxBodyBytes:      int64(cfg.Push.MaxBodyBytes),
			MaxSeriesPerGroup: cfg.Push.MaxSeriesPerGroup,
			MaxGroups:         cfg.Push.MaxGroups,
			AllowTimestamps:   cfg.Push.AllowTimestamps,
			Reserved:          reservedName,
			Append:            db.AppendAll,
			After:             db.MaxTime(),
			OnPush:            reg.ObservePush,
			Logger:            logger,

			MaxLabelsPerSeries:  cfg.Push.MaxLabelsPerSeries,
			MaxLabelNameLength:  cfg.Push.MaxLabelNameLength,
			MaxLabelValueLength: cfg.Push.MaxLabelValueLength,
		})
		extra = append(extra, gw)
		routes = append(routes,
			// The gateway bounds its bodies itself (push.max_body_bytes,
			// also after gzip).
			web.Route{Pattern: "/metrics/job/", Handler: gw, Writes: true, MaxBodyBytes: web.OwnBodyLimit},
			web.Route{Pattern: "/metrics/job@base64/", Handler: gw, Writes: true, MaxBodyBytes: web.OwnBodyLimit},
			web.Route{Pattern: "GET /api/v1/push/groups", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "groups": gw.Groups()})
			})},
		)
		api, err = promapi.New(promapi.Options{
			Store:         db,
			Logger:        logger,
			Timeout:       time.Duration(cfg.Query.Timeout),
			MaxSamples:    cfg.Query.MaxSamples,
			MaxConcurrent: cfg.Query.MaxConcurrency,
			Metadata:      func() []promapi.Metadata { return metadataOf(a.Latest()) },
			ListenAddress: ln.Addr().String(),
			Version:       version,
			Rules:         func(ctx context.Context) v1.RulesRetriever { return am.Retriever(ctx) },
			Alertmanagers: func(context.Context) v1.AlertmanagerRetriever { return am },
			Flags: map[string]string{
				"data-dir":          cfg.DataDir,
				"retention.time":    model.Duration(db.RetentionTime()).String(),
				"retention.size":    cfg.Storage.RetentionSize.String(),
				"interval":          time.Duration(cfg.Interval).String(),
				"listen":            cfg.Listen,
				"query.timeout":     time.Duration(cfg.Query.Timeout).String(),
				"query.max-samples": strconv.Itoa(cfg.Query.MaxSamples),
			},
		})
		if err != nil {
			return err
		}
	}
	if api != nil {
		am, err = alerting.New(alerting.Options{
			Config:      cfg.Alerting,
			Store:       db,
			Engine:      api.Engine(),
			BuiltinFS:   rulepack.FS,
			ExternalURL: scheme(webCfg) + "://" + instance,
			Logger:      logger.With("component", "alerting"),
		})
		if err != nil {
			return usageError{err}
		}
		if err := am.Load(); err != nil {
			return usageError{fmt.Errorf("alerting rules: %w", err)}
		}
		extra = append(extra, am.Collector())
		routes = append(routes, web.Route{Pattern: "/-/reload", Handler: am.ReloadHandler(), Writes: true})
	}
	// The web server's request durations are served like any collector's.
	requests := web.NewRequestMetrics()
	extra = append(extra, requests)
	runner, scanner, release, err := buildRunner(cfg, true, logger, extra...)
	defer release()
	if err != nil {
		return err
	}
	a = agent.New(runner, time.Duration(cfg.Interval), logger, sinks...)
	dash, err := newDashboard(cfg, a, instance, db, reg, am, scanner, logger)
	if err != nil {
		return err
	}
	for _, r := range dash.Routes() {
		routes = append(routes, web.Route{Pattern: r.Pattern, Handler: r.Handler})
	}
	if cfg.Pprof && runtime.MemProfileRate == 0 {
		// main turned heap profiling off; /debug/pprof/heap samples the
		// allocations from here on at the runtime's default rate.
		runtime.MemProfileRate = defaultMemProfileRate
	}
	opts := web.Options{
		Logger:    logger,
		Version:   version,
		Summarize: func(prev, cur *collector.Snapshot) any { return summary.Compute(prev, cur) },
		Pprof:     cfg.Pprof,
		Routes:    routes,

		WebConfigFile:       cfg.Web.ConfigFile,
		MaxRequestsInFlight: cfg.Web.MaxRequestsInFlight,
		MaxBodyBytes:        int64(cfg.Web.MaxBodyBytes),
		Requests:            requests,
	}
	if gw != nil {
		opts.Extra = gw.FamiliesGeneration
	}
	if api != nil {
		opts.API = api
	}
	h := web.New(a, opts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loopDone := make(chan error, 1)
	go func() { loopDone <- a.Run(ctx) }()
	go dash.Run(ctx.Done())
	if cfg.Demo && reg != nil {
		go runDemoTraining(ctx, reg, time.Duration(cfg.Interval), logger)
	}
	for _, c := range extra {
		if w, ok := c.(*remotewrite.Writer); ok {
			go w.Run(ctx)
		}
	}
	busy := func() bool { return api != nil && api.InFlight() > 0 }
	go agent.ReturnFreeMemory(ctx, 10*time.Second, 64<<20, busy, logger)
	if gw != nil {
		go expireGroups(ctx, gw, time.Minute)
	}
	alertDone := make(chan struct{})
	if am != nil {
		go func() { _ = am.Run(ctx); close(alertDone) }()
	} else {
		close(alertDone)
	}
	// Always taken, so that SIGHUP (systemctl reload) never kills an agent
	// that has no rules to reload.
	go reloadOnHUP(ctx, am, logger)
	saved := make(chan struct{})
	if reg != nil {
		go func() { reg.SaveEvery(ctx, 10*time.Second); close(saved) }()
	} else {
		close(saved)
	}
	addr := ln.Addr()
	logger.Info("trainwatch serving", "address", addr.String(), "interval", time.Duration(cfg.Interval),
		"collectors", len(runner.Names()), "history", historyDesc(cfg, db))
	if cfg.Web.ConfigFile != "" {
		logger.Info("web configuration", "file", cfg.Web.ConfigFile, "tls", webCfg.TLS, "basic_auth", webCfg.BasicAuth, "client_certificates", webCfg.ClientCerts)
		for _, w := range webCfg.Warnings {
			logger.Warn("web configuration: " + w)
		}
	}
	if !isLoopback(addr) && !webCfg.Authenticated() {
		logger.Warn("listening on a non-loopback address without authentication: /metrics and the API are readable from the network, and writes (pushes, runs, reload) are refused from other machines; see docs/security.md", "address", addr.String())
	}
	if onListen != nil {
		onListen(addr)
	}
	err = h.Serve(ctx, ln, 5*time.Second)
	cancel()
	<-loopDone
	<-saved
	<-alertDone
	return err
}

// openRemoteWriters opens one remote-write queue per configured remote,
// under DATA_DIR/remote_write/NAME. closeAll flushes and closes them.
func openRemoteWriters(cfg config.Config, logger *slog.Logger) (ws []*remotewrite.Writer, closeAll func(), err error) {
	closeAll = func() {
		for _, w := range ws {
			if err := w.Close(); err != nil {
				logger.Error("closing remote write queue", "remote", w.RemoteName(), "err", err)
			}
		}
	}
	for _, rc := range cfg.RemoteWrite {
		rc.SetDefaults()
		w, err := remotewrite.Open(rc, filepath.Join(cfg.DataDir, "remote_write", rc.Name), logger, remotewrite.WithVersion(version))
		if err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("remote_write %q: %w", rc.Name, err)
		}
		logger.Info("remote write", "remote", rc.Name, "url", rc.URL, "queue", filepath.Join(cfg.DataDir, "remote_write", rc.Name))
		ws = append(ws, w)
	}
	return ws, closeAll, nil
}

// fanOut hands each commit to every remote-write queue (nil for none).
func fanOut(ws []*remotewrite.Writer) func([]store.Appended) {
	if len(ws) == 0 {
		return nil
	}
	return func(batch []store.Appended) {
		for _, w := range ws {
			w.Enqueue(batch)
		}
	}
}

// reloadOnHUP reloads the rule files on SIGHUP until ctx ends; a broken
// file is logged by the manager and the previous rules keep running.
// Without rules (am nil: no history) SIGHUP is only logged.
func reloadOnHUP(ctx context.Context, am *alerting.Manager, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if am == nil {
				logger.Info("SIGHUP: nothing to reload (no history, so no alert rules)")
				continue
			}
			if err := am.Reload(); err == nil {
				logger.Info("rules reloaded on SIGHUP")
			}
		}
	}
}

// expireGroups removes pushed groups past their TTL every period.
func expireGroups(ctx context.Context, gw *push.Gateway, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			gw.Expire(now)
		}
	}
}

// reservedName reports the metric names that pushed and logged training
// metrics must not take: the agent's own families and those a scraping
// Prometheus adds.
func reservedName(name string) bool {
	for _, p := range []string{"node_", "DCGM_", "trainwatch_", "namedprocess_", "process_", "go_", "promhttp_", "scrape_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return name == "up"
}

// historyDesc says where history goes, for the start-up log line.
func historyDesc(cfg config.Config, db *store.Store) string {
	if db == nil {
		return "disabled"
	}
	return fmt.Sprintf("%s (retention %s)", db.Dir(), model.Duration(db.RetentionTime()))
}

// instanceLabel is the instance label stored series get: the configured
// one, or HOSTNAME:PORT as a Prometheus scraping this agent by host name
// would set.
func instanceLabel(configured string, addr net.Addr) string {
	if configured != "" {
		return configured
	}
	port := "9835"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// metadataOf lists the metric families of the latest snapshot for
// /api/v1/metadata.
func metadataOf(st *agent.State) []promapi.Metadata {
	if st == nil || st.Snapshot == nil {
		return nil
	}
	out := make([]promapi.Metadata, 0, len(st.Snapshot.Families))
	for _, f := range st.Snapshot.Families {
		if f == nil || f.Desc == nil {
			continue
		}
		out = append(out, promapi.Metadata{Name: f.Desc.Name, Type: metricType(f.Desc.Type), Help: f.Desc.Help})
	}
	return out
}

// metricType maps a collector value type to Prometheus' metadata type:
// the exposition format's name, but "unknown" for untyped.
func metricType(t collector.ValueType) model.MetricType {
	if t == collector.Untyped {
		return model.MetricTypeUnknown
	}
	return model.MetricType(t.String())
}

// scheme is the agent's URL scheme under its web configuration.
func scheme(c web.Settings) string {
	if c.TLS {
		return "https"
	}
	return "http"
}

func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// newDashboard builds the web dashboard over the agent's parts; db, reg,
// am and scanner may be nil (history, alerting or processes off).
func newDashboard(cfg config.Config, a *agent.Agent, instance string, db *store.Store, reg *runs.Registry, am *alerting.Manager, scanner *process.Scanner, logger *slog.Logger) (*ui.UI, error) {
	hostname, _ := os.Hostname()
	opts := ui.Options{
		Version: version, Hostname: hostname, Instance: instance, Job: cmp.Or(cfg.Storage.Job, store.DefaultJob),
		Interval: time.Duration(cfg.Interval), States: a, Jobs: cfg.Processes.Jobs,
		Fleet: &cfg.UI.Fleet, Logger: logger.With("component", "ui"),
	}
	if db != nil {
		opts.History, opts.Retention = true, db.RetentionTime()
	}
	if reg != nil {
		opts.Runs = func() []runs.Run { return reg.List("") }
	}
	if am != nil {
		opts.Alerting = am.AlertingRules
	}
	if scanner != nil {
		opts.Processes = scanner.Latest
	}
	d, err := ui.New(opts)
	if err != nil {
		return nil, usageError{err}
	}
	return d, nil
}
