package agent

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The Go runtime metrics ReturnFreeMemory reads: heap bytes free but still
// held from the operating system, heap bytes in objects (live or garbage),
// and the live heap at the end of the last collection.
const (
	freeHeapMetric    = "/memory/classes/heap/free:bytes"
	heapObjectsMetric = "/memory/classes/heap/objects:bytes"
	liveHeapMetric    = "/gc/heap/live:bytes"
)

// ReturnFreeMemory collects and gives heap memory back to the operating
// system whenever more than threshold bytes of it are free or garbage,
// checking every period, until ctx ends. A large query (a 24 h range over
// every series) can grow the heap by hundreds of megabytes for a second;
// the Go runtime would keep that resident until its next collection, which
// on an agent that allocates little can take many minutes. busy, when not
// nil, defers the work while it reports true (a query is running: a forced
// collection would only slow it down).
func ReturnFreeMemory(ctx context.Context, period time.Duration, threshold uint64, busy func() bool, logger *slog.Logger) {
	sample := []metrics.Sample{{Name: freeHeapMetric}, {Name: heapObjectsMetric}, {Name: liveHeapMetric}}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if busy != nil && busy() {
			continue
		}
		metrics.Read(sample)
		for _, s := range sample {
			if s.Value.Kind() != metrics.KindUint64 {
				return
			}
		}
		free, objects, live := sample[0].Value.Uint64(), sample[1].Value.Uint64(), sample[2].Value.Uint64()
		garbage := uint64(0)
		if objects > live {
			garbage = objects - live
		}
		if free+garbage > threshold {
			debug.FreeOSMemory()
			if logger != nil {
				logger.Debug("returned free heap memory to the OS", "free_bytes", free, "garbage_bytes", garbage)
			}
		}
	}
}
