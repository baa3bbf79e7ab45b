package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/record"
)

func newRecordCmd() *cobra.Command {
	var (
		interval   time.Duration
		output     string
		maxSize    int64
		maxFiles   int
		agentURL   string
		configPath string
	)
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Append a JSON line of the machine's metrics to a file every interval",
		Long: `Append one JSON object per line to --output every --interval: the same document as
'summary --json' (CPU, memory, disks, network, temperatures, with rates over the
interval) wrapped in {"schema_version":1,"time":...,"host":{...}}. Each line is written
whole with one write and synced, so a line once written is never lost or torn. The
file rotates at --max-size. Ctrl+C stops after the line in progress.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return usagef("--interval %s: must be positive", interval)
			}
			if maxSize < 0 {
				return usagef("--max-size %d: must be 0 (never rotate) or a size in bytes", maxSize)
			}
			if maxFiles < 1 {
				return usagef("--max-files %d: must be at least 1", maxFiles)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.Default()

			var s sampler
			if agentURL != "" {
				rs, err := newRemoteSampler(agentURL)
				if err != nil {
					return err
				}
				s = rs
			} else {
				cfg, err := loadConfig(cmd, configPath, nil)
				if err != nil {
					return err
				}
				ls, err := newLocalSampler(cfg, logger)
				if err != nil {
					return err
				}
				defer ls.Close()
				// The first line gets rates over a short window rather than none.
				window := min(interval, time.Second)
				if err := ls.Prime(ctx, window); err != nil {
					return nil // interrupted before the first line
				}
				s = ls
			}
			w, err := record.Open(record.Config{Path: output, MaxBytes: maxSize, MaxFiles: maxFiles, Logger: logger})
			if err != nil {
				return fmt.Errorf("open %s: %w", output, err)
			}
			logger.Info("recording", "output", w.Path(), "interval", interval)
			runErr := w.Run(ctx, interval, s.Sample)
			if err := w.Close(); err != nil && runErr == nil {
				runErr = fmt.Errorf("close %s: %w", output, err)
			}
			return runErr
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 10*time.Second, "time between lines")
	cmd.Flags().StringVar(&output, "output", "training_metrics.jsonl", "file to append JSON lines to")
	cmd.Flags().Int64Var(&maxSize, "max-size", record.DefaultMaxBytes, "rotate the file when it would exceed this many bytes (0: never)")
	cmd.Flags().IntVar(&maxFiles, "max-files", record.DefaultMaxFiles, "rotated files to keep (FILE.1 ... FILE.N)")
	cmd.Flags().StringVar(&agentURL, "url", "", "base URL of a running agent to sample (default: collect in this process)")
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (its host section is used)")
	return cmd
}
