// Package disk provides the diskstats collector, named and shaped as
// node_exporter's: the block device counters of /proc/diskstats and
// node_disk_info from sysfs (/sys/block/<device>), without udev.
package disk

import (
	"fmt"
	"regexp"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// DefaultDeviceExclude is node_exporter's default
// --collector.diskstats.device-exclude: partitions, RAM disks, loop and
// floppy devices.
const DefaultDeviceExclude = `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`

// Config holds the options of the diskstats collector. The zero value gives
// node_exporter's defaults. Regular expressions use Go's RE2 syntax and are
// not anchored unless they say so.
type Config struct {
	// DeviceExclude drops the devices whose name matches
	// (--collector.diskstats.device-exclude). Empty means
	// DefaultDeviceExclude, unless DeviceInclude is set.
	DeviceExclude string `yaml:"device_exclude"`
	// DeviceInclude keeps only the devices whose name matches
	// (--collector.diskstats.device-include). Mutually exclusive with
	// DeviceExclude.
	DeviceInclude string `yaml:"device_include"`
}

// New returns the package's collectors reading under roots: diskstats.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	f, err := newDeviceFilter(cfg)
	if err != nil {
		return nil, err
	}
	return []collector.Collector{newDiskstats(roots, f)}, nil
}

// deviceFilter is node_exporter's device filter: a device is ignored when it
// matches the exclude pattern or does not match the include pattern.
type deviceFilter struct {
	include *regexp.Regexp
	exclude *regexp.Regexp
}

func newDeviceFilter(cfg Config) (deviceFilter, error) {
	var f deviceFilter
	if cfg.DeviceInclude != "" && cfg.DeviceExclude != "" {
		return f, fmt.Errorf("disk config: device_include and device_exclude are mutually exclusive; set only one of them")
	}
	var err error
	switch {
	case cfg.DeviceInclude != "":
		if f.include, err = regexp.Compile(cfg.DeviceInclude); err != nil {
			return f, fmt.Errorf("disk config: device_include %q is not a valid regular expression (RE2 syntax): %w", cfg.DeviceInclude, err)
		}
	case cfg.DeviceExclude != "":
		if f.exclude, err = regexp.Compile(cfg.DeviceExclude); err != nil {
			return f, fmt.Errorf("disk config: device_exclude %q is not a valid regular expression (RE2 syntax): %w", cfg.DeviceExclude, err)
		}
	default:
		f.exclude = regexp.MustCompile(DefaultDeviceExclude)
	}
	return f, nil
}

// ignored reports whether the device is filtered out.
func (f deviceFilter) ignored(name string) bool {
	return (f.exclude != nil && f.exclude.MatchString(name)) ||
		(f.include != nil && !f.include.MatchString(name))
}
