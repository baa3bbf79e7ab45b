package alerting

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Defaults of the built-in receivers' retries.
const (
	defaultMinBackoff = time.Second
	defaultMaxBackoff = time.Minute
)

// integration delivers one notification. An error wrapped by permanent is
// not retried.
type integration interface {
	send(ctx context.Context, m *message) error
}

// permanentError marks a failure that retrying cannot fix (a 4xx answer).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// receiver is one built-in receiver with its counters and failure state.
type receiver struct {
	name         string
	kind         string
	sendResolved bool
	integ        integration
	logger       *slog.Logger

	sent, failed, dropped atomic.Uint64

	mu      sync.Mutex
	failing bool
	lastErr string
}

// logFailure logs a failure once per change of error.
func (r *receiver) logFailure(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := err.Error()
	if !r.failing || r.lastErr != msg {
		r.logger.Warn("sending notification failed; retrying with backoff (further identical failures are only counted)",
			"receiver", r.name, "type", r.kind, "err", msg)
	}
	r.failing = true
	r.lastErr = msg
}

// logSuccess logs a recovery after failures.
func (r *receiver) logSuccess() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		r.logger.Info("notifications are delivered again", "receiver", r.name, "type", r.kind)
	}
	r.failing = false
	r.lastErr = ""
}

// routeOpts are the validated grouping settings.
type routeOpts struct {
	groupBy                []string
	all                    bool
	wait, interval, repeat time.Duration
}

// dispatcher groups alerts and notifies the built-in receivers with
// Alertmanager's semantics: a new group waits group_wait, later changes
// are sent every group_interval, an unchanged firing group is repeated
// every repeat_interval, and a receiver is only notified when what it last
// heard changed (a new firing alert, a resolution) or the repeat interval
// passed. Each receiver keeps its own notification log, so one failing
// receiver is retried without repeating the others.
type dispatcher struct {
	ctx         context.Context
	route       routeOpts
	receivers   []*receiver
	externalURL string
	logger      *slog.Logger
	minBackoff  time.Duration
	maxBackoff  time.Duration

	mu     sync.Mutex
	groups map[string]*aggGroup
	wg     sync.WaitGroup
}

func newDispatcher(ctx context.Context, route routeOpts, receivers []*receiver, externalURL string, minBackoff, maxBackoff time.Duration, logger *slog.Logger) *dispatcher {
	if minBackoff <= 0 {
		minBackoff = defaultMinBackoff
	}
	if maxBackoff < minBackoff {
		maxBackoff = max(minBackoff, defaultMaxBackoff)
	}
	return &dispatcher{
		ctx:         ctx,
		route:       route,
		receivers:   receivers,
		externalURL: externalURL,
		logger:      logger,
		minBackoff:  minBackoff,
		maxBackoff:  maxBackoff,
		groups:      map[string]*aggGroup{},
	}
}

// groupLabels returns the labels that make an alert's group.
func (d *dispatcher) groupLabels(ls labels.Labels) labels.Labels {
	if d.route.all {
		return ls
	}
	b := labels.NewScratchBuilder(len(d.route.groupBy))
	for _, n := range d.route.groupBy {
		if v := ls.Get(n); v != "" {
			b.Add(n, v)
		}
	}
	b.Sort()
	return b.Labels()
}

// add hands alerts to their groups, creating groups as needed.
func (d *dispatcher) add(alerts ...*alert) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	var early []*aggGroup
	for _, a := range alerts {
		gl := d.groupLabels(a.Labels)
		// Alertmanager's group key: the route's matchers ({} for the only
		// route) and the group's labels.
		key := "{}:" + gl.String()
		ag, ok := d.groups[key]
		if !ok {
			if a.resolved(now) {
				// Nobody was told it fired (or the resolution was already
				// sent): nothing to say.
				continue
			}
			ag = &aggGroup{
				d:       d,
				key:     key,
				labels:  gl,
				alerts:  map[model.Fingerprint]*alert{},
				entries: make([]*logEntry, len(d.receivers)),
				timer:   time.NewTimer(d.route.wait),
			}
			d.groups[key] = ag
			d.wg.Add(1)
			go ag.run()
		}
		if ag.insert(a, now) {
			early = append(early, ag)
		}
	}
	// After the whole batch, so that its alerts share the notification.
	for _, ag := range early {
		ag.flushSoon()
	}
}

// removeIfEmpty deletes a group that holds no alert; it reports whether it
// did.
func (d *dispatcher) removeIfEmpty(ag *aggGroup) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ag.mu.Lock()
	defer ag.mu.Unlock()
	if len(ag.alerts) > 0 {
		return false
	}
	delete(d.groups, ag.key)
	return true
}

// wait waits for the groups' goroutines after the context ended.
func (d *dispatcher) wait() { d.wg.Wait() }

// logEntry is what a receiver was last told about a group.
type logEntry struct {
	firing, resolved map[model.Fingerprint]struct{}
	at               time.Time
}

// aggGroup is one notification group.
type aggGroup struct {
	d      *dispatcher
	key    string
	labels labels.Labels

	mu         sync.Mutex
	alerts     map[model.Fingerprint]*alert
	timer      *time.Timer
	hasFlushed bool

	// entries[i] is receiver i's log; only the group's goroutine and the
	// flush's per-receiver goroutines (each its own index) touch it.
	entries []*logEntry
}

// insert adds or replaces an alert. A resolved alert the group does not
// hold is ignored (its resolution was sent, or it never fired here). It
// reports whether the alert is older than group_wait while the group has
// not flushed yet: Alertmanager then flushes at once.
func (ag *aggGroup) insert(a *alert, now time.Time) bool {
	ag.mu.Lock()
	defer ag.mu.Unlock()
	if _, ok := ag.alerts[a.fp]; !ok && a.resolved(now) {
		return false
	}
	ag.alerts[a.fp] = a
	return !ag.hasFlushed && a.StartsAt.Add(ag.d.route.wait).Before(now)
}

// flushSoon makes a group that has not flushed yet flush now.
func (ag *aggGroup) flushSoon() {
	ag.mu.Lock()
	defer ag.mu.Unlock()
	if !ag.hasFlushed {
		ag.timer.Reset(0)
	}
}

// run flushes the group on its timer until the context ends or the group
// is empty after a flush.
func (ag *aggGroup) run() {
	d := ag.d
	defer d.wg.Done()
	defer ag.timer.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-ag.timer.C:
			ag.mu.Lock()
			ag.timer.Reset(d.route.interval)
			ag.hasFlushed = true
			ag.mu.Unlock()
			// A flush, retries included, may take up to group_interval.
			ctx, cancel := context.WithTimeout(d.ctx, d.route.interval)
			ag.flush(ctx)
			cancel()
			if d.removeIfEmpty(ag) {
				return
			}
		}
	}
}

// flush notifies every receiver that needs it and forgets the resolved
// alerts once all receivers have heard of them.
func (ag *aggGroup) flush(ctx context.Context) {
	d := ag.d
	now := time.Now()
	ag.mu.Lock()
	alerts := make([]*alert, 0, len(ag.alerts))
	for _, a := range ag.alerts {
		alerts = append(alerts, a)
	}
	ag.mu.Unlock()
	if len(alerts) == 0 {
		return
	}
	firing := map[model.Fingerprint]struct{}{}
	resolved := map[model.Fingerprint]struct{}{}
	for _, a := range alerts {
		if a.resolved(now) {
			resolved[a.fp] = struct{}{}
		} else {
			firing[a.fp] = struct{}{}
		}
	}
	ok := make([]bool, len(d.receivers))
	var wg sync.WaitGroup
	for i, r := range d.receivers {
		wg.Go(func() { ok[i] = ag.notify(ctx, i, r, alerts, firing, resolved, now) })
	}
	wg.Wait()
	for _, o := range ok {
		if !o {
			return // keep the resolved alerts for the next try
		}
	}
	ag.mu.Lock()
	defer ag.mu.Unlock()
	for _, a := range alerts {
		if _, res := resolved[a.fp]; res && ag.alerts[a.fp] == a {
			delete(ag.alerts, a.fp)
		}
	}
}

// notify sends the group to receiver i when its log says it needs to, and
// reports whether the receiver is up to date.
func (ag *aggGroup) notify(ctx context.Context, i int, r *receiver, alerts []*alert, firing, resolved map[model.Fingerprint]struct{}, now time.Time) bool {
	d := ag.d
	if !needsUpdate(ag.entries[i], firing, resolved, r.sendResolved, d.route.repeat, now) {
		return true
	}
	send := alerts
	if !r.sendResolved {
		send = make([]*alert, 0, len(firing))
		for _, a := range alerts {
			if _, f := firing[a.fp]; f {
				send = append(send, a)
			}
		}
	}
	if len(send) > 0 {
		msg := newMessage(r.name, ag.key, ag.labels, d.externalURL, send, now)
		if err := d.deliver(ctx, r, msg); err != nil {
			return false
		}
	}
	ag.entries[i] = &logEntry{firing: firing, resolved: resolved, at: now}
	return true
}

// needsUpdate is Alertmanager's deduplication: whether a receiver whose
// last notification was e must be told about the group now.
func needsUpdate(e *logEntry, firing, resolved map[model.Fingerprint]struct{}, sendResolved bool, repeat time.Duration, now time.Time) bool {
	if e == nil {
		return len(firing) > 0
	}
	if !isSubset(e.firing, firing) {
		return true // a new firing alert
	}
	if len(firing) == 0 {
		// All resolved: tell a receiver that heard of firing alerts (and
		// clear its log even when it takes no resolved messages).
		return len(e.firing) > 0
	}
	if sendResolved && !isSubset(e.resolved, resolved) {
		return true
	}
	return !e.at.After(now.Add(-repeat))
}

// isSubset reports whether every element of sub is in set.
func isSubset(set, sub map[model.Fingerprint]struct{}) bool {
	for k := range sub {
		if _, ok := set[k]; !ok {
			return false
		}
	}
	return true
}

// deliver sends a message, retrying with exponential backoff (and jitter)
// until it succeeds, fails permanently or ctx ends. Every failed attempt
// counts as failed; a message given up counts as dropped.
func (d *dispatcher) deliver(ctx context.Context, r *receiver, msg *message) error {
	backoff := d.minBackoff
	for {
		err := r.integ.send(ctx, msg)
		if err == nil {
			r.sent.Add(1)
			r.logSuccess()
			return nil
		}
		if ctx.Err() != nil && d.ctx.Err() != nil {
			// Shutting down: not a receiver failure.
			r.dropped.Add(1)
			return err
		}
		r.failed.Add(1)
		r.logFailure(err)
		var pe *permanentError
		if errors.As(err, &pe) {
			r.dropped.Add(1)
			return err
		}
		// Full jitter in [backoff/2, backoff).
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.dropped.Add(1)
			d.logger.Debug("notification given up until the group's next interval", "receiver", r.name, "group", msg.GroupKey, "err", err)
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, d.maxBackoff)
	}
}
