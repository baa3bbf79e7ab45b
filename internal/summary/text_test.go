package summary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// golden compares got with testdata/name (UPDATE_GOLDEN=1 rewrites it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got)
}

// manyCores returns two snapshots of a 16-core machine whose core i is
// busy 6.25 × i percent.
func manyCores() (prev, cur *collector.Snapshot) {
	p, c := newBuilder(t0), newBuilder(t0.Add(time.Second))
	for i := 0; i < 16; i++ {
		cpu := fmt.Sprint(i)
		busy := 6.25 * float64(i) / 100
		p.cpu(cpu, cpuModes{user: 100, idle: 100})
		c.cpu(cpu, cpuModes{user: 100 + busy*0.75, system: busy * 0.25, idle: 100 + (1 - busy)})
	}
	return p.snap(), c.snap()
}

func emptySnapshot() *collector.Snapshot {
	return newBuilder(t0).
		collector("cpu", "").
		collector("meminfo", "read /proc/meminfo: open /proc/meminfo: permission denied").
		collector("nvml", "panic: runtime error: invalid memory address\ngoroutine 7 [running]:").
		snap()
}

func TestWriteTextGolden(t *testing.T) {
	prev, cur := fullPair()
	cp, cc := manyCores()
	tests := []struct {
		file string
		host *Host
		opts TextOptions
	}{
		{"full.golden", Compute(prev, cur), TextOptions{}},
		{"full_color.golden", Compute(prev, cur), TextOptions{Color: true}},
		{"first_sample.golden", Compute(nil, cur), TextOptions{}},
		{"empty.golden", Compute(nil, emptySnapshot()), TextOptions{}},
		{"cores_width100.golden", Compute(cp, cc), TextOptions{Width: 100}},
		{"cores_width40_color.golden", Compute(cp, cc), TextOptions{Width: 40, Color: true}},
		{"gpu.golden", Compute(nil, gpuSnapshot()), TextOptions{}},
		{"gpu_color.golden", Compute(nil, gpuSnapshot()), TextOptions{Color: true}},
		{"gpu_width80.golden", Compute(nil, gpuSnapshot()), TextOptions{Width: 80}},
		{"jobs.golden", Compute(nil, jobsSnapshot()), TextOptions{}},
		{"jobs_width80.golden", Compute(nil, jobsSnapshot()), TextOptions{Width: 80}},
		{"nogpu.golden", Compute(nil, noGPUSnapshot()), TextOptions{}},
		{"demo.golden", Compute(nil, promSnapshot(t, "testdata/demo_gpu.prom", t0)), TextOptions{}},
		{"demo_width100.golden", Compute(nil, promSnapshot(t, "testdata/demo_gpu.prom", t0)), TextOptions{Width: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.host.WriteText(&buf, tt.opts); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
			if !tt.opts.Color && bytes.Contains(out, []byte("\x1b[")) {
				t.Error("colour escapes without Color")
			}
			if tt.opts.Color && !bytes.Contains(out, []byte("\x1b[31m")) && !strings.Contains(tt.file, "cores") {
				t.Error("no red in a summary with values past the critical thresholds")
			}
			for i, line := range strings.Split(string(out), "\n") {
				if strings.HasSuffix(line, " ") {
					t.Errorf("line %d has trailing spaces: %q", i+1, line)
				}
				// Tables fitted to the width stay within it.
				if tt.opts.Width > 0 && !tt.opts.Color && strings.HasPrefix(line, "  ") && inGPUSection(string(out), line) &&
					width(line) > tt.opts.Width {
					t.Errorf("line %d is %d wide, more than %d: %q", i+1, width(line), tt.opts.Width, line)
				}
			}
			golden(t, tt.file, out)
		})
	}
}

// inGPUSection reports whether line is one of the GPUS, JOBS, GPU
// PROCESSES or TOP PROCESSES lines of out, the tables WriteText fits to
// the width.
func inGPUSection(out, line string) bool {
	section := ""
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") {
			section = l
		}
		if l == line {
			switch section {
			case "GPUS", "JOBS", "GPU PROCESSES", "TOP PROCESSES":
				return true
			}
			return false
		}
	}
	return false
}

// TestWriteTextColorOnlyAddsEscapes checks that colour never changes the
// layout: stripping the escapes gives the plain output.
func TestWriteTextColorOnlyAddsEscapes(t *testing.T) {
	for _, h := range []*Host{Compute(fullPair()), Compute(nil, gpuSnapshot()), Compute(nil, noGPUSnapshot()),
		Compute(nil, jobsSnapshot())} {
		var plain, color bytes.Buffer
		if err := h.WriteText(&plain, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := h.WriteText(&color, TextOptions{Color: true}); err != nil {
			t.Fatal(err)
		}
		stripped := color.String()
		for _, esc := range []string{"\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[33m"} {
			stripped = strings.ReplaceAll(stripped, esc, "")
		}
		if stripped != plain.String() {
			t.Errorf("colour output without escapes differs from plain output:\n%s\n---\n%s", stripped, plain.String())
		}
	}
}

func TestWriteTextJSONGolden(t *testing.T) {
	js, err := json.MarshalIndent(Compute(fullPair()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "full.json.golden", append(js, '\n'))
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestWriteTextError(t *testing.T) {
	err := Compute(fullPair()).WriteText(&failingWriter{}, TextOptions{})
	if err == nil || !strings.Contains(err.Error(), "write summary: disk full") {
		t.Errorf("err = %v, want write summary: disk full", err)
	}
}

func TestFormatters(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{FormatBytes(0), "0 B"},
		{FormatBytes(1023), "1023 B"},
		{FormatBytes(1024), "1.0 KiB"},
		{FormatBytes(1536 << 20), "1.5 GiB"},
		{FormatBytes(3 << 40), "3.0 TiB"},
		{fmtRate(0), "0 B/s"},
		{fmtRate(999), "999 B/s"},
		{fmtRate(1.25e7), "12.5 MB/s"},
		{fmtRate(2.5e9), "2.5 GB/s"},
		{fmtBits(1e10), "10.0 Gbit/s"},
		{fmtLatency(0), "0"},
		{fmtLatency(250e-6), "250 µs"},
		{fmtLatency(0.002), "2.00 ms"},
		{fmtLatency(1.5), "1.50 s"},
		{fmtCount(0.2), "0.2"},
		{fmtCount(150), "150"},
		{fmtCount(12345), "12.3k"},
		{fmtCount(2.5e6), "2.5M"},
		{fmtUptime(59), "0m 59s"},
		{fmtUptime(3*3600 + 61), "3h 1m"},
		{fmtUptime(3*86400 + 4*3600 + 5*60), "3d 4h 5m"},
		{fmtSeconds(10), "10.0s"},
		{fmtSeconds(90), "1m30s"},
		{bar(0, 4), "    "},
		{bar(50, 4), "||  "},
		{bar(100, 4), "||||"},
		{bar(150, 4), "||||"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
