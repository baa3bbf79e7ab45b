package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/value"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// TestConsumeOrderChanges checks the positional fast path of the series
// lookup: whatever the order of a tick's samples, each value lands in its
// own series, new series are created, and only series that vanished get
// a staleness marker (the staleness pass is skipped when none did).
func TestConsumeOrderChanges(t *testing.T) {
	ctx := context.Background()
	code := map[string]float64{"a": 1, "b": 2, "c": 3, "x": 4}
	for _, tc := range []struct {
		name  string
		ticks [][]string       // label values of gauge g{k}, in emission order
		stale map[string][]int // series -> ticks of its staleness markers
		want  map[string][]int // series -> ticks with a value
	}{
		{"same order", [][]string{{"a", "b", "c"}, {"a", "b", "c"}, {"a", "b", "c"}}, nil,
			map[string][]int{"a": {0, 1, 2}, "b": {0, 1, 2}, "c": {0, 1, 2}}},
		{"reversed and back", [][]string{{"a", "b", "c"}, {"c", "b", "a"}, {"a", "b", "c"}}, nil,
			map[string][]int{"a": {0, 1, 2}, "b": {0, 1, 2}, "c": {0, 1, 2}}},
		{"one inserted in front", [][]string{{"a", "b"}, {"x", "a", "b"}, {"x", "a", "b"}}, nil,
			map[string][]int{"a": {0, 1, 2}, "b": {0, 1, 2}, "x": {1, 2}}},
		{"one removed in the middle", [][]string{{"a", "b", "c"}, {"a", "c"}, {"a", "c"}}, map[string][]int{"b": {1}},
			map[string][]int{"a": {0, 1, 2}, "b": {0}, "c": {0, 1, 2}}},
		{"removed, back at another place", [][]string{{"a", "b", "c"}, {"a", "c"}, {"b", "a", "c"}}, map[string][]int{"b": {1}},
			map[string][]int{"a": {0, 1, 2}, "b": {0, 2}, "c": {0, 1, 2}}},
		{"all replaced", [][]string{{"a", "b"}, {"c", "x"}, {"c", "x"}}, map[string][]int{"a": {1}, "b": {1}},
			map[string][]int{"a": {0}, "b": {0}, "c": {1, 2}, "x": {1, 2}}},
		{"fewer, then more", [][]string{{"a", "b", "c"}, {"a"}, {"a", "b", "c", "x"}}, map[string][]int{"b": {1}, "c": {1}},
			map[string][]int{"a": {0, 1, 2}, "b": {0, 2}, "c": {0, 2}, "x": {2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, "")
			defer s.Close()
			for i, keys := range tc.ticks {
				f := fam("g", collector.Gauge, []string{"k"})
				for _, k := range keys {
					f.Samples = append(f.Samples, collector.Sample{LabelValues: []string{k}, Value: float64(100*i) + code[k]})
				}
				s.Consume(ctx, snap(base.Add(time.Duration(i)*time.Second), f))
			}
			got := readAll(t, s.Queryable(), "g")
			markers := 0
			for k, ticks := range tc.want {
				pts := got[`{__name__="g", instance="node1:9400", job="trainwatch", k="`+k+`"}`]
				var vals, stale []int
				for _, p := range pts {
					tick := int((p.T - ms(base)) / 1000)
					if value.IsStaleNaN(p.V) {
						stale = append(stale, tick)
						continue
					}
					if want := float64(100*tick) + code[k]; p.V != want {
						t.Errorf("g{k=%q} at tick %d = %v, want %v", k, tick, p.V, want)
					}
					vals = append(vals, tick)
				}
				if !slices.Equal(vals, ticks) {
					t.Errorf("g{k=%q} has values at ticks %v, want %v", k, vals, ticks)
				}
				if !slices.Equal(stale, tc.stale[k]) {
					t.Errorf("g{k=%q} has staleness markers at ticks %v, want %v", k, stale, tc.stale[k])
				}
				markers += len(stale)
			}
			if len(got) != len(tc.want) {
				t.Errorf("%d series stored, want %d: %v", len(got), len(tc.want), got)
			}
			st := s.Stats()
			if st.StaleMarkers != uint64(markers) || st.AppendErrors() != 0 {
				t.Errorf("stats %+v, want %d staleness markers and no append errors", st, markers)
			}
			// g's series of the last tick plus up and scrape_samples_scraped.
			if want := len(tc.ticks[len(tc.ticks)-1]) + 2; st.Series != want {
				t.Errorf("Series = %d, want %d", st.Series, want)
			}
		})
	}
}
