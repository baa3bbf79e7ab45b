//go:build cgo

package mockgpu

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxb200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// NewServer returns a mock DGX server of the given kind ("h100", "h200";
// also "a100", "b200") with deterministic GPU UUIDs, filled with t (see
// Fill). now may be nil (time.Now). An unknown kind panics: it is a
// programming error.
func NewServer(kind string, t Telemetry, now func() time.Time) *server.Server {
	var srv *server.Server
	switch kind {
	case "h100":
		srv = dgxh100.New()
	case "h200":
		srv = dgxh200.New()
	case "a100":
		srv = dgxa100.New()
	case "b200":
		srv = dgxb200.New()
	default:
		panic(fmt.Sprintf("mockgpu: unknown server kind %q (want h100, h200, a100 or b200)", kind))
	}
	for i, d := range srv.Devices {
		d.(*server.Device).UUID = StableUUID(kind, i)
	}
	Fill(srv, t, now)
	return srv
}

// StableUUID returns the UUID NewServer gives GPU index of a server kind:
// a GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx string derived from both, so
// golden files do not change between runs.
func StableUUID(kind string, index int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "trainwatch-mock/%s/%d", kind, index))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40 // version 4 layout, like the driver's
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("GPU-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// XIDEventMask is the event mask the mock devices report as supported.
const XIDEventMask = nvml.EventTypeXidCriticalError

// supportedEvents is what GetSupportedEventTypes reports.
const supportedEvents = nvml.EventTypeSingleBitEccError | nvml.EventTypeDoubleBitEccError |
	nvml.EventTypePState | nvml.EventTypeXidCriticalError | nvml.EventTypeClock

// Fill sets, on every device of srv (a go-nvml mock DGX server), every
// telemetry method the NVML backend (internal/gpu/nvmlgpu) calls, answering
// from t.State(index, now()):
//
//   - a nil pointer field, a zero AppClock/limit, or a method named in
//     State.NotSupported answers nvml.ERROR_NOT_SUPPORTED;
//   - State.Lost answers nvml.ERROR_GPU_IS_LOST on every call of that GPU;
//   - State.Hang sleeps that long before answering.
//
// On the server it sets EventSetCreate (an event set whose Wait hands out
// t.Events(now()) one per call to the devices that registered for XID
// events, else waits up to DefaultEventPoll, or the EventPacer's interval,
// bounded by the timeout, and returns ERROR_TIMEOUT), the GPM calls
// (samples record the State at their time; GpmMetricsGet answers from the
// later sample), and ErrorString. MIG: when a device's MIG mode is on,
// GetMaxMigDeviceCount and GetMigDeviceHandleByIndex answer from the GPU
// instances created on it (CreateGpuInstance), each a MIG device with its
// share of the GPU's memory.
//
// Identity (UUID, name, minor number, PCI info with the bus ID) answers from
// the server.Device fields. now may be nil (time.Now).
//
// The mock records every call (XxxCalls()), so a long-running demo grows by
// a few bytes per NVML call.
func Fill(srv *server.Server, t Telemetry, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	f := &filler{t: t, now: now, srv: srv, migs: map[*server.GpuInstance]*mock.Device{}}
	f.registered = make([]uint64, len(srv.Devices))
	for i, d := range srv.Devices {
		f.fillDevice(i, d.(*server.Device))
	}
	f.fillServer()
}

type filler struct {
	t   Telemetry
	now func() time.Time
	srv *server.Server

	mu         sync.Mutex
	registered []uint64 // event masks registered per device
	migs       map[*server.GpuInstance]*mock.Device
}

// state returns GPU i's state for a call of method: it sleeps for Hang and
// answers ERROR_GPU_IS_LOST or ERROR_NOT_SUPPORTED as the state says.
func (f *filler) state(i int, method string) (State, nvml.Return) {
	s := f.t.State(i, f.now())
	if s.Hang > 0 {
		time.Sleep(s.Hang)
	}
	if s.Lost {
		return s, nvml.ERROR_GPU_IS_LOST
	}
	if slices.Contains(s.NotSupported, method) {
		return s, nvml.ERROR_NOT_SUPPORTED
	}
	return s, nvml.SUCCESS
}

func (f *filler) index(dev nvml.Device) int {
	for i, d := range f.srv.Devices {
		if d == dev {
			return i
		}
	}
	return -1
}

func memTotal(s *State, d *server.Device) uint64 {
	if s.MemTotalBytes != 0 {
		return s.MemTotalBytes
	}
	return d.Config.MemoryMB << 20
}

func memFree(s *State, total uint64) uint64 {
	if s.MemReservedBytes+s.MemUsedBytes >= total {
		return 0
	}
	return total - s.MemReservedBytes - s.MemUsedBytes
}

func putString(dst []int8, s string) {
	for i := 0; i < len(dst)-1 && i < len(s); i++ {
		dst[i] = int8(s[i])
	}
}

func nonZero(v uint32, ret nvml.Return) (uint32, nvml.Return) {
	if ret == nvml.SUCCESS && v == 0 {
		return 0, nvml.ERROR_NOT_SUPPORTED
	}
	return v, ret
}

func (f *filler) fillDevice(i int, d *server.Device) {
	// Identity, answering from the server.Device fields but honouring Lost
	// and Hang.
	d.GetUUIDFunc = func() (string, nvml.Return) {
		_, ret := f.state(i, "GetUUID")
		if ret != nvml.SUCCESS {
			return "", ret
		}
		return d.UUID, ret
	}
	d.GetNameFunc = func() (string, nvml.Return) {
		_, ret := f.state(i, "GetName")
		if ret != nvml.SUCCESS {
			return "", ret
		}
		return d.Config.Name, ret
	}
	d.GetMinorNumberFunc = func() (int, nvml.Return) {
		_, ret := f.state(i, "GetMinorNumber")
		if ret != nvml.SUCCESS {
			return 0, ret
		}
		return d.Minor, ret
	}
	d.GetPciInfoFunc = func() (nvml.PciInfo, nvml.Return) {
		_, ret := f.state(i, "GetPciInfo")
		if ret != nvml.SUCCESS {
			return nvml.PciInfo{}, ret
		}
		p := nvml.PciInfo{PciDeviceId: d.Config.PciDeviceId, Bus: uint32(d.Index)}
		putString(p.BusId[:], d.PciBusID)
		putString(p.BusIdLegacy[:], d.PciBusID)
		return p, ret
	}
	d.GetMigModeFunc = func() (int, int, nvml.Return) {
		_, ret := f.state(i, "GetMigMode")
		if ret != nvml.SUCCESS {
			return 0, 0, ret
		}
		if len(d.Config.MIGProfiles.GpuInstanceProfiles) == 0 {
			return 0, 0, nvml.ERROR_NOT_SUPPORTED
		}
		d.RLock()
		defer d.RUnlock()
		return d.MigMode, d.MigMode, ret
	}

	// Utilisation.
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		s, ret := f.state(i, "GetUtilizationRates")
		return nvml.Utilization{Gpu: s.GPUUtil, Memory: s.MemUtil}, ret
	}
	d.GetEncoderUtilizationFunc = func() (uint32, uint32, nvml.Return) {
		s, ret := f.state(i, "GetEncoderUtilization")
		return s.EncUtil, 167000, ret
	}
	d.GetDecoderUtilizationFunc = func() (uint32, uint32, nvml.Return) {
		s, ret := f.state(i, "GetDecoderUtilization")
		return s.DecUtil, 167000, ret
	}

	// Memory: v1 counts reserved memory as used, v2 reports it apart.
	d.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
		s, ret := f.state(i, "GetMemoryInfo")
		if ret != nvml.SUCCESS {
			return nvml.Memory{}, ret
		}
		total := memTotal(&s, d)
		return nvml.Memory{Total: total, Free: memFree(&s, total), Used: s.MemReservedBytes + s.MemUsedBytes}, ret
	}
	d.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		s, ret := f.state(i, "GetMemoryInfo_v2")
		if ret != nvml.SUCCESS {
			return nvml.Memory_v2{}, ret
		}
		total := memTotal(&s, d)
		return nvml.Memory_v2{Version: nvml.STRUCT_VERSION(nvml.Memory_v2{}, 2), Total: total,
			Reserved: s.MemReservedBytes, Free: memFree(&s, total), Used: s.MemUsedBytes}, ret
	}

	// Temperature and power.
	d.GetTemperatureFunc = func(sensor nvml.TemperatureSensors) (uint32, nvml.Return) {
		s, ret := f.state(i, "GetTemperature")
		if ret == nvml.SUCCESS && sensor != nvml.TEMPERATURE_GPU {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return s.TempGPU, ret
	}
	d.GetTemperatureThresholdFunc = func(th nvml.TemperatureThresholds) (uint32, nvml.Return) {
		s, ret := f.state(i, "GetTemperatureThreshold")
		switch th {
		case nvml.TEMPERATURE_THRESHOLD_SHUTDOWN:
			return nonZero(s.TempShutdown, ret)
		case nvml.TEMPERATURE_THRESHOLD_SLOWDOWN:
			return nonZero(s.TempSlowdown, ret)
		case nvml.TEMPERATURE_THRESHOLD_GPU_MAX:
			return nonZero(s.TempGPUMax, ret)
		}
		if ret != nvml.SUCCESS {
			return 0, ret
		}
		return 0, nvml.ERROR_NOT_SUPPORTED
	}
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) {
		s, ret := f.state(i, "GetPowerUsage")
		return s.PowerMilliwatts, ret
	}
	d.GetPowerManagementLimitFunc = func() (uint32, nvml.Return) {
		s, ret := f.state(i, "GetPowerManagementLimit")
		return nonZero(s.PowerLimitMilliwatts, ret)
	}
	d.GetEnforcedPowerLimitFunc = func() (uint32, nvml.Return) {
		s, ret := f.state(i, "GetEnforcedPowerLimit")
		return nonZero(s.PowerLimitMilliwatts, ret)
	}
	d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) {
		s, ret := f.state(i, "GetTotalEnergyConsumption")
		return s.EnergyMillijoules, ret
	}

	// Clocks.
	d.GetClockInfoFunc = func(ct nvml.ClockType) (uint32, nvml.Return) {
		s, ret := f.state(i, "GetClockInfo")
		switch ct {
		case nvml.CLOCK_GRAPHICS:
			return s.ClockGraphics, ret
		case nvml.CLOCK_SM:
			return s.ClockSM, ret
		case nvml.CLOCK_MEM:
			return s.ClockMem, ret
		case nvml.CLOCK_VIDEO:
			return s.ClockVideo, ret
		}
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	d.GetMaxClockInfoFunc = func(ct nvml.ClockType) (uint32, nvml.Return) {
		s, ret := f.state(i, "GetMaxClockInfo")
		switch ct {
		case nvml.CLOCK_GRAPHICS:
			return nonZero(s.MaxClockGraphics, ret)
		case nvml.CLOCK_SM:
			return nonZero(s.MaxClockSM, ret)
		case nvml.CLOCK_MEM:
			return nonZero(s.MaxClockMem, ret)
		case nvml.CLOCK_VIDEO:
			return nonZero(s.MaxClockVideo, ret)
		}
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	d.GetApplicationsClockFunc = func(ct nvml.ClockType) (uint32, nvml.Return) {
		s, ret := f.state(i, "GetApplicationsClock")
		switch ct {
		case nvml.CLOCK_GRAPHICS, nvml.CLOCK_SM:
			return nonZero(s.AppClockSM, ret)
		case nvml.CLOCK_MEM:
			return nonZero(s.AppClockMem, ret)
		}
		return 0, nvml.ERROR_NOT_SUPPORTED
	}

	// PCIe.
	d.GetPcieThroughputFunc = func(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
		s, ret := f.state(i, "GetPcieThroughput")
		switch c {
		case nvml.PCIE_UTIL_TX_BYTES:
			return s.PCIeTxKBps, ret
		case nvml.PCIE_UTIL_RX_BYTES:
			return s.PCIeRxKBps, ret
		}
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	d.GetCurrPcieLinkGenerationFunc = func() (int, nvml.Return) {
		s, ret := f.state(i, "GetCurrPcieLinkGeneration")
		return s.PCIeGen, ret
	}
	d.GetCurrPcieLinkWidthFunc = func() (int, nvml.Return) {
		s, ret := f.state(i, "GetCurrPcieLinkWidth")
		return s.PCIeWidth, ret
	}
	d.GetMaxPcieLinkGenerationFunc = func() (int, nvml.Return) {
		s, ret := f.state(i, "GetMaxPcieLinkGeneration")
		return s.PCIeMaxGen, ret
	}
	d.GetMaxPcieLinkWidthFunc = func() (int, nvml.Return) {
		s, ret := f.state(i, "GetMaxPcieLinkWidth")
		return s.PCIeMaxWidth, ret
	}
	d.GetPcieReplayCounterFunc = func() (int, nvml.Return) {
		s, ret := f.state(i, "GetPcieReplayCounter")
		return s.PCIeReplays, ret
	}

	// Fan, P-state, persistence.
	d.GetFanSpeedFunc = func() (uint32, nvml.Return) {
		s, ret := f.state(i, "GetFanSpeed")
		if ret != nvml.SUCCESS {
			return 0, ret
		}
		if s.FanPercent == nil {
			return 0, nvml.ERROR_NOT_SUPPORTED
		}
		return *s.FanPercent, ret
	}
	d.GetPerformanceStateFunc = func() (nvml.Pstates, nvml.Return) {
		s, ret := f.state(i, "GetPerformanceState")
		return nvml.Pstates(s.PState), ret
	}
	d.GetPersistenceModeFunc = func() (nvml.EnableState, nvml.Return) {
		s, ret := f.state(i, "GetPersistenceMode")
		return enable(s.PersistenceMode), ret
	}

	// Clock-event (throttle) reasons, under both names.
	cur := func(method string) func() (uint64, nvml.Return) {
		return func() (uint64, nvml.Return) {
			s, ret := f.state(i, method)
			return s.ClockEventReasons, ret
		}
	}
	sup := func(method string) func() (uint64, nvml.Return) {
		return func() (uint64, nvml.Return) {
			s, ret := f.state(i, method)
			return s.SupportedClockEventReasons, ret
		}
	}
	d.GetCurrentClocksEventReasonsFunc = cur("GetCurrentClocksEventReasons")
	d.GetCurrentClocksThrottleReasonsFunc = cur("GetCurrentClocksThrottleReasons")
	d.GetSupportedClocksEventReasonsFunc = sup("GetSupportedClocksEventReasons")
	d.GetSupportedClocksThrottleReasonsFunc = sup("GetSupportedClocksThrottleReasons")
	d.GetViolationStatusFunc = func(p nvml.PerfPolicyType) (nvml.ViolationTime, nvml.Return) {
		s, ret := f.state(i, "GetViolationStatus")
		if ret != nvml.SUCCESS {
			return nvml.ViolationTime{}, ret
		}
		ref := uint64(f.now().UnixMicro())
		switch p {
		case nvml.PERF_POLICY_POWER:
			return nvml.ViolationTime{ReferenceTime: ref, ViolationTime: s.PowerViolationNs}, ret
		case nvml.PERF_POLICY_THERMAL:
			return nvml.ViolationTime{ReferenceTime: ref, ViolationTime: s.ThermalViolationNs}, ret
		}
		return nvml.ViolationTime{}, nvml.ERROR_NOT_SUPPORTED
	}

	// ECC, retired pages, remapped rows.
	d.GetEccModeFunc = func() (nvml.EnableState, nvml.EnableState, nvml.Return) {
		s, ret := f.state(i, "GetEccMode")
		return enable(s.ECCEnabled), enable(s.ECCEnabled), ret
	}
	d.GetTotalEccErrorsFunc = func(t nvml.MemoryErrorType, c nvml.EccCounterType) (uint64, nvml.Return) {
		s, ret := f.state(i, "GetTotalEccErrors")
		if ret != nvml.SUCCESS {
			return 0, ret
		}
		if !s.ECCEnabled {
			return 0, nvml.ERROR_NOT_SUPPORTED
		}
		switch {
		case t == nvml.MEMORY_ERROR_TYPE_CORRECTED && c == nvml.VOLATILE_ECC:
			return s.ECCCorrectedVolatile, ret
		case t == nvml.MEMORY_ERROR_TYPE_UNCORRECTED && c == nvml.VOLATILE_ECC:
			return s.ECCUncorrectedVolatile, ret
		case t == nvml.MEMORY_ERROR_TYPE_CORRECTED && c == nvml.AGGREGATE_ECC:
			return s.ECCCorrectedAggregate, ret
		case t == nvml.MEMORY_ERROR_TYPE_UNCORRECTED && c == nvml.AGGREGATE_ECC:
			return s.ECCUncorrectedAggregate, ret
		}
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	d.GetRetiredPagesFunc = func(cause nvml.PageRetirementCause) ([]uint64, nvml.Return) {
		s, ret := f.state(i, "GetRetiredPages")
		if ret != nvml.SUCCESS {
			return nil, ret
		}
		n := s.RetiredPagesSBE
		if cause == nvml.PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR {
			n = s.RetiredPagesDBE
		}
		pages := make([]uint64, n)
		for k := range pages {
			pages[k] = uint64(0x1000 * (k + 1))
		}
		return pages, ret
	}
	d.GetRetiredPagesPendingStatusFunc = func() (nvml.EnableState, nvml.Return) {
		s, ret := f.state(i, "GetRetiredPagesPendingStatus")
		return enable(s.RetiredPagesPending), ret
	}
	d.GetRemappedRowsFunc = func() (int, int, bool, bool, nvml.Return) {
		s, ret := f.state(i, "GetRemappedRows")
		return s.RemappedCorrectable, s.RemappedUncorrectable, s.RemapPending, s.RemapFailure, ret
	}

	// NVLink and field values.
	d.GetNvLinkStateFunc = func(link int) (nvml.EnableState, nvml.Return) {
		s, ret := f.state(i, "GetNvLinkState")
		if ret != nvml.SUCCESS {
			return 0, ret
		}
		if len(s.NVLinks) == 0 {
			return 0, nvml.ERROR_NOT_SUPPORTED
		}
		if link < 0 || link >= len(s.NVLinks) {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return enable(s.NVLinks[link].Active), ret
	}
	d.GetFieldValuesFunc = func(values []nvml.FieldValue) nvml.Return {
		s, ret := f.state(i, "GetFieldValues")
		if ret != nvml.SUCCESS {
			return ret
		}
		if len(values) == 0 {
			return nvml.ERROR_INVALID_ARGUMENT
		}
		ts := f.now().UnixMicro()
		for k := range values {
			fieldValue(&values[k], &s, ts)
		}
		return ret
	}

	// Processes.
	procs := func(method string, list bool) func() ([]nvml.ProcessInfo, nvml.Return) {
		return func() ([]nvml.ProcessInfo, nvml.Return) {
			s, ret := f.state(i, method)
			if ret != nvml.SUCCESS || !list {
				return []nvml.ProcessInfo{}, ret
			}
			out := make([]nvml.ProcessInfo, len(s.Processes))
			for k, p := range s.Processes {
				out[k] = nvml.ProcessInfo{Pid: p.PID, UsedGpuMemory: p.UsedMemoryBytes,
					GpuInstanceId: math.MaxUint32, ComputeInstanceId: math.MaxUint32}
			}
			return out, ret
		}
	}
	d.GetComputeRunningProcessesFunc = procs("GetComputeRunningProcesses", true)
	d.GetGraphicsRunningProcessesFunc = procs("GetGraphicsRunningProcesses", false)
	d.GetMPSComputeRunningProcessesFunc = procs("GetMPSComputeRunningProcesses", false)
	d.GetProcessUtilizationFunc = func(lastSeen uint64) ([]nvml.ProcessUtilizationSample, nvml.Return) {
		s, ret := f.state(i, "GetProcessUtilization")
		if ret != nvml.SUCCESS {
			return nil, ret
		}
		ts := uint64(f.now().UnixMicro())
		if len(s.Processes) == 0 || ts <= lastSeen {
			return nil, nvml.ERROR_NOT_FOUND
		}
		out := make([]nvml.ProcessUtilizationSample, len(s.Processes))
		for k, p := range s.Processes {
			out[k] = nvml.ProcessUtilizationSample{Pid: p.PID, TimeStamp: ts,
				SmUtil: p.SMUtil, MemUtil: p.MemUtil, EncUtil: p.EncUtil, DecUtil: p.DecUtil}
		}
		return out, ret
	}

	// Events.
	d.GetSupportedEventTypesFunc = func() (uint64, nvml.Return) {
		_, ret := f.state(i, "GetSupportedEventTypes")
		return supportedEvents, ret
	}
	d.RegisterEventsFunc = func(mask uint64, set nvml.EventSet) nvml.Return {
		_, ret := f.state(i, "RegisterEvents")
		if ret != nvml.SUCCESS {
			return ret
		}
		if _, ok := set.(*mock.EventSet); !ok || set == nil {
			return nvml.ERROR_INVALID_ARGUMENT
		}
		f.mu.Lock()
		f.registered[i] |= mask & supportedEvents
		f.mu.Unlock()
		if mask&^supportedEvents != 0 {
			return nvml.ERROR_NOT_SUPPORTED
		}
		return ret
	}

	// GPM, on the device (the server has the same calls taking a device).
	d.GpmQueryDeviceSupportFunc = func() (nvml.GpmSupport, nvml.Return) {
		return f.gpmSupport(i)
	}
	d.GpmSampleGetFunc = func(sample nvml.GpmSample) nvml.Return {
		return f.gpmSampleGet(i, -1, sample)
	}
	d.GpmMigSampleGetFunc = func(gi int, sample nvml.GpmSample) nvml.Return {
		return f.gpmSampleGet(i, gi, sample)
	}

	// MIG devices.
	d.GetMaxMigDeviceCountFunc = func() (int, nvml.Return) {
		_, ret := f.state(i, "GetMaxMigDeviceCount")
		if ret != nvml.SUCCESS {
			return 0, ret
		}
		if len(d.Config.MIGProfiles.GpuInstanceProfiles) == 0 {
			return 0, nvml.ERROR_NOT_SUPPORTED
		}
		return 7, ret
	}
	d.GetMigDeviceHandleByIndexFunc = func(k int) (nvml.Device, nvml.Return) {
		_, ret := f.state(i, "GetMigDeviceHandleByIndex")
		if ret != nvml.SUCCESS {
			return nil, ret
		}
		d.RLock()
		on := d.MigMode == nvml.DEVICE_MIG_ENABLE
		gis := make([]*server.GpuInstance, 0, len(d.GpuInstances))
		for gi := range d.GpuInstances {
			gis = append(gis, gi)
		}
		d.RUnlock()
		if !on {
			return nil, nvml.ERROR_NOT_SUPPORTED
		}
		sort.Slice(gis, func(a, b int) bool { return gis[a].Info.Id < gis[b].Info.Id })
		if k < 0 || k >= len(gis) {
			return nil, nvml.ERROR_NOT_FOUND
		}
		return f.migDevice(i, d, gis[k]), nvml.SUCCESS
	}
}

func enable(b bool) nvml.EnableState {
	if b {
		return nvml.FEATURE_ENABLED
	}
	return nvml.FEATURE_DISABLED
}

// fieldValue answers one GetFieldValues entry from s.
func fieldValue(v *nvml.FieldValue, s *State, ts int64) {
	v.Timestamp = ts
	v.LatencyUsec = 5
	v.NvmlReturn = uint32(nvml.SUCCESS)
	put := func(x uint64) {
		v.ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_LONG_LONG)
		binary.NativeEndian.PutUint64(v.Value[:], x)
	}
	putU32 := func(x uint32) {
		v.ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_INT)
		v.Value = [8]byte{}
		binary.NativeEndian.PutUint32(v.Value[:], x)
	}
	sum := func(get func(l NVLink) uint64) uint64 {
		var t uint64
		for _, l := range s.NVLinks {
			if l.Active {
				t += get(l)
			}
		}
		return t
	}
	hasLinks := len(s.NVLinks) > 0
	switch {
	case v.FieldId == nvml.FI_DEV_MEMORY_TEMP && s.TempMemory != nil:
		putU32(*s.TempMemory)
	case v.FieldId == nvml.FI_DEV_NVLINK_LINK_COUNT && hasLinks:
		putU32(uint32(len(s.NVLinks)))
	case v.FieldId == nvml.FI_DEV_NVLINK_THROUGHPUT_DATA_TX && hasLinks:
		put(sum(func(l NVLink) uint64 { return l.TxBytes }) / 1024)
	case v.FieldId == nvml.FI_DEV_NVLINK_THROUGHPUT_DATA_RX && hasLinks:
		put(sum(func(l NVLink) uint64 { return l.RxBytes }) / 1024)
	case v.FieldId == nvml.FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL && hasLinks:
		put(sum(func(l NVLink) uint64 { return l.Replay }))
	case v.FieldId == nvml.FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL && hasLinks:
		put(sum(func(l NVLink) uint64 { return l.Recovery }))
	case v.FieldId == nvml.FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL && hasLinks:
		put(sum(func(l NVLink) uint64 { return l.CRCFlit }))
	case v.FieldId == nvml.FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL && hasLinks:
		put(sum(func(l NVLink) uint64 { return l.CRCData }))
	default:
		v.NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
		v.Value = [8]byte{}
	}
}

// migDevice returns the mock MIG device of GPU instance gi on GPU i,
// creating it on first use.
func (f *filler) migDevice(i int, parent *server.Device, gi *server.GpuInstance) nvml.Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.migs[gi]; ok {
		return m
	}
	prof := gi.MIGProfiles.GpuInstanceProfiles[int(gi.Info.ProfileId)]
	giID := int(gi.Info.Id)
	name := fmt.Sprintf("%s MIG %dg.%dgb", parent.Config.Name, prof.SliceCount, (prof.MemorySizeMB+512)/1024)
	uuid := fmt.Sprintf("MIG-%s", StableUUID(parent.UUID, giID)[len("GPU-"):])
	m := &mock.Device{}
	share := func(s *State, x uint64) uint64 {
		total := memTotal(s, parent)
		if total == 0 {
			return 0
		}
		return uint64(float64(x) * float64(prof.MemorySizeMB<<20) / float64(total))
	}
	m.GetUUIDFunc = func() (string, nvml.Return) {
		_, ret := f.state(i, "GetUUID")
		return uuid, ret
	}
	m.GetNameFunc = func() (string, nvml.Return) {
		_, ret := f.state(i, "GetName")
		return name, ret
	}
	m.GetGpuInstanceIdFunc = func() (int, nvml.Return) {
		_, ret := f.state(i, "GetGpuInstanceId")
		return giID, ret
	}
	m.IsMigDeviceHandleFunc = func() (bool, nvml.Return) { return true, nvml.SUCCESS }
	m.GetDeviceHandleFromMigDeviceHandleFunc = func() (nvml.Device, nvml.Return) { return parent, nvml.SUCCESS }
	m.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
		s, ret := f.state(i, "GetMemoryInfo")
		if ret != nvml.SUCCESS {
			return nvml.Memory{}, ret
		}
		total := prof.MemorySizeMB << 20
		used := share(&s, s.MemReservedBytes+s.MemUsedBytes)
		return nvml.Memory{Total: total, Used: used, Free: total - min(used, total)}, ret
	}
	m.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		s, ret := f.state(i, "GetMemoryInfo_v2")
		if ret != nvml.SUCCESS {
			return nvml.Memory_v2{}, ret
		}
		total := prof.MemorySizeMB << 20
		res, used := share(&s, s.MemReservedBytes), share(&s, s.MemUsedBytes)
		return nvml.Memory_v2{Version: nvml.STRUCT_VERSION(nvml.Memory_v2{}, 2), Total: total,
			Reserved: res, Used: used, Free: total - min(res+used, total)}, ret
	}
	f.migs[gi] = m
	return m
}

func (f *filler) fillServer() {
	s := f.srv
	s.ErrorStringFunc = func(r nvml.Return) string { return r.Error() }
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		return f.newEventSet(), nvml.SUCCESS
	}
	s.GpmSampleAllocFunc = func() (nvml.GpmSample, nvml.Return) {
		return &gpmSample{f: f, index: -1}, nvml.SUCCESS
	}
	s.GpmSampleFreeFunc = func(sample nvml.GpmSample) nvml.Return {
		return sample.Free()
	}
	s.GpmQueryDeviceSupportFunc = func(dev nvml.Device) (nvml.GpmSupport, nvml.Return) {
		return f.gpmSupport(f.index(dev))
	}
	s.GpmSampleGetFunc = func(dev nvml.Device, sample nvml.GpmSample) nvml.Return {
		return f.gpmSampleGet(f.index(dev), -1, sample)
	}
	s.GpmMigSampleGetFunc = func(dev nvml.Device, gi int, sample nvml.GpmSample) nvml.Return {
		return f.gpmSampleGet(f.index(dev), gi, sample)
	}
	s.GpmMetricsGetFunc = f.gpmMetricsGet
}

// newEventSet returns an event set whose Wait hands out the telemetry's
// events one per call.
func (f *filler) newEventSet() *mock.EventSet {
	var (
		mu     sync.Mutex
		queue  []Event
		freed  bool
		waitMu sync.Mutex // one Wait at a time, like NVML
	)
	poll := DefaultEventPoll
	if p, ok := f.t.(EventPacer); ok && p.EventInterval() > 0 {
		poll = p.EventInterval()
	}
	set := &mock.EventSet{}
	set.FreeFunc = func() nvml.Return {
		mu.Lock()
		defer mu.Unlock()
		if freed {
			return nvml.ERROR_INVALID_ARGUMENT
		}
		freed = true
		return nvml.SUCCESS
	}
	set.WaitFunc = func(timeoutMs uint32) (nvml.EventData, nvml.Return) {
		waitMu.Lock()
		defer waitMu.Unlock()
		mu.Lock()
		if freed {
			mu.Unlock()
			return nvml.EventData{}, nvml.ERROR_INVALID_ARGUMENT
		}
		if len(queue) == 0 {
			queue = append(queue, f.t.Events(f.now())...)
		}
		for len(queue) > 0 {
			ev := queue[0]
			queue = queue[1:]
			if ev.Index < 0 || ev.Index >= len(f.srv.Devices) {
				continue
			}
			f.mu.Lock()
			reg := f.registered[ev.Index]&nvml.EventTypeXidCriticalError != 0
			f.mu.Unlock()
			if !reg {
				continue
			}
			mu.Unlock()
			return nvml.EventData{Device: f.srv.Devices[ev.Index], EventType: nvml.EventTypeXidCriticalError,
				EventData: ev.XID, GpuInstanceId: math.MaxUint32, ComputeInstanceId: math.MaxUint32}, nvml.SUCCESS
		}
		mu.Unlock()
		time.Sleep(min(time.Duration(timeoutMs)*time.Millisecond, poll))
		return nvml.EventData{}, nvml.ERROR_TIMEOUT
	}
	return set
}
