// Package amdgpu is a pure-Go collector for AMD GPUs driven by the kernel's
// amdgpu driver. It reads sysfs (/sys/class/drm/card*/device and its hwmon
// directory) for the device metrics and the DRM usage statistics in
// /proc/PID/fdinfo for the per-process ones: no ROCm, amd-smi, libdrm or
// cgo, so it works in a static binary and a distroless container.
//
// The metric names are trainwatch's vendor-neutral trainwatch_gpu_* names
// (there is no dcgm-exporter for AMD to copy), with the label set
// dcgm-exporter gives NVIDIA GPUs (gpu, UUID, pci_bus_id, device,
// modelName, Hostname) so that dashboards can show both vendors side by
// side. docs/gpu-amd.md lists every name, unit and source file.
//
// Cards are listed at the first tick and every minute after (and at once
// when a card's files disappear); their identity, totals and maximum link
// are read then. The changing values (busy percentages, memory used,
// temperatures, power, clocks, fan, current link) are read every tick. The
// per-process scan walks /proc and costs a readlink per open file
// descriptor of every process, so it runs at most every
// Config.ProcessInterval and its results are served in between.
package amdgpu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/procinfo"
)

// Defaults of Config.
const (
	DefaultProcessInterval = 5 * time.Second
	DefaultProcessTopN     = 20
)

// discoveryInterval is how often cards are listed again.
const discoveryInterval = time.Minute

// Config holds the amdgpu collector's options. The zero value gives the
// defaults.
type Config struct {
	// Hostname is the value of the Hostname label. Default: the NODE_NAME
	// environment variable (as dcgm-exporter), else the machine's host name.
	Hostname string `yaml:"hostname"`
	// ProcessInterval is how often /proc is scanned for processes using an
	// AMD GPU; per-process series are served from the last scan in
	// between, and utilisation is averaged over it. Default 5s; at least 1s.
	ProcessInterval time.Duration `yaml:"process_interval"`
	// ProcessTopN is how many processes per GPU get series, the ones using
	// the most VRAM (then the busiest). Default 20.
	ProcessTopN int `yaml:"process_top_n"`
	// DisableProcesses turns the per-process scan off.
	DisableProcesses bool `yaml:"disable_processes"`
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.ProcessInterval < 0:
		return c, fmt.Errorf("amdgpu: process_interval %s is negative; use a duration such as 5s, or disable_processes: true", c.ProcessInterval)
	case c.ProcessInterval == 0:
		c.ProcessInterval = DefaultProcessInterval
	case c.ProcessInterval < time.Second:
		return c, fmt.Errorf("amdgpu: process_interval %s is below 1s; a /proc scan every tick costs a readlink per open file of every process", c.ProcessInterval)
	}
	switch {
	case c.ProcessTopN < 0:
		return c, fmt.Errorf("amdgpu: process_top_n %d is negative; use a positive number, or disable_processes: true", c.ProcessTopN)
	case c.ProcessTopN == 0:
		c.ProcessTopN = DefaultProcessTopN
	}
	if c.Hostname == "" {
		c.Hostname = os.Getenv("NODE_NAME")
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	return c, nil
}

// gpuLabels are the labels of every device series, in dcgm-exporter's
// order; extra labels follow them.
var gpuLabels = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"}

func gpuDesc(name, help string, extra ...string) *collector.Desc {
	return collector.NewDesc(name, help, collector.Gauge, append(append([]string(nil), gpuLabels...), extra...)...)
}

// procLabels are the labels of the per-process series.
var procLabels = []string{"gpu", "UUID", "pid", "command", "user", "container", "pod", "namespace", "slurm_job"}

type descs struct {
	up, info                *collector.Desc
	util, memUtil           *collector.Desc
	memUsed, memTotal       *collector.Desc
	gttUsed, gttTotal       *collector.Desc
	temp, power, powerLimit *collector.Desc
	clock, fan              *collector.Desc
	linkGen, linkWidth      *collector.Desc
	procMemory, procUtil    *collector.Desc
	procCount               *collector.Desc
}

func newDescs() descs {
	return descs{
		up: gpuDesc("trainwatch_gpu_up",
			"1 if the GPU's driver answered this tick (or the GPU is runtime-suspended), 0 if its files could not be read."),
		info: gpuDesc("trainwatch_gpu_info",
			"GPU identity; always 1.", "vendor", "model", "driver", "driver_version", "vbios_version", "serial", "pci_id"),
		util: gpuDesc("trainwatch_gpu_utilization_percent",
			"Percent of time the GPU's graphics/compute engine was busy (amdgpu gpu_busy_percent)."),
		memUtil: gpuDesc("trainwatch_gpu_memory_utilization_percent",
			"Percent of time the GPU's memory controller was busy (amdgpu mem_busy_percent)."),
		memUsed: gpuDesc("trainwatch_gpu_memory_used_bytes",
			"Device memory (VRAM) in use, in bytes (amdgpu mem_info_vram_used)."),
		memTotal: gpuDesc("trainwatch_gpu_memory_total_bytes",
			"Device memory (VRAM) size, in bytes (amdgpu mem_info_vram_total)."),
		gttUsed: gpuDesc("trainwatch_amdgpu_gtt_used_bytes",
			"System memory mapped for the GPU through the GTT in use, in bytes (amdgpu mem_info_gtt_used)."),
		gttTotal: gpuDesc("trainwatch_amdgpu_gtt_total_bytes",
			"Size of the GPU's GTT aperture into system memory, in bytes (amdgpu mem_info_gtt_total)."),
		temp: gpuDesc("trainwatch_gpu_temperature_celsius",
			"GPU temperature in degrees Celsius by sensor (edge, junction = hotspot, mem = HBM/GDDR).", "sensor"),
		power: gpuDesc("trainwatch_gpu_power_watts",
			"GPU power draw in watts (hwmon power1_average, else power1_input)."),
		powerLimit: gpuDesc("trainwatch_gpu_power_limit_watts",
			"GPU power cap in watts (hwmon power1_cap)."),
		clock: gpuDesc("trainwatch_gpu_clock_hertz",
			"GPU clock in hertz: sm = graphics/compute clock (sclk), memory = memory clock (mclk).", "clock"),
		fan: gpuDesc("trainwatch_gpu_fan_rpm",
			"GPU fan speed in revolutions per minute (hwmon fan1_input)."),
		linkGen: gpuDesc("trainwatch_gpu_pcie_link_generation",
			"PCIe generation of the GPU's link, current or max (from current_link_speed / max_link_speed).", "which"),
		linkWidth: gpuDesc("trainwatch_gpu_pcie_link_width",
			"PCIe lanes of the GPU's link, current or max.", "which"),
		procCount: collector.NewDesc("trainwatch_gpu_processes",
			"Processes holding VRAM on or running work on the GPU at the last process scan, before the top-N cut of the per-process series.",
			collector.Gauge, "gpu", "UUID"),
		procMemory: collector.NewDesc("trainwatch_gpu_process_memory_bytes",
			"Device memory (VRAM) a process holds on the GPU, in bytes (DRM fdinfo drm-memory-vram).", collector.Gauge, procLabels...),
		procUtil: collector.NewDesc("trainwatch_gpu_process_utilization_percent",
			"Percent of the last process scan interval the GPU's gfx or compute engine ran the process's work (DRM fdinfo drm-engine-*; ROCm/HIP work through /dev/kfd is not counted).",
			collector.Gauge, procLabels...),
	}
}

// amdCollector is the "amdgpu" collector.
type amdCollector struct {
	roots hostfs.Roots
	cfg   Config
	now   func() time.Time
	d     descs

	cards         []*card
	byPCI         map[string]*card
	noData        error
	lastDiscovery time.Time
	rediscover    bool
	driverVersion string
	buf           []byte

	procs *procScanner
}

// New returns the amdgpu collector. It reads nothing yet: a machine
// without AMD GPUs gets a collector whose Collect returns a wrapped
// collector.ErrNoData saying so.
func New(roots hostfs.Roots, cfg Config) (collector.Collector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	roots = roots.WithDefaults()
	c := &amdCollector{
		roots: roots,
		cfg:   cfg,
		now:   time.Now,
		d:     newDescs(),
	}
	if !cfg.DisableProcesses {
		c.procs = newProcScanner(roots, procinfo.NewReader(roots), cfg)
	}
	return c, nil
}

func (c *amdCollector) Name() string { return "amdgpu" }

func (c *amdCollector) Collect(_ context.Context, e *collector.Emitter) error {
	now := c.now()
	if c.rediscover || c.lastDiscovery.IsZero() || now.Sub(c.lastDiscovery) >= discoveryInterval || now.Before(c.lastDiscovery) {
		if err := c.discover(); err != nil {
			return err
		}
		c.lastDiscovery = now
		c.rediscover = false
	}
	if c.noData != nil {
		return c.noData
	}
	for _, cd := range c.cards {
		c.collectCard(cd, e)
	}
	if c.procs != nil {
		if c.procs.due(now) {
			c.procs.scan(now, c.byPCI)
		}
		c.procs.emit(e, c.d)
	}
	return nil
}

// readFile reads a sysfs attribute into the collector's buffer.
func (c *amdCollector) readFile(path string) ([]byte, error) {
	b, err := c.roots.ReadFile(path, c.buf)
	c.buf = b
	return b, err
}

// gone reports whether a read error means the device's files went away
// (unbound, hot-removed), so that the cards are listed again at once. A
// device that is there but does not answer (in reset, fallen off the bus:
// EPERM, EIO, ENODEV) keeps its files and is reported with
// trainwatch_gpu_up 0 instead.
func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist)
}
