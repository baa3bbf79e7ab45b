//go:build !cgo

package nvmlgpu

import (
	"context"
	"fmt"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
)

// Collector is the GPU collector. In a binary built without cgo it cannot
// load NVML: every Collect reports the backend down.
type Collector struct{}

// NewSystem returns the GPU collector. Built without cgo, it reports
// trainwatch_gpu_backend_up{backend="nvml"} 0 with the reason "built
// without cgo".
func NewSystem(cfg Config) (*Collector, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	return &Collector{}, nil
}

// NewDemo returns the GPU collector; built without cgo, it cannot run the
// go-nvml mock either and reports the backend down like NewSystem.
func NewDemo(kind string, t mockgpu.Telemetry, now func() time.Time, cfg Config) (*Collector, error) {
	return NewSystem(cfg)
}

// Name returns "gpu".
func (c *Collector) Name() string { return Name }

// Collect reports the backend down.
func (c *Collector) Collect(_ context.Context, e *collector.Emitter) error {
	e.Emit(backendUpDesc, 0, "nvml")
	return fmt.Errorf("%w: NVIDIA GPUs cannot be read: this trainwatch was built without cgo, which NVML needs (rebuild with CGO_ENABLED=1 and gcc)", collector.ErrNoData)
}

// Close does nothing.
func (c *Collector) Close() error { return nil }
