package exposition

import (
	"math"
	"sort"
	"strconv"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// AppendText appends families in the Prometheus text format 0.0.4 to buf,
// exactly as expfmt writes them (labels sorted by name), without building
// the intermediate protobuf structs: a tick's exposition costs a fraction
// of expfmt's time and allocations.
func AppendText(buf []byte, fams []*collector.Family) []byte {
	var order []int
	for _, f := range fams {
		if len(f.Samples) == 0 {
			continue
		}
		d := f.Desc
		buf = append(buf, "# HELP "...)
		buf = append(buf, d.Name...)
		buf = append(buf, ' ')
		buf = appendEscaped(buf, d.Help, false)
		buf = append(buf, "\n# TYPE "...)
		buf = append(buf, d.Name...)
		buf = append(buf, ' ')
		buf = append(buf, d.Type.String()...)
		buf = append(buf, '\n')

		order = labelOrder(order, d)

		for i := range f.Samples {
			s := &f.Samples[i]
			switch d.Type {
			case collector.Summary:
				buf = appendSummary(buf, d, order, s)
			case collector.Histogram:
				buf = appendHistogram(buf, d, order, s)
			default:
				buf = appendLine(buf, d.Name, "", d, order, s, "", "", s.Value)
			}
		}
	}
	return buf
}

func appendSummary(buf []byte, d *collector.Desc, order []int, s *collector.Sample) []byte {
	var dist collector.Distribution
	if s.Dist != nil {
		dist = *s.Dist
	}
	for _, q := range dist.Quantiles {
		buf = appendLine(buf, d.Name, "", d, order, s, "quantile", formatFloat(q.Quantile), q.Value)
	}
	buf = appendLine(buf, d.Name, "_sum", d, order, s, "", "", dist.Sum)
	return appendLine(buf, d.Name, "_count", d, order, s, "", "", float64(dist.Count))
}

func appendHistogram(buf []byte, d *collector.Desc, order []int, s *collector.Sample) []byte {
	var dist collector.Distribution
	if s.Dist != nil {
		dist = *s.Dist
	}
	for _, b := range dist.Buckets {
		if math.IsInf(b.UpperBound, 1) {
			continue
		}
		buf = appendLine(buf, d.Name, "_bucket", d, order, s, "le", formatFloat(b.UpperBound), float64(b.Count))
	}
	buf = appendLine(buf, d.Name, "_bucket", d, order, s, "le", "+Inf", float64(dist.Count))
	buf = appendLine(buf, d.Name, "_sum", d, order, s, "", "", dist.Sum)
	return appendLine(buf, d.Name, "_count", d, order, s, "", "", float64(dist.Count))
}

// appendLine writes one sample line: name+suffix, the sample's labels in
// sorted order plus an optional extra label (quantile, le), the value and
// the timestamp if any.
func appendLine(buf []byte, name, suffix string, d *collector.Desc, order []int, s *collector.Sample, extraName, extraValue string, v float64) []byte {
	buf = append(buf, name...)
	buf = append(buf, suffix...)
	buf = appendLabels(buf, d, order, s, extraName, extraValue)
	buf = append(buf, ' ')
	buf = appendFloat(buf, v)
	if s.TimestampMs != 0 {
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, s.TimestampMs, 10)
	}
	return append(buf, '\n')
}

// labelOrder returns the indexes of d's labels in name order (in order's
// storage): both formats write labels sorted, as client_golang does.
func labelOrder(order []int, d *collector.Desc) []int {
	order = order[:0]
	for i := range d.LabelNames {
		order = append(order, i)
	}
	sort.Slice(order, func(a, b int) bool { return d.LabelNames[order[a]] < d.LabelNames[order[b]] })
	return order
}

// appendLabels writes {name="value",...} for s's labels in order, plus an
// optional extra label (quantile, le) whose value is already formatted;
// nothing when there are none.
func appendLabels(buf []byte, d *collector.Desc, order []int, s *collector.Sample, extraName, extraValue string) []byte {
	if len(order) == 0 && extraName == "" {
		return buf
	}
	buf = append(buf, '{')
	for n, i := range order {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, d.LabelNames[i]...)
		buf = append(buf, `="`...)
		buf = appendEscaped(buf, s.LabelValues[i], true)
		buf = append(buf, '"')
	}
	if extraName != "" {
		if len(order) > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, extraName...)
		buf = append(buf, `="`...)
		buf = append(buf, extraValue...)
		buf = append(buf, '"')
	}
	return append(buf, '}')
}

// appendEscaped escapes a HELP text (backslash, newline) or a label value
// (also the double quote).
func appendEscaped(buf []byte, s string, quote bool) []byte {
	if !needsEscape(s) {
		return append(buf, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			buf = append(buf, `\\`...)
		case c == '\n':
			buf = append(buf, `\n`...)
		case c == '"' && quote:
			buf = append(buf, `\"`...)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// needsEscape reports whether s holds a backslash, a newline or a double
// quote. A plain loop: strings.ContainsAny builds a character set on every
// call, which was a tenth of the encoding's time for short label values.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\n' || c == '"' {
			return true
		}
	}
	return false
}

func appendFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(buf, "+Inf"...)
	case math.IsInf(f, -1):
		return append(buf, "-Inf"...)
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, 64)
}

func formatFloat(f float64) string { return string(appendFloat(nil, f)) }
