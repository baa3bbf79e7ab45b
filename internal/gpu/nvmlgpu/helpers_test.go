//go:build cgo

package nvmlgpu

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// fakeClock is a settable clock shared by the collector and the mock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mutable wraps a Telemetry so that a test can change a GPU's state and
// inject events while the collector runs.
type mutable struct {
	base mockgpu.Telemetry

	mu     sync.Mutex
	edit   map[int]func(*mockgpu.State)
	events []mockgpu.Event
}

func newMutable(base mockgpu.Telemetry) *mutable {
	return &mutable{base: base, edit: map[int]func(*mockgpu.State){}}
}

func (m *mutable) State(i int, now time.Time) mockgpu.State {
	s := m.base.State(i, now)
	m.mu.Lock()
	f := m.edit[i]
	m.mu.Unlock()
	if f != nil {
		f(&s)
	}
	return s
}

func (m *mutable) Events(now time.Time) []mockgpu.Event {
	ev := m.base.Events(now)
	m.mu.Lock()
	ev = append(ev, m.events...)
	m.events = nil
	m.mu.Unlock()
	return ev
}

func (m *mutable) set(i int, f func(*mockgpu.State)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f == nil {
		delete(m.edit, i)
		return
	}
	m.edit[i] = f
}

func (m *mutable) raise(ev ...mockgpu.Event) {
	m.mu.Lock()
	m.events = append(m.events, ev...)
	m.mu.Unlock()
}

// noEvents is a Telemetry without XID events.
type noEvents struct{ mockgpu.Telemetry }

func (noEvents) Events(time.Time) []mockgpu.Event { return nil }

type rig struct {
	t     testing.TB
	srv   *server.Server
	c     *Collector
	clock *fakeClock
	log   *testenv.LogBuffer
}

// newRig returns a collector on a mock server of kind filled with tel.
// edit, if non-nil, changes the config (Now and Logger are set already).
func newRig(t testing.TB, kind string, tel mockgpu.Telemetry, edit func(*Config), prepare func(*server.Server)) *rig {
	t.Helper()
	clock := newClock()
	srv := mockgpu.NewServer(kind, tel, clock.Now)
	if prepare != nil {
		prepare(srv)
	}
	lb := &testenv.LogBuffer{}
	cfg := Config{Hostname: "testhost", Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, c: c, clock: clock, log: lb}
	t.Cleanup(func() { c.Close() })
	return r
}

// tick runs one Collect under timeout and returns the families, sorted.
func (r *rig) tick(timeout time.Duration) ([]*collector.Family, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e := collector.NewEmitter()
	err := r.c.Collect(ctx, e)
	return collector.MergeFamilies(e.Families()), err
}

// mustTick runs one Collect with a 2 s deadline, failing on error, then
// advances the clock by a second.
func (r *rig) mustTick() []*collector.Family {
	r.t.Helper()
	fams, err := r.tick(2 * time.Second)
	if err != nil {
		r.t.Fatalf("collect: %v", err)
	}
	r.clock.Add(time.Second)
	return fams
}

// waitXID waits until the event reader has counted n XID events.
func (r *rig) waitXID(n uint64) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.c.mu.Lock()
		st := r.c.st
		r.c.mu.Unlock()
		if st != nil && st.events != nil {
			var got uint64
			for _, v := range st.events.snapshot().counts {
				got += v
			}
			if got >= n {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("event reader did not count %d XID events in time", n)
}

// samples returns the values of family name's samples whose labels
// include all the given name/value pairs.
func samples(fams []*collector.Family, name string, labels ...string) []float64 {
	var out []float64
	for _, f := range fams {
		if f.Desc.Name != name {
			continue
		}
	next:
		for i := range f.Samples {
			for j := 0; j+1 < len(labels); j += 2 {
				if f.Label(i, labels[j]) != labels[j+1] {
					continue next
				}
			}
			out = append(out, f.Samples[i].Value)
		}
	}
	return out
}

// one returns the single matching sample's value, failing otherwise.
func one(t testing.TB, fams []*collector.Family, name string, labels ...string) float64 {
	t.Helper()
	v := samples(fams, name, labels...)
	if len(v) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, labels, len(v))
	}
	return v[0]
}

// familiesWith counts the families that have a sample for gpu.
func seriesForGPU(fams []*collector.Family, gpu string) int {
	n := 0
	for _, f := range fams {
		for i := range f.Samples {
			if f.Label(i, "gpu") == gpu {
				n++
			}
		}
	}
	return n
}

func device(srv *server.Server, i int) *server.Device { return srv.Devices[i].(*server.Device) }
