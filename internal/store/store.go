// Package store is trainwatch's embedded time-series database. It writes
// every snapshot of the collection loop into a Prometheus TSDB (with a
// write-ahead log) labelled the way a Prometheus server would label a scrape
// of this agent, and exposes the data as a storage.Queryable for the PromQL
// engine. It is the only package that imports prometheus/tsdb.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/prometheus/prometheus/util/compression"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// DefaultRetentionTime is how long samples are kept when Options does not say.
const DefaultRetentionTime = 15 * 24 * time.Hour

// DefaultJob is the job label of stored series when Options does not say.
const DefaultJob = "trainwatch"

// Options configures a Store.
type Options struct {
	// Dir is the data directory. It is created (0750) when missing.
	Dir string
	// RetentionTime is how long samples are kept. Default 15 days.
	RetentionTime time.Duration
	// RetentionSize is the most bytes the blocks may take; 0 means no limit.
	RetentionSize int64
	// Job and Instance are the job and instance labels a Prometheus server
	// would add when scraping this agent. Job defaults to "trainwatch";
	// Instance should be the host:port the agent listens on.
	Job, Instance string
	// BlockDuration is the time range of the blocks the in-memory head is
	// compacted into (the head is compacted once it spans 1.5 of it); 0:
	// Prometheus' 2 h. A test knob, like Prometheus' hidden
	// --storage.tsdb.min-block-duration: a soak shorter than 3 h sees no
	// compaction at 2 h blocks.
	BlockDuration time.Duration
	// Logger receives the store's and the TSDB's logs. Default: discard.
	Logger *slog.Logger
	// OnCommit, when set, is called after each successful commit with every
	// sample the commit appended (staleness markers included), in append
	// order. The slice is reused by the next Consume: copy what you keep.
	// It runs on the collection loop, so it must be quick.
	OnCommit func(batch []Appended)
}

// Appended is one sample that a commit wrote: the full label set of its
// series (job and instance included), its timestamp in milliseconds and its
// value. Labels are shared with the store's cache and must not be modified.
type Appended struct {
	Labels labels.Labels
	T      int64
	V      float64
}

// Stats counts what happened to appended samples since Open. Its fields
// back the trainwatch_tsdb_* self-metrics.
type Stats struct {
	// SamplesAppended counts samples (stale markers included) appended.
	SamplesAppended uint64
	// StaleMarkers counts staleness markers written for vanished series.
	StaleMarkers uint64
	// Series is the number of series seen in the last snapshot.
	Series int
	// Commits and CommitErrors count appender commits and their failures.
	Commits, CommitErrors uint64
	// Append errors by kind (trainwatch_tsdb_append_errors_total{reason}).
	OutOfOrder, OutOfBounds, TooOld, Duplicate, OtherAppendErrors uint64
}

// AppendErrors is the sum of all append errors.
func (st Stats) AppendErrors() uint64 {
	return st.OutOfOrder + st.OutOfBounds + st.TooOld + st.Duplicate + st.OtherAppendErrors
}

// entry is one cached series: its labels, its TSDB reference, the tick it
// was last seen in, and whether its samples carry explicit timestamps (such
// series get no staleness markers, as in Prometheus).
type entry struct {
	key      string // the cache's key of this entry
	lset     labels.Labels
	ref      storage.SeriesRef
	lastTick uint64
	explicit bool
}

// Store writes snapshots into a TSDB. It implements agent.Sink.
type Store struct {
	db       *tsdb.DB
	dbStats  *tsdb.DBStats
	opts     *tsdb.Options
	logger   *slog.Logger
	job      string
	instance string

	mu    sync.Mutex
	tick  uint64
	cache map[string]*entry // raw series key -> entry
	// refs counts the cache entries holding each TSDB reference: two
	// collector samples can name one series (an empty label value is
	// dropped), and a series gets its staleness marker only when the last
	// of them is gone.
	refs map[storage.SeriesRef]int
	// pos holds the entry of each append of the last tick, in order: the
	// collectors emit their samples in the same order tick after tick, so
	// the entry at the same position, whose key is compared, saves the
	// map lookup (a hash and a cache miss on the map's control words)
	// for nearly every sample. It holds entries appended in the last tick
	// only, which are all in cache.
	pos  []*entry
	npos int // appends so far in this tick
	// fresh counts the entries appended in this tick (each once): when it
	// equals len(cache), no series vanished and the staleness pass is
	// skipped.
	fresh  int
	key    []byte
	lb     *labels.Builder
	stats  Stats
	logged map[string]bool // append error kinds already logged

	onCommit func([]Appended)
	batch    []Appended
}

// The head's sizes, smaller than Prometheus' defaults, which are made for
// millions of series: an agent holds thousands.
const (
	// stripeSize is the head's number of series-map shards (Prometheus:
	// 16,384, 3.4 MB allocated at start whatever the series count; 1,024
	// take 0.2 MB and, at 50,000 series, still under 50 series a shard).
	stripeSize = 1 << 10
	// chunkWriteBufferSize is the buffer of the head chunks written to
	// chunks_head/ (Prometheus: 4 MiB, resident once filled). At one
	// 120-sample chunk per series every two minutes, a few thousand
	// series fill 256 KiB in about a minute.
	chunkWriteBufferSize = 256 << 10
)

// TSDBOptions maps Options onto the TSDB's options: those Open uses (and
// the overhead harness's history floor, bench/overhead/histfloor).
func TSDBOptions(o Options) *tsdb.Options {
	t := tsdb.DefaultOptions()
	t.StripeSize = stripeSize
	t.HeadChunksWriteBufferSize = chunkWriteBufferSize
	// Prometheus' own default: snappy-compressed WAL records (about a third
	// of the size for a host's series).
	t.WALCompression = compression.Snappy
	if o.RetentionTime > 0 {
		t.RetentionDuration = o.RetentionTime.Milliseconds()
	} else {
		t.RetentionDuration = DefaultRetentionTime.Milliseconds()
	}
	if o.RetentionSize > 0 {
		t.MaxBytes = o.RetentionSize
	}
	if o.BlockDuration > 0 {
		t.MinBlockDuration = o.BlockDuration.Milliseconds()
		t.MaxBlockDuration = max(t.MaxBlockDuration, t.MinBlockDuration)
	}
	return t
}

// Open creates the data directory if needed and opens the TSDB in it,
// replaying its write-ahead log.
func Open(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, errors.New("store: no data directory given (use --data-dir)")
	}
	if o.Job == "" {
		o.Job = DefaultJob
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := checkWritable(o.Dir); err != nil {
		return nil, err
	}
	if err := setAsideUnreplayableWAL(o.Dir, logger); err != nil {
		return nil, err
	}
	topts := TSDBOptions(o)
	dbStats := tsdb.NewDBStats()
	db, err := tsdb.Open(o.Dir, logger.With("component", "tsdb"), nil, topts, dbStats)
	if err != nil {
		return nil, fmt.Errorf("opening TSDB in data directory %s: %w", o.Dir, err)
	}
	return &Store{
		db:       db,
		dbStats:  dbStats,
		opts:     topts,
		logger:   logger,
		job:      o.Job,
		instance: o.Instance,
		cache:    make(map[string]*entry),
		refs:     make(map[storage.SeriesRef]int),
		lb:       labels.NewBuilder(labels.EmptyLabels()),
		logged:   make(map[string]bool),
		onCommit: o.OnCommit,
	}, nil
}

// NotWritableError says the data directory cannot be created or written:
// a configuration problem (--data-dir), not a damaged database.
type NotWritableError struct {
	Dir string
	Err error
}

func (e *NotWritableError) Error() string {
	return fmt.Sprintf("data directory %s is not writable: %v (use --data-dir)", e.Dir, e.Err)
}

func (e *NotWritableError) Unwrap() error { return e.Err }

// checkWritable creates dir and proves a file can be written in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return &NotWritableError{dir, err}
	}
	f, err := os.CreateTemp(dir, ".trainwatch-write-test-*")
	if err != nil {
		return &NotWritableError{dir, err}
	}
	name := f.Name()
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(cerr, rerr); err != nil {
		return &NotWritableError{dir, err}
	}
	return nil
}

// setAsideUnreplayableWAL moves DIR/wal and DIR/chunks_head into a new
// DIR/wal-damaged-* directory, with a warning, when the TSDB could not
// replay the WAL: segment files missing at its start or in its middle, or a
// corrupt checkpoint. The TSDB repairs torn and corrupt records in segments
// itself, but on these it fails to open at every start (a crash loop) or,
// for a corrupt checkpoint, deletes the segments and keeps losing new ones
// at each restart. Moving both aside starts an empty head over the intact
// blocks; the moved files are kept for inspection. It does nothing while
// another process holds the directory's lock (tsdb.Open then reports that).
func setAsideUnreplayableWAL(dir string, logger *slog.Logger) error {
	walDir := filepath.Join(dir, "wal")
	if _, err := os.Stat(walDir); err != nil {
		return nil // no WAL yet, or tsdb.Open reports why it cannot be read
	}
	lock, err := tsdbutil.NewDirLocker(dir, "trainwatch", slog.New(slog.DiscardHandler), nil)
	if err != nil || lock.Lock() != nil {
		return nil
	}
	defer lock.Release()
	damage := walDamage(walDir)
	if damage == nil {
		return nil
	}
	aside, err := os.MkdirTemp(dir, "wal-damaged-"+time.Now().UTC().Format("20060102T150405Z")+"-")
	if err != nil {
		return fmt.Errorf("data directory %s: moving the damaged write-ahead log aside: %w", dir, err)
	}
	for _, name := range []string{"wal", "chunks_head"} {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(aside, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("data directory %s: moving the damaged write-ahead log aside: %w", dir, err)
		}
	}
	logger.Warn("the write-ahead log cannot be replayed: moved it aside and starting with an empty one; samples not yet compacted into blocks are not loaded",
		"err", damage, "moved_to", aside)
	return nil
}

// walDamage says why the WAL in walDir cannot be replayed, or nil.
func walDamage(walDir string) error {
	first, last, err := wlog.Segments(walDir)
	if err != nil {
		return fmt.Errorf("WAL segments in %s: %w", walDir, err)
	}
	cpDir, cp, err := wlog.LastCheckpoint(walDir)
	if errors.Is(err, record.ErrNotFound) {
		cp = -1
	} else if err != nil {
		return fmt.Errorf("WAL checkpoint in %s: %w", walDir, err)
	}
	if last >= 0 && first > cp+1 {
		return fmt.Errorf("WAL segments %d to %d are missing from %s", cp+1, first-1, walDir)
	}
	if cp < 0 {
		return nil
	}
	sr, err := wlog.NewSegmentsReader(cpDir)
	if err != nil {
		return fmt.Errorf("WAL checkpoint %s: %w", cpDir, err)
	}
	defer sr.Close()
	r := wlog.NewReader(sr)
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("WAL checkpoint %s: %w", cpDir, err)
	}
	return nil
}

// Queryable returns the store as a storage.Queryable for the PromQL engine
// and the HTTP API.
func (s *Store) Queryable() storage.Queryable { return s.db }

// DB returns the TSDB itself, for the query API (which needs chunk queries,
// exemplars and head statistics). Appends must go through Consume.
func (s *Store) DB() *tsdb.DB { return s.db }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.db.Dir() }

// RetentionTime returns how long samples are kept.
func (s *Store) RetentionTime() time.Duration {
	return time.Duration(s.opts.RetentionDuration) * time.Millisecond
}

// RetentionSize returns the most bytes the blocks may take (0: no limit).
func (s *Store) RetentionSize() int64 { return s.opts.MaxBytes }

// Admin returns the TSDB's statistics and administration calls in the shape
// the Prometheus HTTP API wants (its TSDBAdminStats interface).
func (s *Store) Admin() *Admin { return &Admin{db: s.db, stats: s.dbStats} }

// Admin adapts the TSDB to the Prometheus HTTP API's TSDBAdminStats.
type Admin struct {
	db    *tsdb.DB
	stats *tsdb.DBStats
}

// CleanTombstones removes deleted data from disk.
func (a *Admin) CleanTombstones() error { return a.db.CleanTombstones() }

// Delete marks the matching series' samples between mint and maxt deleted.
func (a *Admin) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	return a.db.Delete(ctx, mint, maxt, ms...)
}

// Snapshot writes a consistent copy of the data into dir.
func (a *Admin) Snapshot(dir string, withHead bool) error { return a.db.Snapshot(dir, withHead) }

// Stats returns the head block's cardinality statistics.
func (a *Admin) Stats(statsByLabelName string, limit int) (*tsdb.Stats, error) {
	return a.db.Head().Stats(statsByLabelName, limit), nil
}

// WALReplayStatus reports the progress of the start-up WAL replay.
func (a *Admin) WALReplayStatus() (tsdb.WALReplayStatus, error) {
	return a.stats.Head.WALReplayStatus.GetWALReplayStatus(), nil
}

// BlockMetas lists the persisted blocks.
func (a *Admin) BlockMetas() ([]tsdb.BlockMeta, error) { return a.db.BlockMetas(), nil }

// Stats returns the append counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close closes the TSDB. The head's samples stay in the write-ahead log and
// are replayed by the next Open.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing TSDB in %s: %w", s.db.Dir(), err)
	}
	return nil
}

// Consume appends one snapshot with one appender and one commit. Series that
// were in the previous snapshot but are missing from this one get a
// staleness marker at the snapshot's time. Append errors are counted and
// logged once per kind; Consume never fails the caller.
func (s *Store) Consume(ctx context.Context, snap *collector.Snapshot) {
	if snap == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick++
	s.batch = s.batch[:0]
	s.npos, s.fresh = 0, 0
	ts := snap.Time.UnixMilli()
	app := s.db.Appender(ctx)
	for _, f := range snap.Families {
		if f == nil || f.Desc == nil {
			continue
		}
		for i := range f.Samples {
			s.appendSample(app, f, &f.Samples[i], ts)
		}
	}
	s.appendScrapeSeries(app, snap, ts)
	clear(s.pos[s.npos:])
	s.pos = s.pos[:s.npos]
	// Staleness markers for the series that vanished.
	for k, e := range s.cache {
		if s.fresh == len(s.cache) {
			break // every entry left was appended in this tick
		}
		if e.lastTick == s.tick {
			continue
		}
		delete(s.cache, k)
		if e.ref != 0 {
			n := s.refs[e.ref] - 1
			if n > 0 {
				// Another entry holds the series: still collected, or
				// gone too and marked when the loop reaches it.
				s.refs[e.ref] = n
				continue
			}
			delete(s.refs, e.ref)
		}
		if e.explicit {
			continue
		}
		if _, err := app.Append(e.ref, e.lset, ts, math.Float64frombits(value.StaleNaN)); err != nil {
			s.appendError(err, e.lset)
			continue
		}
		s.stats.StaleMarkers++
		s.stats.SamplesAppended++
		s.record(e.lset, ts, math.Float64frombits(value.StaleNaN))
	}
	s.stats.Series = len(s.cache)
	s.stats.Commits++
	if err := app.Commit(); err != nil {
		s.stats.CommitErrors++
		s.logger.Error("committing snapshot to TSDB failed", "err", err)
		return
	}
	if s.onCommit != nil && len(s.batch) > 0 {
		s.onCommit(s.batch)
	}
}

// AppendError reports samples a batch Append could not store.
type AppendError struct {
	// Rejected counts the samples the TSDB refused; First is the first
	// refusal, with its series.
	Rejected int
	First    error
}

func (e *AppendError) Error() string {
	return fmt.Sprintf("%d sample(s) not stored; first: %v", e.Rejected, e.First)
}

func (e *AppendError) Unwrap() error { return e.First }

// Append writes samples that arrive from outside the collection loop
// (pushed training metrics), each at its own timestamp, with one appender
// and one commit, and hands them to OnCommit like a tick's. Labels must be
// complete (job and instance included) and sorted. Samples the TSDB refuses
// (out of order, too old) are counted as Consume counts them and reported
// in an *AppendError; the others are stored. A writer that acknowledges a
// request as a whole should use AppendAll instead.
func (s *Store) Append(ctx context.Context, batch []Appended) error {
	return s.appendBatch(ctx, batch, false)
}

// AppendAll is Append, all or nothing: when the TSDB refuses any sample of
// the batch, nothing of it is stored (the appender is rolled back) and the
// *AppendError says how many were refused and why the first was. It suits
// writers that answer a request as a whole (a push, a run's log request):
// an acknowledged request is then entirely in the write-ahead log, and a
// refused one stores nothing.
func (s *Store) AppendAll(ctx context.Context, batch []Appended) error {
	return s.appendBatch(ctx, batch, true)
}

// appendBatch is Append (all false) and AppendAll (all true).
func (s *Store) appendBatch(ctx context.Context, batch []Appended, all bool) error {
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch = s.batch[:0]
	app := s.db.Appender(ctx)
	var ae *AppendError
	appended := uint64(0)
	for _, a := range batch {
		if _, err := app.Append(0, a.Labels, a.T, a.V); err != nil {
			s.appendError(err, a.Labels)
			if ae == nil {
				ae = &AppendError{First: fmt.Errorf("series %s at %d: %w", a.Labels, a.T, err)}
			}
			ae.Rejected++
			continue
		}
		appended++
		s.record(a.Labels, a.T, a.V)
	}
	if all && ae != nil {
		if err := app.Rollback(); err != nil {
			return fmt.Errorf("rolling back %d samples after a refusal (%w): %w", len(batch), ae, err)
		}
		return ae
	}
	s.stats.Commits++
	if err := app.Commit(); err != nil {
		s.stats.CommitErrors++
		return fmt.Errorf("committing %d pushed samples: %w", len(batch), err)
	}
	s.stats.SamplesAppended += appended
	if s.onCommit != nil && len(s.batch) > 0 {
		s.onCommit(s.batch)
	}
	if ae != nil {
		return ae
	}
	return nil
}

// MaxTime returns the timestamp (ms) of the newest sample in the history,
// the write-ahead log replayed at Open included, or math.MinInt64 when the
// history is empty. Writers that stamp samples themselves (pushes, run
// logs) start after it, so that their first samples after a restart are
// never older than what an earlier run of the agent stored: the TSDB
// refuses such samples as out of order.
func (s *Store) MaxTime() int64 {
	t := s.db.Head().MaxTime()
	for _, b := range s.db.Blocks() {
		t = max(t, b.Meta().MaxTime-1) // a block's MaxT is exclusive
	}
	return t
}

// record remembers an appended sample for OnCommit.
func (s *Store) record(lset labels.Labels, t int64, v float64) {
	if s.onCommit != nil {
		s.batch = append(s.batch, Appended{Labels: lset, T: t, V: v})
	}
}

// Scrape series a Prometheus server adds to every scrape, so that queries
// and dashboards written for a scraped agent (up{job=...}) work here too.
var (
	upDesc            = collector.NewDesc("up", "1 if the target was scraped; here: 1 for every tick the agent stored.", collector.Gauge)
	scrapeDurDesc     = collector.NewDesc("scrape_duration_seconds", "Duration of the collection tick.", collector.Gauge)
	scrapeSamplesDesc = collector.NewDesc("scrape_samples_scraped", "Samples the tick collected.", collector.Gauge)
)

// appendScrapeSeries appends up, scrape_duration_seconds and
// scrape_samples_scraped for the tick, as a scraping Prometheus would.
func (s *Store) appendScrapeSeries(app storage.Appender, snap *collector.Snapshot, ts int64) {
	n := 0
	dur := math.NaN()
	for _, f := range snap.Families {
		if f == nil || f.Desc == nil {
			continue
		}
		n += len(f.Samples)
		if f.Desc.Name == "trainwatch_tick_duration_seconds" && len(f.Samples) == 1 {
			dur = f.Samples[0].Value
		}
	}
	one := collector.Sample{Value: 1}
	s.append(app, &collector.Family{Desc: upDesc}, &one, upDesc.Name, "", "", "", ts, 1, false)
	if !math.IsNaN(dur) {
		s.append(app, &collector.Family{Desc: scrapeDurDesc}, &one, scrapeDurDesc.Name, "", "", "", ts, dur, false)
	}
	s.append(app, &collector.Family{Desc: scrapeSamplesDesc}, &one, scrapeSamplesDesc.Name, "", "", "", ts, float64(n), false)
}

// appendSample appends one collector sample, flattened into the series a
// Prometheus scrape of the classic types would produce.
func (s *Store) appendSample(app storage.Appender, f *collector.Family, smp *collector.Sample, snapTs int64) {
	ts := snapTs
	if smp.TimestampMs != 0 {
		ts = smp.TimestampMs
	}
	explicit := smp.TimestampMs != 0
	name := f.Desc.Name
	d := smp.Dist
	switch {
	case f.Desc.Type == collector.Summary && d != nil:
		for _, q := range d.Quantiles {
			s.append(app, f, smp, name, "", "quantile", labels.FormatOpenMetricsFloat(q.Quantile), ts, q.Value, explicit)
		}
		s.append(app, f, smp, name, "_sum", "", "", ts, d.Sum, explicit)
		s.append(app, f, smp, name, "_count", "", "", ts, float64(d.Count), explicit)
	case f.Desc.Type == collector.Histogram && d != nil:
		hasInf := false
		for _, b := range d.Buckets {
			if math.IsInf(b.UpperBound, 1) {
				hasInf = true
			}
			s.append(app, f, smp, name, "_bucket", "le", labels.FormatOpenMetricsFloat(b.UpperBound), ts, float64(b.Count), explicit)
		}
		if !hasInf {
			s.append(app, f, smp, name, "_bucket", "le", "+Inf", ts, float64(d.Count), explicit)
		}
		s.append(app, f, smp, name, "_sum", "", "", ts, d.Sum, explicit)
		s.append(app, f, smp, name, "_count", "", "", ts, float64(d.Count), explicit)
	default:
		s.append(app, f, smp, name, "", "", "", ts, smp.Value, explicit)
	}
}

// append appends one value to the series name+suffix{family labels,
// extraName=extraValue}, reusing the cached reference when the series was
// seen before.
func (s *Store) append(app storage.Appender, f *collector.Family, smp *collector.Sample, name, suffix, extraName, extraValue string, ts int64, v float64, explicit bool) {
	k := s.key[:0]
	k = append(k, name...)
	k = append(k, suffix...)
	k = append(k, 0xff)
	for j, ln := range f.Desc.LabelNames {
		k = append(k, ln...)
		k = append(k, 0xfe)
		if j < len(smp.LabelValues) {
			k = append(k, smp.LabelValues[j]...)
		}
		k = append(k, 0xff)
	}
	if extraName != "" {
		k = append(k, extraName...)
		k = append(k, 0xfe)
		k = append(k, extraValue...)
	}
	s.key = k

	var e *entry
	if s.npos < len(s.pos) && s.pos[s.npos].key == string(k) {
		e = s.pos[s.npos]
	} else {
		var ok bool
		e, ok = s.cache[string(k)] // no allocation for the lookup
		if !ok {
			key := string(k)
			e = &entry{key: key, lset: s.buildLabels(f, smp, name+suffix, extraName, extraValue)}
			s.cache[key] = e
		}
		if s.npos < len(s.pos) {
			s.pos[s.npos] = e
		} else {
			s.pos = append(s.pos, e)
		}
	}
	s.npos++
	if e.lastTick != s.tick {
		s.fresh++
	}
	e.lastTick = s.tick
	e.explicit = explicit
	ref, err := app.Append(e.ref, e.lset, ts, v)
	if err != nil {
		s.appendError(err, e.lset)
		return
	}
	if ref != e.ref {
		if e.ref != 0 {
			if s.refs[e.ref]--; s.refs[e.ref] <= 0 {
				delete(s.refs, e.ref)
			}
		}
		s.refs[ref]++
		e.ref = ref
	}
	s.stats.SamplesAppended++
	s.record(e.lset, ts, v)
}

// buildLabels returns the sorted label set of a series. Labels named job or
// instance become exported_job and exported_instance, and empty values are
// dropped, as a Prometheus scrape without honor_labels does.
func (s *Store) buildLabels(f *collector.Family, smp *collector.Sample, name, extraName, extraValue string) labels.Labels {
	lb := s.lb
	lb.Reset(labels.EmptyLabels())
	for j, ln := range f.Desc.LabelNames {
		if j >= len(smp.LabelValues) {
			break
		}
		switch ln {
		case model.MetricNameLabel:
			continue
		case "job", "instance":
			ln = "exported_" + ln
		}
		lb.Set(ln, smp.LabelValues[j])
	}
	if extraName != "" {
		lb.Set(extraName, extraValue)
	}
	lb.Set(model.MetricNameLabel, name)
	lb.Set("job", s.job)
	lb.Set("instance", s.instance)
	return lb.Labels()
}

// appendError counts an append error by kind and logs the first of each kind.
func (s *Store) appendError(err error, lset labels.Labels) {
	var kind string
	switch {
	case errors.Is(err, storage.ErrOutOfOrderSample):
		s.stats.OutOfOrder++
		kind = "out_of_order"
	case errors.Is(err, storage.ErrOutOfBounds):
		s.stats.OutOfBounds++
		kind = "out_of_bounds"
	case errors.Is(err, storage.ErrTooOldSample):
		s.stats.TooOld++
		kind = "too_old"
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		s.stats.Duplicate++
		kind = "duplicate"
	default:
		s.stats.OtherAppendErrors++
		kind = "other"
	}
	if !s.logged[kind] {
		s.logged[kind] = true
		s.logger.Warn("TSDB rejected a sample; further errors of this kind are only counted",
			"reason", kind, "series", lset.String(), "err", err)
	}
}
