package record

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// host returns a small summary whose hostname carries i, for telling
// lines apart.
func host(i int) *summary.Host {
	e := collector.NewEmitter()
	e.Emit(collector.NewDesc("node_uname_info", "", collector.Gauge, "nodename", "release", "machine"),
		1, fmt.Sprintf("host-%d", i), "6.8.0", "x86_64")
	e.Emit(collector.NewDesc("node_memory_MemTotal_bytes", "", collector.Gauge), 1<<30)
	snap := &collector.Snapshot{
		Time:       time.Date(2026, 3, 1, 12, 0, i, 0, time.UTC),
		Families:   collector.MergeFamilies(e.Families()),
		Collectors: []collector.CollectorStatus{{Name: "uname", Success: true}},
	}
	return summary.Compute(nil, snap)
}

// lines reads a file and checks that it is whole JSON lines; it returns
// each record's hostname.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end in a newline", path)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		if r.SchemaVersion != SchemaVersion || r.Host == nil || !r.Time.Equal(r.Host.Time) {
			t.Fatalf("%s: bad record %q", path, sc.Text())
		}
		out = append(out, r.Host.Hostname)
	}
	return out
}

func names(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("host-%d", i))
	}
	return out
}

func open(t *testing.T, cfg Config) *Writer {
	t.Helper()
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestWriteAppendsWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "training_metrics.jsonl")
	w := open(t, DefaultConfig(path))
	for i := 0; i < 3; i++ {
		if err := w.Write(host(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening appends rather than overwriting.
	w = open(t, DefaultConfig(path))
	if err := w.Write(host(3)); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, path); strings.Join(got, ",") != strings.Join(names(0, 3), ",") {
		t.Errorf("lines = %v", got)
	}
	b, _ := os.ReadFile(path)
	first, _, _ := bytes.Cut(b, []byte("\n"))
	if !bytes.HasPrefix(first, []byte(`{"schema_version":1,"time":"2026-03-01T12:00:00Z","host":{`)) {
		t.Errorf("line starts %.80s", first)
	}
}

func TestOpenRepairsTornTail(t *testing.T) {
	good := `{"schema_version":1}` + "\n"
	long := strings.Repeat("x", tailChunk*2+17)
	tests := []struct {
		name, content, want string
		dropped             int
	}{
		{"empty", "", "", 0},
		{"whole lines", good + good, good + good, 0},
		{"torn last line", good + `{"schema_ver`, good, len(`{"schema_ver`)},
		{"only a torn line", `{"sch`, "", 5},
		{"torn line longer than a read chunk", good + long, good, len(long)},
		{"torn line longer than a read chunk, nothing before", long, "", len(long)},
		{"newline exactly at a chunk boundary", strings.Repeat("y", tailChunk-1) + "\n" + long, strings.Repeat("y", tailChunk-1) + "\n", len(long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			cfg := DefaultConfig(path)
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			w := open(t, cfg)
			b, _ := os.ReadFile(path)
			if string(b) != tt.want {
				t.Errorf("after Open the file is %d bytes %.40q, want %d bytes %.40q", len(b), b, len(tt.want), tt.want)
			}
			wantLog := fmt.Sprintf("bytes=%d", tt.dropped)
			if tt.dropped > 0 && !strings.Contains(logs.String(), "torn") || tt.dropped > 0 && !strings.Contains(logs.String(), wantLog) {
				t.Errorf("log = %q, want a warning with %s", logs.String(), wantLog)
			}
			if tt.dropped == 0 && logs.Len() > 0 {
				t.Errorf("unexpected log %q", logs.String())
			}
			if err := w.Write(host(1)); err != nil {
				t.Fatal(err)
			}
			b, _ = os.ReadFile(path)
			if !bytes.HasPrefix(b, []byte(tt.want)) || b[len(tt.want)] != '{' || b[len(b)-1] != '\n' {
				t.Errorf("the new record was not appended on a line of its own: %.60q", b[len(tt.want):])
			}
		})
	}
}

func TestRotation(t *testing.T) {
	lineLen := func() int64 {
		b, err := json.Marshal(Record{SchemaVersion: 1, Time: host(0).Time, Host: host(0)})
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(b) + 1)
	}()
	tests := []struct {
		name     string
		maxBytes int64
		maxFiles int
		writes   int
		// want lists each file's hostnames: PATH, PATH.1, PATH.2, ...
		want [][]string
	}{
		{"never rotates", 0, 2, 7, [][]string{names(0, 6)}},
		{"two lines per file", 2 * lineLen, 3, 7,
			[][]string{names(6, 6), names(4, 5), names(2, 3), names(0, 1)}},
		{"oldest dropped beyond max files", 2 * lineLen, 1, 7,
			[][]string{names(6, 6), names(4, 5)}},
		{"line larger than max bytes is written alone", lineLen / 2, 2, 3,
			[][]string{names(2, 2), names(1, 1), names(0, 0)}},
		{"default max files", lineLen, 0, 8,
			[][]string{names(7, 7), names(6, 6), names(5, 5), names(4, 4), names(3, 3), names(2, 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.jsonl")
			w := open(t, Config{Path: path, MaxBytes: tt.maxBytes, MaxFiles: tt.maxFiles})
			for i := 0; i < tt.writes; i++ {
				if err := w.Write(host(i)); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range tt.want {
				p := path
				if i > 0 {
					p = fmt.Sprintf("%s.%d", path, i)
				}
				if got := lines(t, p); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s = %v, want %v", filepath.Base(p), got, want)
				}
				if fi, _ := os.Stat(p); tt.maxBytes > lineLen && fi.Size() > tt.maxBytes {
					t.Errorf("%s is %d bytes, over max %d", p, fi.Size(), tt.maxBytes)
				}
			}
			if _, err := os.Stat(fmt.Sprintf("%s.%d", path, len(tt.want))); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s.%d exists; want at most %d rotated files", path, len(tt.want), len(tt.want)-1)
			}
		})
	}
}

func TestShortWriteLeavesNoPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	w := open(t, DefaultConfig(path))
	if err := w.Write(host(0)); err != nil {
		t.Fatal(err)
	}
	real := w.write
	w.write = func(f *os.File, b []byte) (int, error) {
		n, _ := real(f, b[:len(b)/2])
		return n, syscall.ENOSPC
	}
	err := w.Write(host(1))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "append to "+path) {
		t.Errorf("err = %v, want ENOSPC with the path", err)
	}
	w.write = func(f *os.File, b []byte) (int, error) { return real(f, b[:len(b)-1]) }
	if err := w.Write(host(1)); err == nil || !strings.Contains(err.Error(), "short write") {
		t.Errorf("err = %v, want short write", err)
	}
	w.write = real
	if err := w.Write(host(2)); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, path); strings.Join(got, ",") != "host-0,host-2" {
		t.Errorf("lines = %v, want host-0,host-2", got)
	}
}

func TestConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	w := open(t, Config{Path: path, MaxBytes: 16 << 10, MaxFiles: 100})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := w.Write(host(g*100 + i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	files, _ := filepath.Glob(path + "*")
	n := 0
	for _, f := range files {
		n += len(lines(t, f))
	}
	if n != 200 {
		t.Errorf("%d lines in %d files, want 200", n, len(files))
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no path", Config{}, "no path"},
		{"negative max bytes", Config{Path: file, MaxBytes: -1}, "max_bytes is -1"},
		{"negative max files", Config{Path: file, MaxFiles: -2}, "max_files is -2"},
		{"parent is a file", Config{Path: filepath.Join(file, "sub", "m.jsonl")}, "create directory for " + filepath.Join(file, "sub", "m.jsonl")},
		{"path is a directory", Config{Path: dir}, "open " + dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Open(tt.cfg)
			if err == nil {
				w.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWriteAfterClose(t *testing.T) {
	w := open(t, DefaultConfig(filepath.Join(t.TempDir(), "m.jsonl")))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Write(host(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := w.Write(nil); err == nil {
		t.Error("Write(nil) succeeded")
	}
	err := w.Run(context.Background(), time.Millisecond, func(context.Context) (*summary.Host, error) { return host(0), nil })
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name string
		// sample is called with the call number (from 1) and the cancel
		// function of Run's context.
		sample    func(n int, cancel context.CancelFunc, ctx context.Context) (*summary.Host, error)
		wantLines []string
		wantLog   string
	}{
		{
			name: "cancelled during a sample: that line is still written",
			sample: func(n int, cancel context.CancelFunc, ctx context.Context) (*summary.Host, error) {
				if n == 3 {
					cancel()
					<-ctx.Done()
				}
				return host(n), nil
			},
			wantLines: names(1, 3),
		},
		{
			name: "sample fails: skipped and logged, loop goes on",
			sample: func(n int, cancel context.CancelFunc, _ context.Context) (*summary.Host, error) {
				if n == 4 {
					cancel()
				}
				if n == 2 {
					return nil, errors.New("nvml: GPU is lost")
				}
				return host(n), nil
			},
			wantLines: []string{"host-1", "host-3", "host-4"},
			wantLog:   "nvml: GPU is lost",
		},
		{
			name: "sample aborted by the cancel: nothing written, no warning",
			sample: func(n int, cancel context.CancelFunc, ctx context.Context) (*summary.Host, error) {
				if n == 2 {
					cancel()
					return nil, fmt.Errorf("sample: %w", ctx.Err())
				}
				return host(n), nil
			},
			wantLines: names(1, 1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.jsonl")
			var logs bytes.Buffer
			cfg := DefaultConfig(path)
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			w := open(t, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			done := make(chan error, 1)
			go func() {
				done <- w.Run(ctx, time.Millisecond, func(ctx context.Context) (*summary.Host, error) {
					n++
					return tt.sample(n, cancel, ctx)
				})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop after cancel")
			}
			if got := lines(t, path); strings.Join(got, ",") != strings.Join(tt.wantLines, ",") {
				t.Errorf("lines = %v, want %v", got, tt.wantLines)
			}
			if tt.wantLog != "" && !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log = %q, want %q", logs.String(), tt.wantLog)
			}
			if tt.wantLog == "" && strings.Contains(logs.String(), "WARN") {
				t.Errorf("unexpected warning %q", logs.String())
			}
		})
	}
	w := open(t, DefaultConfig(filepath.Join(t.TempDir(), "m.jsonl")))
	if err := w.Run(context.Background(), 0, nil); err == nil || !strings.Contains(err.Error(), "interval") {
		t.Errorf("Run with interval 0 = %v", err)
	}
}

// TestRunWriteErrorsLoggedOnce checks that a persistent write failure is
// logged once, not every interval, and that recovery is logged.
func TestRunWriteErrorsLoggedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	var logs bytes.Buffer
	cfg := DefaultConfig(path)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w := open(t, cfg)
	real := w.write
	var mu sync.Mutex
	fail := true
	w.write = func(f *os.File, b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return 0, syscall.ENOSPC
		}
		return real(f, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := w.Run(ctx, time.Millisecond, func(context.Context) (*summary.Host, error) {
		n++
		switch n {
		case 5:
			mu.Lock()
			fail = false
			mu.Unlock()
		case 6:
			cancel()
		}
		return host(n), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(logs.String(), "writing a record failed"); c != 1 {
		t.Errorf("failure logged %d times, want 1:\n%s", c, logs.String())
	}
	if !strings.Contains(logs.String(), "works again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	if got := lines(t, path); strings.Join(got, ",") != "host-5,host-6" {
		t.Errorf("lines = %v", got)
	}
}
