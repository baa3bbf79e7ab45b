package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// Where trainwatch records how long its handler took per request.
const (
	serverHistogram = "trainwatch_http_request_duration_seconds"
	serverHandler   = "/metrics"
	snapshotPath    = "/api/v1/snapshot"
)

// serverQuantiles are server-side percentiles of a measurement, estimated
// from the delta of the target's request duration histogram.
type serverQuantiles struct {
	// Observations is the histogram's count delta: the measured requests
	// (errors included) plus the harness's one reading request.
	Observations uint64  `json:"observations"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
}

// bucket is one cumulative bucket of a classic histogram.
type bucket struct {
	le    float64
	count float64
}

// histogram is a classic histogram's cumulative buckets, sorted by upper
// bound, the last one +Inf.
type histogram []bucket

// quantiles estimates p50 and p99 of the observations between before and
// h, in ms; nil when there were none.
func (h histogram) quantiles(before histogram) *serverQuantiles {
	d := h.minus(before)
	if len(d) == 0 || d[len(d)-1].count <= 0 {
		return nil
	}
	return &serverQuantiles{
		Observations: uint64(d[len(d)-1].count),
		P50Ms:        bucketQuantile(0.5, d) * 1000,
		P99Ms:        bucketQuantile(0.99, d) * 1000,
	}
}

// minus returns the bucket counts of h less those of before (a bucket
// before lacks counts as 0).
func (h histogram) minus(before histogram) histogram {
	out := slices.Clone(h)
	for i := range out {
		for _, b := range before {
			if b.le == out[i].le {
				out[i].count -= b.count
			}
		}
	}
	return out
}

// bucketQuantile is PromQL's histogram_quantile over classic buckets
// (promql.BucketQuantile, without its monotonicity repairs): the rank's
// bucket, interpolated linearly between its bounds, the lowest bucket
// starting at 0, a rank in the +Inf bucket answered with the highest
// finite bound. NaN for fewer than two buckets or no observations.
func bucketQuantile(q float64, h histogram) float64 {
	if len(h) < 2 || !math.IsInf(h[len(h)-1].le, 1) {
		return math.NaN()
	}
	observations := h[len(h)-1].count
	if observations == 0 {
		return math.NaN()
	}
	rank := q * observations
	b := sort.Search(len(h)-1, func(i int) bool { return h[i].count >= rank })
	switch {
	case b == len(h)-1:
		return h[len(h)-2].le
	case b == 0 && h[0].le <= 0:
		return h[0].le
	}
	start, end, count := 0.0, h[b].le, h[b].count
	if b > 0 {
		start = h[b-1].le
		count -= h[b-1].count
		rank -= h[b-1].count
	}
	return start + (end-start)*(rank/count)
}

// parseServerHistogram reads the buckets of handler's series of the
// request duration histogram from a text exposition, summed over the
// status codes; nil when the body has no such series.
func parseServerHistogram(body []byte, handler string) (histogram, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	mf := mfs[serverHistogram]
	if mf == nil {
		return nil, nil
	}
	sum := make(map[float64]float64)
	for _, m := range mf.GetMetric() {
		matched := false
		for _, lp := range m.GetLabel() {
			matched = matched || (lp.GetName() == "handler" && lp.GetValue() == handler)
		}
		hist := m.GetHistogram()
		if !matched || hist == nil {
			continue
		}
		inf := false
		for _, b := range hist.GetBucket() {
			sum[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			inf = inf || math.IsInf(b.GetUpperBound(), 1)
		}
		if !inf { // the text parser may keep le="+Inf" as the count only
			sum[math.Inf(1)] += float64(hist.GetSampleCount())
		}
	}
	if len(sum) == 0 {
		return nil, nil
	}
	out := make(histogram, 0, len(sum))
	for le, n := range sum {
		out = append(out, bucket{le, n})
	}
	slices.SortFunc(out, func(a, b bucket) int {
		switch {
		case a.le < b.le:
			return -1
		case a.le > b.le:
			return 1
		}
		return 0
	})
	return out, nil
}

// serverReader reads a trainwatch target's request duration histogram.
// The agent serves it, as every metric, from its last tick: a reading
// waits for a tick that started after the requests it must include.
type serverReader struct {
	client   *http.Client
	metrics  string // the target's /metrics URL
	snapshot string // the target's /api/v1/snapshot URL
}

// readAfter waits for a tick of the target that began after since, then
// returns the /metrics histogram as that tick saw it. The reading request
// is itself counted, in the ticks after it.
func (s *serverReader) readAfter(ctx context.Context, since time.Time) (histogram, error) {
	if err := s.waitTick(ctx, since); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.metrics, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", s.metrics, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.metrics, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.metrics, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", s.metrics, resp.Status)
	}
	h, err := parseServerHistogram(body, serverHandler)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%s has no %s{handler=%q} (a trainwatch older than the histogram?)", s.metrics, serverHistogram, serverHandler)
	}
	return h, nil
}

// waitTick polls the target's snapshot (a handler of its own, so the
// polls are not counted as /metrics requests) until its time is after
// since: a tick that started then ran the request collector after every
// request that had ended by since.
func (s *serverReader) waitTick(ctx context.Context, since time.Time) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		t, err := s.snapshotTime(ctx)
		if err != nil {
			return err
		}
		if t.After(since) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no tick after %s within 10 s (last %s)", s.snapshot, since.Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
		}
		if err := machine.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// snapshotTime is the time of the target's latest tick.
func (s *serverReader) snapshotTime(ctx context.Context) (time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.snapshot, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("request %s: %w", s.snapshot, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("get %s: %w", s.snapshot, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return time.Time{}, fmt.Errorf("get %s: %s", s.snapshot, resp.Status)
	}
	var snap struct {
		Time time.Time `json:"time"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return time.Time{}, fmt.Errorf("decode %s: %w", s.snapshot, err)
	}
	if snap.Time.IsZero() {
		return time.Time{}, errors.New(s.snapshot + ": no time in the snapshot")
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return snap.Time, nil
}

// fmtServer formats server-side p50 / p99 for the tables.
func fmtServer(s *serverQuantiles) string {
	if s == nil {
		return "–"
	}
	return strconv.FormatFloat(s.P50Ms, 'f', 2, 64) + " / " + strconv.FormatFloat(s.P99Ms, 'f', 2, 64)
}
