package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// lowerBlock is the cell filled i eighths from the bottom (0 to 8): ' ',
// '▁' … '█' (U+2581 to U+2588).
func lowerBlock(i int) rune {
	if i <= 0 {
		return ' '
	}
	return rune(0x2580 + min(i, 8))
}

// leftBlock is the cell filled i eighths from the left (0 to 7): ' ', '▏'
// … '▉' (U+258F down to U+2589).
func leftBlock(i int) rune {
	if i <= 0 {
		return ' '
	}
	return rune(0x2590 - min(i, 7))
}

// scale maps v in [lo, hi] to [0, 1].
func scale(v, lo, hi float64) float64 {
	if hi <= lo {
		if v > lo {
			return 1
		}
		return 0
	}
	f := (v - lo) / (hi - lo)
	return math.Max(0, math.Min(1, f))
}

// rangeOf is the minimum and maximum of the finite values of vs, widened so
// that a flat line sits in the middle of a graph rather than at its floor.
func rangeOf(vs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	if hi-lo < 1e-9 {
		pad := math.Max(math.Abs(hi)*0.1, 1e-9)
		return lo - pad, hi + pad
	}
	return lo, hi
}

// sparkline draws the last width values of vs as a one-row chart scaled to
// [lo, hi], right-aligned (newest at the right edge) and left-padded with
// spaces when there are fewer values than cells.
func sparkline(vs []float64, width int, lo, hi float64) string {
	if width <= 0 {
		return ""
	}
	if len(vs) > width {
		vs = vs[len(vs)-width:]
	}
	var b strings.Builder
	b.Grow(width * 3)
	for range width - len(vs) {
		b.WriteByte(' ')
	}
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b.WriteByte(' ')
			continue
		}
		// A sparkline never draws an empty cell for a value: 1 to 8 eighths.
		b.WriteRune(lowerBlock(1 + int(scale(v, lo, hi)*7)))
	}
	return b.String()
}

// graph draws the last width values of vs as a chart height rows tall,
// scaled to [lo, hi]; rows are returned top first.
func graph(vs []float64, width, height int, lo, hi float64) []string {
	if width <= 0 || height <= 0 {
		return nil
	}
	if len(vs) > width {
		vs = vs[len(vs)-width:]
	}
	pad := width - len(vs)
	// levels[i] is column i's filled eighths, 0 to 8*height.
	levels := make([]int, width)
	for i, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		levels[pad+i] = int(math.Round(scale(v, lo, hi) * float64(8*height)))
	}
	rows := make([]string, height)
	var b strings.Builder
	for r := range height {
		b.Reset()
		floor := (height - 1 - r) * 8
		for _, l := range levels {
			b.WriteRune(lowerBlock(l - floor))
		}
		rows[r] = b.String()
	}
	return rows
}

// bar draws a horizontal bar width cells wide (brackets included) filled
// to pct percent, with eighth-cell resolution.
func bar(pct float64, width int) string {
	if width < 3 {
		return ""
	}
	inner := width - 2
	if math.IsNaN(pct) {
		pct = 0
	}
	eighths := int(math.Round(scale(pct, 0, 100) * float64(inner*8)))
	var b strings.Builder
	b.Grow(inner*3 + 2)
	b.WriteByte('[')
	full := eighths / 8
	for range full {
		b.WriteRune('█')
	}
	if full < inner {
		b.WriteRune(leftBlock(eighths % 8))
		for range inner - full - 1 {
			b.WriteByte(' ')
		}
	}
	b.WriteByte(']')
	return b.String()
}

// fmtBytes formats a byte count with binary prefixes in at most six
// characters: "512B", "1.5K", "115.6G", "1023G" -> "1.0T".
func fmtBytes(b float64) string {
	if math.IsNaN(b) || b < 0 {
		return "-"
	}
	units := []string{"B", "K", "M", "G", "T", "P", "E"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(b, 'f', 0, 64) + "B"
	}
	if b >= 100 {
		return strconv.FormatFloat(b, 'f', 0, 64) + units[i]
	}
	return strconv.FormatFloat(b, 'f', 1, 64) + units[i]
}

// fmtU formats a byte count given as an unsigned integer.
func fmtU(b uint64) string { return fmtBytes(float64(b)) }

// fmtRate formats a byte rate: "1.2M/s".
func fmtRate(bps float64) string { return fmtBytes(bps) + "/s" }

// fmtCount formats a count or rate with decimal prefixes in at most five
// characters: "812", "12.3k", "4.5M".
func fmtCount(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	prefixes := []string{"", "k", "M", "G", "T"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		if v == math.Trunc(v) || math.Abs(v) >= 100 {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64) + prefixes[i]
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + prefixes[i]
}

// fmtPct formats a percentage: "98%", "4.5%".
func fmtPct(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 10 || v == 0:
		return strconv.FormatFloat(v, 'f', 0, 64) + "%"
	default:
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	}
}

// fmtDuration formats seconds as "45s", "12m05s", "3h07m", "2d04h".
func fmtDuration(sec float64) string {
	if math.IsNaN(sec) || math.IsInf(sec, 0) || sec < 0 {
		return "-"
	}
	s := int64(math.Round(sec))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}

// fmtFloat formats a metric value (a loss, a learning rate) in about
// seven characters, switching to exponent notation for small values.
func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == 0:
		return "0"
	case math.Abs(v) < 0.001 || math.Abs(v) >= 1e6:
		return strconv.FormatFloat(v, 'e', 2, 64)
	case math.Abs(v) < 10:
		return strconv.FormatFloat(v, 'f', 4, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// fmtMHz formats a clock in hertz as MHz.
func fmtMHz(hz float64) string { return strconv.FormatFloat(hz/1e6, 'f', 0, 64) + "MHz" }

// width is the number of terminal cells s takes, escape sequences ignored.
// The UI's own text (ASCII, Latin letters, box drawing, blocks, arrows) is
// measured here, a rune at a time; anything else (wide CJK, emoji,
// combining marks in a process's command line) by ansi.StringWidth, which
// segments graphemes and costs ten times more.
func width(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b:
			j, ok := skipCSI(s, i)
			if !ok {
				return ansi.StringWidth(s)
			}
			i = j
		case c < 0x80:
			n++ // a control character is shown as one cell (safeLine)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !narrow(r) {
				return ansi.StringWidth(s)
			}
			n++
			i += size
		}
	}
	return n
}

// skipCSI returns the index after the control sequence (ESC [ parameters
// intermediates final) at s[i]; ok is false for any other escape.
func skipCSI(s string, i int) (int, bool) {
	if i+1 >= len(s) || s[i+1] != '[' {
		return 0, false
	}
	for j := i + 2; j < len(s); j++ {
		switch c := s[j]; {
		case c >= 0x40 && c <= 0x7e:
			return j + 1, true
		case c < 0x20 || c > 0x3f && c < 0x40:
			return 0, false
		}
	}
	return 0, false
}

// narrow reports whether r is one cell wide for certain: Latin-1 and
// Latin Extended letters and signs, dashes and quotes, arrows, box drawing,
// block elements and geometric shapes, and the UI's two markers ⚠ and ✖.
func narrow(r rune) bool {
	switch {
	case r >= 0xa1 && r < 0x300 && r != 0xad:
		return true
	case r >= 0x2010 && r <= 0x2027:
		return true
	case r >= 0x2190 && r <= 0x21ff:
		return true
	case r >= 0x2500 && r <= 0x25ff && r != 0x25fd && r != 0x25fe: // those two are emoji
		return true
	case r == 0x26a0 || r == 0x2716:
		return true
	}
	return false
}

// clip cuts s to at most w cells, escape sequences kept intact.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if len(s) <= w { // bytes ≥ cells: short strings need no work
		return s
	}
	if width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// pad cuts or right-pads s with spaces to exactly w cells.
func pad(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = clip(s, w)
	if n := width(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// padLeft cuts or left-pads s with spaces to exactly w cells.
func padLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = clip(s, w)
	if n := width(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// shortModel drops the vendor prefix of a GPU model name, which every GPU
// of a machine shares: "NVIDIA H200 141GB HBM3e" -> "H200 141GB HBM3e".
func shortModel(name string) string {
	for _, p := range []string{"NVIDIA ", "AMD ", "Tesla "} {
		name = strings.TrimPrefix(name, p)
	}
	return name
}

// resample stretches or squeezes vs to n values, so that a whole series
// (a run's loss from its start) fills a chart: buckets are averaged over
// their finite values (NaN when they have none); fewer values than n are
// repeated.
func resample(vs []float64, n int) []float64 {
	if len(vs) == 0 || n <= 0 || len(vs) == n {
		return vs
	}
	out := make([]float64, n)
	if len(vs) < n {
		if len(vs) == 1 {
			return vs
		}
		for i := range out {
			out[i] = vs[i*len(vs)/n]
		}
		return out
	}
	for i := range out {
		from, to := i*len(vs)/n, (i+1)*len(vs)/n
		sum, k := 0.0, 0
		for _, v := range vs[from:to] {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				sum += v
				k++
			}
		}
		if k == 0 {
			out[i] = math.NaN()
		} else {
			out[i] = sum / float64(k)
		}
	}
	return out
}
