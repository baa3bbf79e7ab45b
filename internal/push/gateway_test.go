package push

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/store"
)

const s0 = testEpoch * 1000 // the first push time in ms

func TestPutReplacesGroup(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/j", ctText, "a 1\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n", http.StatusOK)
	e.advance(10 * time.Second)
	e.push(http.MethodPut, "/metrics/job/j", ctText, "b{x=\"1\"} 4\nc 5\n", http.StatusOK)
	got := e.stored("job", "j")
	t1 := int64(s0 + 10_000)
	for k, want := range map[string][]point{
		ser("__name__", "a", "job", "j"):                         {{s0, 1}, {t1, math.NaN()}},
		ser("__name__", "b", "job", "j", "x", "1"):               {{s0, 2}, {t1, 4}},
		ser("__name__", "b", "job", "j", "x", "2"):               {{s0, 3}, {t1, math.NaN()}},
		ser("__name__", "c", "job", "j"):                         {{t1, 5}},
		ser("__name__", "push_time_seconds", "job", "j"):         {{s0, testEpoch}, {t1, testEpoch + 10}},
		ser("__name__", "push_failure_time_seconds", "job", "j"): {{s0, 0}, {t1, 0}},
	} {
		checkPoints(t, k, got[k], want)
	}
	if len(got) != 6 {
		t.Errorf("%d series stored: %v", len(got), got)
	}
	// The NaNs above are staleness markers.
	for _, k := range []string{ser("__name__", "a", "job", "j"), ser("__name__", "b", "job", "j", "x", "2")} {
		if v := got[k][1].V; !isStale(v) {
			t.Errorf("%s: %v is not a staleness marker", k, v)
		}
	}
	// An empty PUT empties the group but updates push_time_seconds.
	e.advance(10 * time.Second)
	e.push(http.MethodPut, "/metrics/job/j", ctText, "", http.StatusOK)
	last := e.last("job", "j")
	for k, v := range last {
		if strings.Contains(k, "push_time_seconds") {
			if v != testEpoch+20 {
				t.Errorf("%s = %v", k, v)
			}
		} else if !strings.Contains(k, "push_failure") && !isStale(v) {
			t.Errorf("%s = %v, want a staleness marker", k, v)
		}
	}
	gi := e.gw.Groups()
	if len(gi) != 1 || gi[0].Series != 0 || !gi[0].LastPush.Equal(time.Unix(testEpoch+20, 0)) {
		t.Fatalf("groups %+v", gi)
	}
}

func checkPoints(t *testing.T, key string, got, want []point) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", key, got, want)
		return
	}
	for i := range got {
		if got[i].T != want[i].T || (math.IsNaN(want[i].V) != math.IsNaN(got[i].V)) || !math.IsNaN(want[i].V) && got[i].V != want[i].V {
			t.Errorf("%s: got %v, want %v", key, got, want)
			return
		}
	}
}

func TestPostMergesByName(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/j/run/r", ctText, "a 1\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n", http.StatusOK)
	e.advance(time.Second)
	e.push(http.MethodPost, "/metrics/job/j/run/r", ctText, "b{x=\"1\"} 4\nc 5\n", http.StatusOK)
	got := e.last("job", "j")
	sameValues(t, withoutPushTimes(got), map[string]float64{
		ser("__name__", "a", "job", "j", "run", "r"):           1,
		ser("__name__", "b", "job", "j", "run", "r", "x", "1"): 4,
		ser("__name__", "b", "job", "j", "run", "r", "x", "2"): math.NaN(), // stale: b was replaced
		ser("__name__", "c", "job", "j", "run", "r"):           5,
	})
	if !isStale(got[ser("__name__", "b", "job", "j", "run", "r", "x", "2")]) {
		t.Error("b{x=2} has no staleness marker")
	}
	// a was kept, so it got no new sample and no marker.
	if pts := e.stored("__name__", "a")[ser("__name__", "a", "job", "j", "run", "r")]; len(pts) != 1 {
		t.Errorf("a: %v", pts)
	}
	// An empty POST only updates push_time_seconds.
	e.advance(time.Second)
	e.push(http.MethodPost, "/metrics/job/j/run/r", ctText, "", http.StatusOK)
	if gi := e.gw.Groups(); gi[0].Series != 3 || !gi[0].LastPush.Equal(time.Unix(testEpoch+2, 0)) {
		t.Fatalf("groups %+v", gi)
	}
}

func withoutPushTimes(m map[string]float64) map[string]float64 {
	out := make(map[string]float64)
	for k, v := range m {
		if !strings.Contains(k, `"push_`) {
			out[k] = v
		}
	}
	return out
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/j/run/r", ctText, "a 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/other", ctText, "a 1\n", http.StatusOK)
	e.advance(time.Second)
	e.push(http.MethodDelete, "/metrics/job/j/run/r", "", "", http.StatusAccepted)
	for k, v := range e.last("job", "j") {
		if !isStale(v) {
			t.Errorf("%s = %v, want a staleness marker", k, v)
		}
	}
	if n := len(e.last("job", "j")); n != 6 {
		t.Errorf("%d series got markers, want 6", n)
	}
	if v := e.last("job", "other")[ser("__name__", "a", "job", "other")]; v != 1 {
		t.Errorf("the other group changed: %v", v)
	}
	// Deleting a group that does not exist is accepted too.
	e.push(http.MethodDelete, "/metrics/job/nothing", "", "", http.StatusAccepted)
	if gi := e.gw.Groups(); len(gi) != 1 || gi[0].Labels.Get("job") != "other" {
		t.Fatalf("groups %+v", gi)
	}
	if strings.Contains(e.text(), `job="j"`) {
		t.Errorf("the deleted group is still exposed:\n%s", e.text())
	}
	// The metric name is free again for another type.
	e.push(http.MethodPut, "/metrics/job/j", ctText, "# TYPE h gauge\nh 1\n", http.StatusOK)
}

func TestPushTimes(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/j", ctText, "a 1\n", http.StatusOK)
	e.advance(5 * time.Second)
	e.push(http.MethodPut, "/metrics/job/j", ctText, "a 1", http.StatusBadRequest)
	e.advance(5 * time.Second)
	e.push(http.MethodPost, "/metrics/job/j", ctText, "b 1\n", http.StatusOK)
	got := e.stored("job", "j")
	checkPoints(t, "push_time_seconds", got[ser("__name__", "push_time_seconds", "job", "j")],
		[]point{{s0, testEpoch}, {s0 + 5000, testEpoch}, {s0 + 10000, testEpoch + 10}})
	checkPoints(t, "push_failure_time_seconds", got[ser("__name__", "push_failure_time_seconds", "job", "j")],
		[]point{{s0, 0}, {s0 + 5000, testEpoch + 5}, {s0 + 10000, testEpoch + 5}})
	gi := e.gw.Groups()[0]
	if !gi.LastFailure.Equal(time.Unix(testEpoch+5, 0)) || !strings.Contains(gi.LastError, "newline") {
		t.Errorf("group %+v", gi)
	}
	txt := e.text()
	for _, want := range []string{
		"# TYPE push_time_seconds gauge\npush_time_seconds{instance=\"\",job=\"j\"} 1.80000001e+09\n",
		"push_failure_time_seconds{instance=\"\",job=\"j\"} 1.800000005e+09\n",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("exposition lacks %q:\n%s", want, txt)
		}
	}

	// A failed first push creates the group with push_time_seconds 0.
	e.advance(time.Second)
	e.push(http.MethodPut, "/metrics/job/new", ctText, "x 1 123\n", http.StatusBadRequest)
	sameValues(t, e.last("job", "new"), map[string]float64{
		ser("__name__", "push_time_seconds", "job", "new"):         0,
		ser("__name__", "push_failure_time_seconds", "job", "new"): testEpoch + 11,
	})

	// Two pushes in the same millisecond get distinct times.
	e.push(http.MethodPut, "/metrics/job/fast", ctText, "x 1\n", http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/fast", ctText, "x 2\n", http.StatusOK)
	pts := e.stored("job", "fast")[ser("__name__", "x", "job", "fast")]
	if len(pts) != 2 || pts[1].T != pts[0].T+1 || pts[1].V != 2 {
		t.Errorf("quick pushes: %v", pts)
	}
}

func TestExpire(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.TTL = time.Hour })
	e.push(http.MethodPut, "/metrics/job/old", ctText, "a 1\n", http.StatusOK)
	e.advance(30 * time.Minute)
	e.push(http.MethodPut, "/metrics/job/young", ctText, "a 2\n", http.StatusOK)
	if n := e.gw.Expire(e.advance(30 * time.Minute)); n != 0 {
		t.Fatalf("expired %d groups at exactly the TTL", n)
	}
	now := e.advance(time.Second)
	if n := e.gw.Expire(now); n != 1 {
		t.Fatalf("expired %d groups, want 1", n)
	}
	for k, v := range e.last("job", "old") {
		if !isStale(v) {
			t.Errorf("%s = %v, want a staleness marker", k, v)
		}
	}
	if gi := e.gw.Groups(); len(gi) != 1 || gi[0].Labels.Get("job") != "young" {
		t.Fatalf("groups %+v", gi)
	}
	ev := e.eventsCopy()
	if last := ev[len(ev)-1]; last.Method != MethodExpire || last.Job() != "old" || !last.Time.Equal(now) {
		t.Fatalf("last event %+v", last)
	}
	// TTL 0: never.
	e2 := newEnv(t)
	e2.push(http.MethodPut, "/metrics/job/old", ctText, "a 1\n", http.StatusOK)
	if n := e2.gw.Expire(e2.advance(1000 * time.Hour)); n != 0 {
		t.Fatalf("expired %d groups without a TTL", n)
	}
}

func TestConsistencyAcrossGroups(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/a/run/1", ctText, "# TYPE loss gauge\nloss 1\n# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 1\nlat_count 1\nlat_sum 1\n", http.StatusOK)
	for _, tc := range []struct{ path, body, err string }{
		{"/metrics/job/b", "# TYPE loss counter\nloss 1\n", `metric "loss" is pushed as a counter but is a gauge in group {job="a", run="1"}: a metric name must have the same type in every group`},
		{"/metrics/job/b", "loss 1\n", `metric "loss" is pushed as an untyped metric but is a gauge`},
		{"/metrics/job/b", "# TYPE lat_sum gauge\nlat_sum 1\n", `the gauge "lat_sum" in the push has series named "lat_sum", which belong to the histogram "lat" in group {job="a", run="1"}`},
		{"/metrics/job/b", "# TYPE lat summary\nlat_sum 1\n", `metric "lat" is pushed as a summary but is a histogram`},
		// Another group pushing the very same series.
		{"/metrics/job/a", "# TYPE loss gauge\nloss{run=\"1\"} 1\n", `series {__name__="loss", job="a", run="1"} is already pushed by group {job="a", run="1"}`},
	} {
		w := e.push(http.MethodPut, tc.path, ctText, tc.body, http.StatusBadRequest)
		if !strings.Contains(w.Body.String(), tc.err) {
			t.Errorf("%q: message %q does not contain %q", tc.body, w.Body.String(), tc.err)
		}
	}
	// The group itself may change a metric's type with a PUT, and with a
	// POST that replaces the family.
	e.push(http.MethodPost, "/metrics/job/a/run/1", ctText, "# TYPE loss counter\nloss 1\n", http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/a/run/1", ctText, "# TYPE lat gauge\nlat 1\n# TYPE lat_sum counter\nlat_sum 1\n", http.StatusOK)
	// But a POST may not clash with the group's own kept families.
	w := e.push(http.MethodPost, "/metrics/job/a/run/1", ctText, "# TYPE lat_sum gauge\nlat_sum 1\n", http.StatusOK)
	_ = w
	w = e.push(http.MethodPost, "/metrics/job/a/run/1", ctText, "# TYPE lat summary\nlat_count 1\n", http.StatusBadRequest)
	if !strings.Contains(w.Body.String(), `the summary "lat" in the push has series named "lat_sum", which belong to the gauge "lat_sum" in group {job="a", run="1"}`) {
		t.Errorf("message %q", w.Body.String())
	}
}

func TestOnPushEvent(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/train/run/r7/instance/host:1", ctText, pythonText, http.StatusOK)
	e.advance(time.Second)
	e.push(http.MethodPost, "/metrics/job/train/run/r7/instance/host:1", ctText, "# TYPE train_loss gauge\ntrain_loss{gpu=\"0\"} 0.5\n", http.StatusOK)
	e.push(http.MethodDelete, "/metrics/job/train/run/r7/instance/host:1", "", "", http.StatusAccepted)
	e.push(http.MethodPut, "/metrics/job/plain", ctText, "x 1\n", http.StatusOK)
	ev := e.eventsCopy()
	if len(ev) != 4 {
		t.Fatalf("%d events", len(ev))
	}
	put := ev[0]
	if put.Method != MethodPut || put.Run() != "r7" || put.Job() != "train" || put.Group.Get("instance") != "host:1" || !put.Time.Equal(time.Unix(testEpoch, 0)) {
		t.Errorf("PUT event %+v", put)
	}
	if v, ok := put.Value("train_loss", "gpu", "0"); !ok || !math.IsNaN(v) {
		t.Errorf("train_loss{gpu=0} = %v, %v; want NaN", v, ok)
	}
	if v, ok := put.Value("train_loss", "gpu", "1"); !ok || v != 0.25 {
		t.Errorf("train_loss{gpu=1} = %v, %v", v, ok)
	}
	if v, ok := put.Value("step_seconds_bucket", "le", "+Inf"); !ok || v != 3 {
		t.Errorf("step_seconds_bucket{le=+Inf} = %v, %v", v, ok)
	}
	if _, ok := put.Value("train_loss", "gpu", "9"); ok {
		t.Error("found a sample that was not pushed")
	}
	if f := put.Family("step_seconds"); f == nil || f.Type != collector.Histogram || len(f.Samples) != 5 {
		t.Errorf("step_seconds family %+v", f)
	}
	if put.Series != 14-2 {
		t.Errorf("Series = %d", put.Series)
	}
	n := 0
	put.Samples(func(s *Sample) {
		n++
		if s.Labels.Get("run") != "r7" || s.Labels.Get("instance") != "host:1" {
			t.Errorf("sample %s lacks the grouping key", s.Labels)
		}
	})
	if n != 12 {
		t.Errorf("%d samples", n)
	}
	if post := ev[1]; post.Method != MethodPost || len(post.Families) != 1 || post.Series != 11 {
		t.Errorf("POST event %+v", post)
	}
	if del := ev[2]; del.Method != MethodDelete || del.Run() != "r7" || len(del.Families) != 0 {
		t.Errorf("DELETE event %+v", del)
	}
	if plain := ev[3]; plain.Run() != "plain" {
		t.Errorf("run of a push without run label: %q", plain.Run())
	}
}

func TestExposition(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/train/run/r1", ctText, pythonText, http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/train/run/r2/instance/h:1", ctText, "# TYPE train_loss gauge\ntrain_loss{gpu=\"0\",extra=\"x\"} 3\n", http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/utf8", ctText, "{\"my.metric\",\"my.label\"=\"v\"} 1\nplain 2\n", http.StatusOK)
	txt := e.text()
	for _, want := range []string{
		"# HELP train_loss Training loss.\n# TYPE train_loss gauge\n",
		`train_loss{extra="",gpu="0",instance="",job="train",run="r1"} NaN`,
		`train_loss{extra="",gpu="1",instance="",job="train",run="r1"} 0.25`,
		`train_loss{extra="x",gpu="0",instance="h:1",job="train",run="r2"} 3`,
		"# TYPE step_seconds histogram\n",
		`step_seconds_bucket{instance="",job="train",run="r1",le="0.1"} 1`,
		`step_seconds_bucket{instance="",job="train",run="r1",le="+Inf"} 3`,
		`step_seconds_sum{instance="",job="train",run="r1"} 1.5`,
		`data_wait_seconds{instance="",job="train",run="r1",quantile="0.5"} 0.2`,
		"# TYPE tokens_total counter\ntokens_total{instance=\"\",job=\"train\",run=\"r1\"} 1.2e+06",
		`push_time_seconds{instance="",job="train",run="r1"}`,
		`push_time_seconds{instance="h:1",job="train",run="r2"}`,
		`plain{instance="",job="utf8"} 2`,
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(txt, "my.metric") {
		t.Error("a quoted UTF-8 name was exposed")
	}
	// The exposition is also valid OpenMetrics.
	var b strings.Builder
	if err := exposition.Encode(&b, e.gw.Families(), expfmt.NewFormat(expfmt.TypeOpenMetrics)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "# TYPE tokens counter\ntokens_total{") {
		t.Errorf("OpenMetrics exposition:\n%s", b.String())
	}
	// Cached until the next change.
	g1 := e.gw.Generation()
	f1 := e.gw.Families()
	if f2 := e.gw.Families(); &f1[0] != &f2[0] || e.gw.Generation() != g1 {
		t.Error("Families was rebuilt without a change")
	}
	e.push(http.MethodDelete, "/metrics/job/utf8", "", "", http.StatusAccepted)
	if e.gw.Generation() == g1 {
		t.Error("Generation did not change")
	}
}

func TestSelfMetrics(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/a", ctText, "x 1\ny 2\n", http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/a", ctText, "x", http.StatusBadRequest)
	e.do(http.MethodGet, "/metrics/job/a", nil)
	fams, err := collector.CollectOnce(context.Background(), e.gw)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := exposition.Text(fams)
	for _, want := range []string{
		`trainwatch_push_requests_total{code="200",method="PUT"} 1`,
		`trainwatch_push_requests_total{code="400",method="PUT"} 1`,
		`trainwatch_push_requests_total{code="405",method="other"} 1`,
		"trainwatch_push_samples_total 2\n",
		"trainwatch_push_received_bytes_total 9\n",
		"trainwatch_push_groups 1\n",
		"trainwatch_push_series 2\n",
	} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("self-metrics lack %q:\n%s", want, txt)
		}
	}
	if e.gw.Name() != "push" {
		t.Error(e.gw.Name())
	}
}

func TestAllowTimestamps(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowTimestamps = true })
	e.push(http.MethodPut, "/metrics/job/j", ctText, fmt.Sprintf("x 1 %d\ny 2\n", s0-60_000), http.StatusOK)
	got := e.stored("job", "j")
	checkPoints(t, "x", got[ser("__name__", "x", "job", "j")], []point{{s0 - 60_000, 1}})
	checkPoints(t, "y", got[ser("__name__", "y", "job", "j")], []point{{s0, 2}})
}

// TestAppendFailure checks that a push the history cannot store is not
// applied.
func TestAppendFailure(t *testing.T) {
	fail := false
	e := newEnv(t)
	inner := e.gw.o.Append
	e.gw.o.Append = func(ctx context.Context, b []store.Appended) error {
		if fail {
			return fmt.Errorf("disk full")
		}
		return inner(ctx, b)
	}
	e.push(http.MethodPut, "/metrics/job/j", ctText, "x 1\n", http.StatusOK)
	fail = true
	w := e.push(http.MethodPut, "/metrics/job/j", ctText, "y 1\n", http.StatusServiceUnavailable)
	if !strings.Contains(w.Body.String(), "disk full") {
		t.Errorf("message %q", w.Body.String())
	}
	if !strings.Contains(e.text(), "x{") || strings.Contains(e.text(), "y{") {
		t.Errorf("the failed push was applied:\n%s", e.text())
	}
}

func TestConcurrentPushes(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Now = time.Now; o.TTL = time.Hour })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				path := fmt.Sprintf("/metrics/job/j/rank/%d", i)
				body := fmt.Sprintf("# TYPE loss gauge\nloss{step=\"%d\"} %d\n", j%3, j)
				method := http.MethodPut
				if j%2 == 1 {
					method = http.MethodPost
				}
				if w := e.do(method, path, []byte(body)); w.Code != http.StatusOK {
					t.Errorf("%d %q", w.Code, w.Body.String())
				}
				_ = e.gw.Families()
				_ = e.gw.Groups()
				_ = e.gw.Expire(time.Now())
			}
		}()
	}
	wg.Wait()
	if n := len(e.gw.Groups()); n != 8 {
		t.Fatalf("%d groups", n)
	}
	if _, err := collector.CollectOnce(context.Background(), e.gw); err != nil {
		t.Fatal(err)
	}
}

func TestGroupsListing(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/b", ctText, "x 1\n", http.StatusOK)
	e.push(http.MethodPut, "/metrics/job/a/run/r", ctText, "x{k=\"1\"} 1\nx{k=\"2\"} 1\n", http.StatusOK)
	gi := e.gw.Groups()
	if len(gi) != 2 || !labels.Equal(gi[0].Labels, labels.FromStrings("job", "a", "run", "r")) || gi[0].Series != 2 || gi[0].Families != 1 {
		t.Fatalf("groups %+v", gi)
	}
}

// TestFamiliesGenerationConsistent: the families and the generation read
// together always belong to each other while pushes change them; read with
// two calls, a push in between paired the older families with the newer
// generation, and the /metrics cache keyed on it kept serving them.
func TestFamiliesGenerationConsistent(t *testing.T) {
	e := newEnv(t)
	e.push(http.MethodPut, "/metrics/job/seq", ctText, "seq 0\n", http.StatusOK)
	value := func(fams []*collector.Family) float64 {
		for _, f := range fams {
			if f.Desc.Name == "seq" && len(f.Samples) == 1 {
				return f.Samples[0].Value
			}
		}
		return math.NaN()
	}
	fams, g0 := e.gw.FamiliesGeneration()
	if v := value(fams); v != 0 {
		t.Fatalf("seq = %v after the first push; want 0", v)
	}
	const pushes = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= pushes; i++ {
			if w := e.do(http.MethodPut, "/metrics/job/seq", []byte(fmt.Sprintf("seq %d\n", i)), "Content-Type", ctText); w.Code != http.StatusOK {
				t.Errorf("push %d: %d %s", i, w.Code, w.Body.String())
				return
			}
		}
	}()
	reads := 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		fams, g := e.gw.FamiliesGeneration()
		if v, want := value(fams), float64(g-g0); v != want {
			t.Fatalf("read %d: generation %d (+%d) came with seq = %v", reads, g, g-g0, v)
		}
	}
	if _, g := e.gw.FamiliesGeneration(); g-g0 != pushes {
		t.Errorf("%d pushes moved the generation by %d; the test assumes one step per push", pushes, g-g0)
	}
	t.Logf("%d consistent reads during %d pushes", reads, pushes)
}
