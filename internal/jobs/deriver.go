package jobs

import (
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/process"
)

// TableSource gives the latest process table (process.Scanner does).
type TableSource interface {
	Latest() *process.Table
}

// Deriver finds the training jobs of each tick from the latest process
// table and the tick's per-process GPU series, and emits trainwatch_job_*.
// It runs after the collectors (collector.RunnerOptions.Derivers), so the
// GPU use it attributes is from the same tick.
type Deriver struct {
	src   TableSource
	opts  Options
	descs *Descs
}

// NewDeriver returns a Deriver over src.
func NewDeriver(src TableSource, opts Options) *Deriver {
	return &Deriver{src: src, opts: opts, descs: NewDescs()}
}

// Derive implements collector.Deriver.
func (d *Deriver) Derive(s *collector.Snapshot, e *collector.Emitter) {
	t := d.src.Latest()
	if t == nil {
		return
	}
	Emit(Find(t, GPUUseFromSnapshot(s), d.opts), e, d.descs)
}
