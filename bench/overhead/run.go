package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// options are the harness's settings.
type options struct {
	Window      time.Duration // CPU window per phase
	Warmup      time.Duration // after ready, before the window
	Scrape      time.Duration // scrape interval of scraped targets
	Procs       []int         // extra sleeping processes per phase
	Clients     []int         // concurrent clients of the latency phase
	Requests    int           // requests per target and client count
	LatencyMax  time.Duration // time cap of one latency measurement
	OpenWindow  time.Duration // open-loop phase per target and client count; 0: none
	OpenClients []int         // client counts of the open-loop phase
	HistoryFill time.Duration // history written for tw-1h before it starts
	Only        []string      // target keys to run; empty: all
	Trainwatch  string        // prebuilt binary; "": build ./cmd/trainwatch
	NodeExp     string
	ProcExp     string
	Netdata     string
	Sequential  bool   // one target at a time instead of all at once
	Keep        bool   // keep the temporary directory
	Tag         string // suffix of the result files' names
	Short       bool
	Log         io.Writer
}

// shortOptions are -short's defaults (CI): a smoke run of the harness.
func shortOptions(o options) options {
	o.Window = 10 * time.Second
	o.Warmup = 5 * time.Second
	o.Procs = []int{0, 300}
	o.Requests = 100
	o.LatencyMax = 5 * time.Second
	o.OpenWindow = 2 * time.Second
	o.OpenClients = []int{slices.Max(o.Clients)} // parseFlags: the largest of -clients
	o.Short = true
	return o
}

// defaultOptions are the full run's settings.
func defaultOptions() options {
	return options{
		Window:      60 * time.Second,
		Warmup:      20 * time.Second,
		Scrape:      time.Second,
		Procs:       []int{0, 300, 2000},
		Clients:     []int{4, 64},
		OpenClients: []int{4, 64},
		Requests:    640,
		LatencyMax:  20 * time.Second,
		OpenWindow:  20 * time.Second,
		HistoryFill: time.Hour,
		NodeExp:     "/usr/bin/prometheus-node-exporter",
		ProcExp:     "/usr/bin/prometheus-process-exporter",
		Netdata:     "/usr/sbin/netdata",
		Log:         io.Discard,
	}
}

// targetResult is one target in one phase.
type targetResult struct {
	Key        string  `json:"key"`
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPerMin  float64 `json:"cpu_seconds_per_minute"`
	CorePct    float64 `json:"percent_of_one_core"`
	TreeProcs  int     `json:"tree_processes"`
	// The window this target was measured in (all targets share one
	// unless -sequential).
	HostProcs   int     `json:"processes_on_host"`
	WindowS     float64 `json:"window_seconds"`
	LoadStart   string  `json:"loadavg_start"`
	LoadEnd     string  `json:"loadavg_end"`
	HostBusyPct float64 `json:"host_busy_percent"`
	// Memory of the main process at the end of the window, KiB.
	Mem        machine.Mem `json:"memory_kib"`
	TreeRSSKiB int64       `json:"tree_rss_kib"`
	// HWMAfterKiB is the peak after the latency phase.
	HWMAfterKiB  int64           `json:"hwm_after_latency_kib,omitempty"`
	Scrapes      int             `json:"scrapes,omitempty"`
	ScrapeErrors int             `json:"scrape_errors,omitempty"`
	ScrapeP50Ms  float64         `json:"scrape_p50_ms,omitempty"`
	ScrapeP99Ms  float64         `json:"scrape_p99_ms,omitempty"`
	Body         *bodyStats      `json:"body,omitempty"`
	Latency      []latencyResult `json:"latency,omitempty"`
	// OpenLoop is the open-loop phase, one per client count (absent in
	// older results).
	OpenLoop []openLoopResult `json:"open_loop,omitempty"`
}

// phaseResult is one phase: one number of extra processes.
type phaseResult struct {
	Extra       int            `json:"extra_processes"`
	HostProcs   int            `json:"processes_on_host"`
	WindowS     float64        `json:"window_seconds"`
	LoadStart   string         `json:"loadavg_start"`
	LoadEnd     string         `json:"loadavg_end"`
	HostBusyPct float64        `json:"host_busy_percent"`
	Targets     []targetResult `json:"targets"`
}

// result is a whole run.
type result struct {
	Date     string            `json:"date"`
	Host     machine.Host      `json:"host"`
	Command  string            `json:"command"`
	Settings map[string]string `json:"settings"`
	Versions map[string]string `json:"versions"`
	Skipped  map[string]string `json:"skipped,omitempty"`
	Phases   []phaseResult     `json:"phases"`
	Duration string            `json:"duration"`
}

// target returns the result of key in phase i, or nil.
func (r *result) target(i int, key string) *targetResult {
	if i < 0 || i >= len(r.Phases) {
		return nil
	}
	for j := range r.Phases[i].Targets {
		if r.Phases[i].Targets[j].Key == key {
			return &r.Phases[i].Targets[j]
		}
	}
	return nil
}

// goBuild builds pkg (relative to the module root) into out.
func goBuild(ctx context.Context, root, pkg, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// findBin returns path when it is executable, else name from $PATH, else "".
func findBin(path string, names ...string) string {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return path
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// version runs bin with args and returns the first line it prints.
func version(ctx context.Context, bin string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(line)
}

// bins are the executables of a run.
type bins struct {
	trainwatch, floor, httpFloor, histFloor, sleep, node, proc, netdata string
	// rules is the built-in rule pack's file, which histfloor evaluates.
	rules string
}

// targetBins are the executables of the targets, whose page cache run
// evicts before the first phase.
func (b bins) targetBins() []string {
	return slices.DeleteFunc([]string{b.trainwatch, b.floor, b.httpFloor, b.histFloor, b.node, b.proc, b.netdata},
		func(s string) bool { return s == "" })
}

// specs builds the targets of a run, and the reasons for those skipped.
func specs(o options, b bins) ([]*targetSpec, map[string]string) {
	skipped := make(map[string]string)
	hostname, _ := os.Hostname()
	if hostname == "" {
		hostname = "localhost"
	}
	tw := func(key, name string, extra ...string) *targetSpec {
		return &targetSpec{
			key: key, name: name, bin: b.trainwatch,
			args: func(port int, dir string) []string {
				a := []string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port),
					"--data-dir", filepath.Join(dir, "data"), "--interval", "1s", "--log.level", "warn"}
				return append(a, extra...)
			},
			readyPath: "/-/ready", metricsPath: "/metrics", scrape: true, latency: true, histogram: true,
			readyTimeout: 2 * time.Minute, stopGrace: 20 * time.Second,
		}
	}
	twDemo := tw("tw-demo", "trainwatch serve --demo", "--demo")
	twPlain := tw("tw", "trainwatch serve")
	twCollect := tw("tw-collect", "trainwatch serve --no-history, not scraped", "--no-history")
	twCollect.scrape, twCollect.latency = false, false
	// The agent as most run it: history and rules on, nobody scraping it
	// every second (a central Prometheus scrapes every 15 s or takes its
	// remote write; the dashboard is closed).
	twIdle := tw("tw-demo-idle", "trainwatch serve --demo, not scraped", "--demo")
	twIdle.scrape, twIdle.latency = false, false
	out := []*targetSpec{twDemo, twIdle, twPlain, twCollect}
	// fill writes d of the history serve --demo would have written into
	// dir/data, for an agent listening on port.
	fill := func(d time.Duration, port int, dir string) error {
		cmd := exec.Command(b.trainwatch, "fill-history", "--demo", "--data-dir", filepath.Join(dir, "data"),
			"--duration", d.String(), "--interval", "1s",
			"--instance", hostname+":"+strconv.Itoa(port), "--log.level", "error")
		cmd.SysProcAttr = childAttr()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("fill-history: %w\n%s", err, out)
		}
		return nil
	}
	// histFloor is histfloor on a directory filled with d of history.
	histFloor := func(key, name string, d time.Duration) *targetSpec {
		return &targetSpec{
			key: key, name: name, bin: b.histFloor,
			prepare: func(port int, dir string) error { return fill(d, port, dir) },
			args: func(_ int, dir string) []string {
				return []string{"-data-dir", filepath.Join(dir, "data"), "-rules", b.rules}
			},
			readyTimeout: 10 * time.Second, stopGrace: 10 * time.Second,
		}
	}
	if o.HistoryFill > 0 {
		tw1h := tw("tw-1h", "trainwatch serve --demo, "+fmtDuration(o.HistoryFill)+" of history", "--demo")
		tw1h.latency = false
		tw1h.prepare = func(port int, dir string) error { return fill(o.HistoryFill, port, dir) }
		out = append(out, tw1h)
	}
	if b.node != "" {
		out = append(out, &targetSpec{
			key: "node", name: "node_exporter", bin: b.node,
			args: func(port int, _ string) []string {
				return []string{"--web.listen-address=127.0.0.1:" + strconv.Itoa(port)}
			},
			readyPath: "/", metricsPath: "/metrics", scrape: true, latency: true,
			readyTimeout: time.Minute, stopGrace: 10 * time.Second,
		})
	} else {
		skipped["node"] = "node_exporter not installed (apt-get install prometheus-node-exporter)"
	}
	if b.proc != "" {
		out = append(out, &targetSpec{
			key: "process", name: "process-exporter", bin: b.proc,
			prepare: func(_ int, dir string) error {
				return os.WriteFile(filepath.Join(dir, "all-by-comm.yml"), []byte(processExporterConfig), 0o644)
			},
			args: func(port int, dir string) []string {
				return []string{"-config.path", filepath.Join(dir, "all-by-comm.yml"),
					"-web.listen-address", "127.0.0.1:" + strconv.Itoa(port)}
			},
			readyPath: "/", metricsPath: "/metrics", scrape: true, latency: true,
			readyTimeout: time.Minute, stopGrace: 10 * time.Second,
		})
	} else {
		skipped["process"] = "process-exporter not installed (apt-get install prometheus-process-exporter)"
	}
	if b.netdata != "" {
		out = append(out, &targetSpec{
			key: "netdata", name: "netdata, idle (not scraped)", bin: b.netdata,
			env: []string{"DO_NOT_TRACK=1"},
			prepare: func(port int, dir string) error {
				statsd, err := machine.FreePort()
				if err != nil {
					return err
				}
				conf, err := netdataConfig(port, statsd, dir)
				if err != nil {
					return err
				}
				for _, d := range []string{"cache", "lib", "log", "run"} {
					if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
						return err
					}
				}
				return os.WriteFile(filepath.Join(dir, "netdata.conf"), []byte(conf), 0o644)
			},
			args: func(port int, dir string) []string {
				return []string{"-D", "-c", filepath.Join(dir, "netdata.conf"),
					"-i", "127.0.0.1", "-p", strconv.Itoa(port)}
			},
			readyPath: "/api/v1/info", metricsPath: "/api/v1/allmetrics?format=prometheus", latency: true,
			readyTimeout: 2 * time.Minute, stopGrace: 20 * time.Second,
		})
	} else {
		skipped["netdata"] = "netdata not installed (apt-get install netdata)"
	}
	floor := func(key, name string, args ...string) *targetSpec {
		return &targetSpec{
			key: key, name: name, bin: b.floor,
			args:         func(int, string) []string { return args },
			readyTimeout: 10 * time.Second, stopGrace: 5 * time.Second,
		}
	}
	out = append(out,
		floor("floor-1s", "floor: every file every 1 s", "-proc-every", "1"),
		floor("floor-sched", "floor: trainwatch's schedule", "-proc-every", "5", "-threads-every", "15"),
		// The floor of history and rules: Prometheus' TSDB and rule
		// manager alone, appending serve --demo's series every second.
		histFloor("hist-floor", "floor: Prometheus TSDB + rules, same series", time.Minute),
		// The floor of serving /metrics: net/http and a body made once.
		&targetSpec{
			key: "http-floor", name: "floor: Go HTTP server, fixed body", bin: b.httpFloor,
			args: func(port int, _ string) []string {
				return []string{"-listen", "127.0.0.1:" + strconv.Itoa(port)}
			},
			readyPath: "/-/ready", metricsPath: "/metrics", latency: true,
			readyTimeout: 10 * time.Second, stopGrace: 5 * time.Second,
		})
	if o.HistoryFill > 0 {
		out = append(out, histFloor("hist-floor-1h", "floor: Prometheus TSDB + rules, same series, "+fmtDuration(o.HistoryFill)+" of history", o.HistoryFill))
	}
	if len(o.Only) > 0 {
		out = slices.DeleteFunc(out, func(s *targetSpec) bool { return !slices.Contains(o.Only, s.key) })
		for k := range skipped {
			if !slices.Contains(o.Only, k) {
				delete(skipped, k)
			}
		}
	}
	return out, skipped
}

// fmtDuration prints 1h0m0s as 1 h, 10m0s as 10 min.
func fmtDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

// run measures every target in every phase.
func run(ctx context.Context, o options, command string) (*result, error) {
	began := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(o.Log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	tmp, err := os.MkdirTemp("", "trainwatch-overhead-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	if o.Keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	root, err := machine.ModuleRoot()
	if err != nil {
		return nil, err
	}
	b := bins{
		trainwatch: o.Trainwatch,
		floor:      filepath.Join(tmp, "floor"),
		httpFloor:  filepath.Join(tmp, "httpfloor"),
		histFloor:  filepath.Join(tmp, "histfloor"),
		rules:      filepath.Join(root, "rules", "trainwatch.rules.yml"),
		node:       findBin(o.NodeExp, "prometheus-node-exporter", "node_exporter"),
		proc:       findBin(o.ProcExp, "prometheus-process-exporter", "process-exporter"),
		netdata:    findBin(o.Netdata, "netdata"),
	}
	if b.sleep, err = exec.LookPath("sleep"); err != nil {
		return nil, fmt.Errorf("the extra processes need sleep: %w", err)
	}
	if b.trainwatch == "" {
		b.trainwatch = filepath.Join(tmp, "trainwatch")
		logf("building ./cmd/trainwatch")
		if err := goBuild(ctx, root, "./cmd/trainwatch", b.trainwatch); err != nil {
			return nil, err
		}
	}
	if err := goBuild(ctx, root, "./bench/overhead/floor", b.floor); err != nil {
		return nil, err
	}
	if err := goBuild(ctx, root, "./bench/overhead/httpfloor", b.httpFloor); err != nil {
		return nil, err
	}
	if err := goBuild(ctx, root, "./bench/overhead/histfloor", b.histFloor); err != nil {
		return nil, err
	}
	// A binary just written by go build sits in the page cache in the
	// large folios of its writes, which the kernel may map 2 MiB at a time
	// (FilePmdMapped): its whole text then counts in RSS, however little
	// of it runs. Evicted, it is read back on demand as after a reboot or
	// an install, for every target alike.
	for _, p := range b.targetBins() {
		if err := evictPageCache(p); err != nil {
			logf("page cache of %s not evicted: %v", p, err)
		}
	}
	targets, skipped := specs(o, b)
	res := &result{
		Date:    began.UTC().Format("2006-01-02 15:04 UTC"),
		Host:    machine.ReadHost(),
		Command: command,
		Settings: map[string]string{
			"window":          o.Window.String(),
			"warmup":          o.Warmup.String(),
			"scrape_interval": o.Scrape.String(),
			"extra_processes": fmt.Sprint(o.Procs),
			"clients":         fmt.Sprint(o.Clients),
			"requests":        strconv.Itoa(o.Requests),
			"latency_max":     o.LatencyMax.String(),
			"open_window":     o.OpenWindow.String(),
			"open_clients":    fmt.Sprint(o.OpenClients),
			"history_fill":    o.HistoryFill.String(),
			"sequential":      strconv.FormatBool(o.Sequential),
		},
		Versions: map[string]string{"trainwatch": version(ctx, b.trainwatch, "version")},
		Skipped:  skipped,
	}
	if b.node != "" {
		res.Versions["node"] = version(ctx, b.node, "--version")
	}
	if b.proc != "" {
		res.Versions["process"] = version(ctx, b.proc, "-version")
	}
	if b.netdata != "" {
		res.Versions["netdata"] = version(ctx, b.netdata, "-v")
	}
	for k, why := range skipped {
		logf("skipping %s: %s", k, why)
	}
	own := &owner{log: o.Log}
	defer own.cleanup()
	for _, n := range o.Procs {
		ph, err := runPhase(ctx, o, own, targets, b, n, filepath.Join(tmp, "phase-"+strconv.Itoa(n)), logf)
		if err != nil {
			return res, err
		}
		res.Phases = append(res.Phases, *ph)
	}
	res.Duration = time.Since(began).Round(time.Second).String()
	return res, nil
}

// treeTicks sums the CPU ticks of each started target's process tree, and
// remembers the trees' members for the clean-up.
func treeTicks(procs []*process) (map[*process]uint64, map[*process]int, procTable, error) {
	t, err := readProcTable()
	if err != nil {
		return nil, nil, nil, err
	}
	ticks := make(map[*process]uint64, len(procs))
	sizes := make(map[*process]int, len(procs))
	for _, p := range procs {
		tree := t.tree(p.pid, p.start)
		if tree == nil {
			return nil, nil, nil, fmt.Errorf("%s (pid %d) is gone:\n%s", p.spec.key, p.pid, p.logTail())
		}
		p.remember(tree)
		var sum uint64
		for _, st := range tree {
			sum += st.ticks
		}
		ticks[p], sizes[p] = sum, len(tree)
	}
	return ticks, sizes, t, nil
}

// runPhase runs every target with n extra processes: all at once, or
// with -sequential one after the other.
func runPhase(ctx context.Context, o options, own *owner, targets []*targetSpec, b bins, n int, dir string, logf func(string, ...any)) (*phaseResult, error) {
	logf("phase: %d extra processes", n)
	if err := own.spawnSleepers(ctx, b.sleep, n); err != nil {
		own.killSleepers()
		return nil, err
	}
	defer own.killSleepers()
	groups := [][]*targetSpec{targets}
	if o.Sequential {
		groups = nil
		for _, t := range targets {
			groups = append(groups, []*targetSpec{t})
		}
	}
	ph := &phaseResult{Extra: n}
	busy := 0.0
	for gi, g := range groups {
		rs, err := runGroup(ctx, o, own, g, dir, logf)
		if err != nil {
			return nil, err
		}
		if gi == 0 {
			ph.HostProcs, ph.LoadStart = rs[0].HostProcs, rs[0].LoadStart
		}
		ph.LoadEnd = rs[0].LoadEnd
		ph.WindowS += rs[0].WindowS
		busy += rs[0].HostBusyPct * rs[0].WindowS
		ph.Targets = append(ph.Targets, rs...)
	}
	if ph.WindowS > 0 {
		ph.HostBusyPct = busy / ph.WindowS
	}
	return ph, nil
}

// runGroup starts the targets of a group together, measures them over one
// window, then their latency one after the other, and stops them.
func runGroup(ctx context.Context, o options, own *owner, targets []*targetSpec, dir string, logf func(string, ...any)) ([]targetResult, error) {
	defer own.stopAll()
	var procs []*process
	for _, s := range targets {
		p, err := own.start(s, filepath.Join(dir, s.key))
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { errs[i] = waitReady(ctx, p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	logf("%d target(s) ready; warming up %s", len(procs), o.Warmup)

	scrapeCtx, stopScrapes := context.WithCancel(ctx)
	defer stopScrapes()
	scrapers := make(map[*process]*pacedScraper)
	var swg sync.WaitGroup
	for _, p := range procs {
		if !p.spec.scrape {
			continue
		}
		s := &pacedScraper{url: p.url(p.spec.metricsPath), client: newClient(1)}
		scrapers[p] = s
		swg.Go(func() { s.run(scrapeCtx, o.Scrape) })
	}
	if err := machine.Sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}
	for _, s := range scrapers {
		s.reset()
	}

	loadStart := machine.LoadAvg()
	t0, _, table, err := treeTicks(procs)
	if err != nil {
		return nil, err
	}
	h0, w0 := readHostCPU(), time.Now()
	logf("window: %s, %d processes on the host, load %s", o.Window, len(table), loadStart)
	if err := machine.Sleep(ctx, o.Window); err != nil {
		return nil, err
	}
	t1, sizes, _, err := treeTicks(procs)
	if err != nil {
		return nil, err
	}
	wall := time.Since(w0).Seconds()
	hostBusy, loadEnd := busyPct(h0, readHostCPU()), machine.LoadAvg()
	stopScrapes()
	swg.Wait()
	scrapesEnded := time.Now()

	results := make([]targetResult, len(procs))
	for i, p := range procs {
		r := &results[i]
		r.Key, r.Name, r.TreeProcs = p.spec.key, p.spec.name, sizes[p]
		r.HostProcs, r.LoadStart, r.LoadEnd, r.HostBusyPct, r.WindowS = len(table), loadStart, loadEnd, hostBusy, wall
		r.CPUSeconds = float64(t1[p]-t0[p]) / clockTicks
		r.CPUPerMin = r.CPUSeconds / wall * 60
		r.CorePct = r.CPUSeconds / wall * 100
		if r.Mem, err = machine.ReadMem(p.pid); err != nil {
			return nil, err
		}
		r.TreeRSSKiB = treeRSS(p)
		if s := scrapers[p]; s != nil {
			s.mu.Lock()
			r.Scrapes, r.ScrapeErrors = len(s.latencies), s.errors
			r.ScrapeP50Ms, r.ScrapeP99Ms, _ = percentiles(s.latencies)
			if s.lastRaw != nil {
				bs := measureBody(s.lastRaw, s.lastEnc)
				r.Body = &bs
			}
			s.mu.Unlock()
		}
	}

	for i, p := range procs {
		if !p.spec.latency {
			continue
		}
		r := &results[i]
		var server *serverState
		if p.spec.histogram {
			server = &serverState{
				reader: &serverReader{client: newClient(1), metrics: p.url(p.spec.metricsPath), snapshot: p.url(snapshotPath)},
				quiet:  scrapesEnded,
			}
		}
		for _, c := range o.Clients {
			lr, ol, err := measureTarget(ctx, o, p, c, server, logf)
			if err != nil {
				return nil, err
			}
			r.Latency = append(r.Latency, lr)
			if ol != nil {
				r.OpenLoop = append(r.OpenLoop, *ol)
			}
		}
		if server != nil {
			server.reader.client.CloseIdleConnections()
		}
		if m, err := machine.ReadMem(p.pid); err == nil {
			r.HWMAfterKiB = m.HWM
		}
	}
	logf("stopping %d target(s)", len(procs))
	return results, nil
}

// serverState is what the harness knows of a trainwatch target's request
// duration histogram between its measurements.
type serverState struct {
	reader *serverReader
	// last is the latest reading, the "before" of the next measurement
	// (nil: none yet, or it failed); without it, a reading is taken once
	// a tick began after quiet, when the harness's /metrics requests so
	// far had ended.
	last  histogram
	quiet time.Time
}

// read returns the histogram once a tick of the target began after since;
// nil (logged) when it cannot be read.
func (s *serverState) read(ctx context.Context, since time.Time, what string, logf func(string, ...any)) histogram {
	h, err := s.reader.readAfter(ctx, since)
	if err != nil && ctx.Err() == nil {
		logf("no server-side figures %s: %v", what, err)
	}
	s.last, s.quiet = h, time.Now()
	return h
}

// measureTarget measures p's /metrics with c clients: the closed loop
// (warm-up, then o.Requests requests), then, with o.OpenWindow and c in
// o.OpenClients, the open loop (c scrapers at o.Scrape). With server (a
// trainwatch target) its request duration histogram is read from /metrics
// after each, once a tick of the target has seen the requests (see
// serverReader), and the reading before is the last one: its untimed
// warm-up requests go to its ready path, so that only the measured
// requests and that one reading fall between two readings. A failed
// reading is logged and leaves the server-side figures out.
func measureTarget(ctx context.Context, o options, p *process, c int, server *serverState, logf func(string, ...any)) (latencyResult, *openLoopResult, error) {
	url := p.url(p.spec.metricsPath)
	client := newClient(c)
	defer client.CloseIdleConnections()
	warmURL := url
	if server != nil {
		warmURL = p.url(p.spec.readyPath)
	}
	if !warmUp(ctx, client, warmURL, c, o.LatencyMax) {
		if err := ctx.Err(); err != nil {
			return latencyResult{}, nil, err
		}
		logf("latency %s, %d clients: none measured, %d concurrent requests took longer than %s", p.spec.key, c, c, o.LatencyMax)
		var ol *openLoopResult
		if o.OpenWindow > 0 && slices.Contains(o.OpenClients, c) {
			ol = &openLoopResult{Scrapers: c, IntervalS: o.Scrape.Seconds(), WindowS: o.OpenWindow.Seconds(),
				Skipped: fmt.Sprintf("%d concurrent requests took longer than %s", c, o.LatencyMax)}
		}
		// Abandoned requests may still be computed: let the target finish
		// before the next measurement.
		return latencyResult{Clients: c, Capped: true, WarmupCapped: true}, ol, waitQuiet(ctx, p, time.Minute)
	}
	var h0 histogram
	if server != nil {
		h0 = server.last
		if h0 == nil {
			h0 = server.read(ctx, server.quiet, fmt.Sprintf("for %s, %d clients", p.spec.key, c), logf)
		}
	}
	before, _, _, err := treeTicks([]*process{p})
	if err != nil {
		return latencyResult{}, nil, err
	}
	self0 := selfCPU()
	lr := closedLoop(ctx, client, url, c, o.Requests, o.LatencyMax)
	self1 := selfCPU()
	after, _, _, err := treeTicks([]*process{p})
	if err != nil {
		return latencyResult{}, nil, err
	}
	if done := lr.Requests + lr.Errors; done > 0 {
		lr.CPUMsPerR = float64(after[p]-before[p]) * 1000 / clockTicks / float64(done)
		lr.ClientCPUMsPerR = (self1 - self0).Seconds() * 1000 / float64(done)
	}
	if err := ctx.Err(); err != nil {
		return latencyResult{}, nil, err
	}
	if lr.Capped {
		if err := waitQuiet(ctx, p, time.Minute); err != nil {
			return latencyResult{}, nil, err
		}
	}
	if server != nil {
		lr.Server = serverFigures(h0, server.read(ctx, time.Now(), fmt.Sprintf("for %s, %d clients", p.spec.key, c), logf))
	}
	logf("latency %s, %d clients: %d requests, p50 %.2f ms, p99 %.2f ms; server p50 / p99 %s ms",
		p.spec.key, c, lr.Requests, lr.P50Ms, lr.P99Ms, fmtServer(lr.Server))
	if o.OpenWindow <= 0 || !slices.Contains(o.OpenClients, c) {
		return lr, nil, nil
	}
	if need := float64(c) / o.Scrape.Seconds() * lr.CPUMsPerR / 1000; need > openLoopMaxCores {
		ol := &openLoopResult{Scrapers: c, IntervalS: o.Scrape.Seconds(), WindowS: o.OpenWindow.Seconds(),
			Skipped: fmt.Sprintf("%d requests per %s at %.1f ms of CPU each (closed loop) need %.1f cores", c, o.Scrape, lr.CPUMsPerR, need)}
		logf("open loop %s, %d scrapers: skipped, %s", p.spec.key, c, ol.Skipped)
		return lr, ol, nil
	}
	var h1 histogram
	if server != nil {
		h1 = server.last
	}
	ol := openLoop(ctx, client, url, c, o.Scrape, o.OpenWindow)
	if err := ctx.Err(); err != nil {
		return latencyResult{}, nil, err
	}
	if ol.Errors > 0 {
		// Requests given up on may still be computed.
		if err := waitQuiet(ctx, p, time.Minute); err != nil {
			return latencyResult{}, nil, err
		}
	}
	if server != nil {
		ol.Server = serverFigures(h1, server.read(ctx, time.Now(), fmt.Sprintf("for the open loop of %s, %d scrapers", p.spec.key, c), logf))
	}
	logf("open loop %s, %d scrapers at %s for %s: %d requests, %d errors, p50 %.2f ms, p99 %.2f ms; server p50 / p99 %s ms",
		p.spec.key, c, o.Scrape, o.OpenWindow, ol.Requests, ol.Errors, ol.P50Ms, ol.P99Ms, fmtServer(ol.Server))
	return lr, &ol, nil
}

// openLoopMaxCores is the most CPU the open loop may ask of a target, in
// cores, judged by its CPU per request in the closed loop: beyond, it
// cannot keep up (a single-threaded exporter serves one scrape at a time),
// and the open loop would only pile up requests it gives up on, still
// computed while the next target is measured.
const openLoopMaxCores = 1.0

// serverFigures are the server-side percentiles between two readings;
// nil when either is missing.
func serverFigures(before, after histogram) *serverQuantiles {
	if before == nil || after == nil {
		return nil
	}
	return after.quantiles(before)
}

// waitQuiet waits until p's tree uses less than a tenth of a core over
// half a second, or at most limit.
func waitQuiet(ctx context.Context, p *process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	prev, ok := readTreeTicks(p)
	for ok && time.Now().Before(deadline) {
		if err := machine.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		cur, ok2 := readTreeTicks(p)
		if !ok2 || cur-prev < clockTicks/20 {
			return nil
		}
		prev = cur
	}
	return nil
}

// readTreeTicks is the CPU ticks of p's tree now.
func readTreeTicks(p *process) (uint64, bool) {
	t, _, _, err := treeTicks([]*process{p})
	if err != nil {
		return 0, false
	}
	return t[p], true
}

// selfCPU is the harness's own CPU time (user+system, all threads).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// treeRSS sums VmRSS over p's process tree, in KiB.
func treeRSS(p *process) int64 {
	t, err := readProcTable()
	if err != nil {
		return 0
	}
	var sum int64
	for _, st := range t.tree(p.pid, p.start) {
		if m, err := machine.ReadMem(st.pid); err == nil {
			sum += m.RSS
		}
	}
	return sum
}
