package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// sampler produces Host summaries, either from a running agent or by
// collecting in this process.
type sampler interface {
	Sample(ctx context.Context) (*summary.Host, error)
}

// localSampler collects in-process; rates are computed against the
// previous sample.
type localSampler struct {
	runner  *collector.Runner
	prev    *collector.Snapshot
	release func()
}

func newLocalSampler(cfg config.Config, logger *slog.Logger) (*localSampler, error) {
	r, release, err := newRunner(cfg, false, logger)
	if err != nil {
		release()
		return nil, err
	}
	return &localSampler{runner: r, release: release}, nil
}

// Close releases the collectors' resources (NVML).
func (s *localSampler) Close() { s.release() }

// Prime takes a first snapshot and waits window, so that the next Sample
// has rates over that window.
func (s *localSampler) Prime(ctx context.Context, window time.Duration) error {
	s.prev = s.runner.Tick(ctx)
	select {
	case <-time.After(window):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *localSampler) Sample(ctx context.Context) (*summary.Host, error) {
	cur := s.runner.Tick(ctx)
	h := summary.Compute(s.prev, cur)
	s.prev = cur
	return h, nil
}

// remoteSampler asks a running agent for /api/v1/snapshot.
type remoteSampler struct {
	url    string
	client *http.Client
}

func newRemoteSampler(raw string) (*remoteSampler, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url %q: want the agent's base URL, e.g. http://127.0.0.1:9835", raw)
	}
	return &remoteSampler{
		url:    strings.TrimRight(u.String(), "/") + "/api/v1/snapshot",
		client: &http.Client{Timeout: 10 * time.Second},
	}, nil
}

func (s *remoteSampler) Sample(ctx context.Context) (*summary.Host, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the agent at %s (is `trainwatch serve` running there?): %w", s.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s: %s", s.url, resp.Status, strings.TrimSpace(string(body)))
	}
	var h summary.Host
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, fmt.Errorf("decode %s: %w", s.url, err)
	}
	return &h, nil
}

// useColor decides whether to colour output written to w.
func useColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if _, ok := os.LookupEnv("NO_COLOR"); ok {
			return false, nil
		}
		f, ok := w.(*os.File)
		if !ok {
			return false, nil
		}
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		return err == nil, nil
	default:
		return false, usagef("--color %q: want auto, always or never", mode)
	}
}

func newSummaryCmd() *cobra.Command {
	var (
		asJSON     bool
		agentURL   string
		window     time.Duration
		color      string
		configPath string
	)
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Print a summary of CPU, memory, disks, network and temperatures",
		Long: `Print one summary of this machine: CPU (average and per core), load, memory and
swap, each filesystem's space, each disk's read/write MB/s and latency, each network
interface's in/out MB/s and packet rates, temperatures, and any source that could not
be read, with the reason. Standalone, it samples twice --window apart to compute rates;
with --url it asks a running agent. --json prints the JSON document described in
docs/summary.md.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			colored, err := useColor(color, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if window <= 0 {
				return usagef("--window %s: must be positive", window)
			}
			h, err := takeSummary(cmd, configPath, agentURL, window)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(h)
			}
			return h.WriteText(out, summary.TextOptions{Color: colored, Width: terminalWidth(out)})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.Flags().StringVar(&agentURL, "url", "", "base URL of a running agent, e.g. http://127.0.0.1:9835 (default: collect in this process)")
	cmd.Flags().DurationVar(&window, "window", time.Second, "time between the two samples used for rates, when collecting in this process")
	cmd.Flags().StringVar(&color, "color", "auto", "colour: auto (on a terminal, unless NO_COLOR is set), always or never")
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (its host section is used)")
	return cmd
}

func takeSummary(cmd *cobra.Command, configPath, agentURL string, window time.Duration) (*summary.Host, error) {
	ctx := cmd.Context()
	if agentURL != "" {
		s, err := newRemoteSampler(agentURL)
		if err != nil {
			return nil, err
		}
		return s.Sample(ctx)
	}
	cfg, err := loadConfig(cmd, configPath, nil)
	if err != nil {
		return nil, err
	}
	// Both samples scan processes, so that their CPU use has a rate.
	cfg.Processes.Interval = 0
	// The summary itself lists every collector that could not read its
	// source, with the reason; logging them too would say it twice.
	s, err := newLocalSampler(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Prime(ctx, window); err != nil {
		return nil, err
	}
	return s.Sample(ctx)
}

// terminalWidth returns the terminal's width, or 0 (the default) when w is
// not a terminal.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0
	}
	return int(ws.Col)
}
