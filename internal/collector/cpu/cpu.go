// Package cpu provides the CPU and scheduler collectors: per-core CPU time,
// frequency, load average, /proc/stat counters, pressure stall information,
// scheduler statistics and per-CPU interrupt counts.
package cpu

import (
	"fmt"
	"regexp"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// Config holds the options of this package's collectors. The zero value
// behaves as node_exporter's defaults.
type Config struct {
	// NoGuest turns off node_cpu_guest_seconds_total (node_exporter's
	// --no-collector.cpu.guest).
	NoGuest bool `yaml:"no_guest"`
	// InterruptsNameInclude, when set, keeps only the interrupts whose
	// "name;info;devices" matches this regular expression
	// (node_exporter's --collector.interrupts.name-include).
	InterruptsNameInclude string `yaml:"interrupts_name_include"`
	// InterruptsNameExclude drops the interrupts whose "name;info;devices"
	// matches this regular expression
	// (node_exporter's --collector.interrupts.name-exclude).
	InterruptsNameExclude string `yaml:"interrupts_name_exclude"`
	// InterruptsDropZeros drops per-CPU interrupt counters that are zero
	// (node_exporter's --no-collector.interrupts.include-zeros). On servers
	// with many CPUs and MSI-X vectors this removes most series.
	InterruptsDropZeros bool `yaml:"interrupts_drop_zeros"`

	// Now is the clock used to share one /proc/stat read between the cpu
	// and stat collectors; tests replace it. Default time.Now.
	Now func() time.Time `yaml:"-"`
}

// New returns this package's collectors reading under roots: cpu, cpufreq,
// loadavg, stat, pressure, schedstat and interrupts.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	include, err := compileFilter("interrupts_name_include", cfg.InterruptsNameInclude)
	if err != nil {
		return nil, err
	}
	exclude, err := compileFilter("interrupts_name_exclude", cfg.InterruptsNameExclude)
	if err != nil {
		return nil, err
	}
	stat := newStatSource(roots, cfg.Now)
	return []collector.Collector{
		newCPU(roots, stat, !cfg.NoGuest),
		newCPUFreq(roots),
		newLoadavg(roots),
		newStat(stat),
		newPressure(roots),
		newSchedstat(roots),
		newInterrupts(roots, include, exclude, !cfg.InterruptsDropZeros),
	}, nil
}

func compileFilter(field, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("cpu.%s: %q is not a valid regular expression (Go RE2 syntax, matched against \"name;info;devices\" of a /proc/interrupts line): %w", field, expr, err)
	}
	return re, nil
}
