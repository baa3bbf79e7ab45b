package main

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// TestRunParseProcStat: /proc/PID/stat, command names with spaces and
// parentheses included.
func TestRunParseProcStat(t *testing.T) {
	rest := " S 100 4242 4242 0 -1 4194560 500 0 0 0 250 50 7 3 20 0 4 0 123456 1000000 2048 18446744073709551615"
	for _, tc := range []struct {
		name string
		in   string
		want procStat
		ok   bool
	}{
		{"plain", "4242 (python3)" + rest, procStat{PID: 4242, PPID: 100, Start: 123456, CPUTicks: 300, RSSPages: 2048}, true},
		{"spaces and parens", "77 (pt_main (x) y)" + rest, procStat{PID: 77, PPID: 100, Start: 123456, CPUTicks: 300, RSSPages: 2048}, true},
		{"truncated", "77 (python3) S 1 2 3", procStat{}, false},
		{"garbage", "not a stat line", procStat{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseProcStat([]byte(tc.in))
			if ok != tc.ok || got != tc.want {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestRunDescendants: the tree under the roots, and nothing else.
func TestRunDescendants(t *testing.T) {
	table := []procStat{
		{PID: 1, PPID: 0}, {PID: 10, PPID: 1}, {PID: 11, PPID: 10}, {PID: 12, PPID: 11}, {PID: 13, PPID: 10},
		{PID: 20, PPID: 1}, {PID: 21, PPID: 20}, {PID: 30, PPID: 30},
	}
	for _, tc := range []struct {
		roots []int
		want  []int
	}{
		{[]int{10}, []int{10, 11, 12, 13}},
		{[]int{11, 21}, []int{11, 12, 21}},
		{[]int{99}, nil},
		{[]int{30}, []int{30}},
	} {
		var got []int
		for _, p := range descendants(table, tc.roots...) {
			got = append(got, p.PID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("descendants(%v) = %v, want %v", tc.roots, got, tc.want)
		}
	}
}

// TestRunTrackerTree samples a real process tree: a shell with two
// children; the processes, their memory and CPU are counted.
func TestRunTrackerTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 1.5 & sleep 1.5 & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(100*time.Millisecond, nil)
	tr.start(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	tr.stop(time.Now())
	if tr.tree.maxProcs < 3 || tr.tree.peakRSS <= 0 || tr.tree.samples < 3 {
		t.Errorf("max processes %d, peak RSS %d, samples %d", tr.tree.maxProcs, tr.tree.peakRSS, tr.tree.samples)
	}
	if s := tr.tree.cpuSeconds(); s <= 0 {
		t.Errorf("CPU %vs", s)
	}
}

// fakeGPUs is a gpuSampler that reports fixed uses for the PIDs given.
type fakeGPUs struct {
	pid int
}

func (f fakeGPUs) sample(_ context.Context, at time.Time, pids map[int]bool) (map[gpuID]float64, map[gpuID]gpuPoint, map[gpuID]string, error) {
	id := gpuID{"0", "GPU-x"}
	p := pt(0, 80, 1, 300, float64(at.UnixMilli()))
	p.T = at
	points := map[gpuID]gpuPoint{id: p, {"1", "GPU-y"}: p}
	if !pids[f.pid] {
		return nil, points, nil, nil
	}
	return map[gpuID]float64{id: 1 << 30}, points, map[gpuID]string{id: "Fake"}, nil
}

func (fakeGPUs) close() {}

// TestRunTrackerGPUs: the GPUs the tree's processes use get spans and
// device figures; the others none; the last sample after the command ended
// closes the spans.
func TestRunTrackerGPUs(t *testing.T) {
	cmd := exec.Command("sleep", "0.6")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(100*time.Millisecond, fakeGPUs{pid: cmd.Process.Pid})
	start := time.Now()
	tr.start(cmd.Process.Pid)
	_ = cmd.Wait()
	end := time.Now()
	tr.stop(end)
	gs := gpuReport(tr.spans, tr.accs, tr.models)
	if len(gs) != 1 || gs[0].GPU != "0" || gs[0].Model != "Fake" {
		t.Fatalf("gpus %+v", gs)
	}
	g := gs[0]
	if g.InUseSeconds <= 0.3 || g.InUseSeconds > end.Sub(start).Seconds()+0.001 {
		t.Errorf("in use %vs of %v", g.InUseSeconds, end.Sub(start))
	}
	// 1 mJ per ms: the energy is the time in use.
	if g.EnergyKWh == nil || math.Abs(*g.EnergyKWh*3.6e9/1000-g.InUseSeconds) > 0.25 {
		t.Errorf("energy %v kWh for %vs", deref(g.EnergyKWh), g.InUseSeconds)
	}
	if !eqPtr(g.UtilMean, 80) || g.RunMemMaxBytes == nil || *g.RunMemMaxBytes != 1<<30 || g.UnderutilSeconds != 0 {
		t.Errorf("gpu %+v", g)
	}
}

// TestRunGPUFiguresFromSnapshot reads a collector snapshot: the memory of
// the run's processes by GPU, and each GPU's device figures.
func TestRunGPUFiguresFromSnapshot(t *testing.T) {
	dev := []string{"gpu", "UUID", "modelName"}
	proc := []string{"gpu", "UUID", "pid"}
	e := collector.NewEmitter()
	util := collector.NewDesc(famGPUUtil, "", collector.Gauge, dev...)
	fb := collector.NewDesc(famGPUFBUsed, "", collector.Gauge, dev...)
	power := collector.NewDesc(famGPUPower, "", collector.Gauge, dev...)
	energy := collector.NewDesc(famGPUEnergy, "", collector.Counter, dev...)
	mem := collector.NewDesc(famGPUProc, "", collector.Gauge, proc...)
	for _, g := range []string{"0", "1"} {
		e.Emit(util, 50, g, "GPU-"+g, "H200")
		e.Emit(fb, 1024, g, "GPU-"+g, "H200")
		e.Emit(power, 300, g, "GPU-"+g, "H200")
		e.Emit(energy, 1e6, g, "GPU-"+g, "H200")
	}
	e.Emit(mem, 1<<30, "0", "GPU-0", "100")
	e.Emit(mem, 2<<30, "1", "GPU-1", "200") // not the run's
	e.Emit(mem, 1<<30, "0", "GPU-0", "101")
	now := time.Now()
	fams := e.Families()
	slices.SortFunc(fams, func(a, b *collector.Family) int { return strings.Compare(a.Desc.Name, b.Desc.Name) })
	snap := &collector.Snapshot{Time: now, Families: fams} // sorted by name, as a Runner's
	uses, points, models := gpuFiguresFromSnapshot(snap, now, map[int]bool{100: true, 101: true})
	id := gpuID{"0", "GPU-0"}
	if len(uses) != 1 || uses[id] != 2<<30 {
		t.Errorf("uses %v", uses)
	}
	if len(points) != 2 || points[id].Util != 50 || points[id].Mem != 1<<30 || points[id].Power != 300 || points[id].EnergyMillijoule != 1e6 {
		t.Errorf("points %+v", points)
	}
	if models[id] != "H200" {
		t.Errorf("models %v", models)
	}
}

// TestRunGPUQueryHelpers: the history resolution and the GPU matcher.
func TestRunGPUQueryHelpers(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want time.Duration
	}{{time.Second, time.Second}, {30 * time.Minute, time.Second}, {10 * time.Hour, 18 * time.Second}} {
		if got := historyStep(tc.d); got != tc.want {
			t.Errorf("historyStep(%v) = %v, want %v", tc.d, got, tc.want)
		}
	}
	if got := gpuSelector([]gpuID{{"1", "GPU-b"}, {"0", "GPU-a.1"}}); got != `{UUID=~"GPU-a\\.1|GPU-b"}` {
		t.Errorf("selector %s", got)
	}
	if got := gpuSelector([]gpuID{{"card1", ""}}); got != `{gpu=~"card1"}` {
		t.Errorf("selector %s", got)
	}
}

// TestRunReadProcStats reads this process from /proc.
func TestRunReadProcStats(t *testing.T) {
	if _, err := os.Stat(filepath.Join("/proc", "self", "stat")); err != nil {
		t.Skip("no /proc")
	}
	ps, err := readProcStats("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.PID == os.Getpid() {
			if p.PPID != os.Getppid() || p.RSSPages <= 0 {
				t.Errorf("self %+v", p)
			}
			return
		}
	}
	t.Error("this process not found")
}
