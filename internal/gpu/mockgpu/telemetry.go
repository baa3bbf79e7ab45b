// Package mockgpu fills go-nvml's mock DGX servers (pkg/nvml/mock/dgxh100,
// dgxh200) with telemetry, so that the NVML backend can be tested, and the
// demo mode run, without a GPU. A Telemetry source says what each GPU
// reports at a given time; Fill wires every NVML method the backend calls to
// it, including fault injection (a lost GPU, unsupported fields, hangs).
package mockgpu

import "time"

// Telemetry is the source of simulated readings.
type Telemetry interface {
	// State returns GPU index's readings at now. It is called once per
	// NVML call, so it must be cheap and safe for concurrent use.
	State(index int, now time.Time) State
	// Events returns the XID events raised since the previous call, each
	// once; the mock event set's Wait hands them out one at a time.
	Events(now time.Time) []Event
}

// EventPacer is optionally implemented by a Telemetry whose events appear
// only at a known granularity (the demo raises them on whole seconds): the
// event set's Wait then looks for new events that often, at most its
// timeout, instead of every DefaultEventPoll. Polling every 20 ms woke the
// demo agent 50 times a second for nothing: a third of the CPU the demo's
// eight GPUs cost it went to the Go scheduler.
type EventPacer interface {
	EventInterval() time.Duration
}

// DefaultEventPoll is how often Wait looks for new events of a Telemetry
// that is not an EventPacer (tests injecting events at any time).
const DefaultEventPoll = 20 * time.Millisecond

// Event is one XID error on GPU Index.
type Event struct {
	Index int
	XID   uint64
}

// Process is one process using a GPU.
type Process struct {
	PID             uint32
	UsedMemoryBytes uint64
	// SMUtil, MemUtil, EncUtil, DecUtil are the per-process utilisation
	// percentages NVML's GetProcessUtilization reports.
	SMUtil, MemUtil, EncUtil, DecUtil uint32
}

// NVLink is one NVLink's state and counters.
type NVLink struct {
	Active bool
	// RxBytes, TxBytes are cumulative data bytes.
	RxBytes, TxBytes uint64
	// Error counters: replay, recovery, CRC flit, CRC data.
	Replay, Recovery, CRCFlit, CRCData uint64
}

// State is one GPU's readings. A nil pointer field means "not supported on
// this GPU" (NVML returns ERROR_NOT_SUPPORTED for it).
type State struct {
	// Lost makes every call on this GPU return ERROR_GPU_IS_LOST.
	Lost bool
	// Hang, when non-zero, makes every call on this GPU block this long
	// before answering (a wedged driver).
	Hang time.Duration
	// NotSupported lists NVML method names (e.g. "GetFanSpeed") that
	// return ERROR_NOT_SUPPORTED on this GPU, in addition to nil fields.
	NotSupported []string

	GPUUtil, MemUtil uint32 // percent
	EncUtil, DecUtil uint32 // percent

	// MemTotalBytes 0 means the mock device's configured memory (Fill).
	MemTotalBytes, MemReservedBytes, MemUsedBytes uint64 // free = total - reserved - used

	TempGPU                                uint32  // °C
	TempMemory                             *uint32 // °C (HBM); nil: no sensor
	TempSlowdown, TempShutdown, TempGPUMax uint32

	PowerMilliwatts      uint32
	PowerLimitMilliwatts uint32
	EnergyMillijoules    uint64 // cumulative since driver load

	ClockSM, ClockMem, ClockGraphics, ClockVideo             uint32 // MHz
	MaxClockSM, MaxClockMem, MaxClockGraphics, MaxClockVideo uint32
	// AppClockSM, AppClockMem are the application clocks in MHz; 0 means
	// not supported.
	AppClockSM, AppClockMem uint32

	PCIeTxKBps, PCIeRxKBps                       uint32 // KB/s over NVML's 20 ms window
	PCIeGen, PCIeWidth, PCIeMaxGen, PCIeMaxWidth int
	PCIeReplays                                  int

	FanPercent *uint32 // nil on passively cooled GPUs
	PState     int     // 0..15

	// PersistenceMode is the driver's persistence mode (nvidia-smi -pm).
	PersistenceMode bool

	// ClockEventReasons is the NVML clock-event (throttle) bitmask;
	// SupportedClockEventReasons the bits this GPU can report.
	ClockEventReasons, SupportedClockEventReasons uint64
	// Violation times in ns (power, thermal), cumulative.
	PowerViolationNs, ThermalViolationNs uint64

	ECCEnabled                                     bool
	ECCCorrectedVolatile, ECCUncorrectedVolatile   uint64
	ECCCorrectedAggregate, ECCUncorrectedAggregate uint64
	RetiredPagesSBE, RetiredPagesDBE               int
	RetiredPagesPending                            bool
	RemappedCorrectable, RemappedUncorrectable     int
	RemapPending, RemapFailure                     bool

	NVLinks []NVLink

	Processes []Process

	// GPM (Hopper and newer), percentages 0..100; GPMSupported false makes
	// GpmQueryDeviceSupport report no support.
	GPMSupported                                       bool
	SMActive, SMOccupancy, TensorActive, DRAMActive    float64
	GraphicsActive, FP64Active, FP32Active, FP16Active float64
}
