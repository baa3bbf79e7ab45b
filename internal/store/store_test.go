package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/trainwatch/trainwatch/internal/collector"
)

type point struct {
	T int64
	V float64
}

// base is a recent, minute-aligned time so retention never interferes.
var base = time.Now().Add(-time.Hour).Truncate(time.Minute)

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(Options{Dir: dir, Instance: "node1:9400"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// readAll returns every series matching name (a regexp on __name__) as
// labels string -> points.
func readAll(t *testing.T, q storage.Queryable, name string) map[string][]point {
	t.Helper()
	qr, err := q.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatalf("Querier: %v", err)
	}
	defer qr.Close()
	ss := qr.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, name))
	out := map[string][]point{}
	for ss.Next() {
		series := ss.At()
		if n := series.Labels().Get(model.MetricNameLabel); name == ".+" && (n == "up" || strings.HasPrefix(n, "scrape_")) {
			continue // the per-tick scrape series have their own test
		}
		it := series.Iterator(nil)
		var pts []point
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			pts = append(pts, point{ts, v})
		}
		if err := it.Err(); err != nil {
			t.Fatalf("iterator: %v", err)
		}
		out[series.Labels().String()] = pts
	}
	if err := ss.Err(); err != nil {
		t.Fatalf("select: %v", err)
	}
	return out
}

func snap(at time.Time, fams ...*collector.Family) *collector.Snapshot {
	return &collector.Snapshot{Time: at, Families: fams}
}

func fam(name string, typ collector.ValueType, labelNames []string, samples ...collector.Sample) *collector.Family {
	return &collector.Family{Desc: collector.NewDesc(name, "help", typ, labelNames...), Samples: samples}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// TestScrapeSeries checks the series a scraping Prometheus would add:
// up, scrape_duration_seconds (from the tick's duration) and
// scrape_samples_scraped.
func TestScrapeSeries(t *testing.T) {
	s := openTest(t, "")
	defer s.Close()
	s.Consume(context.Background(), snap(base,
		fam("trainwatch_tick_duration_seconds", collector.Gauge, nil, collector.Sample{Value: 0.25}),
		fam("g", collector.Gauge, []string{"x"}, collector.Sample{LabelValues: []string{"a"}, Value: 1}, collector.Sample{LabelValues: []string{"b"}, Value: 2}),
	))
	got := readAll(t, s.Queryable(), "up|scrape_.+")
	want := map[string][]point{
		`{__name__="up", instance="node1:9400", job="trainwatch"}`:                      {{ms(base), 1}},
		`{__name__="scrape_duration_seconds", instance="node1:9400", job="trainwatch"}`: {{ms(base), 0.25}},
		`{__name__="scrape_samples_scraped", instance="node1:9400", job="trainwatch"}`:  {{ms(base), 3}},
	}
	comparePoints(t, got, want)
}

func TestConsumeRoundTrip(t *testing.T) {
	s := openTest(t, "")
	defer s.Close()
	ctx := context.Background()
	for i := range 3 {
		at := base.Add(time.Duration(i) * 15 * time.Second)
		s.Consume(ctx, snap(at,
			// label names deliberately not sorted
			fam("gpu_util", collector.Gauge, []string{"uuid", "gpu"},
				collector.Sample{LabelValues: []string{"GPU-a", "0"}, Value: float64(10 * i)},
				collector.Sample{LabelValues: []string{"GPU-b", "1"}, Value: float64(20 * i)}),
			fam("cpu_seconds_total", collector.Counter, nil, collector.Sample{Value: float64(i) + 0.5}),
		))
	}
	got := readAll(t, s.Queryable(), ".+")
	tss := []int64{ms(base), ms(base.Add(15 * time.Second)), ms(base.Add(30 * time.Second))}
	want := map[string][]point{
		`{__name__="cpu_seconds_total", instance="node1:9400", job="trainwatch"}`:               {{tss[0], 0.5}, {tss[1], 1.5}, {tss[2], 2.5}},
		`{__name__="gpu_util", gpu="0", instance="node1:9400", job="trainwatch", uuid="GPU-a"}`: {{tss[0], 0}, {tss[1], 10}, {tss[2], 20}},
		`{__name__="gpu_util", gpu="1", instance="node1:9400", job="trainwatch", uuid="GPU-b"}`: {{tss[0], 0}, {tss[1], 20}, {tss[2], 40}},
	}
	comparePoints(t, got, want)
	st := s.Stats()
	// 3 series + up + scrape_samples_scraped, 3 ticks.
	if st.SamplesAppended != 15 || st.AppendErrors() != 0 || st.Commits != 3 || st.Series != 5 {
		t.Errorf("stats = %+v", st)
	}
}

func comparePoints(t *testing.T, got, want map[string][]point) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d:\n%v", len(got), len(want), got)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing series %s; have %v", k, keys(got))
			continue
		}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
}

func keys(m map[string][]point) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFlatten(t *testing.T) {
	const lbl = `instance="node1:9400", job="trainwatch"`
	tests := []struct {
		name string
		fam  *collector.Family
		want map[string]float64
	}{
		{
			name: "summary",
			fam: fam("lat_seconds", collector.Summary, []string{"op"}, collector.Sample{LabelValues: []string{"read"}, Dist: &collector.Distribution{
				Count: 7, Sum: 3.5, Quantiles: []collector.Quantile{{Quantile: 0.5, Value: 0.4}, {Quantile: 0.99, Value: 1.2}, {Quantile: 1, Value: 2}},
			}}),
			want: map[string]float64{
				`{__name__="lat_seconds", ` + lbl + `, op="read", quantile="0.5"}`:  0.4,
				`{__name__="lat_seconds", ` + lbl + `, op="read", quantile="0.99"}`: 1.2,
				`{__name__="lat_seconds", ` + lbl + `, op="read", quantile="1.0"}`:  2,
				`{__name__="lat_seconds_sum", ` + lbl + `, op="read"}`:              3.5,
				`{__name__="lat_seconds_count", ` + lbl + `, op="read"}`:            7,
			},
		},
		{
			name: "histogram without +Inf bucket",
			fam: fam("size_bytes", collector.Histogram, nil, collector.Sample{Dist: &collector.Distribution{
				Count: 10, Sum: 1234, Buckets: []collector.Bucket{{UpperBound: 100, Count: 3}, {UpperBound: 0.25, Count: 1}},
			}}),
			want: map[string]float64{
				`{__name__="size_bytes_bucket", ` + lbl + `, le="100.0"}`: 3,
				`{__name__="size_bytes_bucket", ` + lbl + `, le="0.25"}`:  1,
				`{__name__="size_bytes_bucket", ` + lbl + `, le="+Inf"}`:  10,
				`{__name__="size_bytes_sum", ` + lbl + `}`:                1234,
				`{__name__="size_bytes_count", ` + lbl + `}`:              10,
			},
		},
		{
			name: "histogram with +Inf bucket",
			fam: fam("wait_seconds", collector.Histogram, nil, collector.Sample{Dist: &collector.Distribution{
				Count: 4, Sum: 2, Buckets: []collector.Bucket{{UpperBound: 1, Count: 2}, {UpperBound: math.Inf(1), Count: 4}},
			}}),
			want: map[string]float64{
				`{__name__="wait_seconds_bucket", ` + lbl + `, le="1.0"}`:  2,
				`{__name__="wait_seconds_bucket", ` + lbl + `, le="+Inf"}`: 4,
				`{__name__="wait_seconds_sum", ` + lbl + `}`:               2,
				`{__name__="wait_seconds_count", ` + lbl + `}`:             4,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, "")
			defer s.Close()
			s.Consume(context.Background(), snap(base, tt.fam))
			want := map[string][]point{}
			for k, v := range tt.want {
				want[k] = []point{{ms(base), v}}
			}
			comparePoints(t, readAll(t, s.Queryable(), ".+"), want)
		})
	}
}

func TestStaleMarker(t *testing.T) {
	s := openTest(t, "")
	defer s.Close()
	ctx := context.Background()
	two := fam("up_ish", collector.Gauge, []string{"gpu"},
		collector.Sample{LabelValues: []string{"0"}, Value: 1},
		collector.Sample{LabelValues: []string{"1"}, Value: 1})
	one := fam("up_ish", collector.Gauge, []string{"gpu"},
		collector.Sample{LabelValues: []string{"0"}, Value: 1})
	explicit := fam("ext", collector.Gauge, nil, collector.Sample{Value: 5, TimestampMs: ms(base)})
	s.Consume(ctx, snap(base, two, explicit))
	s.Consume(ctx, snap(base.Add(time.Second), one))
	s.Consume(ctx, snap(base.Add(2*time.Second), one))

	got := readAll(t, s.Queryable(), ".+")
	gone := got[`{__name__="up_ish", gpu="1", instance="node1:9400", job="trainwatch"}`]
	if len(gone) != 2 || gone[0].V != 1 || gone[1].T != ms(base.Add(time.Second)) || !value.IsStaleNaN(gone[1].V) {
		t.Errorf("vanished series = %v, want a value then a stale marker at the next tick", gone)
	}
	kept := got[`{__name__="up_ish", gpu="0", instance="node1:9400", job="trainwatch"}`]
	if len(kept) != 3 {
		t.Errorf("kept series = %v, want 3 values", kept)
	}
	for _, p := range kept {
		if value.IsStaleNaN(p.V) {
			t.Errorf("kept series got a stale marker: %v", kept)
		}
	}
	if ext := got[`{__name__="ext", instance="node1:9400", job="trainwatch"}`]; len(ext) != 1 {
		t.Errorf("series with explicit timestamps = %v, want no stale marker", ext)
	}
	if st := s.Stats(); st.StaleMarkers != 1 {
		t.Errorf("StaleMarkers = %d, want 1", st.StaleMarkers)
	}
}

// TestStaleMarkerSameSeriesOtherKey: two collector samples can name one
// series (an empty label value is dropped, as a scrape drops it); the
// series gets a staleness marker only when neither is collected any more.
func TestStaleMarkerSameSeriesOtherKey(t *testing.T) {
	ctx := context.Background()
	bare := fam("m", collector.Gauge, nil, collector.Sample{Value: 1})
	empty := fam("m", collector.Gauge, []string{"a"}, collector.Sample{LabelValues: []string{""}, Value: 1})
	other := fam("o", collector.Gauge, nil, collector.Sample{Value: 1})
	for _, tc := range []struct {
		name  string
		ticks [][]*collector.Family
		stale []int // ticks at which m gets a staleness marker
	}{
		{"moves to the other key", [][]*collector.Family{{bare, other}, {empty, other}, {empty, other}}, nil},
		{"both keys, then one", [][]*collector.Family{{bare, empty, other}, {empty, other}, {other}}, []int{2}},
		{"both keys, then neither", [][]*collector.Family{{bare, empty, other}, {other}, {other}}, []int{1}},
		{"one key, gone, back under the other", [][]*collector.Family{{bare, other}, {other}, {empty, other}}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, "")
			defer s.Close()
			for i, fams := range tc.ticks {
				s.Consume(ctx, snap(base.Add(time.Duration(i)*time.Second), fams...))
			}
			var stale []int
			for _, p := range readAll(t, s.Queryable(), "m")[`{__name__="m", instance="node1:9400", job="trainwatch"}`] {
				if value.IsStaleNaN(p.V) {
					stale = append(stale, int((p.T-ms(base))/1000))
				}
			}
			if !slices.Equal(stale, tc.stale) {
				t.Errorf("staleness markers at ticks %v, want %v", stale, tc.stale)
			}
			if st := s.Stats(); st.StaleMarkers != uint64(len(tc.stale)) || st.AppendErrors() != 0 {
				t.Errorf("stats %+v, want %d staleness markers and no append errors", st, len(tc.stale))
			}
		})
	}
}

func TestRestartReplaysWAL(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	for i := range 3 {
		s.Consume(context.Background(), snap(base.Add(time.Duration(i)*time.Second),
			fam("c_total", collector.Counter, nil, collector.Sample{Value: float64(i)})))
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := openTest(t, dir)
	defer s2.Close()
	got := readAll(t, s2.Queryable(), "c_total")
	want := map[string][]point{`{__name__="c_total", instance="node1:9400", job="trainwatch"}`: {
		{ms(base), 0}, {ms(base.Add(time.Second)), 1}, {ms(base.Add(2 * time.Second)), 2},
	}}
	comparePoints(t, got, want)
	// Appending after the restart continues the series.
	s2.Consume(context.Background(), snap(base.Add(3*time.Second),
		fam("c_total", collector.Counter, nil, collector.Sample{Value: 3})))
	if n := len(readAll(t, s2.Queryable(), "c_total")[`{__name__="c_total", instance="node1:9400", job="trainwatch"}`]); n != 4 {
		t.Errorf("after restart and one more tick: %d points, want 4", n)
	}
}

func TestRetentionOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantDurMs int64
		wantBytes int64
	}{
		{"defaults", Options{}, (15 * 24 * time.Hour).Milliseconds(), 0},
		{"custom", Options{RetentionTime: 2 * time.Hour, RetentionSize: 1 << 30}, (2 * time.Hour).Milliseconds(), 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = t.TempDir()
			s, err := Open(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.opts.RetentionDuration != tt.wantDurMs || s.opts.MaxBytes != tt.wantBytes {
				t.Errorf("retention = %d ms, %d bytes; want %d ms, %d bytes", s.opts.RetentionDuration, s.opts.MaxBytes, tt.wantDurMs, tt.wantBytes)
			}
			if s.job != "trainwatch" {
				t.Errorf("default job = %q", s.job)
			}
			if s.opts.StripeSize != stripeSize || s.opts.HeadChunksWriteBufferSize != chunkWriteBufferSize {
				t.Errorf("head stripes %d, chunk write buffer %d; want %d and %d (the defaults are sized for a Prometheus server)",
					s.opts.StripeSize, s.opts.HeadChunksWriteBufferSize, stripeSize, chunkWriteBufferSize)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want []string
	}{
		{"under a regular file", filepath.Join(file, "data"), []string{"data directory " + filepath.Join(file, "data") + " is not writable", "(use --data-dir)"}},
		{"empty", "", []string{"no data directory", "--data-dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(Options{Dir: tt.dir})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAppendErrorsCounted(t *testing.T) {
	s := openTest(t, "")
	defer s.Close()
	f := fam("g", collector.Gauge, nil, collector.Sample{Value: 1})
	s.Consume(context.Background(), snap(base.Add(time.Minute), f))
	s.Consume(context.Background(), snap(base, f)) // goes back in time
	st := s.Stats()
	// g, up and scrape_samples_scraped all go back in time.
	if st.OutOfOrder != 3 || st.AppendErrors() != 3 {
		t.Errorf("stats = %+v, want three out-of-order errors", st)
	}
	s.Consume(context.Background(), nil) // no panic
}

func TestReservedLabelsAndOrder(t *testing.T) {
	s := openTest(t, "")
	defer s.Close()
	s.Consume(context.Background(), snap(base,
		fam("a", collector.Gauge, []string{"z", "job", "instance", "empty"}, collector.Sample{LabelValues: []string{"1", "train", "x", ""}, Value: 1}),
		fam("b", collector.Gauge, []string{"y", "x"}, collector.Sample{LabelValues: []string{"2", "1"}, Value: 2}),
	))
	want := map[string][]point{
		`{__name__="a", exported_instance="x", exported_job="train", instance="node1:9400", job="trainwatch", z="1"}`: {{ms(base), 1}},
		`{__name__="b", instance="node1:9400", job="trainwatch", x="1", y="2"}`:                                       {{ms(base), 2}},
	}
	comparePoints(t, readAll(t, s.Queryable(), ".+"), want)
}

func TestPromQLRate(t *testing.T) {
	s := openTest(t, "")
	defer s.Close()
	// A counter rising by 3 per 15 s tick: rate is 0.2/s.
	for i := range 9 {
		s.Consume(context.Background(), snap(base.Add(time.Duration(i)*15*time.Second),
			fam("bytes_total", collector.Counter, []string{"dev"}, collector.Sample{LabelValues: []string{"eth0"}, Value: float64(3 * i)})))
	}
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	q, err := eng.NewInstantQuery(context.Background(), s.Queryable(), nil, `rate(bytes_total{job="trainwatch",dev="eth0"}[1m])`, base.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		t.Fatal(err)
	}
	if len(vec) != 1 || math.Abs(vec[0].F-0.2) > 1e-9 {
		t.Fatalf("rate = %v, want one sample of 0.2", vec)
	}
	if got := vec[0].Metric.Get("instance"); got != "node1:9400" {
		t.Errorf("instance = %q", got)
	}
}

// benchSnapshot builds a realistic snapshot of about 1,500 series: 8 GPUs
// with 40 metrics each, 64 CPUs with 8 modes, 600 process series and ten
// histograms.
func benchSnapshot(at time.Time, tick int) *collector.Snapshot {
	var fams []*collector.Family
	for m := range 40 {
		f := fam(fmt.Sprintf("trainwatch_gpu_metric_%02d", m), collector.Gauge, []string{"gpu", "uuid", "model"})
		for g := range 8 {
			f.Samples = append(f.Samples, collector.Sample{LabelValues: []string{fmt.Sprint(g), fmt.Sprintf("GPU-%08x", g), "H200"}, Value: float64(tick + g)})
		}
		fams = append(fams, f)
	}
	cpu := fam("node_cpu_seconds_total", collector.Counter, []string{"cpu", "mode"})
	for c := range 64 {
		for _, mode := range []string{"user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"} {
			cpu.Samples = append(cpu.Samples, collector.Sample{LabelValues: []string{fmt.Sprint(c), mode}, Value: float64(tick * c)})
		}
	}
	fams = append(fams, cpu)
	for m := range 3 {
		f := fam(fmt.Sprintf("trainwatch_process_metric_%d", m), collector.Gauge, []string{"pid", "comm", "user"})
		for p := range 200 {
			f.Samples = append(f.Samples, collector.Sample{LabelValues: []string{fmt.Sprint(1000 + p), "python", "alice"}, Value: float64(tick)})
		}
		fams = append(fams, f)
	}
	h := fam("trainwatch_collector_duration_seconds", collector.Histogram, []string{"collector"})
	for c := range 10 {
		h.Samples = append(h.Samples, collector.Sample{LabelValues: []string{fmt.Sprintf("c%d", c)}, Dist: &collector.Distribution{
			Count: uint64(tick), Sum: float64(tick) / 100,
			Buckets: []collector.Bucket{{UpperBound: 0.001, Count: 1}, {UpperBound: 0.01, Count: 2}, {UpperBound: 0.1, Count: 3}, {UpperBound: 1, Count: 4}, {UpperBound: 10, Count: 5}},
		}})
	}
	fams = append(fams, h)
	return snap(at, fams...)
}

func countSeries(s *collector.Snapshot) int {
	n := 0
	for _, f := range s.Families {
		for _, smp := range f.Samples {
			switch {
			case smp.Dist != nil && f.Desc.Type == collector.Histogram:
				n += len(smp.Dist.Buckets) + 3
			default:
				n++
			}
		}
	}
	return n
}

func BenchmarkConsume(b *testing.B) {
	ctx := context.Background()
	b.Run("first_tick", func(b *testing.B) {
		sn := benchSnapshot(base, 1)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			s := openTest(b, b.TempDir())
			b.StartTimer()
			s.Consume(ctx, sn)
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(countSeries(sn)), "series")
	})
	b.Run("steady_state", func(b *testing.B) {
		s := openTest(b, b.TempDir())
		defer s.Close()
		snaps := make([]*collector.Snapshot, 0, 2)
		for i := range 2 {
			snaps = append(snaps, benchSnapshot(base, i))
		}
		s.Consume(ctx, snaps[0])
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			sn := snaps[i%2]
			sn.Time = base.Add(time.Duration(i) * time.Second)
			s.Consume(ctx, sn)
		}
		if st := s.Stats(); st.AppendErrors() != 0 {
			b.Fatalf("append errors: %+v", st)
		}
		b.ReportMetric(float64(countSeries(snaps[0])), "series")
	})
}

// TestOnCommit checks that the OnCommit hook sees exactly the samples the
// TSDB stored, staleness markers included, once per commit.
func TestOnCommit(t *testing.T) {
	var calls int
	seen := map[string][]point{}
	s, err := Open(Options{Dir: t.TempDir(), Instance: "node1:9400", OnCommit: func(batch []Appended) {
		calls++
		for _, a := range batch {
			k := a.Labels.String()
			seen[k] = append(seen[k], point{a.T, a.V})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	two := fam("up_ish", collector.Gauge, []string{"gpu"},
		collector.Sample{LabelValues: []string{"0"}, Value: 1},
		collector.Sample{LabelValues: []string{"1"}, Value: 2})
	one := fam("up_ish", collector.Gauge, []string{"gpu"},
		collector.Sample{LabelValues: []string{"0"}, Value: 3})
	s.Consume(ctx, snap(base, two))
	s.Consume(ctx, snap(base.Add(time.Second), one))
	s.Consume(ctx, snap(base.Add(2*time.Second)))
	if calls != 3 {
		t.Errorf("OnCommit called %d times, want 3", calls)
	}
	got := readAll(t, s.Queryable(), "up_ish|up|scrape_.+")
	if len(got) != len(seen) {
		t.Fatalf("hook saw %d series, TSDB has %d", len(seen), len(got))
	}
	for k, pts := range got {
		if fmt.Sprintf("%v", pts) != fmt.Sprintf("%v", seen[k]) {
			t.Errorf("%s: TSDB %v, hook %v", k, pts, seen[k])
		}
	}
}

// TestAppend checks pushed samples: stored at their own times, handed to
// OnCommit, refused ones (out of order) reported without losing the rest.
func TestAppend(t *testing.T) {
	var hooked int
	s, err := Open(Options{Dir: t.TempDir(), Instance: "node1:9400", OnCommit: func(b []Appended) { hooked += len(b) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	lset := labels.FromStrings("__name__", "training_loss", "job", "mnist", "run", "r1")
	other := labels.FromStrings("__name__", "learning_rate", "job", "mnist", "run", "r1")
	if err := s.Append(ctx, []Appended{{lset, ms(base), 0.5}, {lset, ms(base.Add(time.Second)), math.NaN()}, {other, ms(base), 3e-4}}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	err = s.Append(ctx, []Appended{{lset, ms(base), 0.7}, {lset, ms(base.Add(2 * time.Second)), 0.25}})
	var ae *AppendError
	if !errors.As(err, &ae) || ae.Rejected != 1 || !errors.Is(err, storage.ErrOutOfOrderSample) && !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
		t.Fatalf("Append of an old sample = %v, want one refusal", err)
	}
	got := readAll(t, s.Queryable(), "training_loss")
	pts := got[lset.String()]
	if len(pts) != 3 || pts[0].V != 0.5 || !math.IsNaN(pts[1].V) || pts[2].V != 0.25 {
		t.Errorf("training_loss = %v, want 0.5, NaN, 0.25", pts)
	}
	if hooked != 4 {
		t.Errorf("OnCommit saw %d samples, want 4", hooked)
	}
	if err := s.Append(ctx, nil); err != nil {
		t.Errorf("empty Append: %v", err)
	}
}

// TestOpenAllocatesLittle: opening the store allocates far less than a
// TSDB with Prometheus' defaults, whose head is sized for millions of
// series (16,384 series-map shards: 3.4 MB at start).
func TestOpenAllocatesLittle(t *testing.T) {
	allocated := func(open func(dir string) io.Closer) uint64 {
		dir := t.TempDir()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := open(dir)
		runtime.ReadMemStats(&after)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	ours := allocated(func(dir string) io.Closer { return openTest(t, dir) })
	defaults := allocated(func(dir string) io.Closer {
		db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
	t.Logf("Open allocated %d KiB; a TSDB with Prometheus' defaults %d KiB", ours>>10, defaults>>10)
	if ours*2 > defaults {
		t.Errorf("Open allocated %d KiB, not under half of the %d KiB of a TSDB with Prometheus' defaults", ours>>10, defaults>>10)
	}
}
