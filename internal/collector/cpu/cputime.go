package cpu

import (
	"bytes"
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// jumpBackTicks is node_exporter's hotplug heuristic: when a CPU's idle time
// goes back by 3 s or more, its counters restarted and the remembered
// values are dropped.
const jumpBackTicks = 3 * userHZ

// The modes of node_cpu_seconds_total, in node_exporter's emission order,
// and the /proc/stat column each comes from.
var cpuModes = [...]struct {
	name string
	col  int
}{
	{"user", colUser}, {"nice", colNice}, {"system", colSystem}, {"idle", colIdle},
	{"iowait", colIOWait}, {"irq", colIRQ}, {"softirq", colSoftIRQ}, {"steal", colSteal},
}

// cpuSeries holds one CPU's label values (made once) and its last emitted
// counters.
type cpuSeries struct {
	modes [len(cpuModes)][]string
	guest [2][]string
	one   []string
	last  [numCols]uint64
	seen  bool
}

// cpuCollector is node_exporter's cpu collector without /proc/cpuinfo:
// per-CPU times from /proc/stat, online and isolated CPUs from sysfs.
type cpuCollector struct {
	roots hostfs.Roots
	stat  *statSource
	guest bool

	secondsDesc, guestDesc, onlineDesc, isolatedDesc *collector.Desc

	lister       *cpuLister
	isolatedPath string
	onlinePaths  []string
	ids          numStrings
	series       []*cpuSeries // by CPU number
	cur          []cpuTimes
	buf          []byte

	isolatedDone bool
	isolated     []int
}

func newCPU(roots hostfs.Roots, stat *statSource, guest bool) *cpuCollector {
	return &cpuCollector{
		roots: roots,
		stat:  stat,
		guest: guest,
		secondsDesc: collector.NewDesc("node_cpu_seconds_total",
			"Seconds the CPUs spent in each mode.", collector.Counter, "cpu", "mode"),
		guestDesc: collector.NewDesc("node_cpu_guest_seconds_total",
			"Seconds the CPUs spent in guests (VMs) for each mode.", collector.Counter, "cpu", "mode"),
		onlineDesc: collector.NewDesc("node_cpu_online",
			"CPUs that are online and being scheduled.", collector.Gauge, "cpu"),
		isolatedDesc: collector.NewDesc("node_cpu_isolated",
			"Whether each core is isolated, information from /sys/devices/system/cpu/isolated.", collector.Gauge, "cpu"),
		lister:       newCPULister(roots),
		isolatedPath: roots.SysPath("devices", "system", "cpu", "isolated"),
	}
}

func (c *cpuCollector) Name() string { return "cpu" }

func (c *cpuCollector) Collect(_ context.Context, e *collector.Emitter) error {
	err := c.stat.with(func(s *procStat) {
		c.cur = append(c.cur[:0], s.cpus...)
	})
	if err != nil {
		return err
	}
	for _, ct := range c.cur {
		s := c.seriesFor(ct.id)
		t := s.update(&ct.t)
		for i, m := range cpuModes {
			e.Emit(c.secondsDesc, float64(t[m.col])/userHZ, s.modes[i]...)
		}
		if c.guest {
			// Guest time is also counted in user and nice.
			e.Emit(c.guestDesc, float64(t[colGuest])/userHZ, s.guest[0]...)
			e.Emit(c.guestDesc, float64(t[colGuestNice])/userHZ, s.guest[1]...)
		}
	}
	if err := c.collectOnline(e); err != nil {
		return err
	}
	return c.collectIsolated(e)
}

// update applies node_exporter's guard against counters going backwards and
// returns the values to emit.
func (s *cpuSeries) update(t *[numCols]uint64) *[numCols]uint64 {
	if s.seen && s.last[colIdle] >= t[colIdle]+jumpBackTicks {
		s.last = [numCols]uint64{}
	}
	for i, v := range t {
		if v >= s.last[i] {
			s.last[i] = v
		}
	}
	s.seen = true
	return &s.last
}

func (c *cpuCollector) seriesFor(id int) *cpuSeries {
	for len(c.series) <= id {
		c.series = append(c.series, nil)
	}
	if s := c.series[id]; s != nil {
		return s
	}
	cpu := c.ids.get(id)
	s := &cpuSeries{one: []string{cpu}}
	for i, m := range cpuModes {
		s.modes[i] = []string{cpu, m.name}
	}
	s.guest = [2][]string{{cpu, "user"}, {cpu, "nice"}}
	c.series[id] = s
	return s
}

// collectOnline emits node_cpu_online from cpuN/online. Like node_exporter
// it emits nothing when cpu0 has no online file (a kernel that cannot take
// CPUs offline); an unreadable file of another CPU counts as offline.
func (c *cpuCollector) collectOnline(e *collector.Emitter) error {
	dirs, ok, err := c.lister.list()
	if err != nil {
		return fmt.Errorf("list CPUs: %w", err)
	}
	if !ok || len(dirs) == 0 {
		return nil
	}
	for i, id := range dirs {
		b, err := c.roots.ReadFile(c.onlinePath(id), c.buf)
		c.buf = b
		if err != nil && i == 0 && hostfs.IsNotExist(err) {
			return nil
		}
		v := 0.0
		if err == nil && string(bytes.TrimSpace(b)) == "1" {
			v = 1
		}
		e.Emit(c.onlineDesc, v, c.seriesFor(id).one...)
	}
	return nil
}

func (c *cpuCollector) onlinePath(id int) string {
	for len(c.onlinePaths) <= id {
		c.onlinePaths = append(c.onlinePaths, "")
	}
	if c.onlinePaths[id] == "" {
		c.onlinePaths[id] = c.roots.SysPath("devices", "system", "cpu", "cpu"+c.ids.get(id), "online")
	}
	return c.onlinePaths[id]
}

// collectIsolated emits node_cpu_isolated for the CPUs listed in
// devices/system/cpu/isolated, which node_exporter reads once at start.
func (c *cpuCollector) collectIsolated(e *collector.Emitter) error {
	if !c.isolatedDone {
		b, err := c.roots.ReadFile(c.isolatedPath, nil)
		switch {
		case err == nil:
			list, err := parseCPUList(c.isolatedPath, b)
			if err != nil {
				return err
			}
			c.isolated = list
		case !hostfs.IsNotExist(err):
			return fmt.Errorf("read isolated CPUs: %w", err)
		}
		c.isolatedDone = true
	}
	for _, id := range c.isolated {
		e.Emit(c.isolatedDesc, 1, c.seriesFor(id).one...)
	}
	return nil
}

// parseCPUList parses a kernel CPU list such as "0-3,8,10-11".
func parseCPUList(file string, b []byte) ([]int, error) {
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return nil, nil
	}
	line := bytes.TrimSpace(l.Bytes())
	var out []int
	for len(line) > 0 {
		part := line
		if i := bytes.IndexByte(line, ','); i >= 0 {
			part, line = line[:i], line[i+1:]
		} else {
			line = nil
		}
		if len(part) == 0 {
			continue
		}
		lo, hi := part, part
		if i := bytes.IndexByte(part, '-'); i >= 0 {
			lo, hi = part[:i], part[i+1:]
		}
		a, ok1 := hostfs.ParseUint(lo)
		b, ok2 := hostfs.ParseUint(hi)
		if !ok1 || !ok2 || b < a || b-a > 1<<16 {
			return nil, l.Errorf("%q is not a CPU number or range", part)
		}
		for n := a; n <= b; n++ {
			out = append(out, int(n))
		}
	}
	return out, nil
}
