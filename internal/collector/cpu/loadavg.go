package cpu

import (
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// loadavgCollector reads /proc/loadavg as node_exporter's loadavg collector.
type loadavgCollector struct {
	roots hostfs.Roots
	path  string
	buf   []byte
	descs [3]*collector.Desc
}

func newLoadavg(roots hostfs.Roots) *loadavgCollector {
	return &loadavgCollector{
		roots: roots,
		path:  roots.ProcPath("loadavg"),
		descs: [3]*collector.Desc{
			collector.NewDesc("node_load1", "1m load average.", collector.Gauge),
			collector.NewDesc("node_load5", "5m load average.", collector.Gauge),
			collector.NewDesc("node_load15", "15m load average.", collector.Gauge),
		},
	}
}

func (c *loadavgCollector) Name() string { return "loadavg" }

func (c *loadavgCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		return fmt.Errorf("read load average: %w", err)
	}
	loads, err := parseLoadavg(c.path, b)
	if err != nil {
		return err
	}
	for i, d := range c.descs {
		e.Emit(d, loads[i])
	}
	return nil
}

// parseLoadavg parses the first three fields of /proc/loadavg.
func parseLoadavg(file string, b []byte) ([3]float64, error) {
	var out [3]float64
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return out, &hostfs.ParseError{File: file, Line: 1, Msg: "empty file; expected three load averages"}
	}
	f := hostfs.Fields(nil, l.Bytes())
	if len(f) < 3 {
		return out, l.Errorf("expected at least 3 fields, got %d", len(f))
	}
	for i := 0; i < 3; i++ {
		v, ok := hostfs.ParseFloat(f[i])
		if !ok {
			return out, l.Errorf("field %d: %q is not a number", i+1, f[i])
		}
		out[i] = v
	}
	return out, nil
}
