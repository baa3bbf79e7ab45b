// Package demo simulates the GPUs of an 8 × H200 SXM 141GB training server
// for trainwatch's demo mode and for tests that want realistic readings
// without a GPU. Its Telemetry implements mockgpu.Telemetry, so mockgpu.Fill
// can serve it through go-nvml's dgxh200 mock server.
//
// The simulated machine runs:
//
//   - GPUs 0–5: one data-parallel training job, one python rank per GPU.
//     Utilisation follows the step rhythm (a data-loading dip every few
//     seconds), with a 20-second evaluation phase every 5 minutes. Roughly
//     every 3 minutes one of these GPUs hits its software power cap for about
//     10 s. About every 10 minutes one of them raises an XID 13 or 31.
//   - GPU 5 also slowly accrues correctable ECC errors.
//   - GPU 6: an inference server using about 40 GiB, with bursty load.
//   - GPU 7: idle (P8, 0–2 % utilisation, 0.5 GiB used, gpu_idle reason).
//
// Every reading is a pure function of (seed, GPU index, whole second since
// start), except the cumulative counters (energy, NVLink bytes, power
// violation time, ECC counts) and the temperature, which integrate the
// per-second readings from start; they are kept in per-GPU checkpoints behind
// a mutex, so the results stay deterministic whatever the call order.
package demo

import (
	"sync"
	"time"

	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
)

// Shape of the simulated server.
const (
	// NumGPUs is the number of simulated GPUs.
	NumGPUs = 8
	// NumNVLinks is the number of NVLinks per GPU (NVLink 4 on H200 SXM).
	NumNVLinks = 18
	// MemTotalBytes is each GPU's memory: 144384 MiB, as go-nvml's dgxh200
	// mock reports.
	MemTotalBytes = 144384 << 20
	// MemReservedBytes is the memory the driver reserves on each GPU.
	MemReservedBytes = 568 << 20
	// PowerLimitMilliwatts is each GPU's enforced power limit.
	PowerLimitMilliwatts = 700_000
	// MaxClockSM is the maximum SM (and graphics) clock in MHz.
	MaxClockSM = 1980
	// ClockMem is the HBM3e memory clock in MHz.
	ClockMem = 2619
	// MaxClockVideo is the maximum video clock in MHz.
	MaxClockVideo = 1965

	// TrainingGPUs is the number of GPUs (indices 0..TrainingGPUs-1) running
	// the training job.
	TrainingGPUs = 6
	// InferenceGPU is the index of the GPU running the inference server.
	InferenceGPU = 6
	// IdleGPU is the index of the idle GPU.
	IdleGPU = 7
	// ECCGPU is the training GPU that slowly accrues correctable ECC errors.
	ECCGPU = 5
)

// Timing of the simulated workload.
const (
	// EvalPeriod is the interval between evaluation phases of the training
	// job, and EvalLength their length.
	EvalPeriod = 300 * time.Second
	EvalLength = 20 * time.Second
	// ThrottleWindow is the interval in each of which one training GPU is
	// power-capped once, for ThrottleLength.
	ThrottleWindow = 180 * time.Second
	ThrottleLength = 10 * time.Second
	// XIDWindow is the interval in each of which one XID is raised.
	XIDWindow = 600 * time.Second
)

// Clock-event reason bits used by the simulation (see go-nvml's
// ClocksEventReason constants).
const (
	ReasonGpuIdle    uint64 = 0x1
	ReasonSwPowerCap uint64 = 0x4
	// ReasonAll is every bit NVML defines (ClocksEventReasonAll); the
	// simulated GPUs report all of them as supported.
	ReasonAll uint64 = 0x7FF
)

// Role is what a simulated GPU is doing.
type Role int

// The roles.
const (
	RoleTraining Role = iota
	RoleInference
	RoleIdle
)

// String names the role.
func (r Role) String() string {
	switch r {
	case RoleTraining:
		return "training"
	case RoleInference:
		return "inference"
	case RoleIdle:
		return "idle"
	}
	return "unknown"
}

// RoleOf returns the role of GPU index (RoleIdle for indices out of range).
func RoleOf(index int) Role {
	switch {
	case index >= 0 && index < TrainingGPUs:
		return RoleTraining
	case index == InferenceGPU:
		return RoleInference
	}
	return RoleIdle
}

// ProcessInfo describes one simulated GPU process, so that a demo can show a
// matching host process table.
type ProcessInfo struct {
	PID, ParentPID uint32
	GPU            int
	Role           Role
	// Rank is the training rank (-1 for the inference server).
	Rank    int
	Cmdline string
}

// Telemetry is a simulated 8 × H200 training server. It implements
// mockgpu.Telemetry and is safe for concurrent use. Create it with New.
type Telemetry struct {
	start time.Time
	seed  uint64

	// Training-job rhythm, in ticks (seconds).
	stepPeriod, stepPhase, evalPhase int64

	launcherPID, inferencePID uint32
	gpus                      [NumGPUs]gpuParams

	series [NumGPUs]series

	evMu sync.Mutex
	// evDone is the last tick whose events Events has handed out (-1: none).
	evDone int64
}

var (
	_ mockgpu.Telemetry  = (*Telemetry)(nil)
	_ mockgpu.EventPacer = (*Telemetry)(nil)
)

// New returns a simulated server whose workload starts at start; the same
// seed and start always give the same readings. Readings for times before
// start are those at start. Times far after start are fine but the first
// call for each GPU then integrates its counters over the whole gap (about
// a second of CPU per simulated week for all eight GPUs).
func New(seed int64, start time.Time) *Telemetry {
	t := &Telemetry{start: start, seed: mix(uint64(seed) ^ 0x74726169_6e776174), evDone: -1}
	t.stepPeriod = 3 + int64(t.u(chJob, 0, 0)*3) // 3..5 s per step
	t.stepPhase = int64(t.u(chJob, 0, 1) * float64(t.stepPeriod))
	t.evalPhase = 60 + int64(t.u(chJob, 0, 2)*float64(evalPeriod-60))
	t.launcherPID = 2000 + uint32(t.u(chJob, 0, 3)*60000)
	t.inferencePID = 1100 + uint32(t.u(chJob, 0, 4)*800)
	uptime := 3*86400 + int64(t.u(chJob, 0, 5)*14*86400) // driver loaded 3..17 days ago
	for i := range t.gpus {
		t.gpus[i] = t.newGPUParams(i, uptime)
		t.series[i].init(t.gpus[i].acc0)
	}
	return t
}

// Start returns the time the simulated workload starts.
func (t *Telemetry) Start() time.Time { return t.start }

// Processes lists the simulated GPU processes.
func (t *Telemetry) Processes() []ProcessInfo {
	out := make([]ProcessInfo, 0, TrainingGPUs+1)
	for i := 0; i < TrainingGPUs; i++ {
		out = append(out, ProcessInfo{
			PID: t.gpus[i].pid, ParentPID: t.launcherPID, GPU: i, Role: RoleTraining, Rank: i,
			Cmdline: "/usr/bin/python3 -u train.py --config configs/llama-8b.yaml --data /data/tokens",
		})
	}
	out = append(out, ProcessInfo{
		PID: t.inferencePID, ParentPID: 1, GPU: InferenceGPU, Role: RoleInference, Rank: -1,
		Cmdline: "/usr/bin/python3 -m vllm.entrypoints.openai.api_server --model /models/qwen-14b --port 8080",
	})
	return out
}

// LauncherPID is the PID of the torchrun launcher, parent of the training
// ranks (it uses no GPU itself).
func (t *Telemetry) LauncherPID() uint32 { return t.launcherPID }

// tickOf splits now into the whole second since start and the nanoseconds
// into it; times before start map to (0, 0).
func (t *Telemetry) tickOf(now time.Time) (k int64, frac uint64) {
	d := now.Sub(t.start)
	if d < 0 {
		return 0, 0
	}
	return int64(d / time.Second), uint64(d % time.Second)
}

// State returns GPU index's readings at now. An index out of range reports a
// lost GPU.
func (t *Telemetry) State(index int, now time.Time) mockgpu.State {
	if index < 0 || index >= NumGPUs {
		return mockgpu.State{Lost: true}
	}
	k, frac := t.tickOf(now)
	tv := t.tick(index, k)
	c, filt := t.series[index].at(t, index, k, frac, tv)
	return t.build(index, k, tv, c, filt)
}

// Events returns the XIDs raised after those already returned, up to now;
// each is returned once. A now earlier than a previous call's returns nil.
func (t *Telemetry) Events(now time.Time) []mockgpu.Event {
	if now.Before(t.start) {
		return nil
	}
	k, _ := t.tickOf(now)
	t.evMu.Lock()
	defer t.evMu.Unlock()
	if k <= t.evDone {
		return nil
	}
	var out []mockgpu.Event
	for w := (t.evDone + 1) / xidWindow; w <= k/xidWindow; w++ {
		at, gpu, xid := t.xidAt(w)
		if at > t.evDone && at <= k {
			out = append(out, mockgpu.Event{Index: gpu, XID: xid})
		}
	}
	t.evDone = k
	return out
}

// EventInterval implements mockgpu.EventPacer: XIDs are raised on whole
// seconds of the simulation, so the event set looks for them once a second
// (NVML's own Wait blocks until an event or its timeout).
func (t *Telemetry) EventInterval() time.Duration { return time.Second }

// XIDTime returns when the n-th XID (n ≥ 0) is raised, on which GPU, and
// which XID, so tests and demos can predict them.
func (t *Telemetry) XIDTime(n int64) (at time.Time, index int, xid uint64) {
	k, gpu, x := t.xidAt(n)
	return t.start.Add(time.Duration(k) * time.Second), gpu, x
}
