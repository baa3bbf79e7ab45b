package remotewrite

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// segmentFiles returns the queue's segment files, oldest first, with sizes.
func segmentFiles(t testing.TB, dir string) (paths []string, sizes []int64) {
	t.Helper()
	idxs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range idxs {
		p := segmentPath(dir, i)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		sizes = append(sizes, fi.Size())
	}
	return paths, sizes
}

// fillQueue opens a Writer on dir without a sender, enqueues ticks and
// closes it.
func fillQueue(t testing.TB, dir string, cfg Config, tk *ticker, ticks int) {
	t.Helper()
	w, err := Open(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ticks {
		w.Enqueue(tk.tick(int64(1000 * (i + 1))))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTornTailRepair damages the end of the last segment as a crash or a
// bad disk would; reopening truncates it at the last valid record with a
// warning, keeps every earlier record, and the queue works on.
func TestTornTailRepair(t *testing.T) {
	const series, ticks = 5, 10
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, data []byte) []byte
		keep   int    // ticks that survive
		warn   string // "" for no warning
	}{
		{"intact", func(_ *testing.T, _ string, d []byte) []byte { return d }, ticks, ""},
		{"last record cut short", func(_ *testing.T, _ string, d []byte) []byte { return d[:len(d)-5] }, ticks - 1, "truncating a torn or corrupt segment tail"},
		{"last record header cut short", func(t *testing.T, p string, d []byte) []byte {
			return d[:lastRecordOffset(t, d)+7]
		}, ticks - 1, "torn record header"},
		{"byte flipped in the last record", func(_ *testing.T, _ string, d []byte) []byte {
			d[len(d)-3] ^= 0x40
			return d
		}, ticks - 1, "fails its checksum"},
		{"byte flipped in the fourth record", func(t *testing.T, _ string, d []byte) []byte {
			off := segmentHeaderSize
			for range 3 {
				off += frameHeaderSize + int64(parseFrameHeader(d[off:]).length)
			}
			d[off+frameHeaderSize+2] ^= 1
			return d
		}, 3, "fails its checksum"},
		{"zeros appended (preallocated tail)", func(_ *testing.T, _ string, d []byte) []byte {
			return append(d, make([]byte, 4096)...)
		}, ticks, "truncating"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig("http://127.0.0.1:1/")
			tk := newTicker(series)
			fillQueue(t, dir, cfg, tk, ticks)
			paths, _ := segmentFiles(t, dir)
			last := paths[len(paths)-1]
			data, err := os.ReadFile(last)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(last, tt.damage(t, last, data), 0o640); err != nil {
				t.Fatal(err)
			}

			rcv := newReceiver(t, nil)
			cfg.URL = rcv.srv.URL
			logger, logs := newLogger(t)
			w, err := Open(cfg, dir, logger)
			if err != nil {
				t.Fatalf("Open after damage: %v", err)
			}
			defer w.Close()
			if got := logs.String(); (tt.warn == "") != !strings.Contains(got, "level=WARN") || !strings.Contains(got, tt.warn) {
				t.Errorf("want a warning containing %q, got log:\n%s", tt.warn, got)
			}
			if st := w.Stats(); st.PendingSamples != int64(series*tt.keep) || st.PendingRecords != int64(tt.keep) {
				t.Errorf("after repair: %+v, want %d records pending", st, tt.keep)
			}
			// The queue takes new records after the repaired one.
			tk2 := newTicker(series)
			tk2.sent = tk.sent
			for i := range tk2.sent {
				tk2.sent[i] = tk2.sent[i][:tt.keep]
			}
			startRun(t, w)
			w.Enqueue(tk2.tick(1_000_000))
			drained(t, w, 5*time.Second)
			if err := sameSamples(tk2.want(nil, 0), rcv.samples()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func lastRecordOffset(t *testing.T, d []byte) int64 {
	var last int64 = -1
	if _, err := scanSegment(d, func(ri recordInfo) { last = ri.off }); err != nil || last < 0 {
		t.Fatalf("no records: %v", err)
	}
	return last
}

// TestBadSegmentHeader: a segment file shorter than its header (crash
// right after creating it) is removed with a warning.
func TestBadSegmentHeader(t *testing.T) {
	dir := t.TempDir()
	tk := newTicker(3)
	fillQueue(t, dir, testConfig("http://127.0.0.1:1/"), tk, 2)
	if err := os.WriteFile(segmentPath(dir, 99), []byte("TWR"), 0o640); err != nil {
		t.Fatal(err)
	}
	logger, logs := newLogger(t)
	w, err := Open(testConfig("http://127.0.0.1:1/"), dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !strings.Contains(logs.String(), "removing a segment file that has no valid header") {
		t.Errorf("no warning:\n%s", logs)
	}
	if _, err := os.Stat(segmentPath(dir, 99)); !os.IsNotExist(err) {
		t.Errorf("bad segment still there: %v", err)
	}
	if st := w.Stats(); st.PendingSamples != 6 {
		t.Errorf("pending %d, want 6", st.PendingSamples)
	}
}

// TestCursorSurvivesReopen: what was acknowledged before Close is not sent
// again after Open.
func TestCursorSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	rcv := newReceiver(t, nil)
	cfg := testConfig(rcv.srv.URL)
	tk := newTicker(4)
	for round := range 3 {
		w, err := Open(cfg, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.PendingSamples != 0 {
			t.Fatalf("round %d: %d samples pending after reopening, want 0", round, st.PendingSamples)
		}
		stop := startRun(t, w)
		for i := range 5 {
			w.Enqueue(tk.tick(int64(round*100 + i)))
		}
		drained(t, w, 5*time.Second)
		stop()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := sameSamples(tk.want(nil, 0), rcv.samples()); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptCursor: an unreadable cursor file is reported, and sending
// starts again from the oldest segment (duplicates rather than loss).
func TestCorruptCursor(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"garbage", []byte("not a cursor")},
		{"empty", nil},
		{"bit flip", func() []byte {
			b := cursor{Segment: 1, Offset: 8}.marshal()
			b[10] ^= 1
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rcv := newReceiver(t, nil)
			cfg := testConfig(rcv.srv.URL)
			w, err := Open(cfg, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			startRun(t, w)
			tk := newTicker(3)
			for i := range 4 {
				w.Enqueue(tk.tick(int64(1000 * (i + 1))))
			}
			drained(t, w, 5*time.Second)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, cursorFile), tt.content, 0o640); err != nil {
				t.Fatal(err)
			}
			logger, logs := newLogger(t)
			w, err = Open(cfg, dir, logger)
			if err != nil {
				t.Fatalf("Open with a corrupt cursor: %v", err)
			}
			defer w.Close()
			if !strings.Contains(logs.String(), "cursor is unreadable") {
				t.Errorf("no warning:\n%s", logs)
			}
			if st := w.Stats(); st.PendingSamples != 12 || st.OldestPending.UnixMilli() != 1000 {
				t.Errorf("pending %d since %d, want all 12 again since 1000", st.PendingSamples, st.OldestPending.UnixMilli())
			}
		})
	}
}

// TestSegmentRollover: segments roll over at the segment size, and the
// sender deletes each one once it is fully sent (the one being written
// stays).
func TestSegmentRollover(t *testing.T) {
	dir := t.TempDir()
	rcv := newReceiver(t, nil)
	cfg := testConfig(rcv.srv.URL)
	cfg.Queue.MaxBytes = 4 << 20 // segments of 512 KiB
	w, err := Open(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.segSize != 512<<10 {
		t.Fatalf("segment size %d", w.segSize)
	}
	tk := newTicker(200)
	for i := 0; ; i++ {
		w.Enqueue(tk.tick(int64(i) * 1000))
		if paths, _ := segmentFiles(t, dir); len(paths) >= 4 {
			break
		}
	}
	_, sizes := segmentFiles(t, dir)
	for i, s := range sizes[:len(sizes)-1] {
		if s < w.segSize || s > w.segSize+64<<10 {
			t.Errorf("segment %d is %d bytes, want about %d", i, s, w.segSize)
		}
	}
	if st := w.Stats(); st.PendingBytes != sum(sizes) {
		t.Errorf("pending bytes %d, files hold %d", st.PendingBytes, sum(sizes))
	}
	startRun(t, w)
	drained(t, w, 10*time.Second)
	waitFor(t, 5*time.Second, "sent segments to be deleted", func() bool {
		paths, _ := segmentFiles(t, dir)
		return len(paths) == 1
	})
	// The next tick goes into the remaining segment; new segments follow.
	w.Enqueue(tk.tick(1e9))
	drained(t, w, 5*time.Second)
	if err := sameSamples(tk.want(nil, 0), rcv.samples()); err != nil {
		t.Fatal(err)
	}
	_, sizes = segmentFiles(t, dir)
	if st := w.Stats(); st.PendingBytes != sum(sizes) {
		t.Errorf("pending bytes %d, files hold %d", st.PendingBytes, sum(sizes))
	}
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

// TestMaxBytesDropsOldest: a queue over max_bytes loses its oldest
// segments, counted and logged; what remains is sent once, in order —
// whether the sender was idle or stuck retrying a batch of a dropped
// segment.
func TestMaxBytesDropsOldest(t *testing.T) {
	for _, sender := range []string{"idle", "retrying"} {
		t.Run(sender, func(t *testing.T) {
			var down atomic.Bool
			down.Store(true)
			rcv := newReceiver(t, func(int) int {
				if down.Load() {
					return 503
				}
				return 200
			})
			dir := t.TempDir()
			cfg := testConfig(rcv.srv.URL)
			cfg.Queue.MaxBytes = MinMaxBytes // segments of 128 KiB
			logger, logs := newLogger(t)
			w, err := Open(cfg, dir, logger)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if sender == "retrying" {
				startRun(t, w)
			}
			tk := newTicker(100)
			for i := range 1500 {
				w.Enqueue(tk.tick(int64(i) * 1000))
				if st := w.Stats(); st.PendingBytes > int64(cfg.Queue.MaxBytes) {
					t.Fatalf("tick %d: queue is %d bytes, over max_bytes", i, st.PendingBytes)
				}
			}
			_, sizes := segmentFiles(t, dir)
			st := w.Stats()
			if sum(sizes) > int64(cfg.Queue.MaxBytes) || st.PendingBytes != sum(sizes) {
				t.Errorf("files hold %d bytes, stats say %d, max_bytes %d", sum(sizes), st.PendingBytes, cfg.Queue.MaxBytes)
			}
			if st.SamplesDroppedFull == 0 || !strings.Contains(logs.String(), "larger than queue.max_bytes") {
				t.Fatalf("nothing dropped: %+v", st)
			}
			down.Store(false)
			if sender == "idle" {
				startRun(t, w)
			}
			drained(t, w, 10*time.Second)
			st = w.Stats()
			if st.SamplesSent+st.SamplesDroppedFull != st.SamplesEnqueued || st.SamplesEnqueued != 150000 {
				t.Errorf("sent %d + dropped %d != enqueued %d", st.SamplesSent, st.SamplesDroppedFull, st.SamplesEnqueued)
			}
			// Per series: what arrived is in order, without duplicates,
			// and ends with the newest sample.
			got := rcv.samples()
			n := 0
			for k, pts := range tk.want(nil, 0) {
				g := got[k]
				n += len(g)
				if len(g) == 0 || g[len(g)-1] != pts[len(pts)-1] {
					t.Fatalf("series %s: newest sample missing", k)
				}
				for i := 1; i < len(g); i++ {
					if g[i].T <= g[i-1].T {
						t.Fatalf("series %s: %v after %v", k, g[i], g[i-1])
					}
				}
			}
			if uint64(n) != st.SamplesSent {
				t.Errorf("received %d, sent %d", n, st.SamplesSent)
			}
		})
	}
}

// TestAgentCrash stops the agent without Close, as a crash or kill -9
// would (the files keep what was written, nothing more is fsynced or
// written): after Open, nothing acknowledged is sent again and nothing
// unacknowledged is lost.
func TestAgentCrash(t *testing.T) {
	// The first receiver takes 3 requests, then fails; after the crash a
	// second one takes the rest. (Two receivers, so that a request the
	// first one is still handling when the sender gives up cannot be
	// accepted late.)
	rcv := newReceiver(t, func(n int) int {
		if n <= 3 {
			return 200
		}
		return 503
	})
	rcv2 := newReceiver(t, nil)
	dir := t.TempDir()
	cfg := testConfig(rcv.srv.URL)
	cfg.Queue.MaxSamplesPerSend = 10
	w, err := Open(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk := newTicker(4)
	for i := range 12 {
		w.Enqueue(tk.tick(int64(1000 * (i + 1))))
	}
	stop := startRun(t, w)
	waitFor(t, 5*time.Second, "the receiver to fail", func() bool { return w.Stats().FailedSends > 0 })
	stop()
	// The crash: the sync goroutine dies, the descriptors are gone.
	close(w.stop)
	<-w.syncDone
	w.cur.Close()
	w.lock.Close()

	cfg.URL = rcv2.srv.URL
	w, err = Open(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if st := w.Stats(); st.PendingSamples != 48-30 {
		t.Errorf("pending %d after the crash, want %d", st.PendingSamples, 48-30)
	}
	startRun(t, w)
	drained(t, w, 5*time.Second)
	if err := sameSamples(tk.want(nil, 0), merge(rcv.samples(), rcv2.samples())); err != nil {
		t.Fatal(err)
	}
}
