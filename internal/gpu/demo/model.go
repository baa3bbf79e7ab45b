package demo

import (
	"math"
	"math/bits"
	"time"

	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
)

// Workload timing in ticks (seconds).
const (
	evalPeriod     = int64(EvalPeriod / time.Second)
	evalLength     = int64(EvalLength / time.Second)
	throttleWindow = int64(ThrottleWindow / time.Second)
	throttleLength = int64(ThrottleLength / time.Second)
	xidWindow      = int64(XIDWindow / time.Second)

	mib = 1 << 20
	gib = 1 << 30

	// idleUsedBytes is what the driver's context takes on every GPU.
	idleUsedBytes = 512 * mib

	// thermalAlpha is the per-second gain of the first-order lag from power
	// to temperature (time constant ≈ 45 s), thermalGain the steady-state
	// rise in °C per watt.
	thermalAlpha = 1.0 / 45
	thermalGain  = 0.068
)

// Hash channels: each independent random quantity has its own.
const (
	chJob uint64 = iota + 1
	chGPU
	chUtil
	chMemUtil
	chPower
	chClock
	chNVLink
	chNVRx
	chPCIeTx
	chPCIeRx
	chECC
	chBurst
	chHBM
	chGPM
	chThrottleGPU
	chThrottleOff
	chXIDGPU
	chXIDOff
	chXIDCode
	chInferMem
)

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// u returns a uniform number in [0, 1) determined by the seed, a channel, a
// GPU index and a tick (or any other integer).
func (t *Telemetry) u(ch uint64, i int, k int64) float64 {
	h := mix(t.seed ^ ch*0xd1b54a32d192ed03)
	h = mix(h ^ uint64(i)*0x8cb92ba72f3d8dd7)
	h = mix(h ^ uint64(k))
	return float64(h>>11) / (1 << 53)
}

// gpuParams are one GPU's fixed, seed-derived parameters.
type gpuParams struct {
	role    Role
	ambient float64 // °C the GPU settles to at zero power
	pid     uint32  // its process, 0 if none
	// memTarget is the training rank's final memory; memStart what it
	// has at start.
	memTarget, memStart uint64
	// linkW weighs each NVLink's share of the traffic, in 1/2^20.
	linkW [NumNVLinks]uint64
	// eccAggBase counts corrected errors from before the driver was loaded.
	eccAggBase uint64
	acc0       acc
}

func (t *Telemetry) newGPUParams(i int, uptime int64) gpuParams {
	p := gpuParams{role: RoleOf(i), ambient: 27 + 3*t.u(chGPU, i, 0)}
	var avgW, nvRate float64 // past average power and NVLink rate per second
	switch p.role {
	case RoleTraining:
		p.pid = t.launcherPID + 17 + uint32(i)*3
		p.memTarget = roundMiB2(110*gib + uint64(t.u(chGPU, i, 1)*15*gib))
		p.memStart = p.memTarget - 8*gib
		avgW, nvRate = 430, 70e9
		p.acc0.filt = 600
	case RoleInference:
		p.pid = t.inferencePID
		avgW, nvRate = 210, 0
		p.acc0.filt = 230
	default:
		avgW, nvRate = 70, 0
		p.acc0.filt = 70
	}
	for l := range p.linkW {
		p.linkW[l] = uint64((1 << 20) / NumNVLinks * (0.97 + 0.06*t.u(chGPU, i, 100+int64(l))))
	}
	p.acc0.energy = uint64(float64(uptime) * avgW * 1000 * (0.95 + 0.1*t.u(chGPU, i, 2)))
	p.acc0.nvTx = uint64(float64(uptime) * nvRate * (0.95 + 0.1*t.u(chGPU, i, 3)))
	p.acc0.nvRx = p.acc0.nvTx - p.acc0.nvTx/200
	if i == ECCGPU {
		p.acc0.ecc = 3 + uint64(t.u(chGPU, i, 4)*10)
		p.eccAggBase = 20 + uint64(t.u(chGPU, i, 5)*30)
	}
	return p
}

func roundMiB2(b uint64) uint64 { return b &^ (2*mib - 1) }

// tickVals are a GPU's readings during one whole second.
type tickVals struct {
	util, memUtil  float64 // percent
	powerMW        uint32
	clockSM        uint32
	throttled      bool
	idle           bool   // no work: gpu_idle clock reason
	nvTx, nvRx     uint64 // NVLink bytes this second, all links
	pcieTx, pcieRx uint32 // KB/s
	eccNew         uint64 // corrected ECC errors this second
}

// inEval reports whether tick k falls in an evaluation phase.
func (t *Telemetry) inEval(k int64) bool {
	return t.evalPos(k) < evalLength
}

// evalPos is k's position in the evaluation cycle (0: an evaluation starts).
func (t *Telemetry) evalPos(k int64) int64 {
	return ((k-t.evalPhase)%evalPeriod + evalPeriod) % evalPeriod
}

// throttleAt returns the GPU and first tick of window w's power-cap episode.
// It never overlaps an evaluation phase.
func (t *Telemetry) throttleAt(w int64) (gpu int, start int64) {
	gpu = int(t.u(chThrottleGPU, 0, w) * TrainingGPUs)
	start = w*throttleWindow + int64(t.u(chThrottleOff, 0, w)*float64(throttleWindow-throttleLength))
	switch e := t.evalPos(start); {
	case e < evalLength:
		start += evalLength - e + 2
	case e > evalPeriod-throttleLength:
		start += evalPeriod - e + evalLength + 2
	}
	return gpu, start
}

// throttled reports whether GPU i is power-capped during tick k.
func (t *Telemetry) throttled(i int, k int64) bool {
	w := k / throttleWindow
	for _, v := range [2]int64{w, w - 1} {
		if v < 0 {
			continue
		}
		if g, s := t.throttleAt(v); g == i && k >= s && k < s+throttleLength {
			return true
		}
	}
	return false
}

// xidAt returns the tick, GPU and code of window w's XID.
func (t *Telemetry) xidAt(w int64) (k int64, gpu int, xid uint64) {
	k = w*xidWindow + int64(t.u(chXIDOff, 0, w)*float64(xidWindow))
	gpu = int(t.u(chXIDGPU, 0, w) * TrainingGPUs)
	xid = 13
	if t.u(chXIDCode, 0, w) < 0.5 {
		xid = 31
	}
	return k, gpu, xid
}

// tick computes GPU i's readings during second k; a pure function.
func (t *Telemetry) tick(i int, k int64) tickVals {
	switch t.gpus[i].role {
	case RoleTraining:
		return t.trainingTick(i, k)
	case RoleInference:
		return t.inferenceTick(i, k)
	}
	return t.idleTick(i, k)
}

func (t *Telemetry) trainingTick(i int, k int64) tickVals {
	var v tickVals
	r := func(ch uint64) float64 { return t.u(ch, i, k) }
	v.throttled = t.throttled(i, k)
	var powerW float64
	switch {
	case v.throttled:
		// A heavy phase on this rank: it runs into the power cap.
		v.util = 95 + 4*r(chUtil)
		v.memUtil = v.util*0.42 + 6*(r(chMemUtil)-0.5)
		v.clockSM = 1755 + 15*uint32(r(chClock)*7)
		v.powerMW = PowerLimitMilliwatts - uint32(r(chPower)*800)
		v.nvTx = uint64(v.util / 100 * 160e9 * (0.95 + 0.1*r(chNVLink)))
		v.pcieRx = 40_000 + uint32(210_000*r(chPCIeRx))
		v.pcieTx = 20_000 + uint32(100_000*r(chPCIeTx))
	case t.inEval(k):
		v.util = 26 + 8*r(chUtil)
		v.memUtil = 10 + 5*r(chMemUtil)
		v.clockSM = MaxClockSM
		powerW = 320 + 60*r(chPower)
		v.nvTx = uint64(1.5e9 * (0.8 + 0.4*r(chNVLink)))
		v.pcieRx = 1_000_000 + uint32(2_000_000*r(chPCIeRx))
		v.pcieTx = 30_000 + uint32(50_000*r(chPCIeTx))
	case (k+t.stepPhase)%t.stepPeriod == 0:
		// Waiting for the data loader.
		v.util = 58 + 17*r(chUtil)
		v.memUtil = 18 + 8*r(chMemUtil)
		v.clockSM = MaxClockSM
		powerW = 450 + 70*r(chPower)
		v.nvTx = uint64(25e9 * (0.8 + 0.4*r(chNVLink)))
		v.pcieRx = 3_000_000 + uint32(6_000_000*r(chPCIeRx))
		v.pcieTx = 40_000 + uint32(80_000*r(chPCIeTx))
	default:
		// Forward, backward and all-reduce.
		v.util = 88 + 11*r(chUtil)
		v.memUtil = v.util*0.42 + 6*(r(chMemUtil)-0.5)
		v.clockSM = MaxClockSM - 15*uint32(r(chClock)*4)
		powerW = clamp(560+(v.util-88)/11*110+15*(r(chPower)-0.5), 450, 690)
		v.nvTx = uint64(v.util / 100 * 160e9 * (0.95 + 0.1*r(chNVLink)))
		v.pcieRx = 40_000 + uint32(210_000*r(chPCIeRx))
		v.pcieTx = 20_000 + uint32(100_000*r(chPCIeTx))
	}
	if !v.throttled {
		v.powerMW = uint32(powerW * 1000)
	}
	v.nvRx = uint64(float64(v.nvTx) * (0.99 + 0.02*r(chNVRx)))
	if i == ECCGPU && r(chECC) < 1.0/900 {
		v.eccNew = 1 // about one every 15 minutes
	}
	return v
}

func (t *Telemetry) inferenceTick(i int, k int64) tickVals {
	var v tickVals
	r := func(ch uint64) float64 { return t.u(ch, i, k) }
	// Load comes in bursts of requests lasting ~6 s each.
	b := k / 6
	level := 0.0
	if t.u(chBurst, i, b) >= 0.3 {
		level = 15 + 80*t.u(chBurst, i, b+1<<40)
	}
	v.util = clamp(level*(0.85+0.3*r(chUtil)), 0, 100)
	if level == 0 {
		v.util = 0
	}
	v.memUtil = v.util * (0.5 + 0.1*r(chMemUtil))
	v.powerMW = uint32((95 + v.util*3.4 + 8*r(chPower)) * 1000)
	if v.util < 1 {
		v.idle = true
		v.clockSM = 345
	} else {
		v.clockSM = MaxClockSM - 15*uint32(r(chClock)*3)
		v.pcieRx = 2_000 + uint32(v.util*300*r(chPCIeRx))
		v.pcieTx = 1_000 + uint32(v.util*200*r(chPCIeTx))
	}
	return v
}

func (t *Telemetry) idleTick(i int, k int64) tickVals {
	v := tickVals{idle: true, clockSM: 345}
	switch x := t.u(chUtil, i, k); {
	case x >= 0.93:
		v.util = 2
	case x >= 0.75:
		v.util = 1
	}
	v.powerMW = uint32((66 + 8*t.u(chPower, i, k)) * 1000)
	v.pcieRx = uint32(50 * t.u(chPCIeRx, i, k))
	v.pcieTx = uint32(30 * t.u(chPCIeTx, i, k))
	return v
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func pct(x float64) uint32 { return uint32(math.Round(clamp(x, 0, 100))) }

// mulFrac returns x·num/den without overflow (num < den).
func mulFrac(x, num, den uint64) uint64 {
	hi, lo := bits.Mul64(x, num)
	q, _ := bits.Div64(hi, lo, den)
	return q
}

// processMem returns the memory GPU i's process uses at tick k.
func (t *Telemetry) processMem(i int, k int64) uint64 {
	p := &t.gpus[i]
	switch p.role {
	case RoleTraining:
		// The caching allocator grows quickly, then settles.
		grow := float64(p.memTarget-p.memStart) * (1 - math.Exp(-float64(k)/600))
		return roundMiB2(p.memStart + uint64(grow))
	case RoleInference:
		// Weights plus a KV cache that changes a little every few minutes.
		return roundMiB2(39*gib + 512*mib + uint64(t.u(chInferMem, i, k/300)*512*mib))
	}
	return 0
}

// build assembles GPU i's State at tick k from the tick's readings and the
// integrated counters.
func (t *Telemetry) build(i int, k int64, v tickVals, c acc, filt float64) mockgpu.State {
	p := &t.gpus[i]
	temp := uint32(math.Round(p.ambient + filt*thermalGain))
	hbm := temp + 3 + uint32(t.u(chHBM, i, k/30)*3)
	s := mockgpu.State{
		GPUUtil:          pct(v.util),
		MemUtil:          pct(v.memUtil),
		MemTotalBytes:    MemTotalBytes,
		MemReservedBytes: MemReservedBytes,
		TempGPU:          temp,
		TempMemory:       &hbm,
		TempSlowdown:     89, TempShutdown: 92, TempGPUMax: 87,
		PowerMilliwatts:      v.powerMW,
		PowerLimitMilliwatts: PowerLimitMilliwatts,
		EnergyMillijoules:    c.energy,
		ClockSM:              v.clockSM,
		ClockGraphics:        v.clockSM,
		ClockMem:             ClockMem,
		ClockVideo:           1710,
		MaxClockSM:           MaxClockSM,
		MaxClockGraphics:     MaxClockSM,
		MaxClockMem:          ClockMem,
		MaxClockVideo:        MaxClockVideo,
		PCIeTxKBps:           v.pcieTx,
		PCIeRxKBps:           v.pcieRx,
		PCIeGen:              5, PCIeWidth: 16, PCIeMaxGen: 5, PCIeMaxWidth: 16,
		SupportedClockEventReasons: ReasonAll,
		PowerViolationNs:           c.violNs,
		ECCEnabled:                 true,
		ECCCorrectedVolatile:       c.ecc,
		ECCCorrectedAggregate:      c.ecc + p.eccAggBase,
		GPMSupported:               true,
	}
	if v.throttled {
		s.ClockEventReasons |= ReasonSwPowerCap
	}
	if v.idle {
		s.ClockEventReasons |= ReasonGpuIdle
		s.ClockVideo = 765
	}
	if p.role == RoleIdle {
		s.PState = 8
		s.PCIeGen = 1 // the link trains down when idle
	}

	s.NVLinks = make([]mockgpu.NVLink, NumNVLinks)
	for l := range s.NVLinks {
		s.NVLinks[l] = mockgpu.NVLink{
			Active:  true,
			TxBytes: mulFrac(c.nvTx, p.linkW[l], 1<<20),
			RxBytes: mulFrac(c.nvRx, p.linkW[l], 1<<20),
		}
	}

	used := uint64(idleUsedBytes)
	if p.pid != 0 {
		m := t.processMem(i, k)
		used += m
		s.Processes = []mockgpu.Process{{
			PID: p.pid, UsedMemoryBytes: m,
			SMUtil: s.GPUUtil, MemUtil: s.MemUtil,
		}}
	}
	s.MemUsedBytes = min(used, MemTotalBytes-MemReservedBytes)

	g := func(x float64) float64 { return clamp(x+2*(t.u(chGPM, i, k)-0.5), 0, 100) }
	u := v.util
	switch p.role {
	case RoleTraining:
		s.SMActive, s.SMOccupancy, s.TensorActive = g(u*0.9), g(u*0.42), g(u*0.6)
		s.FP16Active, s.FP32Active = g(u*0.12), g(u*0.08)
	case RoleInference:
		s.SMActive, s.SMOccupancy, s.TensorActive = g(u*0.8), g(u*0.3), g(u*0.5)
		s.FP16Active, s.FP32Active = g(u*0.1), g(u*0.05)
	}
	if u > 0 {
		s.DRAMActive = g(v.memUtil * 1.15)
		s.GraphicsActive = g(u * 0.97)
	}
	if p.role == RoleIdle {
		s.SMActive = u * 0.9
		s.GraphicsActive = u * 0.95
		s.DRAMActive = 0
	}
	return s
}
