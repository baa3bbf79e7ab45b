package ruletest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/trainwatch/trainwatch/internal/subquery"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/trainwatch/trainwatch/internal/promapi"
)

// Storage is a TSDB in a temporary directory that holds the series rules
// are evaluated over, and the ALERTS series the rules write. Append with
// its Appender; Close removes it.
type Storage struct {
	*tsdb.DB
	dir string
}

// NewStorage opens an empty Storage. Its head accepts samples over a day
// wide (24 h blocks), so that long test series load.
func NewStorage() (*Storage, error) {
	dir, err := os.MkdirTemp("", "ruletest-")
	if err != nil {
		return nil, fmt.Errorf("rule test storage: %w", err)
	}
	opts := tsdb.DefaultOptions()
	opts.MinBlockDuration = int64(24 * time.Hour / time.Millisecond)
	opts.MaxBlockDuration = opts.MinBlockDuration
	opts.RetentionDuration = 0
	db, err := tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("rule test storage: %w", err)
	}
	return &Storage{DB: db, dir: dir}, nil
}

// Close closes the TSDB and removes its directory.
func (s *Storage) Close() error {
	err := s.DB.Close()
	if rerr := os.RemoveAll(s.dir); err == nil && rerr != nil {
		err = fmt.Errorf("removing rule test storage: %w", rerr)
	}
	return err
}

// Queryable is what an Evaluator reads series from and writes rule results
// (ALERTS, recorded series) to; *Storage is one.
type Queryable interface {
	storage.Queryable
	storage.AppendableV2
}

// EvalOptions configure an Evaluator.
type EvalOptions struct {
	// Interval is the groups' evaluation interval, as LoadGroups gets it
	// (default 1m). Evaluation times are the caller's: see Evaluator.Eval.
	Interval time.Duration
	// ExternalLabels and ExternalURL are the templates' $externalLabels
	// and $externalURL.
	ExternalLabels labels.Labels
	ExternalURL    string
	// GroupOrder names groups evaluated in this order, after the groups it
	// does not name (promtool's group_eval_order).
	GroupOrder []string
	// FS, when set, holds the rule files (names in FS); otherwise they are
	// paths on disk.
	FS fs.FS
}

// Alert is a firing alert: its labels (alertname included) and its
// templated annotations.
type Alert struct {
	Labels      labels.Labels
	Annotations labels.Labels
}

// String returns "labels annotations".
func (a Alert) String() string { return a.Labels.String() + " " + a.Annotations.String() }

// Evaluator evaluates rule groups with Prometheus' rules package and PromQL
// engine, at times the caller chooses, over a Queryable.
type Evaluator struct {
	engine *promql.Engine
	parser parser.Parser
	q      Queryable
	groups []*rules.Group
}

// NewEvaluator loads the rule files (as Prometheus does: strict YAML, PromQL
// and templates checked) into groups evaluated over q.
func NewEvaluator(q Queryable, opts EvalOptions, files ...string) (*Evaluator, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	logger := slog.New(slog.DiscardHandler)
	p := parser.NewParser(parser.Options{})
	// The agent's engine settings, so that rules are evaluated here as the
	// agent evaluates them.
	engine := promapi.NewEngine(promapi.EngineOptions{Logger: logger, Parser: p})
	var loader rules.GroupLoader = fileLoader{p: p, logger: logger}
	if opts.FS != nil {
		loader = fsLoader{fsys: opts.FS, p: p, logger: logger}
	}
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, q),
		AppendableV2: q,
		Queryable:    q,
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       logger,
		Parser:       p,
		GroupLoader:  loader,
	})
	byKey, errs := m.LoadGroups(opts.Interval, opts.ExternalLabels, opts.ExternalURL, nil, false, files...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("loading rules: %w", errors.Join(errs...))
	}

	// Groups in file order, then group order within a file, then stably
	// by GroupOrder (unnamed groups first, as promtool orders them).
	var groups []*rules.Group
	for _, f := range files {
		rgs, errs := loader.Load(f, false, model.UTF8Validation)
		if len(errs) > 0 {
			return nil, fmt.Errorf("loading rules: %w", errors.Join(errs...))
		}
		for _, rg := range rgs.Groups {
			if g := byKey[rules.GroupKey(f, rg.Name)]; g != nil && !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	rank := func(g *rules.Group) int {
		if i := slices.Index(opts.GroupOrder, g.Name()); i >= 0 {
			return i + 1
		}
		return 0
	}
	slices.SortStableFunc(groups, func(a, b *rules.Group) int { return rank(a) - rank(b) })

	for _, g := range groups {
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				// As after a restart whose state was restored: ALERTS and
				// ALERTS_FOR_STATE are written from the first evaluation.
				ar.SetRestored(true)
			}
		}
	}
	return &Evaluator{engine: engine, parser: p, q: q, groups: groups}, nil
}

// Groups returns the loaded groups in evaluation order.
func (e *Evaluator) Groups() []*rules.Group { return e.groups }

// Eval evaluates every group once at ts, in order, and returns the errors
// of the rules that failed ("group/rule: error").
func (e *Evaluator) Eval(ctx context.Context, ts time.Time) []error {
	var errs []error
	for _, g := range e.groups {
		g.Eval(ctx, ts)
		for _, r := range g.Rules() {
			if err := r.LastError(); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", g.Name(), r.Name(), err))
			}
		}
	}
	return errs
}

// Firing returns the firing alerts of the alerting rules named alertname
// (in every group), as of the last Eval, sorted.
func (e *Evaluator) Firing(alertname string) []Alert {
	var out []Alert
	for _, g := range e.groups {
		for _, ar := range g.AlertingRules() {
			if ar.Name() != alertname {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				if a.State == rules.StateFiring {
					out = append(out, Alert{Labels: a.Labels.Copy(), Annotations: a.Annotations.Copy()})
				}
			}
		}
	}
	sortAlerts(out)
	return out
}

// Query evaluates an instant query at ts with the Evaluator's engine. A
// scalar result is returned as one sample without labels.
func (e *Evaluator) Query(ctx context.Context, expr string, ts time.Time) (promql.Vector, error) {
	if err := subquery.CheckQuery(e.parser, expr, 0); err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	qry, err := e.engine.NewInstantQuery(ctx, e.q, nil, expr, ts)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, res.Err)
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
	default:
		return nil, fmt.Errorf("query %q: result is a %s, not a vector or scalar", expr, res.Value.Type())
	}
}

func sortAlerts(as []Alert) {
	slices.SortFunc(as, func(a, b Alert) int {
		if c := labels.Compare(a.Labels, b.Labels); c != 0 {
			return c
		}
		return labels.Compare(a.Annotations, b.Annotations)
	})
}

// fileLoader loads rule files from disk, as rules.FileLoader does, with
// the Evaluator's parser.
type fileLoader struct {
	p      parser.Parser
	logger *slog.Logger
}

func (l fileLoader) Load(name string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, []error{fmt.Errorf("reading rule file: %w", err)}
	}
	return parseRules(name, b, ignoreUnknownFields, scheme, l.p, l.logger)
}

func (l fileLoader) Parse(query string) (parser.Expr, error) { return l.p.ParseExpr(query) }

// fsLoader loads rule files from an fs.FS (the embedded pack).
type fsLoader struct {
	fsys   fs.FS
	p      parser.Parser
	logger *slog.Logger
}

func (l fsLoader) Load(name string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	b, err := fs.ReadFile(l.fsys, name)
	if err != nil {
		return nil, []error{fmt.Errorf("reading rule file: %w", err)}
	}
	return parseRules(name, b, ignoreUnknownFields, scheme, l.p, l.logger)
}

func (l fsLoader) Parse(query string) (parser.Expr, error) { return l.p.ParseExpr(query) }

// parseRules parses a rule file as rulefmt.ParseFile does, and refuses the
// subqueries the agent refuses (subquery.CheckRuleFile): the agent would
// not load the file, so it is not tested as if it would.
func parseRules(name string, b []byte, ignoreUnknownFields bool, scheme model.ValidationScheme, p parser.Parser, logger *slog.Logger) (*rulefmt.RuleGroups, []error) {
	rgs, errs := rulefmt.Parse(b, ignoreUnknownFields, scheme, p, logger)
	if len(errs) == 0 {
		for _, e := range subquery.CheckRuleFile(p, b) {
			errs = append(errs, e)
		}
	}
	for i, err := range errs {
		errs[i] = fmt.Errorf("%s: %w", name, err)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return rgs, nil
}
