package store

import (
	"context"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/collectortest"
)

// TestCollector checks the trainwatch_tsdb_* self-metrics against what was
// appended.
func TestCollector(t *testing.T) {
	s := openTest(t, "")
	defer s.Close()
	ctx := context.Background()
	g := fam("g", collector.Gauge, []string{"x"},
		collector.Sample{LabelValues: []string{"a"}, Value: 1},
		collector.Sample{LabelValues: []string{"b"}, Value: 2})
	s.Consume(ctx, snap(base, g))
	s.Consume(ctx, snap(base.Add(time.Second))) // both vanish: 2 stale markers
	s.Consume(ctx, snap(base, g))               // back in time: 2 out of order (+ up, scrape_samples_scraped)

	fams := collectortest.CollectOK(t, s.Collector())
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		// tick 1: 2 + up + scrape_samples_scraped; tick 2: up + scrape_samples_scraped + 2 stale markers
		{"trainwatch_tsdb_samples_appended_total", nil, 8},
		{"trainwatch_tsdb_stale_markers_total", nil, 2},
		{"trainwatch_tsdb_append_errors_total", []string{"reason", "out_of_order"}, 4},
		{"trainwatch_tsdb_append_errors_total", []string{"reason", "duplicate"}, 0},
		{"trainwatch_tsdb_commit_errors_total", nil, 0},
		{"trainwatch_tsdb_head_series", nil, 4},
		{"trainwatch_tsdb_blocks", nil, 0},
		{"trainwatch_tsdb_retention_limit_seconds", nil, DefaultRetentionTime.Seconds()},
		{"trainwatch_tsdb_retention_limit_bytes", nil, 0},
		{"trainwatch_tsdb_lowest_timestamp_seconds", nil, float64(base.Unix())},
	} {
		if got := collectortest.Value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
