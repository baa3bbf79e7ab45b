// Package host assembles every host collector (CPU, memory, disks,
// filesystems, network, sensors, system identity) from one configuration.
package host

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/cpu"
	"github.com/trainwatch/trainwatch/internal/collector/disk"
	"github.com/trainwatch/trainwatch/internal/collector/filesystem"
	"github.com/trainwatch/trainwatch/internal/collector/memory"
	"github.com/trainwatch/trainwatch/internal/collector/network"
	"github.com/trainwatch/trainwatch/internal/collector/sensors"
	"github.com/trainwatch/trainwatch/internal/collector/system"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// Config configures the host collectors. The zero value collects everything
// from the real host with node_exporter's defaults.
type Config struct {
	// Roots are the proc, sys and root filesystem mounts to read.
	Roots hostfs.Roots `yaml:"roots"`
	// Disable lists collectors (by name) not to run.
	Disable []string `yaml:"disable"`

	CPU        cpu.Config        `yaml:"cpu"`
	System     system.Config     `yaml:"system"`
	Memory     memory.Config     `yaml:"memory"`
	Disk       disk.Config       `yaml:"disk"`
	Filesystem filesystem.Config `yaml:"filesystem"`
	Network    network.Config    `yaml:"network"`
	Sensors    sensors.Config    `yaml:"sensors"`
}

// Collectors returns every enabled host collector.
func Collectors(cfg Config) ([]collector.Collector, error) {
	roots := cfg.Roots.WithDefaults()
	type group struct {
		name string
		new  func() ([]collector.Collector, error)
	}
	groups := []group{
		{"cpu", func() ([]collector.Collector, error) { return cpu.New(roots, cfg.CPU) }},
		{"system", func() ([]collector.Collector, error) { return system.New(roots, cfg.System) }},
		{"memory", func() ([]collector.Collector, error) { return memory.New(roots, cfg.Memory) }},
		{"disk", func() ([]collector.Collector, error) { return disk.New(roots, cfg.Disk) }},
		{"filesystem", func() ([]collector.Collector, error) { return filesystem.New(roots, cfg.Filesystem) }},
		{"network", func() ([]collector.Collector, error) { return network.New(roots, cfg.Network) }},
		{"sensors", func() ([]collector.Collector, error) { return sensors.New(roots, cfg.Sensors) }},
	}
	var all []collector.Collector
	for _, g := range groups {
		cs, err := g.new()
		if err != nil {
			return nil, fmt.Errorf("host.%s: %w", g.name, err)
		}
		all = append(all, cs...)
	}
	names := make([]string, len(all))
	for i, c := range all {
		names[i] = c.Name()
	}
	for _, d := range cfg.Disable {
		if !slices.Contains(names, d) {
			sorted := slices.Clone(names)
			sort.Strings(sorted)
			return nil, fmt.Errorf("host.disable: unknown collector %q; known collectors: %s", d, strings.Join(sorted, ", "))
		}
	}
	out := all[:0]
	for _, c := range all {
		if !slices.Contains(cfg.Disable, c.Name()) {
			out = append(out, c)
		}
	}
	return out, nil
}
