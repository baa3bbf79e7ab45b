package ruleslint

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// The lint checks' names, as they appear in Finding.Check.
const (
	// CheckCounterFuncOnGauge: rate(), irate(), increase() or resets() of
	// a gauge.
	CheckCounterFuncOnGauge = "counter-function-on-gauge"
	// CheckGaugeFuncOnCounter: deriv(), delta(), idelta() or
	// predict_linear() of a counter.
	CheckGaugeFuncOnCounter = "gauge-function-on-counter"
	// CheckUsedOverFree: used / free presented as a usage ratio.
	CheckUsedOverFree = "used-over-free"
)

// issue is one lint finding in an expression, before it is placed in a
// file.
type issue struct {
	pos      int // byte offset in the expression
	severity Severity
	check    string
	msg      string
	// fix rewrites the AST in place; nil when there is no automatic
	// correction.
	fix func()
}

// linter lints one expression. It holds the AST under a root holder, so
// that a fix can replace the expression's top node too.
type linter struct {
	p      parser.Parser
	types  TypeSource
	holder *parser.ParenExpr
	issues []issue
}

// lint runs every lint on expr (an AST the parser p produced, which lint
// rewrites) and returns the issues in the order of the expression and, when
// any issue has a fix, the expression with all fixes applied.
func lint(p parser.Parser, expr parser.Expr, types TypeSource) ([]issue, string) {
	l := &linter{p: p, types: types, holder: &parser.ParenExpr{Expr: expr}}
	parser.Inspect(l.holder, func(n parser.Node, path []parser.Node) error {
		var parent parser.Node
		if len(path) > 0 {
			parent = path[len(path)-1]
		}
		switch n := n.(type) {
		case *parser.Call:
			l.call(n, parent)
		case *parser.BinaryExpr:
			if n.Op == parser.DIV {
				l.division(n)
			}
		}
		return nil
	})
	fixed := false
	// Inner nodes come after outer ones in the walk: fix them first, so
	// that an outer fix that copies a subtree copies the fixed one.
	for i := len(l.issues) - 1; i >= 0; i-- {
		if f := l.issues[i].fix; f != nil {
			f()
			fixed = true
		}
	}
	if !fixed {
		return l.issues, ""
	}
	return l.issues, l.holder.Expr.String()
}

// LintExpr parses a PromQL expression and lints it with the types from
// types (nil: only the lints that need no types). Each finding's Line and
// Column are relative to the expression (1-based); Corrected is the whole
// expression with every fix applied. The error is the parser's.
func LintExpr(expr string, types TypeSource) ([]Finding, error) {
	p := newParser()
	e, err := p.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	issues, corrected := lint(p, e, types)
	out := make([]Finding, 0, len(issues))
	for _, is := range issues {
		line, col := offsetLineCol(expr, is.pos)
		f := Finding{Line: line, Column: col, Severity: is.severity, Check: is.check, Lint: true, Message: is.msg, Expr: expr}
		if is.fix != nil {
			f.Corrected = corrected
		}
		out = append(out, f)
	}
	return out, nil
}

// offsetLineCol turns a byte offset of s into a 1-based line and column.
func offsetLineCol(s string, off int) (int, int) {
	off = min(max(off, 0), len(s))
	before := s[:off]
	line := strings.Count(before, "\n") + 1
	return line, off - strings.LastIndexByte(before, '\n')
}

func (l *linter) add(pos int, sev Severity, check, msg string, fix func()) {
	l.issues = append(l.issues, issue{pos: pos, severity: sev, check: check, msg: msg, fix: fix})
}

// clone copies an expression by printing and parsing it again.
func (l *linter) clone(e parser.Expr) parser.Expr {
	c, err := l.p.ParseExpr(e.String())
	if err != nil {
		return e // cannot happen: the printer's output parses
	}
	return c
}

// call checks a function call for a counter function applied to a gauge
// and a gauge function applied to a counter.
func (l *linter) call(c *parser.Call, parent parser.Node) {
	if l.types == nil || len(c.Args) == 0 {
		return
	}
	name := c.Func.Name
	var want collector.ValueType // the type the function is for
	switch name {
	case "rate", "irate", "increase", "resets":
		want = collector.Counter
	case "deriv", "delta", "idelta", "predict_linear":
		want = collector.Gauge
	default:
		return
	}
	metric, st, ok := l.rangeArgType(c.Args[0])
	if !ok || st.kind == want {
		return
	}
	pos := int(c.PositionRange().Start)
	rangeText := c.Args[0].String()
	switch {
	case st.kind == collector.Gauge && name == "resets":
		l.add(pos, Warning, CheckCounterFuncOnGauge, fmt.Sprintf(
			"resets() counts counter resets, but %s is %s: on a gauge it counts every decrease; "+
				"if that is what you mean, keep it, otherwise use changes() or delta()", metric, st.what), nil)
	case st.kind == collector.Gauge:
		repl, why := "deriv", "deriv() is the per-second slope of a gauge (a least-squares fit over the range)"
		if name == "increase" {
			repl, why = "delta", "delta() is a gauge's change over the range"
		}
		l.add(pos, Error, CheckCounterFuncOnGauge, fmt.Sprintf(
			"%s() assumes a counter, but %s is %s: every decrease of a gauge is read as a counter reset "+
				"and its previous value is added, so %s(%s) comes out positive even while the value falls; %s",
			name, metric, st.what, name, rangeText, why), l.rename(c, repl))
	case st.kind == collector.Counter && name == "predict_linear":
		horizon := "t"
		if len(c.Args) > 1 {
			horizon = c.Args[1].String()
		}
		l.add(pos, Warning, CheckGaugeFuncOnCounter, fmt.Sprintf(
			"predict_linear() fits a line to raw values, but %s is %s, which falls to 0 at every reset "+
				"(a restart), so the fit breaks; to forecast how much it grows in the next %s s use "+
				"rate(%s) * %s (the increase, not the absolute value)", metric, st.what, horizon, rangeText, horizon),
			l.predictFix(c, parent))
	case st.kind == collector.Counter:
		repl, why := "rate", "rate() is a counter's per-second increase, corrected for resets"
		switch name {
		case "delta":
			repl, why = "increase", "increase() is a counter's increase over the range, corrected for resets"
		case "idelta":
			repl, why = "irate", "irate() is a counter's per-second increase between the last two samples, corrected for resets"
		}
		l.add(pos, Error, CheckGaugeFuncOnCounter, fmt.Sprintf(
			"%s() is for gauges, but %s is %s, which falls to 0 at every reset (a restart): "+
				"%s(%s) then shows a huge drop; %s", name, metric, st.what, name, rangeText, why), l.rename(c, repl))
	}
}

// rename returns a fix that calls fn instead of c's function.
func (l *linter) rename(c *parser.Call, fn string) func() {
	f, ok := parser.Functions[fn]
	if !ok {
		return nil
	}
	return func() { c.Func = f }
}

// predictFix returns a fix that replaces predict_linear(v[r], t) with
// rate(v[r]) * t.
func (l *linter) predictFix(c *parser.Call, parent parser.Node) func() {
	if len(c.Args) != 2 || parent == nil {
		return nil
	}
	return func() {
		t := c.Args[1]
		if _, ok := unparen(t).(*parser.BinaryExpr); ok {
			t = &parser.ParenExpr{Expr: t}
		}
		var repl parser.Expr = &parser.BinaryExpr{
			Op:  parser.MUL,
			LHS: &parser.Call{Func: parser.Functions["rate"], Args: parser.Expressions{c.Args[0]}},
			RHS: t,
		}
		if needsParens(parent, parser.MUL) {
			repl = &parser.ParenExpr{Expr: repl}
		}
		replaceChild(parent, c, repl)
	}
}

// rangeArgType returns the metric and series type of a range argument: a
// matrix selector v[5m], or a subquery (v)[5m:1m] over a selector or a
// sum/min/max/avg of one.
func (l *linter) rangeArgType(arg parser.Expr) (string, seriesType, bool) {
	var inner parser.Expr
	switch a := unparen(arg).(type) {
	case *parser.MatrixSelector:
		inner = a.VectorSelector
	case *parser.SubqueryExpr:
		inner = a.Expr
	default:
		return "", seriesType{}, false
	}
	vs, ok := selectorOf(inner)
	if !ok {
		return "", seriesType{}, false
	}
	name := metricName(vs)
	st, ok := resolve(l.types, name)
	return name, st, ok
}

// selectorOf finds the selector whose type an expression has: the
// selector itself, or what a parenthesis or a sum/min/max/avg aggregation
// (which keep the type) encloses.
func selectorOf(e parser.Expr) (*parser.VectorSelector, bool) {
	for {
		switch n := e.(type) {
		case *parser.VectorSelector:
			return n, true
		case *parser.ParenExpr:
			e = n.Expr
		case *parser.AggregateExpr:
			switch n.Op {
			case parser.SUM, parser.MIN, parser.MAX, parser.AVG:
				e = n.Expr
			default:
				return nil, false
			}
		default:
			return nil, false
		}
	}
}

// metricName is the metric name a selector selects: its name, or an
// equality matcher on __name__.
func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// division checks A / B for a "used over free" ratio: A used and B free of
// the same resource (DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE), or
// (T - F) / F with F a free or available amount
// ((node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) /
// node_memory_MemAvailable_bytes). Both are the odds used/free, not a share
// of the total.
func (l *linter) division(d *parser.BinaryExpr) {
	free, ok := operandMetric(d.RHS)
	if !ok || !isFreeLike(free) {
		return
	}
	pos := int(d.LHS.PositionRange().Start)
	const odds = "that is the odds used/free, not a share of the total: u/(1-u) for a used fraction u " +
		"(1 at 50 % used, 9 at 90 %, unbounded as free nears 0), so \"* 100 > 90\" on it fires at about 47 % used"
	// (T - F) / F
	if sub, ok := unparen(d.LHS).(*parser.BinaryExpr); ok && sub.Op == parser.SUB {
		if f2, ok := operandMetric(sub.RHS); ok && f2 == free {
			total := sub.LHS
			l.add(pos, Error, CheckUsedOverFree, fmt.Sprintf(
				"%s divides the used amount by the free amount %s: %s; divide by the total, %s",
				d.LHS.String()+" / "+d.RHS.String(), free, odds, total.String()),
				func() {
					t := l.clone(total)
					if _, ok := unparen(t).(*parser.BinaryExpr); ok {
						t = &parser.ParenExpr{Expr: t}
					}
					d.RHS = t
				})
			return
		}
	}
	// A / B, or k * A / B
	used := d.LHS
	if m, ok := unparen(used).(*parser.BinaryExpr); ok && m.Op == parser.MUL {
		switch {
		case isNumber(m.LHS):
			used = m.RHS
		case isNumber(m.RHS):
			used = m.LHS
		}
	}
	um, ok := operandMetric(used)
	if !ok || !isUsedLike(um) || stem(um) != stem(free) {
		return
	}
	l.add(pos, Error, CheckUsedOverFree, fmt.Sprintf(
		"%s / %s divides used by free: %s; divide by the total, %s + %s",
		um, free, odds, um, free),
		func() {
			var vm *parser.VectorMatching
			if d.VectorMatching != nil {
				c := *d.VectorMatching
				vm = &c
			}
			d.RHS = &parser.ParenExpr{Expr: &parser.BinaryExpr{
				Op:             parser.ADD,
				LHS:            l.clone(used),
				RHS:            d.RHS,
				VectorMatching: vm,
			}}
		})
}

func isNumber(e parser.Expr) bool {
	_, ok := unparen(e).(*parser.NumberLiteral)
	return ok
}

// operandMetric is the metric an operand of a ratio is about: a selector,
// possibly in parentheses, aggregated with sum/min/max/avg, or smoothed with
// avg/min/max/last_over_time.
func operandMetric(e parser.Expr) (string, bool) {
	e = unparen(e)
	if c, ok := e.(*parser.Call); ok && len(c.Args) == 1 {
		switch c.Func.Name {
		case "avg_over_time", "min_over_time", "max_over_time", "last_over_time":
			if ms, ok := unparen(c.Args[0]).(*parser.MatrixSelector); ok {
				e = ms.VectorSelector
			}
		}
	}
	vs, ok := selectorOf(e)
	if !ok {
		return "", false
	}
	n := metricName(vs)
	return n, n != ""
}

// nameWords splits a metric name into lower-case words at underscores,
// colons and lower-to-upper case changes: node_memory_MemFree_bytes is
// node, memory, mem, free, bytes.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range name {
		switch {
		case r == '_' || r == ':':
			flush()
		case unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return words
}

func hasWord(name string, words ...string) bool {
	for _, w := range nameWords(name) {
		for _, x := range words {
			if w == x {
				return true
			}
		}
	}
	return false
}

func isFreeLike(name string) bool { return hasWord(name, "free", "avail", "available") }
func isUsedLike(name string) bool { return hasWord(name, "used") }

// stem is a name with its used/free/available word replaced by "*", so
// that a used metric and its free counterpart have the same stem.
func stem(name string) string {
	words := nameWords(name)
	for i, w := range words {
		switch w {
		case "used", "free", "avail", "available":
			words[i] = "*"
		}
	}
	return strings.Join(words, "_")
}

// needsParens reports whether an expression with the binary operator op
// must be parenthesised to replace a child of parent.
func needsParens(parent parser.Node, op parser.ItemType) bool {
	switch p := parent.(type) {
	case *parser.BinaryExpr:
		return precedence(p.Op) >= precedence(op)
	case *parser.UnaryExpr:
		return true
	}
	return false
}

// precedence follows PromQL's binary operator precedence, lowest first.
func precedence(op parser.ItemType) int {
	switch op {
	case parser.LOR:
		return 1
	case parser.LAND, parser.LUNLESS:
		return 2
	case parser.EQLC, parser.NEQ, parser.LTE, parser.LSS, parser.GTE, parser.GTR:
		return 3
	case parser.ADD, parser.SUB:
		return 4
	case parser.MUL, parser.DIV, parser.MOD, parser.ATAN2:
		return 5
	case parser.POW:
		return 6
	}
	return 7
}

// replaceChild replaces the child old of parent with repl.
func replaceChild(parent parser.Node, old, repl parser.Expr) {
	switch p := parent.(type) {
	case *parser.ParenExpr:
		if p.Expr == old {
			p.Expr = repl
		}
	case *parser.BinaryExpr:
		if p.LHS == old {
			p.LHS = repl
		}
		if p.RHS == old {
			p.RHS = repl
		}
	case *parser.Call:
		for i, a := range p.Args {
			if a == old {
				p.Args[i] = repl
			}
		}
	case *parser.AggregateExpr:
		if p.Expr == old {
			p.Expr = repl
		}
		if p.Param == old {
			p.Param = repl
		}
	case *parser.UnaryExpr:
		if p.Expr == old {
			p.Expr = repl
		}
	case *parser.SubqueryExpr:
		if p.Expr == old {
			p.Expr = repl
		}
	case *parser.StepInvariantExpr:
		if p.Expr == old {
			p.Expr = repl
		}
	}
}
