package push

import (
	"context"
	"math"
	"sort"
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// Families returns every group's metrics, with push_time_seconds and
// push_failure_time_seconds, merged by name and sorted, for the agent's
// /metrics: each family's label names are the union of its series' label
// names plus instance (a series without a label gets ""; as in the
// Pushgateway, a group without an instance label is exposed with
// instance="", so that a Prometheus scraping with honor_labels: true keeps
// it without one). Histograms and summaries are rebuilt from their
// flattened series (bucket and _count values are rounded down to integers).
// Families whose metric or label names are not legacy Prometheus names
// (pushed with quoted UTF-8 names) are left out, so that the text
// exposition stays parsable; they are still stored.
//
// The result is cached until the next change and shared between callers:
// it must not be modified. Generation tells when it changed.
func (g *Gateway) Families() []*collector.Family {
	fams, _ := g.FamiliesGeneration()
	return fams
}

// FamiliesGeneration returns Families and the Generation they are of, read
// together: a push between two separate calls would pair the families of
// one generation with the number of the next, and a cache keyed on that
// number would keep serving the older families.
func (g *Gateway) FamiliesGeneration() ([]*collector.Family, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cache == nil || g.cacheGen != g.gen {
		g.cache = g.buildFamilies()
		g.cacheGen = g.gen
	}
	return g.cache, g.gen
}

// Generation returns a number that changes whenever the groups change, so
// that a caller can cache what it made of Families.
func (g *Gateway) Generation() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen
}

// expFamily accumulates one exposed family over all groups.
type expFamily struct {
	name  string
	typ   collector.ValueType
	help  string
	names map[string]struct{}
	items []expItem
}

// expItem is one exposed series: its labels (without __name__, le and
// quantile) and its value or distribution.
type expItem struct {
	ls   labels.Labels
	v    float64
	ts   int64
	dist *collector.Distribution
}

func (e *expFamily) add(it expItem) {
	it.ls.Range(func(l labels.Label) { e.names[l.Name] = struct{}{} })
	e.items = append(e.items, it)
}

// buildFamilies makes Families' result. g.mu held.
func (g *Gateway) buildFamilies() []*collector.Family {
	if len(g.groups) == 0 {
		return []*collector.Family{}
	}
	keys := make([]string, 0, len(g.groups))
	for k := range g.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	accs := make(map[string]*expFamily)
	get := func(name string, t collector.ValueType, help string) *expFamily {
		e := accs[name]
		if e == nil {
			e = &expFamily{name: name, typ: t, names: map[string]struct{}{"instance": {}}}
			accs[name] = e
		}
		if e.help == "" {
			e.help = help
		}
		return e
	}
	pushT := get(pushTimeName, collector.Gauge, "Last Unix time when changing this group in the push receiver succeeded.")
	failT := get(pushFailureTimeName, collector.Gauge, "Last Unix time when changing this group in the push receiver failed.")
	lb := labels.NewBuilder(labels.EmptyLabels())
	for _, k := range keys {
		grp := g.groups[k]
		base := grp.pushLset.DropReserved(func(n string) bool { return n == model.MetricNameLabel })
		pushT.add(expItem{ls: base, v: grp.pushVal})
		failT.add(expItem{ls: base, v: grp.failVal})
		names := make([]string, 0, len(grp.fams))
		for n := range grp.fams {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			f := grp.fams[n].f
			if !exposable(f) {
				continue
			}
			e := get(f.Name, f.Type, f.Help)
			switch f.Type {
			case collector.Histogram, collector.Summary:
				for _, it := range distributions(f, lb) {
					e.add(it)
				}
			default:
				for j := range f.Samples {
					s := &f.Samples[j]
					lb.Reset(s.Labels)
					lb.Del(model.MetricNameLabel)
					e.add(expItem{ls: lb.Labels(), v: s.Value, ts: s.TimestampMs})
				}
			}
		}
	}
	out := make([]*collector.Family, 0, len(accs))
	for _, e := range accs {
		if len(e.items) == 0 {
			continue
		}
		names := make([]string, 0, len(e.names))
		for n := range e.names {
			names = append(names, n)
		}
		sort.Strings(names)
		f := &collector.Family{Desc: collector.NewDesc(e.name, e.help, e.typ, names...)}
		f.Samples = make([]collector.Sample, len(e.items))
		for i, it := range e.items {
			lv := make([]string, len(names))
			for j, n := range names {
				lv[j] = it.ls.Get(n)
			}
			f.Samples[i] = collector.Sample{LabelValues: lv, Value: it.v, Dist: it.dist, TimestampMs: it.ts}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Desc.Name < out[j].Desc.Name })
	return out
}

// exposable reports whether a family's metric and label names are legacy
// Prometheus names, which the text exposition can write unquoted.
func exposable(f *Family) bool {
	if !isLegacyMetricName(f.Name) {
		return false
	}
	for j := range f.Samples {
		ok := true
		f.Samples[j].Labels.Range(func(l labels.Label) {
			if l.Name != model.MetricNameLabel && !isLegacyLabelName(l.Name) {
				ok = false
			}
		})
		if !ok {
			return false
		}
	}
	return true
}

// distributions rebuilds the histograms or summaries of a family from its
// flattened series, one per label set (without le and quantile).
func distributions(f *Family, lb *labels.Builder) []expItem {
	var items []expItem
	idx := make(map[string]int)
	var buf []byte
	for j := range f.Samples {
		s := &f.Samples[j]
		buf = s.Labels.BytesWithoutLabels(buf, model.MetricNameLabel, model.BucketLabel, model.QuantileLabel)
		i, ok := idx[string(buf)]
		if !ok {
			i = len(items)
			idx[string(buf)] = i
			lb.Reset(s.Labels)
			lb.Del(model.MetricNameLabel, model.BucketLabel, model.QuantileLabel)
			items = append(items, expItem{ls: lb.Labels(), dist: &collector.Distribution{}, ts: s.TimestampMs})
		}
		d := items[i].dist
		switch s.Name {
		case f.Name + "_sum":
			d.Sum = s.Value
		case f.Name + "_count":
			d.Count = toCount(s.Value)
		case f.Name + "_bucket":
			ub, err := strconv.ParseFloat(s.Labels.Get(model.BucketLabel), 64)
			if err == nil {
				d.Buckets = append(d.Buckets, collector.Bucket{UpperBound: ub, Count: toCount(s.Value)})
			}
		case f.Name:
			q, err := strconv.ParseFloat(s.Labels.Get(model.QuantileLabel), 64)
			if err == nil {
				d.Quantiles = append(d.Quantiles, collector.Quantile{Quantile: q, Value: s.Value})
			}
		}
	}
	for _, it := range items {
		d := it.dist
		sort.Slice(d.Buckets, func(a, b int) bool { return d.Buckets[a].UpperBound < d.Buckets[b].UpperBound })
		sort.Slice(d.Quantiles, func(a, b int) bool { return d.Quantiles[a].Quantile < d.Quantiles[b].Quantile })
	}
	return items
}

// toCount converts a pushed count into the data model's integer count.
func toCount(v float64) uint64 {
	switch {
	case math.IsNaN(v) || v <= 0:
		return 0
	case v >= math.MaxUint64:
		return math.MaxUint64
	}
	return uint64(v)
}

// selfDescs are the descriptors of the receiver's self-metrics.
type selfDescs struct {
	requests, samples, bytes, groups, series *collector.Desc
}

func newSelfDescs() selfDescs {
	return selfDescs{
		requests: collector.NewDesc("trainwatch_push_requests_total", "Requests to the push receiver, by method and HTTP status code.", collector.Counter, "method", "code"),
		samples:  collector.NewDesc("trainwatch_push_samples_total", "Samples accepted by the push receiver (histograms and summaries count each series).", collector.Counter),
		bytes:    collector.NewDesc("trainwatch_push_received_bytes_total", "Body bytes received by the push receiver, as sent (before decompression).", collector.Counter),
		groups:   collector.NewDesc("trainwatch_push_groups", "Groups (grouping keys) the push receiver holds.", collector.Gauge),
		series:   collector.NewDesc("trainwatch_push_series", "Series the push receiver holds over all groups.", collector.Gauge),
	}
}

// Name implements collector.Collector.
func (g *Gateway) Name() string { return "push" }

// Collect implements collector.Collector. It emits only the receiver's
// self-metrics (trainwatch_push_*); the pushed metrics themselves are
// stored at push time through Options.Append and exposed by Families, so
// that the collection loop does not store them a second time.
func (g *Gateway) Collect(_ context.Context, e *collector.Emitter) error {
	g.mu.Lock()
	groups, series := len(g.groups), g.total
	g.mu.Unlock()
	g.statsMu.Lock()
	keys := make([]requestKey, 0, len(g.requests))
	for k := range g.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].method != keys[j].method {
			return keys[i].method < keys[j].method
		}
		return keys[i].code < keys[j].code
	})
	for _, k := range keys {
		e.Emit(g.self.requests, float64(g.requests[k]), k.method, k.code)
	}
	samples, bytes := g.samples, g.bytes
	g.statsMu.Unlock()
	e.Emit(g.self.samples, float64(samples))
	e.Emit(g.self.bytes, float64(bytes))
	e.Emit(g.self.groups, float64(groups))
	e.Emit(g.self.series, float64(series))
	return nil
}
