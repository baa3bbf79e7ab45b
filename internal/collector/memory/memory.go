// Package memory provides the memory collectors, named and shaped as
// node_exporter's: meminfo (/proc/meminfo) and vmstat (/proc/vmstat).
package memory

import (
	"fmt"
	"regexp"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// DefaultVMStatFields is node_exporter's default --collector.vmstat.fields
// regular expression.
const DefaultVMStatFields = `^(oom_kill|pgpg|pswp|pg.*fault).*`

// Config holds the options of the memory collectors. The zero value gives
// node_exporter's defaults.
type Config struct {
	// VMStatFields selects the /proc/vmstat fields to export, matched
	// against the field name (node_exporter's --collector.vmstat.fields).
	// Empty means DefaultVMStatFields. Go RE2 syntax, not anchored unless
	// the pattern says so.
	VMStatFields string `yaml:"vmstat_fields"`
}

// New returns the package's collectors reading under roots: meminfo and
// vmstat.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	fields := cfg.VMStatFields
	if fields == "" {
		fields = DefaultVMStatFields
	}
	re, err := regexp.Compile(fields)
	if err != nil {
		return nil, fmt.Errorf("memory config: vmstat_fields %q is not a valid regular expression (RE2 syntax): %w", fields, err)
	}
	return []collector.Collector{
		newMeminfo(roots),
		newVmstat(roots, re),
	}, nil
}
