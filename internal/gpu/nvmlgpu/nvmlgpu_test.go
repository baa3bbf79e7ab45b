//go:build cgo

package nvmlgpu

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// checkGolden compares got with testdata/name (UPDATE_GOLDEN=1 rewrites it).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got)
}

// TestGolden renders the 8-GPU Static machine after two ticks (GPM needs
// two samples) and the XID event, for H100 and H200 mock servers.
func TestGolden(t *testing.T) {
	for _, kind := range []string{"h100", "h200"} {
		t.Run(kind, func(t *testing.T) {
			r := newRig(t, kind, mockgpu.NewStatic(), nil, nil)
			r.mustTick()
			r.waitXID(1)
			fams := r.mustTick()
			text, err := exposition.Text(fams)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "static_"+kind+".golden", text)
			if n := r.log.Count("level=ERROR"); n != 0 {
				t.Errorf("errors logged:\n%s", r.log)
			}
		})
	}
}

// TestStaticValues spot-checks units and conversions against the Static
// telemetry.
func TestStaticValues(t *testing.T) {
	r := newRig(t, "h200", mockgpu.NewStatic(), nil, nil)
	r.mustTick()
	r.waitXID(1)
	fams := r.mustTick()
	st := mockgpu.NewStatic().State(0, r.clock.Now())
	checks := []struct {
		name string
		want float64
	}{
		{"DCGM_FI_DEV_GPU_UTIL", 91},
		{"DCGM_FI_DEV_FB_USED", float64(st.MemUsedBytes >> 20)},
		{"DCGM_FI_DEV_FB_RESERVED", 636},
		{"DCGM_FI_DEV_FB_TOTAL", 144384},
		{"DCGM_FI_DEV_FB_FREE", 144384 - 636 - float64(st.MemUsedBytes>>20)},
		{"DCGM_FI_DEV_POWER_USAGE", 612},
		{"DCGM_FI_DEV_POWER_MGMT_LIMIT", 700},
		{"DCGM_FI_DEV_MEMORY_TEMP", 66},
		{"DCGM_FI_PROF_SM_ACTIVE", 0.72},
		{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", 0.48},
		{"DCGM_FI_PROF_PCIE_TX_BYTES", 1.2e9},
		{"DCGM_FI_DEV_PCIE_TX_THROUGHPUT", 1.2e6},
	}
	for _, c := range checks {
		if got := one(t, fams, c.name, "gpu", "0"); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := len(samples(fams, "DCGM_FI_DEV_FAN_SPEED")); n != 0 {
		t.Errorf("fan speed emitted for %d GPUs; the Static GPUs have no fan", n)
	}
	if n := len(samples(fams, "DCGM_FI_DEV_RETIRED_SBE")); n != 0 {
		t.Errorf("retired pages emitted; NOT_SUPPORTED fields must be omitted")
	}
	if got := one(t, fams, "trainwatch_gpu_clock_event_active", "gpu", "6", "reason", "sw_power_cap"); got != 1 {
		t.Errorf("GPU 6 sw_power_cap = %v, want 1", got)
	}
	if got := samples(fams, "trainwatch_gpu_clock_event_active", "gpu", "6"); len(got) != 9 {
		t.Errorf("GPU 6 has %d reason series, want 9 (supported mask 0x1ff)", len(got))
	}
	if got := one(t, fams, "trainwatch_gpu_xid_events_total", "gpu", "3", "xid", "79"); got != 1 {
		t.Errorf("XID 79 count = %v", got)
	}
	if got := one(t, fams, "DCGM_FI_DEV_XID_ERRORS", "gpu", "3", "err_code", "79"); got != 79 {
		t.Errorf("DCGM_FI_DEV_XID_ERRORS = %v", got)
	}
	if got := one(t, fams, "trainwatch_gpu_process_memory_bytes", "gpu", "0", "pid", "4242"); got != 48000*(1<<20) {
		t.Errorf("process memory = %v", got)
	}
	if got := one(t, fams, "trainwatch_gpu_process_sm_utilization_percent", "gpu", "0", "pid", "4242"); got != 83 {
		t.Errorf("process SM util = %v", got)
	}
	if got := one(t, fams, "trainwatch_gpu_processes", "gpu", "0"); got != 2 {
		t.Errorf("processes = %v", got)
	}
	// 18 links at (18+0) GB/s each way, rx 2% less, in MiB/s.
	if got, want := one(t, fams, "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "gpu", "0"), 18e9*1.98/(1<<20); got < want*0.999 || got > want*1.001 {
		t.Errorf("NVLink bandwidth = %v MiB/s, want about %v", got, want)
	}
}

// TestFillCoversBackend fails if the backend calls a mock method Fill does
// not set: the mock panics, the reader reports the panic and the GPU down.
// It drives every path: first and slow ticks, re-checks, fallbacks for old
// libraries, MIG, retired pages, fans, events and Close.
func TestFillCoversBackend(t *testing.T) {
	tel := newMutable(mockgpu.NewStatic())
	for i := range 8 {
		tel.set(i, func(s *mockgpu.State) {
			s.NotSupported = nil
			fan := uint32(40 + i)
			s.FanPercent = &fan
			s.RetiredPagesSBE, s.RetiredPagesDBE, s.RetiredPagesPending = 2, 1, true
		})
	}
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("old_library=%v", old), func(t *testing.T) {
			r := newRig(t, "h100", tel, nil, func(srv *server.Server) {
				if old {
					srv.LookupSymbolFunc = func(sym string) error {
						switch sym {
						case "nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetCurrentClocksEventReasons", "nvmlGpmQueryDeviceSupport":
							return errors.New("not found")
						}
						return nil
					}
				}
				d := device(srv, 0)
				d.SetMigMode(nvml.DEVICE_MIG_ENABLE)
				for _, p := range []int{nvml.GPU_INSTANCE_PROFILE_1_SLICE, nvml.GPU_INSTANCE_PROFILE_3_SLICE} {
					info, ret := d.GetGpuInstanceProfileInfo(p)
					if ret != nvml.SUCCESS {
						t.Fatalf("profile %d: %v", p, ret)
					}
					if _, ret := d.CreateGpuInstance(&info); ret != nvml.SUCCESS {
						t.Fatalf("create GPU instance: %v", ret)
					}
				}
			})
			for range 3 {
				fams := r.mustTick()
				if up := samples(fams, "trainwatch_gpu_up"); len(up) != 8 || sum(up) != 8 {
					t.Fatalf("gpu_up = %v, want 8 GPUs up\n%s", up, r.log)
				}
				r.clock.Add(DefaultRecheckInterval) // every field re-checked, every slow value re-read
			}
			if err := r.c.Close(); err != nil {
				t.Fatal(err)
			}
			if n := r.log.Count("panicked"); n != 0 {
				t.Fatalf("the backend called methods Fill does not set:\n%s", r.log)
			}
		})
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// TestUnfilledMethodIsCaught shows what TestFillCoversBackend relies on: a
// mock method left nil panics inside the GPU's reader, which reports the
// GPU down and logs the panic once, without crashing.
func TestUnfilledMethodIsCaught(t *testing.T) {
	r := newRig(t, "h200", noEvents{mockgpu.NewStatic()}, nil, func(srv *server.Server) {
		device(srv, 1).GetPowerUsageFunc = nil
	})
	for range 3 {
		fams := r.mustTick()
		if got := one(t, fams, "trainwatch_gpu_up", "gpu", "1"); got != 0 {
			t.Fatalf("GPU 1 up = %v, want 0", got)
		}
		if got := one(t, fams, "trainwatch_gpu_up", "gpu", "0"); got != 1 {
			t.Fatalf("GPU 0 up = %v, want 1", got)
		}
	}
	if n := r.log.Count("GetPowerUsageFunc: method is nil"); n != 1 {
		t.Fatalf("panic logged %d times, want once:\n%s", n, r.log)
	}
}

// TestInitFailures: no library, no driver, and the rest — the backend is
// down with a clear reason, makes no other call, and retries at most every
// InitRetryInterval.
func TestInitFailures(t *testing.T) {
	cases := []struct {
		ret    nvml.Return
		noData bool
		want   string
	}{
		{nvml.ERROR_LIBRARY_NOT_FOUND, true, "NVML library libnvidia-ml.so.1 not found: no NVIDIA driver installed (install the NVIDIA driver, or set the gpu collector's library_path to where libnvidia-ml.so.1 is)"},
		{nvml.ERROR_DRIVER_NOT_LOADED, true, "NVIDIA driver not loaded: libnvidia-ml.so.1 is installed but the nvidia kernel module is not running"},
		{nvml.ERROR_NO_PERMISSION, false, "no permission to open /dev/nvidiactl"},
		{nvml.ERROR_LIB_RM_VERSION_MISMATCH, false, "different versions (driver upgraded without a reboot?)"},
		{nvml.ERROR_UNKNOWN, false, "gpu: NVML init failed: ERROR_UNKNOWN"},
	}
	for _, tc := range cases {
		t.Run(tc.ret.Error(), func(t *testing.T) {
			r := newRig(t, "h100", mockgpu.NewStatic(), nil, func(srv *server.Server) {
				srv.InitFunc = func() nvml.Return { return tc.ret }
			})
			for k := range 3 {
				fams, err := r.tick(time.Second)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.want)
				}
				if errors.Is(err, collector.ErrNoData) != tc.noData {
					t.Fatalf("errors.Is(err, ErrNoData) = %v, want %v", !tc.noData, tc.noData)
				}
				if got := one(t, fams, "trainwatch_gpu_backend_up", "backend", "nvml"); got != 0 {
					t.Fatalf("backend_up = %v", got)
				}
				calls := mockgpu.ServerCalls(r.srv)
				if calls["Init"] != 1 || mockgpu.Total(calls) != 1 {
					t.Fatalf("tick %d: calls %v, want only one Init", k, calls)
				}
				r.clock.Add(10 * time.Second)
			}
			r.clock.Add(DefaultInitRetryInterval)
			r.tick(time.Second)
			if got := mockgpu.ServerCalls(r.srv); got["Init"] != 2 || mockgpu.Total(got) != 2 {
				t.Fatalf("after the retry interval: calls %v, want two Inits", got)
			}
			// ErrNoData reasons are the Runner's to log (once); other
			// failures are logged here, once.
			want := 1
			if tc.noData {
				want = 0
			}
			if n := r.log.Count("level="); n != want {
				t.Fatalf("logged %d times, want %d:\n%s", n, want, r.log)
			}
		})
	}
}

// TestInitHangs: an nvmlInit that does not return does not block the tick,
// is not started twice, and its late success is used.
func TestInitHangs(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, "h200", noEvents{mockgpu.NewStatic()}, func(c *Config) { c.InitTimeout = 150 * time.Millisecond }, func(srv *server.Server) {
		srv.InitFunc = func() nvml.Return { <-release; return nvml.SUCCESS }
	})
	for k := range 3 {
		start := time.Now()
		_, err := r.tick(100 * time.Millisecond)
		if el := time.Since(start); el > 300*time.Millisecond {
			t.Fatalf("tick took %s with a hanging init", el)
		}
		want := "NVML init still running" // within InitTimeout: slow, not stuck
		if k > 0 {
			want = "NVML init has not returned" // past it
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("tick %d: err = %v, want %q", k, err, want)
		}
		r.clock.Add(2 * DefaultInitRetryInterval)
	}
	if n := len(r.srv.InitCalls()); n != 1 {
		t.Fatalf("Init called %d times while hanging, want 1", n)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams, err := r.tick(time.Second)
		if err == nil {
			if got := sum(samples(fams, "trainwatch_gpu_up")); got != 8 {
				t.Fatalf("gpu_up sum = %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("init never completed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotSupportedAskedOnce: a NOT_SUPPORTED field is omitted and not asked
// again until RecheckInterval has passed; when it becomes supported it
// reappears.
func TestNotSupportedAskedOnce(t *testing.T) {
	tel := newMutable(noEvents{mockgpu.NewStatic()})
	r := newRig(t, "h100", tel, nil, nil)
	for range 5 {
		fams := r.mustTick()
		if n := len(samples(fams, "DCGM_FI_DEV_FAN_SPEED")); n != 0 {
			t.Fatalf("fan speed emitted %d times", n)
		}
	}
	for i := range 8 {
		if n := len(device(r.srv, i).GetFanSpeedCalls()); n != 1 {
			t.Fatalf("GPU %d: GetFanSpeed called %d times in 5 ticks, want 1", i, n)
		}
	}
	fan := uint32(55)
	tel.set(4, func(s *mockgpu.State) { s.FanPercent = &fan })
	r.clock.Add(DefaultRecheckInterval)
	fams := r.mustTick()
	if got := samples(fams, "DCGM_FI_DEV_FAN_SPEED"); len(got) != 1 || got[0] != 55 {
		t.Fatalf("after re-check: fan speeds %v, want GPU 4 at 55", got)
	}
	for i := range 8 {
		if n := len(device(r.srv, i).GetFanSpeedCalls()); n != 2 {
			t.Fatalf("GPU %d: GetFanSpeed called %d times, want 2", i, n)
		}
	}
}

// TestGPULostMidRun: GPU 2 falls off the bus; its series stop, gpu_up is 0,
// the other GPUs keep reporting, it is logged once, probed once a minute,
// and comes back.
func TestGPULostMidRun(t *testing.T) {
	tel := newMutable(noEvents{mockgpu.NewStatic()})
	r := newRig(t, "h200", tel, nil, nil)
	r.mustTick()
	tel.set(2, func(s *mockgpu.State) { s.Lost = true })
	var probes []int
	for range 5 {
		fams := r.mustTick()
		if got := one(t, fams, "trainwatch_gpu_up", "gpu", "2"); got != 0 {
			t.Fatalf("GPU 2 up = %v", got)
		}
		if n := seriesForGPU(fams, "2"); n != 1 {
			t.Fatalf("GPU 2 has %d series, want only trainwatch_gpu_up", n)
		}
		for _, g := range []string{"0", "1", "3", "7"} {
			if got := one(t, fams, "DCGM_FI_DEV_GPU_UTIL", "gpu", g); got == 0 {
				t.Fatalf("GPU %s stopped reporting", g)
			}
		}
		probes = append(probes, len(device(r.srv, 2).GetUtilizationRatesCalls()))
	}
	if probes[0] != probes[4] {
		t.Fatalf("lost GPU queried every tick: GetUtilizationRates calls %v", probes)
	}
	if n := r.log.Count("GPU is lost"); n != 1 {
		t.Fatalf("loss logged %d times, want once:\n%s", n, r.log)
	}
	tel.set(2, nil)
	r.clock.Add(DefaultInitRetryInterval)
	fams := r.mustTick()
	if got := one(t, fams, "trainwatch_gpu_up", "gpu", "2"); got != 1 {
		t.Fatalf("GPU 2 not back: up = %v", got)
	}
	if n := r.log.Count("GPU answers again"); n != 1 {
		t.Fatalf("recovery logged %d times:\n%s", n, r.log)
	}
}

// TestHangingGPU: a GPU whose calls hang does not hold up the tick, is not
// queried again while its call is stuck, and recovers after.
func TestHangingGPU(t *testing.T) {
	tel := newMutable(noEvents{mockgpu.NewStatic()})
	r := newRig(t, "h200", tel, nil, nil)
	r.mustTick()
	tel.set(5, func(s *mockgpu.State) { s.Hang = 600 * time.Millisecond })
	calls := func() int { return mockgpu.Total(mockgpu.Calls(device(r.srv, 5))) }
	// A call of the first tick may still be finishing on a loaded
	// machine: count from when the count stands still.
	before := calls()
	for settle := time.Now().Add(5 * time.Second); time.Now().Before(settle); {
		time.Sleep(100 * time.Millisecond)
		n := calls()
		if n == before {
			break
		}
		before = n
	}
	for k := range 3 {
		start := time.Now()
		fams, err := r.tick(100 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 150*time.Millisecond {
			t.Fatalf("tick %d took %s; the deadline was 100ms", k, el)
		}
		if got := one(t, fams, "trainwatch_gpu_up", "gpu", "5"); got != 0 {
			t.Fatalf("hung GPU up = %v", got)
		}
		if got := one(t, fams, "trainwatch_gpu_up", "gpu", "4"); got != 1 {
			t.Fatalf("GPU 4 up = %v", got)
		}
		if n := seriesForGPU(fams, "5"); n != 1 {
			t.Fatalf("hung GPU has %d series, want only trainwatch_gpu_up", n)
		}
		// One call started (and stuck) in the first tick; none since.
		if got := calls(); got != before+1 {
			t.Fatalf("tick %d: GPU 5 had %d calls since it hung, want the 1 stuck call", k, got-before)
		}
		r.clock.Add(time.Second)
	}
	tel.set(5, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams, err := r.tick(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if one(t, fams, "trainwatch_gpu_up", "gpu", "5") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("GPU 5 never recovered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := r.log.Count("did not answer in time"); n != 1 {
		t.Fatalf("lateness logged %d times:\n%s", n, r.log)
	}
}

// TestXIDRepeats: every XID event counts, repeats included; the DCGM gauge
// holds the last one.
func TestXIDRepeats(t *testing.T) {
	tel := newMutable(noEvents{mockgpu.NewStatic()})
	r := newRig(t, "h100", tel, nil, nil)
	r.mustTick()
	tel.raise(mockgpu.Event{Index: 1, XID: 13}, mockgpu.Event{Index: 1, XID: 13}, mockgpu.Event{Index: 4, XID: 48},
		mockgpu.Event{Index: 1, XID: 13}, mockgpu.Event{Index: 4, XID: 63})
	r.waitXID(5)
	fams := r.mustTick()
	want := map[[2]string]float64{{"1", "13"}: 3, {"4", "48"}: 1, {"4", "63"}: 1}
	for k, v := range want {
		if got := one(t, fams, "trainwatch_gpu_xid_events_total", "gpu", k[0], "xid", k[1]); got != v {
			t.Errorf("xid %v = %v, want %v", k, got, v)
		}
	}
	if n := len(samples(fams, "trainwatch_gpu_xid_events_total")); n != 3 {
		t.Errorf("%d xid series, want 3", n)
	}
	if got := one(t, fams, "DCGM_FI_DEV_XID_ERRORS", "gpu", "4"); got != 63 {
		t.Errorf("last XID on GPU 4 = %v, want 63", got)
	}
	if got := one(t, fams, "DCGM_FI_DEV_XID_ERRORS", "gpu", "0", "err_code", "0", "err_msg", "No Error"); got != 0 {
		t.Errorf("GPU 0 last XID = %v", got)
	}
}

// TestMIG: GPU instances get their own FB and PROF series with
// GPU_I_PROFILE and GPU_I_ID; whole-GPU series carry them empty.
func TestMIG(t *testing.T) {
	r := newRig(t, "h100", noEvents{mockgpu.NewStatic()}, nil, func(srv *server.Server) {
		d := device(srv, 0)
		d.SetMigMode(nvml.DEVICE_MIG_ENABLE)
		for _, p := range []int{nvml.GPU_INSTANCE_PROFILE_1_SLICE, nvml.GPU_INSTANCE_PROFILE_3_SLICE} {
			info, _ := d.GetGpuInstanceProfileInfo(p)
			d.CreateGpuInstance(&info)
		}
	})
	r.mustTick()
	fams := r.mustTick()
	f := collectorFamily(fams, "DCGM_FI_DEV_FB_USED")
	if f == nil || strings.Join(f.Desc.LabelNames, ",") != strings.Join(dcgmMIGLabels, ",") {
		t.Fatalf("FB_USED labels = %v, want %v", f.Desc.LabelNames, dcgmMIGLabels)
	}
	if n := len(samples(fams, "DCGM_FI_DEV_FB_USED")); n != 10 {
		t.Fatalf("%d FB_USED series, want 8 GPUs + 2 instances", n)
	}
	for _, gi := range []struct{ id, profile string }{{"0", "1g.10gb"}, {"1", "3g.40gb"}} {
		one(t, fams, "DCGM_FI_DEV_FB_TOTAL", "gpu", "0", "GPU_I_ID", gi.id, "GPU_I_PROFILE", gi.profile)
		one(t, fams, "DCGM_FI_PROF_SM_ACTIVE", "gpu", "0", "GPU_I_ID", gi.id, "GPU_I_PROFILE", gi.profile)
	}
	one(t, fams, "DCGM_FI_DEV_GPU_UTIL", "gpu", "0", "GPU_I_ID", "", "GPU_I_PROFILE", "")
}

func collectorFamily(fams []*collector.Family, name string) *collector.Family {
	for _, f := range fams {
		if f.Desc.Name == name {
			return f
		}
	}
	return nil
}

// TestOldLibraryFallbacks: without the newer symbols the backend uses
// GetMemoryInfo (no FB_RESERVED), the throttle-reason calls, and no GPM.
func TestOldLibraryFallbacks(t *testing.T) {
	r := newRig(t, "h200", noEvents{mockgpu.NewStatic()}, nil, func(srv *server.Server) {
		srv.LookupSymbolFunc = func(sym string) error {
			if sym == "nvmlDeviceGetMemoryInfo_v2" || strings.Contains(sym, "ClocksEventReasons") || strings.HasPrefix(sym, "nvmlGpm") {
				return errors.New("undefined symbol")
			}
			return nil
		}
	})
	r.mustTick()
	fams := r.mustTick()
	if n := len(samples(fams, "DCGM_FI_DEV_FB_RESERVED")); n != 0 {
		t.Errorf("FB_RESERVED without GetMemoryInfo_v2")
	}
	st := mockgpu.NewStatic().State(0, r.clock.Now())
	if got, want := one(t, fams, "DCGM_FI_DEV_FB_USED", "gpu", "0"), float64((st.MemUsedBytes+st.MemReservedBytes)>>20); got != want {
		t.Errorf("v1 FB_USED = %v, want %v (used includes reserved)", got, want)
	}
	if n := len(samples(fams, "DCGM_FI_PROF_SM_ACTIVE")); n != 0 {
		t.Errorf("PROF metrics without GPM symbols")
	}
	d := device(r.srv, 0)
	if len(d.GetMemoryInfo_v2Calls()) != 0 || len(d.GetCurrentClocksEventReasonsCalls()) != 0 || len(d.GpmQueryDeviceSupportCalls()) != 0 {
		t.Errorf("newer API called although LookupSymbol says it is missing: %v", mockgpu.Calls(d))
	}
	if one(t, fams, "trainwatch_gpu_clock_event_active", "gpu", "6", "reason", "sw_power_cap") != 1 {
		t.Errorf("throttle-reason fallback not used")
	}
}

// TestProcesses: top-N cut, Describe called once per process, labels.
func TestProcesses(t *testing.T) {
	var mu sync.Mutex
	described := map[int]int{}
	r := newRig(t, "h200", noEvents{mockgpu.NewStatic()}, func(c *Config) {
		c.ProcessTopN = 1
		c.Describe = func(pid int) ProcessLabels {
			mu.Lock() // called from the GPUs' reader goroutines
			described[pid]++
			mu.Unlock()
			return ProcessLabels{Command: fmt.Sprintf("python train_%d.py", pid), User: "alice",
				Container: "trainer", Pod: "llm-0", Namespace: "ml", SlurmJob: "4711"}
		}
	}, nil)
	var fams []*collector.Family
	for range 3 {
		fams = r.mustTick()
	}
	if got := samples(fams, "trainwatch_gpu_process_memory_bytes", "gpu", "0"); len(got) != 1 {
		t.Fatalf("GPU 0 process series: %v, want the top 1", got)
	}
	one(t, fams, "trainwatch_gpu_process_memory_bytes", "gpu", "0", "pid", "4242", "command", "python train_4242.py",
		"user", "alice", "container", "trainer", "pod", "llm-0", "namespace", "ml", "slurm_job", "4711")
	if got := one(t, fams, "trainwatch_gpu_processes", "gpu", "0"); got != 2 {
		t.Fatalf("process count = %v, want 2 (before the cut)", got)
	}
	mu.Lock()
	defer mu.Unlock()
	pids := make([]int, 0, len(described))
	for pid, n := range described {
		if n != 1 {
			t.Errorf("pid %d described %d times, want once", pid, n)
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	if len(pids) != 8 || pids[0] != 4242 {
		t.Errorf("described pids %v", pids)
	}
}

// TestCollectorContract: name, invalid config, Close before use.
func TestCollectorContract(t *testing.T) {
	if _, err := New(mockgpu.NewServer("h100", mockgpu.NewStatic(), nil), Config{DeviceTimeout: -time.Second}); err == nil ||
		!strings.Contains(err.Error(), "device_timeout is -1s") {
		t.Fatalf("err = %v", err)
	}
	c, err := New(mockgpu.NewServer("h100", mockgpu.NewStatic(), nil), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "gpu" {
		t.Fatalf("name %q", c.Name())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseShutsDown: Close stops the event reader, frees the samples and
// the event set, and shuts NVML down once.
func TestCloseShutsDown(t *testing.T) {
	r := newRig(t, "h200", mockgpu.NewStatic(), nil, nil)
	r.mustTick()
	r.mustTick()
	if err := r.c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.srv.ShutdownCalls()); n != 1 {
		t.Fatalf("Shutdown called %d times", n)
	}
	if _, err := r.tick(time.Second); err == nil {
		t.Fatal("Collect after Close succeeded")
	}
	if n := len(r.srv.ShutdownCalls()); n != 1 {
		t.Fatalf("Shutdown called %d times after a Collect on a closed collector", n)
	}
}

// TestNewDemo: the demo constructor serves a mock server through the same
// code; an unknown server kind is an error, not a panic.
func TestNewDemo(t *testing.T) {
	if _, err := NewDemo("v100", mockgpu.NewStatic(), nil, Config{}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	c, err := NewDemo("h100", mockgpu.NewStatic(), nil, Config{DisableEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fams, err := collector.CollectOnce(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum(samples(fams, "trainwatch_gpu_up")); got != 8 {
		t.Fatalf("gpu_up sum %v", got)
	}
}
