package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// Slack of the before/after comparison: after the load has stopped and
// every connection of the harness is closed, the agent's goroutines and
// open files must be back within this many of their level before the
// clients connected. The readings are the least of 8 taken 250 ms apart,
// which leaves out the goroutines of a tick's collectors; what remains can
// differ by a goroutine or two (a TSDB commit, a rule evaluation, the
// runs' state being written), and the TSDB opens chunks_head/000001 twice
// (written and memory-mapped) once the first chunk is full, about two
// minutes after the start. A leak of one goroutine or descriptor per
// stream, per connection or per run exceeds it in the short test (15 or
// more streams).
const (
	goroutineSlack = 4
	fdSlack        = 3
	// keptSlack: the process scanner's kept descriptors of processes that
	// ended since its last scan (every 5 s) are closed at its next.
	keptSlack = 64
)

// result is a whole soak.
type result struct {
	Began      time.Time
	Host       machine.Host
	Options    options
	AgentArgs  []string
	Version    string
	LoadStart  string // load average when the load started
	LoadEnd    string
	Before     level // before the clients connected
	After      level // after the load stopped and connections closed
	AfterWait  time.Duration
	EndOfLoad  level // at the end of the load, still connected
	Samples    []sample
	Counts     counts
	Elapsed    time.Duration // the load's real duration
	Stopped    string        // how the agent ended
	AgentLog   []string      // the warnings, errors and panics the agent logged
	ProfileDir string
	Diff       []stackDiff // stacks with more goroutines after than before
	Aborted    string      // why the soak ended early, if it did
	HeapTop    []string    // what the live heap gained during the load (go tool pprof)
}

// soak runs the whole thing; the result is returned (with what was
// measured) also when err is not nil.
func soak(ctx context.Context, o options) (*result, error) {
	logf := func(format string, a ...any) {
		fmt.Fprintf(o.Log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	res := &result{Began: time.Now(), Host: machine.ReadHost(), Options: o}
	tmp, err := os.MkdirTemp("", "trainwatch-soak-")
	if err != nil {
		return res, err
	}
	if o.Keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := o.Bin
	if bin == "" {
		bin = filepath.Join(tmp, "trainwatch")
		logf("building ./cmd/trainwatch")
		if err := goBuild(ctx, bin); err != nil {
			return res, err
		}
	}
	res.Version = version(ctx, bin)
	res.ProfileDir = o.Profiles
	if res.ProfileDir == "" {
		if res.ProfileDir, err = os.MkdirTemp("", "trainwatch-soak-profiles-"); err != nil {
			return res, err
		}
	} else if err := os.MkdirAll(res.ProfileDir, 0o755); err != nil {
		return res, err
	}

	a, err := startAgent(bin, tmp, o.LogLevel, o.Block)
	if err != nil {
		return res, err
	}
	res.AgentArgs = a.args
	stopped := false
	defer func() {
		if !stopped {
			a.stop(30 * time.Second)
		}
	}()
	if err := a.waitReady(ctx, 2*time.Minute); err != nil {
		return res, err
	}
	logf("trainwatch ready at %s (pid %d)", a.base, a.pid)
	pr := newProbe(a)
	st := newStats()

	// One round of every request, so that what the agent starts lazily
	// (the query engine, the first stream, the first run) is part of the
	// level the end is compared with.
	if err := warmUp(ctx, a.base, o, st); err != nil {
		return res, err
	}
	if err := machine.Sleep(ctx, 3*time.Second); err != nil {
		return res, err
	}
	if res.Before, err = pr.quiet(ctx); err != nil {
		return res, err
	}
	saveProfiles(ctx, pr, res.ProfileDir, "1-before", res.Before.Profile, logf)
	logf("before the load: %d goroutines, %d open files; load for %s", res.Before.Goroutines, res.Before.FDs, o.Duration)

	// The load.
	res.LoadStart = machine.LoadAvg()
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	began := time.Now()
	st.began = began
	var wg sync.WaitGroup
	wg.Go(func() { newPusher(a.base, "soak-"+began.Format("150405"), o, st).loop(loadCtx) })
	for i := range o.Clients {
		wg.Go(func() { newUIClient(i, a.base, o, st).loop(loadCtx) })
	}
	sampleErr := func(err error) {
		st.done(ctx, kindSample, err)
		logf("sample: %v", err)
	}
	for i := 0; ; i++ {
		at := time.Duration(i) * o.Sample
		if at > o.Duration {
			break
		}
		if err := machine.Sleep(ctx, time.Until(began.Add(at))); err != nil {
			res.Aborted = "interrupted"
			break
		}
		if a.exited() {
			res.Aborted = fmt.Sprintf("trainwatch exited during the load (%v):\n%s", a.waitErr, a.logTail())
			break
		}
		s, err := pr.read(ctx, time.Since(began), st)
		if err != nil {
			sampleErr(err)
			if s.RSS == 0 || s.Goroutines == 0 {
				continue
			}
		}
		res.Samples = append(res.Samples, s)
		if i%max(1, int(time.Minute/o.Sample)) == 0 {
			logf("t=%s RSS %.1f MiB (anon %.1f), heap %.1f MiB, %d goroutines, %d fds, %.0f head series; %d pushes, %d run logs, %d UI requests, %d events, %d failed",
				s.At.Round(time.Second), kib(s.RSS), kib(s.Anon), s.HeapInuse/(1<<20), s.Goroutines, s.FDs, s.HeadSeries,
				s.Pushes, s.RunLogs, s.UIRequests, s.Events, s.Failed)
		}
	}
	res.LoadEnd = machine.LoadAvg()
	if res.Aborted == "" {
		if res.EndOfLoad, err = pr.quiet(ctx); err != nil {
			sampleErr(err)
		} else {
			saveProfiles(ctx, pr, res.ProfileDir, "2-end-of-load", res.EndOfLoad.Profile, logf)
			res.HeapTop = heapTop(ctx, res.ProfileDir)
		}
	}
	stopLoad()
	wg.Wait()
	res.Elapsed = time.Since(began)

	// After: every connection of the load is closed; wait (bounded) for
	// the agent's goroutines and files to come back.
	if res.Aborted == "" {
		t0 := time.Now()
		for {
			lv, err := pr.quiet(ctx)
			if err != nil {
				sampleErr(err)
				break
			}
			res.After = lv
			if lv.Goroutines <= res.Before.Goroutines+goroutineSlack && lv.FDs <= res.Before.FDs+fdSlack {
				break
			}
			if time.Since(t0) > o.Settle {
				break
			}
			if machine.Sleep(ctx, time.Second) != nil {
				break
			}
		}
		res.AfterWait = time.Since(t0)
		if res.After.Profile != nil {
			saveProfiles(ctx, pr, res.ProfileDir, "3-after", res.After.Profile, logf)
			res.Diff = diffStacks(res.Before.Profile, res.After.Profile)
		}
		logf("after the load: %d goroutines (before: %d), %d open files (before: %d), read after %s",
			res.After.Goroutines, res.Before.Goroutines, res.After.FDs, res.Before.FDs, res.AfterWait.Round(100*time.Millisecond))
	}
	res.Counts = st.snapshot()
	res.Stopped = a.stop(30 * time.Second)
	stopped = true
	res.AgentLog = agentLog(a.logPath)
	if b, err := os.ReadFile(a.logPath); err == nil {
		_ = os.WriteFile(filepath.Join(res.ProfileDir, "agent.log"), b, 0o644)
	}
	logf("trainwatch %s", res.Stopped)
	if res.Aborted != "" {
		return res, errors.New(res.Aborted)
	}
	return res, ctx.Err()
}

// warmUp makes one request of every kind: a push, a run registered,
// logged and finished, the static files, one event, every page.
func warmUp(ctx context.Context, base string, o options, st *stats) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p := newPusher(base, "soak-warmup-"+time.Now().Format("150405"), o, st)
	p.newRun(ctx)
	p.push(ctx)
	p.logStep(ctx)
	p.finishRun(ctx)
	p.client.CloseIdleConnections()
	c := newUIClient(0, base, o, st)
	defer c.tr.CloseIdleConnections()
	c.loadStatic(ctx)
	sctx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.streamLoop(sctx) })
	for st.events.Load() == 0 && ctx.Err() == nil {
		_ = machine.Sleep(ctx, 50*time.Millisecond)
	}
	for k := range pages {
		c.view(ctx, k)
	}
	stopStream()
	wg.Wait()
	if st.events.Load() == 0 {
		return errors.New("warm-up: no event on /api/ui/events within 2 minutes")
	}
	return ctx.Err()
}

// saveProfiles writes a goroutine profile (debug=1, already read) and a
// heap profile (after a GC) under dir.
func saveProfiles(ctx context.Context, pr *probe, dir, name string, goroutines []byte, logf func(string, ...any)) {
	if err := os.WriteFile(filepath.Join(dir, name+"-goroutines.txt"), goroutines, 0o644); err != nil {
		logf("profile: %v", err)
	}
	if err := pr.saveProfile(ctx, "/debug/pprof/heap?gc=1", dir, name+"-heap.pprof"); err != nil {
		logf("profile: %v", err)
	}
}

// heapTop lists what grew most in the live heap between the heap profiles
// before the load and at its end (go tool pprof -top -base); nil when go
// or the profiles are missing.
func heapTop(ctx context.Context, dir string) []string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, goBin, "tool", "pprof", "-top", "-nodecount=12", "-sample_index=inuse_space",
		"-base", filepath.Join(dir, "1-before-heap.pprof"), filepath.Join(dir, "2-end-of-load-heap.pprof")).Output()
	if err != nil {
		return nil
	}
	var out []string
	keep := false
	for l := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		keep = keep || strings.HasPrefix(l, "Showing nodes")
		if keep && !strings.HasPrefix(l, "Dropped ") {
			out = append(out, l)
		}
	}
	return out
}

// version runs bin version.
func version(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, _ := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(line)
}

// agentLog returns the warnings and errors the agent logged, without the
// line every --demo agent logs, and any line about a panic (net/http logs
// a handler's recovered panic at debug level, hence -log.level debug).
func agentLog(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{"(log unreadable: " + err.Error() + ")"}
	}
	var out []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(l, "DEMO MODE") {
			continue
		}
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") || !strings.HasPrefix(l, "time=") {
			out = append(out, l)
		}
	}
	return out
}

// kib converts KiB to MiB.
func kib(v int64) float64 { return float64(v) / 1024 }
