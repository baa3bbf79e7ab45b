// Package agent runs the collection loop: once per interval it ticks the
// collector Runner, keeps the latest snapshot (with its cached encodings) for
// /metrics and the API, and hands every snapshot to the sinks and live
// subscribers.
package agent

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
)

// State is what the agent knows after a tick: the snapshot, the one before
// it (for rates), and the snapshot's cached exposition encodings.
type State struct {
	Snapshot *collector.Snapshot
	Prev     *collector.Snapshot
	Cache    *exposition.Cache
}

// Sink receives every snapshot, in order, from the collection loop. A sink
// must not block for long: the next tick waits for it.
type Sink interface {
	Consume(ctx context.Context, s *collector.Snapshot)
}

// Agent owns the collection loop.
type Agent struct {
	runner   *collector.Runner
	interval time.Duration
	sinks    []Sink
	logger   *slog.Logger
	// enc encodes /metrics: the encodings scraped lately are made right
	// after each tick, before the state is published, so that no scrape
	// waits for one (at 64 concurrent scrapers, the first after a tick
	// made all the others wait 5–30 ms).
	enc *exposition.Encoder

	latest atomic.Pointer[State]

	mu   sync.Mutex
	subs map[chan *State]struct{}
}

// New returns an agent that ticks runner every interval.
func New(runner *collector.Runner, interval time.Duration, logger *slog.Logger, sinks ...Sink) *Agent {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Agent{runner: runner, interval: interval, sinks: sinks, logger: logger, enc: exposition.NewEncoder(nil),
		subs: make(map[chan *State]struct{})}
}

// Interval returns the collection interval.
func (a *Agent) Interval() time.Duration { return a.interval }

// Latest returns the state after the last tick, or nil before the first.
func (a *Agent) Latest() *State { return a.latest.Load() }

// Ready reports whether the first tick has completed.
func (a *Agent) Ready() bool { return a.latest.Load() != nil }

// Subscribe returns a channel that receives each new state. A slow reader
// misses states rather than slowing the loop. Call cancel when done.
func (a *Agent) Subscribe() (<-chan *State, func()) {
	ch := make(chan *State, 1)
	a.mu.Lock()
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	return ch, func() {
		a.mu.Lock()
		delete(a.subs, ch)
		a.mu.Unlock()
	}
}

// TickOnce runs one tick and publishes it.
func (a *Agent) TickOnce(ctx context.Context) *State {
	snap := a.runner.Tick(ctx)
	st := &State{Snapshot: snap, Cache: a.enc.NewCache(snap.Families)}
	// Encodings asked for within the last two ticks: a scraper at the
	// collection interval or faster. A slower one (Prometheus every 15 s
	// on a 1 s tick) has its encoding made when it asks, not every tick.
	a.enc.Warm(st.Cache, 2*a.interval+a.interval/2)
	if prev := a.latest.Load(); prev != nil {
		st.Prev = prev.Snapshot
	}
	a.latest.Store(st)
	for _, s := range a.sinks {
		s.Consume(ctx, snap)
	}
	a.mu.Lock()
	for ch := range a.subs {
		select {
		case ch <- st:
		default:
		}
	}
	a.mu.Unlock()
	return st
}

// Run ticks immediately and then on every interval boundary until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	a.TickOnce(ctx)
	// Align ticks to the wall clock so that samples of several agents (and
	// of one agent over restarts) line up.
	next := time.Now().Truncate(a.interval).Add(a.interval)
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		start := time.Now()
		a.TickOnce(ctx)
		if el := time.Since(start); el > a.interval {
			a.logger.Warn("collection tick took longer than the interval", "took", el, "interval", a.interval)
		}
		next = time.Now().Truncate(a.interval).Add(a.interval)
		timer.Reset(time.Until(next))
	}
}
