package logparse

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzUserRegex checks New and Line with any user regex (trainwatch run
// --regex): a refused regex is named in the error, and with an accepted
// one every line parses into a valid entry, the same each time; a line
// the regex alone turns into an entry has only the regex's names as
// keys.
func FuzzUserRegex(f *testing.F) {
	for _, s := range [][2]string{
		{`s(?P<step>\d+) l(?P<loss>\S+)`, "s10 l0.5"},
		{`Epoch (?P<epoch>[\d.]+).*loss (?P<loss>[-+.\deE]+|nan|inf)`, "Epoch 2.5 | loss nan"},
		{`iter (?P<iter>\d+)/\d+ (?P<acc>\w+)`, "iter 7/100 True"},
		{`(?P<step>x)`, "x"},
		{`no names (\d+)`, "no names 1"},
		{`(?P<loss>`, "loss"},
		{`(?P<a>.*)(?P<a>.*)`, "1 2"},
		{`(?P<time>\d+) (?P<v>\d+)`, "1700000000 3"},
		{`^(?P<Step>\d+)\r?$`, "5\r"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, re, line string) {
		p, err := New(Options{Regexes: []string{re}})
		if err != nil {
			if p != nil || !strings.Contains(err.Error(), "regex 1 ") {
				t.Fatalf("error %q does not name the regex", err)
			}
			return
		}
		e, ok := p.Line(line, now)
		if !ok {
			return
		}
		checkEntry(t, line, e.Step, e.Epoch, e.TimeMs, e.Values)
		e2, ok2 := p.Line(line, now)
		if !ok2 || e2.Step != e.Step || len(e2.Values) != len(e.Values) {
			t.Fatal("not deterministic")
		}

		// Without the built-in formats, what parses came from the regex.
		only, err := New(Options{Regexes: []string{re}, Disable: []string{FormatJSON, FormatHF, FormatTqdm, FormatLightning, FormatKeyValue}})
		if err != nil {
			t.Fatal(err)
		}
		e, ok = only.Line(line, now)
		if !ok {
			return
		}
		checkEntry(t, line, e.Step, e.Epoch, e.TimeMs, e.Values)
		names := map[string]bool{}
		for _, n := range only.regexes[0].names {
			names[n] = true
		}
		for k := range e.Values {
			if !names[k] {
				t.Fatalf("key %q is not a group of %q", k, re)
			}
		}
	})
}

// checkEntry checks an ok entry as FuzzLine does.
func checkEntry(t *testing.T, line string, step int64, epoch float64, timeMs int64, values map[string]float64) {
	t.Helper()
	if step < -1 || step > maxStep {
		t.Fatalf("step %d", step)
	}
	if !math.IsNaN(epoch) && (epoch < 0 || math.IsInf(epoch, 0)) {
		t.Fatalf("epoch %v", epoch)
	}
	if timeMs < 0 {
		t.Fatalf("TimeMs %d", timeMs)
	}
	if values == nil {
		t.Fatal("nil Values in an ok entry")
	}
	if step < 0 && math.IsNaN(epoch) && len(values) == 0 {
		t.Fatal("ok entry with nothing in it")
	}
	for k := range values {
		if k == "" {
			t.Fatal("empty key")
		}
		if utf8.ValidString(line) && !utf8.ValidString(k) {
			t.Fatalf("invalid UTF-8 key %q from a valid line", k)
		}
	}
}
