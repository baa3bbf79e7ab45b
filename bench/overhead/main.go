// Command overhead measures trainwatch's cost side by side with its peers,
// in one run on this machine:
//
//   - `trainwatch serve` (1 s interval, all collectors, history and rules
//     on) with --demo (8 simulated H200s) and without, each scraped every
//     second as Prometheus would; the same with one hour of history
//     written before it starts (`trainwatch fill-history`), for its memory;
//     and `trainwatch serve --no-history`, not scraped, for the cost of
//     collection alone;
//   - node_exporter and process-exporter from Debian (process-exporter
//     grouping every process by command name), each scraped every second:
//     they collect at scrape time;
//   - netdata from Debian, idle (it collects every second on its own);
//   - the floor (bench/overhead/floor): a minimal Go program that only
//     reads the files trainwatch reads, once per second.
//
// Each phase (0, 300 and 2,000 extra `sleep` processes by default) starts
// every target fresh on its own loopback port and directory, warms up,
// measures CPU (utime+stime of the process tree from /proc/PID/stat) over
// a window, reads RSS and VmHWM, then measures /metrics latency with 4 and
// 64 concurrent clients, in a closed loop (each client sends its next
// request when the last answered) and then in an open loop (as many
// scrapers, each once a second at its own phase, as Prometheus servers
// would), and stops everything. For trainwatch the same requests are also
// read from the server's side, from its request duration histogram. Missing peers are skipped
// and named in the report. Everything the harness starts is stopped by PID
// at the end, on errors and on Ctrl-C.
//
// The report (markdown, with the budgets and the ratios) goes to
// standard output and, with JSON next to it, to
// -out/overhead-YYYY-MM-DD-KIND.md.
//
//	go run ./bench/overhead                      # full run, several minutes
//	go run ./bench/overhead -short               # 10 s windows, 0 and 300 processes, one 2 s open loop
//	go run ./bench/overhead -profile /tmp/prof   # pprof of serve --demo instead
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

func main() {
	c, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(2)
	}
	if err := c.run(); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}

// cli is a parsed command line.
type cli struct {
	opts    options
	out     string // results directory; "" the module's bench/results, "-" none
	profile string // profile mode's directory
	render  string // render mode's JSON file
	args    []string
}

// run does what the command line asks.
func (c cli) run() error {
	c.opts.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case c.profile != "":
		return profile(ctx, c.opts, c.profile)
	case c.render != "":
		b, err := os.ReadFile(c.render)
		if err != nil {
			return fmt.Errorf("render: %w", err)
		}
		var res result
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("render %s: %w", c.render, err)
		}
		fmt.Print(res.markdown())
		return nil
	}
	res, err := run(ctx, c.opts, strings.TrimSpace("go run ./bench/overhead "+strings.Join(c.args, " ")))
	if err != nil {
		return err
	}
	fmt.Print(res.markdown())
	out := c.out
	if out == "-" {
		return nil
	}
	if out == "" {
		root, err := machine.ModuleRoot()
		if err != nil {
			return err
		}
		out = filepath.Join(root, "bench", "results")
	}
	path, err := res.save(out, c.opts.Tag, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", path)
	return nil
}

// parseFlags reads the command line.
func parseFlags(args []string) (cli, error) {
	c := cli{opts: defaultOptions(), args: args}
	o := &c.opts
	fs := flag.NewFlagSet("overhead", flag.ContinueOnError)
	short := fs.Bool("short", false, "CI mode: 10 s windows, 5 s warm-up, 0 and 300 extra processes, 100 requests, a 2 s open loop at the largest client count only (flags given explicitly win)")
	fs.DurationVar(&o.Window, "window", o.Window, "CPU window per phase")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "wait after the targets are ready, before the window (RSS is read after warm-up + window)")
	fs.DurationVar(&o.Scrape, "scrape-interval", o.Scrape, "how often scraped targets are scraped")
	procs := fs.String("procs", "0,300,2000", "extra sleeping processes, one phase each (comma-separated)")
	clients := fs.String("clients", "4,64", "concurrent clients of the latency phase (comma-separated)")
	fs.IntVar(&o.Requests, "requests", o.Requests, "requests per target and client count in the latency phase")
	fs.DurationVar(&o.LatencyMax, "latency-max", o.LatencyMax, "time cap of one latency measurement")
	fs.DurationVar(&o.OpenWindow, "open-window", o.OpenWindow, "open-loop phase per target and client count: as many scrapers as clients, each once per -scrape-interval at its own phase (0: none)")
	openClients := fs.String("open-clients", "", "client counts of the open-loop phase (comma-separated; default: those of -clients)")
	fs.DurationVar(&o.HistoryFill, "history", o.HistoryFill, "history written before the 'tw-1h' target starts (0: no such target)")
	only := fs.String("only", "", "comma-separated target keys to run: tw-demo, tw-demo-idle, tw, tw-collect, tw-1h, node, process, netdata, floor-1s, floor-sched, hist-floor, hist-floor-1h, http-floor")
	fs.StringVar(&o.Trainwatch, "trainwatch", "", "trainwatch binary to measure (default: go build ./cmd/trainwatch into a temporary directory)")
	fs.StringVar(&o.NodeExp, "node-exporter", o.NodeExp, "node_exporter binary")
	fs.StringVar(&o.ProcExp, "process-exporter", o.ProcExp, "process-exporter binary")
	fs.StringVar(&o.Netdata, "netdata", o.Netdata, "netdata binary")
	fs.BoolVar(&o.Sequential, "sequential", false, "measure one target at a time (each with its own window) instead of all at once")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (targets' logs and data)")
	fs.StringVar(&c.out, "out", "", "directory for overhead-DATE-KIND.md and .json (default: the module's bench/results; -: standard output only)")
	fs.StringVar(&o.Tag, "tag", "", "suffix of the result files' names: overhead-DATE-KIND-TAG.md")
	fs.StringVar(&c.profile, "profile", "", "instead of the comparison: profile trainwatch serve --demo (CPU over -window, then heap and allocations) into this directory")
	fs.StringVar(&c.render, "render", "", "instead of measuring: print the markdown report of a saved JSON result")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *short {
		s := shortOptions(*o)
		for name, apply := range map[string]func(){
			"window":      func() { o.Window = s.Window },
			"warmup":      func() { o.Warmup = s.Warmup },
			"requests":    func() { o.Requests = s.Requests },
			"latency-max": func() { o.LatencyMax = s.LatencyMax },
			"open-window": func() { o.OpenWindow = s.OpenWindow },
			"procs":       func() { *procs = "0,300" },
		} {
			if !set[name] {
				apply()
			}
		}
		o.Short = true
	}
	var err error
	if o.Procs, err = intList(*procs, 0, 5000); err != nil {
		return c, fmt.Errorf("-procs: %w", err)
	}
	if o.Clients, err = intList(*clients, 1, 1024); err != nil {
		return c, fmt.Errorf("-clients: %w", err)
	}
	switch {
	case *openClients != "":
		if o.OpenClients, err = intList(*openClients, 1, 1024); err != nil {
			return c, fmt.Errorf("-open-clients: %w", err)
		}
	case *short:
		o.OpenClients = []int{slices.Max(o.Clients)}
	default:
		o.OpenClients = o.Clients
	}
	if strings.ContainsAny(o.Tag, "/\\ ") {
		return c, fmt.Errorf("-tag %q: no slashes or spaces", o.Tag)
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	if o.Window < time.Second || o.Warmup < 0 || o.Requests < 1 || o.LatencyMax <= 0 || o.Scrape <= 0 || o.OpenWindow < 0 {
		return c, errors.New("-window must be at least 1s; -warmup, -requests, -latency-max and -scrape-interval positive; -open-window not negative")
	}
	return c, nil
}

// intList parses "0,300,2000" with each value in [lo, hi].
func intList(s string, lo, hi int) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", f, err)
		}
		if v < lo || v > hi {
			return nil, fmt.Errorf("%d is outside %d..%d", v, lo, hi)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}
