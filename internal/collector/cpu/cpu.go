// Package cpu provides the CPU and scheduler collectors: per-core CPU time,
// frequency, load average, /proc/stat counters, pressure stall information.
package cpu

import (
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// Config holds the options of this package's collectors.
type Config struct{}

// New returns this package's collectors reading under roots.
func New(roots hostfs.Roots, _ Config) ([]collector.Collector, error) {
	return []collector.Collector{
		newLoadavg(roots),
	}, nil
}
