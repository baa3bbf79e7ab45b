package agent

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// TestReturnFreeMemory allocates and drops 256 MiB, then checks that the
// free heap the runtime holds falls below the threshold within a few
// periods.
func TestReturnFreeMemory(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ReturnFreeMemory(ctx, 20*time.Millisecond, 32<<20, nil)

	blocks := make([][]byte, 256)
	for i := range blocks {
		blocks[i] = make([]byte, 1<<20)
		blocks[i][0] = 1
	}
	runtime.KeepAlive(blocks)
	blocks = nil
	runtime.GC()

	s := []metrics.Sample{{Name: freeHeapMetric}}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		metrics.Read(s)
		if s[0].Value.Uint64() <= 32<<20 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("free heap still %d bytes after 5 s", s[0].Value.Uint64())
}
