// Package alerting is trainwatch's in-process rule engine and alert
// delivery. It runs Prometheus' own rule manager over the agent's embedded
// TSDB (recording rules write back into it, alerting rules write ALERTS and
// ALERTS_FOR_STATE and restore their `for` state from it after a restart),
// sends alerts to Alertmanagers with Prometheus' own notifier, and, so that
// one binary is enough, delivers them itself by e-mail, webhook and Slack
// with Alertmanager's grouping semantics.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promcfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/trainwatch/trainwatch/internal/store"
)

// notifierQueueCapacity is Prometheus' default --alertmanager.notification-queue-capacity.
const notifierQueueCapacity = 10000

// Options configures a Manager.
type Options struct {
	// Config is the alerting section of the configuration.
	Config Config
	// Store is the embedded TSDB: rules query it and write into it.
	Store *store.Store
	// Engine evaluates the rules' expressions: the query API's engine
	// (promapi's (*API).Engine()), so rules and queries behave alike.
	Engine promql.QueryEngine
	// BuiltinFS holds the built-in rule pack; BuiltinFiles are fs.Glob
	// patterns in it (default *.yml and *.yaml). Used when
	// Config.BuiltinRules is true (the default).
	BuiltinFS    fs.FS
	BuiltinFiles []string
	// ExternalURL is the agent's own URL (http://host:9835). Alerts' source
	// links point at its /api/v1/query; empty leaves them empty.
	ExternalURL string
	// Logger receives the rule manager's, the notifier's and the
	// receivers' logs. Default: discard.
	Logger *slog.Logger
	// OutageTolerance, ForGracePeriod and ResendDelay are Prometheus'
	// --rules.alert.* settings. Defaults 1h, 10m and 1m.
	OutageTolerance, ForGracePeriod, ResendDelay time.Duration
	// NotifyMinBackoff and NotifyMaxBackoff bound the built-in receivers'
	// retry delays. Defaults 1s and 1m.
	NotifyMinBackoff, NotifyMaxBackoff time.Duration
	// HTTPClient sends the webhook and Slack requests. Default: a client
	// with the environment's proxy settings.
	HTTPClient *http.Client
}

// Manager runs the rules and delivers their alerts. Its RuleGroups and
// AlertingRules methods make it a v1.RulesRetriever for /api/v1/rules and
// /api/v1/alerts; Alertmanagers and DroppedAlertmanagers make it a
// v1.AlertmanagerRetriever.
type Manager struct {
	cfg          Config
	opts         Options
	logger       *slog.Logger
	extLabels    labels.Labels
	builtinGlobs []string

	ctx    context.Context
	cancel context.CancelFunc

	loader   groupLoader
	rules    *rules.Manager
	notifier *notifier.Manager
	tsets    chan map[string][]*targetgroup.Group
	amReg    *prometheus.Registry
	disp     *dispatcher

	evalFailures atomic.Uint64

	reloadMu   sync.Mutex // serialises Load and Reload
	mu         sync.Mutex
	loadedOnce bool
	lastOK     bool
	lastAt     time.Time
	files      []string

	runMu        sync.Mutex
	running      bool
	rulesStarted bool
	notifierDone chan struct{}
	stopOnce     sync.Once
	stopped      chan struct{}
}

// New builds a Manager. It checks the configuration and prepares the
// receivers, but loads no rule (call Load) and evaluates nothing (call
// Run).
func New(o Options) (*Manager, error) {
	if o.Store == nil {
		return nil, errors.New("alerting: no store given")
	}
	if o.Engine == nil {
		return nil, errors.New("alerting: no query engine given")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	cfg := o.Config.withDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OutageTolerance <= 0 {
		o.OutageTolerance = DefaultOutageTolerance
	}
	if o.ForGracePeriod <= 0 {
		o.ForGracePeriod = DefaultForGracePeriod
	}
	if o.ResendDelay <= 0 {
		o.ResendDelay = DefaultResendDelay
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport, Timeout: httpTimeout}
	}
	o.ExternalURL = strings.TrimRight(o.ExternalURL, "/")
	var extURL *url.URL
	if o.ExternalURL != "" {
		u, err := url.Parse(o.ExternalURL)
		if err != nil {
			return nil, fmt.Errorf("alerting: external URL %q: %w", o.ExternalURL, err)
		}
		extURL = u
	}
	globs := o.BuiltinFiles
	if len(globs) == 0 {
		globs = []string{"*.yml", "*.yaml"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg:          cfg,
		opts:         o,
		logger:       o.Logger,
		extLabels:    labels.FromMap(cfg.ExternalLabels),
		builtinGlobs: globs,
		ctx:          ctx,
		cancel:       cancel,
		stopped:      make(chan struct{}),
	}
	fail := func(err error) (*Manager, error) {
		cancel()
		return nil, err
	}
	if len(cfg.Alertmanagers) > 0 {
		if err := m.setUpNotifier(); err != nil {
			return fail(err)
		}
	}
	if len(cfg.Receivers) > 0 {
		if err := m.setUpReceivers(); err != nil {
			return fail(err)
		}
	}
	var builtin fs.FS
	if cfg.builtinEnabled() {
		builtin = o.BuiltinFS
	}
	p := parser.NewParser(parser.Options{})
	m.loader = groupLoader{builtin: builtin, parser: p, logger: o.Logger.With("component", "rules")}
	m.rules = rules.NewManager(&rules.ManagerOptions{
		NameValidationScheme: model.UTF8Validation,
		ExternalURL:          extURL,
		QueryFunc:            rules.EngineQueryFunc(o.Engine, o.Store.Queryable()),
		NotifyFunc:           m.notify,
		Context:              ctx,
		AppendableV2:         o.Store.DB(),
		Queryable:            o.Store.Queryable(),
		Logger:               logOnce(o.Logger.With("component", "rule manager")),
		OutageTolerance:      o.OutageTolerance,
		ForGracePeriod:       o.ForGracePeriod,
		ResendDelay:          o.ResendDelay,
		GroupLoader:          m.loader,
		Parser:               p,
	})
	return m, nil
}

// setUpNotifier configures Prometheus' notifier for the Alertmanagers.
func (m *Manager) setUpNotifier() error {
	amcs, tgs, err := alertmanagerConfigs(m.cfg.Alertmanagers)
	if err != nil {
		return err
	}
	m.amReg = prometheus.NewRegistry()
	m.notifier = notifier.NewManager(&notifier.Options{
		QueueCapacity:   notifierQueueCapacity,
		DrainOnShutdown: true,
		ExternalLabels:  m.extLabels,
		Registerer:      m.amReg,
	}, model.UTF8Validation, logOnce(m.logger.With("component", "notifier")))
	err = m.notifier.ApplyConfig(&config.Config{
		GlobalConfig: config.GlobalConfig{
			ExternalLabels:             m.extLabels,
			MetricNameValidationScheme: model.UTF8Validation,
		},
		AlertingConfig: config.AlertingConfig{AlertmanagerConfigs: amcs},
	})
	if err != nil {
		return fmt.Errorf("alerting.alertmanagers: %w", err)
	}
	// The static targets, as service discovery would announce them.
	m.tsets = make(chan map[string][]*targetgroup.Group, 1)
	m.tsets <- tgs
	return nil
}

// alertmanagerConfigs turns the Alertmanager URLs into the notifier's
// configuration (API v2, one set per URL, so that each keeps its scheme,
// path prefix and credentials) and its static targets.
func alertmanagerConfigs(ams []AlertmanagerConfig) (config.AlertmanagerConfigs, map[string][]*targetgroup.Group, error) {
	var cfgs config.AlertmanagerConfigs
	tgs := map[string][]*targetgroup.Group{}
	for i, am := range ams {
		u, err := url.Parse(am.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("alerting.alertmanagers[%d].url: %w", i, err)
		}
		c := config.DefaultAlertmanagerConfig
		c.APIVersion = config.AlertmanagerAPIVersionV2
		c.Scheme = u.Scheme
		c.PathPrefix = strings.TrimRight(u.Path, "/")
		c.Timeout = model.Duration(DefaultAlertmanagerTimeout)
		if am.Timeout > 0 {
			c.Timeout = am.Timeout
		}
		if u.User != nil {
			pw, _ := u.User.Password()
			c.HTTPClientConfig.BasicAuth = &promcfg.BasicAuth{Username: u.User.Username(), Password: promcfg.Secret(pw)}
		}
		cfgs = append(cfgs, &c)
		// ToMap names the sets config-0, config-1, ...
		tgs[fmt.Sprintf("config-%d", i)] = []*targetgroup.Group{{
			Targets: []model.LabelSet{{model.AddressLabel: model.LabelValue(u.Host)}},
			Source:  strconv.Itoa(i),
		}}
	}
	return cfgs, tgs, nil
}

// setUpReceivers builds the built-in receivers and their dispatcher.
func (m *Manager) setUpReceivers() error {
	var rs []*receiver
	for i, rc := range m.cfg.Receivers {
		r := &receiver{name: rc.Name, sendResolved: rc.sendResolved(), logger: m.logger}
		switch {
		case rc.Email != nil:
			e, err := newEmail(*rc.Email)
			if err != nil {
				return fmt.Errorf("alerting.receivers[%d].email: %w", i, err)
			}
			r.kind, r.integ = "email", e
		case rc.Webhook != nil:
			r.kind, r.integ = "webhook", &webhook{url: rc.Webhook.URL, client: m.opts.HTTPClient}
		case rc.Slack != nil:
			r.kind, r.integ = "slack", &slack{url: string(rc.Slack.URL), blocks: rc.Slack.Blocks, client: m.opts.HTTPClient}
		}
		rs = append(rs, r)
	}
	route := routeOpts{
		groupBy:  m.cfg.Route.GroupBy,
		all:      len(m.cfg.Route.GroupBy) == 1 && m.cfg.Route.GroupBy[0] == groupByAll,
		wait:     time.Duration(m.cfg.Route.GroupWait),
		interval: time.Duration(m.cfg.Route.GroupInterval),
		repeat:   time.Duration(m.cfg.Route.RepeatInterval),
	}
	m.disp = newDispatcher(m.ctx, route, rs, m.opts.ExternalURL, m.opts.NotifyMinBackoff, m.opts.NotifyMaxBackoff, m.logger.With("component", "dispatcher"))
	return nil
}

// Load reads every rule file (the user's and the built-in ones), and runs
// them when all are valid. When any file is broken it returns a *LoadError
// naming each problem as file:line:column, and changes nothing: the rules
// loaded before keep running. Unchanged groups keep their state.
func (m *Manager) Load() error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	files, errs := expandRuleFiles(m.cfg.RuleFiles, m.loader.builtin, m.builtinGlobs, m.logger)
	for _, f := range files {
		if _, ferrs := m.loader.Load(f, false, model.UTF8Validation); len(ferrs) > 0 {
			errs = append(errs, ferrs...)
		}
	}
	m.mu.Lock()
	kept := m.loadedOnce
	m.mu.Unlock()
	if len(errs) > 0 {
		err := &LoadError{Errs: errs, Kept: kept}
		m.recordLoad(false, nil)
		m.logger.Error("loading rule files failed", "err", err)
		return err
	}
	err := m.rules.Update(time.Duration(m.cfg.EvaluationInterval), files, m.extLabels, m.opts.ExternalURL, m.evalIteration)
	if err != nil {
		// A file changed between the check and the load: the rule manager
		// restored the previous rules.
		m.recordLoad(false, nil)
		return fmt.Errorf("loading rule files: %w", err)
	}
	m.recordLoad(true, files)
	n := 0
	groups := m.rules.RuleGroups()
	for _, g := range groups {
		n += len(g.Rules())
	}
	m.logger.Info("rules loaded", "files", len(files), "groups", len(groups), "rules", n)
	return nil
}

// Reload is Load, for SIGHUP and POST /-/reload.
func (m *Manager) Reload() error { return m.Load() }

func (m *Manager) recordLoad(ok bool, files []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastOK = ok
	m.lastAt = time.Now()
	if ok {
		m.loadedOnce = true
		m.files = files
	}
}

// Files returns the rule files running now (built-in ones as
// "builtin:NAME").
func (m *Manager) Files() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.files...)
}

// evalIteration evaluates a group and counts its failed rules.
func (m *Manager) evalIteration(ctx context.Context, g *rules.Group, ts time.Time) {
	start := time.Now()
	rules.DefaultEvalIterationFunc(ctx, g, ts)
	if ctx.Err() != nil {
		return // shutting down: cancelled queries are no failures
	}
	n := 0
	for _, r := range g.Rules() {
		if r.LastError() != nil && !r.GetEvaluationTimestamp().Before(start) {
			n++
		}
	}
	m.evalFailures.Add(uint64(n))
}

// notify is the rule manager's NotifyFunc: it sends the alerts to the
// Alertmanagers as Prometheus does (rules.SendAlerts) and hands them to the
// built-in receivers' dispatcher.
func (m *Manager) notify(_ context.Context, expr string, alerts ...*rules.Alert) {
	if len(alerts) == 0 {
		return
	}
	gen := m.generatorURL(expr)
	if m.notifier != nil {
		out := make([]*notifier.Alert, 0, len(alerts))
		for _, a := range alerts {
			na := &notifier.Alert{
				StartsAt:     a.FiredAt,
				Labels:       a.Labels,
				Annotations:  a.Annotations,
				GeneratorURL: gen,
				EndsAt:       a.ValidUntil,
			}
			if !a.ResolvedAt.IsZero() {
				na.EndsAt = a.ResolvedAt
			}
			out = append(out, na)
		}
		m.notifier.Send(out...) // adds the external labels
	}
	if m.disp != nil {
		out := make([]*alert, 0, len(alerts))
		for _, a := range alerts {
			ls := a.Labels
			if !m.extLabels.IsEmpty() {
				b := labels.NewBuilder(ls)
				m.extLabels.Range(func(l labels.Label) {
					if !ls.Has(l.Name) {
						b.Set(l.Name, l.Value)
					}
				})
				ls = b.Labels()
			}
			na := &alert{
				Labels:       ls,
				Annotations:  a.Annotations,
				StartsAt:     a.FiredAt,
				EndsAt:       a.ValidUntil,
				GeneratorURL: gen,
				Value:        a.Value,
				fp:           fingerprint(ls),
			}
			if !a.ResolvedAt.IsZero() {
				na.EndsAt = a.ResolvedAt
			}
			out = append(out, na)
		}
		m.disp.add(out...)
	}
}

// generatorURL links an alert to its expression on the agent's query API.
func (m *Manager) generatorURL(expr string) string {
	if m.opts.ExternalURL == "" {
		return ""
	}
	return m.opts.ExternalURL + "/api/v1/query?query=" + url.QueryEscape(expr)
}

// Run evaluates the rules and delivers alerts until ctx ends or Stop is
// called, then shuts everything down (as Stop does) and returns. Load may be
// called before or while Run runs.
func (m *Manager) Run(ctx context.Context) error {
	m.runMu.Lock()
	if m.running {
		m.runMu.Unlock()
		return errors.New("alerting: Run called twice")
	}
	select {
	case <-m.stopped:
		m.runMu.Unlock()
		return errors.New("alerting: Run called after Stop")
	default:
	}
	m.running = true
	if m.notifier != nil {
		m.notifierDone = make(chan struct{})
		go func() {
			defer close(m.notifierDone)
			m.notifier.Run(m.tsets)
		}()
	}
	m.rulesStarted = true
	go m.rules.Run()
	m.runMu.Unlock()
	select {
	case <-ctx.Done():
	case <-m.ctx.Done():
	}
	m.Stop()
	return nil
}

// Stop stops the evaluation and the deliveries: queries and deliveries in
// flight are cancelled, alerts queued for Alertmanagers are sent first.
// It is safe to call more than once, and without Run.
func (m *Manager) Stop() {
	m.stopOnce.Do(func() {
		m.cancel()
		m.runMu.Lock()
		if !m.rulesStarted {
			// Loaded groups wait for Run before they can stop.
			m.rulesStarted = true
			go m.rules.Run()
		}
		done := m.notifierDone
		m.runMu.Unlock()
		m.rules.Stop()
		if m.notifier != nil {
			m.notifier.Stop()
			if done != nil {
				<-done
			}
		}
		if m.disp != nil {
			m.disp.wait()
		}
		close(m.stopped)
	})
	<-m.stopped
}

// RuleGroups returns the rule groups, sorted by file and name. A nil
// Manager (alerting off) has none.
func (m *Manager) RuleGroups() []*rules.Group {
	if m == nil {
		return nil
	}
	return m.rules.RuleGroups()
}

// AlertingRules returns the alerting rules; none for a nil Manager.
func (m *Manager) AlertingRules() []*rules.AlertingRule {
	if m == nil {
		return nil
	}
	return m.rules.AlertingRules()
}

// Retriever returns the Manager as promapi's Options.Rules wants it. It may
// be called on a nil Manager (empty lists), so a closure over a variable
// assigned after the API is built works.
func (m *Manager) Retriever(context.Context) v1.RulesRetriever { return m }

// Alertmanagers returns the Alertmanagers' alert endpoints.
func (m *Manager) Alertmanagers() []*url.URL {
	if m == nil || m.notifier == nil {
		return nil
	}
	return m.notifier.Alertmanagers()
}

// DroppedAlertmanagers returns nothing: every configured Alertmanager is
// used.
func (m *Manager) DroppedAlertmanagers() []*url.URL {
	if m == nil || m.notifier == nil {
		return nil
	}
	return m.notifier.DroppedAlertmanagers()
}

// ReloadHandler serves POST /-/reload: it reloads the rule files and
// answers 200, or 500 with the problems (file:line:column) when a file is
// broken and the previous rules keep running.
func (m *Manager) ReloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST (or PUT) to reload the rule files", http.StatusMethodNotAllowed)
			return
		}
		if err := m.Reload(); err != nil {
			http.Error(w, "failed to reload rules: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintf(w, "rules reloaded: %d files, %d groups\n", len(m.Files()), len(m.RuleGroups()))
	})
}
