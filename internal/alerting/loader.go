package alerting

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/subquery"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// BuiltinPrefix starts the file name of a built-in rule file, as it appears
// in /api/v1/rules, in errors and in the group label of the self-metrics:
// "builtin:gpu.yml".
const BuiltinPrefix = "builtin:"

// RuleFileError is one problem in one rule file, located as precisely as
// the parser allows.
type RuleFileError struct {
	// File is the path, or BuiltinPrefix+name for a built-in file.
	File string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Msg says what is wrong.
	Msg string
	// Err is the parser's error.
	Err error
}

// Error returns "file:line:column: problem".
func (e *RuleFileError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}

// Unwrap returns the parser's error.
func (e *RuleFileError) Unwrap() error { return e.Err }

// LoadError says that rule files could not be loaded. Errs holds a
// *RuleFileError for each problem of each file.
type LoadError struct {
	Errs []error
	// Kept is true when a previously loaded rule set keeps running.
	Kept bool
}

// Error lists every problem, one per line.
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("rule files not loaded")
	if e.Kept {
		b.WriteString(" (the previous rules keep running)")
	}
	b.WriteString(":")
	for _, err := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems.
func (e *LoadError) Unwrap() []error { return e.Errs }

// groupLoader implements rules.GroupLoader over files on disk and, for
// identifiers starting with BuiltinPrefix, over the built-in fs.FS.
type groupLoader struct {
	builtin fs.FS
	parser  parser.Parser
	logger  *slog.Logger
}

// Load reads and validates one rule file; every error is a *RuleFileError.
func (l groupLoader) Load(identifier string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	b, err := l.read(identifier)
	if err != nil {
		return nil, []error{&RuleFileError{File: identifier, Msg: pathMsg(err), Err: err}}
	}
	// rulefmt warns about a second YAML document even when the first is
	// broken; keep its warnings for the files that parse.
	held := &holdHandler{}
	rgs, errs := rulefmt.Parse(b, ignoreUnknownFields, scheme, l.parser, slog.New(held))
	if len(errs) == 0 {
		// A subquery that would take the engine more steps than
		// subquery.MaxSteps is refused before any evaluation allocates for
		// it, as the API refuses it.
		if serrs := subquery.CheckRuleFile(l.parser, b); len(serrs) > 0 {
			out := make([]error, len(serrs))
			for i, e := range serrs {
				out[i] = &RuleFileError{File: identifier, Line: e.Line, Column: e.Column, Msg: e.Msg(), Err: e}
			}
			return nil, out
		}
		h := l.logger.With("file", identifier).Handler()
		for _, r := range held.recs {
			if h.Enabled(context.Background(), r.Level) {
				_ = h.Handle(context.Background(), r)
			}
		}
		return rgs, nil
	}
	var out []error
	seen := map[string]bool{}
	for _, e := range errs {
		for _, fe := range locate(identifier, e) {
			// rulefmt decodes YAML twice and may report a problem twice.
			if s := fe.Error(); !seen[s] {
				seen[s] = true
				out = append(out, fe)
			}
		}
	}
	return nil, out
}

// Parse parses a rule's expression. The rule manager parses only rules of
// groups Load returned, whose subqueries Load has checked.
func (l groupLoader) Parse(query string) (parser.Expr, error) { return l.parser.ParseExpr(query) }

func (l groupLoader) read(identifier string) ([]byte, error) {
	if name, ok := strings.CutPrefix(identifier, BuiltinPrefix); ok {
		if l.builtin == nil {
			return nil, errors.New("no built-in rule files are available")
		}
		return fs.ReadFile(l.builtin, name)
	}
	return os.ReadFile(identifier)
}

// holdHandler keeps log records for later.
type holdHandler struct{ recs []slog.Record }

func (h *holdHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *holdHandler) Handle(_ context.Context, r slog.Record) error {
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *holdHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *holdHandler) WithGroup(string) slog.Handler      { return h }

var (
	// rulefmt's positions: "L:C: " (and "L:C: L2:C2: " for two nodes).
	nodePos = regexp.MustCompile(`^(\d+):(\d+): (?:\d+:\d+: )?`)
	// yaml.v3 syntax errors: "yaml: line N: ...".
	yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)
	// yaml.v3 type errors list "  line N: ..." under "yaml: unmarshal errors:".
	yamlTypeLine = regexp.MustCompile(`^\s*line (\d+): (.*)$`)
)

// locate turns one parser error into located errors (a YAML type error
// lists several lines).
func locate(file string, err error) []*RuleFileError {
	msg := err.Error()
	if m := nodePos.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return []*RuleFileError{{File: file, Line: line, Column: col, Msg: msg[len(m[0]):], Err: err}}
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return []*RuleFileError{{File: file, Line: line, Msg: msg[len(m[0]):], Err: err}}
	}
	if rest, ok := strings.CutPrefix(msg, "yaml: unmarshal errors:\n"); ok {
		var out []*RuleFileError
		for _, l := range strings.Split(rest, "\n") {
			if m := yamlTypeLine.FindStringSubmatch(l); m != nil {
				line, _ := strconv.Atoi(m[1])
				out = append(out, &RuleFileError{File: file, Line: line, Msg: m[2], Err: err})
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return []*RuleFileError{{File: file, Msg: msg, Err: err}}
}

// pathMsg is the message of a file error without the path, which the
// RuleFileError names already.
func pathMsg(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// hasMeta reports whether a path contains glob characters.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// expandRuleFiles resolves the user's rule file paths and globs, and the
// built-in files' globs, into the identifiers the rule manager loads. A
// literal path that does not exist is an error; a glob that matches nothing
// is only logged.
func expandRuleFiles(user []string, builtin fs.FS, builtinGlobs []string, logger *slog.Logger) ([]string, []error) {
	var files []string
	var errs []error
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	if builtin != nil {
		var names []string
		for _, g := range builtinGlobs {
			m, err := fs.Glob(builtin, g)
			if err != nil {
				errs = append(errs, &RuleFileError{File: BuiltinPrefix + g, Msg: "bad glob: " + err.Error(), Err: err})
				continue
			}
			names = append(names, m...)
		}
		slices.Sort(names)
		for _, n := range names {
			add(BuiltinPrefix + n)
		}
	}
	for _, p := range user {
		if !hasMeta(p) {
			if _, err := os.Stat(p); err != nil {
				errs = append(errs, &RuleFileError{File: p, Msg: pathMsg(err), Err: err})
				continue
			}
			add(p)
			continue
		}
		m, err := filepath.Glob(p)
		if err != nil {
			errs = append(errs, &RuleFileError{File: p, Msg: "bad glob: " + err.Error(), Err: err})
			continue
		}
		if len(m) == 0 {
			logger.Warn("rule file glob matches no file", "glob", p)
		}
		slices.Sort(m)
		for _, f := range m {
			add(f)
		}
	}
	return files, errs
}
