package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bounds of the verdict.
//
// Memory. The embedded TSDB keeps every series it saw in its head until
// the head spans 1.5 block ranges (3 h with Prometheus' 2 h blocks) and is
// compacted: a run's series, a push group's, and — on a busy machine the
// most — those of every process that came and went (trainwatch_process_*
// per process, namedprocess_* per command name). Full chunks (120 samples,
// 2 min at 1 s) go to chunks_head/ and are memory-mapped. So, by design
// and until that first compaction:
//
//   - RssAnon grows with the head: by its series (Prometheus' rule of
//     thumb is 8 KiB of memory per head series, prometheus/prometheus#4553)
//     and by a reference per full chunk per series, every 2 minutes even
//     at a constant series count (a ~32-byte mmappedChunk and its slot,
//     ~48 bytes live, ~96 with GOGC=100's headroom, per ~200-byte chunk
//     written to chunks_head/: about half a byte of memory per byte of
//     chunks_head/). The verdict takes the slope of RssAnon − (8 KiB × head
//     series + ½ × chunks_head/) over the last two thirds of the run
//     ("net of the head") and wants it under rssSlopeMiBPerHour. A leak of
//     a 16 KB snapshot event per tick is 55 MiB/h, of 1 KB per push
//     18 MiB/h, whatever the head does; 10 MiB/h is 10 % of the agent's
//     RSS per hour.
//   - RssFile grows by the pages of chunks_head/ that queries and the head
//     read through the mapping (page cache: reclaimable). It may grow at
//     most by chunks_head/'s size plus rssFileSlackMiB (code pages of the
//     binary first run later).
//   - VmRSS is their sum: shown, judged through the two.
//
// Goroutines and open files: the last window's mean may exceed the first
// window's by at most max(5, 5 %) goroutines and max(3, 5 %) files (a
// slow query or a stream reconnecting holds one for a moment); and after
// the load, with every connection closed, they must come back to within
// goroutineSlack and fdSlack of their level before it.
const (
	rssSlopeMiBPerHour = 10.0
	headSeriesKiB      = 8.0
	headChunkShare     = 0.5
	rssFileSlackMiB    = 8.0
	goroutineRise      = 5.0
	fdRise             = 3.0
	riseShare          = 0.05
)

// series is one measure of the samples.
type series struct {
	name, unit string
	get        func(sample) float64
	// head, when set, is what the head's series account for (subtracted
	// for the "net of the head" slope).
	head  func(sample) float64
	bound string                        // "" none: shown, not judged
	judge func(r *result, t trend) bool // true: flat
}

func (r *result) series() []series {
	rise := func(abs float64) func(*result, trend) bool {
		return func(_ *result, t trend) bool { return t.Last-t.First <= math.Max(abs, riseShare*t.First) }
	}
	dirs := r.hasDirSizes()
	head := func(s sample) float64 {
		if s.HeadSeries < 0 || (dirs && s.HeadChunks < 0) {
			return -1
		}
		h := s.HeadSeries * headSeriesKiB / 1024
		if dirs {
			h += headChunkShare * float64(s.HeadChunks) / (1 << 20)
		}
		return h
	}
	out := []series{
		{name: "VmRSS", unit: "MiB", get: func(s sample) float64 { return kib(s.RSS) }, head: head},
		{name: "RssAnon", unit: "MiB", get: func(s sample) float64 { return kib(s.Anon) }, head: head,
			bound: fmt.Sprintf("net slope < %g MiB/h", rssSlopeMiBPerHour),
			judge: func(_ *result, t trend) bool { return t.Net < rssSlopeMiBPerHour }},
		{name: "RssFile", unit: "MiB", get: func(s sample) float64 { return kib(s.File) }},
		{name: "Go heap in use", unit: "MiB", get: func(s sample) float64 { return s.HeapInuse / (1 << 20) }, head: head},
		{name: "goroutines", get: func(s sample) float64 { return float64(s.Goroutines) },
			bound: fmt.Sprintf("last − first ≤ max(%g, %g %%)", goroutineRise, riseShare*100), judge: rise(goroutineRise)},
		{name: "open fds (less the kept /proc ones)", get: func(s sample) float64 { return float64(s.FDs) },
			bound: fmt.Sprintf("last − first ≤ max(%g, %g %%)", fdRise, riseShare*100), judge: rise(fdRise)},
		{name: "OS threads", get: func(s sample) float64 { return s.Threads }},
		{name: "TSDB head series", get: func(s sample) float64 { return s.HeadSeries }},
	}
	if dirs {
		out[2].bound = fmt.Sprintf("growth ≤ chunks_head/ + %g MiB", rssFileSlackMiB)
		out[2].judge = func(r *result, _ trend) bool {
			grow, chunks := r.fileGrowth()
			return grow <= chunks+rssFileSlackMiB
		}
		out = append(out,
			series{name: "chunks_head/ on disk", unit: "MiB", get: func(s sample) float64 { return float64(s.HeadChunks) / (1 << 20) }},
			series{name: "wal/ on disk", unit: "MiB", get: func(s sample) float64 { return float64(s.WAL) / (1 << 20) }})
	}
	return out
}

// hasDirSizes reports whether the samples have the data directory's sizes
// (results from before they were measured have not).
func (r *result) hasDirSizes() bool {
	for _, s := range r.Samples {
		if s.WAL > 0 {
			return true
		}
	}
	return false
}

// fileGrowth is how much RssFile grew over the run (its highest reading
// less its first) and the size of chunks_head/ at the end, in MiB.
func (r *result) fileGrowth() (grow, chunks float64) {
	if len(r.Samples) == 0 {
		return 0, 0
	}
	first := kib(r.Samples[0].File)
	for _, s := range r.Samples {
		grow = math.Max(grow, kib(s.File)-first)
		if s.HeadChunks >= 0 {
			chunks = float64(s.HeadChunks) / (1 << 20)
		}
	}
	return grow, chunks
}

// window is the length of the first and last windows: 10 minutes, or a
// third of a shorter run.
func (r *result) window() time.Duration {
	return min(10*time.Minute, r.Options.Duration/3)
}

// trend is a measure's first- and last-window means, its slope per hour
// over the last two thirds of the run, and that slope net of what the
// head's series account for (NaN without).
type trend struct {
	First, Last, Slope, Net float64
	OK                      bool
}

func (r *result) trend(s series) trend {
	w := r.window()
	end := r.Options.Duration
	if n := len(r.Samples); n > 0 {
		end = r.Samples[n-1].At
	}
	var first, last, xs, ys, nxs, nys []float64
	for _, sm := range r.Samples {
		v := s.get(sm)
		if v < 0 { // not read (/metrics failed)
			continue
		}
		if sm.At <= w {
			first = append(first, v)
		}
		if sm.At >= end-w {
			last = append(last, v)
		}
		if sm.At >= end/3 {
			xs, ys = append(xs, sm.At.Hours()), append(ys, v)
			if s.head != nil {
				if h := s.head(sm); h >= 0 {
					nxs, nys = append(nxs, sm.At.Hours()), append(nys, v-h)
				}
			}
		}
	}
	t := trend{First: mean(first), Last: mean(last), Slope: slope(xs, ys), Net: math.NaN(), OK: true}
	if s.head != nil {
		t.Net = slope(nxs, nys)
	}
	if s.judge != nil {
		t.OK = s.judge(r, t)
	}
	return t
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	mx, my := mean(xs), mean(ys)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// verdict is the soak's outcome: OK, or why not.
type verdict struct {
	OK  bool
	Why []string
}

func (r *result) verdict() verdict {
	v := verdict{OK: true}
	fail := func(format string, a ...any) {
		v.OK = false
		v.Why = append(v.Why, fmt.Sprintf(format, a...))
	}
	if r.Aborted != "" {
		fail("the soak ended early: %s", firstLine(r.Aborted))
	}
	if len(r.Samples) < 6 {
		fail("only %d samples", len(r.Samples))
	}
	for _, s := range r.series() {
		if t := r.trend(s); !t.OK {
			net := ""
			if s.head != nil {
				net = fmt.Sprintf(", net of the head %+.1f%s per hour", t.Net, unit(s.unit))
			}
			fail("%s not flat: %.1f → %.1f%s, %+.1f%s per hour%s (bound: %s)", s.name, t.First, t.Last, unit(s.unit), t.Slope, unit(s.unit), net, s.bound)
		}
	}
	if r.After.Goroutines > r.Before.Goroutines+goroutineSlack {
		fail("%d goroutines after the load, %d before it (slack %d)", r.After.Goroutines, r.Before.Goroutines, goroutineSlack)
	}
	if r.After.FDs > r.Before.FDs+fdSlack {
		fail("%d open files after the load, %d before it (slack %d)", r.After.FDs, r.Before.FDs, fdSlack)
	}
	if !keptOK(r.After.KeptFDs, r.After.HostProcs) {
		fail("%d /proc descriptors kept by the process scanner for %d processes on the host (at most 2 each, slack %d)", r.After.KeptFDs, r.After.HostProcs, keptSlack)
	}
	if n := r.Counts.FailedTotal; n > 0 {
		fail("%d requests failed", n)
	}
	if !strings.HasPrefix(r.Stopped, "exited cleanly") {
		fail("trainwatch %s", r.Stopped)
	}
	return v
}

func unit(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func fmtDur(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d > 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0 && d > 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.Round(time.Second).String()
}

// markdown is the report.
func (r *result) markdown() string {
	var b strings.Builder
	o := r.Options
	h := r.Host
	v := r.verdict()
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Soak: trainwatch serve --demo, %s at 1 s collection, a push every %s, %d dashboard clients\n\n", fmtDur(o.Duration), o.PushEvery, o.Clients)
	p("Measured %s on %s (%s): %s, %d cores, Linux %s, %d GiB; %s. Load average %s at the start of the load, %s at its end.\n\n",
		r.Began.UTC().Format("2006-01-02 15:04 UTC"), h.Hostname, h.Kind, h.CPUModel, h.Cores, h.Kernel, h.MemGiB, h.Go, r.LoadStart, r.LoadEnd)
	p("Command: `%s`\n\n", o.Command)
	p("Agent: `trainwatch %s` (history on, a fresh data directory), `%s`; %s.\n\n", strings.Join(r.AgentArgs, " "), r.Version, r.Stopped)
	p("Load (%s, measured every %s):\n\n", r.Elapsed.Round(time.Second), o.Sample)
	p("- every %s, alternately: a Pushgateway push (PUT and POST in turn, text format) to `/metrics/job/soak/instance/x` — counter `batches_processed_total` increasing, gauge `training_loss`, histogram `soak_step_seconds` (5 buckets) — and a log line (NDJSON: step, epoch, loss, lr, grad_norm, samples_per_second; the step increasing) to `POST /api/v1/runs/ID/log`; every %s the run is finished (`POST /api/v1/runs/ID/finish`) and a new one registered (`POST /api/v1/runs`);\n", o.PushEvery, fmtDur(o.RunEvery))
	p("- %d dashboard clients, each holding `GET /api/ui/events` open (reconnecting as EventSource does if it drops) and every %s–%s opening the next page with the requests its JavaScript makes, over a %s range: overview (GPU sparklines and CPU/memory `query_range`, the active runs' `training_loss`; plus the `/api/v1/snapshot` that `trainwatch top` reads), a GPU page (3 × `query_range`), runs (`/api/v1/runs`, a run's series, `ALERTS` during it, `/api/ui/processes`), alerts (`/api/v1/alerts`, `/api/v1/rules`, `ALERTS`), processes (`/api/ui/processes`); every %s each client reloads its tab (index.html with its scripts and styles, `/api/ui/config`, a new stream, new connections).\n\n",
		o.Clients, o.PageMin, o.PageMax, fmtDur(o.Range), fmtDur(o.Reload))

	p("## Verdict: %s\n\n", map[bool]string{true: "**flat**, no request failed", false: "**NOT flat or requests failed**"}[v.OK])
	for _, w := range v.Why {
		p("- %s\n", w)
	}
	if len(v.Why) > 0 {
		p("\n")
	}
	w := fmtDur(r.window())
	p("| measure | first %s (mean) | last %s (mean) | slope over the last 2/3 (per hour) | same, net of the head (− %g KiB × head series%s) | bound | verdict |\n|---|---:|---:|---:|---:|---|---|\n", w, w, headSeriesKiB, map[bool]string{true: " − ½ × chunks_head/", false: ""}[r.hasDirSizes()])
	for _, s := range r.series() {
		t := r.trend(s)
		verdict := "(shown)"
		if s.judge != nil {
			verdict = map[bool]string{true: "flat", false: "**NOT flat**"}[t.OK]
		}
		net := "–"
		if !math.IsNaN(t.Net) {
			net = fmt.Sprintf("%+.2f%s", t.Net, unit(s.unit))
		}
		p("| %s | %.1f%s | %.1f%s | %+.2f%s | %s | %s | %s |\n", s.name, t.First, unit(s.unit), t.Last, unit(s.unit), t.Slope, unit(s.unit), net, orDash(s.bound), verdict)
	}
	p("| goroutines, before the load → after it (connections closed) | %d | %d | | | ≤ +%d | %s |\n", r.Before.Goroutines, r.After.Goroutines, goroutineSlack,
		map[bool]string{true: "back", false: "**NOT back**"}[r.After.Goroutines <= r.Before.Goroutines+goroutineSlack])
	p("| open fds (not counting the process scanner's kept /proc descriptors), before the load → after it | %d | %d | | | ≤ +%d | %s |\n", r.Before.FDs, r.After.FDs, fdSlack,
		map[bool]string{true: "back", false: "**NOT back**"}[r.After.FDs <= r.Before.FDs+fdSlack])
	p("| kept /proc descriptors (processes on the host), before the load → after it | %d (%d) | %d (%d) | | | ≤ 2 per process + %d | %s |\n",
		r.Before.KeptFDs, r.Before.HostProcs, r.After.KeptFDs, r.After.HostProcs, keptSlack,
		map[bool]string{true: "within", false: "**too many**"}[keptOK(r.After.KeptFDs, r.After.HostProcs)])
	c := r.Counts
	p("| requests failed | %d of %d | | | | 0 | %s |\n\n", c.FailedTotal, c.FailedTotal+c.OKTotal, map[bool]string{true: "none", false: "**failed**"}[c.FailedTotal == 0])
	for _, s := range r.series() {
		if s.name == "RssAnon" {
			if t := r.trend(s); !math.IsNaN(t.Net) {
				p("The head's allowance over the last 2/3 was %.1f MiB/h: a leak of less than about %.0f MiB/h could not be told from the head's growth in this run (on a machine where fewer processes come and go, the head grows less and the bound is tighter).\n\n", t.Slope-t.Net, t.Slope-t.Net+rssSlopeMiBPerHour)
			}
		}
	}
	p("Goroutines and open files before and after are the least of 8 readings 250 ms apart (a tick's collectors run as goroutines of their own); after: read %s after the load stopped. At the end of the load, still connected: %d goroutines, %d open files.\n\n",
		r.AfterWait.Round(100*time.Millisecond), r.EndOfLoad.Goroutines, r.EndOfLoad.FDs)

	p("## Requests\n\n| kind | done | failed | per second |\n|---|---:|---:|---:|\n")
	secs := r.Elapsed.Seconds()
	for _, k := range kinds {
		rate := "–"
		if secs > 0 && k != kindSample {
			rate = fmt.Sprintf("%.2f", float64(c.OK[k]+c.Failed[k])/secs)
		}
		p("| %s | %d | %d | %s |\n", k, c.OK[k], c.Failed[k], rate)
	}
	p("\nStreams opened: %d (%d dropped by the agent); snapshot events received: %d (longest wait between two on one stream: %s). Runs registered: %d, finished: %d. The pusher missed %d of its ticks (a request that took longer than %s). Counts include one warm-up round of every request before the load.\n\n",
		c.Connects, c.Drops, c.Events, c.MaxEventGap.Round(time.Millisecond), c.RunsMade, c.RunsEnded, c.PusherMissedTicks, o.PushEvery)
	if len(c.Failures) > 0 {
		p("### Failures\n\n")
		for _, f := range c.Failures {
			p("- t=%s %s: %s\n", f.At.Round(time.Millisecond), f.Kind, strings.ReplaceAll(f.What, "\n", " "))
		}
		if c.FailuresNotKept > 0 {
			p("- … and %d more\n", c.FailuresNotKept)
		}
		p("\n")
	}

	p("## Samples (every minute)\n\n")
	p("| t | VmRSS MiB | RssAnon MiB | RssFile MiB | heap in use MiB | goroutines | go_goroutines | fds | threads | head series | chunks_head MiB | pushes | run logs | UI requests | events | failed |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	every := max(1, int(time.Minute/o.Sample))
	for i, s := range r.Samples {
		if i%every != 0 && i != len(r.Samples)-1 {
			continue
		}
		chunks := -1.0
		if r.hasDirSizes() && s.HeadChunks >= 0 {
			chunks = float64(s.HeadChunks) / (1 << 20)
		}
		p("| %s | %.1f | %.1f | %.1f | %s | %d | %s | %d | %s | %s | %s | %d | %d | %d | %d | %d |\n",
			fmtClock(s.At), kib(s.RSS), kib(s.Anon), kib(s.File), opt(s.HeapInuse/(1<<20), 1), s.Goroutines, opt(s.GoGoroutines, 0), s.FDs, opt(s.Threads, 0), opt(s.HeadSeries, 0), opt(chunks, 1),
			s.Pushes, s.RunLogs, s.UIRequests, s.Events, s.Failed)
	}
	p("\n")

	p("## Goroutines after the load vs before it\n\n")
	if len(r.Diff) == 0 {
		p("No stack has more goroutines after the load than before it.\n\n")
	} else {
		p("Stacks with more goroutines after the load (connections closed) than before it (a leak shows here):\n\n| before | after | stack (innermost first, runtime frames left out) |\n|---:|---:|---|\n")
		for i, d := range r.Diff {
			if i == 10 {
				p("| | | … %d more |\n", len(r.Diff)-10)
				break
			}
			st := "`" + shortStack(d.Stack, 4) + "`"
			if d.Stack == "" {
				st = "(no frames: a goroutine starting or ending at the reading)"
			}
			p("| %d | %d | %s |\n", d.Before, d.After, st)
		}
		p("\n")
	}
	if more := diffFiles(r.Before.Files, r.After.Files); len(more) > 0 {
		p("Open after the load and not before it: %s.\n\n", strings.Join(more, ", "))
	}
	if len(r.HeapTop) > 0 {
		p("What the live heap gained from the start to the end of the load (heap profiles after a forced GC, sampled every 512 KiB; `go tool pprof -top -base`):\n\n```text\n%s\n```\n\n", strings.Join(r.HeapTop, "\n"))
	}
	p("Profiles (goroutines as text, heap after a GC) before the load, at its end and after it: `%s`; compare heaps with `go tool pprof -base %s/1-before-heap.pprof %s/2-end-of-load-heap.pprof`.\n\n", r.ProfileDir, r.ProfileDir, r.ProfileDir)
	if len(r.AgentLog) > 0 {
		p("The agent logged %d warning(s), error(s) or panic(s) (besides the demo notice); the first:\n\n```text\n", len(r.AgentLog))
		for i, l := range r.AgentLog {
			if i == 10 {
				break
			}
			p("%s\n", l)
		}
		p("```\n\n")
	} else {
		p("The agent logged no warning, error or panic (besides the demo notice).\n\n")
	}
	p("## Reading the figures\n\n")
	p("- **VmRSS** is RssAnon (the Go heap, goroutine stacks, the TSDB head's series and open chunks) plus RssFile (the binary's pages and the pages of the TSDB's memory-mapped head chunks, `chunks_head/`, that were read through the mapping: page cache, reclaimable).\n")
	p("- The TSDB head keeps every series it saw until it spans 3 h (1.5 × Prometheus' 2 h block range) and is compacted into a block; full chunks (120 samples: 2 min at 1 s) are written to `chunks_head/` and memory-mapped, and the head keeps a reference to each. Nothing is compacted in a run shorter than that, so by design, until the first compaction, RssAnon rises with the head's series (Prometheus' rule of thumb: 8 KiB per head series, prometheus/prometheus#4553) and with its chunk references (~96 bytes of memory, GC headroom included, per ~200-byte chunk in `chunks_head/`: ½ byte per byte), and RssFile with the pages of `chunks_head/` read through the mapping. The verdict therefore judges RssAnon net of 8 KiB per head series and ½ × `chunks_head/`, and RssFile against the size of `chunks_head/`; a leak in the agent's own code shows in both whatever the head does. In the live heap below, the head's share is `memSeries.mmapChunks` (chunk references), `newMemSeries`, `seriesHashmap`, `headAppender.Append` (new series) and, once, the write buffer of `chunks_head/` (256 KiB; Prometheus' default is 4 MiB) (`bufio.NewWriterSize`); json-iterator's and gzip's buffers are pools kept for reuse.\n")
	p("- Head series: %s.\n", headNote(r))
	if r.hasDirSizes() {
		grow, chunks := r.fileGrowth()
		p("- RssFile grew by at most %.1f MiB over the run; `chunks_head/` holds %.1f MiB at its end.\n", grow, chunks)
	}
	return b.String()
}

// opt prints a figure read from /metrics, or – when it could not be read.
func opt(v float64, prec int) string {
	if v < 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// fmtClock prints 90s as 1:30.
func fmtClock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// headNote describes how the head's series changed.
func headNote(r *result) string {
	if len(r.Samples) < 2 {
		return "too few samples"
	}
	a, z := r.Samples[0], r.Samples[len(r.Samples)-1]
	return fmt.Sprintf("%.0f at the start of the load, %.0f at its end (%+.0f): the series of the %d runs registered, of the push group, and of the processes that came and went on this machine — trainwatch_process_* per process, which go stale when it ends and leave the head at its first compaction after that, and namedprocess_namegroup_* per command name, which the process collector keeps emitting (at 0 processes) once a name was seen",
		a.HeadSeries, z.HeadSeries, z.HeadSeries-a.HeadSeries, r.Counts.RunsMade)
}
