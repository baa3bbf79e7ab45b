package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// Budgets of the performance issue.
const (
	budgetVsPeers     = 0.1  // trainwatch CPU / (node_exporter + process-exporter)
	budgetCorePct     = 1.0  // % of one core with ~370 processes and the demo
	budgetVsFloor     = 2.0  // collection CPU / floor
	budgetRSSBytes    = 60e6 // RSS with 1 h of 1 s history
	budgetP99Ms       = 2.0  // /metrics p99 at 64 clients
	budgetPhaseExtra  = 300  // the phase the single-figure budgets are read from
	budgetClients     = 64
	nodePlusProcess   = "node_exporter + process-exporter"
	nodePlusProcessID = "node+process"
	floorsName        = "floor: trainwatch's schedule + Prometheus TSDB + rules"
	floorsID          = "floors"
)

// order is the row order of the tables.
func order() []string {
	return []string{"tw-demo", "tw-demo-idle", "tw", "tw-1h", "tw-collect", "node", "process", nodePlusProcessID, "netdata", "floor-1s", "floor-sched", "hist-floor", floorsID, "hist-floor-1h", "http-floor"}
}

// withSum returns the phase's targets plus the sums of two: a node+process
// row when both peers ran, and a floors row (the reads on trainwatch's
// schedule plus history and rules) when both floors ran.
func withSum(ph phaseResult) []targetResult {
	rows := slices.Clone(ph.Targets)
	find := func(key string) *targetResult {
		for i := range ph.Targets {
			if ph.Targets[i].Key == key {
				return &ph.Targets[i]
			}
		}
		return nil
	}
	sum := func(key, name string, n, p *targetResult) {
		if n == nil || p == nil {
			return
		}
		rows = append(rows, targetResult{
			Key: key, Name: name,
			CPUSeconds: n.CPUSeconds + p.CPUSeconds, CPUPerMin: n.CPUPerMin + p.CPUPerMin, CorePct: n.CorePct + p.CorePct,
			Mem:        machine.Mem{RSS: n.Mem.RSS + p.Mem.RSS, HWM: n.Mem.HWM + p.Mem.HWM, Anon: n.Mem.Anon + p.Mem.Anon, File: n.Mem.File + p.Mem.File},
			TreeRSSKiB: n.TreeRSSKiB + p.TreeRSSKiB,
		})
	}
	sum(nodePlusProcessID, nodePlusProcess, find("node"), find("process"))
	sum(floorsID, floorsName, find("floor-sched"), find("hist-floor"))
	rank := func(k string) int {
		if i := slices.Index(order(), k); i >= 0 {
			return i
		}
		return len(order())
	}
	slices.SortStableFunc(rows, func(a, b targetResult) int { return rank(a.Key) - rank(b.Key) })
	return rows
}

// cpuOf returns key's CPU seconds in phase i (with the node+process sum).
func (r *result) cpuOf(i int, key string) (float64, bool) {
	if i < 0 || i >= len(r.Phases) {
		return 0, false
	}
	for _, t := range withSum(r.Phases[i]) {
		if t.Key == key {
			return t.CPUSeconds, true
		}
	}
	return 0, false
}

// ratio formats a/b of two targets' CPU in phase i.
func (r *result) ratio(i int, a, b string) (float64, string) {
	x, ok1 := r.cpuOf(i, a)
	y, ok2 := r.cpuOf(i, b)
	switch {
	case !ok1 || !ok2:
		return math.NaN(), "–"
	case y == 0:
		return math.Inf(1), "∞ (peer used < 1 tick)"
	}
	return x / y, fmt.Sprintf("%.2f×", x/y)
}

// budgetPhase is the index of the phase with ~370 processes (300 extra),
// else the first.
func (r *result) budgetPhase() int {
	for i, ph := range r.Phases {
		if ph.Extra == budgetPhaseExtra {
			return i
		}
	}
	return 0
}

// fill is the history written before tw-1h started, for humans.
func (r *result) fill() string {
	d, err := time.ParseDuration(r.Settings["history_fill"])
	if err != nil {
		return r.Settings["history_fill"]
	}
	return fmtDuration(d)
}

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// markdown renders the result.
func (r *result) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Overhead side by side: trainwatch, node_exporter + process-exporter, netdata, the floor\n\n")
	h := r.Host
	w("Measured %s on %s (%s): %s, %d cores, Linux %s, %d GiB; %s. Run took %s.\n\n",
		r.Date, h.Hostname, h.Kind, h.CPUModel, h.Cores, h.Kernel, h.MemGiB, h.Go, r.Duration)
	w("Command: `%s`\n\n", r.Command)
	w("Settings: CPU window %s per phase after a %s warm-up; scraped targets are scraped every %s (Accept and gzip as Prometheus); "+
		"latency phase: %s requests per target and client count, at most %s each; extra processes per phase: %s.\n\n",
		r.Settings["window"], r.Settings["warmup"], r.Settings["scrape_interval"], r.Settings["requests"],
		r.Settings["latency_max"], r.Settings["extra_processes"])
	if ow := r.Settings["open_window"]; ow != "" && ow != "0s" {
		w("Open loop: as many scrapers as clients (%s), each requesting /metrics once every %s at its own random phase, for %s per target and count.\n\n",
			r.Settings["open_clients"], r.Settings["scrape_interval"], ow)
	}
	var vers []string
	for _, k := range []string{"trainwatch", "node", "process", "netdata"} {
		if v := r.Versions[k]; v != "" {
			vers = append(vers, fmt.Sprintf("%s: `%s`", k, v))
		}
	}
	w("Versions: %s.\n\n", strings.Join(vers, "; "))
	if len(r.Skipped) > 0 {
		var ks []string
		for k := range r.Skipped {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for _, k := range ks {
			w("- **%s skipped**: %s\n", k, r.Skipped[k])
		}
		w("\n")
	}
	w("| phase | processes on host | load average at start → end | host CPU busy during the window |\n|---|---:|---|---:|\n")
	for _, ph := range r.Phases {
		w("| %d extra | %d | %s → %s | %.0f %% of %d cores |\n", ph.Extra, ph.HostProcs, ph.LoadStart, ph.LoadEnd, ph.HostBusyPct, h.Cores)
	}
	w("\n")

	r.budgets(&b)

	header := func(title, first string) {
		w("%s\n\n| %s |", title, first)
		for _, ph := range r.Phases {
			w(" %d extra (%d procs) |", ph.Extra, ph.HostProcs)
		}
		w("\n|---|")
		for range r.Phases {
			w("---:|")
		}
		w("\n")
	}
	rows := func(cell func(t targetResult) string) {
		for _, key := range order() {
			name := ""
			var cells []string
			for _, ph := range r.Phases {
				c := "–"
				for _, t := range withSum(ph) {
					if t.Key == key {
						name, c = t.Name, cell(t)
					}
				}
				cells = append(cells, c)
			}
			if name != "" {
				w("| %s | %s |\n", name, strings.Join(cells, " | "))
			}
		}
		w("\n")
	}
	header("## CPU: seconds per minute (% of one core)", "target")
	rows(func(t targetResult) string { return fmt.Sprintf("%.3f (%.2f %%)", t.CPUPerMin, t.CorePct) })

	header("## Memory: steady RSS / peak RSS (VmHWM), MiB, at the end of the window (anonymous part in brackets)", "target")
	rows(func(t targetResult) string {
		s := fmt.Sprintf("%s / %s (%s)", mib(t.Mem.RSS), mib(t.Mem.HWM), mib(t.Mem.Anon))
		if t.TreeRSSKiB > t.Mem.RSS+1024 {
			s += fmt.Sprintf("; with children %s", mib(t.TreeRSSKiB))
		}
		return s
	})

	header("## Ratios of CPU time in the same window", "ratio")
	for _, rr := range []struct{ name, a, b string }{
		{"trainwatch --demo / (node_exporter + process-exporter)", "tw-demo", nodePlusProcessID},
		{"trainwatch / (node_exporter + process-exporter)", "tw", nodePlusProcessID},
		{"trainwatch --demo / netdata (idle)", "tw-demo", "netdata"},
		{"trainwatch / netdata (idle)", "tw", "netdata"},
		{"collection: trainwatch --no-history, not scraped / floor on trainwatch's schedule", "tw-collect", "floor-sched"},
		{"collection: trainwatch --no-history, not scraped / floor, every file every 1 s", "tw-collect", "floor-1s"},
		{"everything: trainwatch --demo, not scraped / (floor on trainwatch's schedule + Prometheus TSDB + rules)", "tw-demo-idle", floorsID},
	} {
		w("| %s |", rr.name)
		for i := range r.Phases {
			_, s := r.ratio(i, rr.a, rr.b)
			w(" %s |", s)
		}
		w("\n")
	}
	w("\n")

	w("## /metrics latency\n\nClosed loop: each client sends its next request when the last one answered. " +
		"\"server p50 / p99\" is the target's own view of the same requests, from its request duration histogram (trainwatch only; a bucket estimate, see Method).\n\n" +
		"| target | extra processes | clients | requests | p50 ms | p99 ms | max ms | server p50 / p99 ms | target CPU ms per request | client CPU ms per request |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	r.byTarget(func(ph *phaseResult, t *targetResult) {
		for _, l := range t.Latency {
			if l.WarmupCapped {
				w("| %s | %d | %d | none: %d concurrent requests took longer than %s | – | – | – | – | – | – |\n", t.Name, ph.Extra, l.Clients, l.Clients, r.Settings["latency_max"])
				continue
			}
			capped := ""
			if l.Capped {
				capped = " (time cap)"
			}
			if l.Errors > 0 {
				capped += fmt.Sprintf(", %d errors", l.Errors)
			}
			w("| %s | %d | %d | %d%s | %.2f | %.2f | %.2f | %s | %.2f | %.2f |\n", t.Name, ph.Extra, l.Clients, l.Requests, capped, l.P50Ms, l.P99Ms, l.MaxMs, fmtServer(l.Server), l.CPUMsPerR, l.ClientCPUMsPerR)
		}
	})
	w("\n| target | extra processes | scrapes at 1/s | p50 ms | p99 ms | samples | body bytes (gzip on the wire) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	r.byTarget(func(ph *phaseResult, t *targetResult) {
		if t.Scrapes == 0 || t.Body == nil {
			return
		}
		w("| %s | %d | %d | %.2f | %.2f | %d | %d (%d) |\n", t.Name, ph.Extra, t.Scrapes, t.ScrapeP50Ms, t.ScrapeP99Ms, t.Body.Samples, t.Body.BodyBytes, t.Body.WireBytes)
	})
	w("\n")
	r.openLoop(&b)
	w(methodNotes)
	if r.Settings["sequential"] == "true" {
		w("- This run used -sequential: each target was started and measured alone, in its own window.\n")
	}
	return b.String()
}

// byTarget calls fn for every measured target, grouped by target in the
// report's order and by phase within a target.
func (r *result) byTarget(fn func(ph *phaseResult, t *targetResult)) {
	for _, key := range order() {
		for i := range r.Phases {
			ph := &r.Phases[i]
			for j := range ph.Targets {
				if t := &ph.Targets[j]; t.Key == key {
					fn(ph, t)
				}
			}
		}
	}
}

// openLoop writes the open-loop table, when the run had that phase.
func (r *result) openLoop(b *strings.Builder) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	has := false
	for _, ph := range r.Phases {
		for _, t := range ph.Targets {
			has = has || len(t.OpenLoop) > 0
		}
	}
	if !has {
		return
	}
	w("## /metrics latency, open loop\n\nEach scraper requests /metrics once per interval at its own random phase, whether or not the others have been answered, " +
		"as that many Prometheus servers would; a request unanswered within the interval is an error.\n\n" +
		"| target | extra processes | scrapers | window s | requests | errors | p50 ms | p99 ms | max ms | server p50 / p99 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	r.byTarget(func(ph *phaseResult, t *targetResult) {
		for _, l := range t.OpenLoop {
			if l.Skipped != "" {
				w("| %s | %d | %d at %s s | – | skipped: %s | – | – | – | – | – |\n", t.Name, ph.Extra, l.Scrapers,
					strconv.FormatFloat(l.IntervalS, 'f', -1, 64), l.Skipped)
				continue
			}
			w("| %s | %d | %d at %s s | %.0f | %d | %d | %.2f | %.2f | %.2f | %s |\n", t.Name, ph.Extra, l.Scrapers,
				strconv.FormatFloat(l.IntervalS, 'f', -1, 64), l.WindowS, l.Requests, l.Errors, l.P50Ms, l.P99Ms, l.MaxMs, fmtServer(l.Server))
		}
	})
	w("\n")
}

// budgets writes the budget table.
func (r *result) budgets(b *strings.Builder) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	bp := r.budgetPhase()
	if len(r.Phases) == 0 {
		return
	}
	ph := r.Phases[bp]
	w("## Budgets (read at %d extra processes, %d on the host, unless said otherwise)\n\n| budget | measured | verdict |\n|---|---|---|\n", ph.Extra, ph.HostProcs)
	// both gives the verdict for trainwatch without and with --demo.
	both := func(a, b float64, ok func(float64) bool) string {
		out := []string{}
		if !math.IsNaN(a) {
			out = append(out, verdict(ok(a))+" without --demo")
		}
		if !math.IsNaN(b) {
			out = append(out, verdict(ok(b))+" with --demo")
		}
		return strings.Join(out, ", ")
	}
	if v, s := r.ratio(bp, "tw-demo", nodePlusProcessID); !math.IsNaN(v) {
		v2, s2 := r.ratio(bp, "tw", nodePlusProcessID)
		w("| CPU ≤ %.1f× node_exporter + process-exporter at 1 s (the peers collect no GPUs: without --demo is the like-for-like figure) | without --demo %s; --demo %s | %s |\n",
			budgetVsPeers, s2, s, both(v2, v, func(x float64) bool { return x <= budgetVsPeers }))
	}
	if v, s := r.ratio(bp, "tw-demo", "netdata"); !math.IsNaN(v) {
		v2, s2 := r.ratio(bp, "tw", "netdata")
		w("| CPU below netdata's idle cost | without --demo %s; --demo %s of netdata | %s |\n", s2, s, both(v2, v, func(x float64) bool { return x < 1 }))
	}
	if t := r.target(bp, "tw-demo"); t != nil {
		extra := ""
		if u := r.target(bp, "tw-demo-idle"); u != nil {
			extra += fmt.Sprintf("; --demo not scraped (history and rules on) %.2f %%", u.CorePct)
		}
		if u := r.target(bp, "tw"); u != nil {
			extra += fmt.Sprintf("; without --demo %.2f %%", u.CorePct)
		}
		if u := r.target(bp, "tw-collect"); u != nil {
			extra += fmt.Sprintf("; collection alone (--no-history, not scraped) %.2f %%", u.CorePct)
		}
		if f, h := r.target(bp, "floor-sched"), r.target(bp, "hist-floor"); f != nil && h != nil {
			extra += fmt.Sprintf("; the floor of the same work without GPUs: reads on trainwatch's schedule %.2f %% + history and rules in Prometheus' TSDB and rule manager %.2f %% = %.2f %%",
				f.CorePct, h.CorePct, f.CorePct+h.CorePct)
		}
		w("| ≤ %.0f %% of one core at 1 s, ~370 processes, 8-GPU demo | %.2f %% (%.3f CPU s/min)%s | %s |\n", budgetCorePct, t.CorePct, t.CPUPerMin, extra, verdict(t.CorePct <= budgetCorePct))
	}
	if v, s := r.ratio(bp, "tw-collect", "floor-sched"); !math.IsNaN(v) {
		w("| collection CPU ≤ %.0f× the floor | %s (--no-history, not scraped, vs the floor on trainwatch's schedule) | %s |\n", budgetVsFloor, s, verdict(v <= budgetVsFloor))
	}
	if t := r.target(bp, "tw-1h"); t != nil {
		floor := ""
		if h := r.target(bp, "hist-floor-1h"); h != nil {
			floor = fmt.Sprintf("; Prometheus' TSDB and rule manager alone with the same history: %s MiB (%s anonymous)", mib(h.Mem.RSS), mib(h.Mem.Anon))
		}
		w("| RSS ≤ 60 MB (%.1f MiB) with %s of 1 s history | %s MiB steady, %s MiB peak; %s MiB anonymous%s | %s |\n",
			budgetRSSBytes/(1<<20), r.fill(), mib(t.Mem.RSS), mib(t.Mem.HWM), mib(t.Mem.Anon), floor, verdict(float64(t.Mem.RSS)*1024 <= budgetRSSBytes))
	}
	var p99s []string
	worst := 0.0
	for i, ph := range r.Phases {
		for _, t := range ph.Targets {
			if t.Key != "tw-demo" {
				continue
			}
			for _, l := range t.Latency {
				if l.Clients != budgetClients {
					continue
				}
				s := fmt.Sprintf("%.2f ms at %d extra", l.P99Ms, ph.Extra)
				o := openLoopAt(t.OpenLoop, budgetClients)
				if o != nil {
					s += fmt.Sprintf(" (open loop %.2f)", o.P99Ms)
				}
				if f := r.target(i, "http-floor"); f != nil {
					if fl := latencyAt(f.Latency, budgetClients); fl != nil && fl.P99Ms > 0 {
						s += fmt.Sprintf(", %.2f× the HTTP floor's %.2f", l.P99Ms/fl.P99Ms, fl.P99Ms)
						if fo := openLoopAt(f.OpenLoop, budgetClients); o != nil && fo != nil && fo.P99Ms > 0 {
							s += fmt.Sprintf(" (open loop %.2f× its %.2f)", o.P99Ms/fo.P99Ms, fo.P99Ms)
						}
					}
				}
				p99s = append(p99s, s)
				worst = max(worst, l.P99Ms)
			}
		}
	}
	if len(p99s) > 0 {
		w("| /metrics p99 ≤ %.0f ms at %d concurrent clients (--demo, every phase; closed loop, open loop in brackets, and against a Go HTTP server answering a fixed body of the same size) | %s | %s |\n",
			budgetP99Ms, budgetClients, strings.Join(p99s, "; "), verdict(worst <= budgetP99Ms))
	}
	w("\n")
}

// methodNotes explains how the figures were obtained.
const methodNotes = `## Method

- All targets of a phase run at the same time (unless -sequential), each on its own
  loopback port and its own directory; background load from other users of the machine
  therefore hits them alike (the load average is above). Each agent also sees the others'
  processes and threads (netdata alone has about 50 threads), which costs the per-thread
  readers (process-exporter reads every thread) more than on an empty host. CPU is
  utime+stime+cutime+cstime from /proc/PID/stat of each target and all its descendants
  (netdata's plugins), difference over the window, in ticks of 10 ms.
- trainwatch runs with its defaults (all collectors, 1 s interval, processes every 5 s,
  thread states every 15 s, history and the built-in alert rules on) and is scraped every
  second like node_exporter and process-exporter, whose whole cost is at scrape time.
  netdata is not scraped: its figure is its idle cost with Debian's default plugins.
- "trainwatch serve --no-history, not scraped" has no TSDB, no rules, no demo GPUs and no
  scrapes: its CPU is collection (and the Go runtime). It is compared with the floor
  (bench/overhead/floor), a minimal Go program that reads the same /proc and /sys files,
  statfs and netlink dumps with files kept open and pread, and does nothing else. "floor on
  trainwatch's schedule" reads processes every 5 s and threads every 15 s as trainwatch
  does; "every file every 1 s" reads every process's stat, status, io and fd directory every
  second. The floor reads status, io and fd of every process, where trainwatch skips those
  of processes that did not run, so the ratio slightly favours trainwatch there.
- "with 1 h of history": ` + "`trainwatch fill-history --demo`" + ` writes the series of
  serve --demo (the host's and the simulated GPUs') for the hour before the start (same
  instance label) and the agent starts on that directory, so its TSDB head holds one hour
  of 1 s samples, as after an hour of running. (Results before 2026-11-29's quiet-5 filled
  the host's series only.)
- "floor: Prometheus TSDB + rules" (bench/overhead/histfloor) is the floor of history and
  rules with the components the design prescribes: a Go program that opens a directory
  filled by fill-history --demo (1 min of it, or the hour of the "1 h" row) with
  trainwatch's TSDB options and, every second, appends one sample to each of its series in
  one appender (reusing the series references) and commits, and evaluates the built-in
  rule file with Prometheus' rule manager every 15 s, as trainwatch does. Nothing else: no
  collection, no HTTP, no metric model. "trainwatch's schedule + Prometheus TSDB + rules"
  adds its CPU to the read floor's: the least an agent built on Prometheus' TSDB can spend
  to collect, keep and check the same series on this machine (the demo's simulated GPUs,
  exposition and training ingestion come on top).
- Before the first phase, every target's executable is written back and evicted from the
  page cache (posix_fadvise DONTNEED): a binary just written by go build sits in the
  large folios of its writes, which this kernel maps 2 MiB at a time, so its whole text
  would count in RSS (about 50 instead of 37 MiB of trainwatch's file-backed RSS here); evicted, it is read back on
  demand, as after a reboot or an install. Results before quiet-5 were measured without.
- Latency: after the window, each target in turn gets the given number of requests from
  4 and 64 concurrent keep-alive clients in a closed loop (one untimed request per client
  first), while the other targets keep running. With 64 requests in flight on a machine
  with few cores, p99 is mostly queueing: at least 64 × (CPU per request, server and
  client) / cores. node_exporter answers 503 beyond 40 concurrent requests
  (--web.max-requests), counted as errors. Target and client CPU per request cover the
  timed requests only.
- "floor: Go HTTP server, fixed body" (bench/overhead/httpfloor) answers /metrics with a
  body made once at start (377 KB of synthetic OpenMetrics text, gzipped at BestSpeed to
  about 34 KB, the size of trainwatch --demo's): its latency is what the kernel, the Go
  runtime and net/http cost on this machine, the floor of any Go exporter's; trainwatch's
  /metrics p99 is also given as a ratio to it.
- Open loop: then as many scrapers as clients each request /metrics once per scrape
  interval, at a random phase of their own within it, for the open-loop window (the
  closed loop's connections, kept alive), as that many Prometheus servers scraping the
  target would: requests arrive whatever the answers, so the figures are what a scraper
  waits when N scrapes spread over the second, not the queue of N clients always waiting.
  A scraper whose request outlasts its slot skips to the next slot; a request unanswered
  within the interval (Prometheus' scrape timeout cannot exceed it) is an error, and the
  harness waits for the target to go quiet afterwards. A target whose CPU per request in
  the closed loop, times the scrapers' requests per second, exceeds one core is not
  measured so: it could not keep up, and would only pile up abandoned requests.
- Server side (trainwatch only): trainwatch_http_request_duration_seconds{handler="/metrics"},
  summed over status codes, is read from the target's /metrics before its first measurement
  and after each closed and open loop, once a tick of the target began after the last
  request (polled on /api/v1/snapshot, another handler: the agent serves every metric from
  its last tick); trainwatch's untimed first requests go to /-/ready instead of /metrics,
  so that only the measured requests and one reading fall between two readings.
  p50 and p99 are computed from the bucket deltas as PromQL's histogram_quantile does:
  linear interpolation within the bucket holding the rank (buckets 0.1, 0.25, 0.5, 1, 2,
  5, 10, 25 ms, ...). They are bucket estimates, not measurements: the true value lies in
  the same bucket, and only its upper edge is a bound (a p99 shown as 1.80 ms is somewhere
  in (1, 2] ms, at most 2 ms). The time is the handler's, from receiving the request to
  returning; the client's figure adds the kernel, the connection and the client's own
  scheduling on a loaded machine. Each delta includes one request of the harness's own:
  the reading before the measurement (1 of 101 observations at 100 requests); the tick
  polls are not in it.
`

// save writes the markdown and JSON under dir as
// overhead-YYYY-MM-DD-KIND[-TAG].{md,json} and returns the markdown's path.
func (r *result) save(dir, tag string, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results directory: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("overhead-%s-%s", now.UTC().Format("2006-01-02"), r.Host.Kind))
	if tag != "" {
		base += "-" + tag
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(base+".json", append(j, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(base+".md", []byte(r.markdown()), 0o644); err != nil {
		return "", fmt.Errorf("write results: %w", err)
	}
	return base + ".md", nil
}

// latencyAt returns the closed-loop measurement at clients, or nil.
func latencyAt(ls []latencyResult, clients int) *latencyResult {
	for i := range ls {
		if ls[i].Clients == clients && ls[i].Requests > 0 {
			return &ls[i]
		}
	}
	return nil
}

// openLoopAt returns the open-loop measurement with that many scrapers,
// or nil (none, or skipped).
func openLoopAt(ls []openLoopResult, scrapers int) *openLoopResult {
	for i := range ls {
		if ls[i].Scrapers == scrapers && ls[i].Skipped == "" && ls[i].Requests > 0 {
			return &ls[i]
		}
	}
	return nil
}
