//go:build cgo

package metricsdoc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/gpu/demo"
	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
	"github.com/trainwatch/trainwatch/internal/gpu/nvmlgpu"
)

// xidFamily is the family that needs an XID event, which the NVML backend
// reads in the background.
const xidFamily = "trainwatch_gpu_xid_events_total"

// fakeClock is a settable clock shared by a collector and its mock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// nvml runs the NVML backend twice, as the agent runs it: on the demo's
// simulated 8 × H200 server (serve --demo), and on a go-nvml mock H100
// server with MIG instances on GPU 0 and an XID event, for the MIG label
// set and the XID counter.
func (g *gatherer) nvml(ctx context.Context) ([]sourcedFamily, error) {
	clock := &fakeClock{t: epoch}
	cfg := nvmlgpu.Config{Hostname: "docs", Now: clock.now,
		Describe: func(int) nvmlgpu.ProcessLabels { return nvmlgpu.ProcessLabels{Command: "python3", User: "docs"} }}
	sim := demo.New(1, epoch)
	c, err := nvmlgpu.NewDemo("h200", sim, clock.now, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []sourcedFamily
	for range 3 {
		fams, err := gpuTick(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("demo GPUs: %w", err)
		}
		out = append(out, tag(srcNVML, fams)...)
		for _, f := range fams {
			g.demoNVML[f.Desc.Name] = true
		}
		clock.add(time.Second)
	}

	srv := mockgpu.NewServer("h100", mockgpu.NewStatic(), clock.now)
	d := srv.Devices[0].(*server.Device)
	d.SetMigMode(nvml.DEVICE_MIG_ENABLE)
	for _, p := range []int{nvml.GPU_INSTANCE_PROFILE_1_SLICE, nvml.GPU_INSTANCE_PROFILE_3_SLICE} {
		info, ret := d.GetGpuInstanceProfileInfo(p)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("MIG profile %d: %v", p, ret)
		}
		if _, ret := d.CreateGpuInstance(&info); ret != nvml.SUCCESS {
			return nil, fmt.Errorf("MIG instance: %v", ret)
		}
	}
	mig, err := nvmlgpu.New(srv, cfg)
	if err != nil {
		return nil, err
	}
	defer mig.Close()
	deadline := time.Now().Add(10 * time.Second)
	for tick := 0; ; tick++ {
		fams, err := gpuTick(ctx, mig)
		if err != nil {
			return nil, fmt.Errorf("MIG GPUs: %w", err)
		}
		out = append(out, tag(srcNVML, fams)...)
		clock.add(time.Second)
		if tick >= 1 && collectorFamily(fams, xidFamily) {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("MIG GPUs: the mock's XID event was not counted within 10s (no %s)", xidFamily)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gpuTick runs one Collect under a deadline, as the Runner does.
func gpuTick(ctx context.Context, c collector.Collector) ([]*collector.Family, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return collectOnce(ctx, c)
}

// collectorFamily reports whether fams holds the named family.
func collectorFamily(fams []*collector.Family, name string) bool {
	for _, f := range fams {
		if f.Desc.Name == name {
			return true
		}
	}
	return false
}
