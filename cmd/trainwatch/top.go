package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/tui"
)

// topDefaultURL is where top looks for an agent without --url.
const topDefaultURL = "http://127.0.0.1:9835"

// topProbeTimeout bounds the look for a local agent.
const topProbeTimeout = 700 * time.Millisecond

func newTopCmd() *cobra.Command {
	var (
		agentURL string
		interval time.Duration
		noColor  bool
	)
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Live terminal view of GPUs, CPU, memory, disks, network, processes, runs and alerts",
		Long: `Show a live, full-screen view of this machine (or of the agent at --url): each GPU
with utilisation, memory, temperature, power and clocks and their history (as nvtop),
CPU per core, load, memory and swap (as htop), disk I/O and space (as iostat, iotop and
df), network per interface (as iftop), temperatures (as sensors), every process with
its training job, container and GPU memory (sortable, filterable, as a tree, with
signals after confirmation), training runs with loss, progress and ETA, and alerts.

Without --url it uses the local agent ($TRAINWATCH_URL, else ` + topDefaultURL + `) when
one answers, and otherwise collects in this process every --interval (no history, runs
or alerts then). Keys: 1-9 or Tab switch panels, ? lists every key, q quits.
Colour follows the terminal; NO_COLOR or --no-color turns it off. See docs/top.md.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return usagef("--interval %s: must be positive", interval)
			}
			out, ok := cmd.OutOrStdout().(*os.File)
			if !ok || !term.IsTerminal(out.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
				return errors.New("top needs a terminal (for one summary in a script, use `trainwatch summary`)")
			}
			ctx := cmd.Context()
			src, closeSrc, err := topSource(ctx, cmd, agentURL, interval)
			if err != nil {
				return err
			}
			defer closeSrc()
			return tui.Run(ctx, tui.Options{Source: src, Profile: tui.ColorProfile(out, noColor)}, os.Stdin, out)
		},
	}
	cmd.Flags().StringVar(&agentURL, "url", "", "base URL of the agent to show, e.g. http://gpu-box:9835 (default: $TRAINWATCH_URL or "+topDefaultURL+" when an agent answers there, else collect in this process)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "collection interval when collecting in this process (an agent sends at its own interval)")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "no colour (also when NO_COLOR is set)")
	return cmd
}

// topSource picks the data source: the agent at --url; else the local
// agent when one answers; else collection in this process.
func topSource(ctx context.Context, cmd *cobra.Command, agentURL string, interval time.Duration) (tui.Source, func(), error) {
	if agentURL != "" {
		a, err := tui.NewAgentSource(agentURL)
		if err != nil {
			return nil, nil, usagef("--url: %w", err)
		}
		return a, func() {}, nil
	}
	base := topDefaultURL
	if env := os.Getenv("TRAINWATCH_URL"); env != "" {
		base = env
	}
	if err := tui.Probe(ctx, base, topProbeTimeout); err == nil {
		a, err := tui.NewAgentSource(base)
		if err == nil {
			return a, func() {}, nil
		}
	}
	return localTopSource(cmd, interval)
}

// localTopSource collects in this process: the agent's collectors, the
// process table, no history. Nothing may log to the terminal the UI
// draws on, so the collectors' log goes nowhere; the UI shows what fails.
func localTopSource(cmd *cobra.Command, interval time.Duration) (tui.Source, func(), error) {
	cfg, err := loadConfig(cmd, "", nil)
	if err != nil {
		return nil, nil, err
	}
	cfg.Processes.Interval = 2 * time.Second // the processes panel's refresh
	runner, scanner, release, err := buildRunner(cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("collect in process: %w", err)
	}
	host, _ := os.Hostname()
	opts := tui.LocalOptions{Runner: runner, Jobs: cfg.Processes.Jobs, Interval: interval, Instance: host}
	if scanner != nil {
		opts.Processes = scanner.Latest
	}
	src, err := tui.NewLocalSource(opts)
	if err != nil {
		release()
		return nil, nil, err
	}
	return src, release, nil
}
