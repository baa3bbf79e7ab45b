package logtail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// TrainerStateFile is the name of the file Hugging Face's Trainer writes.
const TrainerStateFile = "trainer_state.json"

// checkpointPrefix starts the name of the Trainer's checkpoint directories,
// checkpoint-{global_step}.
const checkpointPrefix = "checkpoint-"

// TrainerStateInfo is what the last trainer_state.json read says about the
// run as a whole.
type TrainerStateInfo struct {
	// Path is the trainer_state.json the entries came from last.
	Path string
	// GlobalStep is the optimisation steps done when the file was written.
	GlobalStep int64
	// MaxSteps is the steps the run will take in all (0 when unknown).
	MaxSteps int64
	// NumTrainEpochs is the epochs the run will take in all (0 when
	// unknown).
	NumTrainEpochs float64
	// Epoch is the epoch reached, fractional (NaN when unknown).
	Epoch float64
	// LogEntries is the length of the file's log_history.
	LogEntries int
}

// TrainerStateReader reads the log_history of a Hugging Face Trainer output
// directory: DIR/trainer_state.json and DIR/checkpoint-*/trainer_state.json,
// taking the one with the highest global_step. It is not safe for
// concurrent use.
type TrainerStateReader struct {
	dir string
	// files caches what each candidate file held when last read.
	files map[string]*stateFile
	// cur is the version of the file whose entries were emitted last.
	cur     os.FileInfo
	curPath string
	// known holds the fingerprint of every log_history entry emitted so
	// far, by index.
	known []uint64
	info  TrainerStateInfo
}

// stateFile is what one trainer_state.json held when last read.
type stateFile struct {
	fi         os.FileInfo
	err        error // why it did not parse; nil when it did
	reported   bool  // err was returned once already
	globalStep int64
	logLen     int
}

// NewTrainerStateReader returns a reader for the Trainer output directory
// dir (the directory holding trainer_state.json or the checkpoint-N
// directories). The directory need not exist yet.
func NewTrainerStateReader(dir string) *TrainerStateReader {
	return &TrainerStateReader{dir: dir, files: map[string]*stateFile{}, info: TrainerStateInfo{Epoch: math.NaN()}}
}

// Dir returns the output directory the reader watches.
func (r *TrainerStateReader) Dir() string { return r.dir }

// Info returns what the trainer_state.json read last says about the run;
// GlobalStep is 0 and Path empty before any file was read.
func (r *TrainerStateReader) Info() TrainerStateInfo { return r.info }

// candidate is a trainer_state.json that may exist; hint is the global
// step its checkpoint directory's name promises, or -1 for the output
// directory's own file.
type candidate struct {
	path string
	hint int64
}

// candidates lists the trainer_state.json files that may exist, the
// output directory's own first, then checkpoints from the newest.
func (r *TrainerStateReader) candidates() ([]candidate, error) {
	out := []candidate{{path: filepath.Join(r.dir, TrainerStateFile), hint: -1}}
	ents, err := os.ReadDir(r.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trainer state: listing %s: %w", r.dir, err)
	}
	for _, e := range ents {
		num, ok := strings.CutPrefix(e.Name(), checkpointPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		out = append(out, candidate{path: filepath.Join(r.dir, e.Name(), TrainerStateFile), hint: n})
	}
	sort.SliceStable(out[1:], func(i, j int) bool { return out[1+i].hint > out[1+j].hint })
	return out, nil
}

// better reports whether a is a newer state than b.
func better(a, b *stateFile) bool {
	if b == nil {
		return true
	}
	if a.globalStep != b.globalStep {
		return a.globalStep > b.globalStep
	}
	if a.logLen != b.logLen {
		return a.logLen > b.logLen
	}
	return a.fi.ModTime().After(b.fi.ModTime())
}

// Poll reads whichever trainer_state.json is newest and returns the
// log_history entries not returned before. A file caught mid-write is
// skipped quietly and read again once it changes; only a file that stays
// unparseable is reported, once. A missing directory is not an error.
func (r *TrainerStateReader) Poll() ([]runs.Entry, error) {
	cands, err := r.candidates()
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(cands))
	var (
		errs     []error
		best     *stateFile
		bestPath string
		bestDoc  *trainerState
	)
	for _, c := range cands {
		seen[c.path] = true
		fi, err := os.Stat(c.path)
		if errors.Is(err, fs.ErrNotExist) {
			delete(r.files, c.path)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("trainer state: %w", err))
			continue
		}
		sf := r.files[c.path]
		if sf != nil && sameVersion(sf.fi, fi) {
			if sf.err != nil {
				if !sf.reported {
					sf.reported = true
					errs = append(errs, sf.err)
				}
				continue
			}
			if better(sf, best) {
				best, bestPath, bestDoc = sf, c.path, nil
			}
			continue
		}
		if best != nil && c.hint >= 0 && c.hint < best.globalStep {
			continue // an older checkpoint: not worth parsing
		}
		// fi was taken before the read: if the file is written further
		// while it is read, the next poll sees a new version and reads it
		// again.
		doc, err := readTrainerState(c.path)
		sf = &stateFile{fi: fi}
		r.files[c.path] = sf
		if err != nil {
			sf.err = err // most likely torn: quiet until it stays so
			continue
		}
		sf.globalStep, sf.logLen = doc.globalStep, len(doc.log)
		if better(sf, best) {
			best, bestPath, bestDoc = sf, c.path, doc
		}
	}
	for p := range r.files {
		if !seen[p] {
			delete(r.files, p)
		}
	}
	if best == nil || (bestPath == r.curPath && sameVersion(best.fi, r.cur)) {
		return nil, errors.Join(errs...)
	}
	if bestDoc == nil {
		// The newest state is a file read before (the one read since was
		// deleted, or is older): read it again.
		bestDoc, err = readTrainerState(bestPath)
		if err != nil {
			best.err = err
			return nil, errors.Join(errs...)
		}
	}
	r.cur, r.curPath = best.fi, bestPath
	r.info = TrainerStateInfo{
		Path:           bestPath,
		GlobalStep:     bestDoc.globalStep,
		MaxSteps:       bestDoc.maxSteps,
		NumTrainEpochs: bestDoc.numTrainEpochs,
		Epoch:          bestDoc.epoch,
		LogEntries:     len(bestDoc.log),
	}
	return r.take(bestDoc.log), errors.Join(errs...)
}

// take returns the entries of log past those emitted before, after
// checking that the earlier ones are the same; where they differ (a resumed
// or new run), the entries from the first difference on are new.
func (r *TrainerStateReader) take(log []logEntry) []runs.Entry {
	p := 0
	for p < len(r.known) && p < len(log) && r.known[p] == log[p].fp {
		p++
	}
	if p < len(r.known) && p == len(log) {
		return nil // an older state whose entries were all emitted
	}
	r.known = r.known[:p]
	var out []runs.Entry
	for _, le := range log[p:] {
		r.known = append(r.known, le.fp)
		if len(le.entry.Values) > 0 {
			out = append(out, le.entry)
		}
	}
	return out
}

// trainerState is the part of a trainer_state.json the reader uses.
type trainerState struct {
	globalStep     int64
	maxSteps       int64
	numTrainEpochs float64
	epoch          float64
	log            []logEntry
}

// logEntry is one log_history object, converted, with its fingerprint.
type logEntry struct {
	entry runs.Entry
	fp    uint64
}

// readTrainerState reads and parses the file at path.
func readTrainerState(path string) (*trainerState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trainer state: %w", err)
	}
	st, err := parseTrainerState(b)
	if err != nil {
		return nil, fmt.Errorf("trainer state %s: %w", path, err)
	}
	return st, nil
}

// parseTrainerState decodes a trainer_state.json document. Bare NaN,
// Infinity and -Infinity (Python's json output) are accepted.
func parseTrainerState(b []byte) (*trainerState, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("empty file (being written?)")
	}
	if b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var doc struct {
		GlobalStep     json.RawMessage              `json:"global_step"`
		MaxSteps       json.RawMessage              `json:"max_steps"`
		NumTrainEpochs json.RawMessage              `json:"num_train_epochs"`
		Epoch          json.RawMessage              `json:"epoch"`
		LogHistory     []map[string]json.RawMessage `json:"log_history"`
	}
	if err := json.Unmarshal(runs.QuoteNonFinite(b), &doc); err != nil {
		return nil, fmt.Errorf("not valid JSON (torn by a write in progress?): %w", err)
	}
	st := &trainerState{epoch: math.NaN()}
	if f, ok := jsonNumber(doc.GlobalStep); ok {
		st.globalStep = max(stepNumber(f), 0)
	}
	if f, ok := jsonNumber(doc.MaxSteps); ok {
		st.maxSteps = max(stepNumber(f), 0)
	}
	if f, ok := jsonNumber(doc.NumTrainEpochs); ok && f >= 0 && !math.IsInf(f, 0) {
		st.numTrainEpochs = f
	}
	if f, ok := jsonNumber(doc.Epoch); ok {
		st.epoch = epochNumber(f)
	}
	st.log = make([]logEntry, 0, len(doc.LogHistory))
	for _, m := range doc.LogHistory {
		st.log = append(st.log, convertLogEntry(m))
	}
	return st, nil
}

// convertLogEntry turns one log_history object into an entry: step and
// epoch fill Step and Epoch, other numbers become values; strings, booleans,
// nulls and nested values are skipped. The fingerprint covers every number.
func convertLogEntry(m map[string]json.RawMessage) logEntry {
	le := logEntry{entry: runs.Entry{Step: -1, Epoch: math.NaN()}}
	for k, raw := range m {
		f, ok := jsonNumber(raw)
		if !ok {
			continue
		}
		bits := math.Float64bits(f)
		if math.IsNaN(f) {
			bits = 0x7ff8000000000001
		}
		le.fp += mix(fnvUint64(fnvString(fnvString(fnvOffset, k), "\x00"), bits))
		switch k {
		case "step":
			le.entry.Step = stepNumber(f)
		case "epoch":
			le.entry.Epoch = epochNumber(f)
		default:
			if le.entry.Values == nil {
				le.entry.Values = make(map[string]float64, len(m))
			}
			le.entry.Values[k] = f
		}
	}
	return le
}

// jsonNumber converts a raw JSON value to a float64: a number, or one of
// the strings quoteNonFinite makes of NaN, Infinity and -Infinity.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	switch raw[0] {
	case '"':
		switch string(raw) {
		case `"NaN"`:
			return math.NaN(), true
		case `"Infinity"`:
			return math.Inf(1), true
		case `"-Infinity"`:
			return math.Inf(-1), true
		}
		return 0, false
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return parseNumber(string(raw))
	}
	return 0, false
}
