// Package runs keeps training runs as first-class objects: their identity,
// metadata, progress, throughput and status, fed by the JSON log API, by
// Pushgateway pushes and by the Python client. Every logged value is stored
// in the agent's history at the time it was logged, with a run label; the
// runs themselves are kept in DATA_DIR/runs/runs.json so that they survive
// an agent restart.
package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/store"
)

// Run statuses.
const (
	StatusRunning  = "running"
	StatusFinished = "finished"
	StatusFailed   = "failed"
	StatusStalled  = "stalled"
)

// Limits of what a run's registration and log requests may hold.
const (
	// MaxKeyLength bounds a logged key, in bytes: it becomes a metric
	// name (as push.max_label_name_length bounds pushed names).
	MaxKeyLength = 1024
	// MaxFieldLength bounds a run's name, host and each tag, in bytes:
	// name and host are label values of trainwatch_run_info.
	MaxFieldLength = 4096
	// MaxTags bounds a run's tags.
	MaxTags = 64
	// MaxCommandLength bounds a run's command line, in bytes.
	MaxCommandLength = 64 << 10
)

// Defaults for Options.
const (
	DefaultMaxSeriesPerRun = 1000
	DefaultMaxRuns         = 1000
	DefaultStallMin        = 5 * time.Minute
	DefaultStallFactor     = 10
	// maxFuture is how far in the future a logged time may be.
	maxFuture = time.Minute
	// historyLen is how many step observations throughput is computed from.
	historyLen = 64
)

// Run is a training run as the API shows it.
type Run struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Host     string     `json:"host"`
	Source   string     `json:"source"`
	Status   string     `json:"status"`
	Start    time.Time  `json:"start"`
	End      *time.Time `json:"end,omitempty"`
	ExitCode *int       `json:"exit_code,omitempty"`
	Command  string     `json:"command,omitempty"`
	// PID is the process that registered the run (the training script's
	// own, or the command `trainwatch run` started); 0 when unknown. The
	// dashboard finds the run's job, GPUs and processes from it.
	PID         int              `json:"pid,omitempty"`
	Config      json.RawMessage  `json:"config,omitempty"`
	Tags        []string         `json:"tags,omitempty"`
	Step        int64            `json:"step"`
	Epoch       Float            `json:"epoch"`
	TotalSteps  int64            `json:"total_steps,omitempty"`
	TotalEpochs float64          `json:"total_epochs,omitempty"`
	Progress    *float64         `json:"progress,omitempty"`
	StepsPerSec float64          `json:"steps_per_second"`
	SamplesPS   float64          `json:"samples_per_second,omitempty"`
	TokensPS    float64          `json:"tokens_per_second,omitempty"`
	ETASeconds  *float64         `json:"eta_seconds,omitempty"`
	LastStep    *time.Time       `json:"last_step_time,omitempty"`
	LastLog     *time.Time       `json:"last_log_time,omitempty"`
	Metrics     map[string]Float `json:"metrics"`
	Series      int              `json:"series"`
}

// Float is a float64 that JSON carries even when it is NaN or ±Inf (as the
// strings "NaN", "+Inf" and "-Inf"): a NaN loss is news, not an error.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	x, err := number(v)
	if err != nil {
		return err
	}
	*f = Float(x)
	return nil
}

// run is the registry's state of one run.
type run struct {
	Run
	names     map[string]struct{} // metric names stored for this run
	lastMs    int64               // last appended sample time
	steps     []stepObs           // recent step observations
	lastStepT time.Time
}

// stepObs is one observation of the step counter.
type stepObs struct {
	t    time.Time
	step int64
}

// Options configures a Registry.
type Options struct {
	// Dir keeps runs.json; empty keeps runs in memory only.
	Dir string
	// Host names this machine in new runs. Default: os.Hostname.
	Host string
	// Job and Instance label the stored series, as the store labels the
	// agent's own.
	Job, Instance string
	// Append stores logged values, all or nothing (store.Store.AppendAll).
	Append func(ctx context.Context, batch []store.Appended) error
	// After is a time (ms) every untimed or moved entry is stored after:
	// the newest sample already in the history (store.Store.MaxTime), so
	// that entries logged after a restart are not older than what the
	// agent stored before it.
	After int64
	// MaxSeriesPerRun bounds the distinct metric names of one run.
	MaxSeriesPerRun int
	// MaxRuns bounds the runs kept; the oldest ended ones go first.
	MaxRuns int
	// StallMin and StallFactor: a running run is stalled when its step has
	// not advanced for max(StallMin, StallFactor × its median step time).
	StallMin    time.Duration
	StallFactor float64
	// Reserved reports metric names that logged keys must not take (the
	// agent's own: node_*, DCGM_*, ...).
	Reserved func(name string) bool
	// Now is the clock (tests).
	Now    func() time.Time
	Logger *slog.Logger
}

// Registry holds the runs.
type Registry struct {
	opts Options
	mu   sync.Mutex
	runs map[string]*run
	// dirty is set when runs.json needs rewriting.
	dirty bool
	file  string
}

// Open loads the runs kept in o.Dir (if any).
func Open(o Options) (*Registry, error) {
	if o.MaxSeriesPerRun <= 0 {
		o.MaxSeriesPerRun = DefaultMaxSeriesPerRun
	}
	if o.MaxRuns <= 0 {
		o.MaxRuns = DefaultMaxRuns
	}
	if o.StallMin <= 0 {
		o.StallMin = DefaultStallMin
	}
	if o.StallFactor <= 0 {
		o.StallFactor = DefaultStallFactor
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Reserved == nil {
		o.Reserved = func(string) bool { return false }
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.Job == "" {
		o.Job = store.DefaultJob
	}
	r := &Registry{opts: o, runs: make(map[string]*run)}
	if o.Dir == "" {
		return r, nil
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("runs directory %s: %w", o.Dir, err)
	}
	r.file = filepath.Join(o.Dir, "runs.json")
	b, err := os.ReadFile(r.file)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.file, err)
	}
	var saved struct {
		Runs []savedRun `json:"runs"`
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		// Keep the damaged file for inspection; start empty rather than
		// refuse to start.
		aside := r.file + ".damaged-" + o.Now().UTC().Format("20060102T150405Z")
		_ = os.Rename(r.file, aside)
		o.Logger.Warn("runs file is damaged; moved aside, starting with no runs", "file", r.file, "moved_to", aside, "err", err)
		return r, nil
	}
	for _, s := range saved.Runs {
		rr := s.restore()
		r.runs[rr.ID] = rr
	}
	return r, nil
}

// savedRun is what runs.json keeps of a run.
type savedRun struct {
	Run
	Names  []string `json:"names"`
	LastMs int64    `json:"last_ms"`
}

func (s savedRun) restore() *run {
	rr := &run{Run: s.Run, names: make(map[string]struct{}, len(s.Names)), lastMs: s.LastMs}
	for _, n := range s.Names {
		rr.names[n] = struct{}{}
	}
	if rr.Metrics == nil {
		rr.Metrics = map[string]Float{}
	}
	if rr.LastStep != nil {
		rr.lastStepT = *rr.LastStep
	}
	return rr
}

// CreateRequest is the body of POST /api/v1/runs.
type CreateRequest struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Host        string          `json:"host"`
	Command     string          `json:"command"`
	PID         int             `json:"pid"`
	Config      json.RawMessage `json:"config"`
	Tags        []string        `json:"tags"`
	TotalSteps  int64           `json:"total_steps"`
	TotalEpochs float64         `json:"total_epochs"`
}

// idRE is what a run id may look like: it is a label value and a URL path
// segment.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id can name a run.
func ValidID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("run id %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// Create registers a run, or returns the existing one with that id
// (created false). A resumed run that had ended runs again.
func (r *Registry) Create(req CreateRequest) (Run, bool, error) {
	now := r.opts.Now()
	if req.ID == "" {
		req.ID = newID(req.Name, now)
	}
	if err := ValidID(req.ID); err != nil {
		return Run{}, false, err
	}
	if len(req.Config) > 0 && !json.Valid(req.Config) {
		return Run{}, false, errors.New("config: not valid JSON")
	}
	if len(req.Config) > 64<<10 {
		return Run{}, false, fmt.Errorf("config: %d bytes; at most 65536 (log large artefacts elsewhere)", len(req.Config))
	}
	if req.PID < 0 {
		return Run{}, false, fmt.Errorf("pid %d: must be a process id (or 0 for none)", req.PID)
	}
	if err := checkFields(req); err != nil {
		return Run{}, false, err
	}
	if req.TotalSteps < 0 || req.TotalEpochs < 0 || math.IsNaN(req.TotalEpochs) {
		return Run{}, false, errors.New("total_steps and total_epochs must not be negative")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rr, ok := r.runs[req.ID]; ok {
		r.update(rr, req)
		if rr.Status != StatusRunning {
			rr.Status, rr.End, rr.ExitCode = StatusRunning, nil, nil
		}
		r.dirty = true
		r.saveLocked()
		return r.view(rr, now), false, nil
	}
	rr := r.newRun(req.ID, "api", now)
	r.update(rr, req)
	r.runs[rr.ID] = rr
	r.trimLocked()
	r.dirty = true
	r.saveLocked()
	return r.view(rr, now), true, nil
}

// checkFields bounds the free-text fields of a registration.
func checkFields(req CreateRequest) error {
	for _, f := range []struct{ key, value string }{{"name", req.Name}, {"host", req.Host}} {
		if len(f.value) > MaxFieldLength {
			return fmt.Errorf("%s: %d bytes; at most %d (it is a label value of trainwatch_run_info)", f.key, len(f.value), MaxFieldLength)
		}
	}
	if len(req.Command) > MaxCommandLength {
		return fmt.Errorf("command: %d bytes; at most %d", len(req.Command), MaxCommandLength)
	}
	if len(req.Tags) > MaxTags {
		return fmt.Errorf("tags: %d tags; at most %d", len(req.Tags), MaxTags)
	}
	for i, t := range req.Tags {
		if len(t) > MaxFieldLength {
			return fmt.Errorf("tags[%d]: %d bytes; at most %d", i, len(t), MaxFieldLength)
		}
	}
	return nil
}

// update applies the non-empty fields of req.
func (r *Registry) update(rr *run, req CreateRequest) {
	if req.Name != "" {
		rr.Name = req.Name
	}
	if req.Host != "" {
		rr.Host = req.Host
	}
	if req.Command != "" {
		rr.Command = req.Command
	}
	if req.PID > 0 {
		rr.PID = req.PID
	}
	if len(req.Config) > 0 {
		rr.Config = append(json.RawMessage(nil), req.Config...)
	}
	if len(req.Tags) > 0 {
		rr.Tags = append([]string(nil), req.Tags...)
	}
	if req.TotalSteps > 0 {
		rr.TotalSteps = req.TotalSteps
	}
	if req.TotalEpochs > 0 {
		rr.TotalEpochs = req.TotalEpochs
	}
}

func (r *Registry) newRun(id, source string, now time.Time) *run {
	return &run{
		Run: Run{
			ID: id, Name: id, Host: r.opts.Host, Source: source, Status: StatusRunning,
			Start: now, Epoch: Float(math.NaN()), Metrics: map[string]Float{},
		},
		names: map[string]struct{}{},
	}
}

// newID makes an id from a name and the time: name-YYYYMMDD-HHMMSS-xxxx.
func newID(name string, now time.Time) string {
	slug := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			return c
		}
		return '-'
	}, name)
	slug = strings.Trim(slug, "-._")
	if len(slug) > 64 {
		slug = slug[:64]
	}
	if slug == "" {
		slug = "run"
	}
	return fmt.Sprintf("%s-%s-%04x", slug, now.UTC().Format("20060102-150405"), rand.IntN(1<<16))
}

// seriesName maps a logged key to the series it is stored as: the brief's
// names for the usual keys, else the key made into a valid metric name.
func seriesName(key string) string {
	switch strings.ToLower(key) {
	case "loss", "train_loss", "training_loss", "train/loss":
		return "training_loss"
	case "val_loss", "eval_loss", "validation_loss", "valid_loss", "val/loss", "eval/loss":
		return "validation_loss"
	case "lr", "learning_rate", "train/learning_rate":
		return "learning_rate"
	case "batch_time", "step_time", "batch_processing_time":
		return "batch_processing_time"
	case "samples_per_second", "train_samples_per_second", "samples_per_sec", "throughput":
		return "samples_per_second"
	case "tokens_per_second", "train_tokens_per_second", "tokens_per_sec":
		return "tokens_per_second"
	}
	var b strings.Builder
	for i, c := range key {
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if ok {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// LogError is a log request refused as a whole; nothing of it was stored.
type LogError struct {
	Code int // HTTP status
	Msg  string
}

func (e *LogError) Error() string { return e.Msg }

// Log stores logged entries of run id (created when unknown, named id).
// The request is validated as a whole first: a refused request stores
// nothing. It returns how many values were stored.
func (r *Registry) Log(ctx context.Context, id string, entries []Entry) (int, error) {
	if err := ValidID(id); err != nil {
		return 0, &LogError{400, err.Error()}
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rr, ok := r.runs[id]
	if !ok {
		rr = r.newRun(id, "api", now)
	}
	// Validate names and the series limit before storing anything.
	added := map[string]struct{}{}
	for i, e := range entries {
		if e.TimeMs > now.Add(maxFuture).UnixMilli() {
			return 0, &LogError{400, fmt.Sprintf("entry %d: time %s is in the future; send Unix seconds of when the step was logged", i+1, time.UnixMilli(e.TimeMs).UTC().Format(time.RFC3339))}
		}
		for k := range e.Values {
			if len(k) > MaxKeyLength {
				return 0, &LogError{400, fmt.Sprintf("entry %d: key %q… is %d bytes; keys are metric names, at most %d bytes", i+1, k[:32], len(k), MaxKeyLength)}
			}
			name := seriesName(k)
			if name == "" || r.opts.Reserved(name) || strings.HasPrefix(name, "__") {
				return 0, &LogError{400, fmt.Sprintf("entry %d: key %q would be stored as %q, a name the agent uses for its own metrics; rename the key", i+1, k, name)}
			}
			if _, ok := rr.names[name]; !ok {
				added[name] = struct{}{}
			}
		}
	}
	if n := len(rr.names) + len(added); n > r.opts.MaxSeriesPerRun {
		return 0, &LogError{422, fmt.Sprintf("run %q would have %d series; the limit is %d per run (fewer distinct keys, or raise runs.max_series_per_run)", id, n, r.opts.MaxSeriesPerRun)}
	}
	batch := make([]store.Appended, 0, len(entries)*4)
	lastMs := max(rr.lastMs, r.opts.After)
	type obs struct {
		ms    int64
		entry Entry
	}
	accepted := make([]obs, 0, len(entries))
	for i, e := range entries {
		ms := e.TimeMs
		if ms == 0 {
			// Untimed entries of one request are a millisecond apart and
			// end now, so that they are all in the past when queried.
			ms = now.UnixMilli() - int64(len(entries)-1-i)
		}
		if ms <= lastMs {
			ms = lastMs + 1 // keep every series in time order
		}
		lastMs = ms
		accepted = append(accepted, obs{ms, e})
		if e.Step >= 0 {
			batch = append(batch, store.Appended{Labels: r.labels("batches_processed_total", id), T: ms, V: float64(e.Step)})
		}
		if !math.IsNaN(e.Epoch) {
			batch = append(batch, store.Appended{Labels: r.labels("current_epoch", id), T: ms, V: e.Epoch})
		}
		for k, v := range e.Values {
			batch = append(batch, store.Appended{Labels: r.labels(seriesName(k), id), T: ms, V: v})
		}
	}
	if r.opts.Append != nil && len(batch) > 0 {
		if err := r.opts.Append(ctx, batch); err != nil {
			return 0, &LogError{422, fmt.Sprintf("history refused the values: %v", err)}
		}
	}
	if !ok {
		r.runs[id] = rr
		r.trimLocked()
	}
	for name := range added {
		rr.names[name] = struct{}{}
	}
	for _, o := range accepted {
		if o.entry.Step >= 0 {
			rr.names["batches_processed_total"] = struct{}{}
		}
		if !math.IsNaN(o.entry.Epoch) {
			rr.names["current_epoch"] = struct{}{}
		}
	}
	rr.lastMs = lastMs
	for _, o := range accepted {
		r.observe(rr, o.ms, o.entry)
	}
	if rr.Status != StatusRunning && rr.End == nil {
		rr.Status = StatusRunning
	}
	rr.Series = len(rr.names)
	r.dirty = true
	return len(batch), nil
}

// observe updates a run's state with one accepted entry.
func (r *Registry) observe(rr *run, ms int64, e Entry) {
	t := time.UnixMilli(ms)
	rr.LastLog = &t
	if e.Step >= 0 && (e.Step > rr.Step || rr.LastStep == nil) {
		rr.Step = e.Step
		rr.LastStep = &t
		rr.lastStepT = t
		rr.steps = append(rr.steps, stepObs{t, e.Step})
		if len(rr.steps) > historyLen {
			rr.steps = rr.steps[len(rr.steps)-historyLen:]
		}
	}
	if !math.IsNaN(e.Epoch) {
		rr.Epoch = Float(e.Epoch)
	}
	for k, v := range e.Values {
		name := seriesName(k)
		rr.Metrics[name] = Float(v)
		switch name {
		case "samples_per_second":
			rr.SamplesPS = v
		case "tokens_per_second":
			rr.TokensPS = v
		}
	}
}

// labels builds a run series' sorted label set.
func (r *Registry) labels(name, id string) labels.Labels {
	return labels.FromStrings("__name__", name, "instance", r.opts.Instance, "job", r.opts.Job, "run", id)
}

// Finish ends a run with status finished or failed.
func (r *Registry) Finish(id, status string, exitCode *int) (Run, error) {
	if status == "" {
		status = StatusFinished
	}
	if status != StatusFinished && status != StatusFailed {
		return Run{}, fmt.Errorf("status %q: want %q or %q", status, StatusFinished, StatusFailed)
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rr, ok := r.runs[id]
	if !ok {
		return Run{}, fmt.Errorf("no run %q", id)
	}
	rr.Status = status
	rr.End = &now
	rr.ExitCode = exitCode
	r.dirty = true
	r.saveLocked()
	return r.view(rr, now), nil
}

// Get returns one run.
func (r *Registry) Get(id string) (Run, bool) {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rr, ok := r.runs[id]
	if !ok {
		return Run{}, false
	}
	return r.view(rr, now), true
}

// List returns the runs, newest first; status filters when not empty.
func (r *Registry) List(status string) []Run {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Run, 0, len(r.runs))
	for _, rr := range r.runs {
		v := r.view(rr, now)
		if status == "" || v.Status == status {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// view computes a run's derived fields (throughput, ETA, progress, stall).
func (r *Registry) view(rr *run, now time.Time) Run {
	v := rr.Run
	v.Metrics = make(map[string]Float, len(rr.Metrics))
	for k, x := range rr.Metrics {
		v.Metrics[k] = x
	}
	v.Config = append(json.RawMessage(nil), rr.Config...)
	v.Series = len(rr.names)
	v.StepsPerSec = stepsPerSecond(rr.steps)
	if rr.TotalSteps > 0 {
		p := math.Min(1, float64(rr.Step)/float64(rr.TotalSteps))
		v.Progress = &p
		if v.StepsPerSec > 0 && rr.End == nil {
			eta := float64(rr.TotalSteps-rr.Step) / v.StepsPerSec
			v.ETASeconds = &eta
		}
	} else if rr.TotalEpochs > 0 && !math.IsNaN(float64(rr.Epoch)) {
		p := math.Min(1, float64(rr.Epoch)/rr.TotalEpochs)
		v.Progress = &p
	}
	if rr.Status == StatusRunning && r.stalled(rr, now) {
		v.Status = StatusStalled
	}
	return v
}

// stalled reports whether a running run's step has not advanced for
// max(StallMin, StallFactor × its median step time).
func (r *Registry) stalled(rr *run, now time.Time) bool {
	last := rr.lastStepT
	if last.IsZero() {
		if rr.LastLog == nil {
			return now.Sub(rr.Start) > r.opts.StallMin
		}
		last = *rr.LastLog
	}
	limit := r.opts.StallMin
	if m := medianStepTime(rr.steps); m > 0 {
		if d := time.Duration(r.opts.StallFactor * float64(m)); d > limit {
			limit = d
		}
	}
	return now.Sub(last) > limit
}

// stepsPerSecond is the step rate over the recent observations.
func stepsPerSecond(obs []stepObs) float64 {
	if len(obs) < 2 {
		return 0
	}
	a, b := obs[0], obs[len(obs)-1]
	dt := b.t.Sub(a.t).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(b.step-a.step) / dt
}

// medianStepTime is the median time per step between observations.
func medianStepTime(obs []stepObs) time.Duration {
	if len(obs) < 2 {
		return 0
	}
	per := make([]float64, 0, len(obs)-1)
	for i := 1; i < len(obs); i++ {
		ds := obs[i].step - obs[i-1].step
		if ds <= 0 {
			continue
		}
		per = append(per, float64(obs[i].t.Sub(obs[i-1].t))/float64(ds))
	}
	if len(per) == 0 {
		return 0
	}
	sort.Float64s(per)
	return time.Duration(per[len(per)/2])
}

// trimLocked drops the oldest ended runs beyond MaxRuns.
func (r *Registry) trimLocked() {
	if len(r.runs) <= r.opts.MaxRuns {
		return
	}
	var ended []*run
	for _, rr := range r.runs {
		if rr.End != nil {
			ended = append(ended, rr)
		}
	}
	sort.Slice(ended, func(i, j int) bool { return ended[i].End.Before(*ended[j].End) })
	for _, rr := range ended {
		if len(r.runs) <= r.opts.MaxRuns {
			break
		}
		delete(r.runs, rr.ID)
	}
}

// Save writes runs.json if anything changed since the last write.
func (r *Registry) Save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.saveLocked()
}

// saveLocked writes runs.json atomically (temp file, fsync, rename).
func (r *Registry) saveLocked() error {
	if r.file == "" || !r.dirty {
		return nil
	}
	saved := make([]savedRun, 0, len(r.runs))
	for _, rr := range r.runs {
		s := savedRun{Run: rr.Run, LastMs: rr.lastMs}
		for n := range rr.names {
			s.Names = append(s.Names, n)
		}
		sort.Strings(s.Names)
		saved = append(saved, s)
	}
	sort.Slice(saved, func(i, j int) bool { return saved[i].ID < saved[j].ID })
	b, err := json.Marshal(struct {
		Runs []savedRun `json:"runs"`
	}{saved})
	if err != nil {
		return fmt.Errorf("encoding runs: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.file), ".runs-*.json")
	if err != nil {
		return fmt.Errorf("saving runs: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("saving runs: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("saving runs: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("saving runs: %w", err)
	}
	if err := os.Rename(tmp.Name(), r.file); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("saving runs: %w", err)
	}
	r.dirty = false
	return nil
}

// SaveEvery writes runs.json every period while anything changed, until
// ctx ends, and once more at the end.
func (r *Registry) SaveEvery(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := r.Save(); err != nil {
				r.opts.Logger.Error("saving runs", "err", err)
			}
			return
		case <-t.C:
			if err := r.Save(); err != nil {
				r.opts.Logger.Error("saving runs", "err", err)
			}
		}
	}
}
