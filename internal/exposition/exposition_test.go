package exposition

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func sampleFamilies() []*collector.Family {
	return []*collector.Family{
		{Desc: collector.NewDesc("node_load1", "1m load average.", collector.Gauge), Samples: []collector.Sample{{Value: 0.5}}},
		{Desc: collector.NewDesc("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", collector.Counter, "mode", "cpu"),
			Samples: []collector.Sample{{LabelValues: []string{"idle", "0"}, Value: 12.5}}},
		{Desc: collector.NewDesc("node_netstat_Tcp_CurrEstab", "Statistic TcpCurrEstab.", collector.Untyped), Samples: []collector.Sample{{Value: 3}}},
		{Desc: collector.NewDesc("empty", "No samples.", collector.Gauge)},
		{Desc: collector.NewDesc("rpc_seconds", "A summary.", collector.Summary), Samples: []collector.Sample{{Dist: &collector.Distribution{Count: 2, Sum: 3, Quantiles: []collector.Quantile{{Quantile: 0.5, Value: 1}}}}}},
		{Desc: collector.NewDesc("req_seconds", "A histogram.", collector.Histogram), Samples: []collector.Sample{{Dist: &collector.Distribution{Count: 2, Sum: 3, Buckets: []collector.Bucket{{UpperBound: 1, Count: 1}, {UpperBound: math.Inf(1), Count: 2}}}}}},
	}
}

func TestText(t *testing.T) {
	b, err := Text(sampleFamilies())
	if err != nil {
		t.Fatal(err)
	}
	want := `# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.5
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 12.5
# HELP node_netstat_Tcp_CurrEstab Statistic TcpCurrEstab.
# TYPE node_netstat_Tcp_CurrEstab untyped
node_netstat_Tcp_CurrEstab 3
# HELP rpc_seconds A summary.
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 1
rpc_seconds_sum 3
rpc_seconds_count 2
# HELP req_seconds A histogram.
# TYPE req_seconds histogram
req_seconds_bucket{le="1"} 1
req_seconds_bucket{le="+Inf"} 2
req_seconds_sum 3
req_seconds_count 2
`
	if string(b) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b, want)
	}
}

func TestRoundTripThroughDTO(t *testing.T) {
	in := sampleFamilies()
	out := FromDTO(ToDTO(in))
	a, _ := Text(in)
	b, _ := Text(out)
	if !bytes.Equal(a, b) {
		t.Fatalf("round trip changed the exposition:\n%s\nvs\n%s", a, b)
	}
}

func TestCacheEncodesOncePerFormat(t *testing.T) {
	c := NewCache(sampleFamilies())
	om := expfmt.NewFormat(expfmt.TypeOpenMetrics)
	b1, err := c.Bytes(om, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b1), "# EOF\n") || !strings.Contains(string(b1), "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12.5") {
		t.Fatalf("OpenMetrics output:\n%s", b1)
	}
	b2, _ := c.Bytes(om, false)
	if &b1[0] != &b2[0] {
		t.Fatal("second request re-encoded instead of using the cache")
	}
	gz, err := c.Bytes(expfmt.NewFormat(expfmt.TypeTextPlain), true)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	text, _ := Text(sampleFamilies())
	if !bytes.Equal(plain, text) {
		t.Fatal("gzip body differs from the text encoding")
	}
}

// TestEncoderWarm: Warm makes ahead exactly the encodings asked of the
// encoder within the window, and they equal what a request would make;
// caches sharing an encoder (pooled gzip writers, size hints) encode
// exactly as a fresh one does.
func TestEncoderWarm(t *testing.T) {
	om := expfmt.NewFormat(expfmt.TypeOpenMetrics)
	text := expfmt.NewFormat(expfmt.TypeTextPlain)
	now := time.Unix(1000, 0)
	enc := NewEncoder(func() time.Time { return now })
	tests := []struct {
		name   string
		ask    []cacheKey // asked of an earlier cache, at now-age
		age    time.Duration
		window time.Duration
		want   []cacheKey // made by Warm
	}{
		{"nothing asked", nil, 0, 3 * time.Second, nil},
		{"asked within the window", []cacheKey{{om, true}}, time.Second, 3 * time.Second, []cacheKey{{om, true}}},
		{"two formats", []cacheKey{{om, true}, {text, false}}, 2 * time.Second, 3 * time.Second, []cacheKey{{om, true}, {text, false}}},
		{"asked too long ago", []cacheKey{{text, true}}, 10 * time.Second, 3 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc.mu.Lock()
			enc.asked = map[cacheKey]time.Time{}
			enc.mu.Unlock()
			for _, k := range tt.ask {
				now = time.Unix(1000, 0).Add(-tt.age)
				if _, err := enc.NewCache(sampleFamilies()).Bytes(k.format, k.gzip); err != nil {
					t.Fatal(err)
				}
			}
			now = time.Unix(1000, 0)
			c := enc.NewCache(sampleFamilies())
			enc.Warm(c, tt.window)
			if len(c.encoded) != len(tt.want) {
				t.Fatalf("Warm made %d encodings, want %d", len(c.encoded), len(tt.want))
			}
			for _, k := range tt.want {
				got, ok := c.encoded[k]
				if !ok {
					t.Fatalf("Warm did not make %v", k)
				}
				want, err := NewCache(sampleFamilies()).Bytes(k.format, k.gzip)
				if err != nil {
					t.Fatal(err)
				}
				if k.gzip {
					got, want = gunzip(t, got), gunzip(t, want)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("warmed %v differs from a fresh encoding:\n%s\nvs\n%s", k, got, want)
				}
			}
		})
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// expfmtText is the reference encoding, through client_model and expfmt.
func expfmtText(t *testing.T, fams []*collector.Family) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range ToDTO(fams) {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestAppendTextMatchesExpfmt(t *testing.T) {
	tricky := []*collector.Family{
		{Desc: collector.NewDesc("esc", "Help with \\ and\nnewline and \"quotes\".", collector.Gauge, "z", "a"),
			Samples: []collector.Sample{
				{LabelValues: []string{`back\slash`, "new\nline \"q\""}, Value: math.Inf(1)},
				{LabelValues: []string{"", "x"}, Value: math.NaN()},
				{LabelValues: []string{"y", "x"}, Value: -0.000123, TimestampMs: 1700000000123},
				{LabelValues: []string{"big", "x"}, Value: 1e21},
			}},
		{Desc: collector.NewDesc("h_with_labels", "", collector.Histogram, "path"), Samples: []collector.Sample{
			{LabelValues: []string{"/"}, Dist: &collector.Distribution{Count: 5, Sum: 0.5, Buckets: []collector.Bucket{{UpperBound: 0.005, Count: 1}, {UpperBound: 0.1, Count: 4}}}},
		}},
		{Desc: collector.NewDesc("s_with_labels", "S.", collector.Summary, "b", "a"), Samples: []collector.Sample{
			{LabelValues: []string{"2", "1"}, Dist: &collector.Distribution{Count: 1, Sum: 2, Quantiles: []collector.Quantile{{Quantile: 0.99, Value: 2}}}},
		}},
	}
	for name, fams := range map[string][]*collector.Family{"sample": sampleFamilies(), "tricky": tricky} {
		t.Run(name, func(t *testing.T) {
			got, want := AppendText(nil, fams), expfmtText(t, fams)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendText differs from expfmt:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// expfmtOpenMetrics is the reference OpenMetrics encoding, through
// client_model and expfmt.
func expfmtOpenMetrics(t *testing.T, fams []*collector.Family) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	for _, mf := range ToDTO(fams) {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestAppendOpenMetricsMatchesExpfmt(t *testing.T) {
	tricky := []*collector.Family{
		{Desc: collector.NewDesc("esc", "Help with \\ and\nnewline and \"quotes\".", collector.Gauge, "z", "a"),
			Samples: []collector.Sample{
				{LabelValues: []string{`back\slash`, "new\nline \"q\""}, Value: math.Inf(1)},
				{LabelValues: []string{"", "x"}, Value: math.NaN()},
				{LabelValues: []string{"y", "x"}, Value: -0.000123, TimestampMs: 1700000000123},
				{LabelValues: []string{"big", "x"}, Value: 1e21},
				{LabelValues: []string{"ints", "x"}, Value: 42},
				{LabelValues: []string{"zero", "x"}, Value: math.Copysign(0, -1)},
				{LabelValues: []string{"one", "x"}, Value: -1},
				{LabelValues: []string{"minf", "x"}, Value: math.Inf(-1), TimestampMs: 1700000000000},
			}},
		{Desc: collector.NewDesc("requests_total", "Counted.", collector.Counter, "code"), Samples: []collector.Sample{
			{LabelValues: []string{"200"}, Value: 7}, {LabelValues: []string{"500"}, Value: 0.5},
		}},
		{Desc: collector.NewDesc("namedprocess_scrape_errors", "A counter without _total.", collector.Counter), Samples: []collector.Sample{{Value: 3}}},
		{Desc: collector.NewDesc("untyped_thing", "", collector.Untyped), Samples: []collector.Sample{{Value: 1}}},
		{Desc: collector.NewDesc("empty_family", "No samples.", collector.Gauge), Samples: nil},
		{Desc: collector.NewDesc("h_with_labels", "", collector.Histogram, "path"), Samples: []collector.Sample{
			{LabelValues: []string{"/"}, Dist: &collector.Distribution{Count: 5, Sum: 0.5, Buckets: []collector.Bucket{{UpperBound: 0.005, Count: 1}, {UpperBound: 1, Count: 4}, {UpperBound: math.Inf(1), Count: 5}}}},
			{LabelValues: []string{"/x"}},
		}},
		{Desc: collector.NewDesc("h", "No labels.", collector.Histogram), Samples: []collector.Sample{
			{Dist: &collector.Distribution{Count: 2, Sum: 3, Buckets: []collector.Bucket{{UpperBound: 10, Count: 2}}}},
		}},
		{Desc: collector.NewDesc("s_with_labels", "S.", collector.Summary, "b", "a"), Samples: []collector.Sample{
			{LabelValues: []string{"2", "1"}, Dist: &collector.Distribution{Count: 1, Sum: 2, Quantiles: []collector.Quantile{{Quantile: 0, Value: 1}, {Quantile: 0.5, Value: 1.5}, {Quantile: 1, Value: 2}}}},
		}},
		{Desc: collector.NewDesc("s", "", collector.Summary), Samples: []collector.Sample{{}}},
	}
	for name, fams := range map[string][]*collector.Family{"sample": sampleFamilies(), "tricky": tricky} {
		t.Run(name, func(t *testing.T) {
			got, want := AppendOpenMetrics(nil, fams), expfmtOpenMetrics(t, fams)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendOpenMetrics differs from expfmt:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// benchFamilies is a tick of about the demo agent's size: 100 families of
// 30 series with three labels each.
func benchFamilies() []*collector.Family {
	var fams []*collector.Family
	for i := range 100 {
		typ := collector.Gauge
		name := fmt.Sprintf("bench_metric_%d", i)
		if i%3 == 0 {
			typ, name = collector.Counter, name+"_total"
		}
		f := &collector.Family{Desc: collector.NewDesc(name, "A benchmark metric with a help text of usual length.", typ, "gpu", "UUID", "modelName")}
		for j := range 30 {
			f.Samples = append(f.Samples, collector.Sample{
				LabelValues: []string{strconv.Itoa(j), fmt.Sprintf("GPU-%08x-1234-5678-9abc-def012345678", j), "NVIDIA H200"},
				Value:       float64(i*j) * 1.25,
			})
		}
		fams = append(fams, f)
	}
	return fams
}

// BenchmarkOpenMetrics compares the direct OpenMetrics encoder with the
// path through client_model and expfmt that it replaced:
// go test -run x -bench OpenMetrics -benchmem ./internal/exposition
func BenchmarkOpenMetrics(b *testing.B) {
	fams := benchFamilies()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = AppendOpenMetrics(buf[:0], fams)
		}
	})
	b.Run("expfmt", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeOpenMetrics))
			for _, mf := range ToDTO(fams) {
				_ = enc.Encode(mf)
			}
			_ = enc.(expfmt.Closer).Close()
		}
	})
}
