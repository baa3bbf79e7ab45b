// Package metricsdoc generates the metric reference of docs/metrics.md from
// the code: it runs every metric source of the agent (host collectors on
// the fixture tree the host tests use, the NVML backend on the demo's
// simulated H200 server and on a go-nvml mock with MIG, amdgpu on its
// fixture, processes and jobs on the process fixture, a training run, a
// push, the history, the rules engine, remote write and the agent's own
// collectors), gathers every family it emits (name, type, help, label
// names) and renders them, with a unit and a compatibility note, into the
// page's generated regions. ParseDoc reads those regions back, so that
// tests can check a live agent's /metrics against the page.
package metricsdoc

//go:generate go run ./cmd/gen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Command is the command that regenerates docs/metrics.md.
const Command = "go run ./internal/metricsdoc/cmd/gen"

// module is the module whose repository holds the page.
const module = "github.com/trainwatch/trainwatch"

// DocPath is the page's path relative to the repository root.
const DocPath = "docs/metrics.md"

// ErrNeedsCgo is returned by Gather in a build without cgo: the NVML
// backend, whose metrics the page lists, needs it.
var ErrNeedsCgo = errors.New("the NVIDIA GPU metrics come from the NVML backend, which needs cgo: run with CGO_ENABLED=1")

// Metric is one documented metric family, as one source emits it.
type Metric struct {
	// Name is the family's name.
	Name string
	// Type is the exposition format's type: counter, gauge, untyped,
	// summary or histogram.
	Type string
	// Unit is the unit of the value ("" when it is a plain count or a
	// state), from the name's base-unit suffix or the help text's "(in X)".
	Unit string
	// Labels are the label names, in the order the code gives them.
	Labels []string
	// OptionalLabels are label names the family carries only in some
	// configurations, said by OptionalWhen (MIG, a push's grouping key).
	OptionalLabels []string
	OptionalWhen   string
	// Source is the collector or subsystem that emits it ("cpu",
	// "gpu (NVML)", "runs", ...).
	Source string
	// Compat says which exporter uses the same name ("node_exporter",
	// "dcgm-exporter DCGM_FI_DEV_GPU_UTIL", "trainwatch only", ...).
	Compat string
	// Help is the help text the code emits.
	Help string
}

// Pattern documents families whose names come from the machine (one per
// /proc/meminfo field, per hwmon sensor type, ...): the fixture produces
// some of them, a real machine may produce others of the same shape.
type Pattern struct {
	// Glob matches the names, with * for any run of characters.
	Glob string
	// Type, Labels and Source as in Metric.
	Type   string
	Labels []string
	Source string
	// What says where the names come from.
	What string
}

// Matches reports whether name matches the pattern's glob.
func (p Pattern) Matches(name string) bool {
	return globMatch(p.Glob, name)
}

// globMatch matches name against a glob whose only special character is *.
func globMatch(glob, name string) bool {
	parts := strings.Split(glob, "*")
	if len(parts) == 1 {
		return glob == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, last)
}

// Conditional is a documented metric that some sources emit only under a
// condition (a GPU with MIG, an ended run, a configured receiver): a live
// agent need not emit it.
type Conditional struct {
	Name, Source, When string
}

// Reference is everything the generated regions show.
type Reference struct {
	Metrics      []Metric
	Patterns     []Pattern
	Conditionals []Conditional
}

// Find returns the documented rows of a family (one per source that emits
// it).
func (r *Reference) Find(name string) []Metric {
	var out []Metric
	for _, m := range r.Metrics {
		if m.Name == name {
			out = append(out, m)
		}
	}
	return out
}

// MatchPattern returns the pattern that documents name, if any.
func (r *Reference) MatchPattern(name string) (Pattern, bool) {
	for _, p := range r.Patterns {
		if p.Matches(name) {
			return p, true
		}
	}
	return Pattern{}, false
}

// When returns the condition under which source emits name ("" when it
// emits it whenever it works).
func (r *Reference) When(name, source string) string {
	for _, c := range r.Conditionals {
		if c.Name == name && c.Source == source {
			return c.When
		}
	}
	return ""
}

// Gather runs every source and returns the reference: every family each
// source emits, the patterns and the conditions. root is the repository's
// root (the fixtures are read from there).
func Gather(ctx context.Context, root string) (*Reference, error) {
	tmp, err := os.MkdirTemp("", "trainwatch-metricsdoc-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	g := &gatherer{root: root, tmp: tmp, demoNVML: map[string]bool{}}
	var ms []Metric
	for _, s := range sources() {
		fams, err := s.run(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", s.name, err)
		}
		for _, sf := range fams {
			ms = append(ms, describe(sf.source, sf.fam.Desc))
		}
	}
	for _, m := range static() {
		if slices.ContainsFunc(ms, func(o Metric) bool { return o.Name == m.Name && o.Source == m.Source }) {
			return nil, fmt.Errorf("%s (%s) is listed by hand in static() but a source emitted it: remove it from static()", m.Name, m.Source)
		}
		ms = append(ms, m)
	}
	ms = merge(ms)
	if err := applyOptionalLabels(ms); err != nil {
		return nil, err
	}
	ref := &Reference{Metrics: ms, Patterns: patterns(), Conditionals: conditionals()}
	if err := ref.check(); err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range ms {
		if m.Source == srcNVML && !g.demoNVML[m.Name] && ref.When(m.Name, m.Source) == "" {
			errs = append(errs, fmt.Errorf("%s: the demo's simulated GPUs do not emit it, so a --demo agent will not: say when it is emitted in conditionals()", m.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ref, nil
}

// merge joins rows of the same name and source (a source that emits a
// family under two label sets keeps the first; the second is an optional
// variant recorded by applyOptionalLabels), and orders them by section,
// source and name.
func merge(ms []Metric) []Metric {
	type key struct{ name, source string }
	seen := map[key]int{}
	var out []Metric
	for _, m := range ms {
		k := key{m.Name, m.Source}
		if i, ok := seen[k]; ok {
			out[i].OptionalLabels = appendNew(out[i].OptionalLabels, m.Labels, out[i].Labels)
			continue
		}
		seen[k] = len(out)
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b Metric) int {
		if c := sourceRank(a.Source) - sourceRank(b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// appendNew appends the names of add that are in neither dst nor base.
func appendNew(dst, add, base []string) []string {
	for _, n := range add {
		if !slices.Contains(dst, n) && !slices.Contains(base, n) {
			dst = append(dst, n)
		}
	}
	return dst
}

// check keeps the hand-written lists true to what the sources emit.
func (r *Reference) check() error {
	var errs []error
	for _, c := range r.Conditionals {
		if !slices.ContainsFunc(r.Metrics, func(m Metric) bool { return m.Name == c.Name && m.Source == c.Source }) {
			errs = append(errs, fmt.Errorf("conditionals(): %s (%s) is not emitted by any source; remove or correct it", c.Name, c.Source))
		}
	}
	for _, p := range r.Patterns {
		if !slices.ContainsFunc(r.Metrics, func(m Metric) bool {
			return p.Matches(m.Name) && m.Source == p.Source && m.Type == p.Type && slices.Equal(m.Labels, p.Labels)
		}) {
			errs = append(errs, fmt.Errorf("patterns(): %s (%s, %s, labels %v) matches no family of that shape that the fixtures produce; correct it", p.Glob, p.Source, p.Type, p.Labels))
		}
	}
	for _, m := range r.Metrics {
		if sourceRank(m.Source) == unknownRank {
			errs = append(errs, fmt.Errorf("%s: source %q has no section; add it to sections", m.Name, m.Source))
		}
	}
	return errors.Join(errs...)
}

// Generate reads the page under root, regenerates its generated regions
// and returns the new page.
func Generate(ctx context.Context, root string) ([]byte, error) {
	doc, err := os.ReadFile(filepath.Join(root, DocPath))
	if err != nil {
		return nil, err
	}
	ref, err := Gather(ctx, root)
	if err != nil {
		return nil, err
	}
	out, err := Render(string(doc), ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", DocPath, err)
	}
	return []byte(out), nil
}

// RepoRoot returns the repository root: the nearest directory at or above
// dir whose go.mod declares this module.
func RepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && slices.Contains(strings.Split(string(b), "\n"), "module "+module) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod of %s at or above %s", module, dir)
		}
		d = parent
	}
}

// Check reports whether a family served on /metrics, with its type and the
// label names its series carry, is documented: by a row of that name with
// the same type whose label names are the family's (labels the row marks
// optional may be present or not), or, for a name no row lists, by a
// pattern of the same type and label names.
func (r *Reference) Check(name, typ string, labels []string) error {
	rows := r.Find(name)
	if len(rows) == 0 {
		p, ok := r.MatchPattern(name)
		switch {
		case !ok:
			return fmt.Errorf("%s (%s, labels %v) is not documented", name, typ, labels)
		case p.Type != typ || !sameSet(p.Labels, labels):
			return fmt.Errorf("%s is a %s with labels %v, but the pattern %s that documents it says a %s with labels %v", name, typ, labels, p.Glob, p.Type, p.Labels)
		}
		return nil
	}
	var errs []error
	for _, m := range rows {
		switch {
		case m.Type != typ:
			errs = append(errs, fmt.Errorf("%s is a %s, but the page says a %s (source %s)", name, typ, m.Type, m.Source))
		case !labelsFit(m, labels):
			want := strings.Join(m.Labels, ", ")
			if len(m.OptionalLabels) > 0 {
				want += " (" + m.OptionalWhen + " also " + strings.Join(m.OptionalLabels, ", ") + ")"
			}
			errs = append(errs, fmt.Errorf("%s has labels %v, but the page says %s (source %s)", name, labels, want, m.Source))
		default:
			return nil
		}
	}
	return errors.Join(errs...)
}

// labelsFit reports whether a family's label names are m's, give or take
// m's optional ones.
func labelsFit(m Metric, labels []string) bool {
	for _, l := range m.Labels {
		if !slices.Contains(labels, l) {
			return false
		}
	}
	for _, l := range labels {
		if !slices.Contains(m.Labels, l) && !slices.Contains(m.OptionalLabels, l) {
			return false
		}
	}
	return true
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && labelsFit(Metric{Labels: a}, b)
}
