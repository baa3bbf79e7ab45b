//go:build cgo

package mockgpu

import (
	"regexp"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixed() time.Time { return t0 }

// edited is Static with per-GPU edits.
type edited struct {
	*Static
	edit map[int]func(*State)
}

func (e edited) State(i int, now time.Time) State {
	s := e.Static.State(i, now)
	if f := e.edit[i]; f != nil {
		f(&s)
	}
	return s
}

func TestNewServer(t *testing.T) {
	uuid := regexp.MustCompile(`^GPU-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, kind := range []string{"h100", "h200", "a100", "b200"} {
		srv := NewServer(kind, NewStatic(), fixed)
		if len(srv.Devices) != 8 {
			t.Fatalf("%s: %d devices", kind, len(srv.Devices))
		}
		seen := map[string]bool{}
		for i, d := range srv.Devices {
			u, ret := d.GetUUID()
			if ret != nvml.SUCCESS || !uuid.MatchString(u) || seen[u] {
				t.Fatalf("%s GPU %d: UUID %q (%v)", kind, i, u, ret)
			}
			seen[u] = true
			if u != StableUUID(kind, i) {
				t.Fatalf("UUID not stable")
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("unknown kind did not panic")
		}
	}()
	NewServer("v100", NewStatic(), nil)
}

func TestMemoryConsistent(t *testing.T) {
	srv := NewServer("h200", NewStatic(), fixed)
	for i, d := range srv.Devices {
		v1, r1 := d.GetMemoryInfo()
		v2, r2 := d.GetMemoryInfo_v2()
		if r1 != nvml.SUCCESS || r2 != nvml.SUCCESS {
			t.Fatal(r1, r2)
		}
		if v2.Total != v2.Reserved+v2.Free+v2.Used || v1.Total != v2.Total || v1.Free != v2.Free || v1.Used != v2.Used+v2.Reserved {
			t.Fatalf("GPU %d: v1 %+v and v2 %+v disagree", i, v1, v2)
		}
		if v2.Total != 144384<<20 {
			t.Fatalf("GPU %d: total %d, want the H200's 144384 MiB", i, v2.Total)
		}
	}
}

func TestFaults(t *testing.T) {
	tel := edited{NewStatic(), map[int]func(*State){
		1: func(s *State) { s.Lost = true },
		2: func(s *State) { s.NotSupported = []string{"GetPowerUsage"} },
		3: func(s *State) { s.Hang = 50 * time.Millisecond },
	}}
	srv := NewServer("h100", tel, fixed)
	if _, ret := srv.Devices[1].GetPowerUsage(); ret != nvml.ERROR_GPU_IS_LOST {
		t.Errorf("lost GPU: %v", ret)
	}
	if _, ret := srv.Devices[1].GetUUID(); ret != nvml.ERROR_GPU_IS_LOST {
		t.Errorf("lost GPU UUID: %v", ret)
	}
	if _, ret := srv.Devices[2].GetPowerUsage(); ret != nvml.ERROR_NOT_SUPPORTED {
		t.Errorf("NotSupported: %v", ret)
	}
	if _, ret := srv.Devices[2].GetTemperature(nvml.TEMPERATURE_GPU); ret != nvml.SUCCESS {
		t.Errorf("other method on GPU 2: %v", ret)
	}
	if _, ret := srv.Devices[0].GetFanSpeed(); ret != nvml.ERROR_NOT_SUPPORTED {
		t.Errorf("nil fan: %v", ret)
	}
	start := time.Now()
	if v, ret := srv.Devices[3].GetPowerUsage(); ret != nvml.SUCCESS || v == 0 {
		t.Errorf("hung GPU answers %v %v", v, ret)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("hang lasted %s", el)
	}
}

func TestEvents(t *testing.T) {
	srv := NewServer("h200", NewStatic(), fixed)
	set, ret := srv.EventSetCreate()
	if ret != nvml.SUCCESS {
		t.Fatal(ret)
	}
	// Nothing registered: the XID on GPU 3 is dropped.
	if _, ret := set.Wait(1000); ret != nvml.ERROR_TIMEOUT {
		t.Fatalf("unregistered: %v", ret)
	}

	srv = NewServer("h200", NewStatic(), fixed)
	set, _ = srv.EventSetCreate()
	for _, d := range srv.Devices {
		if ret := d.RegisterEvents(nvml.EventTypeXidCriticalError, set); ret != nvml.SUCCESS {
			t.Fatal(ret)
		}
	}
	data, ret := set.Wait(1000)
	if ret != nvml.SUCCESS || data.EventData != 79 || data.Device != srv.Devices[3] || data.EventType != nvml.EventTypeXidCriticalError {
		t.Fatalf("event %+v %v", data, ret)
	}
	start := time.Now()
	if _, ret := set.Wait(1000); ret != nvml.ERROR_TIMEOUT {
		t.Fatalf("second wait: %v (the XID is delivered once)", ret)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("timeout wait took %s; it is shortened", el)
	}
	if set.Free() != nvml.SUCCESS || set.Free() == nvml.SUCCESS {
		t.Fatal("free")
	}
}

func TestGPM(t *testing.T) {
	now := t0
	srv := NewServer("h100", NewStatic(), func() time.Time { return now })
	d := srv.Devices[2]
	sup, ret := d.GpmQueryDeviceSupport()
	if ret != nvml.SUCCESS || sup.IsSupportedDevice != 1 {
		t.Fatal(sup, ret)
	}
	a, _ := srv.GpmSampleAlloc()
	b, _ := srv.GpmSampleAlloc()
	if d.GpmSampleGet(a) != nvml.SUCCESS {
		t.Fatal("sample a")
	}
	now = now.Add(time.Second)
	if d.GpmSampleGet(b) != nvml.SUCCESS {
		t.Fatal("sample b")
	}
	m := &nvml.GpmMetricsGetType{NumMetrics: 3, Sample1: a, Sample2: b}
	m.Metrics[0].MetricId = uint32(nvml.GPM_METRIC_SM_UTIL)
	m.Metrics[1].MetricId = uint32(nvml.GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC)
	m.Metrics[2].MetricId = uint32(nvml.GPM_METRIC_NVDEC_0_UTIL)
	if ret := srv.GpmMetricsGet(m); ret != nvml.SUCCESS {
		t.Fatal(ret)
	}
	if m.Metrics[0].Value != 76 {
		t.Errorf("SM util %v, want GPU 2's 76", m.Metrics[0].Value)
	}
	if want := 20e9 / (1 << 20); m.Metrics[1].Value < want*0.999 || m.Metrics[1].Value > want*1.001 {
		t.Errorf("NVLink tx %v MiB/s, want %v", m.Metrics[1].Value, want)
	}
	if nvml.Return(m.Metrics[2].NvmlReturn) != nvml.ERROR_NOT_SUPPORTED {
		t.Errorf("unknown metric: %v", m.Metrics[2].NvmlReturn)
	}
	m.Sample2 = a
	m.Sample1, _ = srv.GpmSampleAlloc()
	if srv.GpmMetricsGet(m) != nvml.ERROR_INVALID_ARGUMENT {
		t.Error("metrics from an untaken sample")
	}
}

func TestMIGDevices(t *testing.T) {
	srv := NewServer("h100", NewStatic(), fixed)
	d := srv.Devices[0].(*server.Device)
	if _, ret := d.GetMigDeviceHandleByIndex(0); ret != nvml.ERROR_NOT_SUPPORTED {
		t.Fatalf("MIG off: %v", ret)
	}
	d.SetMigMode(nvml.DEVICE_MIG_ENABLE)
	info, _ := d.GetGpuInstanceProfileInfo(nvml.GPU_INSTANCE_PROFILE_2_SLICE)
	d.CreateGpuInstance(&info)
	m, ret := d.GetMigDeviceHandleByIndex(0)
	if ret != nvml.SUCCESS {
		t.Fatal(ret)
	}
	name, _ := m.GetName()
	if name != "NVIDIA H100 80GB HBM3 MIG 2g.20gb" {
		t.Errorf("name %q", name)
	}
	mem, _ := m.GetMemoryInfo_v2()
	if mem.Total != info.MemorySizeMB<<20 || mem.Total != mem.Free+mem.Used+mem.Reserved {
		t.Errorf("MIG memory %+v", mem)
	}
	if _, ret := d.GetMigDeviceHandleByIndex(1); ret != nvml.ERROR_NOT_FOUND {
		t.Errorf("index past the instances: %v", ret)
	}
}

func TestStatic(t *testing.T) {
	s := NewStatic()
	if ev := s.Events(t0); len(ev) != 1 || ev[0] != (Event{Index: 3, XID: 79}) {
		t.Fatalf("events %v", ev)
	}
	if ev := s.Events(t0); len(ev) != 0 {
		t.Fatalf("XID delivered twice")
	}
	active := 0
	for i := range 8 {
		st := s.State(i, t0)
		if st.FanPercent != nil {
			t.Errorf("GPU %d has a fan", i)
		}
		for b := 0; b < 11; b++ {
			if st.ClockEventReasons&(1<<b) != 0 {
				active++
			}
		}
		if i == 0 && len(st.Processes) != 2 {
			t.Errorf("GPU 0 runs %d processes", len(st.Processes))
		}
		if st.GPUUtil != uint32(91+i) {
			t.Errorf("GPU %d util %d", i, st.GPUUtil)
		}
	}
	if active != 1 {
		t.Errorf("%d clock-event reasons active, want 1", active)
	}
	a, b := s.State(0, t0), NewStatic().State(0, t0)
	if a.EnergyMillijoules != b.EnergyMillijoules || s.State(0, t0.Add(time.Second)).EnergyMillijoules-a.EnergyMillijoules != uint64(a.PowerMilliwatts) {
		t.Errorf("energy must be deterministic and grow at the power draw")
	}
}

func TestCalls(t *testing.T) {
	srv := NewServer("h100", NewStatic(), fixed)
	srv.Init()
	srv.Devices[0].GetPowerUsage()
	srv.Devices[0].GetPowerUsage()
	srv.Devices[5].GetClockInfo(nvml.CLOCK_SM)
	got := ServerCalls(srv)
	if got["Init"] != 1 || got["Device.GetPowerUsage"] != 2 || got["Device.GetClockInfo"] != 1 || Total(got) != 4 {
		t.Fatalf("calls %v", got)
	}
}

func TestResetCallsKeepsBehaviour(t *testing.T) {
	srv := NewServer("h200", NewStatic(), time.Now)
	dev := srv.Devices[0].(*server.Device)
	u1, ret := dev.GetUtilizationRates()
	if ret != nvml.SUCCESS {
		t.Fatal(ret)
	}
	_, _ = dev.GetClockInfo(nvml.CLOCK_SM)
	if n := len(dev.GetClockInfoCalls()); n != 1 {
		t.Fatalf("%d recorded calls before reset", n)
	}
	ResetCalls(srv)
	if n := len(dev.GetClockInfoCalls()); n != 0 {
		t.Fatalf("%d recorded calls after reset, want 0", n)
	}
	u2, ret := dev.GetUtilizationRates()
	if ret != nvml.SUCCESS || u1 != u2 {
		t.Fatalf("after reset: %v %v, want %v", u2, ret, u1)
	}
	if n, ret := srv.DeviceGetCount(); ret != nvml.SUCCESS || n != 8 {
		t.Fatalf("server after reset: %d %v", n, ret)
	}
}

// pacedStatic is Static whose events appear at a known interval.
type pacedStatic struct {
	*Static
	every time.Duration
}

func (p pacedStatic) EventInterval() time.Duration { return p.every }

// TestEventsPaced: an EventPacer's Wait without an event blocks for the
// pacer's interval (bounded by the timeout) rather than DefaultEventPoll,
// so that an idle event reader wakes that rarely, and an event is still
// handed out at once.
func TestEventsPaced(t *testing.T) {
	for _, tc := range []struct {
		name      string
		every     time.Duration
		timeoutMs uint32
		least     time.Duration
		most      time.Duration
	}{
		{"pacer interval", 300 * time.Millisecond, 1000, 290 * time.Millisecond, 900 * time.Millisecond},
		{"timeout first", time.Second, 100, 90 * time.Millisecond, 700 * time.Millisecond},
		{"zero interval: default", 0, 1000, 0, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer("h200", pacedStatic{NewStatic(), tc.every}, fixed)
			set, _ := srv.EventSetCreate()
			for _, d := range srv.Devices {
				if ret := d.RegisterEvents(nvml.EventTypeXidCriticalError, set); ret != nvml.SUCCESS {
					t.Fatal(ret)
				}
			}
			start := time.Now()
			if data, ret := set.Wait(tc.timeoutMs); ret != nvml.SUCCESS || data.EventData != 79 {
				t.Fatalf("event %+v %v", data, ret)
			}
			if el := time.Since(start); el > 200*time.Millisecond {
				t.Errorf("a pending event took %s", el)
			}
			start = time.Now()
			if _, ret := set.Wait(tc.timeoutMs); ret != nvml.ERROR_TIMEOUT {
				t.Fatalf("second wait: %v", ret)
			}
			if el := time.Since(start); el < tc.least || el > tc.most {
				t.Errorf("an empty wait took %s; want %s to %s", el, tc.least, tc.most)
			}
		})
	}
}
