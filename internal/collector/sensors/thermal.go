package sensors

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// thermalCollector reads /sys/class/thermal as node_exporter's thermal_zone
// collector: thermal_zone<N>/temp and cooling_device<N>/{cur,max}_state.
// Zone types, policies and modes, and device types and maximum states are
// read at discovery (first tick, then every DiscoveryInterval).
type thermalCollector struct {
	roots    hostfs.Roots
	o        options
	now      clock
	classDir string

	tempDesc     *collector.Desc
	curStateDesc *collector.Desc
	maxStateDesc *collector.Desc

	zones         []thermalZone
	devices       []coolingDevice
	noData        error
	lastDiscovery time.Time
	buf           []byte
}

type thermalZone struct {
	tempPath string
	labels   []string // type, zone
}

type coolingDevice struct {
	curPath  string
	labels   []string // name, type
	maxState float64
}

func newThermal(roots hostfs.Roots, o options) *thermalCollector {
	return &thermalCollector{
		roots:    roots,
		o:        o,
		now:      time.Now,
		classDir: roots.SysPath("class", "thermal"),
		tempDesc: collector.NewDesc("node_thermal_zone_temp",
			"Zone temperature in Celsius", collector.Gauge, "type", "zone"),
		curStateDesc: collector.NewDesc("node_cooling_device_cur_state",
			"Current throttle state of the cooling device", collector.Gauge, "name", "type"),
		maxStateDesc: collector.NewDesc("node_cooling_device_max_state",
			"Maximum throttle state of the cooling device", collector.Gauge, "name", "type"),
	}
}

func (c *thermalCollector) Name() string { return "thermal_zone" }

func (c *thermalCollector) Collect(_ context.Context, e *collector.Emitter) error {
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
		v, err := readInt(c.roots, z.tempPath, &c.buf)
		if err != nil {
			if isParseError(err) {
				return fmt.Errorf("thermal_zone: %w", err)
			}
			continue // ENODATA, EAGAIN, ...: skipped, as node_exporter does
		}
		e.Emit(c.tempDesc, float64(v)/1000.0, z.labels...)
	}
	for _, d := range c.devices {
		v, err := readInt(c.roots, d.curPath, &c.buf)
		if err != nil {
			if isParseError(err) {
				return fmt.Errorf("thermal_zone: %w", err)
			}
			continue
		}
		e.Emit(c.curStateDesc, float64(v), d.labels...)
		e.Emit(c.maxStateDesc, d.maxState, d.labels...)
	}
	return nil
}

const noThermalReason = "no thermal zones or cooling devices under %s: the kernel exposes no thermal drivers " +
	"(on a VM this is normal; on bare metal load e.g. x86_pkg_temp_thermal, intel_powerclamp or the ACPI thermal driver)"

func (c *thermalCollector) discover() error {
	names, err := c.roots.ReadDirNames(c.classDir)
	if err != nil && !hostfs.IsNotExist(err) {
		return fmt.Errorf("thermal_zone: list %s: %w", c.classDir, err)
	}
	sortNumbered(names)
	var zones []thermalZone
	var devices []coolingDevice
	for _, n := range names {
		dir := resolve(filepath.Join(c.classDir, n))
		if id, ok := numbered(n, "thermal_zone"); ok {
			z, ok, err := c.discoverZone(dir, id)
			if err != nil {
				return err
			}
			if ok {
				zones = append(zones, z)
			}
		} else if id, ok := numbered(n, "cooling_device"); ok {
			d, ok, err := c.discoverDevice(dir, id)
			if err != nil {
				return err
			}
			if ok {
				devices = append(devices, d)
			}
		}
	}
	c.zones, c.devices = zones, devices
	c.noData = nil
	if len(zones) == 0 && len(devices) == 0 {
		c.noData = fmt.Errorf(noThermalReason+": %w", c.classDir, collector.ErrNoData)
	}
	return nil
}

// discoverZone reads a zone's mode, type and policy. As prometheus/procfs,
// a disabled zone or one whose files cannot be read is skipped.
func (c *thermalCollector) discoverZone(dir, id string) (thermalZone, bool, error) {
	if mode, err := c.roots.ReadString(filepath.Join(dir, "mode")); err == nil && mode == "disabled" {
		return thermalZone{}, false, nil
	}
	typ, err := c.roots.ReadString(filepath.Join(dir, "type"))
	if err != nil {
		return thermalZone{}, false, nil
	}
	if _, err := c.roots.ReadString(filepath.Join(dir, "policy")); err != nil {
		return thermalZone{}, false, nil
	}
	return thermalZone{
		tempPath: filepath.Join(dir, "temp"),
		labels:   []string{strings.ToValidUTF8(typ, "\uFFFD"), id},
	}, true, nil
}

// discoverDevice reads a cooling device's type and maximum state.
func (c *thermalCollector) discoverDevice(dir, id string) (coolingDevice, bool, error) {
	typ, err := c.roots.ReadString(filepath.Join(dir, "type"))
	if err != nil {
		return coolingDevice{}, false, nil
	}
	maxState, err := c.roots.ReadInt(filepath.Join(dir, "max_state"))
	if err != nil {
		if isParseError(err) {
			return coolingDevice{}, false, fmt.Errorf("thermal_zone: %w", err)
		}
		return coolingDevice{}, false, nil
	}
	return coolingDevice{
		curPath:  filepath.Join(dir, "cur_state"),
		labels:   []string{id, strings.ToValidUTF8(typ, "\uFFFD")},
		maxState: float64(maxState),
	}, true, nil
}

// numbered returns the id of a name made of prefix and a number-led
// suffix ("thermal_zone12" -> "12"), matching the glob prefix[0-9]*.
func numbered(name, prefix string) (string, bool) {
	if !strings.HasPrefix(name, prefix) || len(name) == len(prefix) {
		return "", false
	}
	id := name[len(prefix):]
	if id[0] < '0' || id[0] > '9' {
		return "", false
	}
	return id, true
}

// sortNumbered sorts names by their non-digit prefix, then by their
// trailing number, so that zone10 follows zone9.
func sortNumbered(names []string) {
	sort.Slice(names, func(i, j int) bool {
		pi, ni := splitNumber(names[i])
		pj, nj := splitNumber(names[j])
		if pi != pj {
			return pi < pj
		}
		if ni != nj {
			return ni < nj
		}
		return names[i] < names[j]
	})
}

func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}
