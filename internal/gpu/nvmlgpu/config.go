// Package nvmlgpu is trainwatch's NVIDIA GPU backend: a collector ("gpu")
// that reads NVML through github.com/NVIDIA/go-nvml and emits
// dcgm-exporter's metric names, types, units and labels
// (DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_FB_USED in MiB, ...) for every field
// NVML gives, plus trainwatch_gpu_* series for what dcgm-exporter lacks or
// gets wrong: XID events as a counter, decoded clock-event reasons,
// per-process GPU memory and utilisation, backend and per-GPU health.
//
// The backend needs cgo (go-nvml does not compile without it). A binary
// built with CGO_ENABLED=0 gets a collector that reports the backend down
// with the reason "built without cgo". docs/gpu.md lists every metric, its
// NVML source, and the NVML calls one tick costs.
package nvmlgpu

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// Name is the collector's name.
const Name = "gpu"

// Defaults for the zero Config.
const (
	DefaultProcessTopN       = 20
	DefaultInitTimeout       = 10 * time.Second
	DefaultInitRetryInterval = time.Minute
	DefaultRecheckInterval   = 10 * time.Minute
	DefaultSlowInterval      = time.Minute
	DefaultDeviceTimeout     = 5 * time.Second
)

// Config configures the NVML backend. The zero value is the default.
type Config struct {
	// ProcessTopN is how many processes per GPU get per-process series,
	// the largest by GPU memory first (default 20; negative: none, and the
	// process lists are not read).
	ProcessTopN int `yaml:"process_top_n"`
	// Hostname is the value of dcgm-exporter's Hostname label. Default, as
	// dcgm-exporter: $NODE_NAME, else os.Hostname().
	Hostname string `yaml:"hostname"`
	// DeviceTimeout caps how long one tick waits for one GPU (default 5s;
	// the tick's own deadline, less a small margin, applies when earlier).
	// A GPU that does not answer in time is reported late (trainwatch_gpu_up
	// 0) and not asked again until its stuck call returns.
	DeviceTimeout time.Duration `yaml:"device_timeout"`
	// InitTimeout bounds how long a tick waits for nvmlInit (default 10s).
	// An init that hangs (a wedged driver) keeps running in the background;
	// no second one is started while it does.
	InitTimeout time.Duration `yaml:"init_timeout"`
	// InitRetryInterval is the least time between two NVML init attempts
	// after a failure (default 1m).
	InitRetryInterval time.Duration `yaml:"init_retry_interval"`
	// RecheckInterval is how long a field a GPU answered NOT_SUPPORTED is
	// left alone before it is asked again (default 10m).
	RecheckInterval time.Duration `yaml:"recheck_interval"`
	// SlowInterval is how often near-static values are re-read: limits,
	// thresholds, max clocks and link widths, persistence and ECC mode,
	// retired pages, NVLink link states, MIG instances (default 1m).
	SlowInterval time.Duration `yaml:"slow_interval"`
	// LibraryPath loads NVML from this file instead of libnvidia-ml.so.1
	// found through the dynamic loader.
	LibraryPath string `yaml:"library_path"`
	// DisableEvents turns off the XID event reader (no
	// trainwatch_gpu_xid_events_total, DCGM_FI_DEV_XID_ERRORS stays 0).
	DisableEvents bool `yaml:"disable_events"`

	// Describe, if set, names a process for the per-process series. It is
	// called once per process while the process stays on the GPU, from the
	// GPU's reader goroutine, so it must be safe for concurrent use. nil:
	// the series carry only the PID.
	Describe func(pid int) ProcessLabels `yaml:"-"`
	// Logger receives state changes (a GPU lost, late, recovered; NVML
	// missing), each logged once. Default: discard.
	Logger *slog.Logger `yaml:"-"`
	// Now returns the current time; tests may replace it. It drives the
	// retry, re-check and slow intervals and rate computations, not the
	// per-GPU deadlines (those follow the real clock).
	Now func() time.Time `yaml:"-"`
}

// ProcessLabels names a process on a GPU.
type ProcessLabels struct {
	Command   string
	User      string
	Container string
	Pod       string
	Namespace string
	SlurmJob  string
}

// withDefaults validates cfg and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"device_timeout", cfg.DeviceTimeout}, {"init_timeout", cfg.InitTimeout},
		{"init_retry_interval", cfg.InitRetryInterval}, {"recheck_interval", cfg.RecheckInterval},
		{"slow_interval", cfg.SlowInterval},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("gpu: %s is %s; it must be positive (or 0 for the default)", d.name, d.v))
		}
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	if cfg.ProcessTopN == 0 {
		cfg.ProcessTopN = DefaultProcessTopN
	}
	if cfg.Hostname == "" {
		cfg.Hostname = os.Getenv("NODE_NAME")
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.DeviceTimeout == 0 {
		cfg.DeviceTimeout = DefaultDeviceTimeout
	}
	if cfg.InitTimeout == 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.InitRetryInterval == 0 {
		cfg.InitRetryInterval = DefaultInitRetryInterval
	}
	if cfg.RecheckInterval == 0 {
		cfg.RecheckInterval = DefaultRecheckInterval
	}
	if cfg.SlowInterval == 0 {
		cfg.SlowInterval = DefaultSlowInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// backendUpDesc is the one metric the backend emits with or without cgo.
var backendUpDesc = collector.NewDesc("trainwatch_gpu_backend_up",
	"1 if the GPU backend is working (NVML loaded and initialised), 0 if not; the collector's error says why.",
	collector.Gauge, "backend")
