// Command trainwatch monitors a machine that trains ML models: host, GPUs,
// processes and training runs, with Prometheus-compatible metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
)

// Set by the release build with -ldflags "-X main.version=... ".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// usageError marks an error in how the command was called; it exits with 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	// Heap profiles are read only through serve --web.enable-pprof, which
	// turns sampling back on (serve). Off, no allocation pays for a stack
	// trace and the runtime's profile bucket table (1.4 MiB once touched)
	// and buckets stay untouched. A rate set with GODEBUG=memprofilerate=N
	// is left as it is.
	if !strings.Contains(os.Getenv("GODEBUG"), "memprofilerate=") {
		runtime.MemProfileRate = 0
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code // `run`: the child's own exit code, already reported
	}
	fmt.Fprintf(stderr, "trainwatch: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "Run 'trainwatch --help' for usage.\n")
		return 2
	}
	return 1
}

// isCobraUsage recognises cobra's own errors for unknown commands.
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag")
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:   "trainwatch",
		Short: "Monitor a machine that trains ML models",
		Long: `trainwatch monitors a machine that trains ML models: GPUs, CPU, memory, disks,
network, processes and training runs, in one binary. Its /metrics endpoint uses
node_exporter's and dcgm-exporter's metric names, so existing Prometheus rules and
Grafana dashboards work unchanged.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log.level %q: want debug, info, warn or error", logLevel)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})))
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&logLevel, "log.level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCmd(),
		newSummaryCmd(),
		newRecordCmd(),
		newQueryCmd(),
		newRulesCmd(),
		newCheckCmd(),
		newRunCmd(),
		newTopCmd(),
		newInstallServiceCmd(),
		newFillHistoryCmd(),
		newGrafanaCmd(),
		newVersionCmd(),
	)
	return root
}

// noArgs rejects positional arguments with a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q: this command takes only flags", args[0])
	}
	return nil
}
