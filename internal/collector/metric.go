// Package collector defines trainwatch's data model (metric families and
// samples), the contract every metric source implements, and the Runner that
// calls all sources concurrently once per tick and assembles a Snapshot.
package collector

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// ValueType is the Prometheus type of a metric family.
type ValueType int

// The metric types trainwatch emits. They map one to one onto the Prometheus
// exposition format's types.
const (
	Counter ValueType = iota
	Gauge
	Untyped
	Summary
	Histogram
)

// String returns the type as the text exposition format spells it.
func (t ValueType) String() string {
	switch t {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Summary:
		return "summary"
	case Histogram:
		return "histogram"
	default:
		return "untyped"
	}
}

// Desc describes a metric family: its name, help text, type and label names.
// Collectors create their descriptors once and reuse them every tick.
type Desc struct {
	Name       string
	Help       string
	Type       ValueType
	LabelNames []string
}

// NewDesc returns a descriptor. The label values given to Emitter.Emit must
// follow labelNames in order.
func NewDesc(name, help string, t ValueType, labelNames ...string) *Desc {
	return &Desc{Name: name, Help: help, Type: t, LabelNames: labelNames}
}

// Quantile is one quantile of a summary.
type Quantile struct {
	Quantile float64
	Value    float64
}

// Bucket is one cumulative bucket of a classic histogram.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// Distribution holds the extra values of a summary or histogram sample.
type Distribution struct {
	Count     uint64
	Sum       float64
	Quantiles []Quantile
	Buckets   []Bucket
}

// Sample is one series of a family at the snapshot's time: its label values
// (in the order of the family's label names) and its value. Summaries and
// histograms carry Dist instead of Value.
type Sample struct {
	LabelValues []string
	Value       float64
	Dist        *Distribution
	// TimestampMs, when non-zero, is an explicit sample time in milliseconds
	// since the epoch; otherwise the snapshot's time applies.
	TimestampMs int64
}

// Family is a metric family with its samples.
type Family struct {
	Desc    *Desc
	Samples []Sample
}

// Label returns the value of the named label of sample i, or "" when the
// family has no such label.
func (f *Family) Label(i int, name string) string {
	for j, n := range f.Desc.LabelNames {
		if n == name && j < len(f.Samples[i].LabelValues) {
			return f.Samples[i].LabelValues[j]
		}
	}
	return ""
}

// Emitter receives the samples of one collector during one tick.
// It is not safe for concurrent use; a collector that fans out must gather
// its results before emitting.
type Emitter struct {
	fams  []*Family
	index map[string]*Family
}

// NewEmitter returns an empty emitter.
func NewEmitter() *Emitter {
	return &Emitter{index: make(map[string]*Family)}
}

// Emit adds one sample. It panics when the number of label values does not
// match the descriptor, which is a programming error.
func (e *Emitter) Emit(d *Desc, value float64, labelValues ...string) {
	if len(labelValues) != len(d.LabelNames) {
		panic(fmt.Sprintf("collector: %s takes %d label values, got %d", d.Name, len(d.LabelNames), len(labelValues)))
	}
	f := e.family(d)
	f.Samples = append(f.Samples, Sample{LabelValues: labelValues, Value: value})
}

// EmitSample adds a sample that carries a distribution or an explicit time.
func (e *Emitter) EmitSample(d *Desc, s Sample) {
	if len(s.LabelValues) != len(d.LabelNames) {
		panic(fmt.Sprintf("collector: %s takes %d label values, got %d", d.Name, len(d.LabelNames), len(s.LabelValues)))
	}
	f := e.family(d)
	f.Samples = append(f.Samples, s)
}

func (e *Emitter) family(d *Desc) *Family {
	if f, ok := e.index[d.Name]; ok {
		return f
	}
	f := &Family{Desc: d}
	e.index[d.Name] = f
	e.fams = append(e.fams, f)
	return f
}

// Families returns what was emitted, in emission order.
func (e *Emitter) Families() []*Family { return e.fams }

// Len returns the number of samples emitted so far.
func (e *Emitter) Len() int {
	n := 0
	for _, f := range e.fams {
		n += len(f.Samples)
	}
	return n
}

// MergeFamilies merges several lists of families into one list sorted by
// name. Families of the same name are joined; the first descriptor wins.
func MergeFamilies(lists ...[]*Family) []*Family {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	byName := make(map[string]*Family, n)
	out := make([]*Family, 0, n)
	fams := make([]Family, 0, n) // one allocation; never grows past n
	for _, l := range lists {
		for _, f := range l {
			if g, ok := byName[f.Desc.Name]; ok {
				if sameLabels(g.Desc.LabelNames, f.Desc.LabelNames) {
					g.Samples = append(g.Samples, f.Samples...)
				}
				continue
			}
			// The samples are shared, not copied (a tick's families hold
			// thousands): the capacity is cut to the length, so that a
			// later family of the same name appends to a copy, never into
			// the list it came from.
			fams = append(fams, Family{Desc: f.Desc, Samples: f.Samples[:len(f.Samples):len(f.Samples)]})
			c := &fams[len(fams)-1]
			byName[f.Desc.Name] = c
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *Family) int { return strings.Compare(a.Desc.Name, b.Desc.Name) })
	return out
}

func sameLabels(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// CollectOnce runs one collector outside a Runner and returns what it
// emitted. Tests and one-shot tools use it.
func CollectOnce(ctx context.Context, c Collector) ([]*Family, error) {
	e := NewEmitter()
	err := c.Collect(ctx, e)
	return e.Families(), err
}
