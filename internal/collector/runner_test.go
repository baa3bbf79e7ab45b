package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCollector emits one gauge whose value is its call count, and can be
// told to fail, hang or panic.
type fakeCollector struct {
	name  string
	desc  *Desc
	calls atomic.Int64
	// mode is read each call: "", "fail", "hang", "panic".
	mode    atomic.Value
	release chan struct{}
}

func newFake(name string) *fakeCollector {
	f := &fakeCollector{name: name, desc: NewDesc("fake_"+name, "Fake.", Gauge), release: make(chan struct{})}
	f.mode.Store("")
	return f
}

func (f *fakeCollector) Name() string { return f.name }

func (f *fakeCollector) Collect(ctx context.Context, e *Emitter) error {
	n := f.calls.Add(1)
	switch f.mode.Load().(string) {
	case "fail":
		return errors.New("read /proc/fake: permission denied")
	case "hang":
		<-f.release // ignores ctx, like a stuck statfs
	case "panic":
		panic("boom")
	}
	e.Emit(f.desc, float64(n))
	return nil
}

func value(t *testing.T, s *Snapshot, name string, labels ...string) (float64, bool) {
	t.Helper()
	f := s.Family(name)
	if f == nil {
		return 0, false
	}
	for _, smp := range f.Samples {
		if strings.Join(smp.LabelValues, ",") == strings.Join(labels, ",") {
			return smp.Value, true
		}
	}
	return 0, false
}

func status(s *Snapshot, name string) CollectorStatus {
	for _, st := range s.Collectors {
		if st.Name == name {
			return st
		}
	}
	return CollectorStatus{}
}

func TestRunnerIsolatesFailures(t *testing.T) {
	tests := []struct {
		mode        string
		wantErrPart string
	}{
		{mode: "fail", wantErrPart: "permission denied"},
		{mode: "hang", wantErrPart: "deadline of 100ms exceeded"},
		{mode: "panic", wantErrPart: "panic: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			good, bad := newFake("good"), newFake("bad")
			defer close(bad.release)
			var logBuf bytes.Buffer
			r, err := NewRunner(RunnerOptions{Timeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}, good, bad)
			if err != nil {
				t.Fatal(err)
			}
			s1 := r.Tick(context.Background())
			if v, ok := value(t, s1, "fake_bad"); !ok || v != 1 {
				t.Fatalf("first tick: fake_bad = %v, %v; want 1", v, ok)
			}
			bad.mode.Store(tt.mode)
			start := time.Now()
			s2 := r.Tick(context.Background())
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("tick took %s; a bad collector must not block it", el)
			}
			// The good collector is fresh, the bad one serves its last value.
			if v, _ := value(t, s2, "fake_good"); v != 2 {
				t.Errorf("fake_good = %v, want 2 (fresh)", v)
			}
			if v, ok := value(t, s2, "fake_bad"); !ok || v != 1 {
				t.Errorf("fake_bad = %v, %v; want last good value 1", v, ok)
			}
			st := status(s2, "bad")
			if st.Success || !st.Stale || !strings.Contains(st.Error, tt.wantErrPart) {
				t.Errorf("status = %+v, want failure containing %q", st, tt.wantErrPart)
			}
			if v, _ := value(t, s2, "trainwatch_collector_success", "bad"); v != 0 {
				t.Errorf("trainwatch_collector_success{bad} = %v, want 0", v)
			}
			if v, _ := value(t, s2, "trainwatch_collector_success", "good"); v != 1 {
				t.Errorf("trainwatch_collector_success{good} = %v, want 1", v)
			}
			if v, _ := value(t, s2, "node_scrape_collector_success", "good"); v != 1 {
				t.Errorf("node_scrape_collector_success{good} = %v, want 1", v)
			}
			if !strings.Contains(logBuf.String(), "collector failed") || !strings.Contains(logBuf.String(), "collector=bad") {
				t.Errorf("log does not report the failure: %q", logBuf.String())
			}
			// A third failing tick does not log again.
			n := strings.Count(logBuf.String(), "collector failed")
			r.Tick(context.Background())
			if tt.mode != "hang" && strings.Count(logBuf.String(), "collector failed") != n {
				t.Errorf("a repeated identical failure was logged again: %q", logBuf.String())
			}
		})
	}
}

func TestRunnerHungCollectorIsNotRestarted(t *testing.T) {
	c := newFake("stuck")
	r, err := NewRunner(RunnerOptions{Timeout: 50 * time.Millisecond}, c)
	if err != nil {
		t.Fatal(err)
	}
	c.mode.Store("hang")
	for i := 0; i < 3; i++ {
		r.Tick(context.Background())
	}
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("hung collector called %d times; want 1 (no pile-up of goroutines)", n)
	}
	s := r.Tick(context.Background())
	if st := status(s, "stuck"); !strings.Contains(st.Error, "still running since") {
		t.Fatalf("status = %+v, want 'still running'", st)
	}
	// When it returns, its values become the last good ones.
	c.mode.Store("")
	close(c.release)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		s = r.Tick(context.Background())
		if status(s, "stuck").Success {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("collector never recovered: %+v", status(s, "stuck"))
}

func TestRunnerDropsValuesOlderThanMaxStale(t *testing.T) {
	c := newFake("old")
	now := time.Unix(1000, 0)
	r, err := NewRunner(RunnerOptions{Timeout: time.Second, MaxStale: time.Minute, Now: func() time.Time { return now }}, c)
	if err != nil {
		t.Fatal(err)
	}
	r.Tick(context.Background())
	c.mode.Store("fail")
	now = now.Add(30 * time.Second)
	if _, ok := value(t, r.Tick(context.Background()), "fake_old"); !ok {
		t.Fatal("value dropped before MaxStale")
	}
	now = now.Add(time.Minute)
	if _, ok := value(t, r.Tick(context.Background()), "fake_old"); ok {
		t.Fatal("value still served after MaxStale")
	}
}

func TestRunnerRejectsDuplicateNames(t *testing.T) {
	if _, err := NewRunner(RunnerOptions{}, newFake("a"), newFake("a")); err == nil {
		t.Fatal("want error for duplicate collector names")
	}
}

func TestMergeFamilies(t *testing.T) {
	d := NewDesc("m", "h", Gauge, "l")
	// Room after the sample: the merge must not append into it.
	room := make([]Sample, 1, 4)
	room[0] = Sample{LabelValues: []string{"x"}, Value: 1}
	a := []*Family{{Desc: d, Samples: room}}
	b := []*Family{{Desc: NewDesc("a", "h", Gauge), Samples: []Sample{{Value: 2}}}, {Desc: d, Samples: []Sample{{LabelValues: []string{"y"}, Value: 3}}}}
	got := MergeFamilies(a, b)
	if len(got) != 2 || got[0].Desc.Name != "a" || got[1].Desc.Name != "m" || len(got[1].Samples) != 2 {
		t.Fatalf("merge = %+v", got)
	}
	if len(a[0].Samples) != 1 || room[:2][1].Value != 0 || room[:2][1].LabelValues != nil {
		t.Fatal("merge modified its input")
	}
	if got[1].Samples[0].Value != 1 || got[1].Samples[1].Value != 3 {
		t.Fatalf("merged samples = %+v", got[1].Samples)
	}
}

func TestEmitPanicsOnLabelMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewEmitter().Emit(NewDesc("m", "h", Gauge, "a", "b"), 1, "only-one")
}

type slowFake struct {
	*fakeCollector
	every time.Duration
}

func (s slowFake) MinInterval() time.Duration { return s.every }

func TestRunnerScheduledCollectorRunsLessOften(t *testing.T) {
	c := slowFake{newFake("procs"), 10 * time.Second}
	fast := newFake("fast")
	now := time.Unix(1000, 0)
	r, err := NewRunner(RunnerOptions{Timeout: time.Second, Now: func() time.Time { return now }}, c, fast)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ { // 25 ticks, one second apart
		s := r.Tick(context.Background())
		if v, ok := value(t, s, "fake_procs"); !ok || v < 1 {
			t.Fatalf("tick %d: scheduled collector's value missing between runs", i)
		}
		if st := status(s, "procs"); !st.Success || st.Stale {
			t.Fatalf("tick %d: status between runs = %+v, want its last successful status", i, st)
		}
		now = now.Add(time.Second)
	}
	if n := c.calls.Load(); n != 3 {
		t.Fatalf("scheduled collector ran %d times in 25s at a 10s interval, want 3", n)
	}
	if n := fast.calls.Load(); n != 25 {
		t.Fatalf("ordinary collector ran %d times, want 25", n)
	}
}

type noDataCollector struct{ desc *Desc }

func (c noDataCollector) Name() string { return "nvml" }
func (c noDataCollector) Collect(_ context.Context, e *Emitter) error {
	e.Emit(c.desc, 0)
	return fmt.Errorf("libnvidia-ml.so.1 not found: %w", ErrNoData)
}

func TestRunnerServesWhatANoDataCollectorEmitted(t *testing.T) {
	r, err := NewRunner(RunnerOptions{}, noDataCollector{NewDesc("backend_up", "Up.", Gauge)})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Tick(context.Background())
	if v, ok := value(t, s, "backend_up"); !ok || v != 0 {
		t.Fatalf("backend_up = %v, %v; want the emitted 0", v, ok)
	}
	if st := status(s, "nvml"); st.Success || !strings.Contains(st.Error, "not found") || !st.NoData {
		t.Fatalf("status = %+v; want a failure marked NoData", st)
	}
}

type sumDeriver struct{ desc *Desc }

func (d sumDeriver) Derive(s *Snapshot, e *Emitter) {
	total := 0.0
	for _, name := range []string{"fake_a", "fake_b"} {
		if f := s.Family(name); f != nil {
			total += f.Samples[0].Value
		}
	}
	e.Emit(d.desc, total)
}

func TestRunnerDerivers(t *testing.T) {
	r, err := NewRunner(RunnerOptions{Derivers: []Deriver{sumDeriver{NewDesc("fake_sum", "Sum.", Gauge)}}}, newFake("a"), newFake("b"))
	if err != nil {
		t.Fatal(err)
	}
	r.Tick(context.Background())
	s := r.Tick(context.Background())
	if v, ok := value(t, s, "fake_sum"); !ok || v != 4 {
		t.Fatalf("fake_sum = %v, %v; want 4 (2+2, from the same tick)", v, ok)
	}
}
