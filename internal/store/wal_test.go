package store

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// walSeries is the series the WAL tests write: c_total = i at tick i.
const walSeries = `{__name__="c_total", instance="node1:9400", job="trainwatch"}`

// openLogged opens the store in dir with its log captured.
func openLogged(t *testing.T, dir string) (*Store, *testenv.LogBuffer, error) {
	t.Helper()
	var buf testenv.LogBuffer
	s, err := Open(Options{Dir: dir, Instance: "node1:9400", Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	return s, &buf, err
}

// tickTime is the time of tick i when ticks are step apart.
func tickTime(i int, step time.Duration) time.Time { return base.Add(time.Duration(i) * step) }

// writeTicks consumes ticks from..to-1 of c_total.
func writeTicks(s *Store, from, to int, step time.Duration) {
	for i := from; i < to; i++ {
		s.Consume(context.Background(), snap(tickTime(i, step),
			fam("c_total", collector.Counter, nil, collector.Sample{Value: float64(i)})))
	}
}

// session opens the store in dir, writes ticks from..to-1 (none when
// from == to) and closes it again. Each Open starts a new WAL segment.
func session(t *testing.T, dir string, from, to int, step time.Duration) {
	t.Helper()
	s := openTest(t, dir)
	s.DB().DisableCompactions() // the checkpoint case compacts explicitly
	writeTicks(s, from, to, step)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// ticksPoints are the points of ticks (value i at tick i).
func ticksPoints(ticks []int, step time.Duration) []point {
	pts := []point{}
	for _, i := range ticks {
		pts = append(pts, point{ms(tickTime(i, step)), float64(i)})
	}
	return pts
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// walRecord is one record of a WAL segment: its byte range and, for a
// samples record, the timestamps it holds.
type walRecord struct {
	start, end int64
	typ        record.Type
	ts         []int64
}

// segmentRecords decodes every record of the segment file at path.
func segmentRecords(t *testing.T, path string) []walRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := wlog.NewReader(bufio.NewReader(f))
	dec := record.NewDecoder(nil, nil)
	var out []walRecord
	var start int64
	for r.Next() {
		rec := walRecord{start: start, end: r.Offset(), typ: dec.Type(r.Record())}
		if rec.typ == record.Samples {
			samples, err := dec.Samples(r.Record(), nil)
			if err != nil {
				t.Fatalf("decoding a samples record of %s: %v", path, err)
			}
			for _, s := range samples {
				rec.ts = append(rec.ts, s.T)
			}
		}
		out = append(out, rec)
		start = r.Offset()
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading %s before damaging it: %v", path, err)
	}
	return out
}

// sampleRecordOf returns the samples record of path that holds tick i.
func sampleRecordOf(t *testing.T, path string, i int, step time.Duration) walRecord {
	t.Helper()
	want := ms(tickTime(i, step))
	for _, rec := range segmentRecords(t, path) {
		if slices.Contains(rec.ts, want) {
			if rec.end-rec.start < 16 {
				t.Fatalf("record of tick %d is only %d bytes; too small to damage in its middle", i, rec.end-rec.start)
			}
			return rec
		}
	}
	t.Fatalf("no samples record in %s holds tick %d", path, i)
	return walRecord{}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func segment(dir string, i int) string {
	return filepath.Join(dir, "wal", wlog.SegmentName("", i))
}

// walCase is one kind of damage: write sets up the data directory (closed
// afterwards) and damages it, and returns the ticks that must survive and
// the log lines the repair must produce.
type walCase struct {
	name  string
	step  time.Duration
	last  int // the highest tick written before the damage
	write func(t *testing.T, dir string) (keep []int, wantLog []string)
	// setAside: the WAL and chunks_head are moved into DIR/wal-damaged-*.
	setAside bool
}

// TestWALDamageAtStartup damages the WAL (and chunks_head) of a closed
// store in several ways and checks that Open neither fails nor loops:
// it repairs or sets aside the damage with a warning, keeps every sample
// before the damaged record, accepts new ticks, and a second restart is
// clean and keeps everything.
func TestWALDamageAtStartup(t *testing.T) {
	const sec = time.Second
	cases := []walCase{
		{
			name: "last segment truncated in the middle of a record", step: sec, last: 9,
			write: func(t *testing.T, dir string) ([]int, []string) {
				session(t, dir, 0, 10, sec)
				rec := sampleRecordOf(t, segment(dir, 0), 6, sec)
				if err := os.Truncate(segment(dir, 0), (rec.start+rec.end)/2); err != nil {
					t.Fatal(err)
				}
				// The reader pads the short segment with zeros, so the torn
				// record fails its checksum; the repair keeps the records before it.
				return span(0, 6), []string{
					`level=WARN msg="Encountered WAL read error, attempting repair" component=tsdb`,
					"unexpected checksum",
					`level=WARN msg="Starting corruption repair" component=tsdb segment=0 offset=` + strconv.FormatInt(rec.end, 10),
					`msg="Successfully repaired WAL"`,
				}
			},
		},
		{
			name: "garbage in the middle of the last segment", step: sec, last: 9,
			write: func(t *testing.T, dir string) ([]int, []string) {
				session(t, dir, 0, 10, sec)
				rec := sampleRecordOf(t, segment(dir, 0), 6, sec)
				overwrite(t, segment(dir, 0), (rec.start+rec.end)/2, bytes.Repeat([]byte{0xab}, 4))
				return span(0, 6), []string{
					`level=WARN msg="Encountered WAL read error, attempting repair" component=tsdb`,
					"unexpected checksum",
					`level=WARN msg="Starting corruption repair" component=tsdb segment=0 offset=` + strconv.FormatInt(rec.end, 10),
					`msg="Successfully repaired WAL"`,
				}
			},
		},
		{
			name: "garbage appended to the last segment", step: sec, last: 9,
			write: func(t *testing.T, dir string) ([]int, []string) {
				session(t, dir, 0, 10, sec)
				f, err := os.OpenFile(segment(dir, 0), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(bytes.Repeat([]byte{0xab}, 100)); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				return span(0, 10), []string{
					`level=WARN msg="Encountered WAL read error, attempting repair" component=tsdb`,
					"invalid record size",
					`level=WARN msg="Starting corruption repair" component=tsdb segment=0`,
					`msg="Successfully repaired WAL"`,
				}
			},
		},
		{
			name: "zero-length extra segments", step: sec, last: 9,
			write: func(t *testing.T, dir string) ([]int, []string) {
				session(t, dir, 0, 10, sec)
				for _, i := range []int{1, 2} {
					if err := os.WriteFile(segment(dir, i), nil, 0o640); err != nil {
						t.Fatal(err)
					}
				}
				return span(0, 10), nil // nothing is damaged: no warning
			},
		},
		{
			name: "first segment missing", step: sec, last: 9, setAside: true,
			write: func(t *testing.T, dir string) ([]int, []string) {
				session(t, dir, 0, 5, sec)
				session(t, dir, 5, 10, sec)
				if err := os.Remove(segment(dir, 0)); err != nil {
					t.Fatal(err)
				}
				// Without segment 0 the series records are gone too: nothing
				// in the WAL can be replayed.
				return nil, []string{
					`level=WARN msg="the write-ahead log cannot be replayed: moved it aside and starting with an empty one`,
					"WAL segments 0 to 0 are missing from " + filepath.Join(dir, "wal"),
					"moved_to=" + filepath.Join(dir, "wal-damaged-"),
				}
			},
		},
		{
			name: "middle segment missing", step: sec, last: 14, setAside: true,
			write: func(t *testing.T, dir string) ([]int, []string) {
				session(t, dir, 0, 5, sec)
				session(t, dir, 5, 10, sec)
				session(t, dir, 10, 15, sec)
				if err := os.Remove(segment(dir, 1)); err != nil {
					t.Fatal(err)
				}
				return nil, []string{
					`level=WARN msg="the write-ahead log cannot be replayed: moved it aside and starting with an empty one`,
					"WAL segments in " + filepath.Join(dir, "wal") + ": segments are not sequential",
					"moved_to=" + filepath.Join(dir, "wal-damaged-"),
				}
			},
		},
		{
			name: "corrupt checkpoint", step: 10 * time.Minute, last: 2, setAside: true,
			write: func(t *testing.T, dir string) ([]int, []string) {
				const step = 10 * time.Minute
				session(t, dir, -30, 0, step) // 5h of history in segment 0
				for range 3 {
					session(t, dir, 0, 0, step) // empty segments 1 to 3
				}
				s := openTest(t, dir)
				writeTicks(s, 0, 3, step)
				if err := s.DB().Compact(context.Background()); err != nil {
					t.Fatalf("Compact: %v", err)
				}
				blocks := s.DB().Blocks()
				if len(blocks) == 0 {
					t.Fatal("compaction wrote no block")
				}
				persistedUntil := blocks[len(blocks)-1].Meta().MaxTime
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				cp := filepath.Join(dir, "wal", "checkpoint.00000002", "00000000")
				recs := segmentRecords(t, cp)
				if len(recs) < 2 {
					t.Fatalf("checkpoint %s has %d records, want series and samples", cp, len(recs))
				}
				rec := recs[len(recs)-1]
				overwrite(t, cp, (rec.start+rec.end)/2, bytes.Repeat([]byte{0xab}, 4))
				// The head (checkpoint and segments) is set aside; the blocks stay.
				var keep []int
				for i := -30; i < 3; i++ {
					if ms(tickTime(i, step)) < persistedUntil {
						keep = append(keep, i)
					}
				}
				if len(keep) == 0 || len(keep) == 33 {
					t.Fatalf("blocks hold %d of 33 ticks; the case needs some in blocks and some in the head", len(keep))
				}
				return keep, []string{
					`level=WARN msg="the write-ahead log cannot be replayed: moved it aside and starting with an empty one`,
					"WAL checkpoint " + filepath.Join(dir, "wal", "checkpoint.00000002") + ": corruption in segment",
					"unexpected checksum",
					"moved_to=" + filepath.Join(dir, "wal-damaged-"),
				}
			},
		},
		{
			name: "corrupt chunks_head file", step: sec, last: 299,
			write: func(t *testing.T, dir string) ([]int, []string) {
				session(t, dir, 0, 300, sec) // > 120 samples: full chunks are m-mapped
				overwrite(t, filepath.Join(dir, "chunks_head", "000001"), 40, bytes.Repeat([]byte{0xab}, 8))
				// The chunk files are dropped and the WAL, which holds every
				// sample, is replayed: nothing is lost.
				return span(0, 300), []string{
					`level=ERROR msg="Loading on-disk chunks failed" component=tsdb`,
					"corruption in head chunk file " + filepath.Join(dir, "chunks_head", "000001"),
					`msg="Deletion of mmap chunk files successful, reattempting m-mapping the on-disk chunks"`,
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			keep, wantLog := tc.write(t, dir)

			s, logs, err := openLogged(t, dir)
			if err != nil {
				t.Fatalf("Open after the damage: %v\nlog:\n%s", err, logs)
			}
			for _, w := range wantLog {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log does not contain %q:\n%s", w, logs)
				}
			}
			if l := logs.String(); wantLog == nil && (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) {
				t.Errorf("undamaged WAL logged a problem:\n%s", l)
			}
			want := map[string][]point{}
			if len(keep) > 0 {
				want[walSeries] = ticksPoints(keep, tc.step)
			}
			comparePoints(t, readAll(t, s.Queryable(), "c_total"), want)

			// New ticks are accepted after the repair.
			next := span(tc.last+1, tc.last+4)
			writeTicks(s, next[0], next[len(next)-1]+1, tc.step)
			want[walSeries] = ticksPoints(append(slices.Clone(keep), next...), tc.step)
			comparePoints(t, readAll(t, s.Queryable(), "c_total"), want)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			moved, err := filepath.Glob(filepath.Join(dir, "wal-damaged-*", "wal"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.setAside != (len(moved) == 1) {
				t.Errorf("WAL set aside into %v; want set aside: %v", moved, tc.setAside)
			}

			// No crash loop: the next restarts are clean and keep everything.
			for restart := 1; restart <= 2; restart++ {
				s, logs, err := openLogged(t, dir)
				if err != nil {
					t.Fatalf("restart %d after the repair: %v", restart, err)
				}
				if l := logs.String(); strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					t.Errorf("restart %d after the repair logged a problem:\n%s", restart, l)
				}
				comparePoints(t, readAll(t, s.Queryable(), "c_total"), want)
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
		})
	}
}

// TestWALNotSetAsideWhileLocked checks that a second Open of a directory
// that a running store holds fails on the lock and leaves the WAL in place,
// even when the WAL looks damaged (here: a stray segment after a gap).
func TestWALNotSetAsideWhileLocked(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	writeTicks(s, 0, 3, time.Second)
	if err := os.WriteFile(segment(dir, 7), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	s2, logs, err := openLogged(t, dir)
	if err == nil {
		s2.Close()
		t.Fatal("a second Open of a locked data directory succeeded")
	}
	if want := "opening TSDB in data directory " + dir + ": lock DB directory"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if strings.Contains(logs.String(), "moved it aside") {
		t.Errorf("the WAL of a running store was set aside:\n%s", logs)
	}
	if moved, _ := filepath.Glob(filepath.Join(dir, "wal-damaged-*")); len(moved) > 0 {
		t.Errorf("found %v", moved)
	}
	if _, err := os.Stat(segment(dir, 0)); err != nil {
		t.Errorf("the running store's segment 0: %v", err)
	}
	comparePoints(t, readAll(t, s.Queryable(), "c_total"), map[string][]point{walSeries: ticksPoints(span(0, 3), time.Second)})
}
