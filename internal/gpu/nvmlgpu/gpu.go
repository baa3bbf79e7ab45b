//go:build cgo

package nvmlgpu

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// pending is one sample a GPU's reader produced, emitted by Collect.
type pending struct {
	d *collector.Desc
	v float64
	l []string
}

// gpu is one NVIDIA GPU. Identity and labels are set at discovery and only
// read afterwards. The reader state (below "reader") is touched only by the
// one reader goroutine a GPU has at a time (busy), and by Collect after it
// received the reader's result.
type gpu struct {
	index int
	dev   nvml.Device

	idx, uuid, busID, device, model string
	identErr                        string
	migOn                           bool

	labels, tw, upLabels []string
	reasonLabels         [len(clockEventReasonNames)][]string

	// Collect's view, under mu.
	mu         sync.Mutex
	busy       bool
	busySince  time.Time
	done       chan struct{}
	lost       bool
	late       bool
	lastProbe  time.Time
	lastPanic  string
	everLogged map[string]bool

	// reader
	out        []pending
	res        readResult
	unsup      [numFields]time.Time
	fieldUnsup map[uint32]time.Time
	slowAt     time.Time
	slowOut    []pending
	nvlinks    int
	active     int
	eccOn      bool
	reasons    uint64
	gpm        *gpmState
	migs       []*migDev
	procTs     uint64
	procNames  map[uint32][]string
	procs      []procEntry
	fv         []nvml.FieldValue
	nvPrev     nvlinkSample
}

type readResult struct {
	lost    bool
	lostRet nvml.Return
	panic   string
}

type nvlinkSample struct {
	ok     bool
	tx, rx uint64 // KiB
	at     time.Time
}

type procEntry struct {
	pid      uint32
	mem      uint64
	memKnown bool
}

// migDev is one MIG device (GPU instance) of a GPU in MIG mode.
type migDev struct {
	dev     nvml.Device
	giID    int
	profile string
	labels  []string
	gpm     *gpmState
	seen    bool
}

// field identifies one NVML query for the NOT_SUPPORTED memory.
type field int

const (
	fUtil field = iota
	fEnc
	fDec
	fMemV2
	fMemV1
	fTemp
	fPower
	fEnergy
	fClockSM
	fClockMem
	fClockVideo
	fPcieTx
	fPcieRx
	fPcieGen
	fPcieWidth
	fPcieReplay
	fFan
	fPState
	fClockEvents
	fViol0 // six consecutive: power, thermal, sync boost, board, low util, reliability
	fViol1
	fViol2
	fViol3
	fViol4
	fViol5
	fEccSbeVol
	fEccDbeVol
	fEccSbeAgg
	fEccDbeAgg
	fRemap
	fFieldValues
	fProcCompute
	fProcGraphics
	fProcMPS
	fProcUtil
	fGPM
	fGPMMetrics
	fGPMMig
	fMigMemV2
	fMigMemV1
	// slow
	fMaxSM
	fMaxMem
	fMaxVideo
	fAppSM
	fAppMem
	fTempSlowdown
	fTempShutdown
	fTempMax
	fMaxPcieGen
	fMaxPcieWidth
	fPowerLimit
	fEnforcedLimit
	fSupportedReasons
	fEccMode
	fPersistence
	fRetiredSBE
	fRetiredDBE
	fRetiredPending
	fNvLinkState
	fMigCount
	numFields
)

var violationPolicies = [6]nvml.PerfPolicyType{nvml.PERF_POLICY_POWER, nvml.PERF_POLICY_THERMAL,
	nvml.PERF_POLICY_SYNC_BOOST, nvml.PERF_POLICY_BOARD_LIMIT, nvml.PERF_POLICY_LOW_UTILIZATION,
	nvml.PERF_POLICY_RELIABILITY}

// clockEventReasonNames are the label values of the NVML clock-event
// reason bits 0-10 (docs/gpu.md).
var clockEventReasonNames = [...]string{"gpu_idle", "applications_clocks_setting", "sw_power_cap",
	"hw_slowdown", "sync_boost", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown",
	"display_clock_setting", "board_limit", "reliability"}

const allReasons = 1<<len(clockEventReasonNames) - 1

// nvmlNotAvailable is NVML_VALUE_NOT_AVAILABLE as an unsigned long long.
const nvmlNotAvailable = ^uint64(0)

func cString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// discoverGPU reads GPU i's identity. A GPU that cannot be read is kept,
// reported down, with what could be read.
func (c *Collector) discoverGPU(st *state, i int) *gpu {
	g := &gpu{index: i, idx: strconv.Itoa(i), fieldUnsup: map[uint32]time.Time{},
		procNames: map[uint32][]string{}, everLogged: map[string]bool{}}
	dev, ret := c.lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		g.identErr = "handle: " + ret.Error()
		c.cfg.Logger.Warn("gpu: cannot open GPU", "gpu", i, "err", ret.Error())
		return g
	}
	g.dev = dev
	note := func(what string, ret nvml.Return) bool {
		if ret == nvml.SUCCESS {
			return true
		}
		if ret == nvml.ERROR_GPU_IS_LOST || ret == nvml.ERROR_RESET_REQUIRED {
			g.lost = true
		}
		if g.identErr == "" {
			g.identErr = what + ": " + ret.Error()
		}
		return false
	}
	if v, ret := dev.GetUUID(); note("UUID", ret) {
		g.uuid = v
	}
	if p, ret := dev.GetPciInfo(); note("PCI info", ret) {
		g.busID = cString(p.BusId[:])
	}
	if m, ret := dev.GetMinorNumber(); note("minor number", ret) {
		g.device = "nvidia" + strconv.Itoa(m)
	}
	if v, ret := dev.GetName(); note("name", ret) {
		g.model = v
	}
	if cur, _, ret := dev.GetMigMode(); ret == nvml.SUCCESS && cur == nvml.DEVICE_MIG_ENABLE {
		g.migOn = true
	}
	if st.sym.gpm && !g.lost {
		if sup, ret := dev.GpmQueryDeviceSupport(); ret == nvml.SUCCESS && sup.IsSupportedDevice != 0 {
			g.gpm = c.newGPM()
		}
	}
	if g.lost {
		c.cfg.Logger.Warn("gpu: GPU is lost (fallen off the bus or needs a reset)", "gpu", i, "err", g.identErr)
	}
	return g
}

func (g *gpu) setLabels(st *state, c *Collector) {
	host, drv := c.cfg.Hostname, st.driver
	if st.mig {
		g.labels = []string{g.idx, g.uuid, g.busID, g.device, g.model, "", "", host, drv}
	} else {
		g.labels = []string{g.idx, g.uuid, g.busID, g.device, g.model, host, drv}
	}
	g.tw = []string{g.idx, g.uuid}
	g.upLabels = []string{g.idx, g.uuid, g.busID, g.device, g.model, host}
	for b, name := range clockEventReasonNames {
		g.reasonLabels[b] = []string{g.idx, g.uuid, name}
	}
}

func (g *gpu) migLabels(st *state, c *Collector, profile string, giID int) []string {
	return []string{g.idx, g.uuid, g.busID, g.device, g.model, profile, strconv.Itoa(giID), c.cfg.Hostname, st.driver}
}

// start marks the GPU busy for a new read, unless a read is still running
// (a stuck call) or the GPU is lost and was probed less than
// InitRetryInterval ago.
func (g *gpu) start(c *Collector, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy || g.dev == nil {
		return false
	}
	if g.lost {
		if !g.lastProbe.IsZero() && now.Sub(g.lastProbe) < c.cfg.InitRetryInterval {
			return false
		}
		g.lastProbe = now
	}
	g.busy = true
	g.busySince = time.Now()
	g.done = make(chan struct{})
	return true
}

// waitIdle waits until no read runs or the deadline passes.
func (g *gpu) waitIdle(deadline time.Time) bool {
	g.mu.Lock()
	busy, done := g.busy, g.done
	g.mu.Unlock()
	if !busy {
		return true
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// finish records how the GPU's read went this tick and logs changes once.
// It reports whether the GPU's samples are to be emitted.
func (g *gpu) finish(c *Collector, inTime bool, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	log := c.cfg.Logger
	if inTime {
		r := g.res
		switch {
		case r.lost:
			if !g.lost {
				log.Warn("gpu: GPU is lost (fallen off the bus or needs a reset); its series stop, the other GPUs keep reporting",
					"gpu", g.index, "uuid", g.uuid, "err", r.lostRet.Error())
				g.lastProbe = now
			}
			g.lost, g.late = true, false
			return false
		case r.panic != "":
			if r.panic != g.lastPanic {
				log.Error("gpu: reading the GPU panicked", "gpu", g.index, "uuid", g.uuid, "panic", r.panic)
				g.lastPanic = r.panic
			}
			return false
		}
		if g.lost {
			log.Info("gpu: GPU answers again", "gpu", g.index, "uuid", g.uuid)
		}
		if g.late {
			log.Info("gpu: GPU answers in time again", "gpu", g.index, "uuid", g.uuid)
		}
		g.lost, g.late, g.lastPanic = false, false, ""
		return true
	}
	if g.dev == nil || (g.lost && !g.busy) {
		return false
	}
	if !g.late {
		log.Warn("gpu: GPU did not answer in time; serving nothing new for it and not asking it again until its call returns",
			"gpu", g.index, "uuid", g.uuid, "waiting_for", time.Since(g.busySince).Round(time.Millisecond))
		g.late = true
	}
	return false
}

// lostPanic carries ERROR_GPU_IS_LOST out of a read.
type lostPanic struct{ ret nvml.Return }

// read reads the GPU once (in its own goroutine) and reports on results.
func (g *gpu) read(c *Collector, st *state, now time.Time, results chan<- *gpu) {
	g.out = g.out[:0]
	g.res = readResult{}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if lp, ok := p.(lostPanic); ok {
					g.res.lost, g.res.lostRet = true, lp.ret
					return
				}
				g.res.panic = fmt.Sprint(p)
			}
		}()
		r := &reader{c: c, st: st, g: g, d: st.d, now: now, dev: g.dev}
		r.run()
	}()
	g.mu.Lock()
	g.busy = false
	close(g.done)
	g.mu.Unlock()
	results <- g
}

func (g *gpu) freeSamples() {
	if g.gpm != nil {
		g.gpm.free()
	}
	for _, m := range g.migs {
		if m.gpm != nil {
			m.gpm.free()
		}
	}
}

// reader reads one GPU for one tick.
type reader struct {
	c   *Collector
	st  *state
	g   *gpu
	d   *descs
	dev nvml.Device
	now time.Time
}

// want reports whether field f is to be asked: not NOT_SUPPORTED within
// the last RecheckInterval.
func (r *reader) want(f field) bool {
	t := r.g.unsup[f]
	return t.IsZero() || r.now.Sub(t) >= r.c.cfg.RecheckInterval
}

// ok handles an NVML return: true on success; NOT_SUPPORTED (and the like)
// is remembered for f; a lost GPU ends the read.
func (r *reader) ok(f field, ret nvml.Return) bool {
	switch ret {
	case nvml.SUCCESS:
		r.g.unsup[f] = time.Time{}
		return true
	case nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_FUNCTION_NOT_FOUND, nvml.ERROR_NO_PERMISSION:
		if r.g.unsup[f].IsZero() {
			r.c.cfg.Logger.Debug("gpu: field not supported; asking again later", "gpu", r.g.index, "field", int(f),
				"err", ret.Error(), "recheck", r.c.cfg.RecheckInterval)
		}
		r.g.unsup[f] = r.now
	case nvml.ERROR_GPU_IS_LOST, nvml.ERROR_RESET_REQUIRED:
		panic(lostPanic{ret})
	default:
		r.c.cfg.Logger.Debug("gpu: NVML call failed", "gpu", r.g.index, "field", int(f), "err", ret.Error())
	}
	return false
}

func (r *reader) emit(d *collector.Desc, v float64) {
	r.g.out = append(r.g.out, pending{d, v, r.g.labels})
}

func (r *reader) emitL(d *collector.Desc, v float64, l []string) {
	r.g.out = append(r.g.out, pending{d, v, l})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

const mib = 1 << 20

func (r *reader) run() {
	g, d, dev := r.g, r.d, r.dev
	if g.slowAt.IsZero() || r.now.Sub(g.slowAt) >= r.c.cfg.SlowInterval {
		r.slow()
		g.slowAt = r.now
	}
	g.out = append(g.out, g.slowOut...)

	if r.want(fUtil) {
		u, ret := dev.GetUtilizationRates()
		if r.ok(fUtil, ret) {
			r.emit(d.gpuUtil, float64(u.Gpu))
			r.emit(d.memCopyUtil, float64(u.Memory))
		}
	}
	if r.want(fEnc) {
		v, _, ret := dev.GetEncoderUtilization()
		if r.ok(fEnc, ret) {
			r.emit(d.encUtil, float64(v))
		}
	}
	if r.want(fDec) {
		v, _, ret := dev.GetDecoderUtilization()
		if r.ok(fDec, ret) {
			r.emit(d.decUtil, float64(v))
		}
	}
	r.memory(dev, g.labels, fMemV2, fMemV1)
	if r.st.sym.temperature && r.want(fTemp) {
		v, ret := dev.GetTemperature(nvml.TEMPERATURE_GPU)
		if r.ok(fTemp, ret) {
			r.emit(d.gpuTemp, float64(v))
		}
	}
	if r.want(fPower) {
		v, ret := dev.GetPowerUsage()
		if r.ok(fPower, ret) {
			r.emit(d.power, float64(v)/1000)
		}
	}
	if r.want(fEnergy) {
		v, ret := dev.GetTotalEnergyConsumption()
		if r.ok(fEnergy, ret) {
			r.emit(d.energy, float64(v))
		}
	}
	r.clock(fClockSM, nvml.CLOCK_SM, d.smClock)
	r.clock(fClockMem, nvml.CLOCK_MEM, d.memClock)
	r.clock(fClockVideo, nvml.CLOCK_VIDEO, d.videoClock)
	if r.want(fPcieTx) {
		v, ret := dev.GetPcieThroughput(nvml.PCIE_UTIL_TX_BYTES)
		if r.ok(fPcieTx, ret) {
			r.emit(d.pcieTx, float64(v))
		}
	}
	if r.want(fPcieRx) {
		v, ret := dev.GetPcieThroughput(nvml.PCIE_UTIL_RX_BYTES)
		if r.ok(fPcieRx, ret) {
			r.emit(d.pcieRx, float64(v))
		}
	}
	r.intField(fPcieGen, dev.GetCurrPcieLinkGeneration, d.pcieGen)
	r.intField(fPcieWidth, dev.GetCurrPcieLinkWidth, d.pcieWidth)
	r.intField(fPcieReplay, dev.GetPcieReplayCounter, d.pcieReplay)
	if r.want(fFan) {
		v, ret := dev.GetFanSpeed()
		if r.ok(fFan, ret) {
			r.emit(d.fan, float64(v))
		}
	}
	if r.want(fPState) {
		v, ret := dev.GetPerformanceState()
		if r.ok(fPState, ret) && v != nvml.PSTATE_UNKNOWN {
			r.emit(d.pstate, float64(v))
		}
	}
	r.clockEvents()
	if r.st.sym.violation {
		for k, p := range violationPolicies {
			f := fViol0 + field(k)
			if !r.want(f) {
				continue
			}
			v, ret := dev.GetViolationStatus(p)
			if r.ok(f, ret) {
				r.emit(d.violation[k], float64(v.ViolationTime))
			}
		}
	}
	if g.eccOn {
		r.ecc(fEccSbeVol, nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC, d.eccSbeVol)
		r.ecc(fEccDbeVol, nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC, d.eccDbeVol)
		r.ecc(fEccSbeAgg, nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.AGGREGATE_ECC, d.eccSbeAgg)
		r.ecc(fEccDbeAgg, nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.AGGREGATE_ECC, d.eccDbeAgg)
	}
	if r.want(fRemap) {
		cor, unc, pending, failed, ret := dev.GetRemappedRows()
		if r.ok(fRemap, ret) {
			r.emit(d.remapCor, float64(cor))
			r.emit(d.remapUnc, float64(unc))
			r.emit(d.remapFailure, b2f(failed))
			r.emit(d.remapPending, b2f(pending))
		}
	}
	r.fieldValues()
	r.processes()
	if g.gpm != nil {
		r.gpmRead(g.gpm, fGPM, dev.GpmSampleGet, g.labels)
	}
	for _, m := range g.migs {
		r.memory(m.dev, m.labels, fMigMemV2, fMigMemV1)
		if m.gpm != nil {
			gi := m.giID
			r.gpmRead(m.gpm, fGPMMig, func(s nvml.GpmSample) nvml.Return { return dev.GpmMigSampleGet(gi, s) }, m.labels)
		}
	}
}

func (r *reader) clock(f field, t nvml.ClockType, d *collector.Desc) {
	if !r.want(f) {
		return
	}
	v, ret := r.dev.GetClockInfo(t)
	if r.ok(f, ret) {
		r.emit(d, float64(v))
	}
}

func (r *reader) intField(f field, get func() (int, nvml.Return), d *collector.Desc) {
	if !r.want(f) {
		return
	}
	v, ret := get()
	if r.ok(f, ret) {
		r.emit(d, float64(v))
	}
}

func (r *reader) ecc(f field, t nvml.MemoryErrorType, c nvml.EccCounterType, d *collector.Desc) {
	if !r.want(f) {
		return
	}
	v, ret := r.dev.GetTotalEccErrors(t, c)
	if r.ok(f, ret) {
		r.emit(d, float64(v))
	}
}

// memory emits FB_TOTAL, FB_FREE, FB_USED and FB_RESERVED in MiB, from
// GetMemoryInfo_v2 (used excludes reserved) when the library has it, else
// from GetMemoryInfo (used includes reserved; no FB_RESERVED).
func (r *reader) memory(dev nvml.Device, l []string, fv2, fv1 field) {
	d := r.d
	if r.st.sym.memoryV2 && r.want(fv2) {
		m, ret := dev.GetMemoryInfo_v2()
		if r.ok(fv2, ret) {
			r.emitL(d.fbTotal, float64(m.Total/mib), l)
			r.emitL(d.fbFree, float64(m.Free/mib), l)
			r.emitL(d.fbUsed, float64(m.Used/mib), l)
			r.emitL(d.fbReserved, float64(m.Reserved/mib), l)
			return
		}
	}
	if r.want(fv1) {
		m, ret := dev.GetMemoryInfo()
		if r.ok(fv1, ret) {
			r.emitL(d.fbTotal, float64(m.Total/mib), l)
			r.emitL(d.fbFree, float64(m.Free/mib), l)
			r.emitL(d.fbUsed, float64(m.Used/mib), l)
		}
	}
}

func (r *reader) clockEvents() {
	g, d := r.g, r.d
	if !r.want(fClockEvents) {
		return
	}
	var mask uint64
	var ret nvml.Return
	if r.st.sym.clockEvents {
		mask, ret = r.dev.GetCurrentClocksEventReasons()
	} else {
		mask, ret = r.dev.GetCurrentClocksThrottleReasons()
	}
	if !r.ok(fClockEvents, ret) {
		return
	}
	r.emit(d.throttleReasons, float64(mask))
	r.emitL(d.clockEventReasons, float64(mask), g.tw)
	for b := range clockEventReasonNames {
		bit := uint64(1) << b
		if g.reasons&bit != 0 {
			r.emitL(d.clockEventActive, b2f(mask&bit != 0), g.reasonLabels[b])
		}
	}
}

// slow re-reads the near-static values into g.slowOut.
func (r *reader) slow() {
	g, d, dev := r.g, r.d, r.dev
	out := g.out
	g.out = g.slowOut[:0]
	defer func() { g.slowOut, g.out = g.out, out }()

	maxClock := func(f field, t nvml.ClockType, desc *collector.Desc) {
		if r.want(f) {
			v, ret := dev.GetMaxClockInfo(t)
			if r.ok(f, ret) {
				r.emit(desc, float64(v))
			}
		}
	}
	maxClock(fMaxSM, nvml.CLOCK_SM, d.maxSMClock)
	maxClock(fMaxMem, nvml.CLOCK_MEM, d.maxMemClock)
	maxClock(fMaxVideo, nvml.CLOCK_VIDEO, d.maxVidClk)
	if r.st.sym.appClocks {
		appClock := func(f field, t nvml.ClockType, desc *collector.Desc) {
			if r.want(f) {
				v, ret := dev.GetApplicationsClock(t)
				if r.ok(f, ret) {
					r.emit(desc, float64(v))
				}
			}
		}
		appClock(fAppSM, nvml.CLOCK_SM, d.appSMClock)
		appClock(fAppMem, nvml.CLOCK_MEM, d.appMemClock)
	}
	threshold := func(f field, t nvml.TemperatureThresholds, desc *collector.Desc) {
		if r.want(f) {
			v, ret := dev.GetTemperatureThreshold(t)
			if r.ok(f, ret) {
				r.emit(desc, float64(v))
			}
		}
	}
	threshold(fTempSlowdown, nvml.TEMPERATURE_THRESHOLD_SLOWDOWN, d.slowdownTemp)
	threshold(fTempShutdown, nvml.TEMPERATURE_THRESHOLD_SHUTDOWN, d.shutdownTemp)
	threshold(fTempMax, nvml.TEMPERATURE_THRESHOLD_GPU_MAX, d.maxTemp)
	r.intField(fMaxPcieGen, dev.GetMaxPcieLinkGeneration, d.pcieMaxGen)
	r.intField(fMaxPcieWidth, dev.GetMaxPcieLinkWidth, d.pcieMaxWidth)
	limit := func(f field, get func() (uint32, nvml.Return), desc *collector.Desc) {
		if r.want(f) {
			v, ret := get()
			if r.ok(f, ret) {
				r.emit(desc, float64(v)/1000)
			}
		}
	}
	limit(fPowerLimit, dev.GetPowerManagementLimit, d.powerLimit)
	limit(fEnforcedLimit, dev.GetEnforcedPowerLimit, d.enforcedLimit)

	g.reasons = allReasons
	if r.want(fSupportedReasons) {
		var mask uint64
		var ret nvml.Return
		if r.st.sym.clockEvents {
			mask, ret = dev.GetSupportedClocksEventReasons()
		} else {
			mask, ret = dev.GetSupportedClocksThrottleReasons()
		}
		if r.ok(fSupportedReasons, ret) {
			g.reasons = mask & allReasons
		}
	}
	g.eccOn = false
	if r.want(fEccMode) {
		cur, _, ret := dev.GetEccMode()
		g.eccOn = r.ok(fEccMode, ret) && cur == nvml.FEATURE_ENABLED
	}
	if r.want(fPersistence) {
		v, ret := dev.GetPersistenceMode()
		if r.ok(fPersistence, ret) {
			r.emitL(d.persistence, b2f(v == nvml.FEATURE_ENABLED), g.tw)
		}
	}
	retired := func(f field, cause nvml.PageRetirementCause, desc *collector.Desc) {
		if r.want(f) {
			pages, ret := dev.GetRetiredPages(cause)
			if r.ok(f, ret) {
				r.emit(desc, float64(len(pages)))
			}
		}
	}
	retired(fRetiredSBE, nvml.PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS, d.retiredSbe)
	retired(fRetiredDBE, nvml.PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, d.retiredDbe)
	if r.want(fRetiredPending) {
		v, ret := dev.GetRetiredPagesPendingStatus()
		if r.ok(fRetiredPending, ret) {
			r.emit(d.retiredPend, b2f(v == nvml.FEATURE_ENABLED))
		}
	}
	r.nvlinkStates()
	if len(g.identErr) == 0 && g.migOn {
		r.migDevices()
	}
}

// nvlinkStates counts the GPU's NVLinks and the active ones.
func (r *reader) nvlinkStates() {
	g := r.g
	g.nvlinks, g.active = 0, 0
	if !r.want(fNvLinkState) {
		return
	}
	for l := 0; l < nvml.NVLINK_MAX_LINKS; l++ {
		s, ret := r.dev.GetNvLinkState(l)
		if ret != nvml.SUCCESS {
			if l == 0 {
				r.ok(fNvLinkState, ret)
			} else if ret == nvml.ERROR_GPU_IS_LOST {
				r.ok(fNvLinkState, ret)
			}
			break
		}
		g.nvlinks++
		if s == nvml.FEATURE_ENABLED {
			g.active++
		}
	}
	if g.nvlinks > 0 {
		r.emitL(r.d.nvlinkActive, float64(g.active), g.tw)
	}
}

// migDevices refreshes the GPU's list of MIG devices.
func (r *reader) migDevices() {
	g := r.g
	if !r.want(fMigCount) {
		return
	}
	n, ret := r.dev.GetMaxMigDeviceCount()
	if !r.ok(fMigCount, ret) {
		return
	}
	for _, m := range g.migs {
		m.seen = false
	}
	for k := 0; k < n; k++ {
		md, ret := r.dev.GetMigDeviceHandleByIndex(k)
		if ret == nvml.ERROR_GPU_IS_LOST {
			r.ok(fMigCount, ret)
		}
		if ret != nvml.SUCCESS {
			continue
		}
		gi, ret := md.GetGpuInstanceId()
		if ret != nvml.SUCCESS {
			continue
		}
		var m *migDev
		for _, x := range g.migs {
			if x.giID == gi {
				m = x
			}
		}
		if m == nil {
			name, _ := md.GetName()
			m = &migDev{giID: gi, profile: migProfile(name)}
			m.labels = g.migLabels(r.st, r.c, m.profile, gi)
			if g.gpm != nil && r.st.sym.gpmMig {
				m.gpm = r.c.newGPM()
			}
			g.migs = append(g.migs, m)
		}
		m.dev, m.seen = md, true
	}
	kept := g.migs[:0]
	for _, m := range g.migs {
		if m.seen {
			kept = append(kept, m)
		} else if m.gpm != nil {
			m.gpm.free()
		}
	}
	g.migs = kept
}

// migProfile extracts the GPU instance profile ("1g.10gb") from a MIG
// device's name ("NVIDIA H100 80GB HBM3 MIG 1g.10gb").
func migProfile(name string) string {
	if i := strings.LastIndex(name, "MIG "); i >= 0 {
		return strings.TrimSpace(name[i+len("MIG "):])
	}
	return ""
}

// xidMessage is a short description of common XID codes, for the err_msg
// label of DCGM_FI_DEV_XID_ERRORS (docs.nvidia.com/deploy/xid-errors).
func xidMessage(xid uint64) string {
	switch xid {
	case 0:
		return "No Error"
	case 13:
		return "Graphics engine exception"
	case 31:
		return "GPU memory page fault"
	case 43:
		return "GPU stopped processing"
	case 45:
		return "Preemptive cleanup after an earlier error"
	case 48:
		return "Double-bit ECC error"
	case 61, 62:
		return "Internal micro-controller error"
	case 63:
		return "ECC page retirement or row remapping event"
	case 64:
		return "ECC page retirement or row remapping failure"
	case 68:
		return "Video processor exception"
	case 69:
		return "Graphics engine class error"
	case 74:
		return "NVLink error"
	case 79:
		return "GPU has fallen off the bus"
	case 92:
		return "High single-bit ECC error rate"
	case 94:
		return "Contained ECC error"
	case 95:
		return "Uncontained ECC error"
	case 119, 120:
		return "GSP error"
	}
	return "See docs.nvidia.com/deploy/xid-errors"
}
