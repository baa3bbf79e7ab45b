// Package remotewrite sends the agent's samples to Prometheus-compatible
// receivers (Prometheus with --web.enable-remote-write-receiver, Mimir,
// Thanos receive, VictoriaMetrics) with the remote write protocol 1.0
// (snappy-compressed protobuf WriteRequests), through a durable queue on
// disk.
//
// Enqueue is called with every tick's samples (store.Options.OnCommit): it
// appends them as one record to the queue's current segment file with one
// write(2), and never touches the network. Run reads the queue from its
// cursor, merges consecutive records into requests of up to
// max_samples_per_send samples, and POSTs them; the cursor advances only
// when the receiver has acknowledged a request (2xx). Failed sends (5xx,
// 429, network errors) are retried with exponential backoff for as long as
// it takes, so a receiver outage loses nothing as long as the queue fits in
// queue.max_bytes on disk; beyond that the oldest segments are dropped.
//
// Durability is that of the TSDB's write-ahead log: segments are fsynced at
// rollover (about every 8 MiB) and every 5 seconds, so a crash of the
// machine loses at most the last few seconds of samples; a crash of the
// agent alone loses nothing. After a restart, whatever the receiver had not
// acknowledged is sent again (a crash may resend up to a few seconds of
// acknowledged samples, which receivers ignore as duplicates).
package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/store"
)

const (
	// maxSegmentSize is the size at which a segment is closed and a new
	// one started.
	maxSegmentSize = 8 << 20
	// minSegmentSize bounds the segment size for small queue.max_bytes.
	minSegmentSize = 64 << 10
	// syncInterval is how often the current segment is fsynced and the
	// cursor file written when they changed.
	syncInterval = 5 * time.Second
	lockFile     = "lock"
)

// Writer is one remote write destination with its durable queue. Enqueue
// may be called from any goroutine; Run runs the sender; Close stops it.
type Writer struct {
	cfg       Config
	dir       string
	logger    *slog.Logger
	userAgent string
	client    *http.Client
	segSize   int64
	maxBytes  int64
	lock      *os.File

	notify   chan struct{} // Enqueue → sender, capacity 1
	syncWake chan struct{} // rollover → syncer, capacity 1
	stop     chan struct{} // closed by Close
	syncDone chan struct{}

	cursorMu sync.Mutex // serializes cursor file writes

	mu        sync.Mutex
	closed    bool
	runDone   chan struct{} // non-nil while Run runs
	enc       *encoder
	segs      []*segment // oldest first; the last is the write segment when cur != nil
	cur       *os.File
	curDirty  bool
	dirDirty  bool
	forceRoll bool
	nextSeg   uint64
	toSync    []*os.File // rolled-over segments waiting for fsync and close
	total     int64      // bytes of all segment files
	ack       cursor     // acknowledged position
	ackDirty  bool       // ack not yet in the cursor file
	ackSynced bool       // the cursor file is fsynced
	cursorErr bool       // writing the cursor file failed (logged)
	inflight  inflight
	headMinT  int64 // smallest timestamp of the first pending record; 0 when empty
	c         counters
	writeErr  bool // a queue write failed and was logged; cleared on success

	descs descs
}

// segment is what the Writer knows about one segment file.
type segment struct {
	index            uint64
	size             int64 // bytes of complete records (and header)
	records, samples int64
	// doneRecords and doneSamples are acknowledged, dropped or skipped.
	doneRecords, doneSamples int64
	firstMinT                int64
}

// inflight is the batch the sender has read and not yet resolved.
type inflight struct {
	active    bool
	seg       uint64
	samples   int64
	completes int64
}

type counters struct {
	enqueued, sent, dropped4xx, droppedFull, droppedDisk uint64
	failedSends                                          uint64
	pendingSamples, pendingRecords                       int64
	lastSend                                             time.Time
}

// Stats is a snapshot of a Writer's counters, for self-metrics.
type Stats struct {
	// SamplesEnqueued counts samples written to the queue since Open.
	SamplesEnqueued uint64
	// SamplesSent counts samples the receiver acknowledged (2xx).
	SamplesSent uint64
	// SamplesDropped4xx counts samples of requests the receiver refused
	// with a 4xx status other than 429 (not retried, like Prometheus).
	SamplesDropped4xx uint64
	// SamplesDroppedFull counts samples of segments deleted because the
	// queue grew over queue.max_bytes.
	SamplesDroppedFull uint64
	// SamplesDroppedDiskError counts samples lost to disk errors: a queue
	// write that failed, or a record found corrupt while sending.
	SamplesDroppedDiskError uint64
	// FailedSends counts requests that failed and were retried.
	FailedSends uint64
	// PendingBytes is the size of the queue's segment files on disk.
	PendingBytes int64
	// PendingRecords and PendingSamples are what is not yet acknowledged.
	PendingRecords, PendingSamples int64
	// OldestPending is the timestamp of the oldest sample not yet
	// acknowledged (zero when the queue is empty).
	OldestPending time.Time
	// LastSend is when the receiver last acknowledged a request.
	LastSend time.Time
}

// Option changes how Open sets up a Writer.
type Option func(*Writer)

// WithVersion sets the agent version sent in the User-Agent header
// (trainwatch/VERSION). Default: the module version from the build
// information, or "dev".
func WithVersion(version string) Option {
	return func(w *Writer) { w.userAgent = "trainwatch/" + version }
}

// WithHTTPClient replaces the HTTP client (default: a client with its own
// clone of http.DefaultTransport). The configured timeout applies to every
// request either way.
func WithHTTPClient(c *http.Client) Option {
	return func(w *Writer) { w.client = c }
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Open opens (creating it when needed) the queue in dir, which must belong
// to this remote alone (e.g. DATA_DIR/remote_write/NAME), repairs a torn
// tail left by a crash, and positions the sender at the first sample not
// acknowledged. cfg gets its defaults (SetDefaults) and is validated. The
// whole queue is read and checked once, so a full 1 GiB queue takes about
// a second to open. Start the sender with Run; stop with Close.
func Open(cfg Config, dir string, logger *slog.Logger, opts ...Option) (*Writer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("remote write %q: %w", cfg.Name, err)
	}
	if dir == "" {
		return nil, fmt.Errorf("remote write %q: no queue directory given", cfg.Name)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := cfg.authorization(); err != nil {
		return nil, fmt.Errorf("remote write %q: %w (the file must exist and be readable by the agent)", cfg.Name, err)
	}
	w := &Writer{
		cfg:       cfg,
		dir:       dir,
		logger:    logger.With("remote", cfg.Name),
		userAgent: "trainwatch/" + buildVersion(),
		maxBytes:  int64(cfg.Queue.MaxBytes),
		segSize:   min(maxSegmentSize, max(minSegmentSize, int64(cfg.Queue.MaxBytes)/8)),
		notify:    make(chan struct{}, 1),
		syncWake:  make(chan struct{}, 1),
		stop:      make(chan struct{}),
		syncDone:  make(chan struct{}),
		enc:       newEncoder(cfg.ExternalLabels),
		descs:     newDescs(),
	}
	for _, o := range opts {
		o(w)
	}
	if w.client == nil {
		w.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("remote write %q: creating queue directory: %w", cfg.Name, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("remote write %q: %w", cfg.Name, err)
	}
	w.lock = lock
	if err := w.load(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("remote write %q: opening queue in %s: %w", cfg.Name, dir, err)
	}
	go w.syncLoop()
	return w, nil
}

// lockDir takes an exclusive lock on dir, so that two agents never share
// a queue.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("locking queue directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("queue directory %s is in use by another process (another trainwatch with the same data directory?): %w", dir, err)
	}
	return f, nil
}

func segmentPath(dir string, index uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%08d", index))
}

// listSegments returns the indexes of the segment files in dir, sorted.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var idx []uint64
	for _, e := range ents {
		name := e.Name()
		if len(name) < 8 || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil || n == 0 {
			continue
		}
		idx = append(idx, n)
	}
	slices.Sort(idx)
	return idx, nil
}

// load reads the cursor and checks every segment, truncating torn tails.
func (w *Writer) load() error {
	idxs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	c, ok, err := readCursor(w.dir)
	if err != nil {
		w.logger.Warn("remote write queue cursor is unreadable; sending again from the oldest segment (the receiver may get some samples twice)",
			"file", filepath.Join(w.dir, cursorFile), "err", err)
	}
	if !ok {
		c = cursor{}
	}
	orig := c
	aligned := c.Segment // the segment whose records alignCursor counts
	for _, idx := range idxs {
		path := segmentPath(w.dir, idx)
		if idx < c.Segment {
			// Fully acknowledged; the process stopped before deleting it.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("deleting sent segment: %w", err)
			}
			continue
		}
		s, err := w.loadSegment(idx, path, &c)
		if err != nil {
			return err
		}
		if s != nil {
			w.segs = append(w.segs, s)
			w.total += s.size
			w.c.pendingSamples += s.samples - s.doneSamples
			w.c.pendingRecords += s.records - s.doneRecords
		}
	}
	switch {
	case len(w.segs) == 0:
		w.nextSeg = max(c.Segment, idxLast(idxs)) + 1
		c = cursor{Segment: w.nextSeg, Offset: segmentHeaderSize}
	case c.Segment < w.segs[0].index:
		c = cursor{Segment: w.segs[0].index, Offset: segmentHeaderSize}
		fallthrough
	default:
		w.nextSeg = max(w.segs[len(w.segs)-1].index, c.Segment) + 1
	}
	w.ack = c
	// The oldest pending sample: in the first segment with something left.
	for _, s := range w.segs {
		if s.doneSamples < s.samples {
			if s.index != aligned {
				w.headMinT = s.firstMinT
			} // else alignCursor set it
			break
		}
	}
	if w.c.pendingSamples == 0 {
		w.headMinT = 0
	}
	if c != orig || !ok {
		if err := writeCursor(w.dir, c, true); err != nil {
			return err
		}
	}
	w.ackSynced = true
	if w.c.pendingSamples > 0 {
		w.logger.Info("remote write queue holds samples not yet sent; sending them", "pending_samples", w.c.pendingSamples, "pending_bytes", w.total, "dir", w.dir)
	}
	return nil
}

func idxLast(idxs []uint64) uint64 {
	if len(idxs) == 0 {
		return 0
	}
	return idxs[len(idxs)-1]
}

// loadSegment checks one segment file, truncates a torn or corrupt tail,
// and, for the cursor's segment, counts what was already acknowledged and
// aligns the cursor on a record. It returns nil for a file that is not a
// segment (removed with a warning).
func (w *Writer) loadSegment(idx uint64, path string, c *cursor) (*segment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading segment: %w", err)
	}
	s := &segment{index: idx}
	var recs []recordInfo
	end, scanErr := scanSegment(data, func(ri recordInfo) {
		if s.records == 0 {
			s.firstMinT = ri.minT
		}
		s.records++
		s.samples += int64(ri.samples)
		if idx == c.Segment {
			recs = append(recs, ri)
		}
	})
	if end == 0 {
		w.logger.Warn("remote write queue: removing a segment file that has no valid header (crash while creating it?)", "file", path, "err", scanErr)
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing bad segment: %w", err)
		}
		return nil, nil
	}
	if scanErr != nil {
		w.logger.Warn("remote write queue: truncating a torn or corrupt segment tail (crash while writing?); the records before it are kept",
			"file", path, "valid_bytes", end, "lost_bytes", int64(len(data))-end, "err", scanErr)
		if err := os.Truncate(path, end); err != nil {
			return nil, fmt.Errorf("truncating torn segment tail: %w", err)
		}
	}
	s.size = end
	if idx == c.Segment {
		w.alignCursor(s, recs, c)
	}
	return s, nil
}

// alignCursor places the cursor on a record boundary of s (its records
// recs) and counts the samples and records before it as done.
func (w *Writer) alignCursor(s *segment, recs []recordInfo, c *cursor) {
	i := 0
	switch {
	case c.Offset >= s.size:
		i = len(recs)
		*c = cursor{Segment: s.index, Offset: s.size}
	case c.Offset < segmentHeaderSize || len(recs) == 0:
		*c = cursor{Segment: s.index, Offset: segmentHeaderSize}
	default:
		i = sort.Search(len(recs), func(j int) bool { return recs[j].off > c.Offset }) - 1
		if recs[i].off != c.Offset {
			w.logger.Warn("remote write queue cursor is not on a record boundary; resuming at the record that holds it", "cursor", c.String(), "record", recs[i].off)
			*c = cursor{Segment: s.index, Offset: recs[i].off}
		}
		if c.Sample >= recs[i].samples {
			i++
			next := s.size
			if i < len(recs) {
				next = recs[i].off
			}
			*c = cursor{Segment: s.index, Offset: next}
		}
	}
	for _, r := range recs[:i] {
		s.doneRecords++
		s.doneSamples += int64(r.samples)
	}
	s.doneSamples += int64(c.Sample)
	if i < len(recs) {
		w.headMinT = recs[i].minT
	}
}

// Name returns the Writer's name as a collector.Collector:
// remote_write_NAME.
func (w *Writer) Name() string { return "remote_write_" + w.cfg.Name }

// RemoteName returns the remote's name as configured (or defaulted).
func (w *Writer) RemoteName() string { return w.cfg.Name }

// Enqueue appends one tick's samples to the queue as one record, adding the
// external labels. It does no network I/O and never blocks on the sender:
// one write(2), plus a file creation every ~8 MiB. batch may be reused by
// the caller once Enqueue returns. Samples that cannot be written (disk
// error) are counted and logged, never returned as an error: the caller is
// the collection loop.
func (w *Writer) Enqueue(batch []store.Appended) {
	if len(batch) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if err := w.ensureSegment(); err != nil {
		w.writeFailed(len(batch), err)
		return
	}
	s := w.segs[len(w.segs)-1]
	frame, mark := w.enc.encode(batch)
	n, err := w.cur.Write(frame)
	if err != nil {
		w.enc.rollback(mark)
		if n > 0 {
			if terr := w.cur.Truncate(s.size); terr != nil {
				w.forceRoll = true // the tail is junk: start a new segment
			}
		}
		w.writeFailed(len(batch), err)
		return
	}
	if w.writeErr {
		w.logger.Info("remote write queue: writing works again")
		w.writeErr = false
	}
	minT := parseFrameHeader(frame).minT
	if s.records == 0 {
		s.firstMinT = minT
	}
	s.size += int64(n)
	s.records++
	s.samples += int64(len(batch))
	w.total += int64(n)
	if w.c.pendingSamples == 0 {
		w.headMinT = minT
	}
	w.c.pendingSamples += int64(len(batch))
	w.c.pendingRecords++
	w.c.enqueued += uint64(len(batch))
	w.curDirty = true
	w.enforceMaxBytes()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// writeFailed counts samples that could not be queued.
func (w *Writer) writeFailed(n int, err error) {
	w.c.droppedDisk += uint64(n)
	if !w.writeErr {
		w.writeErr = true
		w.logger.Error("remote write queue: cannot write to the queue; samples are dropped until it works again (disk full? permissions?)", "dir", w.dir, "err", err)
	}
}

// ensureSegment makes sure there is a write segment with room, rolling
// over to a new one when the current one is full. Called with mu held.
func (w *Writer) ensureSegment() error {
	if w.cur != nil && !w.forceRoll && w.segs[len(w.segs)-1].size < w.segSize {
		return nil
	}
	if w.cur != nil {
		w.toSync = append(w.toSync, w.cur)
		w.cur = nil
		select {
		case w.syncWake <- struct{}{}:
		default:
		}
	}
	idx := w.nextSeg
	path := segmentPath(w.dir, idx)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			w.nextSeg++
		}
		return fmt.Errorf("creating segment: %w", err)
	}
	if _, err := f.Write([]byte(segmentMagic)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("writing segment header: %w", err)
	}
	w.nextSeg++
	w.forceRoll = false
	w.segs = append(w.segs, &segment{index: idx, size: segmentHeaderSize})
	w.total += segmentHeaderSize
	w.cur = f
	w.curDirty, w.dirDirty = true, true
	w.enc.reset()
	return nil
}

// enforceMaxBytes deletes the oldest segments (never the write segment)
// while the queue is larger than max_bytes. Called with mu held.
func (w *Writer) enforceMaxBytes() {
	for w.total > w.maxBytes && len(w.segs) > 1 {
		s := w.segs[0]
		lostSamples, lostRecords := s.samples-s.doneSamples, s.records-s.doneRecords
		if w.inflight.active && w.inflight.seg == s.index {
			// The sender holds these; it accounts for them when done.
			lostSamples -= w.inflight.samples
			lostRecords -= w.inflight.completes
		}
		if err := os.Remove(segmentPath(w.dir, s.index)); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.logger.Error("remote write queue: cannot delete a segment", "err", err)
		}
		w.segs = w.segs[1:]
		w.total -= s.size
		w.c.droppedFull += uint64(lostSamples)
		w.c.pendingSamples -= lostSamples
		w.c.pendingRecords -= lostRecords
		if w.ack.Segment <= s.index {
			w.ack = cursor{Segment: w.segs[0].index, Offset: segmentHeaderSize}
			w.ackDirty = true
			if !w.inflight.active {
				w.headMinT = w.segs[0].firstMinT
			}
		}
		w.logger.Warn("remote write queue is larger than queue.max_bytes: dropped its oldest segment (raise queue.max_bytes to keep more during receiver outages)",
			"dropped_samples", lostSamples, "max_bytes", bytesize.Size(w.maxBytes).String(), "segment", s.index)
	}
}

// syncLoop fsyncs rolled-over segments as soon as they are handed over,
// and the current segment and the cursor every syncInterval.
func (w *Writer) syncLoop() {
	defer close(w.syncDone)
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-w.syncWake:
			w.syncRolled()
		case <-t.C:
			w.syncRolled()
			w.syncCurrent()
			_ = w.persistCursor(true) // logged by persistCursor
		}
	}
}

// syncRolled fsyncs and closes the segments closed by rollover.
func (w *Writer) syncRolled() {
	w.mu.Lock()
	files := w.toSync
	w.toSync = nil
	dirDirty := w.dirDirty
	w.dirDirty = false
	w.mu.Unlock()
	for _, f := range files {
		if err := f.Sync(); err != nil {
			w.logger.Error("remote write queue: fsync of a segment failed", "file", f.Name(), "err", err)
		}
		f.Close()
	}
	if dirDirty {
		if err := syncDir(w.dir); err != nil {
			w.logger.Error("remote write queue: fsync of the queue directory failed", "err", err)
		}
	}
}

// syncCurrent fsyncs the write segment when it changed. Only the sync
// goroutine (or Close, after it stopped) closes segment files, so f stays
// open while it is synced.
func (w *Writer) syncCurrent() {
	w.mu.Lock()
	f, dirty := w.cur, w.curDirty
	w.curDirty = false
	w.mu.Unlock()
	if f != nil && dirty {
		if err := f.Sync(); err != nil {
			w.logger.Error("remote write queue: fsync of the current segment failed", "file", f.Name(), "err", err)
		}
	}
}

// persistCursor writes the acknowledged position to the cursor file when
// it changed; durable also fsyncs it (and does so when it was written
// without).
func (w *Writer) persistCursor(durable bool) error {
	w.cursorMu.Lock()
	defer w.cursorMu.Unlock()
	w.mu.Lock()
	c, dirty, synced := w.ack, w.ackDirty, w.ackSynced
	w.ackDirty = false
	if dirty || durable {
		w.ackSynced = durable
	}
	w.mu.Unlock()
	if !dirty && (!durable || synced) {
		return nil
	}
	err := writeCursor(w.dir, c, durable)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.ackDirty, w.ackSynced = true, false
		if !w.cursorErr {
			w.logger.Error("remote write queue: cannot write the cursor file; after a restart, samples already sent may be sent again", "err", err)
		}
		w.cursorErr = true
		return err
	}
	if w.cursorErr {
		w.logger.Info("remote write queue: writing the cursor file works again")
		w.cursorErr = false
	}
	return nil
}

// Close stops Run (an unacknowledged request is abandoned and sent again
// after the next Open), fsyncs the queue, writes the cursor and releases the
// directory. Enqueue after Close does nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	running := w.runDone
	w.mu.Unlock()
	close(w.stop)
	if running != nil {
		<-running
	}
	<-w.syncDone
	w.syncRolled()
	var errs []error
	w.mu.Lock()
	cur := w.cur
	w.cur = nil
	w.mu.Unlock()
	if cur != nil {
		if err := cur.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("fsync of the current segment: %w", err))
		}
		if err := cur.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := w.persistCursor(true); err != nil {
		errs = append(errs, err)
	}
	if err := w.lock.Close(); err != nil {
		errs = append(errs, err)
	}
	if st := w.Stats(); st.PendingSamples > 0 {
		w.logger.Info("remote write: stopped with samples not yet sent; they are sent after the next start", "pending_samples", st.PendingSamples, "pending_bytes", st.PendingBytes)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remote write %q: closing queue: %w", w.cfg.Name, err)
	}
	return nil
}

// Stats returns the Writer's counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Stats{
		SamplesEnqueued:         w.c.enqueued,
		SamplesSent:             w.c.sent,
		SamplesDropped4xx:       w.c.dropped4xx,
		SamplesDroppedFull:      w.c.droppedFull,
		SamplesDroppedDiskError: w.c.droppedDisk,
		FailedSends:             w.c.failedSends,
		PendingBytes:            w.total,
		PendingRecords:          w.c.pendingRecords,
		PendingSamples:          w.c.pendingSamples,
		LastSend:                w.c.lastSend,
	}
	if w.c.pendingSamples > 0 {
		st.OldestPending = time.UnixMilli(w.headMinT)
	}
	return st
}

// Collect emits the Writer's self-metrics; with Name it makes the Writer a
// collector.Collector that the Runner can call every tick.
func (w *Writer) Collect(_ context.Context, e *collector.Emitter) error {
	w.descs.emit(e, w.cfg.Name, w.Stats(), time.Now())
	return nil
}

// drainBody reads at most n bytes of a response body for an error message
// and discards the rest, so the connection can be reused.
func drainBody(r io.ReadCloser, n int64) string {
	b, _ := io.ReadAll(io.LimitReader(r, n))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	r.Close()
	return string(b)
}
