package remotewrite

import (
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// descs are the self-metrics of a Writer.
type descs struct {
	samples, enqueued, failed, pendingBytes, pendingSamples, lag, lastSend *collector.Desc
}

func newDescs() descs {
	return descs{
		samples: collector.NewDesc("trainwatch_remote_write_samples_total",
			"Samples taken out of the remote write queue, by outcome: sent (acknowledged by the receiver), dropped_4xx (refused by the receiver), dropped_full (queue over queue.max_bytes), dropped_disk_error (queue write failed or record unreadable).",
			collector.Counter, "remote", "outcome"),
		enqueued: collector.NewDesc("trainwatch_remote_write_enqueued_samples_total",
			"Samples written to the remote write queue.", collector.Counter, "remote"),
		failed: collector.NewDesc("trainwatch_remote_write_failed_sends_total",
			"Remote write requests that failed (5xx, 429, network error) and were retried.", collector.Counter, "remote"),
		pendingBytes: collector.NewDesc("trainwatch_remote_write_pending_bytes",
			"Size of the remote write queue on disk.", collector.Gauge, "remote"),
		pendingSamples: collector.NewDesc("trainwatch_remote_write_pending_samples",
			"Samples in the remote write queue not yet acknowledged by the receiver.", collector.Gauge, "remote"),
		lag: collector.NewDesc("trainwatch_remote_write_lag_seconds",
			"Age of the oldest sample not yet acknowledged by the receiver; 0 when the queue is empty.", collector.Gauge, "remote"),
		lastSend: collector.NewDesc("trainwatch_remote_write_last_send_timestamp_seconds",
			"When the receiver last acknowledged a request (Unix time); 0 if never since the agent started.", collector.Gauge, "remote"),
	}
}

// emit emits st for the remote named name at time now.
func (d descs) emit(e *collector.Emitter, name string, st Stats, now time.Time) {
	e.Emit(d.samples, float64(st.SamplesSent), name, "sent")
	e.Emit(d.samples, float64(st.SamplesDropped4xx), name, "dropped_4xx")
	e.Emit(d.samples, float64(st.SamplesDroppedFull), name, "dropped_full")
	e.Emit(d.samples, float64(st.SamplesDroppedDiskError), name, "dropped_disk_error")
	e.Emit(d.enqueued, float64(st.SamplesEnqueued), name)
	e.Emit(d.failed, float64(st.FailedSends), name)
	e.Emit(d.pendingBytes, float64(st.PendingBytes), name)
	e.Emit(d.pendingSamples, float64(st.PendingSamples), name)
	lag := 0.0
	if !st.OldestPending.IsZero() {
		lag = max(0, now.Sub(st.OldestPending).Seconds())
	}
	e.Emit(d.lag, lag, name)
	last := 0.0
	if !st.LastSend.IsZero() {
		last = float64(st.LastSend.UnixNano()) / 1e9
	}
	e.Emit(d.lastSend, last, name)
}
