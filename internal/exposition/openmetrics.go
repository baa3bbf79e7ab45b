package exposition

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// AppendOpenMetrics appends families in OpenMetrics 1.0 text, with the
// final "# EOF" line, to buf, exactly as expfmt's OpenMetrics encoder
// writes them (labels sorted by name; a counter named without _total is
// typed unknown; integer-valued floats get ".0"; timestamps in seconds),
// without the intermediate protobuf structs: Prometheus asks for
// OpenMetrics first, and through client_model and expfmt a tick's
// exposition cost 7.5 ms and half of the agent's allocations.
func AppendOpenMetrics(buf []byte, fams []*collector.Family) []byte {
	var order []int
	for _, f := range fams {
		if len(f.Samples) == 0 {
			continue
		}
		d := f.Desc
		name, sampleName := d.Name, d.Name
		typ := d.Type.String()
		switch d.Type {
		case collector.Counter:
			if strings.HasSuffix(d.Name, "_total") {
				name = d.Name[:len(d.Name)-len("_total")]
			} else {
				typ = "unknown"
			}
		case collector.Untyped:
			typ = "unknown"
		}
		buf = append(buf, "# HELP "...)
		buf = append(buf, name...)
		buf = append(buf, ' ')
		buf = appendEscaped(buf, d.Help, true)
		buf = append(buf, "\n# TYPE "...)
		buf = append(buf, name...)
		buf = append(buf, ' ')
		buf = append(buf, typ...)
		buf = append(buf, '\n')

		order = labelOrder(order, d)

		for i := range f.Samples {
			s := &f.Samples[i]
			switch d.Type {
			case collector.Summary:
				buf = appendOMSummary(buf, sampleName, d, order, s)
			case collector.Histogram:
				buf = appendOMHistogram(buf, sampleName, d, order, s)
			default:
				buf = appendOMLine(buf, sampleName, "", d, order, s, "", math.NaN(), s.Value, 0, false)
			}
		}
	}
	return append(buf, "# EOF\n"...)
}

func appendOMSummary(buf []byte, name string, d *collector.Desc, order []int, s *collector.Sample) []byte {
	var dist collector.Distribution
	if s.Dist != nil {
		dist = *s.Dist
	}
	for _, q := range dist.Quantiles {
		buf = appendOMLine(buf, name, "", d, order, s, "quantile", q.Quantile, q.Value, 0, false)
	}
	buf = appendOMLine(buf, name, "_sum", d, order, s, "", 0, dist.Sum, 0, false)
	return appendOMLine(buf, name, "_count", d, order, s, "", 0, 0, dist.Count, true)
}

func appendOMHistogram(buf []byte, name string, d *collector.Desc, order []int, s *collector.Sample) []byte {
	var dist collector.Distribution
	if s.Dist != nil {
		dist = *s.Dist
	}
	for _, b := range dist.Buckets {
		if math.IsInf(b.UpperBound, 1) {
			continue
		}
		buf = appendOMLine(buf, name, "_bucket", d, order, s, "le", b.UpperBound, 0, b.Count, true)
	}
	buf = appendOMLine(buf, name, "_bucket", d, order, s, "le", math.Inf(1), 0, dist.Count, true)
	buf = appendOMLine(buf, name, "_sum", d, order, s, "", 0, dist.Sum, 0, false)
	return appendOMLine(buf, name, "_count", d, order, s, "", 0, 0, dist.Count, true)
}

// appendOMLine writes one sample line: name+suffix, the sample's labels in
// sorted order plus an optional extra label (quantile, le) with a float
// value, the value (a float, or an integer when useInt), and the timestamp
// in seconds if any.
func appendOMLine(buf []byte, name, suffix string, d *collector.Desc, order []int, s *collector.Sample,
	extraName string, extraValue, v float64, iv uint64, useInt bool) []byte {
	buf = append(buf, name...)
	buf = append(buf, suffix...)
	var extra string
	if extraName != "" {
		extra = string(appendOMFloat(nil, extraValue))
	}
	buf = appendLabels(buf, d, order, s, extraName, extra)
	buf = append(buf, ' ')
	if useInt {
		buf = strconv.AppendUint(buf, iv, 10)
	} else {
		buf = appendOMFloat(buf, v)
	}
	if s.TimestampMs != 0 {
		buf = append(buf, ' ')
		buf = appendOMFloat(buf, float64(s.TimestampMs)/1000)
	}
	return append(buf, '\n')
}

// appendOMFloat writes f as OpenMetrics wants it: like the text format,
// with ".0" added to a number that would have neither "." nor "e".
func appendOMFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "+Inf"...)
	case math.IsInf(f, -1):
		return append(buf, "-Inf"...)
	case f == 0: // and -0
		return append(buf, "0.0"...)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	if !bytes.ContainsAny(buf[start:], "e.") {
		buf = append(buf, '.', '0')
	}
	return buf
}
