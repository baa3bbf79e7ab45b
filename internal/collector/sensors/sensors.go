// Package sensors provides the hardware sensor collectors, named and shaped
// as node_exporter's: hwmon (/sys/class/hwmon temperatures, fans, voltages,
// currents, power and energy), thermal_zone (/sys/class/thermal zones and
// cooling devices), powersupplyclass (/sys/class/power_supply) and rapl
// (/sys/class/powercap energy counters).
//
// Sensor chips can be slow to read: an NVMe drive answers each threshold
// attribute (temp1_min, temp1_max, ...) with an admin command that can take
// seconds. The collectors therefore read only the changing values (*_input,
// alarms) every tick; thresholds, labels and the list of chips are read at
// discovery and then every Config.ThresholdInterval and
// Config.DiscoveryInterval, and served from a cache in between.
//
// Collect does not stop at the tick's deadline: the Runner keeps a late
// collector's result as its last good values, whereas a discovery cut
// short would start over, and be cut short again, at every tick.
package sensors

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// DefaultInterval is the default of Config.ThresholdInterval and
// Config.DiscoveryInterval.
const DefaultInterval = time.Minute

// Config holds the options of this package's collectors. The zero value
// gives node_exporter's defaults.
type Config struct {
	// ChipInclude, when set, is a regular expression (unanchored, as
	// node_exporter's --collector.hwmon.chip-include) that a hwmon chip
	// label such as "platform_coretemp_0" must match to be collected.
	ChipInclude string `yaml:"chip_include"`
	// ChipExclude is a regular expression of hwmon chip labels to skip
	// (node_exporter's --collector.hwmon.chip-exclude). At most one of
	// ChipInclude and ChipExclude may be set.
	ChipExclude string `yaml:"chip_exclude"`
	// SensorInclude is a regular expression matched against
	// "<chip>;<sensor>", for example "platform_coretemp_0;temp1"
	// (node_exporter's --collector.hwmon.sensor-include).
	SensorInclude string `yaml:"sensor_include"`
	// SensorExclude is the exclude counterpart of SensorInclude. At most one
	// of SensorInclude and SensorExclude may be set.
	SensorExclude string `yaml:"sensor_exclude"`

	// ThresholdInterval is how often hwmon thresholds (*_min, *_max,
	// *_crit, *_crit_hyst, ...), settings and sensor labels are re-read;
	// in between their cached values are served. Default 1m.
	ThresholdInterval time.Duration `yaml:"threshold_interval"`
	// DiscoveryInterval is how often the collectors list hwmon chips,
	// thermal zones, power supplies and RAPL zones again, so that drivers
	// loaded later are picked up. Default 1m.
	DiscoveryInterval time.Duration `yaml:"discovery_interval"`

	// PowerSupplyIgnored is a regular expression of power supply names to
	// skip (node_exporter's --collector.powersupply.ignored-supplies).
	PowerSupplyIgnored string `yaml:"powersupply_ignored_supplies"`

	// RaplZoneLabel emits node_rapl_joules_total{index,path,rapl_zone}
	// instead of one node_rapl_<zone>_joules_total family per zone name
	// (node_exporter's --collector.rapl.enable-zone-label).
	RaplZoneLabel bool `yaml:"rapl_enable_zone_label"`
}

// filter is an include or exclude regular expression, as node_exporter's
// deviceFilter: a name is ignored when it matches the exclude expression or
// does not match the include expression.
type filter struct {
	include *regexp.Regexp
	exclude *regexp.Regexp
}

func (f filter) ignored(name string) bool {
	return (f.exclude != nil && f.exclude.MatchString(name)) ||
		(f.include != nil && !f.include.MatchString(name))
}

// describe says which expression is set, for error messages.
func (f filter) describe(what string) string {
	switch {
	case f.include != nil:
		return fmt.Sprintf("%s_include %q", what, f.include.String())
	case f.exclude != nil:
		return fmt.Sprintf("%s_exclude %q", what, f.exclude.String())
	}
	return "no filter"
}

func newFilter(what, include, exclude string) (filter, error) {
	var f filter
	if include != "" && exclude != "" {
		return f, fmt.Errorf("%s_include and %s_exclude are mutually exclusive; set only one of them", what, what)
	}
	var err error
	if include != "" {
		if f.include, err = regexp.Compile(include); err != nil {
			return f, fmt.Errorf("%s_include %q is not a valid regular expression (Go RE2 syntax): %w", what, include, err)
		}
	}
	if exclude != "" {
		if f.exclude, err = regexp.Compile(exclude); err != nil {
			return f, fmt.Errorf("%s_exclude %q is not a valid regular expression (Go RE2 syntax): %w", what, exclude, err)
		}
	}
	return f, nil
}

// options is Config validated and with defaults applied.
type options struct {
	chips         filter
	sensors       filter
	supplies      filter
	thresholdIntv time.Duration
	discoverIntv  time.Duration
	raplZoneLabel bool
}

func (cfg Config) options() (options, error) {
	var o options
	var err error
	if o.chips, err = newFilter("chip", cfg.ChipInclude, cfg.ChipExclude); err != nil {
		return o, err
	}
	if o.sensors, err = newFilter("sensor", cfg.SensorInclude, cfg.SensorExclude); err != nil {
		return o, err
	}
	if o.supplies, err = newFilter("powersupply_ignored_supplies", "", cfg.PowerSupplyIgnored); err != nil {
		return o, err
	}
	if o.thresholdIntv, err = interval("threshold_interval", cfg.ThresholdInterval); err != nil {
		return o, err
	}
	if o.discoverIntv, err = interval("discovery_interval", cfg.DiscoveryInterval); err != nil {
		return o, err
	}
	o.raplZoneLabel = cfg.RaplZoneLabel
	return o, nil
}

func interval(name string, d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, fmt.Errorf("%s is %s; it must be positive (for example 1m), or 0 for the default of %s", name, d, DefaultInterval)
	case d == 0:
		return DefaultInterval, nil
	}
	return d, nil
}

// New returns this package's collectors (hwmon, thermal_zone,
// powersupplyclass, rapl) reading under roots. It reads nothing yet: each
// collector discovers its devices on its first Collect.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	o, err := cfg.options()
	if err != nil {
		return nil, err
	}
	return []collector.Collector{
		newHwmon(roots, o),
		newThermal(roots, o),
		newPowerSupply(roots, o),
		newRapl(roots, o),
	}, nil
}

// clock is time.Now; collectors keep it in a field so that tests can move
// time forward.
type clock func() time.Time

// due reports whether a periodic read last done at last is due at now.
func due(last, now time.Time, every time.Duration) bool {
	return last.IsZero() || now.Sub(last) >= every || now.Before(last)
}

// transient reports whether a failed sysfs read may succeed later (the
// sensor is busy, asleep or not connected right now), as opposed to a file
// that can never be read (a directory, write-only or gone).
func transient(err error) bool {
	switch {
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EACCES),
		errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOENT),
		errors.Is(err, syscall.ENOTDIR):
		return false
	}
	return true
}

// isParseError reports whether err is a malformed value (as opposed to a
// failed read).
func isParseError(err error) bool {
	var pe *hostfs.ParseError
	return errors.As(err, &pe)
}

// readInt reads a sysfs attribute holding one integer, reusing *buf (the
// hostfs.Roots.ReadInt helper allocates a page per call).
func readInt(roots hostfs.Roots, path string, buf *[]byte) (int64, error) {
	b, err := roots.ReadFile(path, *buf)
	*buf = b
	if err != nil {
		return 0, err
	}
	t := bytes.TrimSpace(b)
	v, ok := parseInt64(t)
	if !ok {
		return 0, &hostfs.ParseError{File: path, Line: 1, Text: string(t), Msg: "expected an integer"}
	}
	return v, nil
}

// readUint reads a sysfs attribute holding one unsigned integer, reusing
// *buf.
func readUint(roots hostfs.Roots, path string, buf *[]byte) (uint64, error) {
	b, err := roots.ReadFile(path, *buf)
	*buf = b
	if err != nil {
		return 0, err
	}
	t := bytes.TrimSpace(b)
	v, ok := hostfs.ParseUint(t)
	if !ok {
		return 0, &hostfs.ParseError{File: path, Line: 1, Text: string(t), Msg: "expected an unsigned integer"}
	}
	return v, nil
}

// resolve returns dir with its symbolic links resolved, or dir itself when
// that fails. Attribute paths are built on the resolved directory at
// discovery so that the kernel does not walk the /sys/class/... link on
// every open.
func resolve(dir string) string {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return r
	}
	return dir
}
