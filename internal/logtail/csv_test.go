package logtail

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// metrics3Want returns the entries of testdata/metrics-3.csv, read in one
// go: every row that has a value, in file order.
func metrics3Want() []string {
	return []string{
		"t=0 step=9 epoch=NaN lr-Adam=0.0008337477621301498",
		"t=0 step=9 epoch=0 train_loss_step=1.838235",
		"t=0 step=19 epoch=NaN lr-Adam=0.000681232624239892",
		"t=0 step=19 epoch=0 train_loss_step=1.420455",
		"t=0 step=29 epoch=NaN lr-Adam=0.0005566166524310581",
		"t=0 step=29 epoch=0 train_loss_step=1.157407",
		"t=0 step=39 epoch=NaN lr-Adam=0.0004547963305621947",
		"t=0 step=39 epoch=0 train_loss_step=0.976562",
		"t=0 step=49 epoch=NaN lr-Adam=0.00037160171437460894",
		"t=0 step=49 epoch=0 train_loss_step=0.844595",
		// metrics-2.csv: the rewrite with val_acc, val_loss, train_loss_epoch
		"t=0 step=49 epoch=0 val_acc=0.5 val_loss=1",
		"t=0 step=49 epoch=0 train_loss_epoch=2.2",
		// metrics-3.csv: appended
		"t=0 step=59 epoch=NaN lr-Adam=0.00030362565580828617",
		"t=0 step=59 epoch=1 train_loss_step=0.744048",
		"t=0 step=69 epoch=NaN lr-Adam=0.0002480842668343485",
		"t=0 step=69 epoch=1 train_loss_step=0.664894",
		"t=0 step=79 epoch=NaN lr-Adam=0.00020270290824698025",
		"t=0 step=79 epoch=1 train_loss_step=NaN",
		"t=0 step=89 epoch=NaN lr-Adam=0.00016562303420562902",
		"t=0 step=89 epoch=1 train_loss_step=0.548246",
		"t=0 step=99 epoch=NaN lr-Adam=0.00013532607744362547",
		"t=0 step=99 epoch=1 train_loss_step=0.504032",
		"t=0 step=99 epoch=1 val_acc=+Inf val_loss=0.666667",
		"t=0 step=99 epoch=1 train_loss_epoch=1.1",
	}
}

func TestCSVFixtureSequences(t *testing.T) {
	type step struct {
		fixture string
		replace bool // a new file (rename) rather than a rewrite in place
		want    int  // new entries expected from this poll
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"rewrite in place", []step{{"metrics-1.csv", false, 10}, {"metrics-2.csv", false, 2}, {"metrics-3.csv", false, 12}}},
		{"file replaced", []step{{"metrics-1.csv", true, 10}, {"metrics-2.csv", true, 2}, {"metrics-3.csv", true, 12}}},
		{"rewrite and append between polls", []step{{"metrics-1.csv", false, 10}, {"metrics-3.csv", false, 14}}},
		{"append only", []step{{"metrics-2.csv", false, 12}, {"metrics-3.csv", false, 12}}},
		{"all at once", []step{{"metrics-3.csv", false, 24}}},
		{"same file again", []step{{"metrics-3.csv", false, 24}, {"metrics-3.csv", false, 0}, {"metrics-3.csv", true, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.csv")
			r := NewCSVReader(path)
			var all []string
			for i, s := range tc.steps {
				if s.replace {
					replaceFile(t, path, fixture(t, s.fixture))
				} else {
					writeInPlace(t, path, fixture(t, s.fixture))
				}
				got := mustPoll(t, r)
				if len(got) != s.want {
					t.Fatalf("poll %d (%s): %d entries, want %d: %q", i, s.fixture, len(got), s.want, fmtEntries(got))
				}
				all = append(all, fmtEntries(got)...)
				if again := mustPoll(t, r); len(again) != 0 {
					t.Fatalf("poll %d repeated: %q, want nothing", i, fmtEntries(again))
				}
			}
			sameLines(t, "all polls", all, metrics3Want()[:len(all)])
		})
	}
}

func TestCSVMissingFileThenCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.csv")
	r := NewCSVReader(path)
	if got := mustPoll(t, r); got != nil {
		t.Fatalf("missing file: %v", got)
	}
	writeInPlace(t, path, fixture(t, "metrics-1.csv"))
	if got := mustPoll(t, r); len(got) != 10 {
		t.Fatalf("%d entries, want 10", len(got))
	}
}

// A line still being written (no terminator yet, or only its \r) waits.
func TestCSVPartialLines(t *testing.T) {
	full := fixture(t, "metrics-1.csv")
	lines := bytes.SplitAfter(full, []byte("\n"))
	header := len(lines[0])
	cuts := []struct {
		name string
		at   int
		want int
	}{
		{"empty file", 0, 0},
		{"half a header", header / 2, 0},
		{"header without its newline", header - 1, 0},
		{"header only", header, 0},
		{"a row cut mid-number", header + len(lines[1]) + 7, 1},
		{"a row missing its \\n", header + len(lines[1]) + len(lines[2]) - 1, 1},
		{"all but the last byte", len(full) - 1, 9},
	}
	for _, c := range cuts {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.csv")
			r := NewCSVReader(path)
			writeInPlace(t, path, full[:c.at])
			first := mustPoll(t, r)
			if len(first) != c.want {
				t.Fatalf("%d entries at byte %d, want %d", len(first), c.at, c.want)
			}
			appendFile(t, path, full[c.at:])
			rest := mustPoll(t, r)
			sameLines(t, "both polls", append(fmtEntries(first), fmtEntries(rest)...), metrics3Want()[:10])
		})
	}
}

// Lightning's rewrite truncates the file and writes it again: a poll may
// catch it anywhere in between, and must emit nothing twice.
func TestCSVRewriteCaughtMidway(t *testing.T) {
	before := fixture(t, "metrics-1.csv")
	after := fixture(t, "metrics-2.csv")
	for _, at := range []int{0, 5, bytes.IndexByte(after, '\n'), bytes.IndexByte(after, '\n') + 1, len(after) / 3, len(after) / 2, len(after) - 40, len(after) - 1} {
		path := filepath.Join(t.TempDir(), "metrics.csv")
		r := NewCSVReader(path)
		writeInPlace(t, path, before)
		if got := mustPoll(t, r); len(got) != 10 {
			t.Fatalf("first poll: %d entries", len(got))
		}
		writeInPlace(t, path, after[:at])
		mid := mustPoll(t, r)
		appendFile(t, path, after[at:])
		got := append(fmtEntries(mid), fmtEntries(mustPoll(t, r))...)
		sameLines(t, "after the rewrite", got, metrics3Want()[10:12])
	}
}

// Older Lightning releases wrote the whole file, same header, at every
// flush.
func TestCSVWholeFileRewriteSameHeader(t *testing.T) {
	full := fixture(t, "metrics-3.csv")
	lines := bytes.SplitAfter(full, []byte("\n"))
	path := filepath.Join(t.TempDir(), "metrics.csv")
	r := NewCSVReader(path)
	var all []string
	for n := 1; n <= len(lines); n += 5 {
		end := min(n, len(lines))
		writeInPlace(t, path, bytes.Join(lines[:end], nil))
		all = append(all, fmtEntries(mustPoll(t, r))...)
	}
	writeInPlace(t, path, full)
	all = append(all, fmtEntries(mustPoll(t, r))...)
	sameLines(t, "rewrites", all, metrics3Want())
}

// A different run's file at the same path: rows from the first difference
// on are new.
func TestCSVDifferentContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.csv")
	r := NewCSVReader(path)
	writeInPlace(t, path, fixture(t, "metrics-3.csv"))
	if got := mustPoll(t, r); len(got) != 24 {
		t.Fatalf("%d entries", len(got))
	}
	other := strings.Replace(string(fixture(t, "metrics-1.csv")), "0,,29,1.157407", "0,,29,9.5", 1)
	replaceFile(t, path, []byte(other))
	got := fmtEntries(mustPoll(t, r))
	want := []string{
		"t=0 step=29 epoch=0 train_loss_step=9.5",
		"t=0 step=39 epoch=NaN lr-Adam=0.0004547963305621947",
		"t=0 step=39 epoch=0 train_loss_step=0.976562",
		"t=0 step=49 epoch=NaN lr-Adam=0.00037160171437460894",
		"t=0 step=49 epoch=0 train_loss_step=0.844595",
	}
	sameLines(t, "new run", got, want)
}

func TestCSVTruncatedThenRegrown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.csv")
	r := NewCSVReader(path)
	full := fixture(t, "metrics-3.csv")
	writeInPlace(t, path, full)
	mustPoll(t, r)
	writeInPlace(t, path, nil)
	if got := mustPoll(t, r); len(got) != 0 {
		t.Fatalf("truncated: %q", fmtEntries(got))
	}
	writeInPlace(t, path, full)
	if got := mustPoll(t, r); len(got) != 0 {
		t.Fatalf("same rows again: %q", fmtEntries(got))
	}
	appendFile(t, path, []byte("2,,109,,0.4,,\r\n"))
	sameLines(t, "appended", fmtEntries(mustPoll(t, r)), []string{"t=0 step=109 epoch=2 train_loss_step=0.4"})
}

func TestCSVCells(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"LF endings and spaces", "step,epoch,loss\n1, 0 ,0.5\n", []string{"t=0 step=1 epoch=0 loss=0.5"}},
		{"non-finite spellings", "step,a,b,c,d\n1,nan,inf,-inf,Infinity\n", []string{"t=0 step=1 epoch=NaN a=NaN b=+Inf c=-Inf d=+Inf"}},
		{"out of range is infinite", "step,a\n1,1e999\n", []string{"t=0 step=1 epoch=NaN a=+Inf"}},
		{"text cells skipped", "step,a,b\n1,tensor(0.5),0.25\n", []string{"t=0 step=1 epoch=NaN b=0.25"}},
		{"rows without values skipped", "step,epoch,a\n1,0,\n2,0,3\n", []string{"t=0 step=2 epoch=0 a=3"}},
		{"bad step and epoch", "step,epoch,a\n-1,-2,1\n1.5,inf,2\n", []string{"t=0 step=-1 epoch=NaN a=1", "t=0 step=-1 epoch=NaN a=2"}},
		{"float step", "step,a\n20.0,1\n", []string{"t=0 step=20 epoch=NaN a=1"}},
		{"quoted names", "step,\"a,b\",\"c\"\"d\"\n1,2,3\n", []string{"t=0 step=1 epoch=NaN a,b=2 c\"d=3"}},
		{"short and long rows", "step,a,b\n1,2\n2,3,4,5\n", []string{"t=0 step=1 epoch=NaN a=2", "t=0 step=2 epoch=NaN a=3 b=4"}},
		{"BOM and blank lines", "\n\ufeffstep,a\r\n\r\n1,2\r\n", []string{"t=0 step=1 epoch=NaN a=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.csv")
			writeInPlace(t, path, []byte(tc.file))
			sameLines(t, tc.name, fmtEntries(mustPoll(t, NewCSVReader(path))), tc.want)
		})
	}
}

func TestCSVUnreadable(t *testing.T) {
	dir := t.TempDir()
	r := NewCSVReader(dir) // a directory: open works, reading fails
	if _, err := r.Poll(); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want one naming %s", err, dir)
	}
	if r.Path() != dir {
		t.Fatalf("Path() = %q", r.Path())
	}
}

func TestParseNumberHelpers(t *testing.T) {
	if f, ok := parseNumber("  "); ok {
		t.Fatalf("blank parsed as %v", f)
	}
	if got := stepNumber(math.Inf(1)); got != -1 {
		t.Fatalf("stepNumber(+Inf) = %d", got)
	}
	if got := epochNumber(1.5); got != 1.5 {
		t.Fatalf("epochNumber(1.5) = %v", got)
	}
}
