package tui

import (
	"context"
	"errors"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/summary"
	"github.com/trainwatch/trainwatch/internal/ui"
)

// Ticker collects one snapshot: collector.Runner.
type Ticker interface {
	Tick(ctx context.Context) *collector.Snapshot
}

// LocalOptions configures a LocalSource.
type LocalOptions struct {
	// Runner collects (required).
	Runner Ticker
	// Processes gives the latest full process table (process.Scanner's
	// Latest); nil when the process collector is off.
	Processes func() *process.Table
	// Jobs tunes job attribution.
	Jobs jobs.Options
	// Interval is the collection interval (default 1 s).
	Interval time.Duration
	// Instance names this machine in the payload (its host name).
	Instance string
}

// LocalSource collects in this process, as `trainwatch summary` does
// without an agent. It keeps no history, no runs and no alerts: those are
// the agent's.
type LocalSource struct {
	opts LocalOptions

	mu   sync.Mutex
	last *collector.Snapshot
}

// NewLocalSource returns a source that collects every opts.Interval.
func NewLocalSource(opts LocalOptions) (*LocalSource, error) {
	if opts.Runner == nil {
		return nil, errors.New("local source: no collector runner")
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	return &LocalSource{opts: opts}, nil
}

// Label implements Source.
func (l *LocalSource) Label() string { return "local (no agent)" }

// Stream implements Source: a snapshot right away (without rates), then
// one every interval with rates over it.
func (l *LocalSource) Stream(ctx context.Context, events chan<- Event) {
	var prev *collector.Snapshot
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		cur := l.opts.Runner.Tick(ctx)
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		l.last = cur
		l.mu.Unlock()
		p := &ui.Payload{Instance: l.opts.Instance, Host: summary.Compute(prev, cur), Runs: []ui.RunView{}, Alerts: []ui.Alert{}}
		prev = cur
		if !send(ctx, events, Event{Payload: p}) {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// Info implements Source.
func (l *LocalSource) Info(context.Context) (Info, error) {
	return Info{Interval: l.opts.Interval, Processes: l.opts.Processes != nil}, nil
}

// Processes implements Source: the latest scan joined with its jobs and
// GPU use, as the agent's /api/ui/processes computes it.
func (l *LocalSource) Processes(context.Context) (*ui.ProcessList, error) {
	if l.opts.Processes == nil {
		return nil, errors.New("the process collector is off (processes.disable in the configuration)")
	}
	tab := l.opts.Processes()
	if tab == nil {
		return nil, errors.New("no process scan yet: the first collection has not finished")
	}
	l.mu.Lock()
	snap := l.last
	l.mu.Unlock()
	return processList(tab, jobs.GPUUseFromSnapshot(snap), l.opts.Jobs), nil
}

// QueryRange implements Source: there is no history in process.
func (l *LocalSource) QueryRange(context.Context, string, time.Time, time.Time, time.Duration) ([]Series, error) {
	return nil, ErrNoHistory
}

// CanSignal implements Source: the processes are this machine's.
func (l *LocalSource) CanSignal() error { return nil }

// Signal implements Source.
func (l *LocalSource) Signal(pid int, sig syscall.Signal) error { return kill(pid, sig) }

// processList is the agent's /api/ui/processes computed here, by PID (the
// process panel sorts it as the user asks).
func processList(tab *process.Table, uses map[int][]jobs.GPUUse, opts jobs.Options) *ui.ProcessList {
	l := ui.BuildProcessList(tab, uses, opts)
	sort.Slice(l.Processes, func(i, k int) bool { return l.Processes[i].PID < l.Processes[k].PID })
	return &l
}
