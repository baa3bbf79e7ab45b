package summary

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// mib is the number of bytes in one MiB, the unit of DCGM_FI_DEV_FB_*.
const mib = 1 << 20

// clockEventReasons names the bits of NVML's clock-event (throttle) reason
// mask, DCGM_FI_DEV_CLOCK_THROTTLE_REASONS, in bit order; the NVML
// backend's trainwatch_gpu_clock_event_active{reason} uses the same names.
var clockEventReasons = [...]string{"gpu_idle", "applications_clocks_setting", "sw_power_cap",
	"hw_slowdown", "sync_boost", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown",
	"display_clock_setting", "board_limit", "reliability"}

// decodeClockEventReasons returns the names of the bits set in an NVML
// clock-event reason mask, sorted; unknown bits are named "bit<N>".
func decodeClockEventReasons(mask uint64) []string {
	out := []string{}
	for b := 0; b < 64; b++ {
		if mask&(1<<b) == 0 {
			continue
		}
		if b < len(clockEventReasons) {
			out = append(out, clockEventReasons[b])
		} else {
			out = append(out, "bit"+strconv.Itoa(b))
		}
	}
	sort.Strings(out)
	return out
}

func computeDemo(h *Host, v *view) {
	for _, s := range v.samples("trainwatch_demo", "scenario") {
		if s.value == 0 {
			continue
		}
		if !h.Demo || s.labels[0] < h.DemoScenario {
			h.DemoScenario = s.labels[0]
		}
		h.Demo = true
	}
}

func computeGPUBackends(h *Host, v *view) {
	up := map[string]bool{}
	for _, s := range v.samples("trainwatch_gpu_backend_up", "backend") {
		up[s.labels[0]] = up[s.labels[0]] || s.value == 1
	}
	for b, u := range up {
		h.GPUBackends = append(h.GPUBackends, GPUBackend{Backend: b, Up: u})
	}
	sort.Slice(h.GPUBackends, func(i, j int) bool { return naturalLess(h.GPUBackends[i].Backend, h.GPUBackends[j].Backend) })
}

type gpuKey struct{ index, uuid string }

// optVal is a value that may be missing.
type optVal struct {
	v  float64
	ok bool
}

func (o *optVal) set(v float64) { o.v, o.ok = v, true }

// gpuAcc accumulates one GPU's series before they are combined.
type gpuAcc struct {
	g                 GPU
	nvidia, amd       bool // a vendor-specific series was seen
	infoVendor        string
	up                optVal
	fbUsed, fbFree    optVal // MiB
	memUsed, memTotal optVal // bytes
	mgmtLimit         optVal
	enforcedLimit     optVal
	temps             map[string]float64 // AMD, by sensor
	reasonsKnown      bool
	reasons           map[string]bool
	mask              optVal
	procs             map[string]*GPUProcess // by pid
}

// gpuSeries is one family a GPU is read from: the labels read beyond the
// GPU's identity, which vendor the family implies ("" for none), and what
// a sample sets.
type gpuSeries struct {
	name   string
	extra  []string
	vendor string
	set    func(a *gpuAcc, extra []string, v float64)
}

// gpuIdentLabels identify a GPU. GPU_I_ID is set on the series of a MIG
// instance (the NVML backend's MIG mode), which are not read: the GPU's own
// series describe the whole GPU.
var gpuIdentLabels = []string{"gpu", "UUID", "modelName", "device", "pci_bus_id", "GPU_I_ID"}

var procLabels = []string{"pid", "command", "user", "container", "pod", "namespace", "slurm_job"}

func ptr(v float64) *float64 { return &v }

// nonNegative returns a pointer to v, or nil when v is negative (a value
// no GPU can have: treated as missing).
func nonNegative(v float64) *float64 {
	if v < 0 {
		return nil
	}
	return &v
}

func (a *gpuAcc) proc(l []string) *GPUProcess {
	p := a.procs[l[0]]
	if p == nil {
		pid, _ := strconv.ParseInt(l[0], 10, 64)
		p = &GPUProcess{PID: max(pid, 0), Command: l[1], User: l[2], Container: l[3], Pod: l[4], Namespace: l[5], SlurmJob: l[6]}
		a.procs[l[0]] = p
	}
	return p
}

// gpuSeriesList is every family GPUs are read from. The vendor-neutral
// (AMD) families come first so that, should a GPU have both, the DCGM
// values win.
func gpuSeriesList() []gpuSeries {
	pct := func(set func(g *GPU, v *float64)) func(a *gpuAcc, _ []string, v float64) {
		return func(a *gpuAcc, _ []string, v float64) { set(&a.g, ptr(clamp(v, 0, 100))) }
	}
	return []gpuSeries{
		// Vendor-neutral names (the amdgpu collector).
		{"trainwatch_gpu_info", []string{"vendor"}, VendorAMD, func(a *gpuAcc, l []string, _ float64) {
			if l[0] != "" {
				a.infoVendor = strings.ToLower(l[0])
			}
		}},
		{"trainwatch_gpu_utilization_percent", nil, VendorAMD, pct(func(g *GPU, v *float64) { g.UtilizationPercent = v })},
		{"trainwatch_gpu_memory_utilization_percent", nil, VendorAMD, pct(func(g *GPU, v *float64) { g.MemoryCopyUtilizationPercent = v })},
		{"trainwatch_gpu_memory_used_bytes", nil, VendorAMD, func(a *gpuAcc, _ []string, v float64) { a.memUsed.set(math.Max(v, 0)) }},
		{"trainwatch_gpu_memory_total_bytes", nil, VendorAMD, func(a *gpuAcc, _ []string, v float64) { a.memTotal.set(math.Max(v, 0)) }},
		{"trainwatch_gpu_temperature_celsius", []string{"sensor"}, VendorAMD, func(a *gpuAcc, l []string, v float64) {
			if a.temps == nil {
				a.temps = map[string]float64{}
			}
			a.temps[l[0]] = v
		}},
		{"trainwatch_gpu_power_watts", nil, VendorAMD, func(a *gpuAcc, _ []string, v float64) { a.g.PowerWatts = nonNegative(v) }},
		{"trainwatch_gpu_power_limit_watts", nil, VendorAMD, func(a *gpuAcc, _ []string, v float64) { a.g.PowerLimitWatts = nonNegative(v) }},
		{"trainwatch_gpu_clock_hertz", []string{"clock"}, VendorAMD, func(a *gpuAcc, l []string, v float64) {
			switch l[0] {
			case "sm":
				a.g.SMClockHertz = nonNegative(v)
			case "memory":
				a.g.MemoryClockHertz = nonNegative(v)
			}
		}},

		// dcgm-exporter names (the NVML backend, or dcgm-exporter itself).
		{"DCGM_FI_DEV_GPU_UTIL", nil, VendorNVIDIA, pct(func(g *GPU, v *float64) { g.UtilizationPercent = v })},
		{"DCGM_FI_DEV_MEM_COPY_UTIL", nil, VendorNVIDIA, pct(func(g *GPU, v *float64) { g.MemoryCopyUtilizationPercent = v })},
		{"DCGM_FI_DEV_FB_USED", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.fbUsed.set(math.Max(v, 0)) }},
		{"DCGM_FI_DEV_FB_FREE", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.fbFree.set(math.Max(v, 0)) }},
		{"DCGM_FI_DEV_GPU_TEMP", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.g.TemperatureCelsius = ptr(v) }},
		{"DCGM_FI_DEV_POWER_USAGE", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.g.PowerWatts = nonNegative(v) }},
		{"DCGM_FI_DEV_POWER_MGMT_LIMIT", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.mgmtLimit.set(v) }},
		{"DCGM_FI_DEV_ENFORCED_POWER_LIMIT", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.enforcedLimit.set(v) }},
		{"DCGM_FI_DEV_SM_CLOCK", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.g.SMClockHertz = nonNegative(v * 1e6) }},
		{"DCGM_FI_DEV_MEM_CLOCK", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.g.MemoryClockHertz = nonNegative(v * 1e6) }},
		{"DCGM_FI_DEV_PSTATE", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) {
			// NVML reports 32 for an unknown P-state.
			if v >= 0 && v <= 15 && v == math.Trunc(v) {
				p := int(v)
				a.g.PState = &p
			}
		}},
		{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) {
			a.g.TensorActivePercent = ptr(clamp(100*v, 0, 100))
		}},
		{"DCGM_FI_PROF_SM_ACTIVE", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) {
			a.g.SMActivePercent = ptr(clamp(100*v, 0, 100))
		}},
		{"DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", nil, VendorNVIDIA, func(a *gpuAcc, _ []string, v float64) { a.mask.set(v) }},

		// trainwatch extras, either vendor.
		{"trainwatch_gpu_up", nil, "", func(a *gpuAcc, _ []string, v float64) {
			// Several answers for one GPU: it is up if any says so.
			if !a.up.ok || v == 1 {
				a.up.set(v)
			}
		}},
		{"trainwatch_gpu_clock_event_active", []string{"reason"}, "", func(a *gpuAcc, l []string, v float64) {
			a.reasonsKnown = true
			if v != 0 && l[0] != "" {
				a.reasons[l[0]] = true
			}
		}},
		{"trainwatch_gpu_xid_events_total", []string{"xid"}, "", func(a *gpuAcc, l []string, v float64) {
			a.g.XIDs[l[0]] += toUint(v)
		}},
		{"trainwatch_gpu_process_memory_bytes", procLabels, "", func(a *gpuAcc, l []string, v float64) {
			a.proc(l).MemoryBytes = toUint(v)
		}},
		{"trainwatch_gpu_process_sm_utilization_percent", procLabels, "", func(a *gpuAcc, l []string, v float64) {
			a.proc(l).SMUtilizationPercent = ptr(clamp(v, 0, 100))
		}},
		{"trainwatch_gpu_process_utilization_percent", procLabels, "", func(a *gpuAcc, l []string, v float64) {
			a.proc(l).UtilizationPercent = ptr(clamp(v, 0, 100))
		}},
	}
}

// computeGPUs reads every GPU once, whichever vendor and families it is
// reported by, keyed by its gpu and UUID labels.
func computeGPUs(h *Host, v *view) {
	series := gpuSeriesList()

	// A series without a UUID label belongs to the GPU of the same index
	// when exactly one UUID is known for that index, so that a GPU is not
	// listed twice.
	uuids := map[string]map[string]bool{}
	for _, sr := range series {
		for _, s := range v.samples(sr.name, gpuIdentLabels...) {
			if s.labels[1] != "" && s.labels[5] == "" {
				if uuids[s.labels[0]] == nil {
					uuids[s.labels[0]] = map[string]bool{}
				}
				uuids[s.labels[0]][s.labels[1]] = true
			}
		}
	}

	gpus := map[gpuKey]*gpuAcc{}
	for _, sr := range series {
		labels := append(append([]string{}, gpuIdentLabels...), sr.extra...)
		for _, s := range v.samples(sr.name, labels...) {
			id, extra := s.labels[:len(gpuIdentLabels)], s.labels[len(gpuIdentLabels):]
			if id[5] != "" || (id[0] == "" && id[1] == "") {
				continue
			}
			k := gpuKey{id[0], id[1]}
			if k.uuid == "" && len(uuids[k.index]) == 1 {
				for u := range uuids[k.index] {
					k.uuid = u
				}
			}
			a := gpus[k]
			if a == nil {
				a = &gpuAcc{
					g:       GPU{Index: k.index, UUID: k.uuid, ThrottleReasons: []string{}, XIDs: map[string]uint64{}, Processes: []GPUProcess{}},
					reasons: map[string]bool{},
					procs:   map[string]*GPUProcess{},
				}
				gpus[k] = a
			}
			// Identity labels: the first non-empty value in family order.
			for _, f := range []struct {
				dst *string
				val string
			}{{&a.g.ModelName, id[2]}, {&a.g.Device, id[3]}, {&a.g.PCIBusID, id[4]}} {
				if *f.dst == "" {
					*f.dst = f.val
				}
			}
			switch sr.vendor {
			case VendorNVIDIA:
				a.nvidia = true
			case VendorAMD:
				a.amd = true
			}
			sr.set(a, extra, s.value)
		}
	}
	for _, a := range gpus {
		h.GPUs = append(h.GPUs, a.finish())
	}
	sort.Slice(h.GPUs, func(i, j int) bool {
		a, b := h.GPUs[i], h.GPUs[j]
		if a.Index != b.Index {
			return naturalLess(a.Index, b.Index)
		}
		return a.UUID < b.UUID
	})
}

// finish combines the series read into the GPU.
func (a *gpuAcc) finish() GPU {
	g := a.g
	g.Vendor = a.vendor()
	g.Up = !a.up.ok || a.up.v == 1

	u64 := func(v float64) *uint64 { x := toUint(v); return &x }
	switch {
	case a.fbUsed.ok || a.fbFree.ok:
		// NVIDIA: total is used + free (the driver's reserved memory is
		// neither), and the percentage is used / (used + free).
		if a.fbUsed.ok {
			g.MemoryUsedBytes = u64(a.fbUsed.v * mib)
		}
		if a.fbFree.ok {
			g.MemoryFreeBytes = u64(a.fbFree.v * mib)
		}
		if a.fbUsed.ok && a.fbFree.ok {
			g.MemoryTotalBytes = u64((a.fbUsed.v + a.fbFree.v) * mib)
			g.MemoryUsedPercent = ptr(percent(a.fbUsed.v, a.fbUsed.v+a.fbFree.v))
		}
	case a.memUsed.ok || a.memTotal.ok:
		// AMD: used / total of VRAM.
		if a.memUsed.ok {
			g.MemoryUsedBytes = u64(a.memUsed.v)
		}
		if a.memTotal.ok {
			g.MemoryTotalBytes = u64(a.memTotal.v)
		}
		if a.memUsed.ok && a.memTotal.ok && a.memTotal.v > 0 {
			g.MemoryFreeBytes = u64(math.Max(a.memTotal.v-a.memUsed.v, 0))
			g.MemoryUsedPercent = ptr(clamp(percent(a.memUsed.v, a.memTotal.v), 0, 100))
		}
	}

	if g.TemperatureCelsius == nil {
		g.TemperatureCelsius = pickTemperature(a.temps)
	}
	if a.mgmtLimit.ok {
		g.PowerLimitWatts = nonNegative(a.mgmtLimit.v)
	} else if a.enforcedLimit.ok {
		g.PowerLimitWatts = nonNegative(a.enforcedLimit.v)
	}

	switch {
	case a.reasonsKnown:
		for r := range a.reasons {
			g.ThrottleReasons = append(g.ThrottleReasons, r)
		}
		sort.Strings(g.ThrottleReasons)
	case a.mask.ok && a.mask.v > 0 && a.mask.v < math.MaxUint64:
		g.ThrottleReasons = decodeClockEventReasons(uint64(a.mask.v))
	}

	for _, n := range g.XIDs {
		g.XIDEventsTotal += n
	}
	for _, p := range a.procs {
		g.Processes = append(g.Processes, *p)
	}
	sortProcesses(g.Processes)
	return g
}

// sortProcesses orders processes by memory, largest first, then by pid.
func sortProcesses(ps []GPUProcess) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.MemoryBytes != b.MemoryBytes {
			return a.MemoryBytes > b.MemoryBytes
		}
		if a.PID != b.PID {
			return a.PID < b.PID
		}
		return a.Command < b.Command
	})
}

// vendor is the GPU's vendor: trainwatch_gpu_info's vendor label, else
// the vendor its series imply, else a guess from its device and model
// names (a lost GPU has only trainwatch_gpu_up).
func (a *gpuAcc) vendor() string {
	switch {
	case a.infoVendor != "":
		return a.infoVendor
	case a.nvidia:
		return VendorNVIDIA
	case a.amd:
		return VendorAMD
	case strings.HasPrefix(a.g.Device, "nvidia") || strings.HasPrefix(a.g.ModelName, "NVIDIA"):
		return VendorNVIDIA
	case strings.HasPrefix(a.g.Device, "card") || strings.HasPrefix(a.g.ModelName, "AMD"):
		return VendorAMD
	}
	return ""
}

// pickTemperature chooses an AMD GPU's temperature: the "edge" sensor (as
// rocm-smi shows by default), else "junction" (the hotspot: MI300X has no
// edge sensor), else the first other sensor that is not the memory's.
func pickTemperature(temps map[string]float64) *float64 {
	for _, s := range []string{"edge", "junction"} {
		if t, ok := temps[s]; ok {
			return ptr(t)
		}
	}
	names := make([]string, 0, len(temps))
	for s := range temps {
		if s != "mem" {
			names = append(names, s)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	return ptr(temps[names[0]])
}
