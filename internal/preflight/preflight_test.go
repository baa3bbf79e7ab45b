package preflight

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/summary"
)

func f64(v float64) *float64 { return &v }
func gib(n float64) uint64   { return uint64(n * (1 << 30)) }
func fixedStat(avail, total uint64) StatFunc {
	return func(string) (DiskSpace, error) { return DiskSpace{AvailBytes: avail, TotalBytes: total}, nil }
}

// loadHost reads a summary.Host fixture from testdata.
func loadHost(t *testing.T, name string) *summary.Host {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var h summary.Host
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &h
}

func opts() Options {
	o := Defaults()
	o.StatFS = fixedStat(gib(500), gib(1000))
	o.Dir = "/data/ckpt"
	o.Versions = Versions{Driver: "550.54.15", CUDA: "12.4"}
	return o
}

func byName(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		edit    func(h *summary.Host, o *Options)
		want    map[string]Status
		detail  map[string]string // substrings of details
	}{
		{
			name: "idle healthy server", fixture: "idle_2gpu.json",
			want: map[string]Status{CheckGPUs: Pass, CheckGPUHealth: Pass, CheckGPUProcs: Pass, CheckGPUMemory: Pass,
				CheckDisk: Pass, CheckMemory: Pass, CheckTemperature: Pass, CheckDriver: Pass},
			detail: map[string]string{CheckGPUs: "2 × NVIDIA H100 80GB HBM3 (driver 550.54.15, CUDA 12.4)", CheckDisk: "/data/ckpt: 500.0 GiB free"},
		},
		{
			name: "no GPU", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) {
				h.GPUs = nil
				h.Collectors = []summary.CollectorStatus{{Name: "gpu", Error: "NVML library libnvidia-ml.so.1 not found"}}
			},
			want:   map[string]Status{CheckGPUs: Fail, CheckGPUMemory: "", CheckDriver: ""},
			detail: map[string]string{CheckGPUs: "libnvidia-ml.so.1 not found"},
		},
		{
			name: "no GPU allowed", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, o *Options) { h.GPUs = nil; o.NoGPU = true },
			want: map[string]Status{CheckGPUs: Pass},
		},
		{
			name: "lost GPU", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) { h.GPUs[1].Up = false },
			want: map[string]Status{CheckGPUHealth: Fail}, detail: map[string]string{CheckGPUHealth: "gpu1 lost"},
		},
		{
			name: "application XID warns", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) {
				h.GPUs[0].XIDEventsTotal, h.GPUs[0].XIDs = 2, map[string]uint64{"13": 2}
			},
			want: map[string]Status{CheckGPUHealth: Warn}, detail: map[string]string{CheckGPUHealth: "gpu0: XID 13 ×2"},
		},
		{
			name: "hardware XID fails", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) {
				h.GPUs[0].XIDEventsTotal, h.GPUs[0].XIDs = 3, map[string]uint64{"13": 1, "79": 2}
			},
			want: map[string]Status{CheckGPUHealth: Fail}, detail: map[string]string{CheckGPUHealth: "XID 13 ×1, XID 79 ×2"},
		},
		{
			name: "stale process holds memory", fixture: "stale_process.json",
			want:   map[string]Status{CheckGPUProcs: Warn, CheckGPUMemory: Fail},
			detail: map[string]string{CheckGPUProcs: "pid 4242 python (60.0 GiB on gpu0)", CheckGPUMemory: "gpu0 20.0 GiB free of 80.0 GiB"},
		},
		{
			name: "running job", fixture: "stale_process.json",
			edit: func(h *summary.Host, _ *Options) { h.Jobs = []summary.Job{{Name: "train.py", RootPID: 4240}} },
			want: map[string]Status{CheckGPUProcs: Warn}, detail: map[string]string{CheckGPUProcs: "already running: train.py (root pid 4240)"},
		},
		{
			name: "GPU free threshold in bytes", fixture: "stale_process.json",
			edit: func(_ *summary.Host, o *Options) { o.MinGPUFree = Threshold{Bytes: gib(16)} },
			want: map[string]Status{CheckGPUMemory: Pass}, detail: map[string]string{CheckGPUMemory: "lowest 20.0 GiB"},
		},
		{
			name: "GPU memory unknown", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) { h.GPUs[0].MemoryTotalBytes = nil },
			want: map[string]Status{CheckGPUMemory: Warn}, detail: map[string]string{CheckGPUMemory: "gpu0"},
		},
		{
			name: "disk too small", fixture: "idle_2gpu.json",
			edit: func(_ *summary.Host, o *Options) { o.StatFS = fixedStat(gib(5), gib(100)) },
			want: map[string]Status{CheckDisk: Fail}, detail: map[string]string{CheckDisk: "/data/ckpt: 5.0 GiB free of 100.0 GiB (need 10.0 GiB)"},
		},
		{
			name: "disk unreadable", fixture: "idle_2gpu.json",
			edit: func(_ *summary.Host, o *Options) {
				o.StatFS = func(string) (DiskSpace, error) { return DiskSpace{}, errors.New("no such file or directory") }
			},
			want: map[string]Status{CheckDisk: Fail}, detail: map[string]string{CheckDisk: "cannot read the free space of /data/ckpt: no such file"},
		},
		{
			name: "disk from the agent's filesystems", fixture: "idle_2gpu.json",
			edit: func(_ *summary.Host, o *Options) { o.StatFS = nil; o.Dir = "/data/ckpt/run1" },
			want: map[string]Status{CheckDisk: Fail}, detail: map[string]string{CheckDisk: "3.0 GiB free of 2.0 TiB"},
		},
		{
			name: "relative dir for an agent", fixture: "idle_2gpu.json",
			edit: func(_ *summary.Host, o *Options) { o.StatFS = nil; o.Dir = "ckpt" },
			want: map[string]Status{CheckDisk: Fail}, detail: map[string]string{CheckDisk: "absolute --dir"},
		},
		{
			name: "low memory", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) { h.Memory.AvailableBytes = gib(10) },
			want: map[string]Status{CheckMemory: Fail}, detail: map[string]string{CheckMemory: "10.0 GiB available of 512.0 GiB (need 51.2 GiB)"},
		},
		{
			name: "memory threshold in bytes", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, o *Options) {
				h.Memory.AvailableBytes = gib(10)
				o.MinMem = Threshold{Bytes: gib(8)}
			},
			want: map[string]Status{CheckMemory: Pass},
		},
		{
			name: "hot GPU", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) { h.GPUs[1].TemperatureCelsius = f64(84) },
			want: map[string]Status{CheckTemperature: Fail}, detail: map[string]string{CheckTemperature: "gpu1 84 °C"},
		},
		{
			name: "hot host sensor", fixture: "idle_2gpu.json",
			edit: func(h *summary.Host, _ *Options) { h.Temperatures[0].Celsius = 101 },
			want: map[string]Status{CheckTemperature: Warn}, detail: map[string]string{CheckTemperature: "Package id 0 101 °C (limit 100 °C)"},
		},
		{
			name: "versions unknown", fixture: "idle_2gpu.json",
			edit: func(_ *summary.Host, o *Options) { o.Versions = Versions{} },
			want: map[string]Status{CheckDriver: Warn}, detail: map[string]string{CheckDriver: "driver unknown, CUDA unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := loadHost(t, tt.fixture)
			o := opts()
			if tt.edit != nil {
				tt.edit(h, &o)
			}
			got := byName(Run(h, o))
			for name, want := range tt.want {
				r, ok := got[name]
				if want == "" {
					if ok {
						t.Errorf("%s reported (%v), want it left out", name, r)
					}
					continue
				}
				if !ok || r.Status != want {
					t.Errorf("%s = %+v, want %s", name, r, want)
				}
				if want != Pass && r.Hint == "" {
					t.Errorf("%s: %s without a hint", name, r.Status)
				}
			}
			for name, sub := range tt.detail {
				if !strings.Contains(got[name].Detail, sub) {
					t.Errorf("%s detail %q does not contain %q", name, got[name].Detail, sub)
				}
			}
		})
	}
}

func TestOK(t *testing.T) {
	tests := []struct {
		statuses []Status
		strict   bool
		want     bool
	}{
		{[]Status{Pass, Pass}, false, true},
		{[]Status{Pass, Warn}, false, true},
		{[]Status{Pass, Warn}, true, false},
		{[]Status{Fail}, false, false},
		{nil, true, true},
	}
	for _, tt := range tests {
		var rs []Result
		for _, s := range tt.statuses {
			rs = append(rs, Result{Status: s})
		}
		if got := OK(rs, tt.strict); got != tt.want {
			t.Errorf("OK(%v, strict=%v) = %v, want %v", tt.statuses, tt.strict, got, tt.want)
		}
	}
}

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in      string
		want    Threshold
		wantErr bool
	}{
		{"90%", Threshold{Percent: 90}, false},
		{" 12.5 % ", Threshold{Percent: 12.5}, false},
		{"0%", Threshold{}, false},
		{"40GB", Threshold{Bytes: 40 << 30}, false},
		{"1048576", Threshold{Bytes: 1 << 20}, false},
		{"101%", Threshold{}, true},
		{"-1%", Threshold{}, true},
		{"lots", Threshold{}, true},
	}
	for _, tt := range tests {
		got, err := ParseThreshold(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseThreshold(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got := (Threshold{Percent: 90}).Of(1000); got != 900 {
		t.Errorf("90%% of 1000 = %d", got)
	}
}

func TestStatFS(t *testing.T) {
	d, err := StatFS(t.TempDir())
	if err != nil || d.TotalBytes == 0 || d.AvailBytes > d.TotalBytes {
		t.Fatalf("StatFS(tempdir) = %+v, %v", d, err)
	}
	if _, err := StatFS(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("StatFS of a missing directory: no error")
	}
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 10 << 30: "10.0 GiB", 2 << 40: "2.0 TiB"} {
		if got := HumanBytes(in); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", in, got, want)
		}
	}
}
