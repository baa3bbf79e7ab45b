package push

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// TestLabelLimits: a series with too many labels, or a name or value too
// long, is refused with 400 in every format, naming the limit; the
// grouping key's labels count.
func TestLabelLimits(t *testing.T) {
	labelsText := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `l%d="v"`, i)
		}
		return "m{" + b.String() + "} 1\n"
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, c := range []struct {
		name, path, body string
		code             int
		says             string
	}{
		// 4 labels allowed: __name__, job and two more.
		{"at the label limit", "/metrics/job/j", labelsText(2), 200, ""},
		{"one label too many", "/metrics/job/j", labelsText(3), 400, "5 labels (the metric name included); the limit is 4 (push.max_labels_per_series)"},
		{"grouping key labels count", "/metrics/job/j/a/1", labelsText(2), 400, "the limit is 4"},
		{"grouping key too many labels", "/metrics/job/j/a/1/b/2/c/3", "m 1\n", 400, "grouping key: 4 labels"},
		{"label name at the limit", "/metrics/job/j", "m{" + long(16) + `="v"} 1` + "\n", 200, ""},
		{"label name too long", "/metrics/job/j", "m{" + long(17) + `="v"} 1` + "\n", 400, "is 17 bytes; the limit is 16 (push.max_label_name_length)"},
		{"metric name too long", "/metrics/job/j", long(17) + " 1\n", 400, "metric name \"aaaaaaaaaaaaaaaaa\" is 17 bytes; the limit is 16"},
		{"label value at the limit", "/metrics/job/j", `m{l="` + long(32) + `"} 1` + "\n", 200, ""},
		{"label value too long", "/metrics/job/j", `m{l="` + long(33) + `"} 1` + "\n", 400, "the value of label \"l\" is 33 bytes; the limit is 32 (push.max_label_value_length)"},
		{"grouping key value too long", "/metrics/job/" + long(33), "m 1\n", 400, "grouping key: the value of label \"job\" is 33 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.MaxLabelsPerSeries, o.MaxLabelNameLength, o.MaxLabelValueLength = 4, 16, 32 })
			w := e.push(http.MethodPut, c.path, ctText, c.body, c.code)
			if !strings.Contains(w.Body.String(), c.says) {
				t.Errorf("body %q does not say %q", w.Body.String(), c.says)
			}
			if c.code != 200 && len(e.stored("__name__", "m")) != 0 {
				t.Errorf("a refused push stored its series")
			}
			if strings.Contains(c.says, "grouping key") && len(e.gw.Groups()) != 0 {
				t.Errorf("a push refused for its grouping key created the group")
			}
		})
	}
	t.Run("protobuf", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxLabelValueLength = 32 })
		mf := &dto.MetricFamily{Name: proto.String("m"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{
			Label: []*dto.LabelPair{{Name: proto.String("l"), Value: proto.String(long(33))}},
			Gauge: &dto.Gauge{Value: proto.Float64(1)},
		}}}
		w := e.do(http.MethodPut, "/metrics/job/j", protoBody(t, mf), "Content-Type", ctProto)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "push.max_label_value_length") {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
	})
	t.Run("defaults", func(t *testing.T) {
		e := newEnv(t)
		e.push(http.MethodPut, "/metrics/job/j", ctText, labelsText(DefaultMaxLabelsPerSeries-2), 200)
		e.push(http.MethodPut, "/metrics/job/j", ctText, labelsText(DefaultMaxLabelsPerSeries-1), 400)
		e.push(http.MethodPut, "/metrics/job/j", ctText, `m{l="`+long(DefaultMaxLabelValueLength)+`"} 1`+"\n", 200)
		e.push(http.MethodPut, "/metrics/job/j", ctText, `m{l="`+long(DefaultMaxLabelValueLength+1)+`"} 1`+"\n", 400)
	})
}
