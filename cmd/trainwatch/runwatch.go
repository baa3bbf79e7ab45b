package main

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/logtail"
	"github.com/trainwatch/trainwatch/internal/runs"
)

// Tailing the metrics files a training framework writes (--watch).
const (
	// watchInterval is how often the files found are read.
	watchInterval = time.Second
	// watchRescanEarly is how often the directories are walked for new
	// files during the run's first watchEarly, watchRescan after: metrics
	// files appear early, and a walk of a large working directory (up to
	// 20000 entries) is not free.
	watchRescanEarly = 2 * time.Second
	watchRescan      = 10 * time.Second
	watchEarly       = time.Minute
	// tailerManual is the tailers' own rescan interval: never, in effect;
	// fileWatch tells them when (rescan).
	tailerManual = 24 * time.Hour
	// mtimeSlack allows for the kernel's coarse clock, which stamps a file
	// written just after the run started with a time up to a tick before.
	mtimeSlack = 20 * time.Millisecond
)

// sourceState is what "trainwatch run" makes of a metrics file it found.
type sourceState int

const (
	// srcNew: no entries seen from it yet.
	srcNew sourceState = iota
	// srcFresh: written since the run started; its entries are the run's.
	srcFresh
	// srcStale: it was last written before the run started (an earlier
	// run's file): what its reader returned is ignored.
	srcStale
	// srcRevived: a stale file written again during the run. It is read
	// afresh by a reader of our own, so that rows equal to the stale ones
	// (a deterministic rerun) are not taken for rows already read.
	srcRevived
)

// poller is what the logtail readers have in common.
type poller interface {
	Poll() ([]runs.Entry, error)
}

// fileWatch reads the metrics files under the watched directories that the
// run writes. Of the files written since the run started, the first that
// gives entries is the run's metrics file; the others are not read.
type fileWatch struct {
	start   time.Time
	tailers []*logtail.Tailer
	// skew is added to the tailers' clock; rescan advances it.
	skew time.Duration
	// lastScan is when the directories were last walked.
	lastScan time.Time

	state  map[logtail.Source]sourceState
	own    map[logtail.Source]poller
	chosen *logtail.Source
	// ignored are fresh files not read, said once each.
	ignored map[logtail.Source]bool
	// say prints a line for the user (stderr).
	say func(format string, args ...any)
	// reported are errors already said.
	reported map[string]bool
}

func newFileWatch(dirs []string, start time.Time, say func(string, ...any)) *fileWatch {
	w := &fileWatch{
		start:    start,
		state:    map[logtail.Source]sourceState{},
		own:      map[logtail.Source]poller{},
		ignored:  map[logtail.Source]bool{},
		reported: map[string]bool{},
		say:      say,
	}
	for _, d := range dirs {
		w.tailers = append(w.tailers, logtail.NewTailer(d, logtail.TailerOptions{
			RescanInterval: tailerManual,
			Now:            w.now,
		}))
	}
	return w
}

// now is the tailers' clock.
func (w *fileWatch) now() time.Time { return time.Now().Add(w.skew) }

// rescan makes the tailers walk their directories at the next poll (the
// last one, when the command has exited), however recent their last walk.
func (w *fileWatch) rescan() { w.skew += tailerManual }

// rescanDue reports whether the directories are due for a walk at now.
func (w *fileWatch) rescanDue(now time.Time) bool {
	every := watchRescan
	if now.Sub(w.start) < watchEarly {
		every = watchRescanEarly
	}
	return now.Sub(w.lastScan) >= every
}

// modTime is when a source was last written: the file's modification time,
// or for a Trainer output directory the newest of its trainer_state.json
// files.
func modTime(s logtail.Source) (time.Time, bool) {
	if s.Format != logtail.FormatTrainerState {
		fi, err := os.Stat(s.Path)
		if err != nil {
			return time.Time{}, false
		}
		return fi.ModTime(), true
	}
	paths, _ := filepath.Glob(filepath.Join(s.Path, "checkpoint-*", logtail.TrainerStateFile))
	paths = append(paths, filepath.Join(s.Path, logtail.TrainerStateFile))
	var newest time.Time
	found := false
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			found = true
			if fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
		}
	}
	return newest, found
}

// fresh reports whether s was written after the run started.
func (w *fileWatch) fresh(s logtail.Source) bool {
	t, ok := modTime(s)
	return ok && t.After(w.start.Add(-mtimeSlack))
}

func newReader(s logtail.Source) poller {
	switch s.Format {
	case logtail.FormatLightningCSV:
		return logtail.NewCSVReader(s.Path)
	case logtail.FormatTrainerState:
		return logtail.NewTrainerStateReader(s.Path)
	}
	return logtail.NewEventsReader(s.Path)
}

// poll reads the files once and returns the run's new entries, and the
// Trainer's max_steps and num_train_epochs when a trainer_state.json of
// the run says them (0 otherwise).
func (w *fileWatch) poll() (entries []runs.Entry, maxSteps int64, epochs float64) {
	if now := time.Now(); w.rescanDue(now) {
		if !w.lastScan.IsZero() {
			w.rescan()
		}
		w.lastScan = now
	}
	for _, t := range w.tailers {
		batches, err := t.Poll()
		w.report(err)
		for _, b := range batches {
			if es := w.take(b.Source, b.Entries); len(es) > 0 {
				entries = append(entries, es...)
			}
		}
		if info, ok := t.Progress(); ok && info.MaxSteps > 0 {
			if fi, err := os.Stat(info.Path); err == nil && fi.ModTime().After(w.start.Add(-mtimeSlack)) {
				maxSteps, epochs = info.MaxSteps, info.NumTrainEpochs
			}
		}
	}
	// Stale files written again: read afresh.
	for _, t := range w.tailers {
		for _, s := range t.Sources() {
			if w.state[s] == srcStale && w.chosen == nil && w.fresh(s) {
				w.state[s] = srcRevived
				w.own[s] = newReader(s)
			}
		}
	}
	for s, r := range w.own {
		if w.chosen != nil && *w.chosen != s {
			continue
		}
		es, err := r.Poll()
		w.report(err)
		if len(es) > 0 && w.pick(s) {
			entries = append(entries, es...)
		}
		if hf, ok := r.(*logtail.TrainerStateReader); ok && w.chosen != nil && *w.chosen == s {
			if in := hf.Info(); in.MaxSteps > 0 {
				maxSteps, epochs = in.MaxSteps, in.NumTrainEpochs
			}
		}
	}
	return entries, maxSteps, epochs
}

// take returns the entries a tailer read from s that are the run's.
func (w *fileWatch) take(s logtail.Source, es []runs.Entry) []runs.Entry {
	switch w.state[s] {
	case srcNew:
		if !w.fresh(s) {
			w.state[s] = srcStale
			return nil
		}
		w.state[s] = srcFresh
	case srcStale, srcRevived:
		return nil
	}
	if !w.pick(s) {
		return nil
	}
	return es
}

// pick reports whether s is the run's metrics file, choosing it when none
// is chosen yet.
func (w *fileWatch) pick(s logtail.Source) bool {
	if w.chosen == nil {
		w.chosen = &s
		w.say("trainwatch: reading metrics from %s (%s); --no-watch turns this off\n", s.Path, s.Format)
		return true
	}
	if *w.chosen == s {
		return true
	}
	if !w.ignored[s] {
		w.ignored[s] = true
		w.say("trainwatch: not reading %s (%s) too: one metrics file per run\n", s.Path, s.Format)
	}
	return false
}

// report says the errors of the run's own metrics file, once each.
func (w *fileWatch) report(err error) {
	if err == nil || w.chosen == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		msg := e.Error()
		if w.reported[msg] || !strings.Contains(msg, w.chosen.Path) {
			continue
		}
		w.reported[msg] = true
		w.say("trainwatch: warning: %v\n", e)
	}
}

// fixTime drops an entry's own time when it is before the run started or
// in the future (a copied file, a clock far off): it is then logged as of
// when it was read.
func fixTime(e runs.Entry, start, now time.Time) runs.Entry {
	if e.TimeMs != 0 && (e.TimeMs < start.UnixMilli() || e.TimeMs > now.Add(time.Minute).UnixMilli()) {
		e.TimeMs = 0
	}
	return e
}
