package summary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func gpuByIndex(t *testing.T, h *Host, idx string) GPU {
	t.Helper()
	var found []GPU
	for _, g := range h.GPUs {
		if g.Index == idx {
			found = append(found, g)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d GPUs with index %q, want 1: %+v", len(found), idx, h.GPUs)
	}
	return found[0]
}

func TestDecodeClockEventReasons(t *testing.T) {
	tests := []struct {
		mask uint64
		want []string
	}{
		{0, []string{}},
		{0x1, []string{"gpu_idle"}},
		{0x4, []string{"sw_power_cap"}},
		{0x8 | 0x40, []string{"hw_slowdown", "hw_thermal_slowdown"}},
		{0x20 | 0x80, []string{"hw_power_brake_slowdown", "sw_thermal_slowdown"}},
		{0x2 | 0x10 | 0x100, []string{"applications_clocks_setting", "display_clock_setting", "sync_boost"}},
		{0x200 | 0x400, []string{"board_limit", "reliability"}},
		{1 << 12, []string{"bit12"}},
	}
	for _, tt := range tests {
		if got := decodeClockEventReasons(tt.mask); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decode(%#x) = %v, want %v", tt.mask, got, tt.want)
		}
	}
}

// TestComputeGPUThrottle checks where throttle reasons come from: the
// per-reason series when present, else the DCGM bitmask.
func TestComputeGPUThrottle(t *testing.T) {
	l := []string{"gpu", "0", "UUID", "GPU-x"}
	tests := []struct {
		name string
		b    *builder
		want []string
	}{
		{"per-reason series", newBuilder(t0).nvml(nvGPU{idx: "0", uuid: "GPU-x", reasons: []string{"sw_power_cap", "gpu_idle"}}),
			[]string{"gpu_idle", "sw_power_cap"}},
		{"none active", newBuilder(t0).nvml(nvGPU{idx: "0", uuid: "GPU-x"}), []string{}},
		{"bitmask only (dcgm-exporter)", newBuilder(t0).add("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", 0x44, l...),
			[]string{"hw_thermal_slowdown", "sw_power_cap"}},
		{"per-reason series win over the bitmask", newBuilder(t0).add("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", 0x44, l...).
			add("trainwatch_gpu_clock_event_active", 0, append(l, "reason", "sw_power_cap")...).
			add("trainwatch_gpu_clock_event_active", 1, append(l, "reason", "sync_boost")...),
			[]string{"sync_boost"}},
		{"no reasons reported (AMD)", newBuilder(t0).amd(amdGPU{idx: "0", uuid: "GPU-x", up: 1}), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gpuByIndex(t, Compute(nil, tt.b.snap()), "0")
			if !reflect.DeepEqual(g.ThrottleReasons, tt.want) {
				t.Errorf("throttle_reasons = %v, want %v", g.ThrottleReasons, tt.want)
			}
		})
	}
}

func TestComputeGPUXIDs(t *testing.T) {
	tests := []struct {
		name      string
		xids      map[string]float64
		wantTotal uint64
		want      map[string]uint64
	}{
		{"none", nil, 0, map[string]uint64{}},
		{"one", map[string]float64{"79": 1}, 1, map[string]uint64{"79": 1}},
		{"summed over xids", map[string]float64{"13": 2, "31": 5, "48": 1}, 8, map[string]uint64{"13": 2, "31": 5, "48": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t0).nvml(nvGPU{idx: "0", uuid: "GPU-x"})
			for x, n := range tt.xids {
				b.xid("0", "GPU-x", x, n)
			}
			g := gpuByIndex(t, Compute(nil, b.snap()), "0")
			if g.XIDEventsTotal != tt.wantTotal || !reflect.DeepEqual(g.XIDs, tt.want) {
				t.Errorf("xid_events_total %d xids %v, want %d %v", g.XIDEventsTotal, g.XIDs, tt.wantTotal, tt.want)
			}
		})
	}
}

func TestComputeGPUProcesses(t *testing.T) {
	b := newBuilder(t0).nvml(nvGPU{idx: "0", uuid: "GPU-x"})
	for _, p := range []proc{
		{"300", "small", "u", "", "", "", "", 1 << 20, 5},
		{"100", "big", "alice", "abcdef012345", "pod-uid", "ns", "", 80 << 30, 97.5},
		{"200", "tie-b", "u", "", "", "", "4242", 2 << 20, -1},
		{"150", "tie-a", "u", "", "", "", "", 2 << 20, 0},
	} {
		b.proc("0", "GPU-x", p)
	}
	g := gpuByIndex(t, Compute(nil, b.snap()), "0")
	var order []int64
	for _, p := range g.Processes {
		order = append(order, p.PID)
	}
	if want := []int64{100, 150, 200, 300}; !reflect.DeepEqual(order, want) {
		t.Errorf("process order = %v, want %v (memory desc, then pid)", order, want)
	}
	want := GPUProcess{PID: 100, Command: "big", User: "alice", Container: "abcdef012345", Pod: "pod-uid", Namespace: "ns",
		MemoryBytes: 80 << 30, SMUtilizationPercent: ptrTo(97.5)}
	if !reflect.DeepEqual(g.Processes[0], want) {
		t.Errorf("process = %+v, want %+v", g.Processes[0], want)
	}
	if g.Processes[2].SMUtilizationPercent != nil || g.Processes[2].SlurmJob != "4242" {
		t.Errorf("process without SM series = %+v", g.Processes[2])
	}
}

func TestComputeGPULost(t *testing.T) {
	b := newBuilder(t0).nvml(nvGPU{idx: "0", uuid: "GPU-a", util: 50, used: 10, free: 10}).
		lostGPU("1", "GPU-b", "NVIDIA H200 141GB HBM3e").xid("1", "GPU-b", "79", 1)
	h := Compute(nil, b.snap())
	if len(h.GPUs) != 2 {
		t.Fatalf("%d GPUs, want 2", len(h.GPUs))
	}
	lost := gpuByIndex(t, h, "1")
	if lost.Up || lost.Vendor != VendorNVIDIA || lost.ModelName != "NVIDIA H200 141GB HBM3e" || lost.XIDEventsTotal != 1 ||
		lost.UtilizationPercent != nil || lost.MemoryUsedBytes != nil {
		t.Errorf("lost gpu = %+v", lost)
	}
	if g := gpuByIndex(t, h, "0"); !g.Up {
		t.Errorf("answering gpu = %+v, want up", g)
	}
	// Without trainwatch_gpu_up (plain dcgm-exporter) a GPU is up.
	if g := gpuByIndex(t, Compute(nil, newBuilder(t0).gpu("0", "GPU-a", "m", 1, 1, 1, 1, 1, 1, 1).snap()), "0"); !g.Up {
		t.Errorf("dcgm-exporter gpu = %+v, want up", g)
	}
	var buf bytes.Buffer
	if err := h.WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "LOST") {
		t.Errorf("text does not show the lost GPU:\n%s", buf.String())
	}
}

func TestComputeGPUAMD(t *testing.T) {
	tests := []struct {
		name     string
		temps    map[string]float64
		wantTemp *float64
	}{
		{"edge first", map[string]float64{"edge": 50, "junction": 60, "mem": 70}, ptrTo(50.0)},
		{"junction without edge (MI300X)", map[string]float64{"junction": 60, "mem": 70}, ptrTo(60.0)},
		{"other sensor", map[string]float64{"temp4": 44, "temp10": 45, "mem": 70}, ptrTo(44.0)},
		{"memory only", map[string]float64{"mem": 70}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t0).amd(amdGPU{idx: "1", uuid: "0xabc", model: "AMD Instinct MI300X OAM", util: 87, memBusy: 31,
				used: 48 * gib, total: 192 * gib, power: 612, limit: 750, sclk: 2.1e9, mclk: 1.3e9, temps: tt.temps, up: 1})
			g := gpuByIndex(t, Compute(nil, b.snap()), "1")
			if !reflect.DeepEqual(g.TemperatureCelsius, tt.wantTemp) {
				t.Errorf("temperature = %v, want %v", g.TemperatureCelsius, tt.wantTemp)
			}
			want := GPU{Index: "1", UUID: "0xabc", ModelName: "AMD Instinct MI300X OAM", Device: "card1", PCIBusID: "0000:15:00.0",
				Vendor: VendorAMD, Up: true, UtilizationPercent: ptrTo(87.0), MemoryCopyUtilizationPercent: ptrTo(31.0),
				MemoryUsedBytes: ptrTo(uint64(48 * gib)), MemoryFreeBytes: ptrTo(uint64(144 * gib)), MemoryTotalBytes: ptrTo(uint64(192 * gib)),
				MemoryUsedPercent: ptrTo(25.0), TemperatureCelsius: tt.wantTemp, PowerWatts: ptrTo(612.0), PowerLimitWatts: ptrTo(750.0),
				SMClockHertz: ptrTo(2.1e9), MemoryClockHertz: ptrTo(1.3e9),
				ThrottleReasons: []string{}, XIDs: map[string]uint64{}, Processes: []GPUProcess{}}
			if !reflect.DeepEqual(g, want) {
				gj, _ := json.Marshal(g)
				wj, _ := json.Marshal(want)
				t.Errorf("amd gpu =\n%s\nwant\n%s", gj, wj)
			}
		})
	}
}

// TestComputeGPUNoDuplicates checks that each GPU is listed once whatever
// families and label sets report it.
func TestComputeGPUNoDuplicates(t *testing.T) {
	// In MIG mode the NVML backend labels the GPU's series with empty
	// GPU_I_PROFILE and GPU_I_ID, and each instance's with its own.
	mig := func(profile, id string) []string {
		return []string{"gpu", "0", "UUID", "GPU-a", "modelName", "m", "GPU_I_PROFILE", profile, "GPU_I_ID", id}
	}
	tests := []struct {
		name string
		b    *builder
		want []string // index/uuid/vendor of each GPU
	}{
		{"NVML series of every kind", newBuilder(t0).nvml(nvGPU{idx: "0", uuid: "GPU-a"}).xid("0", "GPU-a", "79", 1).
			proc("0", "GPU-a", proc{pid: "1", memory: 1}), []string{"0/GPU-a/nvidia"}},
		{"series without UUID join the GPU of their index", newBuilder(t0).gpu("0", "GPU-a", "m", 1, 1, 1, 1, 1, 1, 1).
			add("trainwatch_gpu_xid_events_total", 2, "gpu", "0", "xid", "79").add("DCGM_FI_PROF_SM_ACTIVE", 0.5, "gpu", "0"),
			[]string{"0/GPU-a/nvidia"}},
		{"series without UUID of an index with two UUIDs stay apart", newBuilder(t0).gpu("0", "GPU-a", "m", 1, 1, 1, 1, 1, 1, 1).
			gpu("0", "GPU-b", "m", 1, 1, 1, 1, 1, 1, 1).add("DCGM_FI_PROF_SM_ACTIVE", 0.5, "gpu", "0"),
			[]string{"0//nvidia", "0/GPU-a/nvidia", "0/GPU-b/nvidia"}},
		{"MIG instance series are not GPUs", newBuilder(t0).add("DCGM_FI_DEV_FB_USED", 100, mig("", "")...).
			add("DCGM_FI_DEV_FB_FREE", 100, mig("", "")...).add("DCGM_FI_DEV_FB_USED", 5, mig("1g.18gb", "3")...).
			add("DCGM_FI_DEV_FB_FREE", 13, mig("1g.18gb", "3")...), []string{"0/GPU-a/nvidia"}},
		{"NVIDIA and AMD side by side, same index", newBuilder(t0).nvml(nvGPU{idx: "1", uuid: "GPU-a"}).
			amd(amdGPU{idx: "1", uuid: "0xabc", up: 1}), []string{"1/0xabc/amd", "1/GPU-a/nvidia"}},
		{"AMD GPU with info and process series", newBuilder(t0).amd(amdGPU{idx: "2", uuid: "0xabc", up: 1}).
			proc("2", "0xabc", proc{pid: "7", memory: 1, sm: -1}), []string{"2/0xabc/amd"}},
		{"lost AMD GPU", newBuilder(t0).amd(amdGPU{idx: "2", uuid: "0xabc", up: 0}), []string{"2/0xabc/amd"}},
		{"demo exposition", promSnapshotBuilder(t), []string{"0/GPU-26eef361-9969-4451-a2cf-905ab9b6c887/nvidia",
			"1/GPU-6613441d-06b3-4a7d-883a-c068ae01edb5/nvidia", "2/GPU-00d36a3b-177c-4d18-9314-ca7af331aa7d/nvidia",
			"3/GPU-2368b0ac-7c2a-4b2d-90fe-781491c527f4/nvidia", "4/GPU-001543e5-8e1e-47dd-a25b-2905ee8ccc2a/nvidia",
			"5/GPU-147a8840-58db-4fe9-974c-9bf1fe6fabe2/nvidia", "6/GPU-197a5cb9-52c0-4904-93df-ca307465df02/nvidia",
			"7/GPU-da1fbb0c-3cea-4300-8266-e59dc39082f2/nvidia"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			h := Compute(nil, tt.b.snap())
			for _, g := range h.GPUs {
				got = append(got, g.Index+"/"+g.UUID+"/"+g.Vendor)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("gpus = %v, want %v", got, tt.want)
			}
		})
	}
	// The MIG instance's 5 MiB did not replace the GPU's memory.
	h := Compute(nil, tests[3].b.snap())
	if got := *h.GPUs[0].MemoryUsedBytes; got != 100*mib {
		t.Errorf("memory used = %d, want the GPU's %d", got, 100*mib)
	}
}

// promSnapshotBuilder wraps the demo exposition in a builder.
func promSnapshotBuilder(t *testing.T) *builder {
	s := promSnapshot(t, "testdata/demo_gpu.prom", t0)
	b := newBuilder(t0)
	for _, f := range s.Families {
		for _, smp := range f.Samples {
			b.add(f.Desc.Name, smp.Value, kv(f.Desc.LabelNames, smp.LabelValues...)...)
		}
	}
	return b
}

// TestComputeGPUDemo reads the demo agent's real series.
func TestComputeGPUDemo(t *testing.T) {
	h := Compute(nil, promSnapshot(t, "testdata/demo_gpu.prom", t0))
	if !h.Demo || h.DemoScenario != "8x H200 training (simulated)" {
		t.Errorf("demo %v %q", h.Demo, h.DemoScenario)
	}
	if want := []GPUBackend{{Backend: "nvml", Up: true}}; !reflect.DeepEqual(h.GPUBackends, want) {
		t.Errorf("gpu_backends = %+v, want %+v", h.GPUBackends, want)
	}
	g := h.GPUs[0]
	// 100 × 118310 / (118310 + 25506) MiB: used / (used + free), not
	// FB_TOTAL (144384 MiB, which includes the driver's reserve).
	if g.Vendor != VendorNVIDIA || !g.Up || *g.PowerLimitWatts != 700 || *g.PState != 0 || *g.MemoryUsedPercent != 82.26 ||
		*g.MemoryTotalBytes != (118310+25506)*mib || *g.TensorActivePercent != 53.85 || *g.SMActivePercent != 80.45 ||
		len(g.Processes) != 1 {
		gj, _ := json.Marshal(g)
		t.Errorf("gpu 0 = %s", gj)
	}
	p := gpuByIndex(t, h, "2").Processes
	if len(p) != 1 || p[0].PID != 16201 || p[0].Command != "/usr/bin/python3" || p[0].User != "demo" ||
		p[0].MemoryBytes != 125055270912 || *p[0].SMUtilizationPercent != 90 {
		t.Errorf("gpu 2 processes = %+v", p)
	}
	if got := gpuByIndex(t, h, "7"); !reflect.DeepEqual(got.ThrottleReasons, []string{"gpu_idle"}) || *got.PState != 8 {
		t.Errorf("idle gpu 7: throttle %v pstate %v", got.ThrottleReasons, got.PState)
	}

	// Demo off: absent, or 0.
	for _, b := range []*builder{newBuilder(t0), newBuilder(t0).add("trainwatch_demo", 0, "scenario", "x")} {
		if h := Compute(nil, b.snap()); h.Demo || h.DemoScenario != "" {
			t.Errorf("demo %v %q, want off", h.Demo, h.DemoScenario)
		}
	}
}

func TestComputeGPUBackends(t *testing.T) {
	b := newBuilder(t0).add("trainwatch_gpu_backend_up", 0, "backend", "nvml").add("trainwatch_gpu_backend_up", 1, "backend", "amdsmi")
	h := Compute(nil, b.snap())
	if want := []GPUBackend{{"amdsmi", true}, {"nvml", false}}; !reflect.DeepEqual(h.GPUBackends, want) {
		t.Errorf("gpu_backends = %+v, want %+v", h.GPUBackends, want)
	}
}

func TestTextGPUBackendDown(t *testing.T) {
	tests := []struct {
		name string
		b    *builder
		want string // "" for no "not available" line
	}{
		{"no GPU, NVML missing", newBuilder(t0).add("trainwatch_gpu_backend_up", 0, "backend", "nvml").
			collector("gpu", "no data on this machine: NVML library libnvidia-ml.so.1 not found\nmore"),
			"  none detected\n  NVIDIA: not available — NVML library libnvidia-ml.so.1 not found\n"},
		{"no GPU, no error recorded", newBuilder(t0).add("trainwatch_gpu_backend_up", 0, "backend", "nvml"),
			"  none detected\n  NVIDIA: not available\n"},
		{"no GPU, no backend", newBuilder(t0), "  none detected\n"},
		{"AMD GPU found, NVML missing", newBuilder(t0).add("trainwatch_gpu_backend_up", 0, "backend", "nvml").
			collector("gpu", "no NVML").amd(amdGPU{idx: "1", uuid: "0xabc", up: 1}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Compute(nil, tt.b.snap()).WriteText(&buf, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if strings.Contains(buf.String(), "not available") || strings.Contains(buf.String(), "none detected") {
					t.Errorf("unexpected line:\n%s", buf.String())
				}
				return
			}
			section := strings.TrimRight(strings.SplitN(strings.SplitN(buf.String(), "GPUS\n", 2)[1], "\n\n", 2)[0], "\n") + "\n"
			if section != tt.want {
				t.Errorf("GPU section lacks %q:\n%s", tt.want, buf.String())
			}
		})
	}
}

func TestTextGPUProcessesLimit(t *testing.T) {
	b := newBuilder(t0).nvml(nvGPU{idx: "0", uuid: "GPU-a"}).nvml(nvGPU{idx: "1", uuid: "GPU-b"})
	for i := 0; i < 14; i++ {
		idx, uuid := "0", "GPU-a"
		if i%2 == 1 {
			idx, uuid = "1", "GPU-b"
		}
		b.proc(idx, uuid, proc{pid: fmt.Sprint(1000 + i), command: "p", user: "u", memory: float64(i+1) * gib, sm: 1})
	}
	var buf bytes.Buffer
	if err := Compute(nil, b.snap()).WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "  … 4 more\n") || !strings.Contains(buf.String(), "14.0 GiB") || strings.Contains(buf.String(), " 4.0 GiB") {
		t.Errorf("want the 10 largest of 14 processes and a line for the other 4:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "CONTAINER") || strings.Contains(buf.String(), "POD") || strings.Contains(buf.String(), "SLURM JOB") {
		t.Errorf("empty identity columns shown:\n%s", buf.String())
	}
}
