// Package subquery bounds the work a PromQL subquery may ask of the engine.
//
// The engine allocates its per-step statistics for a subquery before it
// evaluates anything, so its sample limit and timeout come too late for
// count_over_time(up[100y:1ms]): one such expression makes it allocate
// terabytes. Every place that hands an expression to the engine — the HTTP
// API, `trainwatch query --data-dir`, rule files loaded by the agent,
// `trainwatch rules check` and `rules test` — refuses it first with Check.
package subquery

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// DefaultStep is the step of a subquery written without one (x[1h:]):
// Prometheus' default global evaluation_interval.
const DefaultStep = time.Minute

// MaxSteps bounds the steps one subquery may evaluate.
const MaxSteps = 1_000_000

// NoStepInterval is the engines' NoStepSubqueryIntervalFn. Without one, the
// engine fails every subquery that has no step with a nil function call.
func NoStepInterval(int64) int64 { return DefaultStep.Milliseconds() }

// Check refuses an expression one of whose subqueries would evaluate more
// than MaxSteps steps when the expression is evaluated over span (0 for an
// instant query or a rule). The count is an upper bound: a subquery spans
// the query's range plus its own and its enclosing subqueries' ranges;
// offsets move it and @ narrows it, neither widens it.
func Check(expr parser.Expr, span time.Duration) error {
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
			step = DefaultStep
		}
		if steps := total / float64(step.Milliseconds()); steps > MaxSteps {
			tooMany = fmt.Errorf("subquery %s would be evaluated at %.3g steps, more than the limit of %d: use a larger subquery step or a shorter range",
				sq, steps, MaxSteps)
		}
		return nil
	})
	return tooMany
}

// CheckQuery is Check for a query string. A query that does not parse is
// not refused here: the caller's own parse explains the error.
func CheckQuery(p parser.Parser, query string, span time.Duration) error {
	if !strings.Contains(query, ":") {
		return nil // no subquery: x[5m:1m] has a colon
	}
	expr, err := p.ParseExpr(query)
	if err != nil {
		return nil
	}
	return Check(expr, span)
}

// RuleError is a rule of a rule file whose expression Check refuses.
type RuleError struct {
	// Line and Column locate the rule's expr in the file (1-based): its
	// value, or the | or > of a block scalar.
	Line, Column int
	// Group names the group; Index (1-based) and Rule (its alert or
	// record name) the rule in it.
	Group, Rule string
	Index       int
	// Err is Check's refusal.
	Err error
}

// Error returns "line:column: group "G", rule N, "R": refusal", as
// rulefmt names rules in its errors.
func (e *RuleError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg())
}

// Msg is the message without the position.
func (e *RuleError) Msg() string {
	return fmt.Sprintf("group %q, rule %d, %q: %v", e.Group, e.Index, e.Rule, e.Err)
}

// Unwrap returns Check's refusal.
func (e *RuleError) Unwrap() error { return e.Err }

// CheckRuleFile checks every rule expression of a rule file that
// rulefmt.Parse accepted (its rules are evaluated as instant queries). A
// file or expression that does not parse is not refused here.
func CheckRuleFile(p parser.Parser, data []byte) []*RuleError {
	if !strings.Contains(string(data), ":") {
		return nil
	}
	var doc struct {
		Groups []rulefmt.RuleGroupNode `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil
	}
	var out []*RuleError
	for _, g := range doc.Groups {
		for i, r := range g.Rules {
			name := r.Alert.Value
			if name == "" {
				name = r.Record.Value
			}
			if err := CheckQuery(p, r.Expr.Value, 0); err != nil {
				out = append(out, &RuleError{Line: r.Expr.Line, Column: r.Expr.Column, Group: g.Name, Rule: name, Index: i + 1, Err: err})
			}
		}
	}
	return out
}
