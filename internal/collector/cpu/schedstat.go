package cpu

import (
	"bytes"
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// schedCPU is one cpuN line of /proc/schedstat: columns 7, 8 and 9.
type schedCPU struct {
	id                 int
	runningNs, waiting uint64
	timeslices         uint64
}

// parseSchedstat parses the cpuN lines of /proc/schedstat (versions 15 to
// 17) into dst; the version, timestamp and domain lines are skipped.
func parseSchedstat(file string, b []byte, dst []schedCPU) ([]schedCPU, error) {
	dst = dst[:0]
	l := hostfs.NewLines(file, b)
	var fields [][]byte
	for l.Next() {
		line := l.Bytes()
		if !bytes.HasPrefix(line, []byte("cpu")) {
			continue
		}
		fields = hostfs.Fields(fields, line)
		id, ok := hostfs.ParseUint(fields[0][3:])
		if !ok {
			return dst, l.Errorf("%q is not a CPU name (expected cpuN)", fields[0])
		}
		if len(fields) < 10 {
			return dst, l.Errorf("%s: expected at least 9 counters, got %d", fields[0], len(fields)-1)
		}
		var v [3]uint64
		for i := range v {
			n, ok := hostfs.ParseUint(fields[7+i])
			if !ok {
				return dst, l.Errorf("%s column %d: %q is not an unsigned integer", fields[0], 7+i, fields[7+i])
			}
			v[i] = n
		}
		dst = append(dst, schedCPU{id: int(id), runningNs: v[0], waiting: v[1], timeslices: v[2]})
	}
	return dst, nil
}

// schedstatCollector is node_exporter's schedstat collector: per-CPU time
// spent running and waiting, and timeslices run.
type schedstatCollector struct {
	roots hostfs.Roots
	path  string

	running, waiting, timeslices *collector.Desc

	ids    numStrings
	labels [][]string
	cpus   []schedCPU
	buf    []byte
}

func newSchedstat(roots hostfs.Roots) *schedstatCollector {
	return &schedstatCollector{
		roots: roots,
		path:  roots.ProcPath("schedstat"),
		running: collector.NewDesc("node_schedstat_running_seconds_total",
			"Number of seconds CPU spent running a process.", collector.Counter, "cpu"),
		waiting: collector.NewDesc("node_schedstat_waiting_seconds_total",
			"Number of seconds spent by processing waiting for this CPU.", collector.Counter, "cpu"),
		timeslices: collector.NewDesc("node_schedstat_timeslices_total",
			"Number of timeslices executed by CPU.", collector.Counter, "cpu"),
	}
}

func (c *schedstatCollector) Name() string { return "schedstat" }

func (c *schedstatCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("%s does not exist (kernel without CONFIG_SCHEDSTATS): %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read scheduler statistics: %w", err)
	}
	c.cpus, err = parseSchedstat(c.path, b, c.cpus)
	if err != nil {
		return err
	}
	for _, s := range c.cpus {
		l := c.label(s.id)
		e.Emit(c.running, float64(s.runningNs)/1e9, l...)
		e.Emit(c.waiting, float64(s.waiting)/1e9, l...)
		e.Emit(c.timeslices, float64(s.timeslices), l...)
	}
	return nil
}

func (c *schedstatCollector) label(id int) []string {
	for len(c.labels) <= id {
		c.labels = append(c.labels, []string{c.ids.get(len(c.labels))})
	}
	return c.labels[id]
}
