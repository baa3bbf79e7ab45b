package network

import (
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// softnetCPU is one line of /proc/net/softnet_stat.
type softnetCPU struct {
	cpu                               int
	processed, dropped, squeezed      uint64
	collision, receivedRPS, flowLimit uint64
	backlog                           uint64
}

// softnetCollector reads /proc/net/softnet_stat as node_exporter's softnet
// collector.
type softnetCollector struct {
	roots  hostfs.Roots
	path   string
	buf    []byte
	fields [][]byte
	cpus   []softnetCPU
	labels cpuLabels

	processed, dropped, squeezed, collision, receivedRPS, flowLimit, backlog *collector.Desc
}

func newSoftnet(roots hostfs.Roots) *softnetCollector {
	d := func(name, help string, t collector.ValueType) *collector.Desc {
		return collector.NewDesc("node_softnet_"+name, help, t, "cpu")
	}
	return &softnetCollector{
		roots:       roots,
		path:        roots.ProcPath("net", "softnet_stat"),
		processed:   d("processed_total", "Number of processed packets", collector.Counter),
		dropped:     d("dropped_total", "Number of dropped packets", collector.Counter),
		squeezed:    d("times_squeezed_total", "Number of times processing packets ran out of quota", collector.Counter),
		collision:   d("cpu_collision_total", "Number of collision occur while obtaining device lock while transmitting", collector.Counter),
		receivedRPS: d("received_rps_total", "Number of times cpu woken up received_rps", collector.Counter),
		flowLimit:   d("flow_limit_count_total", "Number of times flow limit has been reached", collector.Counter),
		backlog:     d("backlog_len", "Softnet backlog status", collector.Gauge),
	}
}

func (c *softnetCollector) Name() string { return "softnet" }

func (c *softnetCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("softnet: %s does not exist: %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read softnet statistics: %w", err)
	}
	if err := c.parse(c.path, b); err != nil {
		return err
	}
	for _, s := range c.cpus {
		l := c.labels.get(s.cpu)
		e.Emit(c.processed, float64(s.processed), l...)
		e.Emit(c.dropped, float64(s.dropped), l...)
		e.Emit(c.squeezed, float64(s.squeezed), l...)
		e.Emit(c.collision, float64(s.collision), l...)
		e.Emit(c.receivedRPS, float64(s.receivedRPS), l...)
		e.Emit(c.flowLimit, float64(s.flowLimit), l...)
		e.Emit(c.backlog, float64(s.backlog), l...)
	}
	return nil
}

// parse reads the hexadecimal columns of each line into c.cpus. Columns:
// processed, dropped, time_squeeze, five unused, cpu_collision (Linux
// 2.6.23, 9 columns), received_rps (2.6.39), flow_limit_count (3.11),
// backlog length and CPU id (5.10); later columns are ignored. Without the
// CPU id column the line number (from 0) is the CPU, as in procfs.
func (c *softnetCollector) parse(file string, b []byte) error {
	c.cpus = c.cpus[:0]
	l := hostfs.NewLines(file, b)
	for l.Next() {
		c.fields = hostfs.Fields(c.fields, l.Bytes())
		if len(c.fields) == 0 {
			continue
		}
		if len(c.fields) < 9 {
			return l.Errorf("expected at least 9 columns, got %d", len(c.fields))
		}
		var v [13]uint64
		n := min(len(c.fields), len(v))
		for i := 0; i < n; i++ {
			x, ok := parseHex(c.fields[i])
			if !ok {
				return l.Errorf("column %d: %q is not a hexadecimal number", i+1, c.fields[i])
			}
			v[i] = x
		}
		cpu := len(c.cpus)
		if n >= 13 {
			cpu = int(v[12])
		}
		if cpu >= 1<<16 {
			return l.Errorf("CPU id %d out of range", cpu)
		}
		c.cpus = append(c.cpus, softnetCPU{
			cpu: cpu, processed: v[0], dropped: v[1], squeezed: v[2], collision: v[8],
			receivedRPS: v[9], flowLimit: v[10], backlog: v[11],
		})
	}
	return nil
}
