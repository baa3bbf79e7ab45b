package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// Collector is one source of metrics. Collect is called once per tick with a
// context that carries the collector's deadline. It emits what it read and
// returns an error when it could not read its source; an error makes the
// Runner keep the collector's last good values and report the failure.
type Collector interface {
	// Name is the collector's name as it appears in the collector label of
	// the self-metrics and in configuration.
	Name() string
	Collect(ctx context.Context, e *Emitter) error
}

// ErrNoData may be returned by a collector whose source does not exist on
// this machine (no hwmon chips, no pressure stall information). The Runner
// reports it as success=0 with a clear reason, and logs it only once.
var ErrNoData = errors.New("no data on this machine")

// Scheduled is implemented by collectors that should run less often than
// every tick (a full process scan on a busy host). Between runs the Runner
// serves their last values and last status.
type Scheduled interface {
	MinInterval() time.Duration
}

// Deriver computes families from a tick's snapshot after every collector
// has run (training jobs need the process table and the GPUs' per-process
// series of the same tick). It must be quick; it runs on the tick's
// goroutine.
type Deriver interface {
	Derive(s *Snapshot, e *Emitter)
}

// CollectorStatus is what the Runner knows about one collector after a tick.
type CollectorStatus struct {
	Name     string        `json:"name"`
	Success  bool          `json:"success"`
	Duration time.Duration `json:"duration_ns"`
	// Stale is true when the values served are not from this tick (the
	// collector failed or was late).
	Stale bool `json:"stale"`
	// Error says why the collector failed or was late; "" on success.
	Error string `json:"error,omitempty"`
	// NoData is true when the collector failed only because its source
	// does not exist on this machine (ErrNoData): not a fault.
	NoData bool `json:"no_data,omitempty"`
	// LastSuccess is when the collector last succeeded (zero if never).
	LastSuccess time.Time `json:"last_success"`
}

// Snapshot is the result of one tick: every family, sorted by name, at Time.
type Snapshot struct {
	Time       time.Time
	Families   []*Family
	Collectors []CollectorStatus
}

// Family returns the family with the given name, or nil.
func (s *Snapshot) Family(name string) *Family {
	i := sort.Search(len(s.Families), func(i int) bool { return s.Families[i].Desc.Name >= name })
	if i < len(s.Families) && s.Families[i].Desc.Name == name {
		return s.Families[i]
	}
	return nil
}

// RunnerOptions configures a Runner.
type RunnerOptions struct {
	// Timeout is each collector's deadline within a tick. Default 5s.
	Timeout time.Duration
	// MaxStale is how long a failing collector's last good values are
	// still served. Default 5m.
	MaxStale time.Duration
	// Logger receives failures and recoveries (once per change). Default: discard.
	Logger *slog.Logger
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// Derivers run after the collectors, over the tick's snapshot.
	Derivers []Deriver
}

// Runner calls its collectors concurrently, each with its own deadline.
// A collector that is late or fails serves its last good values; the others
// never wait for it. Tick must not be called concurrently.
type Runner struct {
	opts    RunnerOptions
	entries []*entry

	durationDesc    *Desc
	successDesc     *Desc
	lastSuccessDesc *Desc
	tickDesc        *Desc
	// node_exporter's names for the same facts, for dashboard 1860.
	nodeDurationDesc *Desc
	nodeSuccessDesc  *Desc

	// deriverPanicked[i] is the last panic of Derivers[i] ("" when its
	// last run was fine), so that a deriver that panics every tick is
	// logged once. Only Tick touches it.
	deriverPanicked []string
}

type entry struct {
	c Collector

	mu          sync.Mutex
	running     bool
	runningFrom time.Time
	last        []*Family
	lastOK      time.Time
	failing     bool
	lastErr     string
	// lateFrom is the start of the run last reported late (its deadline
	// exceeded): the same run still hung in later ticks is not logged
	// again.
	lateFrom time.Time
	// lastStart is when the collector was last started; lastStatus is the
	// status of its last completed run (for Scheduled collectors between
	// runs).
	lastStart  time.Time
	lastStatus *CollectorStatus
	// doneErr and doneDur are the outcome of the last run to complete,
	// for a run that returns after its tick gave up on it.
	doneErr error
	doneDur time.Duration
}

// resting reports whether a Scheduled collector is not due yet. e.mu held.
func (e *entry) resting(now time.Time) bool {
	s, ok := e.c.(Scheduled)
	if !ok || e.lastStart.IsZero() || e.lastStatus == nil {
		return false
	}
	iv := s.MinInterval()
	// A tenth of slack, so that tick jitter does not skip a whole period.
	return now.Sub(e.lastStart) < iv-iv/10
}

type result struct {
	e        *entry
	fams     []*Family
	err      error
	duration time.Duration
}

// NewRunner returns a Runner for the given collectors. Collector names must
// be unique.
func NewRunner(opts RunnerOptions, cs ...Collector) (*Runner, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Runner{
		opts:            opts,
		deriverPanicked: make([]string, len(opts.Derivers)),
		durationDesc: NewDesc("trainwatch_collector_duration_seconds",
			"Time the collector took in the last tick (the deadline when it was late).", Gauge, "collector"),
		successDesc: NewDesc("trainwatch_collector_success",
			"1 if the collector produced fresh values in the last tick, 0 if it failed or was late.", Gauge, "collector"),
		lastSuccessDesc: NewDesc("trainwatch_collector_last_success_timestamp_seconds",
			"Unix time of the collector's last successful run (0 if never).", Gauge, "collector"),
		tickDesc: NewDesc("trainwatch_tick_duration_seconds",
			"Wall time of the last collection tick.", Gauge),
		nodeDurationDesc: NewDesc("node_scrape_collector_duration_seconds",
			"node_exporter: Duration of a collector scrape.", Gauge, "collector"),
		nodeSuccessDesc: NewDesc("node_scrape_collector_success",
			"node_exporter: Whether a collector succeeded.", Gauge, "collector"),
	}
	seen := make(map[string]bool)
	for _, c := range cs {
		if seen[c.Name()] {
			return nil, fmt.Errorf("collector %q registered twice", c.Name())
		}
		seen[c.Name()] = true
		r.entries = append(r.entries, &entry{c: c})
	}
	return r, nil
}

// Names returns the collectors' names in registration order.
func (r *Runner) Names() []string {
	out := make([]string, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.c.Name()
	}
	return out
}

// Tick runs every collector once and returns the snapshot.
func (r *Runner) Tick(ctx context.Context) *Snapshot {
	start := r.opts.Now()
	tctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()

	results := make(chan result, len(r.entries))
	pending := make(map[*entry]bool, len(r.entries))
	resting := make(map[*entry]bool)
	for _, e := range r.entries {
		e.mu.Lock()
		rest := !e.running && e.resting(start)
		busy := e.running || rest
		if rest {
			resting[e] = true
		}
		if !busy {
			e.running = true
			e.runningFrom = start
			e.lastStart = start
		}
		e.mu.Unlock()
		if busy {
			continue
		}
		pending[e] = true
		go r.run(tctx, e, results)
	}

	done := make(map[*entry]result, len(r.entries))
	timer := time.NewTimer(r.opts.Timeout)
	defer timer.Stop()
wait:
	for len(done) < len(pending) {
		select {
		case res := <-results:
			done[res.e] = res
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}

	now := r.opts.Now()
	var lists [][]*Family
	statuses := make([]CollectorStatus, 0, len(r.entries))
	for _, e := range r.entries {
		st := CollectorStatus{Name: e.c.Name()}
		res, finished := done[e]
		e.mu.Lock()
		if resting[e] {
			// A Scheduled collector between its runs.
			st = *e.lastStatus
			if !e.lastOK.IsZero() && now.Sub(e.lastOK) <= r.opts.MaxStale {
				lists = append(lists, e.last)
			}
			e.mu.Unlock()
			statuses = append(statuses, st)
			continue
		}
		quiet := false // a failure already logged
		// completed: a run ended with runErr, in this tick or (a run
		// that was late in an earlier tick) since this tick began.
		completed, runErr, runDur := finished, res.err, res.duration
		if !pending[e] && !e.running {
			completed, runErr, runDur = true, e.doneErr, e.doneDur
		}
		switch {
		case completed && runErr == nil:
			st.Success = true
			st.Duration = runDur
		case completed:
			st.Duration = runDur
			st.Error = runErr.Error()
			st.NoData = errors.Is(runErr, ErrNoData)
		case pending[e]:
			st.Duration = r.opts.Timeout
			st.Error = fmt.Sprintf("deadline of %s exceeded; serving last values", r.opts.Timeout)
		default:
			st.Duration = now.Sub(e.runningFrom)
			st.Error = fmt.Sprintf("still running since %s (hung); serving last values", e.runningFrom.Format(time.RFC3339))
			// Logged once already, when this run missed its deadline.
			quiet = e.failing && e.lateFrom.Equal(e.runningFrom)
		}
		st.Stale = !st.Success
		st.LastSuccess = e.lastOK
		if completed {
			last := st
			e.lastStatus = &last
		}
		if !e.lastOK.IsZero() && now.Sub(e.lastOK) <= r.opts.MaxStale {
			lists = append(lists, e.last)
		}
		if quiet {
			e.lastErr = st.Error
		} else {
			var pe *panicError
			stack := ""
			if completed && errors.As(runErr, &pe) {
				stack = pe.stack
			}
			r.logChange(e, st, completed && errors.Is(runErr, ErrNoData), stack)
		}
		if pending[e] && !finished {
			e.lateFrom = e.runningFrom
		}
		e.mu.Unlock()
		statuses = append(statuses, st)
	}

	self := NewEmitter()
	for _, st := range statuses {
		self.Emit(r.durationDesc, st.Duration.Seconds(), st.Name)
		ok := 0.0
		if st.Success {
			ok = 1
		}
		self.Emit(r.successDesc, ok, st.Name)
		self.Emit(r.nodeDurationDesc, st.Duration.Seconds(), st.Name)
		self.Emit(r.nodeSuccessDesc, ok, st.Name)
		ls := 0.0
		if !st.LastSuccess.IsZero() {
			ls = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		self.Emit(r.lastSuccessDesc, ls, st.Name)
	}
	self.Emit(r.tickDesc, now.Sub(start).Seconds())
	lists = append(lists, self.Families())

	snap := &Snapshot{Time: start, Families: MergeFamilies(lists...), Collectors: statuses}
	if len(r.opts.Derivers) > 0 {
		lists := make([][]*Family, 1, len(r.opts.Derivers)+1)
		lists[0] = snap.Families
		for i, d := range r.opts.Derivers {
			if fams, ok := r.derive(i, d, snap); ok {
				lists = append(lists, fams)
			}
		}
		snap.Families = MergeFamilies(lists...)
	}
	return snap
}

// derive runs one deriver, recovering a panic: the tick then goes on
// without that deriver's families, and the panic is logged once (until
// the deriver works again or panics differently).
func (r *Runner) derive(i int, d Deriver, snap *Snapshot) (fams []*Family, ok bool) {
	defer func() {
		p := recover()
		if p == nil {
			if r.deriverPanicked[i] != "" {
				r.opts.Logger.Info("deriver recovered", "deriver", fmt.Sprintf("%T", d))
				r.deriverPanicked[i] = ""
			}
			return
		}
		msg := fmt.Sprint(p)
		if r.deriverPanicked[i] != msg {
			r.opts.Logger.Warn("deriver panicked; its metrics are left out of the tick", "deriver", fmt.Sprintf("%T", d),
				"err", "panic: "+msg, "stack", string(debug.Stack()))
			r.deriverPanicked[i] = msg
		}
		fams, ok = nil, false
	}()
	e := NewEmitter()
	d.Derive(snap, e)
	return e.Families(), true
}

// logChange logs a collector's move between working and failing, once per
// change, so a missing file does not flood the log. e.mu must be held.
// A panic's stack, when given, is logged with it.
func (r *Runner) logChange(e *entry, st CollectorStatus, noData bool, stack string) {
	switch {
	case !st.Success && (!e.failing || e.lastErr != st.Error):
		if noData {
			// Expected on this machine (no sensors on a VM): not a warning.
			r.opts.Logger.Info("collector has nothing to read", "collector", st.Name, "reason", st.Error)
		} else {
			attrs := []any{"collector", st.Name, "err", st.Error}
			if stack != "" {
				attrs = append(attrs, "stack", stack)
			}
			r.opts.Logger.Warn("collector failed", attrs...)
		}
		e.failing = true
		e.lastErr = st.Error
	case st.Success && e.failing:
		r.opts.Logger.Info("collector recovered", "collector", st.Name)
		e.failing = false
		e.lastErr = ""
	}
}

// panicError is a collector's panic, recovered by the Runner.
type panicError struct {
	value any
	stack string
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// Unwrap returns the panic's value when it is an error.
func (e *panicError) Unwrap() error {
	err, _ := e.value.(error)
	return err
}

// run calls one collector, recovering a panic into an error, and records
// its values as the last good ones when it succeeds, even if it finishes
// after the tick's deadline.
func (r *Runner) run(ctx context.Context, e *entry, out chan<- result) {
	start := time.Now()
	em := NewEmitter()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = &panicError{value: p, stack: string(debug.Stack())}
			}
		}()
		return e.c.Collect(ctx, em)
	}()
	d := time.Since(start)
	e.mu.Lock()
	e.running = false
	e.doneErr, e.doneDur = err, d
	// A collector with nothing to read may still say so in metrics
	// (trainwatch_gpu_backend_up 0): what it emitted is served as fresh.
	if err == nil || errors.Is(err, ErrNoData) {
		e.last = em.Families()
		e.lastOK = r.opts.Now()
	}
	e.mu.Unlock()
	out <- result{e: e, fams: em.Families(), err: err, duration: d}
}
