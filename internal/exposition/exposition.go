// Package exposition encodes snapshots in the Prometheus text format and in
// OpenMetrics, chosen by content negotiation, and caches the encoded bytes so
// that every scrape of one tick is served from memory.
package exposition

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// ToDTO converts families to client_model's protobuf structs.
func ToDTO(fams []*collector.Family) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		if len(f.Samples) == 0 {
			continue
		}
		mf := &dto.MetricFamily{
			Name: proto.String(f.Desc.Name),
			Help: proto.String(f.Desc.Help),
			Type: dtoType(f.Desc.Type).Enum(),
		}
		for _, s := range f.Samples {
			m := &dto.Metric{}
			for i, n := range f.Desc.LabelNames {
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(n), Value: proto.String(s.LabelValues[i])})
			}
			// Sorted by name, as client_golang (and so node_exporter) writes them.
			sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
			if s.TimestampMs != 0 {
				m.TimestampMs = proto.Int64(s.TimestampMs)
			}
			switch f.Desc.Type {
			case collector.Counter:
				m.Counter = &dto.Counter{Value: proto.Float64(s.Value)}
			case collector.Gauge:
				m.Gauge = &dto.Gauge{Value: proto.Float64(s.Value)}
			case collector.Summary:
				sm := &dto.Summary{}
				if s.Dist != nil {
					sm.SampleCount = proto.Uint64(s.Dist.Count)
					sm.SampleSum = proto.Float64(s.Dist.Sum)
					for _, q := range s.Dist.Quantiles {
						sm.Quantile = append(sm.Quantile, &dto.Quantile{Quantile: proto.Float64(q.Quantile), Value: proto.Float64(q.Value)})
					}
				}
				m.Summary = sm
			case collector.Histogram:
				h := &dto.Histogram{}
				if s.Dist != nil {
					h.SampleCount = proto.Uint64(s.Dist.Count)
					h.SampleSum = proto.Float64(s.Dist.Sum)
					for _, b := range s.Dist.Buckets {
						if math.IsInf(b.UpperBound, 1) {
							continue
						}
						h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(b.UpperBound), CumulativeCount: proto.Uint64(b.Count)})
					}
				}
				m.Histogram = h
			default:
				m.Untyped = &dto.Untyped{Value: proto.Float64(s.Value)}
			}
			mf.Metric = append(mf.Metric, m)
		}
		out = append(out, mf)
	}
	return out
}

func dtoType(t collector.ValueType) dto.MetricType {
	switch t {
	case collector.Counter:
		return dto.MetricType_COUNTER
	case collector.Gauge:
		return dto.MetricType_GAUGE
	case collector.Summary:
		return dto.MetricType_SUMMARY
	case collector.Histogram:
		return dto.MetricType_HISTOGRAM
	default:
		return dto.MetricType_UNTYPED
	}
}

// FromDTO converts gathered client_model families (the Go runtime and
// process collectors of client_golang) into trainwatch families.
func FromDTO(mfs []*dto.MetricFamily) []*collector.Family {
	out := make([]*collector.Family, 0, len(mfs))
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			continue
		}
		var names []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			names = append(names, lp.GetName())
		}
		var t collector.ValueType
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			t = collector.Counter
		case dto.MetricType_GAUGE:
			t = collector.Gauge
		case dto.MetricType_SUMMARY:
			t = collector.Summary
		case dto.MetricType_HISTOGRAM:
			t = collector.Histogram
		default:
			t = collector.Untyped
		}
		f := &collector.Family{Desc: collector.NewDesc(mf.GetName(), mf.GetHelp(), t, names...)}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(names) {
				continue
			}
			s := collector.Sample{LabelValues: make([]string, len(names))}
			for i, lp := range m.GetLabel() {
				s.LabelValues[i] = lp.GetValue()
			}
			switch t {
			case collector.Counter:
				s.Value = m.GetCounter().GetValue()
			case collector.Gauge:
				s.Value = m.GetGauge().GetValue()
			case collector.Summary:
				d := &collector.Distribution{Count: m.GetSummary().GetSampleCount(), Sum: m.GetSummary().GetSampleSum()}
				for _, q := range m.GetSummary().GetQuantile() {
					d.Quantiles = append(d.Quantiles, collector.Quantile{Quantile: q.GetQuantile(), Value: q.GetValue()})
				}
				s.Dist = d
			case collector.Histogram:
				d := &collector.Distribution{Count: m.GetHistogram().GetSampleCount(), Sum: m.GetHistogram().GetSampleSum()}
				for _, b := range m.GetHistogram().GetBucket() {
					d.Buckets = append(d.Buckets, collector.Bucket{UpperBound: b.GetUpperBound(), Count: b.GetCumulativeCount()})
				}
				s.Dist = d
			default:
				s.Value = m.GetUntyped().GetValue()
			}
			f.Samples = append(f.Samples, s)
		}
		out = append(out, f)
	}
	return out
}

// Encode writes families in the given format. The text format 0.0.4 is
// written by AppendText, OpenMetrics by AppendOpenMetrics; the others
// (protobuf) by expfmt.
func Encode(w io.Writer, fams []*collector.Family, format expfmt.Format) error {
	switch format.FormatType() {
	case expfmt.TypeTextPlain:
		if _, err := w.Write(AppendText(nil, fams)); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
		return nil
	case expfmt.TypeOpenMetrics:
		if _, err := w.Write(AppendOpenMetrics(nil, fams)); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
		return nil
	}
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range ToDTO(fams) {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("close encoder: %w", err)
		}
	}
	return nil
}

// Text returns families in the Prometheus text format 0.0.4.
func Text(fams []*collector.Family) ([]byte, error) {
	return AppendText(nil, fams), nil
}

// Cache holds the encodings of one snapshot's families, each made on first
// request and reused by every later request for the same snapshot.
type Cache struct {
	fams []*collector.Family

	mu      sync.Mutex
	encoded map[cacheKey][]byte
}

type cacheKey struct {
	format expfmt.Format
	gzip   bool
}

// NewCache returns a cache for fams.
func NewCache(fams []*collector.Family) *Cache {
	return &Cache{fams: fams, encoded: make(map[cacheKey][]byte)}
}

// Bytes returns the families encoded in format, gzip-compressed if asked.
func (c *Cache) Bytes(format expfmt.Format, gz bool) ([]byte, error) {
	k := cacheKey{format, gz}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.encoded[k]; ok {
		return b, nil
	}
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		// BestSpeed: a third of the default level's CPU for a body about
		// 15% larger; the body is encoded once per tick and format.
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		w = zw
	}
	if err := Encode(w, c.fams, format); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	c.encoded[k] = buf.Bytes()
	return buf.Bytes(), nil
}
