package sensors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// raplCollector reads the RAPL energy counters under /sys/class/powercap as
// node_exporter's rapl collector: every zone directory with a "name" file
// (intel-rapl:0 "package-0", intel-rapl:0:0 "core", ..., also on AMD
// CPUs) gives node_rapl_<name>_joules_total{index,path}. The zones are
// listed at discovery (first tick, then every DiscoveryInterval); energy_uj
// is read every tick.
type raplCollector struct {
	roots    hostfs.Roots
	o        options
	now      clock
	classDir string

	zoneDesc *collector.Desc            // node_rapl_joules_total, with RaplZoneLabel
	descs    map[string]*collector.Desc // by zone name, without it

	zones         []raplZone
	noData        error
	lastDiscovery time.Time
	buf           []byte
}

type raplZone struct {
	energyPath string
	desc       *collector.Desc
	labels     []string // index, path[, rapl_zone]
}

func newRapl(roots hostfs.Roots, o options) *raplCollector {
	return &raplCollector{
		roots:    roots,
		o:        o,
		now:      time.Now,
		classDir: roots.SysPath("class", "powercap"),
		zoneDesc: collector.NewDesc("node_rapl_joules_total", "Current RAPL value in joules",
			collector.Counter, "index", "path", "rapl_zone"),
		descs: make(map[string]*collector.Desc),
	}
}

func (c *raplCollector) Name() string { return "rapl" }

// raplRootReason explains an unreadable energy counter.
const raplRootReason = "%s is readable only by root (Linux 5.10 and later restrict RAPL energy counters, CVE-2020-8694): " +
	"run trainwatch as root or give it CAP_DAC_READ_SEARCH: %w"

func (c *raplCollector) Collect(_ context.Context, e *collector.Emitter) error {
	now := c.now()
	if due(c.lastDiscovery, now, c.o.discoverIntv) {
		if err := c.discover(); err != nil {
			return err
		}
		c.lastDiscovery = now
	}
	if c.noData != nil {
		return c.noData
	}
	for _, z := range c.zones {
		uj, err := readUint(c.roots, z.energyPath, &c.buf)
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				// Stays so until the next discovery, without a failed read
				// every tick.
				c.noData = fmt.Errorf(raplRootReason, z.energyPath, collector.ErrNoData)
				return c.noData
			}
			return fmt.Errorf("rapl: read energy counter: %w", err)
		}
		e.Emit(z.desc, float64(uj)/1000000.0, z.labels...)
	}
	return nil
}

const noRaplReason = "no RAPL energy counters under %s: the CPU has no RAPL or the intel_rapl_msr driver is not loaded " +
	"(VMs do not expose RAPL; on bare metal run modprobe intel_rapl_msr)"

func (c *raplCollector) discover() error {
	names, err := c.roots.ReadDirNames(c.classDir)
	if err != nil {
		if hostfs.IsNotExist(err) {
			c.zones = nil
			c.noData = fmt.Errorf(noRaplReason+": %w", c.classDir, collector.ErrNoData)
			return nil
		}
		return fmt.Errorf("rapl: list zones: %w", err)
	}
	sort.Strings(names) // the order prometheus/procfs counts duplicate names in
	var zones []raplZone
	uses := make(map[string]int)
	for _, n := range names {
		dir := resolve(filepath.Join(c.classDir, n))
		name, err := c.roots.ReadString(filepath.Join(dir, "name"))
		if err != nil {
			continue // not a zone (the intel-rapl control type has no name)
		}
		index, name := raplIndexAndName(uses, name)
		uses[name] = index + 1
		// A zone without an energy counter (a DTPM zone) is skipped.
		if _, err := c.roots.ReadUint(filepath.Join(dir, "max_energy_range_uj")); err != nil {
			switch {
			case errors.Is(err, os.ErrNotExist):
				continue
			case errors.Is(err, os.ErrPermission):
				c.zones = nil
				c.noData = fmt.Errorf(raplRootReason, filepath.Join(dir, "max_energy_range_uj"), collector.ErrNoData)
				return nil
			}
			return fmt.Errorf("rapl: %w", err)
		}
		// The path label is the zone's path on the host, whatever the
		// sysfs root trainwatch reads it under.
		labels := []string{strconv.Itoa(index), "/sys/class/powercap/" + n}
		z := raplZone{energyPath: filepath.Join(dir, "energy_uj"), labels: labels}
		if c.o.raplZoneLabel {
			z.desc = c.zoneDesc
			z.labels = append(labels, name)
		} else {
			z.desc = c.desc(name)
		}
		zones = append(zones, z)
	}
	c.zones = zones
	c.noData = nil
	if len(zones) == 0 {
		c.noData = fmt.Errorf(noRaplReason+": %w", c.classDir, collector.ErrNoData)
	}
	return nil
}

func (c *raplCollector) desc(zone string) *collector.Desc {
	if d, ok := c.descs[zone]; ok {
		return d
	}
	d := collector.NewDesc("node_rapl_"+sanitizeMetricName(zone)+"_joules_total",
		"Current RAPL "+zone+" value in joules", collector.Counter, "index", "path")
	c.descs[zone] = d
	return d
}

// raplIndexAndName splits a zone name as prometheus/procfs does: a name
// "<base>-<number>" gives (number, base); any other name gives the number
// of earlier zones of that name (uses) and the name itself.
func raplIndexAndName(uses map[string]int, name string) (int, string) {
	if s := strings.Split(name, "-"); len(s) == 2 {
		if i, err := strconv.Atoi(s[1]); err == nil {
			return i, s[0]
		}
	}
	return uses[name], name
}

// sanitizeMetricName replaces every run of characters outside [0-9A-Za-z_],
// with the underscores around it, by one "_", as node_exporter's
// SanitizeMetricName (the expression _*[^0-9A-Za-z_]+_*).
func sanitizeMetricName(s string) string {
	valid := func(b byte) bool {
		return b == '_' || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
	}
	var out strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == '_' {
			j++
		}
		if j < len(s) && !valid(s[j]) {
			for j < len(s) && !valid(s[j]) {
				j++
			}
			for j < len(s) && s[j] == '_' {
				j++
			}
			out.WriteByte('_')
			i = j
			continue
		}
		out.WriteByte(s[i])
		i++
	}
	return out.String()
}
