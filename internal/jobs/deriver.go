package jobs

import (
	"sort"
	"strconv"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/process"
)

// TableSource gives the latest process table (process.Scanner does).
type TableSource interface {
	Latest() *process.Table
}

// GPUTopN is how many processes get trainwatch_process_gpu_memory_bytes,
// the ones holding the most GPU memory.
const GPUTopN = 10

// Deriver finds the training jobs of each tick from the latest process
// table and the tick's per-process GPU series, and emits trainwatch_job_*
// and, for the processes holding the most GPU memory,
// trainwatch_process_gpu_memory_bytes{pid,command,user} (the per-process
// view by GPU memory, next to the process collector's views by CPU,
// memory and I/O). It runs after the collectors
// (collector.RunnerOptions.Derivers), so the GPU use is from the same tick.
type Deriver struct {
	src      TableSource
	opts     Options
	descs    *Descs
	gpuMemPr *collector.Desc
}

// NewDeriver returns a Deriver over src.
func NewDeriver(src TableSource, opts Options) *Deriver {
	return &Deriver{src: src, opts: opts, descs: NewDescs(),
		gpuMemPr: collector.NewDesc("trainwatch_process_gpu_memory_bytes",
			"GPU memory held by the process, summed over its GPUs; the processes holding the most only.",
			collector.Gauge, "pid", "command", "user")}
}

// Derive implements collector.Deriver.
func (d *Deriver) Derive(s *collector.Snapshot, e *collector.Emitter) {
	t := d.src.Latest()
	if t == nil {
		return
	}
	uses := GPUUseFromSnapshot(s)
	Emit(Find(t, uses, d.opts), e, d.descs)

	type held struct {
		pid   int
		bytes uint64
	}
	var top []held
	for pid, us := range uses {
		var b uint64
		for _, u := range us {
			b += u.MemoryBytes
		}
		if b > 0 {
			top = append(top, held{pid, b})
		}
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].bytes != top[j].bytes {
			return top[i].bytes > top[j].bytes
		}
		return top[i].pid < top[j].pid
	})
	if len(top) > GPUTopN {
		top = top[:GPUTopN]
	}
	for _, h := range top {
		var command, user string
		if p := t.Procs[h.pid]; p != nil {
			command, user = p.Comm, p.User
		}
		e.Emit(d.gpuMemPr, float64(h.bytes), strconv.Itoa(h.pid), command, user)
	}
}
