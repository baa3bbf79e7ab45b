package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// acceptPrometheus is the Accept header Prometheus sends by default: it
// prefers OpenMetrics, then the text format.
const acceptPrometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
	"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

// newClient returns an HTTP client that keeps up to conns connections
// alive and leaves gzip bodies compressed (a scraper pays for inflating,
// not the target).
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// get fetches url as Prometheus would and returns the raw body, its
// Content-Encoding and the time to the last byte.
func get(ctx context.Context, client *http.Client, url string) ([]byte, string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", 0, fmt.Errorf("request %s: %w", url, err)
	}
	req.Header.Set("Accept", acceptPrometheus)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", "trainwatch-overhead/1")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", 0, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	d := time.Since(t0)
	if err != nil {
		return nil, "", d, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", d, fmt.Errorf("get %s: %s", url, resp.Status)
	}
	return b, resp.Header.Get("Content-Encoding"), d, nil
}

// bodyStats are the size and sample count of one response.
type bodyStats struct {
	WireBytes int `json:"wire_bytes"`
	BodyBytes int `json:"body_bytes"`
	Samples   int `json:"samples"`
}

// measureBody decodes a response and counts its sample lines.
func measureBody(raw []byte, encoding string) bodyStats {
	s := bodyStats{WireBytes: len(raw)}
	body := raw
	if encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return s
		}
		body, err = io.ReadAll(zr)
		if err != nil {
			return s
		}
	}
	s.BodyBytes = len(body)
	for line := range bytes.SplitSeq(body, []byte{'\n'}) {
		if len(line) > 0 && line[0] != '#' {
			s.Samples++
		}
	}
	return s
}

// pacedScraper scrapes one target every interval, as Prometheus does.
type pacedScraper struct {
	url    string
	client *http.Client

	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	lastRaw   []byte
	lastEnc   string
}

// run scrapes until ctx ends.
func (s *pacedScraper) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		raw, enc, d, err := get(ctx, s.client, s.url)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		if err != nil {
			s.errors++
		} else {
			s.latencies = append(s.latencies, d)
			s.lastRaw, s.lastEnc = raw, enc
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reset forgets the scrapes so far (those of the warm-up).
func (s *pacedScraper) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies, s.errors = s.latencies[:0], 0
}

// latencyResult is one latency phase: n requests from c clients.
type latencyResult struct {
	Clients  int     `json:"clients"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	Seconds  float64 `json:"seconds"`
	Capped   bool    `json:"capped,omitempty"` // stopped by the time cap before n requests
	// WarmupCapped: the c untimed first requests did not all finish
	// within the time cap, so nothing was measured.
	WarmupCapped bool    `json:"warmup_capped,omitempty"`
	CPUMsPerR    float64 `json:"cpu_ms_per_request"`
	// ClientCPUMsPerR is the harness's own CPU per request: on a small
	// machine the clients compete with the target for the same cores.
	ClientCPUMsPerR float64 `json:"client_cpu_ms_per_request"`
	// Server is the target's own view of the same requests (trainwatch's
	// request duration histogram); nil for the peers and in older results.
	Server *serverQuantiles `json:"server,omitempty"`
}

// warmUp opens c keep-alive connections of client to url with one
// untimed request each; false when they took longer than maxTime.
func warmUp(ctx context.Context, client *http.Client, url string, c int, maxTime time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, maxTime)
	defer cancel()
	var warm sync.WaitGroup
	for range c {
		warm.Go(func() { _, _, _, _ = get(wctx, client, url) })
	}
	warm.Wait()
	return wctx.Err() == nil
}

// closedLoop sends n requests to url from c concurrent clients of client
// (connections opened by warmUp), each sending its next request when the
// last one answered, stopping early at maxTime.
func closedLoop(ctx context.Context, client *http.Client, url string, c, n int, maxTime time.Duration) latencyResult {
	res := latencyResult{Clients: c}
	ctx, cancel := context.WithTimeout(ctx, maxTime)
	defer cancel()
	var (
		next   atomic.Int64
		errs   atomic.Int64
		mu     sync.Mutex
		all    []time.Duration
		wg     sync.WaitGroup
		begin  = time.Now()
		budget = int64(n)
	)
	for range c {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= budget && ctx.Err() == nil {
				_, _, d, err := get(ctx, client, url)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				mine = append(mine, d)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Seconds = time.Since(begin).Seconds()
	res.Requests = len(all)
	res.Errors = int(errs.Load())
	res.Capped = len(all)+res.Errors < n
	res.P50Ms, res.P99Ms, res.MaxMs = percentiles(all)
	return res
}

// openLoopResult is one open-loop measurement: scrapers each requesting
// the target once per interval at its own phase, for a window.
type openLoopResult struct {
	Scrapers  int     `json:"scrapers"`
	IntervalS float64 `json:"interval_seconds"`
	WindowS   float64 `json:"window_seconds"`
	Requests  int     `json:"requests"`
	// Errors are failed requests: an error status, or no answer within
	// the interval (Prometheus' scrape timeout is at most its interval).
	Errors int     `json:"errors"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	// Server as in latencyResult.
	Server *serverQuantiles `json:"server,omitempty"`
	// Skipped says why the open loop was not run (the target could not
	// keep up with it); nothing else is set then.
	Skipped string `json:"skipped,omitempty"`
}

// openLoop has n scrapers request url once every interval for window, as
// n Prometheus servers would: each at its own random phase within the
// interval, whatever the others are doing; a scraper whose request
// outlasts its slot skips to the next slot, as Prometheus' ticker does.
// The scrapers share client's kept-alive connections. Requests still in
// flight at the end of the window are waited for.
func openLoop(ctx context.Context, client *http.Client, url string, n int, interval, window time.Duration) openLoopResult {
	res := openLoopResult{Scrapers: n, IntervalS: interval.Seconds(), WindowS: window.Seconds()}
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	begin := time.Now()
	end := begin.Add(window)
	for range n {
		phase := rand.N(interval)
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for at := begin.Add(phase); at.Before(end); at = at.Add(interval) {
				if now := time.Now(); at.Before(now) {
					continue // the slot passed while the last request ran
				}
				if machine.Sleep(ctx, time.Until(at)) != nil {
					break
				}
				rctx, cancel := context.WithTimeout(ctx, interval)
				_, _, d, err := get(rctx, client, url)
				cancel()
				switch {
				case ctx.Err() != nil:
				case err != nil:
					bad++
				default:
					mine = append(mine, d)
				}
			}
			mu.Lock()
			all = append(all, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Requests, res.Errors = len(all), errs
	res.P50Ms, res.P99Ms, res.MaxMs = percentiles(all)
	return res
}

// percentiles returns the nearest-rank p50, p99 and maximum in ms (zeros
// for no durations).
func percentiles(ds []time.Duration) (p50, p99, maxMs float64) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		k := int(math.Ceil(p/100*float64(len(s)))) - 1
		k = max(0, min(len(s)-1, k))
		return float64(s[k]) / float64(time.Millisecond)
	}
	return rank(50), rank(99), float64(s[len(s)-1]) / float64(time.Millisecond)
}
