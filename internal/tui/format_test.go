package tui

import (
	"math"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestFormatters(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"bytes small", fmtBytes(512), "512B"},
		{"bytes K", fmtBytes(1536), "1.5K"},
		{"bytes G", fmtBytes(118 * (1 << 30)), "118G"},
		{"bytes over 1000 take the next unit", fmtBytes(1023 * (1 << 30)), "1.0T"},
		{"bytes T", fmtBytes(1.8 * (1 << 40)), "1.8T"},
		{"bytes negative", fmtBytes(-1), "-"},
		{"rate", fmtRate(4.52e8), "431M/s"},
		{"count", fmtCount(310000), "310k"},
		{"count fraction", fmtCount(16.5), "16.5"},
		{"count whole", fmtCount(140), "140"},
		{"pct", fmtPct(97.4), "97%"},
		{"pct small", fmtPct(4.51), "4.5%"},
		{"pct zero", fmtPct(0), "0%"},
		{"duration s", fmtDuration(45), "45s"},
		{"duration m", fmtDuration(725), "12m05s"},
		{"duration h", fmtDuration(3*3600 + 7*60), "3h07m"},
		{"duration d", fmtDuration(2*86400 + 4*3600), "2d04h"},
		{"duration NaN", fmtDuration(math.NaN()), "-"},
		{"float loss", fmtFloat(0.94123), "0.9412"},
		{"float lr", fmtFloat(2.1e-5), "2.10e-05"},
		{"float big", fmtFloat(41472), "41472.00"},
		{"float NaN", fmtFloat(math.NaN()), "NaN"},
		{"float +Inf", fmtFloat(math.Inf(1)), "+Inf"},
		{"MHz", fmtMHz(1.98e9), "1980MHz"},
		{"model", shortModel("NVIDIA H200 141GB HBM3e"), "H200 141GB HBM3e"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestBar(t *testing.T) {
	cases := []struct {
		pct   float64
		width int
		want  string
	}{
		{0, 6, "[    ]"},
		{100, 6, "[████]"},
		{50, 6, "[██  ]"},
		{12.5, 6, "[▌   ]"},
		{150, 6, "[████]"},
		{-5, 6, "[    ]"},
		{math.NaN(), 6, "[    ]"},
		{50, 2, ""},
	}
	for _, c := range cases {
		got := bar(c.pct, c.width)
		if got != c.want {
			t.Errorf("bar(%v, %d) = %q, want %q", c.pct, c.width, got, c.want)
		}
		if c.want != "" && width(got) != c.width {
			t.Errorf("bar(%v, %d) is %d cells", c.pct, c.width, width(got))
		}
	}
}

func TestSparkline(t *testing.T) {
	cases := []struct {
		name   string
		vs     []float64
		w      int
		lo, hi float64
		want   string
	}{
		{"rising", []float64{0, 25, 50, 75, 100}, 5, 0, 100, "▁▂▄▆█"},
		{"padded left", []float64{100, 100}, 4, 0, 100, "  ██"},
		{"newest kept", []float64{0, 0, 100, 100}, 2, 0, 100, "██"},
		{"NaN is a gap", []float64{50, math.NaN(), 50}, 3, 0, 100, "▄ ▄"},
		{"out of range clamps", []float64{-10, 200}, 2, 0, 100, "▁█"},
		{"no room", []float64{1}, 0, 0, 1, ""},
	}
	for _, c := range cases {
		if got := sparkline(c.vs, c.w, c.lo, c.hi); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestGraph(t *testing.T) {
	got := graph([]float64{0, 50, 100}, 4, 2, 0, 100)
	want := []string{"   █", "  ██"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("graph = %q, want %q", got, want)
	}
	for _, r := range graph([]float64{10, 90}, 7, 3, 0, 100) {
		if width(r) != 7 {
			t.Errorf("graph row %q is not 7 cells", r)
		}
	}
}

func TestResample(t *testing.T) {
	cases := []struct {
		name string
		vs   []float64
		n    int
		want []float64
	}{
		{"squeeze", []float64{1, 3, 5, 7}, 2, []float64{2, 6}},
		{"stretch", []float64{1, 2}, 4, []float64{1, 1, 2, 2}},
		{"same", []float64{1, 2}, 2, []float64{1, 2}},
		{"NaN ignored in a bucket", []float64{1, math.NaN(), 4, 6}, 2, []float64{1, 5}},
	}
	for _, c := range cases {
		got := resample(c.vs, c.n)
		if len(got) != len(c.want) {
			t.Fatalf("%s: got %v, want %v", c.name, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
	if got := resample([]float64{math.NaN(), math.NaN()}, 1); !math.IsNaN(got[0]) {
		t.Errorf("an all-NaN bucket is %v, want NaN", got[0])
	}
}

func TestClipAndPad(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"clip short", clip("abc", 5), "abc"},
		{"clip long", clip("abcdef", 4), "abc…"},
		{"clip wide runes", clip("██████", 3), "██…"},
		{"clip keeps escapes", clip("\x1b[1mabcdef\x1b[0m", 4), "\x1b[1mabc…\x1b[0m"},
		{"pad", pad("ab", 4), "ab  "},
		{"pad cuts", pad("abcdef", 3), "ab…"},
		{"padLeft", padLeft("7", 3), "  7"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("one two three four", 9)
	if got != "one two\nthree\nfour" {
		t.Errorf("wrap = %q", got)
	}
}

// TestWidthAgreesWithAnsi: the fast width is ansi.StringWidth's for every
// rune it measures itself, and for mixed text with escapes.
func TestWidthAgreesWithAnsi(t *testing.T) {
	for _, rng := range [][2]rune{{0x20, 0x7e}, {0xa0, 0x2ff}, {0x2010, 0x2027}, {0x2190, 0x21ff}, {0x2500, 0x25ff}, {0x26a0, 0x26a0}, {0x2716, 0x2716}} {
		for r := rng[0]; r <= rng[1]; r++ {
			s := "a" + string(r) + "b"
			if got, want := width(s), ansi.StringWidth(s); got != want {
				t.Errorf("U+%04X: width %d, ansi.StringWidth %d", r, got, want)
			}
		}
	}
	for _, s := range []string{
		"\x1b[1;38;5;2mGPU 0\x1b[0m ▁▂▃ 69°C",
		"训练 loss ▁▂",
		"e\u0301cole",
		"🚀 run",
		"\x1b]8;;http://x\x07link\x1b]8;;\x07",
		"⚠ hw_slowdown ✖ XID 13×2 · 1–9 ↑↓ │ └─",
	} {
		if got, want := width(s), ansi.StringWidth(s); got != want {
			t.Errorf("%q: width %d, ansi.StringWidth %d", s, got, want)
		}
	}
}
