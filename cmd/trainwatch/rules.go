package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/ruleslint"
)

// newRulesCmd returns the "rules" command group: "rules check".
func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Work with Prometheus rule files (check)",
		Long: `Work with Prometheus alerting and recording rule files.

  trainwatch rules check FILE...   check rule files, like promtool check rules,
                                   plus a type-aware lint`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for \"trainwatch rules\" (available: check)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRulesCheckCmd())
	return cmd
}

// Values of --lint.
const (
	lintError = "error"
	lintWarn  = "warn"
	lintNone  = "none"
)

// newRulesCheckCmd returns "rules check FILE...".
func newRulesCheckCmd() *cobra.Command {
	var (
		lintMode    string
		metadataURL string
		timeout     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check FILE...",
		Short: "Check rule files: syntax, templates, and rate()/deriv() and used/free mistakes",
		Long: `Check Prometheus rule files. Each file gets what promtool check rules checks
(YAML structure and unknown fields, PromQL syntax, label and annotation templates,
for: or annotations on a recording rule, duplicate rules), reported at FILE:LINE,
plus a lint for expressions that parse but compute the wrong thing:

  counter-function-on-gauge   rate(), irate() or increase() of a gauge: every decrease
                              is read as a counter reset, so rate(training_loss[5m]) > 0
                              holds while the loss falls; use deriv() or delta()
                              (resets() of a gauge: a warning)
  gauge-function-on-counter   deriv(), delta() or idelta() of a counter: broken by
                              resets; use rate(), increase() or irate()
                              (predict_linear() of a counter: a warning)
  used-over-free              used / free as a usage ratio, e.g.
                              DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE * 100 (900 at
                              90 % used); use used / (used + free)

Each lint finding prints the corrected expression. Metric types come from the
agent's own collectors (host, processes, jobs, and dcgm-exporter's names from the
8 simulated GPUs of demo mode) and trainwatch's training series (training_loss and
the other logged values are gauges, batches_processed_total a counter); with
--metadata-url also from a running agent or Prometheus server's /api/v1/metadata,
which wins where both know a metric. The _total, _bucket, _sum and _count
conventions apply; metrics of unknown type are not type-linted.

Output: "FILE: N rules, OK" for a clean file, otherwise one line per finding,
"FILE:LINE: error|warning: MESSAGE (CHECK)", followed by "    corrected: EXPR"
when there is a correction, and "FILE: N rules, E errors, W warnings".

--lint=error (default) makes lint findings errors, so that CI fails on them;
--lint=warn reports them as warnings; --lint=none skips them.

Exit status: 0 when no file has an error (warnings allowed); 1 when a file has an
error or cannot be read (every file is still checked); 2 on a usage error (no
FILE, a bad flag).`,
		Example: `  trainwatch rules check alerts.yml
  trainwatch rules check --lint=warn rules/*.yml
  trainwatch rules check --metadata-url http://prometheus:9090 alerts.yml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rules check takes one or more rule files")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			switch lintMode {
			case lintError, lintWarn, lintNone:
			default:
				return usagef("--lint %q: want error, warn or none", lintMode)
			}
			if metadataURL != "" {
				if _, err := ruleslint.MetadataURL(metadataURL); err != nil {
					return usageError{fmt.Errorf("--metadata-url: %w", err)}
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var types ruleslint.TypeSource
			if lintMode != lintNone {
				var err error
				if types, err = rulesTypes(ctx, metadataURL); err != nil {
					return err
				}
			}
			failed := 0
			out := cmd.OutOrStdout()
			for _, f := range files {
				ok, err := checkRuleFile(out, f, types, lintMode)
				if err != nil {
					return err
				}
				if !ok {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d rule files failed the check", failed, len(files))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&lintMode, "lint", lintError, "lint findings are: error (fail the check), warn (reported only) or none (not checked)")
	cmd.Flags().StringVar(&metadataURL, "metadata-url", "", "also take metric types from this agent's or Prometheus server's /api/v1/metadata (base URL or full URL)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up collecting metric types after this long")
	return cmd
}

// checkRuleFile checks one file and prints its findings and summary; it
// reports whether the file passed. The error is for output that cannot be
// written.
func checkRuleFile(out io.Writer, file string, types ruleslint.TypeSource, lintMode string) (bool, error) {
	rep, err := ruleslint.Check(file, types)
	if err != nil {
		_, werr := fmt.Fprintf(out, "%s: error: %v\n", file, err)
		return false, werr
	}
	var kept []ruleslint.Finding
	for _, f := range rep.Findings {
		if f.Lint {
			switch lintMode {
			case lintNone:
				continue
			case lintWarn:
				f.Severity = ruleslint.Warning
			}
		}
		kept = append(kept, f)
	}
	rep.Findings = kept
	for _, f := range rep.Findings {
		pos := file
		if f.Line > 0 {
			pos = fmt.Sprintf("%s:%d", file, f.Line)
		}
		if _, err := fmt.Fprintf(out, "%s: %s: %s (%s)\n", pos, f.Severity, f.Message, f.Check); err != nil {
			return false, err
		}
		if f.Corrected != "" {
			if _, err := fmt.Fprintf(out, "    corrected: %s\n", f.Corrected); err != nil {
				return false, err
			}
		}
	}
	errs, warns := rep.Count(ruleslint.Error), rep.Count(ruleslint.Warning)
	var summary string
	switch {
	case errs == 0 && warns == 0:
		summary = "OK"
	case errs == 0:
		summary = fmt.Sprintf("OK, %s", plural(warns, "warning"))
	default:
		summary = fmt.Sprintf("%s, %s", plural(errs, "error"), plural(warns, "warning"))
	}
	_, err = fmt.Fprintf(out, "%s: %s, %s\n", file, plural(rep.Rules, "rule"), summary)
	return errs == 0, err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// rulesTypes returns the metric types the lint uses: a server's metadata
// when metadataURL is set, over the agent's own.
func rulesTypes(ctx context.Context, metadataURL string) (ruleslint.TypeSource, error) {
	own, err := agentTypes(ctx)
	if err != nil {
		return nil, err
	}
	if metadataURL == "" {
		return own, nil
	}
	md, err := ruleslint.FetchMetadata(ctx, http.DefaultClient, metadataURL)
	if err != nil {
		return nil, fmt.Errorf("--metadata-url: %w", err)
	}
	return ruleslint.Layered{md, own}, nil
}

// trainingTypes are the types of the training series trainwatch stores
// for logged and pushed runs (docs/training.md).
func trainingTypes() ruleslint.Types {
	return ruleslint.Types{
		"training_loss":           collector.Gauge,
		"validation_loss":         collector.Gauge,
		"learning_rate":           collector.Gauge,
		"current_epoch":           collector.Gauge,
		"batch_processing_time":   collector.Gauge,
		"samples_per_second":      collector.Gauge,
		"tokens_per_second":       collector.Gauge,
		"batches_processed_total": collector.Counter,
	}
}

// agentTypes returns the types of the metric families the agent itself
// exports: one tick of every collector, with demo mode's simulated GPUs
// standing in for real ones so that dcgm-exporter's names are known on any
// machine, plus the training series. Families a collector emits only on
// some machines (sensors, a GPU's optional fields) are known only there.
func agentTypes(ctx context.Context) (ruleslint.Types, error) {
	cfg := config.Default()
	cfg.Demo = true
	quiet := slog.New(slog.DiscardHandler)
	r, release, err := newRunner(cfg, true, quiet)
	defer release()
	if err != nil {
		return nil, fmt.Errorf("metric types from the collectors: %w", err)
	}
	types := trainingTypes()
	for _, f := range r.Tick(ctx).Families {
		if f != nil && f.Desc != nil {
			types[f.Desc.Name] = f.Desc.Type
		}
	}
	return types, nil
}
