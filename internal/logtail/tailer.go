package logtail

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// LightningCSVFile is the name of the file Lightning's CSVLogger writes.
const LightningCSVFile = "metrics.csv"

// Format names the kind of file a reader reads.
type Format int

// The formats a Tailer recognises.
const (
	// FormatLightningCSV is a Lightning CSVLogger metrics.csv.
	FormatLightningCSV Format = iota + 1
	// FormatTrainerState is a Hugging Face Trainer output directory's
	// trainer_state.json files.
	FormatTrainerState
	// FormatTensorBoard is a TensorBoard event file.
	FormatTensorBoard
)

// String returns the format's short name.
func (f Format) String() string {
	switch f {
	case FormatLightningCSV:
		return "lightning-csv"
	case FormatTrainerState:
		return "hf-trainer-state"
	case FormatTensorBoard:
		return "tensorboard"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Source is one file (or, for FormatTrainerState, one output directory) a
// Tailer reads.
type Source struct {
	// Path is the file, or the Trainer output directory.
	Path string
	// Format is how it is read.
	Format Format
}

// Batch is what one source gave in one poll.
type Batch struct {
	Source
	// Entries are the new entries, in the order they were written.
	Entries []runs.Entry
}

// TailerOptions tune a Tailer; the zero value is usable.
type TailerOptions struct {
	// MaxDepth is how many directory levels below the root are searched
	// (0 means 4: enough for lightning_logs/version_0/metrics.csv and
	// output/runs/<date>_<host>/events.out.tfevents.*, with room).
	MaxDepth int
	// RescanInterval is how often the directory tree is walked for new
	// files; the readers already found are polled at every Poll. 0 means
	// 5 seconds; a negative value walks at every Poll.
	RescanInterval time.Duration
	// MaxEntries bounds the directory entries one walk visits, so that a
	// run directory holding a data set stays cheap to watch (0 means
	// 20000).
	MaxEntries int
	// Now returns the current time (nil means time.Now); for tests.
	Now func() time.Time
}

// Tailer watches a run directory for the files of the formats above
// appearing, and polls a reader for each. Hidden directories (.git, ...),
// __pycache__ and node_modules are not searched. It is not safe for
// concurrent use.
type Tailer struct {
	root     string
	opts     TailerOptions
	sources  map[Source]poller
	order    []Source
	lastScan time.Time
	scanned  bool
	// lastErr is the last error reported per source, so that an error
	// that persists is returned once, not at every poll.
	lastErr map[Source]string
}

// poller is what the three readers have in common.
type poller interface {
	Poll() ([]runs.Entry, error)
}

// NewTailer returns a Tailer for the run directory dir, which need not
// exist yet.
func NewTailer(dir string, opts TailerOptions) *Tailer {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 4
	}
	if opts.RescanInterval == 0 {
		opts.RescanInterval = 5 * time.Second
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 20000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Tailer{
		root:    dir,
		opts:    opts,
		sources: map[Source]poller{},
		lastErr: map[Source]string{},
	}
}

// Sources returns the sources found so far, sorted by path.
func (t *Tailer) Sources() []Source {
	return append([]Source(nil), t.order...)
}

// Progress returns what the Trainer state with the highest global step
// says about the run (max_steps, num_train_epochs, ...); ok is false when
// no trainer_state.json has been read.
func (t *Tailer) Progress() (info TrainerStateInfo, ok bool) {
	for _, s := range t.order {
		hf, isHF := t.sources[s].(*TrainerStateReader)
		if !isHF {
			continue
		}
		in := hf.Info()
		if in.Path != "" && (!ok || in.GlobalStep > info.GlobalStep) {
			info, ok = in, true
		}
	}
	return info, ok
}

// Poll walks the directory when RescanInterval has passed, then polls every
// source and returns the batches that have entries, in source order (event
// files sort by their names, which start with the time they were created).
// Errors of the sources are joined; each distinct error of a source is
// returned once, and entries of the other sources are returned with them.
func (t *Tailer) Poll() ([]Batch, error) {
	var errs []error
	now := t.opts.Now()
	if !t.scanned || t.opts.RescanInterval < 0 || now.Sub(t.lastScan) >= t.opts.RescanInterval {
		if err := t.scan(); err != nil {
			errs = append(errs, err)
		}
		t.lastScan, t.scanned = now, true
	}
	var out []Batch
	for _, s := range t.order {
		entries, err := t.sources[s].Poll()
		if err != nil {
			if msg := err.Error(); msg != t.lastErr[s] {
				t.lastErr[s] = msg
				errs = append(errs, err)
			}
		} else {
			delete(t.lastErr, s)
		}
		if len(entries) > 0 {
			out = append(out, Batch{Source: s, Entries: entries})
		}
	}
	return out, errors.Join(errs...)
}

// skipDir reports whether a directory of this name is not searched.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__pycache__" || name == "node_modules"
}

// scan walks the tree under the root and adds a reader for each new file.
func (t *Tailer) scan() error {
	visited := 0
	added := false
	err := filepath.WalkDir(t.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == t.root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll // not created yet
			}
			if d != nil && d.IsDir() {
				return filepath.SkipDir // unreadable: not ours to report
			}
			return nil
		}
		visited++
		if visited > t.opts.MaxEntries {
			return filepath.SkipAll
		}
		rel, relErr := filepath.Rel(t.root, path)
		if relErr != nil {
			return nil
		}
		depth := 0
		if rel != "." {
			depth = strings.Count(rel, string(filepath.Separator)) + 1
		}
		if d.IsDir() {
			if path != t.root && (skipDir(d.Name()) || depth > t.opts.MaxDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		name := d.Name()
		switch {
		case name == LightningCSVFile:
			added = t.add(Source{Path: path, Format: FormatLightningCSV}) || added
		case name == TrainerStateFile:
			added = t.add(Source{Path: trainerOutputDir(path), Format: FormatTrainerState}) || added
		case isEventFile(name):
			added = t.add(Source{Path: path, Format: FormatTensorBoard}) || added
		}
		return nil
	})
	if added {
		sort.Slice(t.order, func(i, j int) bool {
			if t.order[i].Path != t.order[j].Path {
				return t.order[i].Path < t.order[j].Path
			}
			return t.order[i].Format < t.order[j].Format
		})
	}
	if err != nil {
		return fmt.Errorf("watching %s: %w", t.root, err)
	}
	return nil
}

// add starts reading s unless it is read already, and reports whether it
// was new.
func (t *Tailer) add(s Source) bool {
	if _, ok := t.sources[s]; ok {
		return false
	}
	switch s.Format {
	case FormatLightningCSV:
		t.sources[s] = NewCSVReader(s.Path)
	case FormatTrainerState:
		t.sources[s] = NewTrainerStateReader(s.Path)
	case FormatTensorBoard:
		t.sources[s] = NewEventsReader(s.Path)
	default:
		return false
	}
	t.order = append(t.order, s)
	return true
}

// trainerOutputDir is the Trainer output directory of a trainer_state.json:
// its directory, or the one above when that is a checkpoint-N directory.
func trainerOutputDir(path string) string {
	dir := filepath.Dir(path)
	if strings.HasPrefix(filepath.Base(dir), checkpointPrefix) {
		return filepath.Dir(dir)
	}
	return dir
}
