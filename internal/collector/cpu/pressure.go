package cpu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// psiTotals are the "total=" values (microseconds) of a pressure file.
type psiTotals struct {
	some, full       uint64
	hasSome, hasFull bool
}

// parsePressure parses a /proc/pressure/<resource> file:
//
//	some avg10=0.00 avg60=0.00 avg300=0.00 total=12345
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=6789
func parsePressure(file string, b []byte) (psiTotals, error) {
	var out psiTotals
	l := hostfs.NewLines(file, b)
	var fields [][]byte
	for l.Next() {
		fields = hostfs.Fields(fields, l.Bytes())
		if len(fields) == 0 {
			continue
		}
		var total *uint64
		switch string(fields[0]) {
		case "some":
			total, out.hasSome = &out.some, true
		case "full":
			total, out.hasFull = &out.full, true
		default:
			return out, l.Errorf("expected a line starting with \"some\" or \"full\", got %q", fields[0])
		}
		found := false
		for _, f := range fields[1:] {
			v, ok := bytes.CutPrefix(f, []byte("total="))
			if !ok {
				continue
			}
			n, ok := hostfs.ParseUint(v)
			if !ok {
				return out, l.Errorf("total: %q is not an unsigned integer", v)
			}
			*total, found = n, true
		}
		if !found {
			return out, l.Errorf("missing total=")
		}
	}
	return out, nil
}

// psiResource is one /proc/pressure file and the series node_exporter
// makes of it: cpu only its "some" line, irq only its "full" line.
type psiResource struct {
	name       string
	path       string
	some, full *collector.Desc
}

// pressureCollector is node_exporter's pressure collector: cumulative
// pressure stall time of CPU, I/O, memory and IRQ, in seconds.
type pressureCollector struct {
	roots     hostfs.Roots
	resources []psiResource
	buf       []byte
}

func newPressure(roots hostfs.Roots) *pressureCollector {
	d := func(name, help string) *collector.Desc {
		return collector.NewDesc("node_pressure_"+name, help, collector.Counter)
	}
	return &pressureCollector{
		roots: roots,
		resources: []psiResource{
			{name: "cpu", path: roots.ProcPath("pressure", "cpu"),
				some: d("cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time")},
			{name: "io", path: roots.ProcPath("pressure", "io"),
				some: d("io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion"),
				full: d("io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion")},
			{name: "memory", path: roots.ProcPath("pressure", "memory"),
				some: d("memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory"),
				full: d("memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion")},
			{name: "irq", path: roots.ProcPath("pressure", "irq"),
				full: d("irq_stalled_seconds_total", "Total time in seconds no process could make progress due to IRQ congestion")},
		},
	}
}

func (c *pressureCollector) Name() string { return "pressure" }

func (c *pressureCollector) Collect(_ context.Context, e *collector.Emitter) error {
	found := 0
	for _, r := range c.resources {
		b, err := c.roots.ReadFile(r.path, c.buf)
		c.buf = b
		if err != nil {
			switch {
			case hostfs.IsNotExist(err):
				// No PSI in this kernel (< 4.20, or < 6.1 for irq).
				continue
			case errors.Is(err, syscall.EOPNOTSUPP):
				return fmt.Errorf("pressure stall information is disabled (boot with psi=1 to enable it): %w", collector.ErrNoData)
			}
			return fmt.Errorf("read %s pressure: %w", r.name, err)
		}
		t, err := parsePressure(r.path, b)
		if err != nil {
			return err
		}
		if r.some != nil {
			if !t.hasSome {
				return &hostfs.ParseError{File: r.path, Line: 1, Text: string(b), Msg: "missing the \"some\" line"}
			}
			e.Emit(r.some, float64(t.some)/1e6)
		}
		if r.full != nil {
			if !t.hasFull {
				return &hostfs.ParseError{File: r.path, Line: 1, Text: string(b), Msg: "missing the \"full\" line"}
			}
			e.Emit(r.full, float64(t.full)/1e6)
		}
		found++
	}
	if found == 0 {
		return fmt.Errorf("no %s (kernel without CONFIG_PSI, or older than 4.20): %w", c.roots.ProcPath("pressure"), collector.ErrNoData)
	}
	return nil
}
