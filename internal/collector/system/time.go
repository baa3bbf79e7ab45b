package system

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// clocksource is one devices/system/clocksource/clocksourceN directory.
type clocksource struct {
	availablePath, currentPath string
	device                     string

	rawAvailable, rawCurrent []byte
	availableLabels          [][]string
	currentLabels            []string
}

// timeCollector is node_exporter's time collector: the system time, the
// local time zone's offset, and the kernel's clock sources.
type timeCollector struct {
	roots hostfs.Roots
	now   func() time.Time
	dir   string

	nowDesc, zoneDesc, availableDesc, currentDesc *collector.Desc

	sources    []*clocksource
	listed     bool
	zoneName   string
	zoneLabels []string
	buf, buf2  []byte
}

func newTime(roots hostfs.Roots, now func() time.Time) *timeCollector {
	return &timeCollector{
		roots: roots,
		now:   now,
		dir:   roots.SysPath("devices", "system", "clocksource"),
		nowDesc: collector.NewDesc("node_time_seconds",
			"System time in seconds since epoch (1970).", collector.Gauge),
		zoneDesc: collector.NewDesc("node_time_zone_offset_seconds",
			"System time zone offset in seconds.", collector.Gauge, "time_zone"),
		availableDesc: collector.NewDesc("node_time_clocksource_available_info",
			"Available clocksources read from '/sys/devices/system/clocksource'.", collector.Gauge, "device", "clocksource"),
		currentDesc: collector.NewDesc("node_time_clocksource_current_info",
			"Current clocksource read from '/sys/devices/system/clocksource'.", collector.Gauge, "device", "clocksource"),
	}
}

func (c *timeCollector) Name() string { return "time" }

func (c *timeCollector) Collect(_ context.Context, e *collector.Emitter) error {
	now := c.now()
	e.Emit(c.nowDesc, float64(now.UnixNano())/1e9)
	zone, offset := now.Zone()
	if c.zoneLabels == nil || zone != c.zoneName {
		c.zoneName, c.zoneLabels = zone, []string{zone}
	}
	e.Emit(c.zoneDesc, float64(offset), c.zoneLabels...)
	return c.collectClocksources(e)
}

// collectClocksources emits the clock sources. The directories are listed
// once (they never change while the system runs); a machine without them
// (an old kernel, a fixture without sys) only lacks these series.
func (c *timeCollector) collectClocksources(e *collector.Emitter) error {
	if !c.listed {
		names, err := c.roots.ReadDirNames(c.dir)
		if err != nil && !hostfs.IsNotExist(err) {
			return fmt.Errorf("list clock sources: %w", err)
		}
		sort.Strings(names)
		c.sources = c.sources[:0]
		for _, n := range names {
			if !strings.HasPrefix(n, "clocksource") {
				continue
			}
			if _, ok := hostfs.ParseUint([]byte(n[len("clocksource"):])); !ok {
				continue
			}
			c.sources = append(c.sources, &clocksource{
				// node_exporter numbers the devices by their position in
				// the sorted listing.
				device:        strconv.Itoa(len(c.sources)),
				availablePath: c.roots.SysPath("devices", "system", "clocksource", n, "available_clocksource"),
				currentPath:   c.roots.SysPath("devices", "system", "clocksource", n, "current_clocksource"),
			})
		}
		c.listed = true
	}
	for _, s := range c.sources {
		avail, err := c.roots.ReadFile(s.availablePath, c.buf)
		c.buf = avail
		if err != nil {
			c.listed = false
			return fmt.Errorf("read available clock sources: %w", err)
		}
		cur, err := c.roots.ReadFile(s.currentPath, c.buf2)
		c.buf2 = cur
		if err != nil {
			c.listed = false
			return fmt.Errorf("read current clock source: %w", err)
		}
		avail, cur = bytes.TrimSpace(avail), bytes.TrimSpace(cur)
		if s.availableLabels == nil || !bytes.Equal(avail, s.rawAvailable) {
			s.rawAvailable = append(s.rawAvailable[:0], avail...)
			s.availableLabels = s.availableLabels[:0]
			for _, f := range hostfs.Fields(nil, avail) {
				s.availableLabels = append(s.availableLabels, []string{s.device, string(f)})
			}
		}
		if s.currentLabels == nil || !bytes.Equal(cur, s.rawCurrent) {
			s.rawCurrent = append(s.rawCurrent[:0], cur...)
			s.currentLabels = []string{s.device, string(cur)}
		}
		for _, l := range s.availableLabels {
			e.Emit(c.availableDesc, 1, l...)
		}
		e.Emit(c.currentDesc, 1, s.currentLabels...)
	}
	return nil
}
