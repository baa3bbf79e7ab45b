package mockgpu

import (
	"sync"
	"time"
)

// StaticEpoch is the time Static's cumulative counters (energy, NVLink
// bytes, violation time) count from: they grow at a fixed rate after it, so
// two readings a second apart differ as on a busy machine.
var StaticEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Static is a Telemetry with fixed, plausible readings for an 8-GPU H100 or
// H200 training machine, different per GPU, for tests, golden files and
// demos:
//
//   - every GPU is busy (91-98 % utilisation), ECC on, persistence on, no fan
//     (passively cooled: FanPercent nil), NVLink 18 links active, GPM
//     supported, retired pages not supported (Hopper remaps rows instead);
//   - GPU 0 runs two processes (PIDs 4242 and 4243), GPUs 1-7 one each
//     (PID 4300+index);
//   - GPU 6 is power capped: sw_power_cap is its one active clock-event
//     reason, and its power violation time grows;
//   - XID 79 on GPU 3 is delivered once, by the first Events call.
//
// Readings depend only on the index and on the time (counters grow from
// StaticEpoch), so a test with a fixed clock gets the same values on every
// run. Use NewStatic; Static is safe for concurrent use.
type Static struct {
	mu        sync.Mutex
	delivered bool
	cache     [8]struct {
		at time.Time
		st State
	}
}

// NewStatic returns a Static telemetry whose XID event is still to come.
func NewStatic() *Static { return &Static{} }

// Events returns XID 79 on GPU 3 on the first call, then nothing.
func (s *Static) Events(time.Time) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delivered {
		return nil
	}
	s.delivered = true
	return []Event{{Index: 3, XID: 79}}
}

// State returns GPU index's readings at now. Indexes from 8 on repeat
// 0-7's readings. The slices of the result are shared between calls: do
// not modify their elements.
func (s *Static) State(index int, now time.Time) State {
	i := index % 8
	if i < 0 {
		i += 8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := &s.cache[i]; c.at.Equal(now) && !now.IsZero() {
		return c.st
	}
	st := staticState(i, now)
	s.cache[i].at, s.cache[i].st = now, st
	return st
}

func staticState(i int, now time.Time) State {
	secs := now.Sub(StaticEpoch).Seconds()
	if secs < 0 {
		secs = 0
	}
	grow := func(base, perSecond float64) uint64 { return uint64(base + perSecond*secs) }
	u := func(v uint32) *uint32 { return &v }
	const mib = 1 << 20

	st := State{
		NotSupported: []string{"GetRetiredPages", "GetRetiredPagesPendingStatus"},

		GPUUtil: uint32(91 + i),
		MemUtil: uint32(38 + 2*i),

		MemReservedBytes: 636 * mib,
		MemUsedBytes:     uint64(61000+1500*i) * mib,

		TempGPU:      uint32(58 + 2*i),
		TempMemory:   u(uint32(66 + 2*i)),
		TempSlowdown: 90,
		TempShutdown: 92,
		TempGPUMax:   87,

		PowerMilliwatts:      uint32(612000 + 9000*i),
		PowerLimitMilliwatts: 700000,

		ClockSM: uint32(1980 - 15*i), ClockMem: 2619, ClockGraphics: uint32(1980 - 15*i), ClockVideo: 1755,
		MaxClockSM: 1980, MaxClockMem: 2619, MaxClockGraphics: 1980, MaxClockVideo: 1755,
		AppClockSM: 1980, AppClockMem: 2619,

		PCIeTxKBps: uint32(1200000 + 25000*i), PCIeRxKBps: uint32(3400000 + 50000*i),
		PCIeGen: 5, PCIeWidth: 16, PCIeMaxGen: 5, PCIeMaxWidth: 16,
		PCIeReplays: i,

		PState:          0,
		PersistenceMode: true,

		SupportedClockEventReasons: 0x1ff,

		ECCEnabled:            true,
		ECCCorrectedVolatile:  uint64(i),
		ECCCorrectedAggregate: uint64(12 + i),

		RemappedCorrectable: i % 3,

		GPMSupported:   true,
		SMActive:       float64(72 + 2*i),
		SMOccupancy:    float64(41 + i),
		TensorActive:   float64(48 + 3*i),
		DRAMActive:     float64(55 + i),
		GraphicsActive: float64(91 + i),
		FP64Active:     0,
		FP32Active:     float64(9 + i),
		FP16Active:     float64(4 + i),
	}
	// Power is consumed at the current rate since the epoch, from a base.
	st.EnergyMillijoules = grow(float64(1e9+1e8*float64(i)), float64(st.PowerMilliwatts))
	st.ThermalViolationNs = uint64(1000 * i)
	st.PowerViolationNs = uint64(50000 * i)
	if i == 6 {
		st.ClockEventReasons = 0x4 // sw_power_cap
		st.PowerViolationNs = grow(3e9, 2.5e8)
	}
	st.NVLinks = make([]NVLink, 18)
	for l := range st.NVLinks {
		rate := float64(18+i) * 1e9 / 18 // bytes/s per link and direction
		st.NVLinks[l] = NVLink{Active: true, TxBytes: grow(1e12, rate), RxBytes: grow(1e12, rate*0.98)}
	}
	st.NVLinks[0].Replay = uint64(i)
	if i == 5 {
		st.NVLinks[3].CRCFlit = 2
	}
	if i == 0 {
		st.Processes = []Process{
			{PID: 4242, UsedMemoryBytes: 48000 * mib, SMUtil: 83, MemUtil: 36},
			{PID: 4243, UsedMemoryBytes: 12400 * mib, SMUtil: 7, MemUtil: 2},
		}
	} else {
		st.Processes = []Process{{PID: uint32(4300 + i), UsedMemoryBytes: st.MemUsedBytes - 900*mib,
			SMUtil: uint32(88 + i), MemUtil: uint32(36 + 2*i)}}
	}
	return st
}
