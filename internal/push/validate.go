package push

import (
	"fmt"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// The per-group metrics the receiver sets itself.
const (
	pushTimeName        = "push_time_seconds"
	pushFailureTimeName = "push_failure_time_seconds"
)

// produced returns the names a family of the given name and type takes in
// an exposition: its own name and, for a histogram or summary, the names
// of its _bucket, _sum and _count series. Two families must never share
// one of them.
func produced(name string, t collector.ValueType) []string {
	switch t {
	case collector.Histogram:
		return []string{name, name + "_bucket", name + "_sum", name + "_count"}
	case collector.Summary:
		return []string{name, name + "_sum", name + "_count"}
	}
	return []string{name}
}

// seriesSet is a set of label sets, keyed by hash; label sets whose hash
// collides with another's are kept by their bytes.
type seriesSet struct {
	byHash map[uint64]int32
	lsets  []labels.Labels
	exact  map[string]struct{}
	buf    []byte
}

func newSeriesSet(n int) *seriesSet {
	return &seriesSet{byHash: make(map[uint64]int32, n), lsets: make([]labels.Labels, 0, n)}
}

// add inserts ls with hash h and reports whether it was new.
func (s *seriesSet) add(ls labels.Labels, h uint64) bool {
	i, ok := s.byHash[h]
	if !ok {
		s.byHash[h] = int32(len(s.lsets))
		s.lsets = append(s.lsets, ls)
		return true
	}
	if labels.Equal(s.lsets[i], ls) {
		return false
	}
	if s.exact == nil {
		s.exact = make(map[string]struct{})
	}
	s.buf = ls.Bytes(s.buf)
	if _, ok := s.exact[string(s.buf)]; ok {
		return false
	}
	s.exact[string(s.buf)] = struct{}{}
	return true
}

// has reports whether ls (of hash h) is in the set.
func (s *seriesSet) has(ls labels.Labels, h uint64) bool {
	i, ok := s.byHash[h]
	if !ok {
		return false
	}
	if labels.Equal(s.lsets[i], ls) {
		return true
	}
	if s.exact == nil {
		return false
	}
	s.buf = ls.Bytes(s.buf)
	_, ok = s.exact[string(s.buf)]
	return ok
}

// checked is a push that passed the checks that need no other group.
type checked struct {
	fams    []Family
	names   map[string]bool // family names pushed
	set     *seriesSet
	hashes  [][]uint64 // per family, per sample
	samples int
}

// checkPush validates a parsed push on its own: family names unique,
// no two families producing the same series name, no reserved names, no
// series twice.
func checkPush(fams []Family, reserved func(string) bool) (*checked, error) {
	c := &checked{fams: fams, names: make(map[string]bool, len(fams)), hashes: make([][]uint64, len(fams))}
	for i := range fams {
		c.samples += len(fams[i].Samples)
	}
	owner := make(map[string]int, len(fams)+8)
	for i := range fams {
		f := &fams[i]
		if c.names[f.Name] {
			return nil, fmt.Errorf("metric %q appears twice in the push: push each metric once, with all its series together", f.Name)
		}
		c.names[f.Name] = true
		for _, p := range produced(f.Name, f.Type) {
			if p == pushTimeName || p == pushFailureTimeName {
				return nil, fmt.Errorf("metric name %q is reserved: the receiver sets it for every group; rename your metric", p)
			}
			if reserved != nil && reserved(p) {
				return nil, fmt.Errorf("metric name %q is reserved for the agent's own metrics: rename it (for example with your project's prefix)", p)
			}
			if j, ok := owner[p]; ok {
				g := &fams[j]
				return nil, fmt.Errorf("the %s %q and the %s %q in the push both produce series named %q: rename one of them", typeName(g.Type), g.Name, typeName(f.Type), f.Name, p)
			}
			owner[p] = i
		}
	}
	c.set = newSeriesSet(c.samples)
	for i := range fams {
		f := &fams[i]
		hs := make([]uint64, len(f.Samples))
		for j := range f.Samples {
			s := &f.Samples[j]
			if s.Name != f.Name && reserved != nil && reserved(s.Name) {
				return nil, fmt.Errorf("metric name %q is reserved for the agent's own metrics: rename it (for example with your project's prefix)", s.Name)
			}
			h := s.Labels.Hash()
			if !c.set.add(s.Labels, h) {
				return nil, fmt.Errorf("series %s appears twice in the push (after the grouping key's labels replaced the body's): each name and label set may be pushed once", s.Labels)
			}
			hs[j] = h
		}
		c.hashes[i] = hs
	}
	return c, nil
}

// checkLabelLimits refuses a series with more than maxLabels labels (its
// name included), a label or metric name longer than maxName bytes, or a
// label value longer than maxValue bytes.
func checkLabelLimits(fams []Family, maxLabels, maxName, maxValue int) error {
	for i := range fams {
		for j := range fams[i].Samples {
			ls := fams[i].Samples[j].Labels
			if err := checkLabels(ls, maxLabels, maxName, maxValue); err != nil {
				return fmt.Errorf("series %s: %w", abbrev(ls.String(), 200), err)
			}
		}
	}
	return nil
}

// checkLabels applies the label limits to one label set.
func checkLabels(ls labels.Labels, maxLabels, maxName, maxValue int) error {
	if n := ls.Len(); n > maxLabels {
		return fmt.Errorf("%d labels (the metric name included); the limit is %d (push.max_labels_per_series): move some labels into the metric name or drop them", n, maxLabels)
	}
	return ls.Validate(func(l labels.Label) error {
		if l.Name == model.MetricNameLabel {
			if len(l.Value) > maxName {
				return fmt.Errorf("metric name %q is %d bytes; the limit is %d (push.max_label_name_length)", abbrev(l.Value, 64), len(l.Value), maxName)
			}
			return nil
		}
		if len(l.Name) > maxName {
			return fmt.Errorf("label name %q is %d bytes; the limit is %d (push.max_label_name_length)", abbrev(l.Name, 64), len(l.Name), maxName)
		}
		if len(l.Value) > maxValue {
			return fmt.Errorf("the value of label %q is %d bytes; the limit is %d (push.max_label_value_length)", abbrev(l.Name, 64), len(l.Value), maxValue)
		}
		return nil
	})
}

// abbrev shortens s to about n bytes for a message.
func abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// typeName spells a type for messages.
func typeName(t collector.ValueType) string { return t.String() }

// withArticle spells a type with its indefinite article.
func withArticle(t collector.ValueType) string {
	if t == collector.Untyped {
		return "an untyped metric"
	}
	return "a " + t.String()
}
