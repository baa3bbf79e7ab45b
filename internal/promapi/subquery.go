package promapi

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	v1 "github.com/prometheus/prometheus/web/api/v1"
)

// defaultSubqueryStep is the step of a subquery written without one
// (x[1h:]): Prometheus' default global evaluation_interval.
const defaultSubqueryStep = time.Minute

// noStepSubqueryInterval is the engines' NoStepSubqueryIntervalFn. Without
// one, the engine fails every subquery that has no step with a nil
// function call.
func noStepSubqueryInterval(int64) int64 { return defaultSubqueryStep.Milliseconds() }

// maxSubquerySteps bounds the steps one subquery may evaluate. The engine
// allocates 16 bytes of statistics per subquery step before it evaluates
// anything, so its sample limit and timeout come too late for
// count_over_time(up[100y:1ms]): without this bound, one request would
// make the agent allocate terabytes and crash.
const maxSubquerySteps = 1_000_000

// checkSubqueries refuses a query one of whose subqueries would evaluate
// more than maxSubquerySteps steps when the query is evaluated over span
// (0 for an instant query). The count is an upper bound: a subquery spans
// the query's range plus its own and its enclosing subqueries' ranges;
// offsets move it and @ narrows it, neither widens it. A query that does
// not parse is left to the API, which explains the parse error.
func checkSubqueries(p parser.Parser, query string, span time.Duration) error {
	if !strings.Contains(query, ":") {
		return nil // no subquery: x[5m:1m] has a colon
	}
	expr, err := p.ParseExpr(query)
	if err != nil {
		return nil
	}
	var tooMany error
	parser.Inspect(expr, func(n parser.Node, path []parser.Node) error {
		sq, ok := n.(*parser.SubqueryExpr)
		if !ok || tooMany != nil {
			return nil
		}
		total := float64(span.Milliseconds()) + float64(sq.Range.Milliseconds())
		for _, outer := range path {
			if o, ok := outer.(*parser.SubqueryExpr); ok {
				total += float64(o.Range.Milliseconds())
			}
		}
		step := sq.Step
		if step <= 0 {
			step = defaultSubqueryStep
		}
		if steps := total / float64(step.Milliseconds()); steps > maxSubquerySteps {
			tooMany = fmt.Errorf("subquery %s would be evaluated at %.3g steps, more than the limit of %d: use a larger subquery step or a shorter range",
				sq, steps, maxSubquerySteps)
		}
		return nil
	})
	return tooMany
}

// querySpan returns the time a range query's start and end parameters
// span, read as the API reads them; 0 when they do not parse (the API then
// refuses the query itself).
func querySpan(start, end string) time.Duration {
	s, err1 := apiTime(start)
	e, err2 := apiTime(end)
	if err1 != nil || err2 != nil || !e.After(s) {
		return 0
	}
	return e.Sub(s) // at most 292 years: enough to refuse what matters
}

// apiTime reads a time parameter as the Prometheus API does: Unix seconds,
// RFC 3339, or its own formatting of the beginning and end of time.
func apiTime(s string) (time.Time, error) {
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		s, ns := math.Modf(t)
		ns = math.Round(ns*1000) / 1000
		return time.Unix(int64(s), int64(ns*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case v1.MinTime.Format(time.RFC3339Nano):
		return v1.MinTime, nil
	case v1.MaxTime.Format(time.RFC3339Nano):
		return v1.MaxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}
