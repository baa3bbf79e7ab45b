// Package ui serves trainwatch's web dashboard: the embedded single-page
// application (static/, no build step, uPlot vendored), and the small API
// it needs beyond Prometheus' own (/api/v1/, served by internal/promapi):
//
//	GET  /api/ui/config               what the agent is and has (history, alerting, fleet)
//	GET  /api/ui/events               server-sent events: a snapshot per collection tick
//	GET  /api/ui/processes            every process with its job and GPU memory
//	GET  /api/ui/fleet/hosts          the hosts of the central Prometheus (fleet view)
//	GET  /api/ui/fleet/api/v1/...     read-only queries forwarded to the central Prometheus
//
// Live data is pushed, never polled: each tick's snapshot (host summary,
// runs, alerts) is encoded once and written to every open stream, and
// nothing is computed while no browser watches.
package ui

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/rules"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// DefaultMaxStreams bounds the open event streams.
const DefaultMaxStreams = 64

// States is the agent's stream of ticks (agent.Agent).
type States interface {
	Latest() *agent.State
	Subscribe() (<-chan *agent.State, func())
}

// Options configures the dashboard.
type Options struct {
	// Version, Hostname, Instance and Job describe this agent; Instance
	// and Job are the labels its series carry in history.
	Version, Hostname, Instance, Job string
	// Interval is the collection interval.
	Interval time.Duration
	// History is false with --no-history; Retention is the history's
	// retention time.
	History   bool
	Retention time.Duration
	// States gives the ticks (required).
	States States
	// Runs lists the training runs; nil without a run registry.
	Runs func() []runs.Run
	// Alerting gives the alerting rules; nil when alerting is off.
	Alerting func() []*rules.AlertingRule
	// Processes gives the latest full process table; nil when the process
	// collector is off.
	Processes func() *process.Table
	// Jobs tunes job attribution, as the agent's own.
	Jobs jobs.Options
	// Fleet, when its URL is set, shows every host of a central
	// Prometheus-compatible server.
	Fleet *Fleet
	// MaxStreams bounds the open event streams (DefaultMaxStreams).
	MaxStreams int
	Logger     *slog.Logger
}

// UI is the dashboard's HTTP surface.
type UI struct {
	opts   Options
	assets assets
	hub    *hub
	fleet  *fleetClient
	// slots holds one token per open event stream.
	slots chan struct{}
	// closing ends the open streams when the agent shuts down (an HTTP
	// server's graceful shutdown waits for them otherwise).
	closing   chan struct{}
	closeOnce sync.Once
}

// New returns the dashboard.
func New(opts Options) (*UI, error) {
	if opts.States == nil {
		return nil, fmt.Errorf("ui: no tick source")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		return nil, fmt.Errorf("ui: embedded files: %w", err)
	}
	as, err := loadAssets(sub)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	u := &UI{opts: opts, assets: as, slots: make(chan struct{}, opts.MaxStreams), closing: make(chan struct{})}
	u.hub = newHub(u.payload)
	if opts.Fleet != nil && opts.Fleet.URL != "" {
		if u.fleet, err = newFleetClient(*opts.Fleet, opts.Interval); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Route is one handler of the dashboard with its ServeMux pattern.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes returns the dashboard's API routes and, last, the static files
// at "GET /".
func (u *UI) Routes() []Route {
	rs := []Route{
		{"GET /api/ui/config", http.HandlerFunc(u.handleConfig)},
		{"GET /api/ui/events", http.HandlerFunc(u.handleEvents)},
		{"GET /api/ui/processes", http.HandlerFunc(u.handleProcesses)},
		{"GET /api/ui/fleet/hosts", http.HandlerFunc(u.handleFleetHosts)},
		{"/api/ui/fleet/api/v1/", http.HandlerFunc(u.handleFleetAPI)},
		{"/", u.assets},
	}
	return rs
}

// Run publishes each tick to the open event streams until the tick source
// closes or done is closed; then it ends the open streams.
func (u *UI) Run(done <-chan struct{}) {
	ch, cancel := u.opts.States.Subscribe()
	defer cancel()
	defer u.closeOnce.Do(func() { close(u.closing) })
	for {
		select {
		case <-done:
			return
		case st, ok := <-ch:
			if !ok {
				return
			}
			u.hub.publish(st)
		}
	}
}

// Info is the answer of /api/ui/config.
type Info struct {
	Version          string  `json:"version"`
	Hostname         string  `json:"hostname"`
	Instance         string  `json:"instance"`
	Job              string  `json:"job"`
	IntervalSeconds  float64 `json:"interval_seconds"`
	History          bool    `json:"history"`
	RetentionSeconds float64 `json:"retention_seconds"`
	Alerting         bool    `json:"alerting"`
	Runs             bool    `json:"runs"`
	Processes        bool    `json:"processes"`
	Demo             bool    `json:"demo"`
	DemoScenario     string  `json:"demo_scenario,omitempty"`
	Fleet            struct {
		Enabled bool   `json:"enabled"`
		URL     string `json:"url"`
	} `json:"fleet"`
}

func (u *UI) handleConfig(w http.ResponseWriter, _ *http.Request) {
	c := Info{
		Version: u.opts.Version, Hostname: u.opts.Hostname, Instance: u.opts.Instance, Job: u.opts.Job,
		IntervalSeconds: u.opts.Interval.Seconds(), History: u.opts.History,
		RetentionSeconds: u.opts.Retention.Seconds(), Alerting: u.opts.Alerting != nil,
		Runs: u.opts.Runs != nil, Processes: u.opts.Processes != nil,
	}
	if st := u.opts.States.Latest(); st != nil {
		if f := st.Snapshot.Family("trainwatch_demo"); f != nil && len(f.Samples) > 0 {
			c.Demo, c.DemoScenario = true, f.Label(0, "scenario")
		}
	}
	if u.fleet != nil {
		c.Fleet.Enabled, c.Fleet.URL = true, u.fleet.display
	}
	writeJSON(w, http.StatusOK, c)
}

// Alert is an active alert as the dashboard shows it.
type Alert struct {
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Severity    string            `json:"severity"`
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	Value       runs.Float        `json:"value"`
	ActiveAt    *time.Time        `json:"active_at,omitempty"`
}

// alertsOf lists the pending and firing alerts of rs, firing first, then
// by severity and name.
func alertsOf(rs []*rules.AlertingRule) []Alert {
	out := []Alert{}
	for _, r := range rs {
		for _, a := range r.ActiveAlerts() {
			al := Alert{
				Name: r.Name(), State: a.State.String(), Value: runs.Float(a.Value),
				Severity:    a.Labels.Get("severity"),
				Summary:     a.Annotations.Get("summary"),
				Description: a.Annotations.Get("description"),
				Labels:      a.Labels.Map(),
			}
			if !a.ActiveAt.IsZero() {
				t := a.ActiveAt.UTC()
				al.ActiveAt = &t
			}
			out = append(out, al)
		}
	}
	sortAlerts(out)
	return out
}

var severityRank = map[string]int{"critical": 0, "warning": 1, "info": 2}

func sortAlerts(as []Alert) {
	rank := func(s string) int {
		if r, ok := severityRank[s]; ok {
			return r
		}
		return len(severityRank)
	}
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if (a.State == "firing") != (b.State == "firing") {
			return a.State == "firing"
		}
		if rank(a.Severity) != rank(b.Severity) {
			return rank(a.Severity) < rank(b.Severity)
		}
		return a.Name < b.Name
	})
}

// Payload is one event of /api/ui/events.
type Payload struct {
	Instance string        `json:"instance"`
	Host     *summary.Host `json:"host"`
	Runs     []RunView     `json:"runs"`
	Alerts   []Alert       `json:"alerts"`
}

// RunView is a run with what the agent knows of its processes: the job
// (process tree) that its PID belongs to, and that job's GPUs.
type RunView struct {
	runs.Run
	Job  string   `json:"job"`
	GPUs []string `json:"gpus"`
}

// payload builds the local agent's event for one tick.
func (u *UI) payload(st *agent.State) Payload {
	p := Payload{Instance: u.opts.Instance, Host: summary.Compute(st.Prev, st.Snapshot), Runs: []RunView{}, Alerts: []Alert{}}
	if u.opts.Runs != nil {
		var tab *process.Table
		if u.opts.Processes != nil {
			tab = u.opts.Processes()
		}
		p.Runs = runViews(u.opts.Runs(), p.Host.Jobs, tab)
	}
	if u.opts.Alerting != nil {
		p.Alerts = alertsOf(u.opts.Alerting())
	}
	return p
}

// runViews attaches each run's job: the job whose root is the run's PID
// or one of its ancestors (a training script under torchrun), else the
// first job rooted below it (`trainwatch run` starting a shell script).
func runViews(rs []runs.Run, js []summary.Job, tab *process.Table) []RunView {
	out := make([]RunView, 0, len(rs))
	byRoot := make(map[int64]*summary.Job, len(js))
	for i := range js {
		byRoot[js[i].RootPID] = &js[i]
	}
	for _, r := range rs {
		v := RunView{Run: r, GPUs: []string{}}
		if j := jobOf(int64(r.PID), byRoot, tab); j != nil {
			v.Job, v.GPUs = j.ID, append(v.GPUs, j.GPUs...)
		}
		out = append(out, v)
	}
	return out
}

func jobOf(pid int64, byRoot map[int64]*summary.Job, tab *process.Table) *summary.Job {
	if pid <= 0 {
		return nil
	}
	if j := byRoot[pid]; j != nil {
		return j
	}
	if tab == nil {
		return nil
	}
	// Up: the PID is inside a job.
	for cur, n := tab.Procs[int(pid)], 0; cur != nil && n < 64; n++ {
		if j := byRoot[int64(cur.PID)]; j != nil {
			return j
		}
		cur = tab.Procs[cur.PPID]
	}
	// Down: a job's root descends from the PID.
	var best *summary.Job
	for root, j := range byRoot {
		for cur, n := tab.Procs[int(root)], 0; cur != nil && n < 64; n++ {
			if int64(cur.PID) == pid {
				if best == nil || j.RootPID < best.RootPID {
					best = j
				}
				break
			}
			cur = tab.Procs[cur.PPID]
		}
	}
	return best
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"status": "error", "error": msg})
}

// finite maps NaN and ±Inf to 0 for fields that are rates.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// snapshotOf returns the latest tick's snapshot, or nil.
func (u *UI) snapshotOf() *collector.Snapshot {
	if st := u.opts.States.Latest(); st != nil {
		return st.Snapshot
	}
	return nil
}
