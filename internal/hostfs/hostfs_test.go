package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFileGrowsPastFirstBuffer(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	want := strings.Repeat("0123456789abcdef", 1000) // 16000 bytes
	if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, buf := range [][]byte{nil, make([]byte, 0, 16), make([]byte, 0, 1<<20)} {
		got, err := ReadFile(p, buf)
		if err != nil || string(got) != want {
			t.Fatalf("cap %d: got %d bytes, err %v", cap(buf), len(got), err)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing"), nil); !IsNotExist(err) {
		t.Fatalf("missing file: %v, want not-exist", err)
	}
}

func TestReadNumbers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if v, err := ReadUint(write("u", "42\n")); err != nil || v != 42 {
		t.Errorf("ReadUint = %d, %v", v, err)
	}
	if v, err := ReadInt(write("i", "-7\n")); err != nil || v != -7 {
		t.Errorf("ReadInt = %d, %v", v, err)
	}
	bad := write("bad", "x1\n")
	_, err := ReadUint(bad)
	var pe *ParseError
	if !errors.As(err, &pe) || err.Error() != bad+`:1: expected an unsigned integer (line: "x1")` {
		t.Errorf("ReadUint(bad) = %v", err)
	}
	if s, err := ReadString(write("s", "  up \n")); err != nil || s != "up" {
		t.Errorf("ReadString = %q, %v", s, err)
	}
}

func TestLinesAndFields(t *testing.T) {
	l := NewLines("/proc/x", []byte("a b\n\tc  d \nlast"))
	var got []string
	for l.Next() {
		got = append(got, strings.Join(func() []string {
			var s []string
			for _, f := range Fields(nil, l.Bytes()) {
				s = append(s, string(f))
			}
			return s
		}(), ","))
	}
	if strings.Join(got, "|") != "a,b|c,d|last" || l.Number() != 3 {
		t.Fatalf("got %q at line %d", got, l.Number())
	}
	if err := l.Errorf("bad %s", "thing"); err.Error() != `/proc/x:3: bad thing (line: "last")` {
		t.Fatalf("Errorf = %q", err)
	}
}

func TestParseNumbers(t *testing.T) {
	tests := []struct {
		in  string
		u   uint64
		uok bool
		f   float64
		fok bool
	}{
		{"0", 0, true, 0, true},
		{"18446744073709551615", 1<<64 - 1, true, 1<<64 - 1, true},
		{"18446744073709551616", 0, false, 18446744073709551616, true},
		{"-3", 0, false, -3, true},
		{"0.25", 0, false, 0.25, true},
		{"", 0, false, 0, false},
		{"1x", 0, false, 0, false},
	}
	for _, tt := range tests {
		u, uok := ParseUint([]byte(tt.in))
		f, fok := ParseFloat([]byte(tt.in))
		if u != tt.u || uok != tt.uok || fok != tt.fok || (fok && f != tt.f) {
			t.Errorf("%q: ParseUint=%d,%v ParseFloat=%v,%v", tt.in, u, uok, f, fok)
		}
	}
}

func TestRootsTraceAndDefaults(t *testing.T) {
	var seen []string
	r := Roots{Proc: "/x/proc", Trace: func(p string) { seen = append(seen, p) }}.WithDefaults()
	if r.Sys != "/sys" || r.RootFS != "/" || r.ProcPath("stat") != "/x/proc/stat" {
		t.Fatalf("defaults: %+v", r)
	}
	_, _ = r.ReadFile(r.ProcPath("stat"), nil)
	r.Note("statfs:/")
	if strings.Join(seen, " ") != "/x/proc/stat statfs:/" {
		t.Fatalf("trace = %v", seen)
	}
}
