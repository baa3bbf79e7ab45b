package agent

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

// TestReturnFreeMemory allocates and drops 256 MiB, then checks that the
// free heap the runtime holds falls below the threshold within a few
// periods; then the same without a collection (the garbage case).
func TestReturnFreeMemory(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ReturnFreeMemory(ctx, 20*time.Millisecond, 32<<20, nil, nil)

	blocks := make([][]byte, 256)
	for i := range blocks {
		blocks[i] = make([]byte, 1<<20)
		blocks[i][0] = 1
	}
	runtime.KeepAlive(blocks)
	blocks = nil
	runtime.GC()

	s := []metrics.Sample{{Name: freeHeapMetric}}
	deadline := time.Now().Add(30 * time.Second) // a liveness bound (see below)
	for time.Now().Before(deadline) {
		metrics.Read(s)
		if s[0].Value.Uint64() <= 32<<20 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("free heap still %d bytes after 30 s", s[0].Value.Uint64())
}

// TestReturnGarbage drops 256 MiB without collecting: the garbage is
// collected and returned within a few periods, so the heap in objects falls
// back near the live heap.
func TestReturnGarbage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runtime.GC()
	old := debug.SetGCPercent(-1) // no automatic collection
	defer debug.SetGCPercent(old)
	go ReturnFreeMemory(ctx, 20*time.Millisecond, 32<<20, nil, nil)
	dropGarbage()
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	// A liveness bound, not a timing budget: it returns as soon as the
	// garbage is gone, and only a loaded machine (CI under -race) needs long.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		metrics.Read(s)
		if s[0].Value.Uint64() < 64<<20 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("heap in objects still %d bytes after 30 s", s[0].Value.Uint64())
}

// dropGarbage allocates 256 MiB and drops it, in a frame of its own so that
// no pointer to it stays on the caller's stack.
//
//go:noinline
func dropGarbage() {
	blocks := make([][]byte, 256)
	for i := range blocks {
		blocks[i] = make([]byte, 1<<20)
		blocks[i][0] = 1
	}
	runtime.KeepAlive(blocks)
}

// TestReturnFreeMemoryWaitsWhileBusy: nothing is collected while busy says
// a query runs.
func TestReturnFreeMemoryWaitsWhileBusy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runtime.GC()
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	var calls atomic.Int64
	busy := func() bool { calls.Add(1); return true }
	go ReturnFreeMemory(ctx, 10*time.Millisecond, 32<<20, busy, nil)
	blocks := make([][]byte, 128)
	for i := range blocks {
		blocks[i] = make([]byte, 1<<20)
	}
	runtime.KeepAlive(blocks)
	blocks = nil
	time.Sleep(200 * time.Millisecond)
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	metrics.Read(s)
	if calls.Load() == 0 || s[0].Value.Uint64() < 100<<20 {
		t.Errorf("busy asked %d times; heap in objects %d bytes: collected while busy", calls.Load(), s[0].Value.Uint64())
	}
}
