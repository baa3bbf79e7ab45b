// Package exposition encodes snapshots in the Prometheus text format and in
// OpenMetrics, chosen by content negotiation, and caches the encoded bytes so
// that every scrape of one tick is served from memory.
package exposition

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
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
// request (or ahead of it, by Encoder.Warm) and reused by every later
// request for the same snapshot.
type Cache struct {
	fams []*collector.Family
	enc  *Encoder

	mu      sync.Mutex
	encoded map[cacheKey][]byte
}

type cacheKey struct {
	format expfmt.Format
	gzip   bool
}

// NewCache returns a cache for fams with an encoder of its own.
func NewCache(fams []*collector.Family) *Cache {
	return NewEncoder(nil).NewCache(fams)
}

// Bytes returns the families encoded in format, gzip-compressed if asked.
func (c *Cache) Bytes(format expfmt.Format, gz bool) ([]byte, error) {
	k := cacheKey{format, gz}
	c.enc.requested(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.encoded[k]; ok {
		return b, nil
	}
	b, err := c.enc.encode(c.fams, k)
	if err != nil {
		return nil, err
	}
	c.encoded[k] = b
	return b, nil
}

// Encoder makes the caches of successive snapshots and keeps what one
// snapshot's encoding teaches the next: the size of each encoding (the
// buffer is allocated once at that size instead of grown by doubling), the
// gzip writers (each holds about 1 MiB of compressor state), and
// which encodings were asked for lately, so that Warm can make them as
// soon as a snapshot is taken rather than on the first scrape, which
// every concurrent scrape would then wait for. It is safe for concurrent
// use.
type Encoder struct {
	now func() time.Time

	mu    sync.Mutex
	size  map[cacheKey]int
	asked map[cacheKey]time.Time
	// gz holds the gzip writers not in use. A sync.Pool would be emptied
	// by every garbage collection, which on this agent comes every few
	// seconds: one 1 MiB allocation per encoding again.
	gz []*gzip.Writer
}

// maxIdleGzip bounds the gzip writers kept: encodings of one snapshot
// are made one at a time, of two at once only when scrapes overlap a
// tick.
const maxIdleGzip = 2

// NewEncoder returns an encoder; now is its clock (time.Now when nil).
func NewEncoder(now func() time.Time) *Encoder {
	if now == nil {
		now = time.Now
	}
	return &Encoder{now: now, size: map[cacheKey]int{}, asked: map[cacheKey]time.Time{}}
}

// NewCache returns a cache for fams that encodes with e.
func (e *Encoder) NewCache(fams []*collector.Family) *Cache {
	return &Cache{fams: fams, enc: e, encoded: make(map[cacheKey][]byte)}
}

// Warm makes, in c, every encoding that was asked of a cache of e within
// the last d.
func (e *Encoder) Warm(c *Cache, d time.Duration) {
	now := e.now()
	e.mu.Lock()
	var keys []cacheKey
	for k, t := range e.asked {
		if now.Sub(t) <= d {
			keys = append(keys, k)
		}
	}
	e.mu.Unlock()
	for _, k := range keys {
		c.mu.Lock()
		if _, ok := c.encoded[k]; !ok {
			if b, err := e.encode(c.fams, k); err == nil {
				c.encoded[k] = b
			}
		}
		c.mu.Unlock()
	}
}

// requested notes that k was asked for now.
func (e *Encoder) requested(k cacheKey) {
	now := e.now()
	e.mu.Lock()
	e.asked[k] = now
	e.mu.Unlock()
}

// encode encodes fams as k says, into a buffer of the size the last
// encoding of k had.
func (e *Encoder) encode(fams []*collector.Family, k cacheKey) ([]byte, error) {
	raw := cacheKey{k.format, false}
	e.mu.Lock()
	rawHint, hint := e.size[raw], e.size[k]
	e.mu.Unlock()
	var out []byte
	switch k.format.FormatType() {
	case expfmt.TypeTextPlain:
		out = AppendText(make([]byte, 0, rawHint+rawHint/16), fams)
	case expfmt.TypeOpenMetrics:
		out = AppendOpenMetrics(make([]byte, 0, rawHint+rawHint/16), fams)
	default:
		var buf bytes.Buffer
		if err := Encode(&buf, fams, k.format); err != nil {
			return nil, err
		}
		out = buf.Bytes()
	}
	e.mu.Lock()
	e.size[raw] = len(out)
	e.mu.Unlock()
	if !k.gzip {
		return out, nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint+hint/8))
	zw := e.gzipWriter(buf)
	if _, err := zw.Write(out); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	e.mu.Lock()
	e.size[k] = buf.Len()
	if len(e.gz) < maxIdleGzip {
		e.gz = append(e.gz, zw)
	}
	e.mu.Unlock()
	return buf.Bytes(), nil
}

// gzipWriter returns an idle gzip writer, or a new one, writing to w.
// BestSpeed: a third of the default level's CPU for a body about 15%
// larger; the body is encoded once per tick and format. The compressor is
// klauspost/compress's (already linked for the TSDB's snappy and zstd):
// at BestSpeed it takes about half the CPU of the standard library's for
// a body of the same size (BenchmarkEncode in internal/web).
func (e *Encoder) gzipWriter(w io.Writer) *gzip.Writer {
	e.mu.Lock()
	if n := len(e.gz); n > 0 {
		zw := e.gz[n-1]
		e.gz = e.gz[:n-1]
		e.mu.Unlock()
		zw.Reset(w)
		return zw
	}
	e.mu.Unlock()
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return zw
}
