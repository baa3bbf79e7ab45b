package hostfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// TestPreadFile reads regular files of several sizes through one kept
// descriptor, with buffers smaller and larger than the content, and again
// after the content was rewritten in place.
func TestPreadFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		bufCap  int
	}{
		{"empty", "", 64},
		{"small, nil buffer", "1 (x) S 0\n", 0},
		{"fits", "1 (x) S 0\n", 4096},
		{"exactly the buffer", strings.Repeat("x", 16), 16},
		{"grows", strings.Repeat("0123456789abcdef", 1000), 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fd := int(f.Fd())
			for i, want := range []string{tt.content, tt.content + "more", "y"} {
				if i > 0 {
					if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				got, err := PreadFile(fd, p, make([]byte, 0, tt.bufCap))
				if err != nil || string(got) != want {
					t.Fatalf("read %d: got %d bytes (%.20q), err %v; want %d bytes", i, len(got), got, err, len(want))
				}
			}
		})
	}
}

// TestPreadFileProcExited: a kept /proc/PID/stat descriptor reads the
// current content while the process lives and fails with ESRCH once it
// has exited and been reaped.
func TestPreadFileProcExited(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	path := "/proc/" + pid + "/stat"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < 2; i++ {
		b, err := PreadFile(int(f.Fd()), path, nil)
		if err != nil || !strings.HasPrefix(string(b), pid+" (") {
			t.Fatalf("read %d: %q, %v", i, b, err)
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	b, err := PreadFile(int(f.Fd()), path, nil)
	var pe *os.PathError
	if !errors.Is(err, syscall.ESRCH) && !(err == nil && len(b) == 0) {
		t.Fatalf("after exit: %q, %v; want ESRCH or nothing", b, err)
	}
	if err != nil && (!errors.As(err, &pe) || pe.Op != "pread" || pe.Path != path) {
		t.Fatalf("error %v does not name the pread of %s", err, path)
	}
}
