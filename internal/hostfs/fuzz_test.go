package hostfs

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks the allocation-free parsers against the standard
// library on any bytes: ParseUint against strconv.ParseUint, ParseFloat
// against strconv.ParseFloat, Fields against strings.FieldsFunc, and
// Lines against a split on newlines.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0", "18446744073709551615", "18446744073709551616", "-0", "-12", "+1", "1.5e3", "NaN", "-Inf", "0x1p-2", "1_000", "",
		"cpu  10 20\t30\n", " a\t\tb  ", "line1\nline2\n\nline4", "\n", "MemTotal:       16318368 kB\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		u, ok := ParseUint(b)
		wu, err := strconv.ParseUint(s, 10, 64)
		if ok != (err == nil) || (ok && u != wu) {
			t.Fatalf("ParseUint(%q) = %d, %v; strconv: %d, %v", s, u, ok, wu, err)
		}
		fl, ok := ParseFloat(b)
		wf, err := strconv.ParseFloat(s, 64)
		if ok != (err == nil) || (ok && fl != wf && !(math.IsNaN(fl) && math.IsNaN(wf))) {
			t.Fatalf("ParseFloat(%q) = %v, %v; strconv: %v, %v", s, fl, ok, wf, err)
		}

		var dst [][]byte
		got := Fields(dst, b)
		want := fieldsBytes(b)
		if len(got) != len(want) {
			t.Fatalf("Fields(%q) = %q, want %q", s, got, want)
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Fatalf("Fields(%q) = %q, want %q", s, got, want)
			}
		}

		l := NewLines("f", b)
		var lines [][]byte
		for l.Next() {
			if l.Number() != len(lines)+1 || bytes.IndexByte(l.Bytes(), '\n') >= 0 {
				t.Fatalf("line %d: %q", l.Number(), l.Bytes())
			}
			lines = append(lines, l.Bytes())
		}
		joined := bytes.Join(lines, []byte("\n"))
		if len(lines) > 0 && len(b) > 0 && b[len(b)-1] == '\n' {
			joined = append(joined, '\n')
		}
		if !bytes.Equal(joined, b) {
			t.Fatalf("lines %q do not make up %q", lines, b)
		}
		if err := l.Errorf("x %d", 1); !strings.HasPrefix(err.Error(), "f:") {
			t.Fatalf("error %q", err)
		}
	})
}

// fieldsBytes splits b on spaces and tabs, byte by byte.
func fieldsBytes(b []byte) []string {
	var out []string
	for _, f := range bytes.FieldsFunc(b, func(r rune) bool { return r == ' ' || r == '\t' }) {
		out = append(out, string(f))
	}
	return out
}
