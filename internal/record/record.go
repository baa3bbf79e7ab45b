// Package record appends host summaries to a JSON-lines file, one record
// per line (the brief's training_metrics.jsonl), with size-based rotation.
//
// Guarantees:
//   - A line once written is never torn or lost: each record is encoded into
//     one buffer ending in '\n', written with a single write(2) on a file
//     opened with O_APPEND, then fsynced before Write returns. A write that
//     fails part-way is truncated away, so the file never holds a partial
//     line that this process left behind.
//   - When the file already ends in a torn line (the machine crashed in the
//     middle of a write), Open truncates the torn tail, which was never a
//     complete record, and logs a warning saying how many bytes it dropped.
//     Readers such as pandas.read_json(lines=True) therefore always see
//     whole JSON lines.
//   - Rotation: when the next line would make the file larger than
//     MaxBytes, the file is renamed to PATH.1 (PATH.1 to PATH.2, and so on,
//     the oldest beyond MaxFiles being replaced) and a new file is started.
//
// One Writer per file: two processes appending to the same file keep whole
// lines but will rotate it independently.
//
// docs/schema/record.schema.json describes a line; docs/summary.md
// documents every field.
package record

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/trainwatch/trainwatch/internal/summary"
)

// SchemaVersion is the value of every record's schema_version field. It is
// incremented when a field is removed or changes meaning; new fields may be
// added without a change (readers should ignore fields they do not know).
const SchemaVersion = 1

// Defaults applied by DefaultConfig (MaxBytes) and Open (MaxFiles).
const (
	DefaultMaxBytes = 100 << 20
	DefaultMaxFiles = 5
)

// ErrClosed is returned by Write and Run after Close.
var ErrClosed = errors.New("record writer is closed")

// Record is one line of the log.
type Record struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// Time is when the summary was sampled (Host.Time), in UTC.
	Time time.Time `json:"time"`
	// Host is the host summary.
	Host *summary.Host `json:"host"`
}

// Config configures a Writer. Start from DefaultConfig to get the default
// rotation size: the zero MaxBytes means "never rotate".
type Config struct {
	// Path is the file to append to. Its directory is created if missing.
	Path string `yaml:"path"`
	// MaxBytes is the size a file may reach before it is rotated; 0 means
	// never rotate. A single line larger than MaxBytes is still written,
	// alone in its file.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxFiles is the number of rotated files kept (PATH.1 to PATH.N);
	// 0 means DefaultMaxFiles.
	MaxFiles int `yaml:"max_files"`
	// Logger receives warnings (a torn tail dropped, a failed sample).
	// Default: discard.
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig returns a Config for path that rotates at DefaultMaxBytes
// and keeps DefaultMaxFiles rotated files.
func DefaultConfig(path string) Config {
	return Config{Path: path, MaxBytes: DefaultMaxBytes, MaxFiles: DefaultMaxFiles}
}

// Writer appends records to a file. Its methods are safe for concurrent
// use.
type Writer struct {
	cfg Config
	// write performs the single write of one line; tests replace it to
	// simulate a short write.
	write func(f *os.File, b []byte) (int, error)

	mu     sync.Mutex
	f      *os.File
	closed bool
}

// Open opens (creating if needed) cfg.Path for appending, dropping a torn
// last line if the file has one.
func Open(cfg Config) (*Writer, error) {
	if cfg.Path == "" {
		return nil, errors.New("record: no path given")
	}
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("record: max_bytes is %d; use a positive size, or 0 to never rotate", cfg.MaxBytes)
	}
	if cfg.MaxFiles < 0 {
		return nil, fmt.Errorf("record: max_files is %d; use a positive count, or 0 for the default of %d", cfg.MaxFiles, DefaultMaxFiles)
	}
	if cfg.MaxFiles == 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("record: create directory for %s: %w", cfg.Path, err)
	}
	w := &Writer{cfg: cfg, write: writeOnce}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// Path returns the path of the file being written.
func (w *Writer) Path() string { return w.cfg.Path }

// open opens the file and repairs a torn tail. w.mu must be held (or w not
// yet shared).
func (w *Writer) open() error {
	f, err := os.OpenFile(w.cfg.Path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("record: open %s: %w", w.cfg.Path, err)
	}
	dropped, err := repairTail(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("record: repair torn last line of %s: %w", w.cfg.Path, err)
	}
	if dropped > 0 {
		w.cfg.Logger.Warn("dropped a torn last line left by an interrupted write",
			"path", w.cfg.Path, "bytes", dropped)
	}
	w.f = f
	return nil
}

// tailChunk is how much repairTail reads at a time, scanning backwards.
const tailChunk = 64 << 10

// repairTail truncates f after its last newline when it does not end in
// one, and returns the number of bytes removed.
func repairTail(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	buf := make([]byte, min(tailChunk, size))
	end := size
	keep := int64(0)
	for end > 0 {
		start := max(0, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if end == size && b[len(b)-1] == '\n' {
			return 0, nil
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			keep = start + int64(i) + 1
			break
		}
		end = start
	}
	if err := f.Truncate(keep); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return size - keep, nil
}

// Write appends one record holding h.
func (w *Writer) Write(h *summary.Host) error {
	if h == nil {
		return errors.New("record: nil host summary")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Encode ends the value with '\n'; JSON never contains a raw newline,
	// so the buffer is exactly one line.
	if err := enc.Encode(Record{SchemaVersion: SchemaVersion, Time: h.Time.UTC(), Host: h}); err != nil {
		return fmt.Errorf("record: encode summary: %w", err)
	}
	return w.writeLine(buf.Bytes())
}

func (w *Writer) writeLine(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("record: write %s: %w", w.cfg.Path, ErrClosed)
	}
	if w.f == nil {
		// A previous rotation could not reopen the file; try again.
		if err := w.open(); err != nil {
			return err
		}
	}
	fi, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("record: stat %s: %w", w.cfg.Path, err)
	}
	size := fi.Size()
	if w.cfg.MaxBytes > 0 && size > 0 && size+int64(len(line)) > w.cfg.MaxBytes {
		if err := w.rotate(); err != nil {
			return err
		}
		size = 0
	}
	n, err := w.write(w.f, line)
	if err == nil && n != len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 {
			// Remove the partial line (disk full, quota) so that the file
			// still ends on a whole line.
			if terr := w.f.Truncate(size); terr != nil {
				err = errors.Join(err, fmt.Errorf("remove partial line: %w", terr))
			}
		}
		return fmt.Errorf("record: append to %s: %w", w.cfg.Path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("record: fsync %s: %w", w.cfg.Path, err)
	}
	return nil
}

// rotate renames PATH.i to PATH.i+1 for i = MaxFiles−1 down to 1 (replacing
// PATH.MaxFiles, the oldest), PATH to PATH.1, and opens a new PATH. w.mu
// must be held.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		w.cfg.Logger.Warn("closing the file before rotation failed", "path", w.cfg.Path, "err", err)
	}
	w.f = nil
	p := w.cfg.Path
	for i := w.cfg.MaxFiles - 1; i >= 1; i-- {
		from, to := fmt.Sprintf("%s.%d", p, i), fmt.Sprintf("%s.%d", p, i+1)
		if err := os.Rename(from, to); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("record: rotate %s to %s: %w", from, to, err)
		}
	}
	if err := os.Rename(p, p+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("record: rotate %s to %s.1: %w", p, p, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		w.cfg.Logger.Warn("fsync of the directory after rotation failed", "dir", filepath.Dir(p), "err", err)
	}
	return w.open()
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Close closes the file. Later writes fail with ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("record: close %s: %w", w.cfg.Path, err)
	}
	return nil
}

// Run samples and appends a record immediately and then every interval
// until ctx is cancelled. A sample that fails is logged and skipped; a
// write that fails is logged (once until the error changes) and the loop
// goes on, so a full disk does not stop monitoring. When ctx is cancelled
// while sample runs and sample still returns a summary, that record is
// written before Run returns: Run never abandons a line half-way. Run
// returns nil when ctx is cancelled, and an error only when interval is
// not positive or the Writer is closed.
func (w *Writer) Run(ctx context.Context, interval time.Duration, sample func(context.Context) (*summary.Host, error)) error {
	if interval <= 0 {
		return fmt.Errorf("record: interval is %s; it must be positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	lastErr := ""
	for {
		if ctx.Err() != nil {
			return nil
		}
		h, err := sample(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			w.cfg.Logger.Warn("sampling the host summary failed; skipping this record", "err", err)
		case h != nil:
			err := w.Write(h)
			switch {
			case errors.Is(err, ErrClosed):
				return err
			case err != nil && err.Error() != lastErr:
				w.cfg.Logger.Error("writing a record failed", "err", err)
				lastErr = err.Error()
			case err == nil && lastErr != "":
				w.cfg.Logger.Info("writing records works again", "path", w.cfg.Path)
				lastErr = ""
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
