package cpu

import (
	"context"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// statCollector is node_exporter's stat collector: the system-wide counters
// of /proc/stat (boot time, interrupts, context switches, forks, runnable
// and blocked processes).
type statCollector struct {
	stat *statSource

	intr, ctxt, forks, btime, running, blocked *collector.Desc

	cur procStat // the scalars, copied out of the shared parse
}

func newStat(stat *statSource) *statCollector {
	return &statCollector{
		stat: stat,
		intr: collector.NewDesc("node_intr_total",
			"Total number of interrupts serviced.", collector.Counter),
		ctxt: collector.NewDesc("node_context_switches_total",
			"Total number of context switches.", collector.Counter),
		forks: collector.NewDesc("node_forks_total",
			"Total number of forks.", collector.Counter),
		btime: collector.NewDesc("node_boot_time_seconds",
			"Node boot time, in unixtime.", collector.Gauge),
		running: collector.NewDesc("node_procs_running",
			"Number of processes in runnable state.", collector.Gauge),
		blocked: collector.NewDesc("node_procs_blocked",
			"Number of processes blocked waiting for I/O to complete.", collector.Gauge),
	}
}

func (c *statCollector) Name() string { return "stat" }

func (c *statCollector) Collect(_ context.Context, e *collector.Emitter) error {
	err := c.stat.with(func(s *procStat) {
		c.cur = *s
		c.cur.cpus, c.cur.fields = nil, nil // never alias the shared slices
	})
	if err != nil {
		return err
	}
	s := &c.cur
	if s.hasIntr {
		e.Emit(c.intr, float64(s.intr))
	}
	if s.hasCtxt {
		e.Emit(c.ctxt, float64(s.ctxt))
	}
	if s.hasForks {
		e.Emit(c.forks, float64(s.forks))
	}
	if s.hasBtime {
		e.Emit(c.btime, float64(s.btime))
	}
	if s.hasRun {
		e.Emit(c.running, float64(s.running))
	}
	if s.hasBl {
		e.Emit(c.blocked, float64(s.blocked))
	}
	return nil
}
