package summary

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func diskByName(t *testing.T, h *Host, dev string) Disk {
	t.Helper()
	for _, d := range h.Disks {
		if d.Device == dev {
			return d
		}
	}
	t.Fatalf("disk %q not in summary", dev)
	return Disk{}
}

func ifaceByName(t *testing.T, h *Host, dev string) Interface {
	t.Helper()
	for _, n := range h.Network {
		if n.Device == dev {
			return n
		}
	}
	t.Fatalf("interface %q not in summary", dev)
	return Interface{}
}

func TestComputeRates(t *testing.T) {
	h := Compute(fullPair())
	if !h.RatesAvailable || h.IntervalSeconds != 10 {
		t.Fatalf("rates_available=%v interval=%v, want true 10", h.RatesAvailable, h.IntervalSeconds)
	}
	nvme := diskByName(t, h, "nvme0n1")
	sda := diskByName(t, h, "sda")
	sdb := diskByName(t, h, "sdb")
	eth0 := ifaceByName(t, h, "eth0")
	veth := ifaceByName(t, h, "veth1")
	tests := []struct {
		name      string
		got, want float64
	}{
		{"cpu busy = 1-(Δidle+Δiowait)/Δtotal over all cores", h.CPU.BusyPercent, 55},
		{"cpu0 busy", h.CPU.Cores[0].BusyPercent, 70},
		{"cpu1 busy", h.CPU.Cores[1].BusyPercent, 95},
		{"cpu2 busy", h.CPU.Cores[2].BusyPercent, 0},
		{"cpu10 new: no rate", h.CPU.Cores[3].BusyPercent, 0},
		{"mode user", h.CPU.ModesPercent["user"], 50},
		{"mode iowait (rounded to 0.01)", h.CPU.ModesPercent["iowait"], 3.33},
		{"mode idle", h.CPU.ModesPercent["idle"], 41.67},
		{"mode softirq", h.CPU.ModesPercent["softirq"], 1.67},
		{"disk read B/s", nvme.ReadBytesPerSecond, 4e5},
		{"disk write B/s", nvme.WriteBytesPerSecond, 8e5},
		{"disk read ops/s", nvme.ReadOpsPerSecond, 100},
		{"disk write ops/s", nvme.WriteOpsPerSecond, 50},
		{"disk read latency = Δread_time/Δreads", nvme.ReadLatencySeconds, 2.0 / 1000},
		{"disk write latency = Δwrite_time/Δwrites", nvme.WriteLatencySeconds, 1.5 / 500},
		{"disk utilization = Δio_time/Δt", nvme.UtilizationPercent, 60},
		{"disk queue depth = Δweighted/Δt", nvme.QueueDepth, 1.2},
		{"disk no reads: read latency 0", sda.ReadLatencySeconds, 0},
		{"disk write latency sda", sda.WriteLatencySeconds, 0.05 / 10},
		{"disk new: no rate", sdb.ReadBytesPerSecond, 0},
		{"net rx B/s", eth0.ReceiveBytesPerSecond, 1.25e7},
		{"net tx B/s", eth0.TransmitBytesPerSecond, 2.5e6},
		{"net rx pkt/s", eth0.ReceivePacketsPerSecond, 1e4},
		{"net tx pkt/s", eth0.TransmitPacketsPerSecond, 5e3},
		{"net rx drops/s", eth0.ReceiveDropsPerSecond, 0.2},
		{"net rx errs/s", eth0.ReceiveErrorsPerSecond, 0},
		{"net reset: no rate", veth.ReceiveBytesPerSecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !near(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	flags := []struct {
		name      string
		got, want bool
	}{
		{"cpu", h.CPU.RatesAvailable, true},
		{"cpu0", h.CPU.Cores[0].RatesAvailable, true},
		{"cpu10 new", h.CPU.Cores[3].RatesAvailable, false},
		{"nvme0n1", nvme.RatesAvailable, true},
		{"sdb new", sdb.RatesAvailable, false},
		{"eth0", eth0.RatesAvailable, true},
		{"veth1 reset", veth.RatesAvailable, false},
	}
	for _, f := range flags {
		if f.got != f.want {
			t.Errorf("%s rates_available = %v, want %v", f.name, f.got, f.want)
		}
	}
	var sum float64
	for _, v := range h.CPU.ModesPercent {
		sum += v
	}
	if math.Abs(sum-100) > 0.05 {
		t.Errorf("modes sum to %v, want 100", sum)
	}
}

func TestComputeNoRates(t *testing.T) {
	prev, cur := fullPair()
	later := *prev
	later.Time = cur.Time.Add(time.Second)
	tests := []struct {
		name string
		prev *collector.Snapshot
	}{
		{"no previous snapshot", nil},
		{"same time", &collector.Snapshot{Time: cur.Time, Families: prev.Families}},
		{"previous is later", &later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Compute(tt.prev, cur)
			if h.RatesAvailable || h.IntervalSeconds != 0 {
				t.Errorf("rates_available=%v interval=%v, want false 0", h.RatesAvailable, h.IntervalSeconds)
			}
			if h.CPU.RatesAvailable || h.CPU.BusyPercent != 0 || len(h.CPU.ModesPercent) != 0 {
				t.Errorf("cpu = %+v, want no rates", h.CPU)
			}
			for _, d := range h.Disks {
				if d.RatesAvailable || d.ReadBytesPerSecond != 0 || d.UtilizationPercent != 0 {
					t.Errorf("disk %+v has rates", d)
				}
			}
			for _, n := range h.Network {
				if n.RatesAvailable || n.ReceiveBytesPerSecond != 0 {
					t.Errorf("interface %+v has rates", n)
				}
			}
			// Gauges are there regardless.
			if h.Memory.TotalBytes != 64*gib || len(h.Disks) != 3 || h.CPU.Count != 4 {
				t.Errorf("gauges missing: memory %d, disks %d, cpus %d", h.Memory.TotalBytes, len(h.Disks), h.CPU.Count)
			}
		})
	}
	if Compute(nil, nil) != nil {
		t.Error("Compute(nil, nil) is not nil")
	}
}

func TestComputeDiskCounterReset(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur diskVals
		wantRates bool
	}{
		{"advancing", diskVals{reads: 10, writes: 10}, diskVals{reads: 20, writes: 10}, true},
		{"unchanged", diskVals{reads: 10, writes: 10}, diskVals{reads: 10, writes: 10}, true},
		{"reads went back", diskVals{reads: 10, writes: 10}, diskVals{reads: 5, writes: 20}, false},
		{"io time went back", diskVals{reads: 10, writes: 10, ioTime: 5}, diskVals{reads: 11, writes: 11, ioTime: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Compute(newBuilder(t0).disk("sda", tt.prev).snap(), newBuilder(t0.Add(time.Second)).disk("sda", tt.cur).snap())
			d := diskByName(t, h, "sda")
			if d.RatesAvailable != tt.wantRates {
				t.Errorf("rates_available = %v, want %v", d.RatesAvailable, tt.wantRates)
			}
			if !tt.wantRates && (d.ReadOpsPerSecond != 0 || d.WriteOpsPerSecond != 0) {
				t.Errorf("rates not zeroed: %+v", d)
			}
		})
	}
}

func TestComputeDiskUtilizationClamped(t *testing.T) {
	h := Compute(newBuilder(t0).disk("sda", diskVals{reads: 1, ioTime: 0}).snap(),
		newBuilder(t0.Add(time.Second)).disk("sda", diskVals{reads: 2, ioTime: 1.02}).snap())
	if got := diskByName(t, h, "sda").UtilizationPercent; got != 100 {
		t.Errorf("utilization = %v, want clamped to 100", got)
	}
}

func TestComputeCPUIowaitBackwards(t *testing.T) {
	// iowait going back is a known kernel quirk: clamp that mode to 0
	// rather than dropping the core.
	h := Compute(newBuilder(t0).cpu("0", cpuModes{user: 10, idle: 10, iowait: 5}).snap(),
		newBuilder(t0.Add(time.Second)).cpu("0", cpuModes{user: 11, idle: 11, iowait: 4}).snap())
	if !h.CPU.Cores[0].RatesAvailable || h.CPU.Cores[0].BusyPercent != 50 {
		t.Errorf("core = %+v, want busy 50", h.CPU.Cores[0])
	}
}

func TestComputeMemory(t *testing.T) {
	tests := []struct {
		name                 string
		vals                 map[string]float64
		wantUsed             uint64
		wantPct, wantSwapPct float64
	}{
		{"used = total - available", map[string]float64{"MemTotal": 100, "MemAvailable": 25, "MemFree": 5, "SwapTotal": 10, "SwapFree": 9}, 75, 75, 10},
		{"no MemAvailable: free + buffers + cached", map[string]float64{"MemTotal": 100, "MemFree": 10, "Buffers": 5, "Cached": 25}, 60, 60, 0},
		{"no swap", map[string]float64{"MemTotal": 200, "MemAvailable": 200}, 0, 0, 0},
		{"nothing read", map[string]float64{}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t0)
			for k, v := range tt.vals {
				b.add("node_memory_"+k+"_bytes", v)
			}
			m := Compute(nil, b.snap()).Memory
			if m.UsedBytes != tt.wantUsed || !near(m.UsedPercent, tt.wantPct) || !near(m.SwapUsedPercent, tt.wantSwapPct) {
				t.Errorf("memory = %+v, want used %d (%v%%), swap %v%%", m, tt.wantUsed, tt.wantPct, tt.wantSwapPct)
			}
		})
	}
}

func TestComputeFilesystems(t *testing.T) {
	h := Compute(fullPair())
	want := []struct {
		mount           string
		used            uint64
		usedPct, inodes float64
		readonly        bool
		err             string
	}{
		{"/", 95 * gib, 95, 23.71, false, ""},       // 100 × 1553600 / 6553600, rounded
		{"/boot/efi", 12 << 20, 2.34, 0, false, ""}, // 100 × 12 / 512, rounded
		{"/data", 3072 * gib, 75, 1, true, ""},
		{"/mnt/datasets", 0, 0, 0, false, "mountpoint timeout"},
	}
	if len(h.Filesystems) != len(want) {
		t.Fatalf("got %d filesystems, want %d", len(h.Filesystems), len(want))
	}
	for i, w := range want {
		fs := h.Filesystems[i]
		if fs.Mountpoint != w.mount || fs.UsedBytes != w.used || !near(fs.UsedPercent, w.usedPct) ||
			!near(fs.InodesUsedPercent, w.inodes) || fs.Readonly != w.readonly || fs.Error != w.err {
			t.Errorf("filesystem %d = %+v, want %+v", i, fs, w)
		}
	}
}

func TestComputeGPUs(t *testing.T) {
	h := Compute(fullPair())
	if len(h.GPUs) != 2 {
		t.Fatalf("got %d GPUs, want 2", len(h.GPUs))
	}
	g := h.GPUs[0]
	// GPU memory % is used / (used + free), never used / free.
	if *g.MemoryUsedPercent != 88.28 { // 100 × 72000 / (72000 + 9559), rounded
		t.Errorf("memory used %% = %v", *g.MemoryUsedPercent)
	}
	if *g.MemoryUsedBytes != 72000*mib || *g.MemoryTotalBytes != (72000+9559)*mib {
		t.Errorf("memory bytes used %d total %d", *g.MemoryUsedBytes, *g.MemoryTotalBytes)
	}
	if *g.SMClockHertz != 1980e6 || *g.PowerWatts != 612.5 || g.ModelName != "NVIDIA H100 80GB HBM3" || g.UUID != "GPU-aaaa" {
		t.Errorf("gpu = %+v", g)
	}

	// A GPU that reports only some fields has the others omitted.
	b := newBuilder(t0).add("DCGM_FI_DEV_GPU_TEMP", 50, "gpu", "0", "UUID", "GPU-x")
	g = Compute(nil, b.snap()).GPUs[0]
	if g.UtilizationPercent != nil || g.MemoryUsedPercent != nil || g.TemperatureCelsius == nil {
		t.Errorf("partial gpu = %+v", g)
	}
	js, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if string(js) != `{"index":"0","uuid":"GPU-x","model_name":"","device":"","pci_bus_id":"","vendor":"nvidia","up":true,`+
		`"temperature_celsius":50,"throttle_reasons":[],"xid_events_total":0,"xids":{},"processes":[]}` {
		t.Errorf("partial gpu JSON = %s", js)
	}
}

func TestComputeTemperatures(t *testing.T) {
	h := Compute(fullPair())
	type row struct {
		chipName, sensor, label string
		celsius                 float64
		hasMax, hasCrit         bool
	}
	var got []row
	for _, tp := range h.Temperatures {
		got = append(got, row{tp.ChipName, tp.Sensor, tp.Label, tp.Celsius, tp.MaxCelsius != nil, tp.CritCelsius != nil})
	}
	want := []row{
		{"hwmon9", "temp10", "", 30, false, false},
		{"nvme", "temp1", "Composite", 41.85, true, true},
		{"coretemp", "temp1", "Package id 0", 72, true, true},
		{"coretemp", "temp2", "Core 0", 85, true, true},
		{"thermal_zone", "0", "acpitz", 27.8, false, false},
		{"thermal_zone", "1", "x86_pkg_temp", 47, false, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("temperatures =\n%v\nwant\n%v", got, want)
	}
}

func TestComputeNetworkState(t *testing.T) {
	h := Compute(fullPair())
	tests := []struct {
		dev   string
		up    *bool
		speed *uint64
	}{
		{"docker0", ptrTo(false), nil}, // negative speed = unknown
		{"eth0", ptrTo(true), ptrTo(uint64(1.25e9))},
		{"lo", ptrTo(false), nil},
		{"veth1", nil, nil},
	}
	for _, tt := range tests {
		n := ifaceByName(t, h, tt.dev)
		if !reflect.DeepEqual(n.Up, tt.up) || !reflect.DeepEqual(n.SpeedBytesPerSecond, tt.speed) {
			t.Errorf("%s: up %v speed %v, want %v %v", tt.dev, n.Up, n.SpeedBytesPerSecond, tt.up, tt.speed)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestComputeIdentityAndMisc(t *testing.T) {
	h := Compute(fullPair())
	if h.Hostname != "trainer-01" || h.Kernel != "6.8.0-45-generic" || h.Machine != "x86_64" {
		t.Errorf("identity = %q %q %q", h.Hostname, h.Kernel, h.Machine)
	}
	if want := float64(3*86400 + 4*3600 + 5*60 + 10); h.UptimeSeconds != want {
		t.Errorf("uptime = %v, want %v", h.UptimeSeconds, want)
	}
	if h.CPU.Load1 != 3.5 || h.CPU.ProcsRunning != 5 || h.CPU.ProcsBlocked != 1 {
		t.Errorf("cpu = %+v", h.CPU)
	}
	if !reflect.DeepEqual(h.TCPConnectionStates, map[string]uint64{"established": 42, "listen": 7, "time_wait": 3}) {
		t.Errorf("tcp = %v", h.TCPConnectionStates)
	}
	var disks []string
	for _, d := range h.Disks {
		disks = append(disks, d.Device)
	}
	if !reflect.DeepEqual(disks, []string{"nvme0n1", "sda", "sdb"}) {
		t.Errorf("disks = %v (sr0 never did I/O and must be left out)", disks)
	}
	var names []string
	for _, c := range h.Collectors {
		names = append(names, c.Name)
	}
	if !sort.StringsAreSorted(names) || len(names) != 6 {
		t.Errorf("collectors = %v", names)
	}
}

// TestComputeNonFinite checks that NaN and infinite inputs never reach the
// JSON encoder, which rejects them.
func TestComputeNonFinite(t *testing.T) {
	b := newBuilder(t0)
	for _, name := range []string{"node_memory_MemTotal_bytes", "node_load1", "node_boot_time_seconds"} {
		b.add(name, math.NaN())
	}
	b.add("node_hwmon_temp_celsius", math.Inf(1), "chip", "c", "sensor", "temp1")
	b.add("DCGM_FI_DEV_POWER_USAGE", math.NaN(), "gpu", "0", "UUID", "GPU-x")
	b.add("DCGM_FI_DEV_GPU_UTIL", 50, "gpu", "0", "UUID", "GPU-x")
	b.disk("sda", diskVals{reads: math.Inf(1), writes: 1, readTime: math.NaN()})
	cur := b.snap()
	prev := newBuilder(t0.Add(-time.Second)).disk("sda", diskVals{reads: 1, writes: 0}).snap()
	h := Compute(prev, cur)
	if _, err := json.Marshal(h); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if len(h.Temperatures) != 0 || h.GPUs[0].PowerWatts != nil {
		t.Errorf("non-finite values kept: %+v %+v", h.Temperatures, h.GPUs[0])
	}
}

// TestComputeDeterministic checks that the order in which series arrive
// does not change the result.
func TestComputeDeterministic(t *testing.T) {
	prev, cur := fullPair()
	for _, pair := range [][2]*collector.Snapshot{{prev, cur}, {nil, gpuSnapshot()}, {nil, promSnapshot(t, "testdata/demo_gpu.prom", t0)}} {
		prev, cur := pair[0], pair[1]
		want, err := json.Marshal(Compute(prev, cur))
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 20; i++ {
			for _, s := range []*collector.Snapshot{prev, cur} {
				if s == nil {
					continue
				}
				for _, f := range s.Families {
					r.Shuffle(len(f.Samples), func(i, j int) { f.Samples[i], f.Samples[j] = f.Samples[j], f.Samples[i] })
				}
				r.Shuffle(len(s.Collectors), func(i, j int) { s.Collectors[i], s.Collectors[j] = s.Collectors[j], s.Collectors[i] })
			}
			got, err := json.Marshal(Compute(prev, cur))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("shuffle %d changed the result:\n%s\nwant\n%s", i, got, want)
			}
		}
	}
}

func TestNaturalLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"cpu2", "cpu10", true},
		{"cpu10", "cpu2", false},
		{"nvme0n1", "nvme1n1", true},
		{"nvme0n1", "nvme0n10", true},
		{"sda", "sdb", true},
		{"temp9", "temp10", true},
		{"a", "a", false},
		{"a", "ab", true},
		{"01", "1", false},
		{"1", "01", true},
		{"", "a", true},
	}
	for _, tt := range tests {
		if got := naturalLess(tt.a, tt.b); got != tt.want {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// fakeCPU is a collector whose CPU spends 3 of every 4 seconds of each
// tick busy, one tick being 1 s of simulated time.
type fakeCPU struct{ n float64 }

func (f *fakeCPU) Name() string { return "cpu" }

func (f *fakeCPU) Collect(_ context.Context, e *collector.Emitter) error {
	f.n++
	d := collector.NewDesc("node_cpu_seconds_total", "", collector.Counter, "cpu", "mode")
	e.Emit(d, 3*f.n, "0", "user")
	e.Emit(d, f.n, "0", "idle")
	return nil
}

type failing struct{}

func (failing) Name() string { return "hwmon" }
func (failing) Collect(context.Context, *collector.Emitter) error {
	return fmt.Errorf("read /sys/class/hwmon: %w", collector.ErrNoData)
}

// TestComputeFromRunner runs the real Runner for two ticks and summarises
// its snapshots.
func TestComputeFromRunner(t *testing.T) {
	now := t0
	r, err := collector.NewRunner(collector.RunnerOptions{Now: func() time.Time { return now }}, &fakeCPU{}, failing{})
	if err != nil {
		t.Fatal(err)
	}
	prev := r.Tick(context.Background())
	now = now.Add(2 * time.Second)
	cur := r.Tick(context.Background())
	h := Compute(prev, cur)
	if !h.RatesAvailable || h.IntervalSeconds != 2 || h.CPU.BusyPercent != 75 {
		t.Errorf("rates %v interval %v busy %v, want true 2 75", h.RatesAvailable, h.IntervalSeconds, h.CPU.BusyPercent)
	}
	want := []CollectorStatus{{Name: "cpu", Success: true}, {Name: "hwmon", Error: "read /sys/class/hwmon: no data on this machine", NoData: true}}
	if !reflect.DeepEqual(h.Collectors, want) {
		t.Errorf("collectors = %+v, want %+v", h.Collectors, want)
	}
}
