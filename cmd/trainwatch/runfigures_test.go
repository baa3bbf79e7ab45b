package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/runs"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// pt is a sampled point: value and max alike.
func pt(s, util, memGiB, watts, energyMJ float64) gpuPoint {
	return gpuPoint{T: at(s), Util: util, UtilMax: util, Mem: memGiB * (1 << 30), MemMax: memGiB * (1 << 30), Power: watts, EnergyMillijoule: energyMJ}
}

func eqPtr(a *float64, b float64) bool {
	if a == nil {
		return math.IsNaN(b)
	}
	return math.Abs(*a-b) < 1e-9*math.Max(1, math.Abs(b))
}

// TestRunGPUAcc: the figures of a GPU count only the points taken while the
// run used it; energy is the counter's increase over the intervals that
// start in use (a restart of the counter counts from zero), unknown when a
// reading is missing; the time under the threshold is the time in use
// times the share of points under it.
func TestRunGPUAcc(t *testing.T) {
	nan := math.NaN()
	type in struct {
		p     gpuPoint
		inUse bool
	}
	for _, tc := range []struct {
		name   string
		points []in
		inUse  time.Duration
		want   reportGPU // InUseSeconds, UnderutilSeconds and the pointers
		// wantNil lists figures that must be unknown.
		energy float64 // kWh, NaN for unknown
	}{
		{
			name: "in use throughout",
			points: []in{
				{pt(0, 90, 10, 500, 0), true},
				{pt(2, 30, 20, 300, 1.8e6), true},
				{pt(4, 100, 30, 700, 3.6e6), true},
				{pt(6, 40, 20, 100, 3.6e9), false}, // the run ended: counts energy up to here
			},
			inUse:  6 * time.Second,
			want:   reportGPU{InUseSeconds: 6, UnderutilSeconds: 2, UtilMean: ptr(220.0 / 3), UtilMax: ptr(100.0), MemMeanBytes: ptr(20.0 * (1 << 30)), MemMaxBytes: ptr(30.0 * (1 << 30)), PowerMeanWatts: ptr(500.0), PowerMaxWatts: ptr(700.0)},
			energy: 1, // 3.6e9 mJ
		},
		{
			name: "points outside the use are not counted",
			points: []in{
				{pt(0, 5, 1, 60, 100), false},
				{pt(1, 80, 40, 400, 200), true},
				{pt(2, 60, 50, 450, 1200), true},
				{pt(3, 0, 1, 60, 2200), false},
				{pt(4, 0, 1, 60, 9e9), false},
			},
			inUse:  2 * time.Second,
			want:   reportGPU{InUseSeconds: 2, UnderutilSeconds: 0, UtilMean: ptr(70.0), UtilMax: ptr(80.0), MemMeanBytes: ptr(45.0 * (1 << 30)), MemMaxBytes: ptr(50.0 * (1 << 30)), PowerMeanWatts: ptr(425.0), PowerMaxWatts: ptr(450.0)},
			energy: 2000 / 3.6e9,
		},
		{
			name: "a counter restart counts from zero",
			points: []in{
				{pt(0, 10, 1, 100, 5000), true},
				{pt(1, 10, 1, 100, 300), true},
				{pt(2, 10, 1, 100, 700), false},
			},
			inUse:  2 * time.Second,
			want:   reportGPU{InUseSeconds: 2, UnderutilSeconds: 2, UtilMean: ptr(10.0), UtilMax: ptr(10.0), MemMeanBytes: ptr(1.0 * (1 << 30)), MemMaxBytes: ptr(1.0 * (1 << 30)), PowerMeanWatts: ptr(100.0), PowerMaxWatts: ptr(100.0)},
			energy: 700 / 3.6e9,
		},
		{
			name: "a missing energy reading makes energy unknown",
			points: []in{
				{pt(0, 50, 1, 100, 0), true},
				{pt(1, 50, 1, 100, nan), true},
				{pt(2, 50, 1, 100, 200), false},
			},
			inUse:  2 * time.Second,
			want:   reportGPU{InUseSeconds: 2, UnderutilSeconds: 0, UtilMean: ptr(50.0), UtilMax: ptr(50.0), MemMeanBytes: ptr(1.0 * (1 << 30)), MemMaxBytes: ptr(1.0 * (1 << 30)), PowerMeanWatts: ptr(100.0), PowerMaxWatts: ptr(100.0)},
			energy: nan,
		},
		{
			name: "no device figures (AMD, or not read)",
			points: []in{
				{nanPoint(at(0)), true},
				{nanPoint(at(1)), true},
			},
			inUse:  2 * time.Second,
			want:   reportGPU{InUseSeconds: 2},
			energy: nan,
		},
		{
			name: "the max of the history beats the value",
			points: []in{
				{gpuPoint{T: at(0), Util: 20, UtilMax: 95, Mem: 1, MemMax: 8, Power: 100, EnergyMillijoule: 0}, true},
				{gpuPoint{T: at(1), Util: 40, UtilMax: 60, Mem: 3, MemMax: 4, Power: 200, EnergyMillijoule: 10}, false},
			},
			inUse:  time.Second,
			want:   reportGPU{InUseSeconds: 1, UnderutilSeconds: 1, UtilMean: ptr(20.0), UtilMax: ptr(95.0), MemMeanBytes: ptr(1.0), MemMaxBytes: ptr(8.0), PowerMeanWatts: ptr(100.0), PowerMaxWatts: ptr(100.0)},
			energy: 10 / 3.6e9,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newGPUAcc(underutilPercent)
			for _, p := range tc.points {
				a.add(p.p, p.inUse)
			}
			g := a.figures(tc.inUse)
			w := tc.want
			if g.InUseSeconds != w.InUseSeconds || math.Abs(g.UnderutilSeconds-w.UnderutilSeconds) > 1e-3 {
				t.Errorf("in use %v under %v, want %v %v", g.InUseSeconds, g.UnderutilSeconds, w.InUseSeconds, w.UnderutilSeconds)
			}
			for _, c := range []struct {
				name string
				got  *float64
				want *float64
			}{
				{"util mean", g.UtilMean, w.UtilMean}, {"util max", g.UtilMax, w.UtilMax},
				{"mem mean", g.MemMeanBytes, w.MemMeanBytes}, {"mem max", g.MemMaxBytes, w.MemMaxBytes},
				{"power mean", g.PowerMeanWatts, w.PowerMeanWatts}, {"power max", g.PowerMaxWatts, w.PowerMaxWatts},
			} {
				want := math.NaN()
				if c.want != nil {
					want = round3(*c.want)
					if c.name == "mem mean" {
						want = math.Round(*c.want)
					}
				}
				if !eqPtr(c.got, want) {
					t.Errorf("%s: %v, want %v", c.name, deref(c.got), want)
				}
			}
			if !eqPtr(g.EnergyKWh, tc.energy) {
				t.Errorf("energy %v kWh, want %v", deref(g.EnergyKWh), tc.energy)
			}
		})
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// TestRunEnergyOver: the energy over the spans a GPU was used, from a
// counter read at other times: interpolated between readings, extrapolated
// a little past the first and last, counter restarts bridged.
func TestRunEnergyOver(t *testing.T) {
	// 1000 mJ a second.
	linear := []energyPoint{{at(0), 0}, {at(10), 10000}, {at(20), 20000}}
	for _, tc := range []struct {
		name   string
		points []energyPoint
		spans  []useSpan
		extra  time.Duration
		want   float64 // mJ; NaN: unknown
	}{
		{"inside one interval", linear, []useSpan{{at(2), at(7)}}, 0, 5000},
		{"across points", linear, []useSpan{{at(5), at(15)}}, 0, 10000},
		{"two spans", linear, []useSpan{{at(1), at(2)}, {at(18), at(20)}}, 0, 3000},
		{"past the end, no extrapolation", linear, []useSpan{{at(15), at(30)}}, 0, 5000},
		{"past the end, extrapolated up to 4s", linear, []useSpan{{at(15), at(30)}}, 4 * time.Second, 9000},
		{"before the start, extrapolated", []energyPoint{{at(10), 10000}, {at(20), 20000}}, []useSpan{{at(8), at(12)}}, 5 * time.Second, 4000},
		{"counter restart", []energyPoint{{at(0), 5000}, {at(1), 100}, {at(2), 1100}}, []useSpan{{at(0), at(2)}}, 0, 1100},
		{"NaN readings skipped", []energyPoint{{at(0), 0}, {at(1), math.NaN()}, {at(2), 2000}}, []useSpan{{at(0), at(2)}}, 0, 2000},
		{"one reading: unknown", []energyPoint{{at(0), 0}}, []useSpan{{at(0), at(2)}}, 0, math.NaN()},
		{"span far outside: unknown", linear, []useSpan{{at(100), at(200)}}, time.Second, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kwh, ok := energyOver(tc.points, tc.spans, tc.extra)
			if math.IsNaN(tc.want) {
				if ok {
					t.Errorf("energy %v kWh, want unknown", kwh)
				}
				return
			}
			if !ok || math.Abs(kwh*3.6e9-tc.want) > 1e-6 {
				t.Errorf("energy %v mJ (ok %v), want %v", kwh*3.6e9, ok, tc.want)
			}
		})
	}
}

// TestRunUseSpans: samples of "the run uses this GPU" become spans from
// the first sample that saw the use to the first that did not; a span
// still open at the end is closed at most maxGap after its last sample.
func TestRunUseSpans(t *testing.T) {
	type s struct {
		t   float64
		use bool
		mem float64
	}
	for _, tc := range []struct {
		name    string
		samples []s
		end     float64
		want    []useSpan
		dur     time.Duration
		maxMem  float64
		in, out []float64
	}{
		{
			name:    "one span, closed by a sample",
			samples: []s{{0, false, 0}, {2, true, 5}, {4, true, 7}, {6, false, 0}, {8, false, 0}},
			end:     9,
			want:    []useSpan{{at(2), at(6)}},
			dur:     4 * time.Second, maxMem: 7,
			in: []float64{2, 3, 5.9}, out: []float64{0, 1.9, 6, 8},
		},
		{
			name:    "two spans, the last open at the end",
			samples: []s{{0, true, 1}, {2, false, 0}, {4, true, 3}, {6, true, 3}},
			end:     7,
			want:    []useSpan{{at(0), at(2)}, {at(4), at(7)}},
			dur:     5 * time.Second, maxMem: 3,
			in: []float64{0, 1, 4, 6.5}, out: []float64{2, 3, 7},
		},
		{
			name:    "an open span ends at most maxGap after its last sample",
			samples: []s{{0, true, 1}},
			end:     100,
			want:    []useSpan{{at(0), at(4)}},
			dur:     4 * time.Second, maxMem: 1,
			in: []float64{0, 3}, out: []float64{4, 50},
		},
		{
			name:    "never used",
			samples: []s{{0, false, 0}, {2, false, 0}},
			end:     3,
			out:     []float64{0, 1, 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u useSpans
			for _, x := range tc.samples {
				u.add(at(x.t), x.use, x.mem)
			}
			u.finish(at(tc.end), 4*time.Second)
			if len(u.spans) != len(tc.want) {
				t.Fatalf("spans %v, want %v", u.spans, tc.want)
			}
			for i := range tc.want {
				if !u.spans[i].From.Equal(tc.want[i].From) || !u.spans[i].To.Equal(tc.want[i].To) {
					t.Errorf("span %d: %v, want %v", i, u.spans[i], tc.want[i])
				}
			}
			if u.duration() != tc.dur || u.maxMem != tc.maxMem {
				t.Errorf("duration %v max memory %v, want %v %v", u.duration(), u.maxMem, tc.dur, tc.maxMem)
			}
			for _, x := range tc.in {
				if !u.contains(at(x)) {
					t.Errorf("%vs not in use", x)
				}
			}
			for _, x := range tc.out {
				if u.contains(at(x)) {
					t.Errorf("%vs in use", x)
				}
			}
		})
	}
}

func entry(step int64, vals map[string]float64) runs.Entry {
	return runs.Entry{Step: step, Epoch: math.NaN(), Values: vals}
}

// TestRunStepAcc: steps per second over the steps made (a step count that
// restarts, as Lightning's per-epoch bar does, keeps counting), or the last
// rate logged; the last samples/s and the total logged.
func TestRunStepAcc(t *testing.T) {
	type e struct {
		t float64
		e runs.Entry
	}
	for _, tc := range []struct {
		name      string
		entries   []e
		withStep  int
		last      int64
		perSecond float64
		samples   float64
		total     int64
	}{
		{"global step", []e{{0, entry(100, nil)}, {10, entry(150, nil)}, {20, entry(200, nil)}}, 3, 200, 5, math.NaN(), 0},
		{"per-epoch count", []e{{0, entry(1, nil)}, {1, entry(4, nil)}, {2, entry(2, nil)}, {3, entry(4, nil)}}, 4, 4, 7.0 / 3, math.NaN(), 0},
		{"one step: the rate logged", []e{{0, entry(5, map[string]float64{"steps_per_second": 3.5, "total_steps": 100})}}, 1, 5, 3.5, math.NaN(), 100},
		{"samples per second, last finite wins", []e{
			{0, entry(-1, map[string]float64{"train_samples_per_second": 40})},
			{1, entry(-1, map[string]float64{"samples_per_second": math.NaN()})},
			{2, entry(-1, map[string]float64{"Samples_Per_Second": 42})},
		}, 0, -1, math.NaN(), 42, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStepAcc()
			for _, x := range tc.entries {
				s.add(x.e, at(x.t))
			}
			if s.withStep != tc.withStep || s.lastStep != tc.last || s.total != tc.total {
				t.Errorf("with step %d last %d total %d, want %d %d %d", s.withStep, s.lastStep, s.total, tc.withStep, tc.last, tc.total)
			}
			if got := s.stepsPerSecond(); !sameFloat(got, tc.perSecond) && math.Abs(got-tc.perSecond) > 1e-9 {
				t.Errorf("steps/s %v, want %v", got, tc.perSecond)
			}
			if !sameFloat(s.samplesPS, tc.samples) {
				t.Errorf("samples/s %v, want %v", s.samplesPS, tc.samples)
			}
		})
	}
}

// TestRunLossAcc: the final loss is the last logged, NaN included; the best
// the lowest finite one, with its step; Hugging Face's closing summary is
// not a step.
func TestRunLossAcc(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name      string
		entries   []runs.Entry
		final     float64
		best      float64 // NaN: none
		bestStep  int64
		finalStep int64
		none      bool
	}{
		{"none", []runs.Entry{entry(1, map[string]float64{"lr": 1})}, 0, 0, 0, 0, true},
		{"decreasing", []runs.Entry{entry(1, map[string]float64{"loss": 2}), entry(2, map[string]float64{"loss": 1})}, 1, 1, 2, 2, false},
		{"NaN first and last", []runs.Entry{entry(1, map[string]float64{"loss": nan}), entry(2, map[string]float64{"train_loss": 0.5}), entry(3, map[string]float64{"loss": nan})}, nan, 0.5, 2, 3, false},
		{"only NaN and inf", []runs.Entry{entry(1, map[string]float64{"loss": nan}), entry(2, map[string]float64{"loss": inf})}, inf, nan, -1, 2, false},
		{"Lightning and TensorBoard keys", []runs.Entry{entry(1, map[string]float64{"train_loss_step": 3}), entry(2, map[string]float64{"Train/Loss": 2, "val_loss": 0.1})}, 2, 2, 2, 2, false},
		{"HF summary skipped", []runs.Entry{entry(10, map[string]float64{"loss": 0.3}), entry(10, map[string]float64{"train_loss": 0.9, "train_runtime": 12})}, 0.3, 0.3, 10, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l lossAcc
			for _, e := range tc.entries {
				l.add(e)
			}
			r := l.report()
			if tc.none {
				if r != nil {
					t.Errorf("loss %+v, want none", r)
				}
				return
			}
			if r == nil {
				t.Fatal("no loss")
			}
			if !sameFloat(float64(r.Final), tc.final) || r.FinalStep == nil || *r.FinalStep != tc.finalStep {
				t.Errorf("final %v at %v, want %v at %d", r.Final, r.FinalStep, tc.final, tc.finalStep)
			}
			switch {
			case math.IsNaN(tc.best):
				if r.Best != nil {
					t.Errorf("best %v, want none", *r.Best)
				}
			case r.Best == nil || float64(*r.Best) != tc.best || r.BestStep == nil || *r.BestStep != tc.bestStep:
				t.Errorf("best %v at %v, want %v at %d", r.Best, r.BestStep, tc.best, tc.bestStep)
			}
		})
	}
}

// TestRunCollapseAlerts: one report alert per firing series, its time the
// points seen times the step, sorted by when first seen.
func TestRunCollapseAlerts(t *testing.T) {
	got := collapseAlerts([]alertSeries{
		{Labels: map[string]string{"__name__": "ALERTS", "alertname": "GPUHot", "alertstate": "firing", "severity": "warning", "gpu": "3"},
			Times: []time.Time{at(20), at(10), at(15)}},
		{Labels: map[string]string{"alertname": "LossRising", "alertstate": "firing", "run": "r1"}, Times: []time.Time{at(5)}},
		{Labels: map[string]string{"alertname": "Empty"}},
	}, 5*time.Second)
	if len(got) != 2 {
		t.Fatalf("%d alerts: %+v", len(got), got)
	}
	if a := got[0]; a.Name != "LossRising" || a.Seconds != 5 || a.Labels["run"] != "r1" || len(a.Labels) != 1 {
		t.Errorf("first %+v", a)
	}
	a := got[1]
	if a.Name != "GPUHot" || a.Severity != "warning" || a.Seconds != 15 || !a.FirstSeen.Equal(at(10)) || !a.LastSeen.Equal(at(20)) || len(a.Labels) != 1 || a.Labels["gpu"] != "3" {
		t.Errorf("second %+v", a)
	}
	if line := a.line(); !strings.HasPrefix(line, `GPUHot{gpu="3"} for 15s from `) || !strings.HasSuffix(line, "(warning)") {
		t.Errorf("line %q", line)
	}
}

// TestRunCPUFigures: the CPU time is the larger of the kernel's count and
// the samples'; the mean is over the run's duration, in % of one core.
func TestRunCPUFigures(t *testing.T) {
	for _, tc := range []struct {
		rusage, sampled float64
		d               time.Duration
		secs            float64
		mean            float64
	}{
		{30, 20, time.Minute, 30, 50},
		{10, 45, 30 * time.Second, 45, 150},
		{1, 0, 0, 1, math.NaN()},
	} {
		secs, mean := cpuFigures(tc.rusage, tc.sampled, tc.d)
		if secs != tc.secs || !eqPtr(mean, tc.mean) {
			t.Errorf("cpuFigures(%v, %v, %v) = %v, %v; want %v, %v", tc.rusage, tc.sampled, tc.d, secs, deref(mean), tc.secs, tc.mean)
		}
	}
}

// TestRunTotals: GPU-hours add up; the energy is unknown when any GPU's is.
func TestRunTotals(t *testing.T) {
	gs := []reportGPU{{InUseSeconds: 3600, EnergyKWh: ptr(0.5)}, {InUseSeconds: 1800, EnergyKWh: ptr(0.25)}}
	if h := gpuHours(gs); h != 1.5 {
		t.Errorf("gpu hours %v", h)
	}
	if e := totalEnergy(gs); e == nil || *e != 0.75 {
		t.Errorf("energy %v", deref(e))
	}
	gs[1].EnergyKWh = nil
	if e := totalEnergy(gs); e != nil {
		t.Errorf("energy %v, want unknown", *e)
	}
	if e := totalEnergy(nil); e != nil {
		t.Errorf("energy of no GPU %v, want unknown", *e)
	}
}

// TestRunReportText: the report as printed.
func TestRunReportText(t *testing.T) {
	rep := &runReport{
		Run: "train-20261128-120000-abcd", Status: "failed", ExitCode: 130, Signal: "SIGINT", DurationSeconds: 3723.5,
		Steps: reportSteps{Entries: 120, WithStep: 100, Last: ptr(int64(5000)), Total: ptr(int64(10000)),
			StepsPerSecond: ptr(1.34), SamplesPerSecond: ptr(171.5), Dropped: 2},
		Loss:        &reportLoss{Key: "loss", Final: runs.Float(0.25), Best: ptr(runs.Float(0.2)), BestStep: ptr(int64(4800))},
		MetricsFile: &reportFile{Path: "/w/lightning_logs/version_3/metrics.csv", Format: "lightning-csv"},
		CPU:         reportCPU{Seconds: 7447, MeanPercent: ptr(200.0), PeakRSSBytes: ptr(int64(12 << 30)), MaxProcesses: 9},
		Alerts: &[]reportAlert{{Name: "GPUHot", Labels: map[string]string{"gpu": "1"}, Severity: "warning", Seconds: 300,
			FirstSeen: time.Date(2026, 11, 28, 12, 30, 0, 0, time.Local)}},
		Notes: []string{"a note"},
	}
	rep.setGPUs([]reportGPU{
		{GPU: "0", UUID: "GPU-a", Model: "NVIDIA H200", InUseSeconds: 3600, UtilMean: ptr(87.0), UtilMax: ptr(100.0),
			MemMeanBytes: ptr(40.0 * (1 << 30)), MemMaxBytes: ptr(60.0 * (1 << 30)), RunMemMaxBytes: ptr(59.0 * (1 << 30)),
			PowerMeanWatts: ptr(600.0), EnergyKWh: ptr(0.6), UnderutilSeconds: 192},
		{GPU: "1", UUID: "GPU-b", InUseSeconds: 1800, UtilMean: ptr(20.0), UnderutilSeconds: 1800},
	})
	var b strings.Builder
	rep.writeText(&b)
	want := `trainwatch: run train-20261128-120000-abcd failed (SIGINT) in 1h2m3.5s, exit code 130
trainwatch:   steps: 100 seen, last step 5000 of 10000, 1.34 steps/s, 171.5 samples/s
trainwatch:   loss: last 0.25, best 0.2 (step 4800)
trainwatch:   metrics file: /w/lightning_logs/version_3/metrics.csv (lightning-csv)
trainwatch:   GPUs: 2 used, 1.5 GPU-hours, energy unknown (no NVML energy counter); under 50% utilisation for 33m12s in all
trainwatch:     gpu 0 NVIDIA H200: 1h00m in use, util mean 87% peak 100%, memory mean 40.0 GiB peak 60.0 GiB, run's processes peak 59.0 GiB, power mean 600 W, 0.6 kWh, under 50% for 3m12s
trainwatch:     gpu 1: 30m00s in use, util mean 20%, energy unknown, under 50% for 30m00s
trainwatch:   CPU: mean 200% of a core (2h04m CPU time), peak RSS 12.0 GiB, up to 9 processes
trainwatch:   alerts: 1 fired:
trainwatch:     GPUHot{gpu="1"} for 5m00s from 12:30:00 (warning)
trainwatch:   2 metric lines dropped (agent too slow)
trainwatch:   a note
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestRunProgressOnly: with a metrics file read, an output line keeps its
// step, epoch and progress values only.
func TestRunProgressOnly(t *testing.T) {
	e, ok := progressOnly(runs.Entry{Step: 5, Epoch: math.NaN(), Values: map[string]float64{"loss": 1, "total_steps": 10, "steps_per_second": 2}})
	if !ok || e.Step != 5 || len(e.Values) != 2 || e.Values["total_steps"] != 10 {
		t.Errorf("%+v %v", e, ok)
	}
	if _, ok := progressOnly(runs.Entry{Step: -1, Epoch: math.NaN(), Values: map[string]float64{"loss": 1}}); ok {
		t.Error("a line with only a loss kept")
	}
	if e, ok := progressOnly(runs.Entry{Step: -1, Epoch: 2, Values: map[string]float64{"loss": 1}}); !ok || e.Epoch != 2 {
		t.Error("epoch lost")
	}
}
