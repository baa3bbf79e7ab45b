// Package ruletest runs Prometheus rule unit tests written in promtool's
// test format (rule_files, evaluation_interval, input_series in expanding
// notation, alert_rule_test with exp_alerts, promql_expr_test) in process,
// with the Prometheus rules package and PromQL engine that the agent links
// (github.com/prometheus/prometheus v0.316.0), so that a rule pack is
// tested against the engine that will evaluate it, not only against
// whatever promtool is installed.
//
// The semantics are promtool's: each test group's series are loaded into an
// empty TSDB up to each evaluation time (never ahead of it), every rule
// group is evaluated at each evaluation_interval step from the start to the
// latest eval_time, and an alert_rule_test compares the firing alerts of
// its alertname (labels with alertname, and all templated annotations)
// with exp_alerts at the step that covers its eval_time. One difference: an
// alert_rule_test whose alertname no rule has is an error here, where
// promtool passes it vacuously.
//
//	failures, err := ruletest.Run("rules/tests/gpu.yml")
//
// Storage and Evaluator are exported for benchmarks and other tests that
// evaluate rules over their own data.
package ruletest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Failure is one expectation of a test file that was not met, or an
// evaluation that failed.
type Failure struct {
	// Test is the test group's name, or "#N" for the Nth unnamed one
	// (from 0).
	Test string
	// EvalTime is when the check was made, from the test's start.
	EvalTime time.Duration
	// Alertname is the alert of an alert_rule_test.
	Alertname string
	// Expr is the expression of a promql_expr_test.
	Expr string
	// Want and Got are the expected and the firing alerts of an
	// alert_rule_test, sorted.
	Want, Got []Alert
	// WantSamples and GotSamples are the expected and the computed values
	// of a promql_expr_test, sorted by labels.
	WantSamples, GotSamples []Sample
	// Err is why a check could not be made: a rule or query that failed,
	// bad expected labels.
	Err error
}

// Sample is a value of a promql_expr_test.
type Sample struct {
	Labels labels.Labels
	Value  float64
}

// String returns "labels value".
func (s Sample) String() string {
	return s.Labels.String() + " " + strconv.FormatFloat(s.Value, 'g', -1, 64)
}

// String describes the failure on several lines.
func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "test %s, ", f.Test)
	switch {
	case f.Alertname != "":
		fmt.Fprintf(&b, "alert %s", f.Alertname)
	case f.Expr != "":
		fmt.Fprintf(&b, "expr %q", f.Expr)
	default:
		b.WriteString("evaluation")
	}
	fmt.Fprintf(&b, " at %s:", f.EvalTime)
	if f.Err != nil {
		fmt.Fprintf(&b, " %v", f.Err)
		return b.String()
	}
	list := func(title string, items []string) {
		fmt.Fprintf(&b, "\n  %s:", title)
		if len(items) == 0 {
			b.WriteString(" none")
		}
		for _, it := range items {
			fmt.Fprintf(&b, "\n    %s", it)
		}
	}
	if f.Alertname != "" {
		list("want", strs(f.Want))
		list("got", strs(f.Got))
	} else {
		list("want", strs(f.WantSamples))
		list("got", strs(f.GotSamples))
	}
	return b.String()
}

func strs[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

// Run reads the test file and runs all its test groups. It returns the
// unmet expectations (none: the file passes); the error is for a file that
// cannot be run (unreadable, malformed, rules that do not load, series that
// do not parse, a test naming an alert no rule has).
func Run(testFile string) ([]Failure, error) {
	f, err := ReadFile(testFile)
	if err != nil {
		return nil, err
	}
	fails, err := f.Run(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", testFile, err)
	}
	return fails, nil
}

// Run runs every test group of f (whose RuleFiles are paths to read, as
// ReadFile leaves them).
func (f *File) Run(ctx context.Context) ([]Failure, error) {
	var fails []Failure
	for i := range f.Tests {
		fs, err := f.runGroup(ctx, i)
		if err != nil {
			return nil, err
		}
		fails = append(fails, fs...)
	}
	return fails, nil
}

// runGroup runs one test group in a storage of its own.
func (f *File) runGroup(ctx context.Context, i int) (_ []Failure, err error) {
	tg := &f.Tests[i]
	name := tg.Name
	if name == "" {
		name = "#" + strconv.Itoa(i)
	}
	wrap := func(err error) error { return fmt.Errorf("test %s: %w", name, err) }

	start := time.Unix(0, 0).UTC()
	if !tg.StartTimestamp.IsZero() {
		start = tg.StartTimestamp.Time
	}
	p := parser.NewParser(parser.Options{})
	in, err := parseInput(p, tg.InputSeries, start, time.Duration(tg.Interval))
	if err != nil {
		return nil, wrap(err)
	}
	st, err := NewStorage()
	if err != nil {
		return nil, wrap(err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = wrap(cerr)
		}
	}()
	ev, err := NewEvaluator(st, EvalOptions{
		Interval:       time.Duration(tg.Interval),
		ExternalLabels: tg.ExternalLabels,
		ExternalURL:    tg.ExternalURL,
		GroupOrder:     f.GroupEvalOrder,
	}, f.RuleFiles...)
	if err != nil {
		return nil, wrap(err)
	}

	alertNames := map[string]bool{}
	for _, g := range ev.Groups() {
		for _, ar := range g.AlertingRules() {
			alertNames[ar.Name()] = true
		}
	}
	var last time.Duration
	byTime := map[time.Duration][]AlertTest{}
	for _, at := range tg.AlertRuleTests {
		t := time.Duration(at.EvalTime)
		switch {
		case at.Alertname == "":
			return nil, wrap(fmt.Errorf("an alert_rule_test at eval_time %s has no alertname", t))
		case !alertNames[at.Alertname]:
			return nil, wrap(fmt.Errorf("alert_rule_test at eval_time %s: no rule has the alertname %q", t, at.Alertname))
		}
		byTime[t] = append(byTime[t], at)
		last = max(last, t)
	}
	for _, et := range tg.PromQLExprTests {
		last = max(last, time.Duration(et.EvalTime))
	}
	times := make([]time.Duration, 0, len(byTime))
	for t := range byTime {
		times = append(times, t)
	}
	slices.Sort(times)

	step := time.Duration(f.EvaluationInterval)
	var fails []Failure
	next := 0
	for ts := start; !ts.After(start.Add(last)); ts = ts.Add(step) {
		if err := in.appendTill(ctx, st, ts); err != nil {
			return nil, wrap(err)
		}
		if errs := ev.Eval(ctx, ts); len(errs) > 0 {
			// As promtool: the group's remaining checks are meaningless.
			return append(fails, Failure{Test: name, EvalTime: ts.Sub(start), Err: errors.Join(errs...)}), nil
		}
		// An eval_time is checked at the step that covers it:
		// step <= eval_time < step + evaluation_interval.
		for next < len(times) && times[next] < ts.Sub(start)+step {
			t := times[next]
			next++
			for _, at := range byTime[t] {
				want := expected(at)
				got := ev.Firing(at.Alertname)
				if !slices.EqualFunc(want, got, alertEqual) {
					fails = append(fails, Failure{Test: name, EvalTime: t, Alertname: at.Alertname, Want: want, Got: got})
				}
			}
		}
	}

	for _, et := range tg.PromQLExprTests {
		if fl, ok := checkExpr(ctx, ev, p, et, start, f.FuzzyCompare); !ok {
			fl.Test = name
			fails = append(fails, fl)
		}
	}
	return fails, nil
}

// expected returns an alert test's expected alerts, with alertname added
// to their labels, sorted.
func expected(at AlertTest) []Alert {
	out := make([]Alert, 0, len(at.ExpAlerts))
	for _, ea := range at.ExpAlerts {
		b := labels.NewBuilder(labels.FromMap(ea.ExpLabels))
		b.Set(labels.AlertName, at.Alertname)
		out = append(out, Alert{Labels: b.Labels(), Annotations: labels.FromMap(ea.ExpAnnotations)})
	}
	sortAlerts(out)
	return out
}

func alertEqual(a, b Alert) bool {
	return labels.Equal(a.Labels, b.Labels) && labels.Equal(a.Annotations, b.Annotations)
}

// checkExpr evaluates a promql_expr_test; ok is false with a Failure when
// the values differ or cannot be computed.
func checkExpr(ctx context.Context, ev *Evaluator, p parser.Parser, et ExprTest, start time.Time, fuzzy bool) (Failure, bool) {
	fl := Failure{EvalTime: time.Duration(et.EvalTime), Expr: et.Expr}
	for _, s := range et.ExpSamples {
		lset, err := p.ParseMetric(s.Labels)
		if err != nil {
			fl.Err = fmt.Errorf("exp_samples labels %q: %w", s.Labels, err)
			return fl, false
		}
		fl.WantSamples = append(fl.WantSamples, Sample{Labels: lset, Value: s.Value})
	}
	vec, err := ev.Query(ctx, et.Expr, start.Add(time.Duration(et.EvalTime)))
	if err != nil {
		fl.Err = err
		return fl, false
	}
	for _, s := range vec {
		if s.H != nil {
			fl.Err = errors.New("the expression returns histograms, which promql_expr_test values here cannot express")
			return fl, false
		}
		fl.GotSamples = append(fl.GotSamples, Sample{Labels: s.Metric, Value: s.F})
	}
	bySeries := func(a, b Sample) int { return labels.Compare(a.Labels, b.Labels) }
	slices.SortFunc(fl.WantSamples, bySeries)
	slices.SortFunc(fl.GotSamples, bySeries)
	eq := slices.EqualFunc(fl.WantSamples, fl.GotSamples, func(a, b Sample) bool {
		if !labels.Equal(a.Labels, b.Labels) {
			return false
		}
		return a.Value == b.Value || fuzzy && (math.Nextafter(a.Value, math.Inf(-1)) == b.Value || math.Nextafter(a.Value, math.Inf(1)) == b.Value)
	})
	return fl, eq
}

// input is a test group's series, appended up to each evaluation time.
type input struct {
	series []*inputSeries
}

type inputSeries struct {
	lset    labels.Labels
	samples []inputSample
	next    int // first sample not yet appended
}

type inputSample struct {
	t  int64
	v  float64
	fh *histogram.FloatHistogram
}

// parseInput expands the input series: value i is at start + i × step;
// omitted values ("_") have no sample.
func parseInput(p parser.Parser, in []InputSeries, start time.Time, step time.Duration) (*input, error) {
	out := &input{}
	for _, is := range in {
		lset, vals, err := p.ParseSeriesDesc(is.Series + " " + is.Values)
		if err != nil {
			return nil, fmt.Errorf("input series %s %q: %w", is.Series, is.Values, err)
		}
		s := &inputSeries{lset: lset}
		for i, v := range vals {
			if v.Omitted {
				continue
			}
			t := start.Add(time.Duration(i) * step).UnixMilli()
			s.samples = append(s.samples, inputSample{t: t, v: v.Value, fh: v.Histogram})
		}
		out.series = append(out.series, s)
	}
	return out, nil
}

// appendTill appends every sample at or before ts not yet appended, in one
// commit.
func (in *input) appendTill(ctx context.Context, st storage.AppendableV2, ts time.Time) error {
	tms := ts.UnixMilli()
	app := st.AppenderV2(ctx)
	for _, s := range in.series {
		for ; s.next < len(s.samples) && s.samples[s.next].t <= tms; s.next++ {
			smp := s.samples[s.next]
			if _, err := app.Append(0, s.lset, 0, smp.t, smp.v, nil, smp.fh, storage.AOptions{}); err != nil {
				_ = app.Rollback()
				return fmt.Errorf("appending %s at %s: %w", s.lset, time.UnixMilli(smp.t).UTC().Format(time.RFC3339), err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("committing input series: %w", err)
	}
	return nil
}
