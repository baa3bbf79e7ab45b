package collector

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// TestIsolationBadCollector: a collector that panics or hangs (ignoring its
// context, as a stuck statfs or read does) never holds up the others: every
// tick stays within its deadline, the good collector is fresh every tick,
// the bad one serves its last good value with success 0 and its duration
// at (or, while hung, past) the deadline, and the failure is logged once
// however many ticks it lasts (a panic with its stack). When the collector
// works again it is logged as recovered, once.
func TestIsolationBadCollector(t *testing.T) {
	const timeout = 80 * time.Millisecond
	tests := []struct {
		mode      string
		wantErr   string
		wantStack bool
	}{
		{mode: "panic", wantErr: "panic: boom", wantStack: true},
		{mode: "hang", wantErr: "deadline of 80ms exceeded", wantStack: false},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			good, bad := newFake("good"), newFake("bad")
			var logBuf testenv.LogBuffer
			r, err := NewRunner(RunnerOptions{Timeout: timeout, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}, good, bad)
			if err != nil {
				t.Fatal(err)
			}
			r.Tick(context.Background())
			bad.mode.Store(tt.mode)
			const ticks = 6
			for i := range ticks {
				start := time.Now()
				s := r.Tick(context.Background())
				if el := time.Since(start); el > timeout+200*time.Millisecond {
					t.Fatalf("tick %d took %s with a deadline of %s", i, el, timeout)
				}
				if v, _ := value(t, s, "fake_good"); v != float64(i+2) {
					t.Fatalf("tick %d: fake_good = %v, want %d (fresh every tick)", i, v, i+2)
				}
				if v, ok := value(t, s, "fake_bad"); !ok || v != 1 {
					t.Fatalf("tick %d: fake_bad = %v, %v; want its last good value 1", i, v, ok)
				}
				if v, _ := value(t, s, "trainwatch_collector_success", "bad"); v != 0 {
					t.Fatalf("tick %d: trainwatch_collector_success{bad} = %v, want 0", i, v)
				}
				if v, _ := value(t, s, "trainwatch_collector_success", "good"); v != 1 {
					t.Fatalf("tick %d: trainwatch_collector_success{good} = %v, want 1", i, v)
				}
				d, _ := value(t, s, "trainwatch_collector_duration_seconds", "bad")
				if tt.mode == "hang" && d < timeout.Seconds() {
					t.Fatalf("tick %d: duration of the hung collector %vs, want at least the deadline %s", i, d, timeout)
				}
				if tt.mode == "hang" && i == 0 && d != timeout.Seconds() {
					t.Fatalf("first late tick: duration %vs, want the deadline %s", d, timeout)
				}
				st := status(s, "bad")
				if i == 0 && !strings.Contains(st.Error, tt.wantErr) {
					t.Fatalf("status = %+v, want an error containing %q", st, tt.wantErr)
				}
			}
			log := logBuf.String()
			if n := strings.Count(log, `msg="collector failed"`); n != 1 {
				t.Fatalf("failure logged %d times in %d ticks, want once:\n%s", n, ticks, log)
			}
			if !strings.Contains(log, "collector=bad") || !strings.Contains(log, tt.wantErr) {
				t.Errorf("the log does not name the collector and the error:\n%s", log)
			}
			// The stack names the panicking line (fakeCollector.Collect).
			if got := strings.Contains(log, "stack=") && strings.Contains(log, "runner_test.go"); got != tt.wantStack {
				t.Errorf("stack in the log = %v, want %v:\n%s", got, tt.wantStack, log)
			}
			if strings.Contains(log, "collector=good") {
				t.Errorf("the good collector was logged:\n%s", log)
			}
			// It works again.
			bad.mode.Store("")
			close(bad.release)
			deadline := time.Now().Add(5 * time.Second)
			for !status(r.Tick(context.Background()), "bad").Success {
				if time.Now().After(deadline) {
					t.Fatal("the collector never recovered")
				}
				time.Sleep(10 * time.Millisecond)
			}
			r.Tick(context.Background())
			if n := strings.Count(logBuf.String(), `msg="collector recovered"`); n != 1 {
				t.Errorf("recovery logged %d times, want once:\n%s", n, logBuf.String())
			}
		})
	}
}

// sleepy is a collector that takes a while, within its deadline.
type sleepy struct {
	*fakeCollector
	d time.Duration
}

func (c sleepy) Collect(ctx context.Context, e *Emitter) error {
	time.Sleep(c.d)
	return c.fakeCollector.Collect(ctx, e)
}

// TestIsolationHungCollectorReturnsMidTick: a hung collector whose stuck
// call returns while a tick is waiting for the others is reported by that
// tick with the outcome of that call (success, its duration, its values),
// and its recovery is logged then, not with the status it had before it
// hung.
func TestIsolationHungCollectorReturnsMidTick(t *testing.T) {
	bad, slow := newFake("bad"), sleepy{newFake("slow"), 150 * time.Millisecond}
	var logBuf testenv.LogBuffer
	r, err := NewRunner(RunnerOptions{Timeout: 400 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}, bad, slow)
	if err != nil {
		t.Fatal(err)
	}
	r.Tick(context.Background()) // bad: value 1, success
	bad.mode.Store("hang")
	if st := status(r.Tick(context.Background()), "bad"); st.Success {
		t.Fatalf("hung collector reported %+v", st)
	}
	// The next tick waits ~150ms for slow; bad's stuck call returns 30ms in.
	bad.mode.Store("")
	go func() {
		time.Sleep(30 * time.Millisecond)
		close(bad.release)
	}()
	s := r.Tick(context.Background())
	st := status(s, "bad")
	if !st.Success || st.Stale || st.Duration < 400*time.Millisecond {
		t.Fatalf("status after the stuck call returned = %+v; want success with the call's duration (over 400ms)", st)
	}
	if v, _ := value(t, s, "fake_bad"); v != 2 {
		t.Errorf("fake_bad = %v, want 2 (the value of the call that returned)", v)
	}
	if n := strings.Count(logBuf.String(), `msg="collector recovered"`); n != 1 {
		t.Errorf("recovery logged %d times in the tick the call returned, want once:\n%s", n, logBuf.String())
	}
	if st := status(r.Tick(context.Background()), "bad"); !st.Success || st.Duration > 100*time.Millisecond {
		t.Errorf("next tick: %+v; want an ordinary fresh run", st)
	}
}

// panicDeriver panics while panicking is true.
type panicDeriver struct {
	desc      *Desc
	panicking *bool
	jobs      []float64
}

func (d panicDeriver) Derive(_ *Snapshot, e *Emitter) {
	v := 1.0
	if *d.panicking {
		v = d.jobs[len(d.jobs)] // a real runtime panic: index out of range
	}
	e.Emit(d.desc, v)
}

// TestIsolationDeriverPanic: a deriver that panics does not end the tick
// (nor the agent): the collectors' families and the other derivers' are
// there, its own are left out, and the panic is logged once with its stack.
func TestIsolationDeriverPanic(t *testing.T) {
	panicking := true
	var logBuf testenv.LogBuffer
	r, err := NewRunner(RunnerOptions{
		Logger: slog.New(slog.NewTextHandler(&logBuf, nil)),
		Derivers: []Deriver{
			panicDeriver{desc: NewDesc("fake_jobs", "Jobs.", Gauge), panicking: &panicking},
			sumDeriver{NewDesc("fake_sum", "Sum.", Gauge)},
		},
	}, newFake("a"), newFake("b"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		s := r.Tick(context.Background())
		if v, ok := value(t, s, "fake_sum"); !ok || v != float64(2*(i+1)) {
			t.Fatalf("tick %d: fake_sum = %v, %v; want %d", i, v, ok, 2*(i+1))
		}
		if _, ok := value(t, s, "fake_a"); !ok {
			t.Fatalf("tick %d: a collector's family is missing", i)
		}
		if _, ok := value(t, s, "fake_jobs"); ok {
			t.Fatalf("tick %d: the panicking deriver's family is there", i)
		}
	}
	log := logBuf.String()
	if n := strings.Count(log, `msg="deriver panicked`); n != 1 || !strings.Contains(log, "index out of range") || !strings.Contains(log, "isolation_test.go") {
		t.Fatalf("deriver panic logged %d times (want once, with its error and stack):\n%s", n, log)
	}
	panicking = false
	if _, ok := value(t, r.Tick(context.Background()), "fake_jobs"); !ok {
		t.Fatal("the deriver's family is missing after it stopped panicking")
	}
	if !strings.Contains(logBuf.String(), `msg="deriver recovered"`) {
		t.Errorf("recovery not logged:\n%s", logBuf.String())
	}
}
