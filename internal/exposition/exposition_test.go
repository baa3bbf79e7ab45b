package exposition

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"strings"
	"testing"

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
