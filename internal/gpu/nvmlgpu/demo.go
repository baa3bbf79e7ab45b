//go:build cgo

package nvmlgpu

import (
	"fmt"
	"time"

	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
)

// NewDemo returns the GPU collector reading a go-nvml mock DGX server of
// kind ("h100", "h200") filled with t (mockgpu.NewServer): the demo mode's
// simulated GPUs, served by exactly the production NVML code. now may be nil
// (time.Now). It exists in builds without cgo too, where it reports the
// backend down like NewSystem, so callers need no build tags.
func NewDemo(kind string, t mockgpu.Telemetry, now func() time.Time, cfg Config) (*Collector, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	switch kind {
	case "h100", "h200", "a100", "b200":
	default:
		return nil, fmt.Errorf("gpu: unknown demo server %q (want h100, h200, a100 or b200)", kind)
	}
	srv := mockgpu.NewServer(kind, t, now)
	c, err := New(srv, cfg)
	if err != nil {
		return nil, err
	}
	// The mocks record every call's arguments; forget them every few
	// minutes so that a demo left running does not grow.
	ticks := 0
	c.quiet = func() {
		if ticks++; ticks%300 == 0 {
			mockgpu.ResetCalls(srv)
		}
	}
	return c, nil
}
