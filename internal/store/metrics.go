package store

import (
	"context"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// Collector reports the store's health as trainwatch_tsdb_* self-metrics.
type Collector struct {
	s *Store

	appended, stale, commitErrs, appendErrs         *collector.Desc
	headSeries, blocks, blockBytes, lowest, retTime *collector.Desc
	retSize                                         *collector.Desc
}

// Collector returns the store's self-metrics collector.
func (s *Store) Collector() *Collector {
	return &Collector{
		s:          s,
		appended:   collector.NewDesc("trainwatch_tsdb_samples_appended_total", "Samples (staleness markers included) written into the history.", collector.Counter),
		stale:      collector.NewDesc("trainwatch_tsdb_stale_markers_total", "Staleness markers written for series that disappeared.", collector.Counter),
		commitErrs: collector.NewDesc("trainwatch_tsdb_commit_errors_total", "Ticks whose commit to the history failed.", collector.Counter),
		appendErrs: collector.NewDesc("trainwatch_tsdb_append_errors_total", "Samples the history rejected, by reason.", collector.Counter, "reason"),
		headSeries: collector.NewDesc("trainwatch_tsdb_head_series", "Series in the in-memory head block.", collector.Gauge),
		blocks:     collector.NewDesc("trainwatch_tsdb_blocks", "Persisted blocks on disk.", collector.Gauge),
		blockBytes: collector.NewDesc("trainwatch_tsdb_blocks_bytes", "Bytes the persisted blocks take on disk.", collector.Gauge),
		lowest:     collector.NewDesc("trainwatch_tsdb_lowest_timestamp_seconds", "Time of the oldest sample kept.", collector.Gauge),
		retTime:    collector.NewDesc("trainwatch_tsdb_retention_limit_seconds", "How long samples are kept.", collector.Gauge),
		retSize:    collector.NewDesc("trainwatch_tsdb_retention_limit_bytes", "Most bytes the blocks may take (0: no limit).", collector.Gauge),
	}
}

// Name implements collector.Collector.
func (c *Collector) Name() string { return "tsdb" }

// Collect implements collector.Collector.
func (c *Collector) Collect(_ context.Context, e *collector.Emitter) error {
	st := c.s.Stats()
	e.Emit(c.appended, float64(st.SamplesAppended))
	e.Emit(c.stale, float64(st.StaleMarkers))
	e.Emit(c.commitErrs, float64(st.CommitErrors))
	for _, r := range []struct {
		reason string
		n      uint64
	}{{"out_of_order", st.OutOfOrder}, {"out_of_bounds", st.OutOfBounds}, {"too_old", st.TooOld}, {"duplicate", st.Duplicate}, {"other", st.OtherAppendErrors}} {
		e.Emit(c.appendErrs, float64(r.n), r.reason)
	}
	db := c.s.db
	e.Emit(c.headSeries, float64(db.Head().NumSeries()))
	var size int64
	blocks := db.Blocks()
	for _, b := range blocks {
		size += b.Size()
	}
	e.Emit(c.blocks, float64(len(blocks)))
	e.Emit(c.blockBytes, float64(size))
	lowest := db.Head().MinTime()
	if len(blocks) > 0 {
		lowest = blocks[0].Meta().MinTime
	}
	if lowest > 0 && lowest < time.Now().Add(24*365*time.Hour).UnixMilli() {
		e.Emit(c.lowest, float64(lowest)/1000)
	}
	e.Emit(c.retTime, c.s.RetentionTime().Seconds())
	e.Emit(c.retSize, float64(c.s.RetentionSize()))
	return nil
}
