package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/store"
)

// newFillHistoryCmd is a hidden benchmarking tool: it writes DURATION of
// history of this machine's series into a data directory, as the agent
// would have written it, so that query speed and memory with a full day of
// 1 s history can be measured without waiting a day (bench/history.py).
func newFillHistoryCmd() *cobra.Command {
	var (
		dataDir  string
		duration time.Duration
		interval time.Duration
		instance string
		seed     uint64
		demo     bool
	)
	cmd := &cobra.Command{
		Use:    "fill-history",
		Hidden: true,
		Short:  "Write synthetic history of this machine's series into a data directory (benchmarks only)",
		Long: `Collect this machine's series twice, one second apart, then write --duration of
history ending now at --interval into --data-dir through the same store the agent
uses (with --demo, also the simulated GPUs' series). Series that did not change
between the two collections stay constant; counters grow by their observed rate
with +-20 % noise; changing gauges wander around their observed values. For
benchmarks (bench/history.py, bench/overhead) only.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return usagef("--data-dir is required")
			}
			if duration <= 0 || interval <= 0 {
				return usagef("--duration and --interval must be positive")
			}
			cfg := config.Default()
			cfg.DataDir = dataDir
			cfg.Demo = demo
			return fillHistory(cmd.Context(), cfg, duration, interval, instance, seed, slog.Default(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory to fill (created)")
	cmd.Flags().DurationVar(&duration, "duration", 24*time.Hour, "span of history to write, ending now")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between ticks")
	cmd.Flags().StringVar(&instance, "instance", "", "instance label (default HOSTNAME:9835)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().BoolVar(&demo, "demo", false, "also write the series of serve --demo's simulated GPUs")
	return cmd
}

// fillHistory writes the synthetic history.
func fillHistory(ctx context.Context, cfg config.Config, duration, interval time.Duration, instance string, seed uint64, logger *slog.Logger, out interface{ Write([]byte) (int, error) }) error {
	runner, release, err := newRunner(cfg, true, logger)
	defer release()
	if err != nil {
		return err
	}
	first := runner.Tick(ctx)
	time.Sleep(time.Second)
	second := runner.Tick(ctx)
	if instance == "" {
		instance = instanceLabel("", nil)
	}
	st, err := store.Open(store.Options{Dir: cfg.DataDir, Instance: instance, RetentionTime: 15 * 24 * time.Hour, Logger: logger})
	if err != nil {
		return err
	}
	work := cloneSnapshot(second)
	// Per sample: the first value and the change observed in one second.
	type track struct{ base, step float64 }
	tracks := make([][]track, len(work.Families))
	for i, f := range work.Families {
		prev := first.Family(f.Desc.Name)
		tracks[i] = make([]track, len(f.Samples))
		for j, s := range f.Samples {
			t := track{base: s.Value}
			if prev != nil && j < len(prev.Samples) && slices.Equal(prev.Samples[j].LabelValues, s.LabelValues) {
				t.step = s.Value - prev.Samples[j].Value
			}
			tracks[i][j] = t
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := int(duration / interval)
	end := time.Now().Truncate(interval)
	start := end.Add(-time.Duration(n) * interval)
	began := time.Now()
	secs := interval.Seconds()
	for k := range n {
		if ctx.Err() != nil {
			break
		}
		work.Time = start.Add(time.Duration(k) * interval)
		for i, f := range work.Families {
			for j := range f.Samples {
				t := &tracks[i][j]
				if t.step == 0 {
					continue
				}
				noise := 0.8 + 0.4*rng.Float64()
				switch f.Desc.Type {
				case collector.Counter:
					d := t.step * secs * noise
					if d < 0 {
						d = 0
					}
					if t.step == float64(int64(t.step)) {
						d = float64(int64(d + 0.5))
					}
					f.Samples[j].Value += d
				default:
					f.Samples[j].Value = t.base + t.step*(2*rng.Float64()-1)*10
					if t.base == float64(int64(t.base)) {
						f.Samples[j].Value = float64(int64(f.Samples[j].Value))
					}
				}
			}
		}
		st.Consume(ctx, work)
		if k%3600 == 3599 {
			fmt.Fprintf(out, "%s of %s written (%.0f ticks/s)\n", time.Duration(k+1)*interval, duration, float64(k+1)/time.Since(began).Seconds())
		}
	}
	stats := st.Stats()
	if err := st.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "wrote %d samples of %d series over %s into %s in %s\n",
		stats.SamplesAppended, stats.Series, duration, cfg.DataDir, time.Since(began).Round(time.Second))
	return err
}

// cloneSnapshot deep-copies the families' samples so they can be changed.
func cloneSnapshot(s *collector.Snapshot) *collector.Snapshot {
	c := &collector.Snapshot{Time: s.Time, Families: make([]*collector.Family, len(s.Families))}
	for i, f := range s.Families {
		nf := &collector.Family{Desc: f.Desc, Samples: make([]collector.Sample, len(f.Samples))}
		copy(nf.Samples, f.Samples)
		c.Families[i] = nf
	}
	return c
}
