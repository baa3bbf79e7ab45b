// Command soak runs `trainwatch serve` for a long time under a steady,
// realistic load and reports whether its memory, goroutines and open files
// stay flat (issue 13: "30 minutes at 1 s collection with pushes every
// 100 ms and three UI clients: RSS and goroutine count stay flat").
//
// It builds ./cmd/trainwatch (or takes -bin), starts `trainwatch serve
// --demo --interval 1s --web.enable-pprof --log.level debug` (history on;
// debug, because net/http logs a handler's panic at that level only) on a
// free loopback port with a fresh data directory, and for -d drives it
// with:
//
//   - a pusher, every 100 ms alternating between a Pushgateway push (PUT
//     and POST in turn, text format, to /metrics/job/soak/instance/x: a
//     counter that increases, a gauge, a histogram) and a training-run log
//     line (POST /api/v1/runs/ID/log, NDJSON, the step increasing); the run
//     is finished and a new one registered every -run-every;
//   - three dashboard clients, each holding the server-sent-event stream
//     the dashboard uses (GET /api/ui/events; reconnecting, as EventSource
//     does, if it drops) and every 5–10 s opening the next page, with the
//     requests that page's JavaScript makes (internal/ui/static/js): the
//     overview's query_range calls over the last 5 minutes, a GPU page, the
//     runs list and a run's series, the alerts page, the process table;
//     every -reload each client reloads its tab (a new stream, the static
//     files again, fresh connections).
//
// Every -sample it reads the agent's VmRSS, RssAnon and RssFile
// (/proc/PID/status), its goroutines (/debug/pprof/goroutine), heap in
// use, threads and TSDB head series (/metrics), open file descriptors
// (/proc/PID/fd) and the size of the TSDB's chunks_head/ and wal/. Before
// the load starts (after one round of every request, so that what starts
// lazily is counted) and after it stopped and its connections are closed,
// it reads the goroutines and descriptors again, and keeps both goroutine
// profiles (and heap profiles) to show which stacks grew.
//
// The report (markdown, to standard output and -out, with the result as
// JSON next to it) has the samples, the first- and last-10-minute means,
// the least-squares slopes over the last two thirds of the run (memory
// also net of the TSDB head's series, see report.go) and a verdict; the
// exit status is 1 when something is not flat or a request failed. The
// profiles and the agent's whole log are kept in a directory the report
// names.
//
//	go run ./bench/soak                                       # 30 min
//	go run ./bench/soak -d 30m -out bench/results/soak-$(date +%F)-vm.md
//	go run ./bench/soak -d 5m -sample 5s -out -               # a quick look
//	go run ./bench/soak -render bench/results/soak-DATE-vm.json   # the report again
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

func main() {
	o, out, render, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if render != "" {
		b, err := os.ReadFile(render)
		if err == nil {
			var res result
			if err = json.Unmarshal(b, &res); err == nil {
				if len(res.HeapTop) == 0 {
					res.HeapTop = heapTop(context.Background(), res.ProfileDir)
				}
				fmt.Print(res.markdown())
				return
			}
		}
		fmt.Fprintln(os.Stderr, "soak: -render:", err)
		os.Exit(1)
	}
	o.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := soak(ctx, o)
	if res != nil && len(res.Samples) > 0 {
		md := res.markdown()
		fmt.Print(md)
		if out != "-" {
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, "soak:", err)
				os.Exit(1)
			}
			js, err := json.MarshalIndent(res, "", " ")
			if err == nil {
				err = os.WriteFile(out, []byte(md), 0o644)
			}
			if err == nil {
				err = os.WriteFile(jsonPath(out), js, 0o644)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "soak:", err)
				os.Exit(1)
			}
			fmt.Fprintln(os.Stderr, "wrote", out, "and", jsonPath(out))
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if v := res.verdict(); !v.OK {
		fmt.Fprintln(os.Stderr, "soak: NOT flat or requests failed:", strings.Join(v.Why, "; "))
		os.Exit(1)
	}
}

// options are the harness's settings.
type options struct {
	Duration  time.Duration // how long the load runs
	Sample    time.Duration // how often the agent is measured
	Bin       string        // prebuilt trainwatch; "": go build ./cmd/trainwatch
	PushEvery time.Duration // one push or run log per tick, alternately
	RunEvery  time.Duration // a run is finished and a new one started
	Clients   int           // dashboard clients
	PageMin   time.Duration // a client opens its next page after PageMin..PageMax
	PageMax   time.Duration
	Reload    time.Duration // each client reloads its tab (new stream, fresh connections)
	Range     time.Duration // the dashboard's time range
	Settle    time.Duration // how long to wait for goroutines to return after the load
	Profiles  string        // where the pprof profiles go; "": a temporary directory, kept
	Keep      bool          // keep the agent's data directory and log
	LogLevel  string        // the agent's --log.level
	Block     time.Duration // the agent's --storage.tsdb.block-duration (0: 2h)
	Command   string        // the command line, for the report
	Log       io.Writer     `json:"-"`
}

// defaultOptions are the soak: 30 minutes, 1 s collection, a push
// every 100 ms, three dashboard clients.
func defaultOptions() options {
	return options{
		Duration:  30 * time.Minute,
		Sample:    10 * time.Second,
		PushEvery: 100 * time.Millisecond,
		RunEvery:  3 * time.Minute,
		Clients:   3,
		PageMin:   5 * time.Second,
		PageMax:   10 * time.Second,
		Reload:    5 * time.Minute,
		Range:     5 * time.Minute,
		Settle:    30 * time.Second,
		LogLevel:  "debug",
		Log:       io.Discard,
	}
}

// jsonPath is where the result's JSON goes next to the report.
func jsonPath(md string) string { return strings.TrimSuffix(md, ".md") + ".json" }

// parseFlags reads the command line; out is the report's path ("-": none),
// render a saved result to print instead of measuring.
func parseFlags(args []string) (o options, out, render string, err error) {
	o = defaultOptions()
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.DurationVar(&o.Duration, "d", o.Duration, "how long the load runs")
	fs.DurationVar(&o.Sample, "sample", o.Sample, "how often the agent's RSS, goroutines, heap, fds and head series are read")
	fs.StringVar(&o.Bin, "bin", "", "trainwatch binary (default: go build -trimpath ./cmd/trainwatch into a temporary directory)")
	fs.StringVar(&out, "out", "", "markdown report, with the result as JSON next to it (default: the module's bench/results/soak-DATE-KIND.md; -: standard output only)")
	fs.StringVar(&render, "render", "", "instead of measuring: print the report of a saved result (the .json next to a report)")
	fs.DurationVar(&o.PushEvery, "push-every", o.PushEvery, "one write every this long, alternating Pushgateway push and run log")
	fs.DurationVar(&o.RunEvery, "run-every", o.RunEvery, "finish the logged run and register a new one this often")
	fs.IntVar(&o.Clients, "clients", o.Clients, "dashboard clients (each: one event stream, a page view every 5–10 s)")
	fs.DurationVar(&o.Reload, "reload", o.Reload, "each dashboard client reloads its tab this often (new stream and connections)")
	fs.StringVar(&o.Profiles, "profiles", "", "directory for the goroutine and heap profiles (default: a new temporary directory, kept)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the agent's data directory and log")
	fs.DurationVar(&o.Block, "block", 0, "the agent's TSDB block range (hidden --storage.tsdb.block-duration; 0: Prometheus' 2 h): the head is compacted once it spans 1.5 of it, so a soak shorter than 3 h sees no compaction at the default")
	fs.StringVar(&o.LogLevel, "log.level", o.LogLevel, "the agent's --log.level; debug shows a handler's panic (the report lists warnings, errors and panics; the whole log is kept with the profiles)")
	if err := fs.Parse(args); err != nil {
		return o, "", "", err
	}
	if fs.NArg() > 0 {
		return o, "", "", fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if render != "" {
		return o, out, render, nil
	}
	if o.Duration < time.Minute || o.Sample < time.Second || o.Sample > o.Duration/6 {
		return o, "", "", errors.New("-d must be at least 1m and -sample between 1s and a sixth of -d")
	}
	if o.PushEvery <= 0 || o.RunEvery <= 0 || o.Reload <= 0 || o.Clients < 0 || o.Clients > 32 {
		return o, "", "", errors.New("-push-every, -run-every and -reload must be positive, -clients 0..32")
	}
	o.Command = strings.TrimSpace("go run ./bench/soak " + strings.Join(args, " "))
	if out == "" {
		root, err := machine.ModuleRoot()
		if err != nil {
			return o, "", "", err
		}
		out = filepath.Join(root, "bench", "results", fmt.Sprintf("soak-%s-%s.md", time.Now().Format("2006-01-02"), machine.ReadHost().Kind))
	}
	return o, out, "", nil
}
