package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/teatest/v2"
)

// goldenSizes are the terminal sizes of the golden tests: the classic
// 80×24 (compact: numbers, no graphs), a common 120×40, and a large
// 200×60 (more graphs and columns).
var goldenSizes = [][2]int{{80, 24}, {120, 40}, {200, 60}}

// TestGoldenPanels renders each panel at each size from the fixture, in a
// real Bubble Tea program driven by keys, and compares the last frame with
// testdata/TestGoldenPanels/<size>/<panel>.golden (go test -run
// TestGoldenPanels ./internal/tui -update rewrites them; review the diff).
func TestGoldenPanels(t *testing.T) {
	panels := []struct {
		key, name string
		procs     bool
	}{
		{"1", "overview", false},
		{"2", "gpus", false},
		{"3", "cpu", false},
		{"4", "disks", false},
		{"5", "network", false},
		{"6", "sensors", false},
		{"7", "processes", true},
		{"8", "runs", false},
		{"9", "alerts", false},
	}
	for _, size := range goldenSizes {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			for _, p := range panels {
				t.Run(p.name, func(t *testing.T) {
					tm, _ := testModel(t, newFake(t), w, h)
					await(t, tm, "the fixture and seeded graphs", seededReady)
					keys(tm, p.key)
					if p.procs {
						await(t, tm, "the process list", func(m *Model) bool { return m.procs != nil })
					}
					frame := finalView(t, tm)
					checkFrame(t, frame, w, h)
					teatest.RequireEqualOutput(t, []byte(frame))
				})
			}
		})
	}
}

// TestGoldenInteractions covers the states a key leads to: the help
// overlay, a filter being typed and kept, another sort, the tree view and
// the signal dialog.
func TestGoldenInteractions(t *testing.T) {
	cases := []struct {
		name string
		w, h int
		keys []string
		want string // a text the frame must show
	}{
		{"help", 120, 40, []string{"?"}, "choose TERM, KILL or INT"},
		{"help_80x24", 80, 24, []string{"?"}, "sort: CPU, memory, GPU memory, I/O, PID, name"},
		{"filter_typing", 120, 40, []string{"7", "/", "t", "r", "a", "i", "n"}, "Filter: train"},
		{"filter_kept", 120, 40, []string{"7", "/", "t", "r", "a", "i", "n", "enter"}, `filter "train"`},
		{"filter_none", 80, 24, []string{"7", "/", "z", "z", "z", "enter"}, `No process matches "zzz"`},
		{"sort_memory", 120, 40, []string{"7", "m"}, "sort MEM ▼"},
		{"sort_gpu_reversed", 120, 40, []string{"7", "g", "r"}, "sort GPU MEM ▲"},
		{"sort_io_80x24", 80, 24, []string{"7", "i"}, "I/O▼"},
		{"tree", 120, 40, []string{"7", "t"}, "└─"},
		{"tree_200x60", 200, 60, []string{"7", "t"}, "├─"},
		{"signal_dialog", 120, 40, []string{"7", "down", "k"}, "Send SIGTERM to PID 4102"},
		{"signal_dialog_kill_80x24", 80, 24, []string{"7", "down", "k", "right"}, "Send SIGKILL to PID 4102"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm, _ := testModel(t, newFake(t), c.w, c.h)
			await(t, tm, "the fixture and seeded graphs", seededReady)
			for _, k := range c.keys {
				keys(tm, k)
				if k == "7" {
					await(t, tm, "the process list", func(m *Model) bool { return m.procs != nil })
				}
			}
			frame := finalView(t, tm)
			checkFrame(t, frame, c.w, c.h)
			if !strings.Contains(frame, c.want) {
				t.Errorf("frame does not show %q:\n%s", c.want, frame)
			}
			teatest.RequireEqualOutput(t, []byte(frame))
		})
	}
}

// TestGoldenMissingData: what the UI says when data is missing — an agent
// that does not answer, and one whose history and processes are off.
func TestGoldenMissingData(t *testing.T) {
	t.Run("disconnected_before_data", func(t *testing.T) {
		f := newFake(t)
		f.events = []Event{{Err: fmt.Errorf("connect to http://127.0.0.1:9835: %w", errTest), Retry: 2e9}}
		tm, _ := testModel(t, f, 80, 24)
		await(t, tm, "the error", func(m *Model) bool { return m.connErr != nil })
		frame := finalView(t, tm)
		checkFrame(t, frame, 80, 24)
		if !strings.Contains(frame, "disconnected — retrying in 2s") {
			t.Errorf("no disconnected state in the header:\n%s", frame)
		}
		teatest.RequireEqualOutput(t, []byte(frame))
	})
	t.Run("disconnected_after_data", func(t *testing.T) {
		f := newFake(t)
		f.noHistory = true
		f.events = append(f.events, Event{Err: fmt.Errorf("read the stream from http://127.0.0.1:9835: %w", errTest), Retry: 4e9})
		tm, _ := testModel(t, f, 120, 40)
		await(t, tm, "the error", func(m *Model) bool { return m.connErr != nil && m.payload != nil })
		frame := finalView(t, tm)
		checkFrame(t, frame, 120, 40)
		if !strings.Contains(frame, "GPU 7") && !strings.Contains(frame, "  7 ") {
			t.Errorf("the last data is not kept on screen:\n%s", frame)
		}
		teatest.RequireEqualOutput(t, []byte(frame))
	})
	t.Run("no_processes_no_runs", func(t *testing.T) {
		f := newFake(t)
		f.info = Info{Interval: 1e9}
		p := f.events[0].Payload
		p.Runs, p.Alerts = nil, nil
		tm, _ := testModel(t, f, 120, 40)
		await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil && m.infoKnown })
		keys(tm, "7")
		frame := finalView(t, tm)
		checkFrame(t, frame, 120, 40)
		if !strings.Contains(frame, "process collector is off") {
			t.Errorf("no word on the process collector:\n%s", frame)
		}
		teatest.RequireEqualOutput(t, []byte(frame))
	})
	t.Run("no_gpu_no_sensors", func(t *testing.T) {
		f := newFake(t)
		p := f.events[0].Payload
		p.Host.GPUs, p.Host.GPUBackends, p.Host.Temperatures = nil, nil, nil
		p.Host.Collectors = append(p.Host.Collectors,
			collectorStatus("gpu", "nvml: NVML is not available: libnvidia-ml.so.1 not found (no NVIDIA driver): no data on this machine"),
			collectorStatus("hwmon", "no hwmon chips under /sys/class/hwmon: the kernel exposes no sensor drivers: no data on this machine"))
		tm, _ := testModel(t, f, 80, 24)
		await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
		keys(tm, "2")
		frame := finalView(t, tm)
		checkFrame(t, frame, 80, 24)
		if !strings.Contains(frame, "No GPU") || !strings.Contains(frame, "libnvidia-ml") {
			t.Errorf("the GPU panel does not say why there is no GPU:\n%s", frame)
		}
		teatest.RequireEqualOutput(t, []byte(frame))
	})
}
