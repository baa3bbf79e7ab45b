package logtail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for TailerOptions.Now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// counts maps each batch's path (relative to root) to its entry count.
func counts(t testing.TB, root string, bs []Batch) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, b := range bs {
		rel, err := filepath.Rel(root, b.Path)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.ToSlash(rel)+" "+b.Format.String()] += len(b.Entries)
	}
	return out
}

func sameCounts(t testing.TB, what string, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func TestTailerRunDirectory(t *testing.T) {
	root := filepath.Join(t.TempDir(), "run")
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	tl := NewTailer(root, TailerOptions{Now: clock.now})

	// The run directory does not exist yet.
	bs, err := tl.Poll()
	if err != nil || len(bs) != 0 {
		t.Fatalf("missing root: %v, %v", bs, err)
	}
	if _, ok := tl.Progress(); ok {
		t.Fatal("Progress before any trainer state")
	}

	csvPath := filepath.Join(root, "lightning_logs", "version_0", "metrics.csv")
	writeInPlace(t, csvPath, fixture(t, "metrics-1.csv"))
	hfFixture(t, root, "checkpoint-500/trainer_state.json", "out/checkpoint-500/trainer_state.json")
	writeInPlace(t, filepath.Join(root, "out", "runs", "Nov14_22-13-20_trainhost", filepath.Base(tbTorch)), fixture(t, tbTorch))
	// Not searched: hidden directories and __pycache__.
	writeInPlace(t, filepath.Join(root, ".git", "metrics.csv"), fixture(t, "metrics-1.csv"))
	writeInPlace(t, filepath.Join(root, "__pycache__", "events.out.tfevents.1"), fixture(t, tbTF2))

	// Found at the next walk, which waits for RescanInterval.
	clock.t = clock.t.Add(time.Second)
	if bs, err := tl.Poll(); err != nil || len(bs) != 0 {
		t.Fatalf("before the rescan: %v, %v", bs, err)
	}
	clock.t = clock.t.Add(5 * time.Second)
	bs, err = tl.Poll()
	if err != nil {
		t.Fatal(err)
	}
	sameCounts(t, "first walk", counts(t, root, bs), map[string]int{
		"lightning_logs/version_0/metrics.csv lightning-csv":                           10,
		"out hf-trainer-state":                                                         12,
		"out/runs/Nov14_22-13-20_trainhost/" + filepath.Base(tbTorch) + " tensorboard": 44,
	})
	if got := len(tl.Sources()); got != 3 {
		t.Fatalf("Sources() = %v", tl.Sources())
	}
	if p, ok := tl.Progress(); !ok || p.GlobalStep != 500 || p.MaxSteps != 1000 || p.NumTrainEpochs != 2 {
		t.Fatalf("Progress() = %+v, %v", p, ok)
	}

	// The run goes on: Lightning rewrites its CSV, the Trainer checkpoints
	// again, and a restart starts a second event file.
	writeInPlace(t, csvPath, fixture(t, "metrics-3.csv"))
	hfFixture(t, root, "checkpoint-1000/trainer_state.json", "out/checkpoint-1000/trainer_state.json")
	tf2 := filepath.Join(root, "out", "runs", "Nov14_22-13-20_trainhost", filepath.Base(tbTF2))
	writeInPlace(t, tf2, fixture(t, tbTF2))
	bs, err = tl.Poll()
	if err != nil {
		t.Fatal(err)
	}
	sameCounts(t, "known sources", counts(t, root, bs), map[string]int{
		"lightning_logs/version_0/metrics.csv lightning-csv": 14,
		"out hf-trainer-state":                               12,
	})
	clock.t = clock.t.Add(5 * time.Second)
	bs, err = tl.Poll()
	if err != nil {
		t.Fatal(err)
	}
	sameCounts(t, "new event file", counts(t, root, bs), map[string]int{
		"out/runs/Nov14_22-13-20_trainhost/" + filepath.Base(tbTF2) + " tensorboard": 11,
	})
	if p, _ := tl.Progress(); p.GlobalStep != 1000 {
		t.Fatalf("Progress() = %+v", p)
	}
	// Sources sort by path: the older event file first.
	var events []string
	for _, s := range tl.Sources() {
		if s.Format == FormatTensorBoard {
			events = append(events, filepath.Base(s.Path))
		}
	}
	if len(events) != 2 || events[0] != filepath.Base(tbTorch) {
		t.Fatalf("event sources %v", events)
	}
	if bs, err := tl.Poll(); err != nil || len(bs) != 0 {
		t.Fatalf("nothing new: %v, %v", bs, err)
	}
}

// An error that persists is returned once; a new one is returned again.
func TestTailerErrorsOnce(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "somedir"), 0o755); err != nil {
		t.Fatal(err)
	}
	// metrics.csv is a link to a directory: every read fails.
	if err := os.Symlink(filepath.Join(root, "somedir"), filepath.Join(root, "metrics.csv")); err != nil {
		t.Skip("no symlinks:", err)
	}
	tl := NewTailer(root, TailerOptions{RescanInterval: -1})
	_, err := tl.Poll()
	if err == nil || !strings.Contains(err.Error(), "metrics.csv") {
		t.Fatalf("first poll: %v", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := tl.Poll(); err != nil {
			t.Fatalf("poll %d: %v, want the error once", i, err)
		}
	}
	// The problem goes away, then comes back: reported again.
	if err := os.Remove(filepath.Join(root, "metrics.csv")); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "somedir"), filepath.Join(root, "metrics.csv")); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Poll(); err == nil {
		t.Fatal("the error came back but was not returned")
	}
}

func TestTailerLimits(t *testing.T) {
	root := t.TempDir()
	writeInPlace(t, filepath.Join(root, "a", "b", "c", "metrics.csv"), fixture(t, "metrics-1.csv"))
	writeInPlace(t, filepath.Join(root, "a", "b", "c", "d", "metrics.csv"), fixture(t, "metrics-1.csv"))

	tl := NewTailer(root, TailerOptions{MaxDepth: 3})
	if _, err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	if got := tl.Sources(); len(got) != 1 || !strings.HasSuffix(got[0].Path, filepath.Join("c", "metrics.csv")) {
		t.Fatalf("MaxDepth 3: %v", got)
	}

	tl = NewTailer(root, TailerOptions{MaxEntries: 2})
	if _, err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	if got := tl.Sources(); len(got) != 0 {
		t.Fatalf("MaxEntries 2: %v", got)
	}
}

func TestTrainerOutputDir(t *testing.T) {
	for in, want := range map[string]string{
		"/o/checkpoint-10/trainer_state.json": "/o",
		"/o/trainer_state.json":               "/o",
		"/o/final/trainer_state.json":         "/o/final",
	} {
		if got := trainerOutputDir(filepath.FromSlash(in)); got != filepath.FromSlash(want) {
			t.Errorf("trainerOutputDir(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{
		FormatLightningCSV: "lightning-csv", FormatTrainerState: "hf-trainer-state",
		FormatTensorBoard: "tensorboard", Format(0): "Format(0)",
	} {
		if got := f.String(); got != want {
			t.Errorf("%d: %q, want %q", int(f), got, want)
		}
	}
}
