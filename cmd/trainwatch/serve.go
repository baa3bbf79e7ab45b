package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/summary"
	"github.com/trainwatch/trainwatch/internal/web"
)

// loadConfig reads --config (if given) and applies the flags the user set
// explicitly on top of it. Any problem is a usage error.
func loadConfig(cmd *cobra.Command, path string, apply func(*config.Config) error) (config.Config, error) {
	cfg := config.Default()
	if path != "" {
		c, err := config.Load(path)
		if err != nil {
			return cfg, usageError{err}
		}
		cfg = c
	}
	if apply != nil {
		if err := apply(&cfg); err != nil {
			return cfg, usageError{err}
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// newRunner builds the collector runner for a configuration: host, GPU
// and (for the agent) self collectors. Call release when done.
func newRunner(cfg config.Config, withSelf bool, logger *slog.Logger) (r *collector.Runner, release func(), err error) {
	cs, err := host.Collectors(cfg.Host)
	if err != nil {
		return nil, func() {}, usageError{fmt.Errorf("config: %w", err)}
	}
	gpus, release, err := gpuCollectors(cfg, logger)
	if err != nil {
		return nil, release, err
	}
	cs = append(cs, gpus...)
	var derivers []collector.Deriver
	if !cfg.Processes.Disable {
		scanner := process.NewScanner(cfg.Host.Roots.WithDefaults(), nil)
		pc, err := process.NewCollector(scanner, cfg.Processes.Config)
		if err != nil {
			return nil, release, usageError{fmt.Errorf("config processes: %w", err)}
		}
		cs = append(cs, pc)
		derivers = append(derivers, jobs.NewDeriver(scanner, cfg.Processes.Jobs))
	}
	if withSelf {
		self, err := agent.NewSelfCollector()
		if err != nil {
			return nil, release, err
		}
		cs = append(cs, self)
	}
	r, err = collector.NewRunner(collector.RunnerOptions{Timeout: cfg.EffectiveTimeout(), Logger: logger, Derivers: derivers}, cs...)
	if err != nil {
		return nil, release, fmt.Errorf("collectors: %w", err)
	}
	return r, release, nil
}

func newServeCmd() *cobra.Command {
	var (
		configPath string
		listen     string
		dataDir    string
		interval   time.Duration
		demoMode   bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the agent: collect every interval and serve /metrics and the API",
		Long: `Run the agent. Every --interval it collects all metrics once, concurrently, each
collector with its own deadline, and serves the result at /metrics (Prometheus text
format or OpenMetrics), /api/v1/snapshot (JSON with rates computed), /-/healthy and
/-/ready. It listens on loopback by default.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, configPath, func(c *config.Config) error {
				if cmd.Flags().Changed("listen") {
					c.Listen = listen
				}
				if cmd.Flags().Changed("data-dir") {
					c.DataDir = dataDir
				}
				if cmd.Flags().Changed("interval") {
					c.Interval = model.Duration(interval)
				}
				if cmd.Flags().Changed("demo") {
					c.Demo = demoMode
				}
				return nil
			})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, slog.Default(), nil)
		},
	}
	d := config.Default()
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (see docs/configuration.md)")
	cmd.Flags().StringVar(&listen, "listen", d.Listen, "HTTP listen address; a non-loopback address exposes the agent to the network")
	cmd.Flags().StringVar(&dataDir, "data-dir", d.DataDir, "directory for history and state")
	cmd.Flags().DurationVar(&interval, "interval", time.Duration(d.Interval), "collection interval")
	cmd.Flags().BoolVar(&demoMode, "demo", false, "simulate an 8 x H200 GPU training server (clearly marked as a demo); host metrics stay real")
	return cmd
}

// serve runs the agent until ctx ends. onListen, when non-nil, is told the
// bound address.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, onListen func(net.Addr)) error {
	runner, release, err := newRunner(cfg, true, logger)
	defer release()
	if err != nil {
		return err
	}
	a := agent.New(runner, time.Duration(cfg.Interval), logger)
	h := web.New(a, web.Options{
		Logger:    logger,
		Version:   version,
		Summarize: func(prev, cur *collector.Snapshot) any { return summary.Compute(prev, cur) },
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loopDone := make(chan error, 1)
	go func() { loopDone <- a.Run(ctx) }()
	err = web.ListenAndServe(ctx, cfg.Listen, h, 5*time.Second, logger, func(addr net.Addr) {
		logger.Info("trainwatch serving", "address", addr.String(), "interval", time.Duration(cfg.Interval), "collectors", len(runner.Names()))
		if !isLoopback(addr) {
			logger.Warn("listening on a non-loopback address: /metrics and the API are reachable from the network", "address", addr.String())
		}
		if onListen != nil {
			onListen(addr)
		}
	})
	cancel()
	<-loopDone
	return err
}

func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
