package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Request kinds, as counted and reported.
const (
	kindPush   = "push"     // Pushgateway PUT/POST
	kindRunLog = "run log"  // POST /api/v1/runs/ID/log
	kindRunCtl = "run ctl"  // register and finish runs
	kindPage   = "UI query" // a dashboard page's requests
	kindStatic = "UI static"
	kindStream = "UI stream" // event-stream connections
	kindSample = "sampler"   // the harness's own reads of /metrics and pprof
)

var kinds = []string{kindPush, kindRunLog, kindRunCtl, kindPage, kindStatic, kindStream, kindSample}

// counter counts one kind of request.
type counter struct{ ok, failed atomic.Int64 }

// failure is one failed request.
type failure struct {
	At   time.Duration // since the load started
	Kind string
	What string
}

// stats is what the load did: per kind, done and failed, and the first
// failures. Safe for concurrent use.
type stats struct {
	began  time.Time
	counts map[string]*counter // fixed keys: read-only after newStats

	events     atomic.Int64 // snapshot events received on the streams
	drops      atomic.Int64 // streams that ended without the client closing them
	connects   atomic.Int64 // streams opened
	runsMade   atomic.Int64 // runs registered
	runsEnded  atomic.Int64 // runs finished
	pushSkew   atomic.Int64 // ticks the pusher missed (a request took longer than a tick)
	maxGapNano atomic.Int64 // longest wait between two events on one stream

	mu       sync.Mutex
	failures []failure
	nFail    int
}

func newStats() *stats {
	s := &stats{began: time.Now(), counts: map[string]*counter{}}
	for _, k := range kinds {
		s.counts[k] = &counter{}
	}
	return s
}

// maxFailures bounds the failures kept for the report.
const maxFailures = 30

// done counts a request of kind: failed when err is not nil, not at all
// when it failed because ctx ended (the load stopping is no failure).
func (s *stats) done(ctx context.Context, kind string, err error) {
	c := s.counts[kind]
	if err != nil && ctx.Err() != nil {
		return
	}
	if err == nil {
		c.ok.Add(1)
		return
	}
	c.failed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nFail++
	if len(s.failures) < maxFailures {
		s.failures = append(s.failures, failure{At: time.Since(s.began), Kind: kind, What: err.Error()})
	}
}

// gap records the wait between two events of a stream.
func (s *stats) gap(d time.Duration) {
	for {
		cur := s.maxGapNano.Load()
		if int64(d) <= cur || s.maxGapNano.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// counts is a copy of the counters at one moment.
type counts struct {
	OK, Failed           map[string]int64
	Events, Drops        int64
	Connects             int64
	RunsMade, RunsEnded  int64
	PusherMissedTicks    int64
	MaxEventGap          time.Duration
	Failures             []failure
	FailuresNotKept      int
	FailedTotal, OKTotal int64
}

func (s *stats) snapshot() counts {
	c := counts{OK: map[string]int64{}, Failed: map[string]int64{}}
	for k, v := range s.counts {
		c.OK[k], c.Failed[k] = v.ok.Load(), v.failed.Load()
		c.OKTotal += c.OK[k]
		c.FailedTotal += c.Failed[k]
	}
	c.Events, c.Drops, c.Connects = s.events.Load(), s.drops.Load(), s.connects.Load()
	c.RunsMade, c.RunsEnded = s.runsMade.Load(), s.runsEnded.Load()
	c.PusherMissedTicks = s.pushSkew.Load()
	c.MaxEventGap = time.Duration(s.maxGapNano.Load())
	s.mu.Lock()
	c.Failures = append([]failure(nil), s.failures...)
	c.FailuresNotKept = s.nFail - len(s.failures)
	s.mu.Unlock()
	return c
}

// do sends one request and checks its status; for JSON answers of the
// Prometheus API it also checks "status": "success". The body is read
// whole and returned.
func do(ctx context.Context, client *http.Client, method, url, ctype string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("User-Agent", "trainwatch-soak/1")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	if resp.StatusCode != want {
		return b, fmt.Errorf("%s %s: %s (want %d): %s", method, url, resp.Status, want, truncate(b, 300))
	}
	if bytes.HasPrefix(b, []byte(`{"status":`)) {
		var st struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(b, &st); err == nil && st.Status != "success" {
			return b, fmt.Errorf("%s %s: status %q: %s", method, url, st.Status, st.Error)
		}
	}
	return b, nil
}

func truncate(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// pusher writes every PushEvery, alternating a Pushgateway push (PUT and
// POST in turn) and a log line for the current run, whose step increases;
// every RunEvery it finishes the run and registers a new one. The last
// run is finished when ctx ends.
type pusher struct {
	base   string
	prefix string // of the runs' ids
	o      options
	st     *stats
	client *http.Client

	pushes int64 // pushes made (the counter's value)
	run    string
	runAt  time.Time
	runN   int
	step   int64
}

func newPusher(base, prefix string, o options, st *stats) *pusher {
	return &pusher{base: base, prefix: prefix, o: o, st: st, client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}}}
}

// pushBody is one push: a counter that increases, a gauge and a histogram,
// as prometheus_client writes them (text format 0.0.4).
func pushBody(n int64) []byte {
	var b bytes.Buffer
	loss := 2.5*math.Exp(-float64(n)/20000) + 0.05*math.Sin(float64(n)/7)
	b.WriteString("# HELP batches_processed_total Batches processed.\n# TYPE batches_processed_total counter\n")
	fmt.Fprintf(&b, "batches_processed_total %d\n", n)
	b.WriteString("# HELP training_loss Training loss.\n# TYPE training_loss gauge\n")
	fmt.Fprintf(&b, "training_loss %g\n", loss)
	b.WriteString("# HELP soak_step_seconds Time per training step.\n# TYPE soak_step_seconds histogram\n")
	// Step times around 0.1 s: a fixed share of the steps in each bucket.
	cum := 0.0
	for _, bk := range []struct {
		le    string
		share float64
	}{{"0.05", 0.1}, {"0.1", 0.5}, {"0.25", 0.3}, {"0.5", 0.08}, {"1", 0.02}} {
		cum += bk.share
		fmt.Fprintf(&b, "soak_step_seconds_bucket{le=%q} %d\n", bk.le, int64(cum*float64(n)))
	}
	fmt.Fprintf(&b, "soak_step_seconds_bucket{le=\"+Inf\"} %d\n", n)
	fmt.Fprintf(&b, "soak_step_seconds_sum %g\nsoak_step_seconds_count %d\n", 0.12*float64(n), n)
	return b.Bytes()
}

// push sends one push, PUT and POST in turn.
func (p *pusher) push(ctx context.Context) {
	p.pushes++
	method := http.MethodPut
	if p.pushes%2 == 0 {
		method = http.MethodPost
	}
	_, err := do(ctx, p.client, method, p.base+"/metrics/job/soak/instance/x", "text/plain; version=0.0.4; charset=utf-8", pushBody(p.pushes), http.StatusOK)
	p.st.done(ctx, kindPush, err)
}

// newRun registers the next run.
func (p *pusher) newRun(ctx context.Context) {
	p.runN++
	id := fmt.Sprintf("%s-%d", p.prefix, p.runN)
	body, _ := json.Marshal(map[string]any{
		"id": id, "name": fmt.Sprintf("soak %d", p.runN), "command": "go run ./bench/soak",
		"config": map[string]any{"lr": 3e-4, "batch_size": 64}, "total_steps": 100000, "tags": []string{"soak"},
	})
	_, err := do(ctx, p.client, http.MethodPost, p.base+"/api/v1/runs", "application/json", body, http.StatusCreated)
	p.st.done(ctx, kindRunCtl, err)
	if err == nil {
		p.st.runsMade.Add(1)
	}
	// Logging to an unregistered run creates it: go on either way.
	p.run, p.runAt, p.step = id, time.Now(), 0
}

// finishRun finishes the current run.
func (p *pusher) finishRun(ctx context.Context) {
	if p.run == "" {
		return
	}
	_, err := do(ctx, p.client, http.MethodPost, p.base+"/api/v1/runs/"+p.run+"/finish", "application/json", []byte(`{"status": "finished"}`), http.StatusOK)
	p.st.done(ctx, kindRunCtl, err)
	if err == nil {
		p.st.runsEnded.Add(1)
	}
	p.run = ""
}

// logStep logs one step of the current run.
func (p *pusher) logStep(ctx context.Context) {
	p.step++
	s := float64(p.step)
	line, _ := json.Marshal(map[string]any{
		"step": p.step, "epoch": s / 1000, "loss": 2.3*math.Exp(-s/3000) + 0.1,
		"lr": 3e-4 * math.Min(1, s/500), "grad_norm": 1 + 0.5*math.Sin(s/11), "samples_per_second": 640 + 20*math.Cos(s/13),
	})
	b, err := do(ctx, p.client, http.MethodPost, p.base+"/api/v1/runs/"+p.run+"/log", "application/x-ndjson", append(line, '\n'), http.StatusOK)
	if err == nil {
		var r struct {
			Accepted int `json:"accepted"`
		}
		if json.Unmarshal(b, &r) != nil || r.Accepted != 1 {
			err = fmt.Errorf("POST /api/v1/runs/%s/log: answer %s, want accepted 1", p.run, truncate(b, 200))
		}
	}
	p.st.done(ctx, kindRunLog, err)
}

// loop runs until ctx ends, then finishes the current run.
func (p *pusher) loop(ctx context.Context) {
	defer p.client.CloseIdleConnections()
	p.newRun(ctx)
	t := time.NewTicker(p.o.PushEvery)
	defer t.Stop()
	last := time.Now()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			p.finishRun(fctx)
			cancel()
			return
		case now := <-t.C:
			if missed := int64(now.Sub(last)/p.o.PushEvery) - 1; missed > 0 {
				p.st.pushSkew.Add(missed)
			}
			last = now
		}
		if n%2 == 0 {
			p.push(ctx)
		} else {
			if time.Since(p.runAt) >= p.o.RunEvery {
				p.finishRun(ctx)
				p.newRun(ctx)
			}
			p.logStep(ctx)
		}
	}
}
