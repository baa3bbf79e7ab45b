package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// sample is one reading of the agent.
type sample struct {
	At              time.Duration // since the load started
	RSS, Anon, File int64         // KiB, /proc/PID/status
	Goroutines      int           // /debug/pprof/goroutine's total
	GoGoroutines    float64       // go_goroutines on /metrics
	HeapInuse       float64       // go_memstats_heap_inuse_bytes
	Threads         float64       // go_threads
	FDs             int           // entries of /proc/PID/fd, less KeptFDs
	// KeptFDs are the process scanner's descriptors of /proc/PID/stat and
	// schedstat, kept open between scans, two per process at most
	// (docs/processes.md): they follow the host's processes, not a leak;
	// HostProcs is the number of processes on the host at the reading.
	KeptFDs, HostProcs int
	HeadSeries         float64 // trainwatch_tsdb_head_series
	// Bytes of the data directory's chunks_head/ (the head's full chunks,
	// memory-mapped: what RssFile can grow by) and wal/; -1 when not read.
	HeadChunks, WAL int64
	// Cumulative requests of the load at this reading.
	Pushes, RunLogs, UIRequests, Events, Failed int64
}

// probe reads the agent: /proc, /metrics and the goroutine profile. It
// opens a new connection for each request, so that it leaves no idle
// connection (and no serving goroutine) behind in the agent.
type probe struct {
	base    string
	pid     int
	dataDir string
	client  *http.Client
}

func newProbe(a *agent) *probe {
	return &probe{base: a.base, pid: a.pid, dataDir: a.dataDir, client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true}}}
}

// get fetches path from the agent.
func (p *probe) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, truncate(b, 200))
	}
	return b, nil
}

// goroutineProfile returns the agent's goroutine profile (debug=1: stacks
// with counts) and its total.
func (p *probe) goroutineProfile(ctx context.Context) (int, []byte, error) {
	b, err := p.get(ctx, "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, nil, err
	}
	n, err := profileTotal(b)
	return n, b, err
}

// profileTotal reads "goroutine profile: total N".
func profileTotal(b []byte) (int, error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	rest, ok := bytes.CutPrefix(line, []byte("goroutine profile: total "))
	if !ok {
		return 0, fmt.Errorf("goroutine profile: unexpected first line %q", truncate(line, 80))
	}
	return strconv.Atoi(string(bytes.TrimSpace(rest)))
}

// metricNames are the unlabelled series read from /metrics.
var metricNames = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_threads", "trainwatch_tsdb_head_series"}

// metrics reads metricNames from /metrics (text format); a missing one is
// an error.
func (p *probe) metrics(ctx context.Context) (map[string]float64, error) {
	b, err := p.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	return parseMetrics(b, metricNames)
}

// parseMetrics finds the value of each unlabelled series in names.
func parseMetrics(b []byte, names []string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics: %s: %w", name, err)
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("/metrics has no %s", n)
		}
	}
	return out, nil
}

// read takes one sample. When /metrics cannot be read, the sample keeps
// what /proc and the goroutine profile gave (the /metrics figures are -1)
// and the error is returned with it.
func (p *probe) read(ctx context.Context, at time.Duration, st *stats) (sample, error) {
	s := sample{At: at, GoGoroutines: -1, HeapInuse: -1, Threads: -1, HeadSeries: -1,
		HeadChunks: dirBytes(filepath.Join(p.dataDir, "chunks_head")), WAL: dirBytes(filepath.Join(p.dataDir, "wal"))}
	m, err := machine.ReadMem(p.pid)
	if err != nil {
		return s, err
	}
	s.RSS, s.Anon, s.File = m.RSS, m.Anon, m.File
	files, err := fdTargets(p.pid)
	if err != nil {
		return s, err
	}
	files, s.KeptFDs = splitKept(files)
	s.FDs, s.HostProcs = len(files), countProcs()
	if s.Goroutines, _, err = p.goroutineProfile(ctx); err != nil {
		return s, err
	}
	if st != nil {
		c := st.snapshot()
		s.Pushes, s.RunLogs = c.OK[kindPush], c.OK[kindRunLog]
		s.UIRequests, s.Events, s.Failed = c.OK[kindPage]+c.OK[kindStatic], c.Events, c.FailedTotal
	}
	mv, err := p.metrics(ctx)
	if err != nil {
		return s, err
	}
	s.GoGoroutines, s.HeapInuse = mv["go_goroutines"], mv["go_memstats_heap_inuse_bytes"]
	s.Threads, s.HeadSeries = mv["go_threads"], mv["trainwatch_tsdb_head_series"]
	return s, nil
}

// level is the agent's goroutines and open files when nothing of the
// harness is connected, with the goroutine profile of that reading.
type level struct {
	Goroutines, FDs int
	// KeptFDs and HostProcs as in sample, at the reading with the least
	// other descriptors.
	KeptFDs, HostProcs int
	Profile            []byte
	Files              []string // what the descriptors of the least reading point to
}

// quiet reads the goroutines and open files several times, 250 ms apart,
// and keeps the least of each: a reading taken while a tick's collectors
// run, or while the TSDB commits, counts their goroutines too.
func (p *probe) quiet(ctx context.Context) (level, error) {
	lv := level{Goroutines: -1, FDs: -1}
	for i := range 8 {
		if i > 0 {
			if err := machine.Sleep(ctx, 250*time.Millisecond); err != nil {
				return lv, err
			}
		}
		n, prof, err := p.goroutineProfile(ctx)
		if err != nil {
			return lv, err
		}
		if lv.Goroutines < 0 || n < lv.Goroutines {
			lv.Goroutines, lv.Profile = n, prof
		}
		files, err := fdTargets(p.pid)
		if err != nil {
			return lv, err
		}
		files, kept := splitKept(files)
		if lv.FDs < 0 || len(files) < lv.FDs {
			lv.FDs, lv.Files, lv.KeptFDs, lv.HostProcs = len(files), files, kept, countProcs()
		}
	}
	return lv, nil
}

// saveProfile writes the agent's profile at path (e.g. heap?gc=1) to
// dir/name.
func (p *probe) saveProfile(ctx context.Context, path, dir, name string) error {
	b, err := p.get(ctx, path)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// stackCounts parses a debug=1 goroutine profile into goroutines per
// stack, a stack named by its functions from the innermost out.
func stackCounts(b []byte) map[string]int {
	out := map[string]int{}
	for block := range strings.SplitSeq(string(b), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if len(lines) == 0 {
			continue
		}
		head := strings.Fields(lines[0])
		if len(head) < 2 || head[1] != "@" {
			// the first block starts with the "goroutine profile" line
			if len(lines) > 1 {
				head = strings.Fields(lines[1])
				lines = lines[1:]
			}
			if len(head) < 2 || head[1] != "@" {
				continue
			}
		}
		n, err := strconv.Atoi(head[0])
		if err != nil {
			continue
		}
		var fns []string
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) >= 3 && f[0] == "#" {
				fn := f[2]
				if i := strings.LastIndex(fn, "+0x"); i > 0 {
					fn = fn[:i]
				}
				fns = append(fns, fn)
			}
		}
		out[strings.Join(fns, " ← ")] += n
	}
	return out
}

// stackDiff is a stack whose goroutine count changed between two profiles.
type stackDiff struct {
	Stack         string
	Before, After int
}

// diffStacks lists the stacks with more goroutines in after than in
// before, the largest growth first.
func diffStacks(before, after []byte) []stackDiff {
	b, a := stackCounts(before), stackCounts(after)
	var out []stackDiff
	for k, n := range a {
		if n > b[k] {
			out = append(out, stackDiff{Stack: k, Before: b[k], After: n})
		}
	}
	slices.SortFunc(out, func(x, y stackDiff) int {
		if d := (y.After - y.Before) - (x.After - x.Before); d != 0 {
			return d
		}
		return strings.Compare(x.Stack, y.Stack)
	})
	return out
}

// shortStack keeps a stack's first frames outside the Go runtime.
func shortStack(s string, n int) string {
	var keep []string
	for f := range strings.SplitSeq(s, " ← ") {
		if strings.HasPrefix(f, "runtime.") || strings.HasPrefix(f, "internal/") {
			continue
		}
		keep = append(keep, f)
		if len(keep) == n {
			break
		}
	}
	if len(keep) == 0 {
		return s
	}
	return strings.Join(keep, " ← ")
}

// fdTargets lists what a process's descriptors point to, sockets and
// pipes without their inode numbers.
func fdTargets(pid int) ([]string, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open files of pid %d: %w", pid, err)
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if i := strings.Index(l, ":["); i > 0 && !strings.HasPrefix(l, "anon_inode:") {
			l = l[:i]
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out, nil
}

// diffFiles lists the targets more often open in after than in before,
// each with how many more.
func diffFiles(before, after []string) []string {
	n := map[string]int{}
	for _, f := range after {
		n[f]++
	}
	for _, f := range before {
		n[f]--
	}
	var out []string
	for f, k := range n {
		if k > 0 {
			out = append(out, fmt.Sprintf("%s (+%d)", f, k))
		}
	}
	slices.Sort(out)
	return out
}

// dirBytes is the size of the regular files under dir; -1 when dir cannot
// be read.
func dirBytes(dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return -1
	}
	return n
}

// keptFD reports whether a descriptor's target is one the process scanner
// keeps: /proc/PID/stat or /proc/PID/schedstat.
func keptFD(target string) bool {
	rest, ok := strings.CutPrefix(target, "/proc/")
	if !ok {
		return false
	}
	pid, file, ok := strings.Cut(rest, "/")
	if !ok || (file != "stat" && file != "schedstat") {
		return false
	}
	_, err := strconv.Atoi(pid)
	return err == nil
}

// splitKept returns the descriptor targets that are not the process
// scanner's kept /proc descriptors, and how many are.
func splitKept(files []string) (others []string, kept int) {
	others = make([]string, 0, len(files))
	for _, f := range files {
		if keptFD(f) {
			kept++
			continue
		}
		others = append(others, f)
	}
	return others, kept
}

// countProcs returns the number of processes on the host (0 when /proc
// cannot be listed).
func countProcs() int {
	names, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range names {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}

// keptOK reports whether the kept descriptors of a reading are within two
// per process on the host, plus slack for processes that ended since the
// last scan.
func keptOK(kept, hostProcs int) bool { return kept <= 2*hostProcs+keptSlack }
