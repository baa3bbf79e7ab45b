//go:build cgo

package nvmlgpu

import (
	"encoding/binary"
	"math"
	"sort"
	"strconv"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// scopeAllLinks asks an NVLink field for the sum over all links.
const scopeAllLinks = math.MaxUint32

// fieldValues reads, in one GetFieldValues call, the memory temperature
// and (when the GPU has active NVLinks) the NVLink throughput and error
// totals.
func (r *reader) fieldValues() {
	g, d := r.g, r.d
	if !r.want(fFieldValues) {
		return
	}
	g.fv = g.fv[:0]
	add := func(id uint32, scope uint32) {
		if t, ok := g.fieldUnsup[id]; ok && r.now.Sub(t) < r.c.cfg.RecheckInterval {
			return
		}
		g.fv = append(g.fv, nvml.FieldValue{FieldId: id, ScopeId: scope})
	}
	add(nvml.FI_DEV_MEMORY_TEMP, 0)
	if g.active > 0 {
		add(nvml.FI_DEV_NVLINK_THROUGHPUT_DATA_TX, scopeAllLinks)
		add(nvml.FI_DEV_NVLINK_THROUGHPUT_DATA_RX, scopeAllLinks)
		add(nvml.FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, 0)
		add(nvml.FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, 0)
		add(nvml.FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, 0)
		add(nvml.FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, 0)
	}
	if len(g.fv) == 0 {
		return
	}
	if !r.ok(fFieldValues, r.dev.GetFieldValues(g.fv)) {
		return
	}
	var tx, rx uint64
	var haveTx, haveRx bool
	for k := range g.fv {
		v := &g.fv[k]
		ret := nvml.Return(v.NvmlReturn)
		switch ret {
		case nvml.SUCCESS:
			delete(g.fieldUnsup, v.FieldId)
		case nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_NO_PERMISSION:
			g.fieldUnsup[v.FieldId] = r.now
			continue
		case nvml.ERROR_GPU_IS_LOST, nvml.ERROR_RESET_REQUIRED:
			panic(lostPanic{ret})
		default:
			continue
		}
		x, ok := fieldNumber(v)
		if !ok {
			continue
		}
		switch v.FieldId {
		case nvml.FI_DEV_MEMORY_TEMP:
			r.emit(d.memTemp, x)
		case nvml.FI_DEV_NVLINK_THROUGHPUT_DATA_TX:
			tx, haveTx = uint64(x), true
			r.emitL(d.nvlinkTx, x*1024, g.tw)
		case nvml.FI_DEV_NVLINK_THROUGHPUT_DATA_RX:
			rx, haveRx = uint64(x), true
			r.emitL(d.nvlinkRx, x*1024, g.tw)
		case nvml.FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL:
			r.emit(d.nvlinkFlit, x)
		case nvml.FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL:
			r.emit(d.nvlinkData, x)
		case nvml.FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL:
			r.emit(d.nvlinkReplay, x)
		case nvml.FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL:
			r.emit(d.nvlinkRecovery, x)
		}
	}
	// DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL is a rate (MB/s) between two reads.
	if haveTx && haveRx {
		prev := g.nvPrev
		g.nvPrev = nvlinkSample{ok: true, tx: tx, rx: rx, at: r.now}
		if secs := r.now.Sub(prev.at).Seconds(); prev.ok && secs > 0 && tx >= prev.tx && rx >= prev.rx {
			r.emit(d.nvlinkBandwidth, float64(tx-prev.tx+rx-prev.rx)/1024/secs)
		}
	} else {
		g.nvPrev = nvlinkSample{}
	}
}

// fieldNumber decodes a field value by its NVML value type.
func fieldNumber(v *nvml.FieldValue) (float64, bool) {
	b := v.Value[:]
	switch nvml.ValueType(v.ValueType) {
	case nvml.VALUE_TYPE_DOUBLE:
		return math.Float64frombits(binary.NativeEndian.Uint64(b)), true
	case nvml.VALUE_TYPE_UNSIGNED_INT:
		return float64(binary.NativeEndian.Uint32(b)), true
	case nvml.VALUE_TYPE_UNSIGNED_LONG, nvml.VALUE_TYPE_UNSIGNED_LONG_LONG:
		return float64(binary.NativeEndian.Uint64(b)), true
	case nvml.VALUE_TYPE_SIGNED_LONG_LONG:
		return float64(int64(binary.NativeEndian.Uint64(b))), true
	case nvml.VALUE_TYPE_SIGNED_INT:
		return float64(int32(binary.NativeEndian.Uint32(b))), true
	case nvml.VALUE_TYPE_UNSIGNED_SHORT:
		return float64(binary.NativeEndian.Uint16(b)), true
	}
	return 0, false
}

// processes emits the GPU's process count and, for the ProcessTopN
// processes using the most GPU memory, their memory and utilisation.
func (r *reader) processes() {
	g, d, cfg := r.g, r.d, &r.c.cfg
	if cfg.ProcessTopN < 0 {
		return
	}
	g.procs = g.procs[:0]
	listed := false
	list := func(f field, get func() ([]nvml.ProcessInfo, nvml.Return)) {
		if !r.want(f) {
			return
		}
		ps, ret := get()
		if !r.ok(f, ret) {
			return
		}
		listed = true
	next:
		for _, p := range ps {
			known := p.UsedGpuMemory != nvmlNotAvailable
			for k := range g.procs {
				e := &g.procs[k]
				if e.pid == p.Pid {
					if known && (!e.memKnown || p.UsedGpuMemory > e.mem) {
						e.mem, e.memKnown = p.UsedGpuMemory, true
					}
					continue next
				}
			}
			e := procEntry{pid: p.Pid, memKnown: known}
			if known {
				e.mem = p.UsedGpuMemory
			}
			g.procs = append(g.procs, e)
		}
	}
	list(fProcCompute, r.dev.GetComputeRunningProcesses)
	list(fProcGraphics, r.dev.GetGraphicsRunningProcesses)
	list(fProcMPS, r.dev.GetMPSComputeRunningProcesses)
	if !listed {
		return
	}
	r.emitL(d.processes, float64(len(g.procs)), g.tw)

	// Forget the names of processes that left.
	for pid := range g.procNames {
		found := false
		for _, p := range g.procs {
			if p.pid == pid {
				found = true
				break
			}
		}
		if !found {
			delete(g.procNames, pid)
		}
	}
	sort.Slice(g.procs, func(a, b int) bool {
		pa, pb := g.procs[a], g.procs[b]
		if pa.mem != pb.mem {
			return pa.mem > pb.mem
		}
		return pa.pid < pb.pid
	})
	top := g.procs
	if len(top) > cfg.ProcessTopN {
		top = top[:cfg.ProcessTopN]
	}
	if len(top) == 0 {
		return
	}

	// Utilisation samples since the last read; a process without a sample
	// used nothing in that time.
	var samples []nvml.ProcessUtilizationSample
	utilOK := false
	if r.want(fProcUtil) {
		s, ret := r.dev.GetProcessUtilization(g.procTs)
		switch {
		case ret == nvml.ERROR_NOT_FOUND, ret == nvml.ERROR_INSUFFICIENT_SIZE && len(s) == 0:
			utilOK = true
		case r.ok(fProcUtil, ret):
			utilOK, samples = true, s
			for _, x := range s {
				g.procTs = max(g.procTs, x.TimeStamp)
			}
		}
	}
	for _, p := range top {
		l := g.procNames[p.pid]
		if l == nil {
			var pl ProcessLabels
			if cfg.Describe != nil {
				pl = cfg.Describe(int(p.pid))
			}
			l = []string{g.idx, g.uuid, strconv.FormatUint(uint64(p.pid), 10),
				pl.Command, pl.User, pl.Container, pl.Pod, pl.Namespace, pl.SlurmJob}
			g.procNames[p.pid] = l
		}
		if p.memKnown {
			r.emitL(d.procMem, float64(p.mem), l)
		}
		if !utilOK {
			continue
		}
		var best *nvml.ProcessUtilizationSample
		for k := range samples {
			if s := &samples[k]; s.Pid == p.pid && (best == nil || s.TimeStamp > best.TimeStamp) {
				best = s
			}
		}
		var sm, mem, enc, dec float64
		if best != nil {
			sm, mem, enc, dec = float64(best.SmUtil), float64(best.MemUtil), float64(best.EncUtil), float64(best.DecUtil)
		}
		r.emitL(d.procSM, sm, l)
		r.emitL(d.procMemUtil, mem, l)
		r.emitL(d.procEnc, enc, l)
		r.emitL(d.procDec, dec, l)
	}
}
