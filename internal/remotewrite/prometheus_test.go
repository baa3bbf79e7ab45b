package remotewrite

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// outageDuration is how long the real-Prometheus test keeps Prometheus
// down: 20s by default, 3m under CI=true, or TRAINWATCH_RW_OUTAGE (a Go
// duration, e.g. 10m; give go test a -timeout to match).
func outageDuration(t *testing.T) time.Duration {
	if v := os.Getenv("TRAINWATCH_RW_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			t.Fatalf("TRAINWATCH_RW_OUTAGE=%q: want a Go duration such as 3m", v)
		}
		return d
	}
	if testenv.InCI() {
		return 3 * time.Minute
	}
	return 20 * time.Second
}

// TestRealPrometheusOutage sends a tick a second to a real Prometheus with
// its remote write receiver, stops Prometheus for an outage while ticks go
// on, starts it again, waits for the queue to drain, and compares every
// sample sent with Prometheus' raw samples (a range-vector query): nothing
// lost, nothing duplicated.
func TestRealPrometheusOutage(t *testing.T) {
	outage := outageDuration(t)
	const before, after = 5 * time.Second, 5 * time.Second
	if dl, ok := t.Deadline(); ok && time.Until(dl) < outage+before+after+3*time.Minute {
		t.Fatalf("an outage of %s does not fit in the test timeout; run go test with -timeout %s", outage, (outage + 10*time.Minute).Round(time.Minute))
	}
	prom := testenv.StartPrometheusWith(t, testenv.PrometheusOptions{Flags: []string{"--web.enable-remote-write-receiver"}})

	logger, _ := newLogger(t)
	cfg := Config{
		Name:           "prom",
		URL:            prom.URL + "/api/v1/write",
		ExternalLabels: map[string]string{"cluster": "rwtest"},
		Queue:          QueueConfig{MaxBackoff: model.Duration(2 * time.Second)},
	}
	w, err := Open(cfg, t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	startRun(t, w)

	tk := newTicker(6, "kind", "rw")
	start := time.Now()
	tickUntil := func(d time.Duration) {
		for deadline := time.Now().Add(d); time.Now().Before(deadline); {
			w.Enqueue(tk.tick(time.Now().UnixMilli()))
			time.Sleep(time.Second)
		}
	}
	tickUntil(before)
	t.Logf("stopping Prometheus for %s", outage)
	prom.Stop()
	tickUntil(outage)
	st := w.Stats()
	t.Logf("outage over: %d samples pending, %d failed sends; starting Prometheus", st.PendingSamples, st.FailedSends)
	if st.PendingSamples == 0 || st.FailedSends == 0 {
		t.Errorf("the outage was not noticed: %+v", st)
	}
	prom.Start()
	tickUntil(after)
	drained(t, w, time.Minute)
	st = w.Stats()

	// Raw samples of every test series over the whole test.
	window := int(time.Since(start).Seconds()) + 120
	res, err := prom.Query(fmt.Sprintf(`{kind="rw", cluster="rwtest"}[%ds]`, window))
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string][]point)
	for _, raw := range res.Result {
		var s struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		key := labels.FromMap(s.Metric).String()
		for _, v := range s.Values {
			ts, _ := v[0].(float64)
			str, _ := v[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				t.Fatalf("value %v: %v", v[1], err)
			}
			got[key] = append(got[key], point{int64(math.Round(ts * 1000)), f})
		}
	}
	want := tk.want(cfg.ExternalLabels, 0)
	enqueued, inProm, missing, extra := 0, 0, 0, 0
	for k, pts := range want {
		have := make(map[point]int)
		for _, p := range got[k] {
			have[p]++
		}
		for _, p := range pts {
			enqueued++
			if have[p] == 0 {
				missing++
				continue
			}
			have[p]--
		}
		for _, n := range have {
			extra += n
		}
		inProm += len(got[k])
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series in Prometheus: %s", k)
		}
	}
	t.Logf("outage %s: enqueued %d samples, in Prometheus %d, missing %d, duplicated or unexpected %d; sent %d in total, %d failed sends",
		outage, enqueued, inProm, missing, extra, st.SamplesSent, st.FailedSends)
	if missing != 0 || extra != 0 || enqueued != int(st.SamplesEnqueued) {
		t.Errorf("Prometheus does not hold exactly the samples sent (see counts above)")
		if err := sameSamples(want, got); err != nil {
			t.Error(err)
		}
	}
}
