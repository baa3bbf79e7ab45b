package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/gpu/amdgpu"
	"github.com/trainwatch/trainwatch/internal/gpu/demo"
	"github.com/trainwatch/trainwatch/internal/gpu/nvmlgpu"
	"github.com/trainwatch/trainwatch/internal/procinfo"
)

// demoSeed makes every demo agent simulate the same machine.
const demoSeed = 1

// closer is a collector that holds resources (NVML, its event reader).
type closer interface{ Close() error }

// gpuCollectors builds the GPU backends of cfg: NVML (or, with --demo, the
// simulated 8 × H200 server behind the same NVML code) and amdgpu. The
// returned func releases them.
func gpuCollectors(cfg config.Config, logger *slog.Logger) ([]collector.Collector, func(), error) {
	var cs []collector.Collector
	var closers []closer
	release := func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}
	roots := cfg.Host.Roots.WithDefaults()
	nv := cfg.GPU.NVML
	nv.Logger = logger
	switch {
	case cfg.Demo:
		sim := demo.New(demoSeed, time.Now())
		byPID := map[int]demo.ProcessInfo{}
		for _, p := range sim.Processes() {
			byPID[int(p.PID)] = p
		}
		nv.Describe = func(pid int) nvmlgpu.ProcessLabels {
			p := byPID[pid]
			cmd, _, _ := strings.Cut(p.Cmdline, " ")
			return nvmlgpu.ProcessLabels{Command: cmd, User: "demo"}
		}
		c, err := nvmlgpu.NewDemo("h200", sim, time.Now, nv)
		if err != nil {
			return nil, release, fmt.Errorf("demo GPUs: %w", err)
		}
		cs = append(cs, c, newDemoMarker())
		closers = append(closers, c)
		logger.Warn("DEMO MODE: the GPU data is simulated (8 x NVIDIA H200 141GB running a synthetic training job); host metrics are real")
	case !slices.Contains(cfg.GPU.Disable, "nvml"):
		pr := procinfo.NewReader(roots)
		nv.Describe = func(pid int) nvmlgpu.ProcessLabels {
			info, err := pr.Lookup(pid)
			if err != nil {
				return nvmlgpu.ProcessLabels{}
			}
			return nvmlgpu.ProcessLabels{Command: info.Command, User: info.User, Container: info.Container,
				Pod: info.Pod, Namespace: info.Namespace, SlurmJob: info.SlurmJob}
		}
		c, err := nvmlgpu.NewSystem(nv)
		if err != nil {
			return nil, release, usageError{fmt.Errorf("config gpu.nvml: %w", err)}
		}
		cs = append(cs, c)
		closers = append(closers, c)
	}
	if !slices.Contains(cfg.GPU.Disable, "amd") {
		c, err := amdgpu.New(roots, cfg.GPU.AMD)
		if err != nil {
			return nil, release, usageError{fmt.Errorf("config gpu.amd: %w", err)}
		}
		cs = append(cs, c)
	}
	return cs, release, nil
}

// demoMarker emits trainwatch_demo, so that every view of a demo agent
// (summary, web UI, TUI, Grafana) can say the GPU data is simulated.
type demoMarker struct{ desc *collector.Desc }

func newDemoMarker() demoMarker {
	return demoMarker{desc: collector.NewDesc("trainwatch_demo",
		"1 when this agent runs in demo mode: its GPU data is simulated (8 x NVIDIA H200 running a synthetic training job).",
		collector.Gauge, "scenario")}
}

func (demoMarker) Name() string { return "demo" }

func (m demoMarker) Collect(_ context.Context, e *collector.Emitter) error {
	e.Emit(m.desc, 1, "8x H200 training (simulated)")
	return nil
}
