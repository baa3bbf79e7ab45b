package agent

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// freeHeapMetric is the Go runtime's count of heap bytes that are free and
// still held from the operating system.
const freeHeapMetric = "/memory/classes/heap/free:bytes"

// ReturnFreeMemory gives free heap memory back to the operating system
// whenever more than threshold bytes of it are held, checking every period,
// until ctx ends. A large query (a 24 h range over every series) can grow
// the heap by hundreds of megabytes for a second; the Go runtime would keep
// most of that resident until its next collection cycles, which on an
// agent that allocates little can take many minutes.
func ReturnFreeMemory(ctx context.Context, period time.Duration, threshold uint64, logger *slog.Logger) {
	sample := []metrics.Sample{{Name: freeHeapMetric}}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if free := sample[0].Value.Uint64(); free > threshold {
			debug.FreeOSMemory()
			if logger != nil {
				logger.Debug("returned free heap memory to the OS", "free_bytes", free)
			}
		}
	}
}
