package push

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// trainingPush returns a realistic push of a training step: per-layer
// gradient norms on 8 GPUs, per-GPU loss, throughput and memory, and a
// step-time histogram per GPU; about 1,000 series.
func trainingPush() (text string, fams []*dto.MetricFamily, series int) {
	var b bytes.Buffer
	gauge := func(name, help string) *dto.MetricFamily {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		return &dto.MetricFamily{Name: ptr(name), Help: ptr(help), Type: dto.MetricType_GAUGE.Enum()}
	}
	add := func(mf *dto.MetricFamily, v float64, kv ...string) {
		m := &dto.Metric{Gauge: &dto.Gauge{Value: ptr(v)}}
		b.WriteString(mf.GetName())
		b.WriteByte('{')
		for i := 0; i < len(kv); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", kv[i], kv[i+1])
			m.Label = append(m.Label, lp(kv[i], kv[i+1]))
		}
		fmt.Fprintf(&b, "} %g\n", v)
		mf.Metric = append(mf.Metric, m)
		series++
	}
	grad := gauge("train_grad_norm", "Gradient norm per layer.")
	for gpu := range 8 {
		for layer := range 100 {
			add(grad, float64(layer)*0.01+float64(gpu), "gpu", fmt.Sprint(gpu), "layer", fmt.Sprintf("transformer.h.%d.attn", layer))
		}
	}
	fams = append(fams, grad)
	for _, name := range []string{"train_loss", "train_tokens_per_second", "train_gpu_memory_bytes", "train_learning_rate"} {
		mf := gauge(name, "Per-GPU value.")
		for gpu := range 8 {
			v := float64(gpu) * 1.5
			if name == "train_loss" && gpu == 3 {
				v = math.NaN()
			}
			add(mf, v, "gpu", fmt.Sprint(gpu))
		}
		fams = append(fams, mf)
	}
	b.WriteString("# HELP train_step_seconds Step time.\n# TYPE train_step_seconds histogram\n")
	h := &dto.MetricFamily{Name: ptr("train_step_seconds"), Help: ptr("Step time."), Type: dto.MetricType_HISTOGRAM.Enum()}
	bounds := []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	for gpu := range 8 {
		hist := &dto.Histogram{SampleCount: ptr(uint64(1000)), SampleSum: ptr(512.5)}
		for i, ub := range bounds {
			c := uint64(100 * (i + 1))
			hist.Bucket = append(hist.Bucket, &dto.Bucket{UpperBound: ptr(ub), CumulativeCount: ptr(c)})
			fmt.Fprintf(&b, "train_step_seconds_bucket{gpu=\"%d\",le=\"%g\"} %d\n", gpu, ub, c)
		}
		fmt.Fprintf(&b, "train_step_seconds_bucket{gpu=\"%d\",le=\"+Inf\"} 1000\ntrain_step_seconds_sum{gpu=\"%d\"} 512.5\ntrain_step_seconds_count{gpu=\"%d\"} 1000\n", gpu, gpu, gpu)
		h.Metric = append(h.Metric, &dto.Metric{Label: []*dto.LabelPair{lp("gpu", fmt.Sprint(gpu))}, Histogram: hist})
		series += len(bounds) + 3
	}
	fams = append(fams, h)
	return b.String(), fams, series
}

// benchmarkPush PUTs body (with the header name/value pairs hdr) to one
// group again and again, through ServeHTTP into a real store, one second
// of fake time apart, and reports the samples stored per second.
func benchmarkPush(b *testing.B, body []byte, series int, hdr ...string) {
	e := newEnv(b)
	tick := time.Unix(testEpoch, 0)
	e.gw.o.Now = func() time.Time { tick = tick.Add(time.Second); return tick }
	const path = "/metrics/job/train/run/llama-7b-r3/instance/node17:9100"
	push := func() {
		r := httptest.NewRequest(http.MethodPut, testPrefix+path, bytes.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		e.gw.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %q", w.Code, w.Body.String())
		}
	}
	push() // creates the series in the store
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		push()
	}
	b.ReportMetric(float64(b.N*series)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkPushText pushes a training step of about 1,000 series in the
// text format through ServeHTTP into a real store.
func BenchmarkPushText(b *testing.B) {
	text, _, series := trainingPush()
	benchmarkPush(b, []byte(text), series, "Content-Type", ctText)
}

// BenchmarkPushOpenMetrics pushes the same step as OpenMetrics.
func BenchmarkPushOpenMetrics(b *testing.B) {
	text, _, series := trainingPush()
	benchmarkPush(b, []byte(text+"# EOF\n"), series, "Content-Type", ctOM)
}

// BenchmarkPushProtobuf pushes the same step as delimited protobuf.
func BenchmarkPushProtobuf(b *testing.B) {
	_, fams, series := trainingPush()
	benchmarkPush(b, protoBody(b, fams...), series, "Content-Type", ctProto)
}

// BenchmarkPushTextGzip pushes the text step gzip-compressed.
func BenchmarkPushTextGzip(b *testing.B) {
	text, _, series := trainingPush()
	benchmarkPush(b, gz(b, []byte(text)), series, "Content-Type", ctText, "Content-Encoding", "gzip")
}

// BenchmarkParseText compares the parser used here (Prometheus' scrape
// parser, model/textparse, plus grouping and checks) with prometheus/common's
// expfmt.TextParser (what the Pushgateway uses), parsing only.
func BenchmarkParseText(b *testing.B) {
	text, _, series := trainingPush()
	body := []byte(text)
	gk := labels.FromStrings("job", "train", "run", "r")
	b.Run("textparse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fams, err := newBodyParser(gk, false).parse(body, formatText)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := checkPush(fams, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(series*b.N)/b.Elapsed().Seconds(), "samples/s")
	})
	b.Run("expfmt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := expfmt.NewTextParser(model.UTF8Validation)
			if _, err := p.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(series*b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}
