package logtail

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// hfFixture copies testdata/hf/<name> to <dir>/<rel>.
func hfFixture(t testing.TB, dir, name, rel string) {
	t.Helper()
	writeInPlace(t, filepath.Join(dir, filepath.FromSlash(rel)), fixture(t, "hf/"+name))
}

// hfWantHead returns the first entries of the Trainer fixtures'
// log_history, as converted.
func hfWantHead() []string {
	return []string{
		"t=0 step=50 epoch=0.1 grad_norm=1.2 learning_rate=4.75e-05 loss=2",
		"t=0 step=100 epoch=0.2 grad_norm=1 learning_rate=4.5e-05 loss=1.5",
		"t=0 step=150 epoch=0.3 grad_norm=0.857143 learning_rate=4.25e-05 loss=1.2",
		"t=0 step=200 epoch=0.4 grad_norm=0.75 learning_rate=4e-05 loss=1",
		"t=0 step=250 epoch=0.5 grad_norm=0.666667 learning_rate=3.7500000000000003e-05 loss=0.8571",
		"t=0 step=250 epoch=0.5 eval_loss=0.940541 eval_runtime=12.3456 eval_samples_per_second=81 eval_steps_per_second=10.125",
		"t=0 step=300 epoch=0.6 grad_norm=NaN learning_rate=3.5e-05 loss=0.75",
	}
}

func TestTrainerStateCheckpointsAppear(t *testing.T) {
	dir := t.TempDir()
	r := NewTrainerStateReader(dir)
	if got := mustPoll(t, r); got != nil {
		t.Fatalf("empty dir: %q", fmtEntries(got))
	}
	if info := r.Info(); info.Path != "" || !math.IsNaN(info.Epoch) {
		t.Fatalf("Info before any file: %+v", info)
	}

	hfFixture(t, dir, "checkpoint-500/trainer_state.json", "checkpoint-500/trainer_state.json")
	first := fmtEntries(mustPoll(t, r))
	if len(first) != 12 {
		t.Fatalf("checkpoint-500: %d entries, want 12 (10 train + 2 eval)", len(first))
	}
	sameLines(t, "checkpoint-500 head", first[:len(hfWantHead())], hfWantHead())
	info := r.Info()
	if info.GlobalStep != 500 || info.MaxSteps != 1000 || info.NumTrainEpochs != 2 || info.Epoch != 1 || info.LogEntries != 12 ||
		info.Path != filepath.Join(dir, "checkpoint-500", "trainer_state.json") {
		t.Fatalf("Info = %+v", info)
	}

	hfFixture(t, dir, "checkpoint-1000/trainer_state.json", "checkpoint-1000/trainer_state.json")
	second := fmtEntries(mustPoll(t, r))
	if len(second) != 12 {
		t.Fatalf("checkpoint-1000: %d entries, want 12: %q", len(second), second)
	}
	if !strings.Contains(second[2], "step=650 ") || !strings.Contains(second[2], "grad_norm=+Inf") {
		t.Fatalf("entry at step 650 = %q, want grad_norm=+Inf", second[2])
	}
	// Save rotation deletes the older checkpoint: nothing changes.
	if err := os.RemoveAll(filepath.Join(dir, "checkpoint-500")); err != nil {
		t.Fatal(err)
	}
	if got := mustPoll(t, r); len(got) != 0 {
		t.Fatalf("after rotation: %q", fmtEntries(got))
	}

	// save_state() at the end: the same global step, one more entry.
	hfFixture(t, dir, "trainer_state.json", "trainer_state.json")
	last := fmtEntries(mustPoll(t, r))
	want := []string{"t=0 step=1000 epoch=2 total_flos=1.2345678e+15 train_loss=0.98765 train_runtime=1234.5678 train_samples_per_second=25.921 train_steps_per_second=0.81"}
	sameLines(t, "final state", last, want)
	if got := r.Info(); got.Path != filepath.Join(dir, "trainer_state.json") || got.LogEntries != 25 {
		t.Fatalf("Info = %+v", got)
	}
	if got := mustPoll(t, r); len(got) != 0 {
		t.Fatalf("repeated poll: %q", fmtEntries(got))
	}

	// The final file goes away: checkpoint-1000 holds a prefix of what was
	// emitted, so nothing is emitted again.
	if err := os.Remove(filepath.Join(dir, "trainer_state.json")); err != nil {
		t.Fatal(err)
	}
	if got := mustPoll(t, r); len(got) != 0 {
		t.Fatalf("back to checkpoint-1000: %q", fmtEntries(got))
	}
	if r.Dir() != dir {
		t.Fatalf("Dir() = %q", r.Dir())
	}
}

// A torn file is retried quietly; the complete one gives every entry.
func TestTrainerStateTornThenComplete(t *testing.T) {
	dir := t.TempDir()
	r := NewTrainerStateReader(dir)
	hfFixture(t, dir, "checkpoint-500/trainer_state.json", "checkpoint-500/trainer_state.json")
	if got := mustPoll(t, r); len(got) != 12 {
		t.Fatalf("%d entries", len(got))
	}
	// checkpoint-1000 caught mid-write.
	path := filepath.Join(dir, "checkpoint-1000", "trainer_state.json")
	writeInPlace(t, path, fixture(t, "hf/trainer_state-torn.json"))
	got, err := r.Poll()
	if err != nil || len(got) != 0 {
		t.Fatalf("torn: %q, %v; want nothing and no error", fmtEntries(got), err)
	}
	if r.Info().GlobalStep != 500 {
		t.Fatalf("Info after the torn read: %+v", r.Info())
	}
	writeInPlace(t, path, fixture(t, "hf/checkpoint-1000/trainer_state.json"))
	got = mustPoll(t, r)
	if len(got) != 12 || r.Info().GlobalStep != 1000 {
		t.Fatalf("complete: %d entries, info %+v", len(got), r.Info())
	}
}

// Every prefix of a state file is torn: never an entry, never a panic.
func TestTrainerStateEveryPrefixIsTorn(t *testing.T) {
	full := fixture(t, "hf/checkpoint-500/trainer_state.json")
	end := len(strings.TrimRight(string(full), "\n"))
	for n := 0; n < end; n++ {
		if st, err := parseTrainerState(full[:n]); err == nil {
			t.Fatalf("prefix of %d bytes parsed: %+v", n, st)
		}
	}
	if _, err := parseTrainerState(full); err != nil {
		t.Fatal(err)
	}
}

// A file that stays torn (the writer died) is reported once.
func TestTrainerStateStaysTorn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint-1000", "trainer_state.json")
	writeInPlace(t, path, fixture(t, "hf/trainer_state-torn.json"))
	r := NewTrainerStateReader(dir)
	if _, err := r.Poll(); err != nil {
		t.Fatalf("first poll: %v (a torn file may be mid-write)", err)
	}
	_, err := r.Poll()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "torn") {
		t.Fatalf("second poll: %v, want an error naming %s", err, path)
	}
	if _, err := r.Poll(); err != nil {
		t.Fatalf("third poll: %v, want it reported once", err)
	}
}

// A resumed run rewrites history past the checkpoint it resumed from.
func TestTrainerStateDiverges(t *testing.T) {
	dir := t.TempDir()
	r := NewTrainerStateReader(dir)
	hfFixture(t, dir, "checkpoint-500/trainer_state.json", "checkpoint-500/trainer_state.json")
	mustPoll(t, r)

	var doc map[string]any
	if err := json.Unmarshal(runs.QuoteNonFinite(fixture(t, "hf/checkpoint-1000/trainer_state.json")), &doc); err != nil {
		t.Fatal(err)
	}
	hist := doc["log_history"].([]any)
	hist[10].(map[string]any)["loss"] = 9.25 // entry 10 differs: step 500
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	writeInPlace(t, filepath.Join(dir, "checkpoint-1000", "trainer_state.json"), b)
	got := fmtEntries(mustPoll(t, r))
	if len(got) != 24-10 || !strings.Contains(got[0], "loss=9.25") || !strings.Contains(got[0], "step=500 ") {
		t.Fatalf("diverged: %d entries, first %q", len(got), got)
	}
}

func TestTrainerStateHigherGlobalStepWins(t *testing.T) {
	dir := t.TempDir()
	// Directory names promise a step; the file says what it is.
	hfFixture(t, dir, "checkpoint-1000/trainer_state.json", "checkpoint-1000/trainer_state.json")
	hfFixture(t, dir, "checkpoint-500/trainer_state.json", "checkpoint-500/trainer_state.json")
	if err := os.MkdirAll(filepath.Join(dir, "checkpoint-x"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeInPlace(t, filepath.Join(dir, "checkpoint-x", "trainer_state.json"), []byte(`{"global_step": 99999}`))
	writeInPlace(t, filepath.Join(dir, "checkpoint-7"), []byte("not a directory"))
	r := NewTrainerStateReader(dir)
	if got := mustPoll(t, r); len(got) != 24 {
		t.Fatalf("%d entries, want 24", len(got))
	}
	if got := r.Info(); got.GlobalStep != 1000 {
		t.Fatalf("Info = %+v", got)
	}
}

// Files written within one mtime tick still differ in size; a rewrite
// with the same size and an older mtime is not missed either, since the
// comparison is with the last version read.
func TestTrainerStateRewrittenSameSize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trainer_state.json")
	writeInPlace(t, path, []byte(`{"global_step": 1, "log_history": [{"loss": 1.0, "step": 1}]}`))
	r := NewTrainerStateReader(dir)
	if got := mustPoll(t, r); len(got) != 1 {
		t.Fatalf("%d entries", len(got))
	}
	writeInPlace(t, path, []byte(`{"global_step": 1, "log_history": [{"loss": 2.0, "step": 1}]}`))
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	sameLines(t, "rewritten", fmtEntries(mustPoll(t, r)), []string{"t=0 step=1 epoch=NaN loss=2"})
}

func TestParseTrainerState(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    []string
		wantErr string
	}{
		{"bare non-finite", `{"log_history": [{"a": NaN, "b": Infinity, "c": -Infinity, "step": 3}]}`,
			[]string{"t=0 step=3 epoch=NaN a=NaN b=+Inf c=-Inf"}, ""},
		{"NaN inside strings untouched", `{"log_history": [{"note": "NaN Infinity \" NaN", "x": 1}]}`,
			[]string{"t=0 step=-1 epoch=NaN x=1"}, ""},
		{"non-numbers skipped", `{"log_history": [{"s": "x", "b": true, "n": null, "o": {"a": 1}, "l": [1], "v": 2}]}`,
			[]string{"t=0 step=-1 epoch=NaN v=2"}, ""},
		{"entries without values skipped", `{"log_history": [{"step": 1, "epoch": 0.5}, {"step": 2, "loss": 1}]}`,
			[]string{"t=0 step=2 epoch=NaN loss=1"}, ""},
		{"no log_history", `{"global_step": 3}`, nil, ""},
		{"empty", "  \n", nil, "empty file"},
		{"array", `[{"step": 1}]`, nil, "not a JSON object"},
		{"torn", `{"log_history": [{"step": 1, "lo`, nil, "torn"},
		{"trailing garbage", `{"log_history": []} {`, nil, "not valid JSON"},
		{"log_history not a list", `{"log_history": {"a": 1}}`, nil, "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := parseTrainerState([]byte(tc.doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := &TrainerStateReader{}
			sameLines(t, tc.name, fmtEntries(r.take(st.log)), tc.want)
		})
	}
}

func TestTrainerStateDirUnreadable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	writeInPlace(t, file, []byte("x"))
	_, err := NewTrainerStateReader(file).Poll()
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("err = %v, want one naming %s", err, file)
	}
}
