package jobs

import (
	"sort"
	"strconv"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// GPUUse is one process's use of one GPU, as the GPU collectors report it.
type GPUUse struct {
	// GPU is the gpu label (the device index); UUID the UUID label.
	GPU, UUID string
	// MemoryBytes is trainwatch_gpu_process_memory_bytes (0 when the driver
	// did not report it).
	MemoryBytes uint64
	// SMPercent is trainwatch_gpu_process_sm_utilization_percent (NVIDIA)
	// or, where that is absent, trainwatch_gpu_process_utilization_percent
	// (AMD); 0 without either.
	SMPercent float64
}

// Families GPUUseFromSnapshot reads. Every one carries the per-process labels
// gpu, UUID and pid (plus command, user, container, pod, namespace,
// slurm_job, which Find takes from the process table instead).
const (
	famProcessMemory = "trainwatch_gpu_process_memory_bytes"
	famProcessSM     = "trainwatch_gpu_process_sm_utilization_percent"
	famProcessUtil   = "trainwatch_gpu_process_utilization_percent"
)

// GPUUseFromSnapshot reads the per-process GPU families of s and returns each
// PID's GPU uses, sorted by GPU index. A process appears when any of the
// families has a series for it, so that a process whose memory NVML could not
// report still counts as using the GPU. Series with a missing or malformed
// pid label are skipped. It returns an empty map for a nil snapshot.
func GPUUseFromSnapshot(s *collector.Snapshot) map[int][]GPUUse {
	out := make(map[int][]GPUUse)
	if s == nil {
		return out
	}
	type key struct {
		pid       int
		gpu, uuid string
	}
	uses := make(map[key]*GPUUse)
	hasSM := make(map[key]bool)
	get := func(f *collector.Family, i int) (key, *GPUUse, bool) {
		pid, err := strconv.Atoi(f.Label(i, "pid"))
		if err != nil || pid <= 0 {
			return key{}, nil, false
		}
		k := key{pid, f.Label(i, "gpu"), f.Label(i, "UUID")}
		u := uses[k]
		if u == nil {
			u = &GPUUse{GPU: k.gpu, UUID: k.uuid}
			uses[k] = u
		}
		return k, u, true
	}
	if f := s.Family(famProcessMemory); f != nil {
		for i, smp := range f.Samples {
			if _, u, ok := get(f, i); ok {
				// One series per process and GPU is expected; should a
				// merge of sources repeat one, the largest figure wins.
				u.MemoryBytes = max(u.MemoryBytes, toUint(smp.Value))
			}
		}
	}
	if f := s.Family(famProcessSM); f != nil {
		for i, smp := range f.Samples {
			if k, u, ok := get(f, i); ok {
				u.SMPercent = max(u.SMPercent, nonNegative(smp.Value))
				hasSM[k] = true
			}
		}
	}
	if f := s.Family(famProcessUtil); f != nil {
		for i, smp := range f.Samples {
			if k, u, ok := get(f, i); ok && !hasSM[k] {
				u.SMPercent = max(u.SMPercent, nonNegative(smp.Value))
			}
		}
	}
	for k, u := range uses {
		out[k.pid] = append(out[k.pid], *u)
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool {
			if l[i].GPU != l[j].GPU {
				return LessIndex(l[i].GPU, l[j].GPU)
			}
			return l[i].UUID < l[j].UUID
		})
	}
	return out
}

// toUint converts a gauge value to bytes; negative and NaN values become 0.
func toUint(v float64) uint64 {
	if !(v > 0) {
		return 0
	}
	if v >= 1<<64 {
		return 1<<64 - 1
	}
	return uint64(v)
}

// nonNegative returns v, or 0 for negative and NaN values.
func nonNegative(v float64) float64 {
	if !(v > 0) {
		return 0
	}
	return v
}

// LessIndex orders GPU index labels (and other numeric labels, such as XID
// codes) numerically where both are numbers ("2" < "10"), numbers before
// other strings, and as strings otherwise.
func LessIndex(a, b string) bool {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return x < y
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}
