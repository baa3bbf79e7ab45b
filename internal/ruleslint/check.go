// Package ruleslint checks Prometheus rule files the way `promtool check
// rules` does (YAML structure, PromQL syntax, templates, recording-rule
// fields, duplicate rules), with positions in the file, and adds a
// type-aware lint for mistakes that parse but compute the wrong thing:
//
//   - rate(), irate(), increase() or resets() of a gauge (rate() reads every
//     decrease of a gauge as a counter reset: rate(training_loss[5m]) > 0 is
//     true while the loss falls); deriv() or delta() is meant;
//   - deriv(), delta(), idelta() or predict_linear() of a counter (broken by
//     resets); rate(), increase() or irate() is meant;
//   - used / free presented as a usage ratio
//     (DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE * 100 is 900 at 90 % used);
//     used / (used + free) is meant.
//
// Each lint finding carries the corrected expression, produced by rewriting
// the PromQL syntax tree. Metric types come from a TypeSource: the agent's
// own collectors, a server's /api/v1/metadata, or a map; metrics it does not
// know are not type-linted.
package ruleslint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/subquery"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// Severity says whether a finding fails the check.
type Severity int

// Severities, mildest first.
const (
	// Warning is reported but does not fail the check.
	Warning Severity = iota
	// Error fails the check.
	Error
)

// String returns "warning" or "error".
func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// The checks that are not lints, as they appear in Finding.Check.
const (
	// CheckYAML: the file is not valid YAML or has unknown or mistyped
	// fields.
	CheckYAML = "yaml"
	// CheckGroup: a group's name is missing or repeated, or its labels are
	// invalid.
	CheckGroup = "group"
	// CheckRule: a rule's fields are invalid (record and alert both or
	// neither set, for: on a recording rule, an invalid name or label).
	CheckRule = "rule"
	// CheckSyntax: the expression does not parse.
	CheckSyntax = "syntax"
	// CheckSubquery: a subquery would take the engine more steps than the
	// agent allows (subquery.MaxSteps); the agent refuses the file.
	CheckSubquery = "subquery"
	// CheckTemplate: a label or annotation template does not parse.
	CheckTemplate = "template"
	// CheckDuplicate: two rules have the same name and labels (promtool's
	// duplicate-rules lint).
	CheckDuplicate = "duplicate"
	// CheckDocuments: the file has more than one YAML document; Prometheus
	// reads the first only.
	CheckDocuments = "documents"
)

// Finding is one problem in a rule file.
type Finding struct {
	// Line and Column are 1-based positions in the file (in the
	// expression for LintExpr); 0 when unknown.
	Line, Column int
	Severity     Severity
	// Check names the check that found it (the Check* constants).
	Check string
	// Lint is true for the type-aware lint findings (CheckCounterFuncOnGauge,
	// CheckGaugeFuncOnCounter, CheckUsedOverFree), which a caller may
	// downgrade to warnings or skip; false for what promtool also rejects.
	Lint bool
	// Group and Rule name where it is: the group's name and the rule's
	// alert or record name ("" for file-level findings).
	Group, Rule string
	// Message says what is wrong and why, in one line.
	Message string
	// Expr is the rule's expression as written (for expression findings).
	Expr string
	// Corrected is the rule's expression with every lint fix applied, or
	// "" when the finding has no automatic correction.
	Corrected string
}

// Report is the result of checking one file.
type Report struct {
	File string
	// Rules counts the rules the file defines (0 when it does not parse).
	Rules    int
	Findings []Finding
}

// Count returns the number of findings of the given severity.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Check reads and checks the rule file at path; types is used for the
// type-aware lint (nil: the lints that need no types only). The error is
// for a file that cannot be read; everything wrong inside it is a finding.
func Check(path string, types TypeSource) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	return CheckBytes(path, data, types), nil
}

// newParser returns the PromQL parser promtool and Prometheus use by
// default (no experimental functions).
func newParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// CheckBytes checks the content of a rule file; file names it in the
// report.
func CheckBytes(file string, data []byte, types TypeSource) *Report {
	rep := &Report{File: file}
	c := &checker{rep: rep, lines: strings.Split(string(data), "\n"), p: newParser(), types: types}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil {
		c.tree = parseTree(&doc)
	}
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, c.p, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		c.fromRulefmt(err)
	}
	if hasSecondDocument(data) {
		c.add(Finding{Line: secondDocumentLine(c.lines), Severity: Warning, Check: CheckDocuments,
			Message: "the file has more than one YAML document; Prometheus reads only the first"})
	}
	if groups != nil {
		c.rules(groups)
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Line < rep.Findings[j].Line })
	return rep
}

// checker holds the state of one CheckBytes call.
type checker struct {
	rep   *Report
	lines []string
	tree  []groupPos
	p     parser.Parser
	types TypeSource
	// groupErrs counts the group-level errors seen per message, to place
	// the nth repeat of one.
	groupErrs map[string]int
}

// add records a finding once (rulefmt reports a YAML syntax error from
// each of its two decodings).
func (c *checker) add(f Finding) {
	for _, g := range c.rep.Findings {
		if g.Line == f.Line && g.Check == f.Check && g.Message == f.Message {
			return
		}
	}
	c.rep.Findings = append(c.rep.Findings, f)
}

// groupPos and rulePos are where a group's and a rule's parts are in the
// file.
type groupPos struct {
	line   int
	name   string
	labels *yaml.Node
	rules  []rulePos
}

type rulePos struct {
	line                int // the rule's first key
	record, alert, expr *yaml.Node
	labels, annotations *yaml.Node
}

// parseTree finds the groups and rules in a YAML document. It tolerates
// any shape: what is not there is left nil.
func parseTree(doc *yaml.Node) []groupPos {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	gs := mapValue(doc.Content[0], "groups")
	if gs == nil || gs.Kind != yaml.SequenceNode {
		return nil
	}
	var out []groupPos
	for _, g := range gs.Content {
		gp := groupPos{line: g.Line, labels: mapValue(g, "labels")}
		if n := mapValue(g, "name"); n != nil {
			gp.name = n.Value
		}
		if rs := mapValue(g, "rules"); rs != nil && rs.Kind == yaml.SequenceNode {
			for _, r := range rs.Content {
				gp.rules = append(gp.rules, rulePos{
					line:        r.Line,
					record:      mapValue(r, "record"),
					alert:       mapValue(r, "alert"),
					expr:        mapValue(r, "expr"),
					labels:      mapValue(r, "labels"),
					annotations: mapValue(r, "annotations"),
				})
			}
		}
		out = append(out, gp)
	}
	return out
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// mapKeyLine returns the line of key in a mapping node, or 0.
func mapKeyLine(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return 0
}

// rule returns the position of rule ri (0-based) of the group named group,
// or nil.
func (c *checker) rule(group string, ri int) *rulePos {
	for gi := range c.tree {
		if g := &c.tree[gi]; g.name == group && ri < len(g.rules) {
			return &g.rules[ri]
		}
	}
	return nil
}

var (
	// posPrefix matches the "LINE:COL: " prefixes rulefmt puts on errors
	// that have a position.
	posPrefix = regexp.MustCompile(`^(\d+):(\d+): `)
	// yamlLine matches a YAML error's position.
	yamlLine = regexp.MustCompile(`^\s*(?:yaml: )?line (\d+): (.*)$`)
	// keyInMessage finds the label or annotation an error is about.
	keyInMessage = regexp.MustCompile(`^(?:(label|annotation) "([^"]*)": |invalid (label|annotation) name: (.*)$)`)
)

// stripPositions removes rulefmt's position prefixes from a message and
// returns the first non-zero position.
func stripPositions(msg string) (string, int, int) {
	line, col := 0, 0
	for {
		m := posPrefix.FindStringSubmatch(msg)
		if m == nil {
			return msg, line, col
		}
		if l, _ := strconv.Atoi(m[1]); l > 0 && line == 0 {
			line = l
			col, _ = strconv.Atoi(m[2])
		}
		msg = msg[len(m[0]):]
	}
}

// fromRulefmt turns one of rulefmt.Parse's errors into findings.
func (c *checker) fromRulefmt(err error) {
	var re *rulefmt.Error
	if errors.As(err, &re) {
		c.fromRuleError(re)
		return
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "yaml:") {
		found := false
		for _, l := range strings.Split(msg, "\n") {
			if m := yamlLine.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				c.add(Finding{Line: n, Severity: Error, Check: CheckYAML, Message: m[2]})
				found = true
			}
		}
		if !found {
			c.add(Finding{Severity: Error, Check: CheckYAML, Message: strings.TrimPrefix(msg, "yaml: ")})
		}
		return
	}
	msg, line, col := stripPositions(msg)
	if line == 0 {
		line = c.groupErrorLine(msg)
	}
	c.add(Finding{Line: line, Column: col, Severity: Error, Check: CheckGroup, Message: msg})
}

var (
	repeatedGroup = regexp.MustCompile(`^groupname: "(.*)" is repeated`)
	invalidLabel  = regexp.MustCompile(`^invalid label name: (.*)$`)
)

// groupErrorLine finds the line of a group-level error, which rulefmt
// reports without a position: a repeated or missing group name, an
// invalid group label. It returns 0 when it cannot tell.
func (c *checker) groupErrorLine(msg string) int {
	nth := func(match func(g *groupPos) bool, n int) int {
		for i := range c.tree {
			if match(&c.tree[i]) {
				if n == 0 {
					return c.tree[i].line
				}
				n--
			}
		}
		return 0
	}
	if c.groupErrs == nil {
		c.groupErrs = map[string]int{}
	}
	switch {
	case strings.HasPrefix(msg, "Groupname must not be empty"):
		n := c.groupErrs[msg]
		c.groupErrs[msg]++
		return nth(func(g *groupPos) bool { return g.name == "" }, n)
	case repeatedGroup.MatchString(msg):
		name := repeatedGroup.FindStringSubmatch(msg)[1]
		n := c.groupErrs[msg] + 1 // the first occurrence is not the repeat
		c.groupErrs[msg]++
		return nth(func(g *groupPos) bool { return g.name == name }, n)
	case invalidLabel.MatchString(msg):
		key := invalidLabel.FindStringSubmatch(msg)[1]
		for _, g := range c.tree {
			if l := mapKeyLine(g.labels, key); l > 0 {
				return l
			}
		}
	}
	return 0
}

// fromRuleError turns a rulefmt error about one rule into a finding.
func (c *checker) fromRuleError(re *rulefmt.Error) {
	inner := (&re.Err).Unwrap()
	if inner == nil {
		return
	}
	var pe parser.ParseErrors
	if errors.As(inner, &pe) {
		return // reported with its position in the expression by rules()
	}
	_, line, col := stripPositions(re.Err.Error())
	msg := inner.Error()
	check := CheckRule
	pos := c.rule(re.Group, re.Rule-1)
	if m := keyInMessage.FindStringSubmatch(msg); m != nil {
		kind, key := m[1], m[2]
		if kind == "" {
			kind, key = m[3], m[4]
		} else {
			check = CheckTemplate
		}
		if pos != nil && line == 0 {
			field := pos.labels
			if kind == "annotation" {
				field = pos.annotations
			}
			line = mapKeyLine(field, key)
		}
	}
	if line == 0 && pos != nil {
		line = pos.line
	}
	c.add(Finding{Line: line, Column: col, Severity: Error, Check: check, Group: re.Group, Rule: re.RuleName,
		Message: ruleLabel(re, pos) + ": " + msg})
}

// ruleLabel names the rule of a rulefmt error in a message: alert "X",
// record "x", or its index when it has no name.
func ruleLabel(re *rulefmt.Error, pos *rulePos) string {
	if re.RuleName == "" {
		return fmt.Sprintf("rule %d of group %q", re.Rule, re.Group)
	}
	kind := "rule"
	switch {
	case pos != nil && pos.alert != nil && pos.alert.Value == re.RuleName:
		kind = "alert"
	case pos != nil && pos.record != nil && pos.record.Value == re.RuleName:
		kind = "record"
	}
	return kind + " " + strconv.Quote(re.RuleName)
}

// rules checks each rule's expression and the file's rules for
// duplicates.
func (c *checker) rules(groups *rulefmt.RuleGroups) {
	type key struct {
		name   string
		labels uint64
	}
	seen := map[key]int{}
	for gi, g := range groups.Groups {
		for ri, r := range g.Rules {
			c.rep.Rules++
			var pos *rulePos
			if gi < len(c.tree) && ri < len(c.tree[gi].rules) {
				pos = &c.tree[gi].rules[ri]
			}
			name, kind := r.Alert, "alert"
			if name == "" {
				name, kind = r.Record, "record"
			}
			line := 0
			if pos != nil {
				line = pos.line
			}
			k := key{kind + " " + name, labelKey(g.Labels, r.Labels)}
			if first, ok := seen[k]; ok {
				why := "both write samples to the same series"
				if kind == "alert" {
					why = "their alerts carry the same labels, so Alertmanager cannot tell them apart"
				}
				c.add(Finding{Line: line, Severity: Warning, Check: CheckDuplicate, Group: g.Name, Rule: name,
					Message: fmt.Sprintf("%s %q has the same name and labels as the rule at line %d: %s",
						kind, name, first, why)})
			} else {
				seen[k] = line
			}
			if r.Expr != "" {
				c.expr(g.Name, name, kind+" "+strconv.Quote(name), r.Expr, pos)
			}
		}
	}
}

// labelKey is a signature of a rule's labels merged over its group's.
func labelKey(group, rule map[string]string) uint64 {
	m := make(map[string]string, len(group)+len(rule))
	for k, v := range group {
		m[k] = v
	}
	for k, v := range rule {
		m[k] = v
	}
	return model.LabelsToSignature(m)
}

// expr parses and lints one rule's expression; label names the rule in
// messages (alert "X").
func (c *checker) expr(group, rule, label, src string, pos *rulePos) {
	var node *yaml.Node
	if pos != nil {
		node = pos.expr
	}
	e, err := c.p.ParseExpr(src)
	if err != nil {
		var pe parser.ParseErrors
		if !errors.As(err, &pe) || len(pe) == 0 {
			line, col := c.exprPos(node, src, 0)
			c.add(Finding{Line: line, Column: col, Severity: Error, Check: CheckSyntax, Group: group, Rule: rule,
				Message: fmt.Sprintf("%s: could not parse expression: %v", label, err), Expr: src})
			return
		}
		// The parser stops at the first error; report that one.
		p := pe[0]
		line, col := c.exprPos(node, src, int(p.PositionRange.Start))
		c.add(Finding{Line: line, Column: col, Severity: Error, Check: CheckSyntax, Group: group, Rule: rule,
			Message: fmt.Sprintf("%s: could not parse expression: %v", label, p.Err), Expr: src})
		return
	}
	if err := subquery.Check(e, 0); err != nil {
		// The agent refuses to load the file (see internal/subquery).
		line, col := c.exprPos(node, src, 0)
		c.add(Finding{Line: line, Column: col, Severity: Error, Check: CheckSubquery, Group: group, Rule: rule,
			Message: fmt.Sprintf("%s: %v", label, err), Expr: src})
	}
	issues, corrected := lint(c.p, e, c.types)
	for _, is := range issues {
		line, col := c.exprPos(node, src, is.pos)
		f := Finding{Line: line, Column: col, Severity: is.severity, Check: is.check, Lint: true,
			Group: group, Rule: rule, Message: label + ": " + is.msg, Expr: src}
		if is.fix != nil {
			f.Corrected = corrected
		}
		c.add(f)
	}
}

// exprPos maps a byte offset of an expression to its line and column in
// the file, given the expression's YAML node (nil: unknown, 0, 0).
//
// A literal block scalar (expr: |) keeps the expression's lines. In the
// other styles YAML folds line breaks into spaces, so the offset is walked
// over the source lines, each contributing its trimmed length and one
// space; quoted escapes can shift the column.
func (c *checker) exprPos(node *yaml.Node, src string, off int) (int, int) {
	if node == nil || node.Line == 0 {
		return 0, 0
	}
	off = min(max(off, 0), len(src))
	if node.Style&yaml.LiteralStyle != 0 {
		l, col := offsetLineCol(src, off)
		line := node.Line + l
		if line-1 < len(c.lines) {
			text := c.lines[line-1]
			col += len(text) - len(strings.TrimLeft(text, " \t"))
		}
		return line, col
	}
	start, startCol := node.Line, node.Column
	switch {
	case node.Style&yaml.FoldedStyle != 0:
		start, startCol = node.Line+1, 0
	case node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		startCol++
	}
	acc := 0
	for l := start; l-1 < len(c.lines); l++ {
		text := c.lines[l-1]
		col0 := 0 // 0-based column where this line's part of the scalar starts
		if l == start && startCol > 0 {
			col0 = min(startCol-1, len(text))
		} else {
			col0 = len(text) - len(strings.TrimLeft(text, " \t"))
		}
		seg := strings.TrimRight(text[col0:], " \t")
		if off < acc+len(seg)+1 || l == len(c.lines) {
			return l, col0 + (off - acc) + 1
		}
		acc += len(seg) + 1
	}
	return node.Line, node.Column
}

// hasSecondDocument reports whether data holds more than one YAML
// document, which Prometheus ignores after the first.
func hasSecondDocument(data []byte) bool {
	d := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if err := d.Decode(&first); err != nil {
		return false
	}
	err := d.Decode(&second)
	return !errors.Is(err, io.EOF)
}

// secondDocumentLine returns the line of the "---" that starts the second
// document, or 0.
func secondDocumentLine(lines []string) int {
	seen := false
	for i, l := range lines {
		if strings.HasPrefix(l, "---") {
			if seen {
				return i + 1
			}
			seen = true
		} else if strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			seen = true
		}
	}
	return 0
}
