package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/preflight"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// checkReport is the JSON document `trainwatch check --json` prints.
type checkReport struct {
	OK     bool               `json:"ok"`
	Checks []preflight.Result `json:"checks"`
}

func newCheckCmd() *cobra.Command {
	var (
		asJSON, strict, noGPU, demoMode bool
		agentURL, dir, configPath       string
		minDisk, minGPUFree, minMem     string
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run the before-training checklist: GPUs, GPU memory, disk, memory, temperatures",
		Long: `Run the before-training checklist on this machine (or, with --url, on a running
agent's machine): GPUs present and healthy (no lost GPU, no XID errors), no process
holding GPU memory, enough free GPU memory, enough free disk in the output
directory --dir, enough available RAM, temperatures normal (GPUs under 80 °C), and
the driver and CUDA versions. Each check says PASS, WARN or FAIL with a hint.

Exit status: 0 when nothing FAILs (with --strict: nothing WARNs either), 1 when a
check FAILs, 2 on usage errors.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := preflight.Defaults()
			opts.NoGPU = noGPU
			d, err := bytesize.Parse(minDisk)
			if err != nil {
				return usageError{fmt.Errorf("--min-disk: %w", err)}
			}
			opts.MinDiskBytes = uint64(d)
			if opts.MinGPUFree, err = preflight.ParseThreshold(minGPUFree); err != nil {
				return usageError{fmt.Errorf("--min-gpu-free: %w", err)}
			}
			if opts.MinMem, err = preflight.ParseThreshold(minMem); err != nil {
				return usageError{fmt.Errorf("--min-mem: %w", err)}
			}
			if dir == "" {
				return usagef("--dir: must not be empty")
			}
			var h *summary.Host
			if agentURL != "" {
				if demoMode {
					return usagef("--demo and --url: pick one (demo mode is set on the agent)")
				}
				s, err := newRemoteSampler(agentURL)
				if err != nil {
					return err
				}
				if h, err = s.Sample(cmd.Context()); err != nil {
					return err
				}
				// The directory is on the agent's machine: its space comes
				// from the filesystems the agent reports.
				opts.StatFS = nil
				opts.Dir = filepath.Clean(dir)
			} else {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return usagef("--dir %q: %v", dir, err)
				}
				opts.Dir = abs
				if h, opts.Versions, err = sampleForCheck(cmd, configPath, demoMode); err != nil {
					return err
				}
			}
			results := preflight.Run(h, opts)
			rep := checkReport{OK: preflight.OK(results, strict), Checks: results}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return fmt.Errorf("write JSON: %w", err)
				}
			} else if err := writeCheckTable(out, results); err != nil {
				return fmt.Errorf("write table: %w", err)
			}
			if !rep.OK {
				return checkFailed(results, strict)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, `print JSON: {"ok": bool, "checks": [{"name","status","detail","hint"}]}`)
	f.BoolVar(&strict, "strict", false, "exit 1 on WARN too")
	f.BoolVar(&noGPU, "no-gpu", false, "a machine without GPUs passes (CPU-only training)")
	f.BoolVar(&demoMode, "demo", false, "check the simulated 8 x H200 GPUs of demo mode; host checks stay real")
	f.StringVar(&agentURL, "url", "", "base URL of a running agent, e.g. http://127.0.0.1:9835 (default: collect in this process)")
	f.StringVar(&dir, "dir", ".", "output/checkpoint directory whose filesystem needs --min-disk free")
	f.StringVar(&minDisk, "min-disk", "10GB", "free space needed in --dir (powers of 1024: 10GB = 10 GiB)")
	f.StringVar(&minGPUFree, "min-gpu-free", "90%", "free memory needed on each GPU: a percentage of its memory or a size (40GB)")
	f.StringVar(&minMem, "min-mem", "10%", "available RAM needed: a percentage of the total or a size (64GB)")
	f.StringVar(&configPath, "config", "", "YAML configuration file (its host and gpu sections are used)")
	return cmd
}

// sampleForCheck collects one snapshot in this process and returns its
// summary and the GPU driver's versions (trainwatch_gpu_backend_info).
func sampleForCheck(cmd *cobra.Command, configPath string, demoMode bool) (*summary.Host, preflight.Versions, error) {
	cfg, err := loadConfig(cmd, configPath, func(c *config.Config) error {
		if cmd.Flags().Changed("demo") {
			c.Demo = demoMode
		}
		return nil
	})
	if err != nil {
		return nil, preflight.Versions{}, err
	}
	cfg.Processes.Interval = 0
	r, release, err := newRunner(cfg, false, slog.New(slog.DiscardHandler))
	defer release()
	if err != nil {
		return nil, preflight.Versions{}, err
	}
	snap := r.Tick(cmd.Context())
	h := summary.Compute(nil, snap)
	if h == nil {
		return nil, preflight.Versions{}, errors.New("collectors returned no snapshot")
	}
	return h, gpuVersions(snap), nil
}

// gpuVersions reads the driver and CUDA versions of the first working GPU
// backend that reports them.
func gpuVersions(snap *collector.Snapshot) preflight.Versions {
	f := snap.Family("trainwatch_gpu_backend_info")
	if f == nil {
		return preflight.Versions{}
	}
	for i := range f.Samples {
		v := preflight.Versions{Driver: f.Label(i, "driver_version"), CUDA: f.Label(i, "cuda_driver_version")}
		if v.Driver != "" || v.CUDA != "" {
			return v
		}
	}
	return preflight.Versions{}
}

// writeCheckTable prints the results as a table, with the hints of the
// checks that did not pass under it.
func writeCheckTable(w io.Writer, results []preflight.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, r.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var hints []string
	for _, r := range results {
		if r.Status != preflight.Pass && r.Hint != "" {
			hints = append(hints, fmt.Sprintf("  %s: %s", r.Name, r.Hint))
		}
	}
	if len(hints) > 0 {
		if _, err := fmt.Fprintf(w, "\nHow to fix:\n%s\n", strings.Join(hints, "\n")); err != nil {
			return err
		}
	}
	return nil
}

// checkFailed is the error for a failed checklist: it names the checks.
func checkFailed(results []preflight.Result, strict bool) error {
	var names []string
	for _, r := range results {
		if r.Status == preflight.Fail || (strict && r.Status == preflight.Warn) {
			names = append(names, r.Name+" "+string(r.Status))
		}
	}
	return fmt.Errorf("checklist failed: %s", strings.Join(names, ", "))
}
