package logtail

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// CSVReader reads a PyTorch Lightning CSVLogger metrics.csv incrementally,
// surviving Lightning's whole-file rewrites (see the package doc). It is not
// safe for concurrent use.
type CSVReader struct {
	path string

	// id is the file as seen at the end of the last poll that read it.
	id os.FileInfo
	// pos is how many bytes of the current file are consumed: the header
	// and the data rows through the last complete line.
	pos int64
	// header is the raw header line, terminator included; nil until read.
	// headerOff is its offset (past any blank lines before it).
	header    []byte
	headerOff int64
	// cols are the header's column names.
	cols []string
	// row counts the data rows consumed in the current pass over the file.
	row int
	// known holds the fingerprint of every row emitted so far, by position.
	known []uint64

	buf []byte
}

// maxKeptBuffer is the largest read buffer a reader keeps between polls.
const maxKeptBuffer = 1 << 20

// NewCSVReader returns a reader for the metrics.csv at path. The file need
// not exist yet.
func NewCSVReader(path string) *CSVReader {
	return &CSVReader{path: path}
}

// Path returns the file the reader reads.
func (r *CSVReader) Path() string { return r.path }

// csvRow is one parsed data row, before it is committed.
type csvRow struct {
	fp    uint64
	entry runs.Entry
	// has is false when the row has no metric value (only step or epoch).
	has bool
}

// Poll reads what was written since the last call and returns the rows not
// returned before, in file order. Rows without any metric value (only step
// and epoch) are not returned. Cells that are not numbers are skipped. A
// missing file is not an error.
func (r *CSVReader) Poll() ([]runs.Entry, error) {
	// A rewrite racing with the read is detected after the read; then the
	// file is read again from the top. Lightning rewrites at most once per
	// flush, so a few tries are plenty; past them the next poll tries again.
	for try := 0; try < 3; try++ {
		out, again, err := r.pollOnce()
		if !again {
			return out, err
		}
	}
	return nil, nil
}

// restart forgets the position in the file (not the rows emitted), so the
// next read starts from the top.
func (r *CSVReader) restart() {
	r.pos, r.header, r.headerOff, r.cols, r.row = 0, nil, 0, nil, 0
}

// changed reports whether the file f (with info st) is no longer the file
// read so far: another file, shorter than what was consumed, or with a
// different first line.
func (r *CSVReader) changed(f *os.File, st os.FileInfo) (bool, error) {
	if r.id == nil {
		return false, nil
	}
	if !os.SameFile(r.id, st) || st.Size() < r.pos {
		return true, nil
	}
	if r.header == nil {
		return false, nil
	}
	return r.headerDiffers(f, r.headerOff, r.header)
}

// pollOnce does one read; again is true when the file changed under the
// read and nothing was committed.
func (r *CSVReader) pollOnce() (out []runs.Entry, again bool, err error) {
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("lightning csv: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("lightning csv %s: %w", r.path, err)
	}
	ch, err := r.changed(f, st)
	if err != nil {
		return nil, false, err
	}
	if ch {
		r.restart()
	}
	if st.Size() == r.pos {
		r.id = st
		return nil, false, nil
	}
	n := st.Size() - r.pos
	var buf []byte
	if n <= maxKeptBuffer {
		if int64(cap(r.buf)) < n {
			r.buf = make([]byte, n)
		}
		buf = r.buf[:n]
	} else {
		buf = make([]byte, n) // a first read of a big file: not kept
	}
	got, err := f.ReadAt(buf, r.pos)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("lightning csv %s: reading at offset %d: %w", r.path, r.pos, err)
	}
	buf = buf[:got]

	// Parse without committing: the file may have been rewritten while
	// it was read.
	header, headerOff, cols := r.header, r.headerOff, r.cols
	rows := make([]csvRow, 0, bytes.Count(buf, []byte("\n")))
	consumed := 0
	for {
		i := bytes.IndexByte(buf[consumed:], '\n')
		if i < 0 {
			break // the last line is still being written
		}
		raw := buf[consumed : consumed+i+1]
		consumed += i + 1
		line := bytes.TrimRight(raw, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if header == nil {
			header = append([]byte(nil), raw...)
			headerOff = r.pos + int64(consumed-len(raw))
			cols = splitCSVLine(string(bytes.TrimPrefix(line, []byte("\ufeff"))))
			for j := range cols {
				cols[j] = strings.TrimSpace(cols[j])
			}
			continue
		}
		rows = append(rows, parseCSVRow(cols, string(line)))
	}

	st2, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("lightning csv %s: %w", r.path, err)
	}
	if st2.Size() < r.pos+int64(consumed) {
		r.restart()
		return nil, true, nil
	}
	if header != nil {
		again, err := r.headerDiffers(f, headerOff, header)
		if err != nil {
			return nil, false, err
		}
		if again {
			r.restart()
			return nil, true, nil
		}
	}

	// Commit.
	r.id = st
	r.pos += int64(consumed)
	r.header, r.headerOff, r.cols = header, headerOff, cols
	for _, row := range rows {
		if r.row < len(r.known) {
			if r.known[r.row] == row.fp {
				r.row++
				continue // emitted before the rewrite
			}
			// Not the row emitted at this position: a different file.
			// From here on everything is new.
			r.known = r.known[:r.row]
		}
		r.known = append(r.known, row.fp)
		r.row++
		if row.has {
			out = append(out, row.entry)
		}
	}
	return out, false, nil
}

// headerDiffers reads the header line of f (at off) again and reports
// whether it is no longer header.
func (r *CSVReader) headerDiffers(f *os.File, off int64, header []byte) (bool, error) {
	got := make([]byte, len(header))
	n, err := f.ReadAt(got, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("lightning csv %s: reading the header again: %w", r.path, err)
	}
	return !bytes.Equal(got[:n], header), nil
}

// splitCSVLine splits one CSV line into fields. Lines without quotes (all of
// Lightning's, unless a metric name holds a comma or quote) are split on
// commas; quoted ones go through encoding/csv. Quoted fields that span
// lines are not supported.
func splitCSVLine(line string) []string {
	if !strings.Contains(line, `"`) {
		return strings.Split(line, ",")
	}
	cr := csv.NewReader(strings.NewReader(line))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	rec, err := cr.Read()
	if err != nil {
		return strings.Split(line, ",")
	}
	return rec
}

// parseCSVRow turns a data row into an entry and its fingerprint. Fields
// past the header's columns are ignored; missing ones are empty.
func parseCSVRow(cols []string, line string) csvRow {
	row := csvRow{entry: runs.Entry{Step: -1, Epoch: math.NaN()}}
	if strings.Contains(line, `"`) {
		for i, v := range splitCSVLine(line) {
			if i >= len(cols) {
				break
			}
			row.cell(cols[i], v)
		}
		return row
	}
	// The common case, without quotes: walk the commas, no field slice.
	for i := 0; i < len(cols); i++ {
		v, rest, more := strings.Cut(line, ",")
		row.cell(cols[i], v)
		if !more {
			break
		}
		line = rest
	}
	return row
}

// cell adds the cell v of column col to the row.
func (row *csvRow) cell(col, v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	h := fnvString(fnvString(fnvOffset, col), "\x00")
	row.fp += mix(fnvString(h, v))
	f, ok := parseNumber(v)
	if !ok {
		return
	}
	switch col {
	case "step":
		row.entry.Step = stepNumber(f)
	case "epoch":
		row.entry.Epoch = epochNumber(f)
	default:
		if row.entry.Values == nil {
			row.entry.Values = make(map[string]float64, 4)
		}
		row.entry.Values[col] = f
		row.has = true
	}
}
