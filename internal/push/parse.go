package push

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// bodyFormat is the exposition format of a push body.
type bodyFormat int

const (
	formatText bodyFormat = iota
	formatOpenMetrics
	formatProtobuf
)

func (f bodyFormat) String() string {
	switch f {
	case formatOpenMetrics:
		return "OpenMetrics"
	case formatProtobuf:
		return "delimited protobuf"
	default:
		return "text format 0.0.4"
	}
}

// formatOf picks the body format from the Content-Type header, as the
// Pushgateway does: delimited protobuf and OpenMetrics by their media types,
// anything else is the text format 0.0.4.
func formatOf(contentType string) (bodyFormat, error) {
	if contentType == "" {
		return formatText, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return formatText, nil
	}
	switch mt {
	case "application/vnd.google.protobuf":
		if params["encoding"] != "delimited" || params["proto"] != "io.prometheus.client.MetricFamily" {
			return formatProtobuf, fmt.Errorf("content type %q is not supported: a protobuf push must be sent as application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", contentType)
		}
		return formatProtobuf, nil
	case "application/openmetrics-text":
		return formatOpenMetrics, nil
	}
	return formatText, nil
}

// bodyParser turns one push body into normalised families whose samples
// carry their complete label sets (grouping key applied). One is used per
// request.
type bodyParser struct {
	gk      labels.Labels
	allowTS bool
	sb      labels.ScratchBuilder
	lb      *labels.Builder
	hbuf    []byte
}

func newBodyParser(gk labels.Labels, allowTS bool) *bodyParser {
	return &bodyParser{
		gk:      gk,
		allowTS: allowTS,
		sb:      labels.NewScratchBuilder(16),
		lb:      labels.NewBuilder(labels.EmptyLabels()),
	}
}

// parse parses a body in the given format. An empty body has no families
// in every format.
func (bp *bodyParser) parse(b []byte, f bodyFormat) ([]Family, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var fams []Family
	var err error
	switch f {
	case formatProtobuf:
		fams, err = bp.parseProtobuf(b)
	case formatOpenMetrics:
		fams, err = bp.parseText(b, true)
	default:
		if b[len(b)-1] != '\n' {
			return nil, errors.New(`text format 0.0.4 body: the body does not end with a newline: every line, the last one too, must end with "\n"`)
		}
		fams, err = bp.parseText(b, false)
	}
	if err != nil {
		return nil, fmt.Errorf("%s body: %w", f, err)
	}
	return fams, nil
}

// rawFamily is a family of a text or OpenMetrics body as declared.
type rawFamily struct {
	name          string
	mtype         model.MetricType
	help          string
	typed, helped bool
	samples       []Sample
}

// textAssembler groups the samples of a text body into their families.
type textAssembler struct {
	om     bool
	fams   []*rawFamily
	byName map[string]*rawFamily
	cur    *rawFamily
}

func (a *textAssembler) family(name string) *rawFamily {
	f := a.byName[name]
	if f == nil {
		f = &rawFamily{name: name, mtype: model.MetricTypeUnknown}
		a.byName[name] = f
		a.fams = append(a.fams, f)
	}
	return f
}

func (a *textAssembler) typ(name string, t model.MetricType) error {
	f := a.family(name)
	switch {
	case f.typed:
		return fmt.Errorf("second TYPE line for metric %q: give each metric one TYPE line", name)
	case len(f.samples) > 0:
		return fmt.Errorf("TYPE line for metric %q comes after its samples: put # TYPE before the metric's first sample", name)
	}
	f.mtype, f.typed = t, true
	a.cur = f
	return nil
}

func (a *textAssembler) help(name, text string) error {
	f := a.family(name)
	if f.helped {
		return fmt.Errorf("second HELP line for metric %q: give each metric one HELP line", name)
	}
	f.help, f.helped = text, true
	a.cur = f
	return nil
}

// suffixes that can tie a sample to a family of another name.
var familySuffixes = []string{"_total", "_created", "_bucket", "_sum", "_count", "_gcount", "_gsum", "_info"}

// sample adds a sample to its family: the current one if the name fits,
// else the family of that name or of the name without a known suffix, else
// a new untyped family.
func (a *textAssembler) sample(s Sample) error {
	if a.cur != nil && belongs(a.cur, s.Name, a.om) {
		a.cur.samples = append(a.cur.samples, s)
		return nil
	}
	f := a.byName[s.Name]
	if f != nil && !belongs(f, s.Name, a.om) {
		return fmt.Errorf("sample %q cannot belong to the %s %q, which has only %s samples: rename the metric", s.Name, typeWord(f.mtype, a.om), f.name, suffixList(f))
	}
	if f == nil {
		for _, suf := range familySuffixes {
			if base, ok := strings.CutSuffix(s.Name, suf); ok {
				if g := a.byName[base]; g != nil && belongs(g, s.Name, a.om) {
					f = g
					break
				}
			}
		}
	}
	if f == nil {
		f = a.family(s.Name)
	}
	f.samples = append(f.samples, s)
	a.cur = f
	return nil
}

// belongs reports whether a sample named name is part of family f.
func belongs(f *rawFamily, name string, om bool) bool {
	if name == f.name {
		return f.mtype != model.MetricTypeHistogram && f.mtype != model.MetricTypeGaugeHistogram
	}
	suf, ok := strings.CutPrefix(name, f.name)
	if !ok {
		return false
	}
	switch f.mtype {
	case model.MetricTypeCounter:
		return om && (suf == "_total" || suf == "_created")
	case model.MetricTypeHistogram:
		return suf == "_bucket" || suf == "_sum" || suf == "_count" || om && suf == "_created"
	case model.MetricTypeSummary:
		return suf == "_sum" || suf == "_count" || om && suf == "_created"
	case model.MetricTypeGaugeHistogram:
		return suf == "_bucket" || suf == "_gcount" || suf == "_gsum"
	case model.MetricTypeInfo:
		return suf == "_info"
	}
	return false
}

func suffixList(f *rawFamily) string {
	switch f.mtype {
	case model.MetricTypeHistogram:
		return f.name + "_bucket, " + f.name + "_sum and " + f.name + "_count"
	case model.MetricTypeGaugeHistogram:
		return f.name + "_bucket, " + f.name + "_gcount and " + f.name + "_gsum"
	}
	return strconv.Quote(f.name)
}

func typeWord(t model.MetricType, om bool) string {
	if t == model.MetricTypeUnknown && !om {
		return "untyped"
	}
	return string(t)
}

// parseText parses a text 0.0.4 or OpenMetrics body with Prometheus' own
// scrape parsers.
func (bp *bodyParser) parseText(b []byte, om bool) ([]Family, error) {
	if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
		return nil, fmt.Errorf(`line %d ends with "\r\n" (CRLF): lines must end with "\n" only`, bytes.Count(b[:i], []byte{'\n'})+1)
	}
	st := labels.NewSymbolTable()
	var p textparse.Parser
	if om {
		p = textparse.NewOpenMetricsParser(b, st)
	} else {
		p = textparse.NewPromParser(b, st, false)
	}
	a := &textAssembler{om: om, byName: make(map[string]*rawFamily)}
	var lset labels.Labels
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if om && strings.Contains(err.Error(), "does not end with # EOF") {
				return nil, fmt.Errorf(`%w (an OpenMetrics body must end with the line "# EOF")`, err)
			}
			return nil, err
		}
		switch e {
		case textparse.EntryType:
			name, t := p.Type()
			if err := a.typ(string(name), t); err != nil {
				return nil, err
			}
		case textparse.EntryHelp:
			name, text := p.Help()
			if err := a.help(string(name), string(text)); err != nil {
				return nil, err
			}
		case textparse.EntrySeries:
			series, ts, v := p.Series()
			p.Labels(&lset)
			if len(series) > 0 && (series[0] == ' ' || series[0] == '\t') {
				// The scrape parser keeps a line's leading blanks in
				// the metric name; the text format ignores them.
				bp.lb.Reset(lset)
				bp.lb.Set(model.MetricNameLabel, strings.TrimLeft(lset.Get(model.MetricNameLabel), " \t"))
				lset = bp.lb.Labels()
			}
			merged, name, err := bp.merge(lset)
			if err != nil {
				return nil, err
			}
			s := Sample{Name: name, Labels: merged, Value: canonicalNaN(v)}
			if ts != nil {
				if !bp.allowTS {
					return nil, timestampError(merged, *ts)
				}
				s.TimestampMs = *ts
			}
			if err := a.sample(s); err != nil {
				return nil, err
			}
		case textparse.EntryHistogram:
			return nil, errors.New("native histograms are not supported: push classic histograms (with _bucket series)")
		}
	}
	out := make([]Family, 0, len(a.fams))
	for _, f := range a.fams {
		if len(f.samples) == 0 {
			continue
		}
		if om {
			out = append(out, splitOpenMetrics(f)...)
		} else {
			out = append(out, Family{Name: f.name, Type: textType(f.mtype), Help: f.help, Samples: f.samples})
		}
	}
	for i := range out {
		if err := bp.checkDistribution(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func timestampError(ls labels.Labels, ts int64) error {
	return fmt.Errorf("sample %s has a timestamp (%d): pushed samples are stored at push time, so timestamps are refused, as the Pushgateway refuses them; remove the timestamp from the push", ls, ts)
}

// textType maps a text format 0.0.4 type onto the data model.
func textType(t model.MetricType) collector.ValueType {
	switch t {
	case model.MetricTypeCounter:
		return collector.Counter
	case model.MetricTypeGauge:
		return collector.Gauge
	case model.MetricTypeHistogram:
		return collector.Histogram
	case model.MetricTypeSummary:
		return collector.Summary
	}
	return collector.Untyped
}

// splitOpenMetrics normalises an OpenMetrics family into the families the
// text format 0.0.4 has for it (see Family).
func splitOpenMetrics(f *rawFamily) []Family {
	target := func(name string) (string, collector.ValueType) {
		switch f.mtype {
		case model.MetricTypeCounter:
			if strings.HasSuffix(name, "_created") && name != f.name {
				return name, collector.Gauge
			}
			return name, collector.Counter
		case model.MetricTypeGauge, model.MetricTypeStateset, model.MetricTypeInfo, model.MetricTypeGaugeHistogram:
			return name, collector.Gauge
		case model.MetricTypeHistogram, model.MetricTypeSummary:
			if name == f.name+"_created" {
				return name, collector.Gauge
			}
			return f.name, textType(f.mtype)
		}
		return name, collector.Untyped
	}
	var out []Family
	idx := make(map[string]int, 2)
	for _, s := range f.samples {
		name, t := target(s.Name)
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, Family{Name: name, Type: t, Help: f.help})
		}
		out[i].Samples = append(out[i].Samples, s)
	}
	return out
}

// checkDistribution validates the samples of a histogram or summary of a
// text body and adds the le="+Inf" bucket (equal to _count) where a
// histogram lacks it, as the Pushgateway's re-exposition does.
func (bp *bodyParser) checkDistribution(f *Family) error {
	switch f.Type {
	case collector.Histogram:
		type state struct {
			inf   bool
			count *Sample
		}
		var states map[string]*state
		var order []string
		for i := range f.Samples {
			s := &f.Samples[i]
			le := s.Labels.Get(model.BucketLabel)
			switch s.Name {
			case f.Name + "_bucket":
				if le == "" {
					return fmt.Errorf("histogram bucket %s has no le label: give every _bucket sample its upper bound as le", s.Labels)
				}
				ub, err := strconv.ParseFloat(le, 64)
				if err != nil || math.IsNaN(ub) {
					return fmt.Errorf("histogram bucket %s: le=%q is not a number", s.Labels, le)
				}
			default:
				if s.Labels.Has(model.BucketLabel) {
					return fmt.Errorf("sample %s of histogram %q has an le label, which only _bucket samples may have", s.Labels, f.Name)
				}
			}
			if states == nil {
				states = make(map[string]*state)
			}
			bp.hbuf = s.Labels.BytesWithoutLabels(bp.hbuf, model.MetricNameLabel, model.BucketLabel)
			st := states[string(bp.hbuf)]
			if st == nil {
				st = &state{}
				states[string(bp.hbuf)] = st
				order = append(order, string(bp.hbuf))
			}
			switch {
			case s.Name == f.Name+"_bucket" && math.IsInf(parseLe(le), 1):
				st.inf = true
			case s.Name == f.Name+"_count":
				st.count = s
			}
		}
		// A missing +Inf bucket is appended after the family's other
		// samples: order does not matter to the store, and the
		// exposition sorts buckets itself.
		for _, k := range order {
			st := states[k]
			if st.inf || st.count == nil {
				continue
			}
			bp.lb.Reset(st.count.Labels)
			bp.lb.Set(model.MetricNameLabel, f.Name+"_bucket")
			bp.lb.Set(model.BucketLabel, "+Inf")
			f.Samples = append(f.Samples, Sample{Name: f.Name + "_bucket", Labels: bp.lb.Labels(), Value: st.count.Value, TimestampMs: st.count.TimestampMs})
		}
	case collector.Summary:
		for i := range f.Samples {
			s := &f.Samples[i]
			q := s.Labels.Get(model.QuantileLabel)
			if s.Name == f.Name {
				if q == "" {
					return fmt.Errorf("summary sample %s has no quantile label: give it its quantile, or push only _sum and _count", s.Labels)
				}
				if v, err := strconv.ParseFloat(q, 64); err != nil || math.IsNaN(v) {
					return fmt.Errorf("summary sample %s: quantile=%q is not a number", s.Labels, q)
				}
			} else if s.Labels.Has(model.QuantileLabel) {
				return fmt.Errorf("sample %s of summary %q has a quantile label, which only the quantile samples may have", s.Labels, f.Name)
			}
		}
	}
	return nil
}

func parseLe(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// canonicalNaN replaces every NaN by Prometheus' normal NaN, so that no
// pushed value can be taken for a staleness marker.
func canonicalNaN(v float64) float64 {
	if math.IsNaN(v) {
		return math.Float64frombits(value.NormalNaN)
	}
	return v
}

// merge validates the sorted labels of one body series and returns them
// with the grouping key applied: the key's labels replace the body's
// labels of the same names, and labels with empty values are dropped (a
// Prometheus scrape drops them too).
func (bp *bodyParser) merge(in labels.Labels) (labels.Labels, string, error) {
	bp.sb.Reset()
	var name, prev string
	first := true
	err := in.Validate(func(l labels.Label) error {
		if !first && l.Name == prev {
			return fmt.Errorf("label %q appears twice", l.Name)
		}
		first, prev = false, l.Name
		if l.Name == model.MetricNameLabel {
			name = l.Value
			bp.sb.Add(l.Name, l.Value)
			return nil
		}
		return bp.addLabel(l.Name, l.Value)
	})
	if err == nil {
		err = checkMetricName(name)
	}
	if err != nil {
		return labels.EmptyLabels(), "", fmt.Errorf("series %s: %w", in, err)
	}
	return bp.finish(), name, nil
}

// addLabel validates one body label and adds it to bp.sb unless it is
// empty or the grouping key overrides it.
func (bp *bodyParser) addLabel(name, value string) error {
	if !model.UTF8Validation.IsValidLabelName(name) {
		return fmt.Errorf("invalid label name %q: a label name must be non-empty valid UTF-8", name)
	}
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("label name %q is reserved: names starting with __ are for internal use; rename the label", name)
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("the value of label %q is not valid UTF-8", name)
	}
	if value == "" || bp.gk.Has(name) {
		return nil
	}
	bp.sb.Add(name, value)
	return nil
}

func checkMetricName(name string) error {
	if !model.UTF8Validation.IsValidMetricName(name) {
		return fmt.Errorf("invalid metric name %q: a metric name must be non-empty valid UTF-8", name)
	}
	return nil
}

// finish adds the grouping key to bp.sb and returns the sorted labels.
func (bp *bodyParser) finish() labels.Labels {
	bp.gk.Range(func(l labels.Label) {
		if l.Value != "" {
			bp.sb.Add(l.Name, l.Value)
		}
	})
	bp.sb.Sort()
	return bp.sb.Labels()
}

// mergeDTO is merge for the labels of a protobuf metric.
func (bp *bodyParser) mergeDTO(name string, lps []*dto.LabelPair) (labels.Labels, error) {
	describe := func() string {
		b := labels.NewScratchBuilder(len(lps) + 1)
		b.Add(model.MetricNameLabel, name)
		for _, lp := range lps {
			b.Add(lp.GetName(), lp.GetValue())
		}
		b.Sort()
		return b.Labels().String()
	}
	var seen map[string]bool
	if len(lps) > 16 {
		seen = make(map[string]bool, len(lps))
	}
	bp.sb.Reset()
	bp.sb.Add(model.MetricNameLabel, name)
	for i, lp := range lps {
		n := lp.GetName()
		dup := n == model.MetricNameLabel
		if seen != nil {
			dup = dup || seen[n]
			seen[n] = true
		} else {
			for _, o := range lps[:i] {
				dup = dup || o.GetName() == n
			}
		}
		if dup {
			return labels.EmptyLabels(), fmt.Errorf("series %s: label %q appears twice", describe(), n)
		}
		if err := bp.addLabel(n, lp.GetValue()); err != nil {
			return labels.EmptyLabels(), fmt.Errorf("series %s: %w", describe(), err)
		}
	}
	return bp.finish(), nil
}

// parseProtobuf parses a body of length-delimited MetricFamily messages.
// A family repeated in one body replaces the earlier one, as in the
// Pushgateway.
func (bp *bodyParser) parseProtobuf(b []byte) ([]Family, error) {
	r := bytes.NewReader(b)
	var out []Family
	idx := make(map[string]int)
	// A message cannot be longer than the body: this limit also keeps a
	// forged length prefix from allocating gigabytes.
	opts := protodelim.UnmarshalOptions{MaxSize: int64(len(b))}
	for n := 1; ; n++ {
		mf := &dto.MetricFamily{}
		if err := opts.UnmarshalFrom(r, mf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("message %d: %w", n, err)
		}
		fams, err := bp.convertFamily(mf)
		if err != nil {
			return nil, err
		}
		for _, f := range fams {
			if i, ok := idx[f.Name]; ok {
				out[i] = f
				continue
			}
			idx[f.Name] = len(out)
			out = append(out, f)
		}
	}
	return out, nil
}

// isNativeHistogram reports whether h has native-histogram parts.
func isNativeHistogram(h *dto.Histogram) bool {
	return len(h.GetPositiveSpan()) > 0 || len(h.GetNegativeSpan()) > 0 || h.GetZeroThreshold() > 0 || h.GetZeroCount() > 0 || h.GetZeroCountFloat() > 0
}

// convertFamily flattens one protobuf family into normalised families.
func (bp *bodyParser) convertFamily(mf *dto.MetricFamily) ([]Family, error) {
	name := mf.GetName()
	if err := checkMetricName(name); err != nil {
		return nil, err
	}
	if len(mf.GetMetric()) == 0 {
		return nil, nil
	}
	main := Family{Name: name, Help: mf.GetHelp()}
	var extra []Family // gauge-histogram parts
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		main.Type = collector.Counter
	case dto.MetricType_GAUGE:
		main.Type = collector.Gauge
	case dto.MetricType_SUMMARY:
		main.Type = collector.Summary
	case dto.MetricType_HISTOGRAM:
		main.Type = collector.Histogram
	case dto.MetricType_GAUGE_HISTOGRAM:
		main.Type = collector.Gauge
		main.Name = name + "_bucket"
		extra = []Family{
			{Name: name + "_gcount", Type: collector.Gauge, Help: mf.GetHelp()},
			{Name: name + "_gsum", Type: collector.Gauge, Help: mf.GetHelp()},
		}
	default:
		main.Type = collector.Untyped
	}
	for _, m := range mf.GetMetric() {
		base, err := bp.mergeDTO(name, m.GetLabel())
		if err != nil {
			return nil, err
		}
		var ts int64
		if m.TimestampMs != nil {
			if !bp.allowTS {
				return nil, timestampError(base, m.GetTimestampMs())
			}
			ts = m.GetTimestampMs()
		}
		add := func(f *Family, suffix, extraName, extraValue string, v float64) {
			ls := base
			if suffix != "" || extraName != "" {
				bp.lb.Reset(base)
				bp.lb.Set(model.MetricNameLabel, name+suffix)
				if extraName != "" {
					bp.lb.Set(extraName, extraValue)
				}
				ls = bp.lb.Labels()
			}
			f.Samples = append(f.Samples, Sample{Name: name + suffix, Labels: ls, Value: canonicalNaN(v), TimestampMs: ts})
		}
		missing := func(what string) error {
			return fmt.Errorf("series %s is declared %s but carries no %s value", base, strings.ToLower(mf.GetType().String()), what)
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			if m.Counter == nil {
				return nil, missing("counter")
			}
			add(&main, "", "", "", m.Counter.GetValue())
		case dto.MetricType_GAUGE:
			if m.Gauge == nil {
				return nil, missing("gauge")
			}
			add(&main, "", "", "", m.Gauge.GetValue())
		case dto.MetricType_UNTYPED:
			if m.Untyped == nil {
				return nil, missing("untyped")
			}
			add(&main, "", "", "", m.Untyped.GetValue())
		case dto.MetricType_SUMMARY:
			sm := m.Summary
			if sm == nil {
				return nil, missing("summary")
			}
			if base.Has(model.QuantileLabel) {
				return nil, fmt.Errorf("summary series %s has a quantile label of its own: rename that label", base)
			}
			for _, q := range sm.GetQuantile() {
				add(&main, "", model.QuantileLabel, labels.FormatOpenMetricsFloat(q.GetQuantile()), q.GetValue())
			}
			add(&main, "_sum", "", "", sm.GetSampleSum())
			add(&main, "_count", "", "", float64(sm.GetSampleCount()))
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.Histogram
			if h == nil {
				return nil, missing("histogram")
			}
			if base.Has(model.BucketLabel) {
				return nil, fmt.Errorf("histogram series %s has an le label of its own: rename that label", base)
			}
			if len(h.GetBucket()) == 0 && isNativeHistogram(h) {
				return nil, fmt.Errorf("series %s is a native histogram, which is not supported: push a classic histogram (with buckets)", base)
			}
			count := float64(h.GetSampleCount())
			if h.SampleCountFloat != nil {
				count = h.GetSampleCountFloat()
			}
			bs := h.GetBucket()
			sorted := sort.SliceIsSorted(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
			if !sorted {
				return nil, fmt.Errorf("histogram series %s: buckets are not in increasing order of upper bound", base)
			}
			inf := false
			for _, bk := range bs {
				c := float64(bk.GetCumulativeCount())
				if bk.CumulativeCountFloat != nil {
					c = bk.GetCumulativeCountFloat()
				}
				if math.IsInf(bk.GetUpperBound(), 1) {
					inf = true
				}
				add(&main, "_bucket", model.BucketLabel, labels.FormatOpenMetricsFloat(bk.GetUpperBound()), c)
			}
			if !inf {
				add(&main, "_bucket", model.BucketLabel, "+Inf", count)
			}
			if mf.GetType() == dto.MetricType_GAUGE_HISTOGRAM {
				add(&extra[0], "_gcount", "", "", count)
				add(&extra[1], "_gsum", "", "", h.GetSampleSum())
			} else {
				add(&main, "_sum", "", "", h.GetSampleSum())
				add(&main, "_count", "", "", count)
			}
		default:
			return nil, fmt.Errorf("metric %q has unknown type %d", name, mf.GetType())
		}
	}
	return append([]Family{main}, extra...), nil
}
