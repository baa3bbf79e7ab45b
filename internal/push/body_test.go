package push

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
)

// pythonText is what prometheus_client's generate_latest writes for a
// training script's registry (with a NaN loss).
const pythonText = `# HELP train_loss Training loss.
# TYPE train_loss gauge
train_loss{gpu="0"} NaN
train_loss{gpu="1"} 0.25
# HELP tokens_total Tokens processed.
# TYPE tokens_total counter
tokens_total 1.2e+06
# HELP step_seconds Step time.
# TYPE step_seconds histogram
step_seconds_bucket{le="0.1"} 1.0
step_seconds_bucket{le="1.0"} 2.0
step_seconds_bucket{le="+Inf"} 3.0
step_seconds_count 3.0
step_seconds_sum 1.5
# HELP data_wait_seconds Data loader wait.
# TYPE data_wait_seconds summary
data_wait_seconds{quantile="0.5"} 0.2
data_wait_seconds_count 10.0
data_wait_seconds_sum 2.0
# HELP tokens_created Tokens processed.
# TYPE tokens_created gauge
tokens_created 1.7e+09
`

// wantPython is what pythonText stores for the group {job="train",run="r1"}.
func wantPython() map[string]float64 {
	b := []string{"job", "train", "run", "r1"}
	with := func(kv ...string) string { return ser(append(append([]string{}, b...), kv...)...) }
	return map[string]float64{
		with("__name__", "train_loss", "gpu", "0"):               math.NaN(),
		with("__name__", "train_loss", "gpu", "1"):               0.25,
		with("__name__", "tokens_total"):                         1.2e6,
		with("__name__", "step_seconds_bucket", "le", "0.1"):     1,
		with("__name__", "step_seconds_bucket", "le", "1.0"):     2,
		with("__name__", "step_seconds_bucket", "le", "+Inf"):    3,
		with("__name__", "step_seconds_count"):                   3,
		with("__name__", "step_seconds_sum"):                     1.5,
		with("__name__", "data_wait_seconds", "quantile", "0.5"): 0.2,
		with("__name__", "data_wait_seconds_count"):              10,
		with("__name__", "data_wait_seconds_sum"):                2,
		with("__name__", "tokens_created"):                       1.7e9,
		with("__name__", "push_time_seconds"):                    testEpoch,
		with("__name__", "push_failure_time_seconds"):            0,
	}
}

func TestBodyFormats(t *testing.T) {
	job := []string{"job", "j"}
	w := func(kv ...string) string { return ser(append(append([]string{}, job...), kv...)...) }
	pushTimes := map[string]float64{w("__name__", "push_time_seconds"): testEpoch, w("__name__", "push_failure_time_seconds"): 0}
	merge := func(m map[string]float64) map[string]float64 {
		for k, v := range pushTimes {
			m[k] = v
		}
		return m
	}

	textBody := `# HELP g A gauge with "quotes" and a \\ backslash and a \n newline.
# TYPE g gauge
g{path="a\"b\\c\nd",x="1",} +Inf
g{path="other",x="2"} -Inf
u{a="1"} NaN
   # a comment
	u{a="2"}    7

# TYPE n untyped
n 1e-3
# TYPE c counter
c_total 3
`
	omBody := `# TYPE tokens counter
# HELP tokens Tokens processed.
tokens_total 5
tokens_created 1.7e+09
# TYPE build info
build_info{version="1.2"} 1
# TYPE phase stateset
phase{phase="train"} 1
phase{phase="eval"} 0
# TYPE lr gauge
# UNIT lr 
lr 0.001
# TYPE lat histogram
lat_bucket{le="0.5"} 1
lat_bucket{le="+Inf"} 2
lat_count 2
lat_sum 0.7
lat_created 1.7e+09
# TYPE q unknown
q NaN
# TYPE gh gaugehistogram
gh_bucket{le="1.0"} 1
gh_bucket{le="+Inf"} 2
gh_gcount 2
gh_gsum 3
# EOF
`
	protoFams := []*dto.MetricFamily{
		{Name: ptr("loss"), Help: ptr("Loss."), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{
			{Label: []*dto.LabelPair{lp("gpu", "0")}, Gauge: &dto.Gauge{Value: ptr(math.NaN())}},
			{Label: []*dto.LabelPair{lp("gpu", "1"), lp("job", "overwritten"), lp("empty", "")}, Gauge: &dto.Gauge{Value: ptr(math.Inf(-1))}},
		}},
		{Name: ptr("steps_total"), Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{{Counter: &dto.Counter{Value: ptr(42.0)}}}},
		{Name: ptr("step_seconds"), Type: dto.MetricType_HISTOGRAM.Enum(), Metric: []*dto.Metric{{Histogram: &dto.Histogram{
			SampleCount: ptr(uint64(3)), SampleSum: ptr(1.5),
			Bucket: []*dto.Bucket{{UpperBound: ptr(0.1), CumulativeCount: ptr(uint64(1))}, {UpperBound: ptr(1.0), CumulativeCount: ptr(uint64(2))}},
		}}}},
		{Name: ptr("wait"), Type: dto.MetricType_SUMMARY.Enum(), Metric: []*dto.Metric{{Summary: &dto.Summary{
			SampleCount: ptr(uint64(10)), SampleSum: ptr(2.0), Quantile: []*dto.Quantile{{Quantile: ptr(0.5), Value: ptr(0.2)}},
		}}}},
		{Name: ptr("raw"), Type: dto.MetricType_UNTYPED.Enum(), Metric: []*dto.Metric{{Untyped: &dto.Untyped{Value: ptr(1.0)}}}},
		{Name: ptr("dropped"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: ptr(1.0)}}}},
		// Repeated: replaces the family above, as in the Pushgateway.
		{Name: ptr("dropped"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: ptr(2.0)}}}},
	}
	protoWant := merge(map[string]float64{
		w("__name__", "loss", "gpu", "0"):                  math.NaN(),
		w("__name__", "loss", "gpu", "1"):                  math.Inf(-1),
		w("__name__", "steps_total"):                       42,
		w("__name__", "step_seconds_bucket", "le", "0.1"):  1,
		w("__name__", "step_seconds_bucket", "le", "1.0"):  2,
		w("__name__", "step_seconds_bucket", "le", "+Inf"): 3,
		w("__name__", "step_seconds_sum"):                  1.5,
		w("__name__", "step_seconds_count"):                3,
		w("__name__", "wait", "quantile", "0.5"):           0.2,
		w("__name__", "wait_sum"):                          2,
		w("__name__", "wait_count"):                        10,
		w("__name__", "raw"):                               1,
		w("__name__", "dropped"):                           2,
	})

	for _, tc := range []struct {
		name, ct string
		body     []byte
		want     map[string]float64
	}{
		{name: "text", ct: ctText, body: []byte(textBody), want: merge(map[string]float64{
			w("__name__", "g", "path", "a\"b\\c\nd", "x", "1"): math.Inf(1),
			w("__name__", "g", "path", "other", "x", "2"):      math.Inf(-1),
			w("__name__", "u", "a", "1"):                       math.NaN(),
			w("__name__", "u", "a", "2"):                       7,
			w("__name__", "n"):                                 0.001,
			w("__name__", "c_total"):                           3,
		})},
		{name: "text without content type", ct: "", body: []byte("x 1\n"), want: merge(map[string]float64{w("__name__", "x"): 1})},
		{name: "python client", ct: ctText, body: []byte(pythonText), want: func() map[string]float64 {
			m := map[string]float64{}
			for k, v := range wantPython() {
				k = strings.Replace(k, `, run="r1"`, "", 1)
				k = strings.Replace(k, `job="train"`, `job="j"`, 1)
				m[k] = v
			}
			return m
		}()},
		{name: "openmetrics", ct: ctOM, body: []byte(omBody), want: merge(map[string]float64{
			w("__name__", "tokens_total"):                 5,
			w("__name__", "tokens_created"):               1.7e9,
			w("__name__", "build_info", "version", "1.2"): 1,
			w("__name__", "phase", "phase", "train"):      1,
			w("__name__", "phase", "phase", "eval"):       0,
			w("__name__", "lr"):                           0.001,
			w("__name__", "lat_bucket", "le", "0.5"):      1,
			w("__name__", "lat_bucket", "le", "+Inf"):     2,
			w("__name__", "lat_count"):                    2,
			w("__name__", "lat_sum"):                      0.7,
			w("__name__", "lat_created"):                  1.7e9,
			w("__name__", "q"):                            math.NaN(),
			w("__name__", "gh_bucket", "le", "1.0"):       1,
			w("__name__", "gh_bucket", "le", "+Inf"):      2,
			w("__name__", "gh_gcount"):                    2,
			w("__name__", "gh_gsum"):                      3,
		})},
		{name: "protobuf", ct: ctProto, body: protoBody(t, protoFams...), want: protoWant},
		{name: "empty body", ct: ctText, body: nil, want: merge(map[string]float64{})},
	} {
		for _, zip := range []bool{false, true} {
			name := tc.name
			if zip {
				name += " gzip"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				body := tc.body
				hdr := []string{"Content-Type", tc.ct}
				if zip {
					body = gz(t, body)
					hdr = append(hdr, "Content-Encoding", "gzip")
				}
				if body == nil {
					body = []byte{}
				}
				w := e.do(http.MethodPut, "/metrics/job/j", body, hdr...)
				if w.Code != http.StatusOK {
					t.Fatalf("got %d %q", w.Code, w.Body.String())
				}
				got := e.stored("job", "j")
				gotLast := map[string]float64{}
				for k, pts := range got {
					if len(pts) != 1 || pts[0].T != testEpoch*1000 {
						t.Errorf("%s: samples %v, want one at push time %d", k, pts, testEpoch*1000)
					}
					gotLast[k] = pts[len(pts)-1].V
				}
				sameValues(t, gotLast, tc.want)
			})
		}
	}
}

// TestOpenMetricsCounterType checks that the family of an OpenMetrics
// counter is named by its _total series, so that a text push of the same
// counter (named with _total) is the same metric.
func TestOpenMetricsCounterType(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/a", ctOM, "# TYPE tokens counter\ntokens_total 5\n# EOF\n", http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/b", ctText, "# TYPE tokens_total counter\ntokens_total 7\n", http.StatusOK)
	w := e.push(http.MethodPut, "/metrics/job/c", ctText, "# TYPE tokens_total gauge\ntokens_total 7\n", http.StatusBadRequest)
	if !strings.Contains(w.Body.String(), `metric "tokens_total" is pushed as a gauge but is a counter in group {job="a"}`) {
		t.Fatalf("message %q", w.Body.String())
	}
	txt := e.text()
	for _, want := range []string{"# TYPE tokens_total counter\n", `tokens_total{instance="",job="a"} 5`, `tokens_total{instance="",job="b"} 7`} {
		if !strings.Contains(txt, want) {
			t.Errorf("exposition lacks %q:\n%s", want, txt)
		}
	}
}

func TestRejectedBodies(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		code           int
		err            string
	}{
		{"missing final newline", ctText, "x 1", 400, "does not end with a newline"},
		{"CRLF", ctText, "x 1\r\ny 2\r\n", 400, `line 1 ends with "\r\n"`},
		{"bad value", ctText, "x one\n", 400, "text format 0.0.4 body"},
		{"bad value OM", ctOM, "x one\n# EOF\n", 400, "OpenMetrics body"},
		{"OM without EOF", ctOM, "# TYPE x gauge\nx 1\n", 400, "# EOF"},
		{"OM data after EOF", ctOM, "x 1\n# EOF\ny 2\n", 400, "after # EOF"},
		{"duplicate series", ctText, "x{a=\"1\"} 1\nx{a=\"1\"} 2\n", 400, `series {__name__="x", a="1", job="j"} appears twice in the push`},
		{"duplicate after grouping key", ctText, "x{job=\"a\"} 1\nx{job=\"b\"} 2\n", 400, "appears twice in the push"},
		{"duplicate with empty label", ctText, "x{a=\"\"} 1\nx 2\n", 400, "appears twice"},
		{"duplicate label", ctText, "x{a=\"1\",a=\"2\"} 1\n", 400, `label "a" appears twice`},
		{"timestamp", ctText, "x 1 1700000000000\n", 400, "has a timestamp (1700000000000)"},
		{"timestamp OM", ctOM, "x 1 1700000000\n# EOF\n", 400, "has a timestamp"},
		{"reserved name", ctText, "node_load1 3\n", 400, `metric name "node_load1" is reserved for the agent's own metrics`},
		{"reserved trainwatch", ctText, "trainwatch_push_groups 3\n", 400, "reserved"},
		{"reserved up", ctText, "up 1\n", 400, `"up" is reserved`},
		{"reserved push_time_seconds", ctText, "push_time_seconds 1\n", 400, `"push_time_seconds" is reserved: the receiver sets it`},
		{"reserved histogram suffix", ctText, "# TYPE node_x histogram\nnode_x_bucket{le=\"+Inf\"} 1\n", 400, "reserved"},
		{"reserved label prefix", ctText, "x{__meta=\"1\"} 1\n", 400, `label name "__meta" is reserved`},
		{"invalid metric name", ctText, "1x 1\n", 400, "text format 0.0.4 body"},
		{"invalid label name", ctText, "x{1a=\"1\"} 1\n", 400, "text format 0.0.4 body"},
		{"invalid UTF-8 label value", ctText, "x{a=\"\xff\"} 1\n", 400, "UTF-8"},
		{"second TYPE", ctText, "# TYPE x gauge\n# TYPE x counter\nx 1\n", 400, `second TYPE line for metric "x"`},
		{"TYPE after samples", ctText, "x 1\n# TYPE x gauge\n", 400, `TYPE line for metric "x" comes after its samples`},
		{"bad type", ctText, "# TYPE x thing\nx 1\n", 400, `invalid metric type "thing"`},
		{"histogram bucket without le", ctText, "# TYPE h histogram\nh_bucket 1\n", 400, "has no le label"},
		{"histogram le not a number", ctText, "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 400, `le="x" is not a number`},
		{"histogram plain sample", ctText, "# TYPE h histogram\nh 1\n", 400, `sample "h" cannot belong to the histogram "h"`},
		{"summary without quantile", ctText, "# TYPE s summary\ns 1\n", 400, "has no quantile label"},
		{"sample name collision", ctText, "# TYPE h histogram\nh_sum 1\n# TYPE h_count gauge\nh_count 1\n", 400, `the histogram "h" and the gauge "h_count" in the push both produce series named "h_count"`},
		{"family collision", ctText, "# TYPE h histogram\nh_sum 1\n# TYPE h_bucket gauge\nh_bucket 1\n", 400, `both produce series named "h_bucket"`},
		{"protobuf garbage", ctProto, "\x05\xff\xff\xff\xff\xff", 400, "delimited protobuf body"},
		{"protobuf forged length", ctProto, "\x8b\x8b\x8b\x8b1\x8b\x8b\x8b\x8b\x8b", 400, "delimited protobuf body: message 1"},
		{"protobuf native histogram", ctProto, string(protoBody(t, &dto.MetricFamily{Name: ptr("nh"), Type: dto.MetricType_HISTOGRAM.Enum(), Metric: []*dto.Metric{{Histogram: &dto.Histogram{
			SampleCount: ptr(uint64(1)), Schema: ptr(int32(3)), ZeroThreshold: ptr(1e-9), PositiveSpan: []*dto.BucketSpan{{Offset: ptr(int32(0)), Length: ptr(uint32(1))}}, PositiveDelta: []int64{1},
		}}}})), 400, "native histogram, which is not supported"},
		{"protobuf timestamp", ctProto, string(protoBody(t, &dto.MetricFamily{Name: ptr("g"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: ptr(1.0)}, TimestampMs: ptr(int64(5))}}})), 400, "has a timestamp (5)"},
		{"protobuf type without value", ctProto, string(protoBody(t, &dto.MetricFamily{Name: ptr("g"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Counter: &dto.Counter{Value: ptr(1.0)}}}})), 400, "declared gauge but carries no gauge value"},
		{"protobuf duplicate label", ctProto, string(protoBody(t, &dto.MetricFamily{Name: ptr("g"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Label: []*dto.LabelPair{lp("a", "1"), lp("a", "2")}, Gauge: &dto.Gauge{Value: ptr(1.0)}}}})), 400, `label "a" appears twice`},
		{"protobuf invalid name", ctProto, string(protoBody(t, &dto.MetricFamily{Name: ptr(""), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: ptr(1.0)}}}})), 400, `invalid metric name ""`},
		{"protobuf wrong params", "application/vnd.google.protobuf; encoding=text", "x", 415, "delimited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.push(http.MethodPut, "/metrics/job/j", ctText, "keep 1\n", http.StatusOK)
			before := e.stored("job", "j")
			exp := e.text()
			e.advance(1e9)
			w := e.push(http.MethodPut, "/metrics/job/j", tc.ct, tc.body, tc.code)
			if !strings.Contains(w.Body.String(), tc.err) {
				t.Fatalf("message %q does not contain %q", w.Body.String(), tc.err)
			}
			// Nothing changed but push_failure_time_seconds.
			after := e.stored("job", "j")
			for k, pts := range before {
				if strings.Contains(k, "push_") {
					continue
				}
				if len(after[k]) != len(pts) || after[k][0] != pts[0] {
					t.Errorf("%s changed: %v -> %v", k, pts, after[k])
				}
			}
			fail := after[ser("__name__", "push_failure_time_seconds", "job", "j")]
			if len(fail) != 2 || fail[1].V != testEpoch+1 || fail[1].T != (testEpoch+1)*1000 {
				t.Errorf("push_failure_time_seconds = %v, want a second sample %d at the failure", fail, testEpoch+1)
			}
			exp2 := e.text()
			if strings.Replace(exp2, "push_failure_time_seconds{instance=\"\",job=\"j\"} 1.800000001e+09", "push_failure_time_seconds{instance=\"\",job=\"j\"} 0", 1) != exp {
				t.Errorf("exposition changed:\n%s\nwas:\n%s", exp2, exp)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	t.Run("oversized body", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 100 })
		w := e.push(http.MethodPut, "/metrics/job/j", ctText, strings.Repeat("x 1\n", 30), http.StatusRequestEntityTooLarge)
		if !strings.Contains(w.Body.String(), "limit of 100 bytes") {
			t.Fatalf("message %q", w.Body.String())
		}
	})
	t.Run("oversized chunked body", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 100 })
		r, _ := http.NewRequest(http.MethodPut, testPrefix+"/metrics/job/j", strings.NewReader(strings.Repeat("x 1\n", 30)))
		r.ContentLength = -1
		w := httptest.NewRecorder()
		e.gw.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 1 << 20 })
		bomb := gz(t, make([]byte, 64<<20))
		if len(bomb) > 1<<20 {
			t.Fatalf("bomb is %d bytes", len(bomb))
		}
		w := e.do(http.MethodPut, "/metrics/job/j", bomb, "Content-Encoding", "gzip")
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "decompresses to more than the limit of 1048576 bytes") {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		e := newEnv(t)
		w := e.do(http.MethodPut, "/metrics/job/j", []byte("not gzip"), "Content-Encoding", "gzip")
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "not valid gzip") {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
	})
	t.Run("unknown encoding", func(t *testing.T) {
		e := newEnv(t)
		w := e.do(http.MethodPut, "/metrics/job/j", []byte("x 1\n"), "Content-Encoding", "br")
		if w.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
	})
	t.Run("series per group", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxSeriesPerGroup = 3 })
		e.push(http.MethodPut, "/metrics/job/j", ctText, "a 1\nb 1\n", http.StatusOK)
		e.advance(1e9)
		w := e.push(http.MethodPost, "/metrics/job/j", ctText, "c 1\nd 1\n", http.StatusBadRequest)
		if !strings.Contains(w.Body.String(), `group {job="j"} would hold 4 series, more than the limit of 3`) {
			t.Fatalf("message %q", w.Body.String())
		}
		// A PUT of 3 replaces the 2, and a POST replacing a family fits.
		e.push(http.MethodPut, "/metrics/job/j", ctText, "c 1\nd 1\ne 1\n", http.StatusOK)
		e.push(http.MethodPost, "/metrics/job/j", ctText, "e 2\n", http.StatusOK)
		e.push(http.MethodPut, "/metrics/job/j", ctText, "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 1\n", http.StatusBadRequest)
	})
	t.Run("groups", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxGroups = 2 })
		e.push(http.MethodPut, "/metrics/job/a", ctText, "x 1\n", http.StatusOK)
		e.push(http.MethodPut, "/metrics/job/b", ctText, "x 1\n", http.StatusOK)
		w := e.push(http.MethodPut, "/metrics/job/c", ctText, "x 1\n", http.StatusTooManyRequests)
		if !strings.Contains(w.Body.String(), "already holds 2 groups, its limit") {
			t.Fatalf("message %q", w.Body.String())
		}
		// A failed push to a new group does not create it past the limit.
		e.push(http.MethodPut, "/metrics/job/c", ctText, "x", http.StatusBadRequest)
		if n := len(e.gw.Groups()); n != 2 {
			t.Fatalf("%d groups", n)
		}
		e.push(http.MethodPut, "/metrics/job/a", ctText, "x 2\n", http.StatusOK)
		e.push(http.MethodDelete, "/metrics/job/b", "", "", http.StatusAccepted)
		e.push(http.MethodPut, "/metrics/job/c", ctText, "x 1\n", http.StatusOK)
	})
}

func TestMethodsAndPaths(t *testing.T) {
	e := newEnv(t)
	w := e.do(http.MethodGet, "/metrics/job/j", nil)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "PUT, POST, DELETE" {
		t.Fatalf("GET: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := e.do(http.MethodPatch, "/metrics/job/j", []byte("x 1\n")); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("PATCH: %d", w.Code)
	}
	if w := e.do(http.MethodPut, "/metrics/other", []byte("x 1\n")); w.Code != http.StatusNotFound {
		t.Fatalf("other path: %d", w.Code)
	}
	w = e.do(http.MethodPut, "/metrics/job/j/gpu/0/gpu/1", []byte("x 1\n"))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `grouping key: label "gpu" appears twice in the path`) {
		t.Fatalf("duplicate label: %d %q", w.Code, w.Body.String())
	}
	w = e.do(http.MethodDelete, "/metrics/job/j", []byte("x 1\n"))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "DELETE must have an empty body") {
		t.Fatalf("DELETE with body: %d %q", w.Code, w.Body.String())
	}
	if len(e.gw.Groups()) != 0 {
		t.Fatalf("bad requests created groups: %v", e.gw.Groups())
	}
	// A "+" from quote_plus stays in the value; the base64 form of a "/".
	e.push(http.MethodPut, "/metrics/job/j/run/my+run/path@base64/L3Zhci90bXA", ctText, "x 1\n", http.StatusOK)
	got := e.last("__name__", "x")
	sameValues(t, got, map[string]float64{ser("__name__", "x", "job", "j", "run", "my+run", "path", "/var/tmp"): 1})
}

// TestDataFiles pushes the bodies under testdata/ as a client would.
func TestDataFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.prom")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			w := e.do(http.MethodPut, "/metrics/job/train/run/r1", b, "Content-Type", ctText)
			if w.Code != http.StatusOK {
				t.Fatalf("%d %q", w.Code, w.Body.String())
			}
			if len(e.stored("job", "train")) == 0 {
				t.Fatal("nothing stored")
			}
		})
	}
}

// FuzzParseBody checks that no body makes the parsers panic and that every
// accepted body yields complete, valid, duplicate-free series.
func FuzzParseBody(f *testing.F) {
	f.Add([]byte(pythonText), uint8(0))
	f.Add([]byte("x{a=\"1\",} 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n"), uint8(0))
	f.Add([]byte("# TYPE c counter\nc_total 1\nc_created 2\n# EOF\n"), uint8(1))
	f.Add(protoBody(f, &dto.MetricFamily{Name: ptr("g"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: ptr(1.0)}}}}), uint8(2))
	gk := labels.FromStrings("job", "j", "run", "r")
	f.Fuzz(func(t *testing.T, body []byte, format uint8) {
		bp := newBodyParser(gk, false)
		fams, err := bp.parse(body, bodyFormat(format%3))
		if err != nil {
			return
		}
		checkParsed(t, fams)
	})
}

// checkParsed checks a parsed body that the push checks accept: every
// series carries the grouping key job="j", run="r" and its name, has no
// label twice and no staleness marker, and the samples are counted right.
func checkParsed(t *testing.T, fams []Family) {
	t.Helper()
	c, err := checkPush(fams, reservedForTest)
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error")
		}
		return
	}
	{
		n := 0
		for _, f := range c.fams {
			for _, s := range f.Samples {
				n++
				if s.Labels.Get("job") != "j" || s.Labels.Get("run") != "r" || s.Labels.Get("__name__") != s.Name {
					t.Fatalf("series %s lacks the grouping key or its name %q", s.Labels, s.Name)
				}
				if _, dup := s.Labels.HasDuplicateLabelNames(); dup {
					t.Fatalf("duplicate label names in %s", s.Labels)
				}
				if isStale(s.Value) {
					t.Fatalf("a pushed value is a staleness marker: %s", s.Labels)
				}
			}
		}
		if n != c.samples {
			t.Fatalf("counted %d samples, have %d", c.samples, n)
		}
	}
}

// FuzzProtoBody builds well-formed delimited protobuf pushes from fuzzed
// fields (a family of any type, name, labels, values, bucket bounds and
// counts, timestamps), which byte mutations of a protobuf body seldom
// reach: parsing never panics, a refusal says why, and an accepted body
// yields valid series (checkParsed) whose plain values are the pushed
// ones.
func FuzzProtoBody(f *testing.F) {
	f.Add("batch_seconds", uint8(dto.MetricType_HISTOGRAM), "gpu", "0", "1", 0.5, 0.1, uint64(2), uint64(1), int64(0), false)
	f.Add("loss", uint8(dto.MetricType_GAUGE), "gpu", "0", "0", math.NaN(), 0.0, uint64(0), uint64(0), int64(1764350000000), true)
	f.Add("tokens_total", uint8(dto.MetricType_COUNTER), "le", "x", "y", -1.0, 0.0, uint64(0), uint64(0), int64(0), false)
	f.Add("s", uint8(dto.MetricType_SUMMARY), "quantile", "0.5", "0.9", 1.0, 0.5, uint64(3), uint64(0), int64(0), false)
	f.Add("h", uint8(dto.MetricType_GAUGE_HISTOGRAM), "job", "other", "", math.Inf(1), math.Inf(1), uint64(1), uint64(5), int64(-1), true)
	f.Add("u", uint8(dto.MetricType_UNTYPED), "__name__", "x", "x", 1e308, 0.0, uint64(0), uint64(0), int64(0), true)
	gk := labels.FromStrings("job", "j", "run", "r")
	f.Fuzz(func(t *testing.T, name string, typ uint8, lname, v1, v2 string, value, bound float64, count, cum uint64, ts int64, twice bool) {
		mt := dto.MetricType(int32(typ) % 6)
		metric := func(lv string) *dto.Metric {
			m := &dto.Metric{Label: []*dto.LabelPair{lp(lname, lv)}}
			if ts != 0 {
				m.TimestampMs = ptr(ts)
			}
			switch mt {
			case dto.MetricType_COUNTER:
				m.Counter = &dto.Counter{Value: ptr(value)}
			case dto.MetricType_GAUGE:
				m.Gauge = &dto.Gauge{Value: ptr(value)}
			case dto.MetricType_UNTYPED:
				m.Untyped = &dto.Untyped{Value: ptr(value)}
			case dto.MetricType_SUMMARY:
				m.Summary = &dto.Summary{SampleCount: ptr(count), SampleSum: ptr(value),
					Quantile: []*dto.Quantile{{Quantile: ptr(bound), Value: ptr(value)}}}
			default: // the histograms
				m.Histogram = &dto.Histogram{SampleCount: ptr(count), SampleSum: ptr(value),
					Bucket: []*dto.Bucket{{UpperBound: ptr(bound), CumulativeCount: ptr(cum)}}}
			}
			return m
		}
		mf := &dto.MetricFamily{Name: ptr(name), Type: mt.Enum(), Metric: []*dto.Metric{metric(v1)}}
		if twice {
			mf.Metric = append(mf.Metric, metric(v2))
		}
		body := protoBody(t, mf)
		bp := newBodyParser(gk, true)
		fams, err := bp.parse(body, formatProtobuf)
		if err != nil {
			if err.Error() == "" || fams != nil {
				t.Fatalf("error %q with %d families", err, len(fams))
			}
			return
		}
		checkParsed(t, fams)
		if mt != dto.MetricType_COUNTER && mt != dto.MetricType_GAUGE && mt != dto.MetricType_UNTYPED {
			return
		}
		for _, fam := range fams {
			for _, smp := range fam.Samples {
				if smp.Value != value && !(math.IsNaN(smp.Value) && math.IsNaN(value)) {
					t.Fatalf("%s: value %v, pushed %v", smp.Labels, smp.Value, value)
				}
			}
		}
	})
}
