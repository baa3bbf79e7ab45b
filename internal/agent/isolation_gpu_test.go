//go:build cgo

package agent_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
	"github.com/trainwatch/trainwatch/internal/gpu/nvmlgpu"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// faultyGPUs is a mock server's telemetry whose GPUs can be broken while
// the agent runs.
type faultyGPUs struct {
	base mockgpu.Telemetry
	mu   sync.Mutex
	edit map[int]func(*mockgpu.State)
}

func (f *faultyGPUs) State(i int, now time.Time) mockgpu.State {
	s := f.base.State(i, now)
	f.mu.Lock()
	e := f.edit[i]
	f.mu.Unlock()
	if e != nil {
		e(&s)
	}
	return s
}

func (f *faultyGPUs) Events(time.Time) []mockgpu.Event { return nil }

func (f *faultyGPUs) set(i int, e func(*mockgpu.State)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e == nil {
		delete(f.edit, i)
		return
	}
	f.edit[i] = e
}

// TestIsolationGPUFault runs the agent (Runner, tick loop, TSDB, /metrics)
// with the real host collectors and the NVML backend over a mock 8 × H200
// server, and breaks GPU 2 mid-run: it falls off the bus (every NVML call
// answers GPU_IS_LOST) or it hangs (every call blocks longer than the
// deadline). The other seven GPUs and the host collectors keep reporting
// every tick, the backend and the gpu collector stay up, GPU 2 shows
// trainwatch_gpu_up 0 with no other series (they get staleness markers in
// the history), the fault is logged once, and GPU 2 comes back when it
// answers again.
func TestIsolationGPUFault(t *testing.T) {
	const interval, timeout = 500 * time.Millisecond, 400 * time.Millisecond
	tests := []struct {
		name   string
		fault  func(*mockgpu.State)
		logged string // the log line of the fault
	}{
		{name: "lost", fault: func(s *mockgpu.State) { s.Lost = true }, logged: "GPU is lost"},
		{name: "hung", fault: func(s *mockgpu.State) { s.Hang = 700 * time.Millisecond }, logged: "did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := &faultyGPUs{base: mockgpu.NewStatic(), edit: map[int]func(*mockgpu.State){}}
			// The clock the backend reads: real time, plus a jump forward
			// to reach its next probe of a lost GPU sooner.
			var mu sync.Mutex
			var skew time.Duration
			now := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				return time.Now().Add(skew)
			}
			lb := &testenv.LogBuffer{}
			gpu, err := nvmlgpu.New(mockgpu.NewServer("h200", tel, now), nvmlgpu.Config{Hostname: "isolation", Now: now, Logger: isoLogger(lb)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = gpu.Close() })
			hostCs, err := host.Collectors(host.Config{})
			if err != nil {
				t.Fatal(err)
			}
			self, err := agent.NewSelfCollector()
			if err != nil {
				t.Fatal(err)
			}
			ia := startIsoAgent(t, interval, timeout, lb, append(hostCs, gpu, self)...)
			ia.waitTicks(t, 2)
			m := ia.scrape(t)
			for g := range 8 {
				if v, _ := find(m, "trainwatch_gpu_up", "gpu", strconv.Itoa(g)); v != 1 {
					t.Fatalf("GPU %d not up before the fault", g)
				}
			}

			tel.set(2, tt.fault)
			broke := time.Now()
			const ticks = 5
			var lastTime float64
			for i := range ticks {
				ia.waitTicks(t, 1)
				m := ia.scrape(t)
				if i == 0 {
					continue // the fault may have hit in the middle of this tick
				}
				if v, ok := find(m, "trainwatch_gpu_up", "gpu", "2"); !ok || v != 0 {
					t.Errorf("tick %d: trainwatch_gpu_up{gpu=\"2\"} = %v, %v; want 0", i, v, ok)
				}
				if _, ok := find(m, "DCGM_FI_DEV_GPU_UTIL", "gpu", "2"); ok {
					t.Errorf("tick %d: GPU 2 still has DCGM_FI_DEV_GPU_UTIL", i)
				}
				for _, g := range []string{"0", "1", "3", "4", "5", "6", "7"} {
					if v, _ := find(m, "trainwatch_gpu_up", "gpu", g); v != 1 {
						t.Errorf("tick %d: trainwatch_gpu_up{gpu=%q} = %v, want 1", i, g, v)
					}
					if v, ok := find(m, "DCGM_FI_DEV_GPU_UTIL", "gpu", g); !ok || v == 0 {
						t.Errorf("tick %d: GPU %s stopped reporting DCGM_FI_DEV_GPU_UTIL (%v, %v)", i, g, v, ok)
					}
				}
				if v, _ := find(m, "trainwatch_gpu_backend_up", "backend", "nvml"); v != 1 {
					t.Errorf("tick %d: trainwatch_gpu_backend_up{backend=\"nvml\"} = %v, want 1", i, v)
				}
				for _, c := range []string{"gpu", "cpu", "meminfo", "time", "self"} {
					if v, _ := find(m, "trainwatch_collector_success", "collector", c); v != 1 {
						t.Errorf("tick %d: trainwatch_collector_success{collector=%q} = %v, want 1", i, c, v)
					}
				}
				now, _ := find(m, "node_time_seconds")
				if now <= lastTime {
					t.Errorf("tick %d: node_time_seconds %v did not advance (was %v)", i, now, lastTime)
				}
				lastTime = now
			}
			// History: every tick stored, GPU 2's series ended with a
			// staleness marker, GPU 3's still going.
			if n := len(ia.history(t, broke, "up")); n < ticks {
				t.Errorf("history: %d ticks since the fault, want at least %d", n, ticks)
			}
			h2 := ia.history(t, broke.Add(-2*interval), "DCGM_FI_DEV_GPU_UTIL", "gpu", "2")
			if len(h2) == 0 || !isStale(h2[len(h2)-1].v) {
				t.Errorf("history of GPU 2's utilisation %v: want a staleness marker last", h2)
			}
			if h3 := ia.history(t, broke, "DCGM_FI_DEV_GPU_UTIL", "gpu", "3"); len(h3) < ticks || isStale(h3[len(h3)-1].v) {
				t.Errorf("history of GPU 3's utilisation since the fault: %d samples, want %d live ones", len(h3), ticks)
			}
			if h := ia.history(t, broke.Add(interval), "trainwatch_gpu_up", "gpu", "2"); len(h) < ticks-2 || h[len(h)-1].v != 0 {
				t.Errorf("history of trainwatch_gpu_up{gpu=\"2\"}: %v, want 0s", h)
			}
			if n := countLines(ia.log, tt.logged, "gpu=2"); n != 1 {
				t.Errorf("%q logged %d times for GPU 2 in %d ticks, want once", tt.logged, n, ticks)
			}

			// GPU 2 answers again (a lost GPU is probed once a minute).
			tel.set(2, nil)
			mu.Lock()
			skew += nvmlgpu.DefaultInitRetryInterval
			mu.Unlock()
			deadline := time.Now().Add(10 * time.Second)
			for {
				ia.waitTicks(t, 1)
				if v, _ := find(ia.scrape(t), "trainwatch_gpu_up", "gpu", "2"); v == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("GPU 2 never came back")
				}
			}
		})
	}
}
