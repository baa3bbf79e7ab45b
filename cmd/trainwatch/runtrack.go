package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// procStat is what "trainwatch run" reads of one process in /proc/PID/stat.
type procStat struct {
	PID, PPID int
	// Start is the start time in clock ticks after boot; with PID it tells
	// a process from a later one that reused its PID.
	Start uint64
	// CPUTicks is user+system time, in clock ticks.
	CPUTicks uint64
	// RSSPages is the resident set, in pages.
	RSSPages int64
}

// parseProcStat parses the contents of /proc/PID/stat. The command name, in
// parentheses, may hold spaces and parentheses itself, so the fields are
// counted from the last ')'.
func parseProcStat(b []byte) (procStat, bool) {
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open <= 0 || close < open {
		return procStat{}, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return procStat{}, false
	}
	// Fields from 3 (state) on; f[0] is field 3.
	f := bytes.Fields(b[close+1:])
	if len(f) < 22 {
		return procStat{}, false
	}
	num := func(i int) uint64 { // field i (1-based, as in proc(5))
		v, _ := strconv.ParseUint(string(f[i-3]), 10, 64)
		return v
	}
	ppid, _ := strconv.Atoi(string(f[4-3]))
	rss, _ := strconv.ParseInt(string(f[24-3]), 10, 64)
	return procStat{PID: pid, PPID: ppid, Start: num(22), CPUTicks: num(14) + num(15), RSSPages: rss}, true
}

// readProcStats reads /proc/*/stat under procDir. Processes that exit
// while it reads are skipped.
func readProcStats(procDir string) ([]procStat, error) {
	d, err := os.Open(procDir)
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	out := make([]procStat, 0, len(names))
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procDir, n, "stat"))
		if err != nil {
			continue
		}
		if p, ok := parseProcStat(b); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// descendants returns the processes of table that are one of roots or
// descend from one, sorted by PID.
func descendants(table []procStat, roots ...int) []procStat {
	children := make(map[int][]int, len(table))
	byPID := make(map[int]procStat, len(table))
	for _, p := range table {
		byPID[p.PID] = p
		if p.PPID != p.PID {
			children[p.PPID] = append(children[p.PPID], p.PID)
		}
	}
	seen := map[int]bool{}
	var out []procStat
	stack := append([]int(nil), roots...)
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if p, ok := byPID[pid]; ok {
			out = append(out, p)
		}
		stack = append(stack, children[pid]...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// procKey names a process for its whole life.
type procKey struct {
	pid   int
	start uint64
}

// treeAcc accumulates what the samples of the command's process tree say:
// peak RSS of the whole tree, the most processes, and the CPU time of every
// process seen (each process of the tree started after the run did, so all
// its CPU time is the run's).
type treeAcc struct {
	samples  int
	peakRSS  int64 // bytes
	maxProcs int
	ticks    map[procKey]uint64
}

func newTreeAcc() *treeAcc { return &treeAcc{ticks: map[procKey]uint64{}} }

// add records one sample of the tree; pageSize converts RSS pages to bytes.
func (a *treeAcc) add(tree []procStat, pageSize int64) {
	a.samples++
	var rss int64
	for _, p := range tree {
		rss += p.RSSPages * pageSize
		k := procKey{p.PID, p.Start}
		a.ticks[k] = max(a.ticks[k], p.CPUTicks)
	}
	a.peakRSS = max(a.peakRSS, rss)
	a.maxProcs = max(a.maxProcs, len(tree))
}

// cpuSeconds is the CPU time of the processes sampled.
func (a *treeAcc) cpuSeconds() float64 {
	var t uint64
	for _, v := range a.ticks {
		t += v
	}
	return float64(t) / clockTicks
}

// gpuID names a GPU: its index label and UUID.
type gpuID struct {
	Index, UUID string
}

// gpuSampler reads, at each tick, which GPUs the run's processes use.
type gpuSampler interface {
	// sample returns the GPU memory of the processes pids by GPU (a GPU a
	// process uses is there even when its memory is unknown: 0). A sampler
	// that reads the devices itself also returns their figures.
	sample(ctx context.Context, at time.Time, pids map[int]bool) (uses map[gpuID]float64, points map[gpuID]gpuPoint, models map[gpuID]string, err error)
	close()
}

// tracker samples the command's process tree and GPUs every interval, from
// the moment it starts until stop.
type tracker struct {
	interval time.Duration
	procDir  string
	pageSize int64
	gpus     gpuSampler // nil: no GPU figures
	// extra are PIDs counted as the run's besides the tree (tests).
	extra []int

	mu     sync.Mutex
	root   int
	tree   *treeAcc
	spans  map[gpuID]*useSpans
	accs   map[gpuID]*gpuAcc // device figures, when the sampler reads devices
	models map[gpuID]string
	last   time.Time
	gpuErr error

	stopc chan struct{}
	done  chan struct{}
}

func newTracker(interval time.Duration, gpus gpuSampler) *tracker {
	return &tracker{
		interval: interval,
		procDir:  "/proc",
		pageSize: int64(os.Getpagesize()),
		gpus:     gpus,
		tree:     newTreeAcc(),
		spans:    map[gpuID]*useSpans{},
		accs:     map[gpuID]*gpuAcc{},
		models:   map[gpuID]string{},
		stopc:    make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// start samples the tree of root now and then every interval.
func (t *tracker) start(root int) {
	t.root = root
	go func() {
		defer close(t.done)
		tick := time.NewTicker(t.interval)
		defer tick.Stop()
		t.sample(time.Now(), true)
		for {
			select {
			case <-tick.C:
				t.sample(time.Now(), true)
			case <-t.stopc:
				return
			}
		}
	}()
}

// stop ends the sampling with a last sample of the devices (the command
// has exited: its energy up to now counts) and closes the sampler.
func (t *tracker) stop(end time.Time) {
	if t.root == 0 {
		if t.gpus != nil {
			t.gpus.close()
		}
		return
	}
	close(t.stopc)
	<-t.done
	t.sample(end, false)
	if t.gpus != nil {
		t.gpus.close()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.spans {
		s.finish(end, 2*t.interval)
	}
}

// sample reads the tree and the GPUs once; live says the command may still
// run (the final sample after it exited reads only the devices).
func (t *tracker) sample(at time.Time, live bool) {
	pids := map[int]bool{}
	if live {
		table, err := readProcStats(t.procDir)
		if err == nil {
			tree := descendants(table, t.root)
			t.mu.Lock()
			t.tree.add(tree, t.pageSize)
			t.mu.Unlock()
			for _, p := range tree {
				pids[p.PID] = true
			}
		}
		for _, p := range t.extra {
			pids[p] = true
		}
	}
	if t.gpus == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(t.interval, time.Second))
	uses, points, models, err := t.gpus.sample(ctx, at, pids)
	cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.gpuErr = err
		return
	}
	for id, m := range models {
		t.models[id] = m
	}
	for id, mem := range uses {
		if t.spans[id] == nil {
			t.spans[id] = &useSpans{}
		}
		t.spans[id].add(at, true, mem)
	}
	for id, s := range t.spans {
		if _, ok := uses[id]; !ok {
			s.add(at, false, 0)
		}
	}
	for id, p := range points {
		a := t.accs[id]
		if a == nil {
			a = newGPUAcc(underutilPercent)
			t.accs[id] = a
		}
		_, inUse := uses[id]
		a.add(p, inUse)
	}
	t.last = at
}
