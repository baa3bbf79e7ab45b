package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/logtail"
	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// logtailFixtures is where internal/logtail keeps its fixtures.
const logtailFixtures = "../../internal/logtail/testdata"

const tbFixture = "tb/events.out.tfevents.1700000000.trainhost.4242.0"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(logtailFixtures, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeStale dates path an hour back: a file of an earlier run.
func makeStale(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// fixtureEntries reads a fixture whole with the logtail reader of its
// format: what the run must get from it.
func fixtureEntries(t *testing.T, f logtail.Format, name string) []runs.Entry {
	t.Helper()
	dir := t.TempDir()
	var p poller
	switch f {
	case logtail.FormatLightningCSV:
		writeFile(t, filepath.Join(dir, "metrics.csv"), readFixture(t, name))
		p = logtail.NewCSVReader(filepath.Join(dir, "metrics.csv"))
	case logtail.FormatTrainerState:
		writeFile(t, filepath.Join(dir, "trainer_state.json"), readFixture(t, name))
		p = logtail.NewTrainerStateReader(dir)
	default:
		writeFile(t, filepath.Join(dir, "events.out.tfevents.1"), readFixture(t, name))
		p = logtail.NewEventsReader(filepath.Join(dir, "events.out.tfevents.1"))
	}
	es, err := p.Poll()
	if err != nil || len(es) == 0 {
		t.Fatalf("fixture %s: %d entries, %v", name, len(es), err)
	}
	return es
}

// sayBuffer collects what a fileWatch says.
type sayBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *sayBuffer) say(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n")
}

func (s *sayBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunFileWatch: the metrics files of earlier runs (written before the
// run started) are not imported; of the files the run writes, the first
// that gives entries is the run's and the others are said and not read; a
// stale file rewritten during the run with the same rows (a deterministic
// rerun) is read afresh, every row; a fresh trainer_state.json gives the
// total steps.
func TestRunFileWatch(t *testing.T) {
	csvEntries := len(fixtureEntries(t, logtail.FormatLightningCSV, "metrics-3.csv"))
	tbEntries := len(fixtureEntries(t, logtail.FormatTensorBoard, tbFixture))
	hfEntries := len(fixtureEntries(t, logtail.FormatTrainerState, "hf/trainer_state.json"))

	type step struct {
		do        func(t *testing.T, dir string)
		entries   int
		maxSteps  int64
		chosen    string // relative path, "" for none
		sayMore   string
		sayNotYet string
	}
	stale := func(t *testing.T, dir string) {
		p := filepath.Join(dir, "lightning_logs", "version_0", "metrics.csv")
		writeFile(t, p, readFixture(t, "metrics-3.csv"))
		makeStale(t, p)
		tb := filepath.Join(dir, "runs", "old", "events.out.tfevents.1700000000.old")
		writeFile(t, tb, readFixture(t, tbFixture))
		makeStale(t, tb)
		hf := filepath.Join(dir, "out", "trainer_state.json")
		writeFile(t, hf, readFixture(t, "hf/trainer_state.json"))
		makeStale(t, hf)
	}
	for _, tc := range []struct {
		name   string
		before func(t *testing.T, dir string)
		steps  []step
	}{
		{
			name:   "stale files are not imported",
			before: stale,
			steps: []step{
				{do: func(*testing.T, string) {}, entries: 0, sayNotYet: "reading metrics"},
				{do: func(*testing.T, string) {}, entries: 0, sayNotYet: "reading metrics"},
			},
		},
		{
			name:   "the first fresh file is the run's",
			before: stale,
			steps: []step{
				{do: func(*testing.T, string) {}, entries: 0},
				{
					do: func(t *testing.T, dir string) {
						writeFile(t, filepath.Join(dir, "runs", "new", "events.out.tfevents.1800000000.new"), readFixture(t, tbFixture))
					},
					entries: tbEntries, chosen: "runs/new/events.out.tfevents.1800000000.new",
					sayMore: "reading metrics from",
				},
				{
					do: func(t *testing.T, dir string) {
						writeFile(t, filepath.Join(dir, "lightning_logs", "version_1", "metrics.csv"), readFixture(t, "metrics-1.csv"))
					},
					entries: 0, chosen: "runs/new/events.out.tfevents.1800000000.new",
					sayMore: "not reading",
				},
			},
		},
		{
			name:   "a stale file rewritten with the same rows is read whole",
			before: stale,
			steps: []step{
				{do: func(*testing.T, string) {}, entries: 0},
				{
					do: func(t *testing.T, dir string) {
						writeFile(t, filepath.Join(dir, "lightning_logs", "version_0", "metrics.csv"), readFixture(t, "metrics-3.csv"))
					},
					entries: csvEntries, chosen: "lightning_logs/version_0/metrics.csv",
				},
			},
		},
		{
			name:   "a fresh trainer_state.json gives max_steps",
			before: func(*testing.T, string) {},
			steps: []step{
				{
					do: func(t *testing.T, dir string) {
						writeFile(t, filepath.Join(dir, "out", "trainer_state.json"), readFixture(t, "hf/trainer_state.json"))
					},
					entries: hfEntries, maxSteps: 1000, chosen: "out",
				},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.before(t, dir)
			var said sayBuffer
			w := newFileWatch([]string{dir}, time.Now(), said.say)
			for i, s := range tc.steps {
				s.do(t, dir)
				w.rescan() // walk at every poll
				es, maxSteps, _ := w.poll()
				if len(es) != s.entries || maxSteps != s.maxSteps {
					t.Errorf("step %d: %d entries, max_steps %d; want %d, %d", i, len(es), maxSteps, s.entries, s.maxSteps)
				}
				chosen := ""
				if w.chosen != nil {
					chosen, _ = filepath.Rel(dir, w.chosen.Path)
				}
				if filepath.ToSlash(chosen) != s.chosen {
					t.Errorf("step %d: chosen %q, want %q", i, chosen, s.chosen)
				}
				if s.sayMore != "" && !strings.Contains(said.String(), s.sayMore) {
					t.Errorf("step %d: said %q, want %q", i, said.String(), s.sayMore)
				}
				if s.sayNotYet != "" && strings.Contains(said.String(), s.sayNotYet) {
					t.Errorf("step %d: said %q", i, said.String())
				}
			}
			if n := strings.Count(said.String(), "reading metrics from"); n > 1 {
				t.Errorf("said the metrics file %d times:\n%s", n, said.String())
			}
		})
	}
}

// TestRunFixTime: a file's own times before the run (a copied file) or far
// ahead are replaced by the time read.
func TestRunFixTime(t *testing.T) {
	start := time.UnixMilli(1_800_000_000_000)
	now := start.Add(time.Minute)
	for _, tc := range []struct{ in, want int64 }{
		{0, 0},
		{1_700_000_000_000, 0},
		{start.UnixMilli() + 5, start.UnixMilli() + 5},
		{now.Add(30 * time.Second).UnixMilli(), now.Add(30 * time.Second).UnixMilli()},
		{now.Add(time.Hour).UnixMilli(), 0},
	} {
		if got := fixTime(runs.Entry{TimeMs: tc.in}, start, now).TimeMs; got != tc.want {
			t.Errorf("fixTime(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestRunCmdWatchFiles: real Python children write a Lightning metrics.csv
// (rewritten with a wider header), a Hugging Face trainer_state.json (torn
// first) and a TensorBoard event file (cut inside a record) from the
// logtail fixtures, while printing a progress bar; every entry of the file
// arrives in the run's series with its step, once; an earlier run's
// metrics.csv in the same directory is not imported; the Trainer's
// max_steps becomes the run's total.
func TestRunCmdWatchFiles(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	base := runAgent(t)
	fixtures, err := filepath.Abs(logtailFixtures)
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/python/run_files.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		style  string
		format logtail.Format
		final  string // the fixture the file ends as
		file   string // where the child writes it
		key    string // a key of the file and its series
		series string
	}{
		{"csv", logtail.FormatLightningCSV, "metrics-3.csv", "lightning_logs/version_0/metrics.csv", "train_loss_step", "train_loss_step"},
		{"hf", logtail.FormatTrainerState, "hf/trainer_state.json", "out", "loss", "training_loss"},
		{"tb", logtail.FormatTensorBoard, tbFixture, "runs/events.out.tfevents.1800000000.host.1.0", "train/loss", "training_loss"},
	} {
		t.Run(tc.style, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// An earlier run's file, which would be found first.
			old := filepath.Join(dir, "lightning_logs", "version_old", "metrics.csv")
			writeFile(t, old, readFixture(t, "metrics-1.csv"))
			makeStale(t, old)

			code, _, errOut := runRunCmd(t, "--url", base, "--watch", dir, "--", python, script, tc.style, fixtures, dir)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			id := runIDOf(t, errOut)
			wantSay := "reading metrics from " + filepath.Join(dir, filepath.FromSlash(tc.file)) + " (" + tc.format.String() + ")"
			if strings.Count(errOut, "reading metrics from") != 1 || !strings.Contains(errOut, wantSay) {
				t.Errorf("stderr does not say %q once:\n%s", wantSay, errOut)
			}
			if strings.Contains(errOut, "version_old") {
				t.Errorf("the stale file was considered:\n%s", errOut)
			}

			// Every entry of the key, with its step, once.
			want := map[[2]float64]float64{}
			n := 0
			for _, e := range fixtureEntries(t, tc.format, tc.final) {
				v, ok := e.Values[tc.key]
				if !ok {
					continue
				}
				ep := e.Epoch
				if math.IsNaN(ep) {
					ep = -1
				}
				want[[2]float64{ep, float64(e.Step)}] = v
				n++
			}
			samples := rawSamples(t, base, tc.series+`{run="`+id+`"}[1h]`)
			if tc.style == "hf" {
				// train_loss of the closing summary is training_loss too.
				n++
			}
			if len(samples) != n {
				t.Errorf("%d %s samples, want %d", len(samples), tc.series, n)
			}
			if tc.style != "hf" {
				got := byStep(t, base, id, tc.series)
				if len(got) != len(want) {
					t.Errorf("%d (epoch, step) values, want %d", len(got), len(want))
				}
				for k, w := range want {
					if g, ok := got[k]; !ok || !sameFloat(g, w) {
						t.Errorf("epoch %v step %v: %v (present %v), want %v", k[0], k[1], g, ok, w)
					}
				}
			}
			if tc.style == "hf" {
				if v := getRun(t, base, id); v.TotalSteps != 1000 {
					t.Errorf("total_steps %d, want 1000 (max_steps)", v.TotalSteps)
				}
			}
			if !strings.Contains(errOut, "metrics file: ") {
				t.Errorf("report does not name the metrics file:\n%s", errOut)
			}
		})
	}
}
