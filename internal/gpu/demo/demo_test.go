package demo

import (
	"math/rand"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
)

const sweepLen = 2 * time.Hour

func t0() time.Time { return time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) }

// sweep reads every GPU at every whole second of [start, start+d], in order.
func sweep(d *Telemetry, dur time.Duration) [NumGPUs][]mockgpu.State {
	var out [NumGPUs][]mockgpu.State
	n := int(dur / time.Second)
	for k := 0; k <= n; k++ {
		now := d.Start().Add(time.Duration(k) * time.Second)
		for i := range out {
			out[i] = append(out[i], d.State(i, now))
		}
	}
	return out
}

type bounds struct{ lo, hi float64 }

func (b bounds) has(x float64) bool { return x >= b.lo && x <= b.hi }

func TestRanges(t *testing.T) {
	type roleBounds struct {
		util, memUtil, powerW, temp, clockSM bounds
		memUsedGiB                           bounds
		pstate                               int
		procs                                int
	}
	table := map[Role]roleBounds{
		RoleTraining: {
			util: bounds{26, 99}, memUtil: bounds{5, 50}, powerW: bounds{320, 700},
			temp: bounds{55, 78}, clockSM: bounds{1755, 1980}, memUsedGiB: bounds{102, 126}, procs: 1,
		},
		RoleInference: {
			util: bounds{0, 100}, memUtil: bounds{0, 70}, powerW: bounds{90, 450},
			temp: bounds{30, 65}, clockSM: bounds{345, 1980}, memUsedGiB: bounds{39.5, 41}, procs: 1,
		},
		RoleIdle: {
			util: bounds{0, 2}, memUtil: bounds{0, 0}, powerW: bounds{60, 80},
			temp: bounds{28, 40}, clockSM: bounds{300, 400}, memUsedGiB: bounds{0.5, 0.5}, pstate: 8,
		},
	}
	for _, seed := range []int64{1, 2, 42} {
		dur := sweepLen
		if seed != 1 {
			dur = 20 * time.Minute
		}
		d := New(seed, t0())
		states := sweep(d, dur)
		for i := range NumGPUs {
			rb := table[RoleOf(i)]
			for k, s := range states[i] {
				fail := func(what string, got any) {
					t.Helper()
					t.Fatalf("seed %d GPU %d (%s) t=%ds: %s = %v", seed, i, RoleOf(i), k, what, got)
				}
				switch {
				case s.Lost || s.Hang != 0:
					fail("lost/hang", s.Lost)
				case !rb.util.has(float64(s.GPUUtil)):
					fail("util", s.GPUUtil)
				case !rb.memUtil.has(float64(s.MemUtil)):
					fail("memUtil", s.MemUtil)
				case !rb.powerW.has(float64(s.PowerMilliwatts) / 1000):
					fail("power", s.PowerMilliwatts)
				case s.PowerMilliwatts > s.PowerLimitMilliwatts || s.PowerLimitMilliwatts != 700_000:
					fail("power over limit", s.PowerMilliwatts)
				case !rb.temp.has(float64(s.TempGPU)):
					fail("temp", s.TempGPU)
				case s.TempMemory == nil || *s.TempMemory < s.TempGPU+3 || *s.TempMemory > s.TempGPU+6:
					fail("HBM temp", s.TempMemory)
				case s.TempGPU >= s.TempGPUMax || s.TempGPUMax >= s.TempSlowdown || s.TempSlowdown >= s.TempShutdown:
					fail("temp thresholds", s)
				case !rb.clockSM.has(float64(s.ClockSM)) || s.ClockSM > s.MaxClockSM || s.ClockGraphics > s.MaxClockGraphics:
					fail("SM clock", s.ClockSM)
				case s.ClockMem != 2619 || s.MaxClockMem != 2619 || s.ClockVideo > s.MaxClockVideo:
					fail("mem/video clock", s.ClockMem)
				case s.MemTotalBytes != 144384<<20:
					fail("total", s.MemTotalBytes)
				case s.MemUsedBytes+s.MemReservedBytes > s.MemTotalBytes:
					fail("used+reserved", s.MemUsedBytes)
				case !rb.memUsedGiB.has(float64(s.MemUsedBytes) / (1 << 30)):
					fail("used GiB", float64(s.MemUsedBytes)/(1<<30))
				case s.PState != rb.pstate:
					fail("pstate", s.PState)
				case len(s.Processes) != rb.procs:
					fail("processes", s.Processes)
				case s.FanPercent != nil:
					fail("fan", *s.FanPercent)
				case s.SupportedClockEventReasons != 0x7FF || s.ClockEventReasons&^s.SupportedClockEventReasons != 0:
					fail("clock event reasons", s.ClockEventReasons)
				case !s.ECCEnabled || s.ECCUncorrectedVolatile != 0 || s.ECCUncorrectedAggregate != 0:
					fail("ECC", s)
				case s.ECCCorrectedAggregate < s.ECCCorrectedVolatile:
					fail("ECC aggregate < volatile", s)
				case i != ECCGPU && s.ECCCorrectedAggregate != 0:
					fail("ECC on a healthy GPU", s.ECCCorrectedAggregate)
				case s.RetiredPagesSBE+s.RetiredPagesDBE+s.RemappedCorrectable+s.RemappedUncorrectable != 0:
					fail("retired/remapped", s)
				case s.PCIeGen < 1 || s.PCIeGen > s.PCIeMaxGen || s.PCIeMaxGen != 5 || s.PCIeWidth != 16:
					fail("PCIe link", s.PCIeGen)
				case s.PCIeRxKBps > 64_000_000 || s.PCIeTxKBps > 64_000_000:
					fail("PCIe rate", s.PCIeRxKBps)
				case len(s.NVLinks) != NumNVLinks:
					fail("NVLinks", len(s.NVLinks))
				case !s.GPMSupported:
					fail("GPM", false)
				}
				for _, g := range []float64{s.SMActive, s.SMOccupancy, s.TensorActive, s.DRAMActive,
					s.GraphicsActive, s.FP64Active, s.FP32Active, s.FP16Active} {
					if g < 0 || g > 100 {
						fail("GPM value", g)
					}
				}
				for _, l := range s.NVLinks {
					if !l.Active || l.Replay+l.Recovery+l.CRCFlit+l.CRCData != 0 {
						fail("NVLink", l)
					}
				}
				var procMem uint64
				for _, p := range s.Processes {
					procMem += p.UsedMemoryBytes
					if p.PID == 0 || p.SMUtil != s.GPUUtil || p.MemUtil != s.MemUtil || p.SMUtil > 100 {
						fail("process", p)
					}
				}
				if procMem > s.MemUsedBytes {
					fail("process memory > used", procMem)
				}
				if RoleOf(i) == RoleTraining && k >= 3600 && s.MemUsedBytes < 110<<30 {
					fail("training memory after an hour", s.MemUsedBytes)
				}
			}
		}
	}
}

func TestEnergyIntegratesPower(t *testing.T) {
	d := New(7, t0())
	states := sweep(d, sweepLen)
	for i, ss := range states {
		var sum uint64
		for k := 1; k < len(ss); k++ {
			de := ss[k].EnergyMillijoules - ss[k-1].EnergyMillijoules
			if ss[k].EnergyMillijoules < ss[k-1].EnergyMillijoules || de != uint64(ss[k-1].PowerMilliwatts) {
				t.Fatalf("GPU %d t=%d: energy step %d mJ, power over the second %d mW", i, k, de, ss[k-1].PowerMilliwatts)
			}
			sum += uint64(ss[k-1].PowerMilliwatts)
		}
		if got := ss[len(ss)-1].EnergyMillijoules - ss[0].EnergyMillijoules; got != sum {
			t.Errorf("GPU %d: energy %d mJ over 2 h, ∫power dt = %d mJ", i, got, sum)
		}
	}

	// Within a second, energy grows with the reported power.
	d = New(7, t0())
	prev := d.State(0, t0())
	for ms := 250; ms <= 60_000; ms += 250 {
		s := d.State(0, t0().Add(time.Duration(ms)*time.Millisecond))
		want := float64(prev.PowerMilliwatts) * 0.25
		got := float64(s.EnergyMillijoules - prev.EnergyMillijoules)
		if ms%1000 == 0 {
			want = float64(d.tick(0, int64(ms/1000-1)).powerMW) * 0.25
		}
		if got < want-1 || got > want+1 {
			t.Fatalf("t=%dms: energy grew %.0f mJ in 250 ms, want %.0f", ms, got, want)
		}
		prev = s
	}
}

// counters are the cumulative values a State carries.
func counters(s mockgpu.State) []uint64 {
	c := []uint64{s.EnergyMillijoules, s.PowerViolationNs, s.ECCCorrectedVolatile, s.ECCCorrectedAggregate}
	for _, l := range s.NVLinks {
		c = append(c, l.TxBytes, l.RxBytes)
	}
	return c
}

func TestCountersNeverGoBack(t *testing.T) {
	d := New(3, t0())
	rng := rand.New(rand.NewSource(1))
	var last [NumGPUs][]uint64
	now := t0()
	for n := 0; n < 20_000; n++ {
		// Mostly forwards, sometimes slightly or far backwards.
		step := time.Duration(rng.Intn(1500)-300) * time.Millisecond
		if n%997 == 996 {
			step = -3 * time.Minute
		}
		now = now.Add(step)
		i := rng.Intn(NumGPUs)
		c := counters(d.State(i, now))
		for j := range last[i] {
			if c[j] < last[i][j] {
				t.Fatalf("call %d GPU %d: counter %d went back from %d to %d", n, i, j, last[i][j], c[j])
			}
		}
		last[i] = c
	}
	if now.Before(t0().Add(time.Hour)) {
		t.Fatalf("the walk ended at %v, too early to test much", now.Sub(t0()))
	}
}

func TestNVLinkCountersGrowWithUtil(t *testing.T) {
	d := New(5, t0())
	states := sweep(d, 20*time.Minute)
	for i := range NumGPUs {
		var busy, eval []float64
		for k := 1; k < len(states[i]); k++ {
			a, b := states[i][k-1], states[i][k]
			for l := range b.NVLinks {
				if b.NVLinks[l].TxBytes < a.NVLinks[l].TxBytes || b.NVLinks[l].RxBytes < a.NVLinks[l].RxBytes {
					t.Fatalf("GPU %d link %d t=%d: NVLink bytes went back", i, l, k)
				}
			}
			rate := float64(b.NVLinks[0].TxBytes - a.NVLinks[0].TxBytes)
			switch {
			case RoleOf(i) != RoleTraining && rate != 0:
				t.Fatalf("GPU %d (%s): NVLink traffic %v B/s", i, RoleOf(i), rate)
			case a.GPUUtil >= 88:
				busy = append(busy, rate)
			case a.GPUUtil <= 35:
				eval = append(eval, rate)
			}
		}
		if RoleOf(i) != RoleTraining {
			continue
		}
		if len(busy) == 0 || len(eval) == 0 {
			t.Fatalf("GPU %d: no busy (%d) or eval (%d) seconds", i, len(busy), len(eval))
		}
		if mb, me := mean(busy), mean(eval); mb < 5e9 || mb < 20*me {
			t.Errorf("GPU %d: NVLink link 0 %.3g B/s when busy, %.3g B/s in eval", i, mb, me)
		}
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func TestCheckpointPathsAgree(t *testing.T) {
	d := New(11, t0())
	const gpu = 2
	// Reference: step tick by tick from the start.
	ref := make([]acc, 0, 11*hourTicks)
	a := d.gpus[gpu].acc0
	for k := int64(0); k <= 10*hourTicks; k++ {
		ref = append(ref, a)
		a = a.step(d.tick(gpu, k))
	}
	s := &d.series[gpu]
	s.mu.Lock()
	defer s.mu.Unlock()
	// A far jump first trims the minute checkpoints, so earlier ticks come
	// from the hourly ones; then the minute ones, then the cache.
	for _, k := range []int64{10 * hourTicks, hourTicks + 17, 3*hourTicks - 1, 9*hourTicks + 5, 9*hourTicks + 6, 9*hourTicks + 70, 0, 59, 60} {
		if got := s.accAt(d, gpu, k); got != ref[k] {
			t.Fatalf("tick %d: %+v, want %+v", k, got, ref[k])
		}
	}
	if s.minBase == 0 || len(s.minute) > 2*keepMinutes || len(s.hourly) != 11 {
		t.Errorf("checkpoints: minBase %d, %d minute, %d hourly", s.minBase, len(s.minute), len(s.hourly))
	}
}

func TestEventsDeliveredOnce(t *testing.T) {
	end := t0().Add(sweepLen)
	collect := func(d *Telemetry, times []time.Time) []mockgpu.Event {
		var all []mockgpu.Event
		for _, now := range times {
			all = append(all, d.Events(now)...)
		}
		return all
	}
	var everySecond, randomSteps []time.Time
	for k := 0; k <= int(sweepLen/time.Second); k++ {
		everySecond = append(everySecond, t0().Add(time.Duration(k)*time.Second))
	}
	rng := rand.New(rand.NewSource(2))
	for now := t0().Add(-time.Minute); now.Before(end); now = now.Add(time.Duration(rng.Intn(900)-60) * time.Second) {
		randomSteps = append(randomSteps, now)
	}
	randomSteps = append(randomSteps, end)

	d := New(9, t0())
	want := collect(d, everySecond)
	if again := d.Events(end); again != nil {
		t.Errorf("events delivered twice: %v", again)
	}
	if early := d.Events(end.Add(-time.Hour)); early != nil {
		t.Errorf("events for an earlier time: %v", early)
	}
	if n := len(want); n != int(sweepLen/XIDWindow) {
		t.Errorf("%d XIDs in 2 h, want one per %v", n, XIDWindow)
	}
	for n, e := range want {
		at, gpu, xid := d.XIDTime(int64(n))
		if RoleOf(e.Index) != RoleTraining || (e.XID != 13 && e.XID != 31) || e.Index != gpu || e.XID != xid || at.After(end) {
			t.Errorf("event %d: %+v, predicted GPU %d XID %d at %v", n, e, gpu, xid, at)
		}
	}
	if got := collect(New(9, t0()), []time.Time{end}); !reflect.DeepEqual(got, want) {
		t.Errorf("one call at the end: %v, want %v", got, want)
	}
	if got := collect(New(9, t0()), randomSteps); !reflect.DeepEqual(got, want) {
		t.Errorf("random, partly backwards calls: %v, want %v", got, want)
	}
	if got := collect(New(10, t0()), []time.Time{end}); reflect.DeepEqual(got, want) {
		t.Errorf("seeds 9 and 10 raise the same XIDs: %v", got)
	}
}

func TestDeterministic(t *testing.T) {
	a := sweep(New(42, t0()), 30*time.Minute)
	// Same seed, queried sparsely and GPU by GPU.
	b := New(42, t0())
	for i := NumGPUs - 1; i >= 0; i-- {
		for k := 0; k < len(a[i]); k += 97 {
			if got := b.State(i, t0().Add(time.Duration(k)*time.Second)); !reflect.DeepEqual(got, a[i][k]) {
				t.Fatalf("GPU %d t=%d: sparse query differs:\n%+v\n%+v", i, k, got, a[i][k])
			}
		}
	}
	c := sweep(New(43, t0()), 30*time.Minute)
	if reflect.DeepEqual(a, c) {
		t.Error("seeds 42 and 43 give the same readings")
	}
	// Before start reads as at start; an index out of range is a lost GPU.
	if got := New(42, t0()).State(3, t0().Add(-time.Hour)); !reflect.DeepEqual(got, a[3][0]) {
		t.Error("a time before start does not read as start")
	}
	if !b.State(NumGPUs, t0()).Lost || !b.State(-1, t0()).Lost {
		t.Error("out-of-range index is not lost")
	}
}

func TestIdleGPULooksIdle(t *testing.T) {
	states := sweep(New(1, t0()), 30*time.Minute)
	var utilSum uint32
	for k, s := range states[IdleGPU] {
		if s.GPUUtil > 2 || s.PState != 8 || s.ClockEventReasons != ReasonGpuIdle || s.PowerMilliwatts > 80_000 ||
			s.MemUsedBytes != 512<<20 || len(s.Processes) != 0 || s.ClockSM > 400 || s.PCIeRxKBps > 100 ||
			s.SMActive > 2 || s.TensorActive != 0 {
			t.Fatalf("t=%d: idle GPU does not look idle: %+v", k, s)
		}
		utilSum += s.GPUUtil
	}
	if utilSum == 0 {
		t.Error("idle GPU utilisation is always exactly 0; it should flicker 0–2 %")
	}
}

func TestThrottleWindows(t *testing.T) {
	d := New(1, t0())
	states := sweep(d, sweepLen)
	type window struct {
		gpu, start, n int
	}
	var windows []window
	for i := range NumGPUs {
		open := -1
		for k, s := range states[i] {
			capped := s.ClockEventReasons&ReasonSwPowerCap != 0
			if capped {
				if RoleOf(i) != RoleTraining {
					t.Fatalf("GPU %d (%s) power-capped at t=%d", i, RoleOf(i), k)
				}
				if s.PowerMilliwatts < 699_000 || s.ClockSM > 1845 || d.inEval(int64(k)) {
					t.Fatalf("GPU %d t=%d: capped at %d mW, SM %d MHz, eval %v", i, k, s.PowerMilliwatts, s.ClockSM, d.inEval(int64(k)))
				}
			} else if s.PowerMilliwatts > 690_000 {
				t.Fatalf("GPU %d t=%d: %d mW without the cap", i, k, s.PowerMilliwatts)
			}
			if k > 0 {
				dv := s.PowerViolationNs - states[i][k-1].PowerViolationNs
				wasCapped := states[i][k-1].ClockEventReasons&ReasonSwPowerCap != 0
				if (wasCapped && dv != 1e9) || (!wasCapped && dv != 0) {
					t.Fatalf("GPU %d t=%d: power violation grew %d ns", i, k, dv)
				}
			}
			switch {
			case capped && open < 0:
				open = k
			case !capped && open >= 0:
				windows = append(windows, window{i, open, k - open})
				open = -1
			}
		}
	}
	slices.SortFunc(windows, func(a, b window) int { return a.start - b.start })
	want := int(sweepLen / ThrottleWindow)
	if len(windows) < want-2 || len(windows) > want+1 {
		t.Fatalf("%d throttle windows in 2 h, want about %d: %v", len(windows), want, windows)
	}
	gpus := map[int]bool{}
	for _, w := range windows {
		gpus[w.gpu] = true
		if w.n != 10 && w.n != 20 { // two back-to-back episodes on one GPU merge
			t.Errorf("throttle window %+v: want 10 s", w)
		}
	}
	if len(gpus) < 4 {
		t.Errorf("throttling hits only GPUs %v", gpus)
	}
}

func TestTrainingRhythm(t *testing.T) {
	d := New(1, t0())
	states := sweep(d, sweepLen)
	evalSeconds, dips, busy := 0, 0, 0
	for k := range states[0] {
		var sum float64
		for i := range TrainingGPUs {
			sum += float64(states[i][k].GPUUtil)
		}
		avg := sum / TrainingGPUs
		switch {
		case d.inEval(int64(k)):
			evalSeconds++
			if avg > 35 {
				t.Fatalf("t=%d: eval phase with util %.0f", k, avg)
			}
		case avg < 80:
			dips++
		default:
			busy++
		}
	}
	if want := int(sweepLen/EvalPeriod) * 20; evalSeconds < want-20 || evalSeconds > want+20 {
		t.Errorf("%d s of evaluation in 2 h, want about %d", evalSeconds, want)
	}
	if frac := float64(dips) / float64(dips+busy); frac < 0.15 || frac > 0.4 {
		t.Errorf("data-loading dips in %.0f%% of training seconds", 100*frac)
	}
	// Temperature lags power: it never jumps, though power does.
	for i := range NumGPUs {
		for k := 1; k < len(states[i]); k++ {
			if dt := int(states[i][k].TempGPU) - int(states[i][k-1].TempGPU); dt > 1 || dt < -1 {
				t.Fatalf("GPU %d t=%d: temperature jumped %d °C", i, k, dt)
			}
		}
	}
	// ...but it does cool during an evaluation.
	k0 := int(d.evalPhase)
	if a, b := states[0][k0].TempGPU, states[0][k0+int(evalLength)].TempGPU; b+3 > a {
		t.Errorf("GPU 0 did not cool during evaluation: %d °C → %d °C", a, b)
	}
	// Memory grows, then is flat.
	for i := range TrainingGPUs {
		ss := states[i]
		for k := 1; k < len(ss); k++ {
			if ss[k].MemUsedBytes < ss[k-1].MemUsedBytes {
				t.Fatalf("GPU %d t=%d: training memory shrank", i, k)
			}
		}
		first, hour, last := ss[0].MemUsedBytes, ss[3600].MemUsedBytes, ss[len(ss)-1].MemUsedBytes
		if hour-first < 6<<30 || last-hour > 64<<20 {
			t.Errorf("GPU %d memory %d → %d → %d MiB: want growth, then flat", i, first>>20, hour>>20, last>>20)
		}
	}
	// GPU 5 accrues correctable ECC errors; the others never do.
	if first, last := states[ECCGPU][0].ECCCorrectedVolatile, states[ECCGPU][len(states[ECCGPU])-1].ECCCorrectedVolatile; last-first < 2 || last-first > 25 {
		t.Errorf("GPU %d: %d correctable ECC errors in 2 h", ECCGPU, last-first)
	}
}

func TestConcurrentUse(t *testing.T) {
	d := New(4, t0())
	ref := New(4, t0())
	end := t0().Add(40 * time.Minute)
	want := ref.Events(end)
	var (
		mu  sync.Mutex
		got []mockgpu.Event
		wg  sync.WaitGroup
	)
	for g := range 2 * NumGPUs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			var last uint64
			for n := 0; n < 6000; n++ {
				// Clock readings that race slightly out of order.
				now := t0().Add(time.Duration(n)*400*time.Millisecond + time.Duration(rng.Intn(900))*time.Millisecond)
				s := d.State(g%NumGPUs, now)
				if s.EnergyMillijoules < last {
					t.Errorf("GPU %d: energy went back", g%NumGPUs)
					return
				}
				last = s.EnergyMillijoules
				ev := d.Events(now)
				mu.Lock()
				got = append(got, ev...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got = append(got, d.Events(end)...)
	if len(got) != len(want) {
		t.Fatalf("concurrent callers got %d events, want %d: %v vs %v", len(got), len(want), got, want)
	}
	key := func(e mockgpu.Event) uint64 { return uint64(e.Index)<<32 | e.XID }
	gk, wk := make([]uint64, 0, len(got)), make([]uint64, 0, len(want))
	for n := range got {
		gk, wk = append(gk, key(got[n])), append(wk, key(want[n]))
	}
	slices.Sort(gk)
	slices.Sort(wk)
	if !slices.Equal(gk, wk) {
		t.Errorf("concurrent callers got %v, want %v", got, want)
	}
}

func TestProcesses(t *testing.T) {
	d := New(1, t0())
	procs := d.Processes()
	if len(procs) != TrainingGPUs+1 {
		t.Fatalf("%d processes", len(procs))
	}
	pids := map[uint32]bool{}
	for _, p := range procs {
		s := d.State(p.GPU, t0())
		if len(s.Processes) != 1 || s.Processes[0].PID != p.PID || pids[p.PID] || p.Cmdline == "" {
			t.Errorf("process %+v vs GPU state %+v", p, s.Processes)
		}
		pids[p.PID] = true
		if p.Role == RoleTraining && p.ParentPID != d.LauncherPID() {
			t.Errorf("rank %d's parent is %d, launcher %d", p.Rank, p.ParentPID, d.LauncherPID())
		}
	}
}

func BenchmarkState(b *testing.B) {
	d := New(1, t0())
	now := t0()
	for b.Loop() {
		now = now.Add(100 * time.Millisecond)
		for i := range NumGPUs {
			_ = d.State(i, now)
		}
	}
}
