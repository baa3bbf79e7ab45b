package remotewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/trainwatch/trainwatch/internal/store"
)

// On-disk format.
//
// A segment file is named by its index, eight or more decimal digits
// (00000001), and starts with the 8-byte segmentMagic. Records follow, each
// framed as
//
//	[0:4]   payload length, uint32 little endian
//	[4:8]   CRC32-C (Castagnoli) of bytes [8:20] and of the payload
//	[8:12]  number of samples in the record, uint32
//	[12:20] smallest sample timestamp (ms), int64
//	[20:]   payload: the snappy-compressed body
//
// A record is one Enqueue call (one collection tick). Its body is
//
//	uvarint  number of new series definitions
//	per definition: uvarint number of labels, then per label
//	                uvarint len, name, uvarint len, value   (sorted by name)
//	per sample:     uvarint series id, uvarint (t - minT), 8-byte float bits
//
// Series ids are numbered 0, 1, 2... in order of definition and are scoped
// to one segment: the first record that uses a series in a segment defines
// it, so a segment is self-contained and can be read, deleted or dropped on
// its own, and every sample costs about 11 bytes before compression instead
// of its full label set.
const (
	segmentMagic      = "TWRWQ\x00\x00\x01"
	segmentHeaderSize = int64(len(segmentMagic))
	frameHeaderSize   = 20
	// maxPayload bounds a record's payload, so that a corrupt length field
	// is recognised instead of allocating gigabytes.
	maxPayload = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a record that fails its checks.
var errCorrupt = errors.New("corrupt record")

// frameHeader is the fixed part of a record.
type frameHeader struct {
	length  uint32
	crc     uint32
	samples uint32
	minT    int64
}

func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length:  binary.LittleEndian.Uint32(b[0:4]),
		crc:     binary.LittleEndian.Uint32(b[4:8]),
		samples: binary.LittleEndian.Uint32(b[8:12]),
		minT:    int64(binary.LittleEndian.Uint64(b[12:20])),
	}
}

// check verifies a frame's CRC given its header bytes and payload.
func checkFrame(hdr []byte, payload []byte) bool {
	crc := crc32.Update(0, castagnoli, hdr[8:frameHeaderSize])
	crc = crc32.Update(crc, castagnoli, payload)
	return crc == binary.LittleEndian.Uint32(hdr[4:8])
}

// encoder turns a tick's samples into a framed record. It holds the
// series-id dictionary of the segment being written; reset starts a new
// segment's dictionary.
type encoder struct {
	ext  []labels.Label // external labels, sorted by name
	ids  map[uint64]uint32
	defs []labels.Labels // by id: the caller's label set (for collisions)
	// hint is the id of the series at each position of the previous
	// batch: the store hands over its series in the same order every tick,
	// with the same label sets, so comparing with the hint (a pointer
	// comparison when the strings are shared) mostly avoids hashing.
	hint   []uint32
	defBuf []byte
	smpBuf []byte
	body   []byte
	frame  []byte
}

func newEncoder(ext map[string]string) *encoder {
	e := &encoder{ids: make(map[uint64]uint32)}
	for _, n := range sortedKeys(ext) {
		e.ext = append(e.ext, labels.Label{Name: n, Value: ext[n]})
	}
	return e
}

// reset forgets the series definitions (a new segment starts).
func (e *encoder) reset() {
	clear(e.ids)
	clear(e.defs)
	e.defs = e.defs[:0]
}

// encode frames batch as one record and returns the frame (valid until the
// next call), the number of samples and their smallest timestamp. The
// dictionary is updated: call rollback with the returned mark when the
// frame could not be written.
func (e *encoder) encode(batch []store.Appended) (frame []byte, mark int) {
	mark = len(e.defs)
	e.defBuf = e.defBuf[:0]
	e.smpBuf = e.smpBuf[:0]
	minT := int64(math.MaxInt64)
	for i := range batch {
		minT = min(minT, batch[i].T)
	}
	if len(batch) == 0 {
		minT = 0
	}
	nDefs := 0
	if len(e.hint) < len(batch) {
		e.hint = append(e.hint, make([]uint32, len(batch)-len(e.hint))...)
	}
	for i := range batch {
		s := &batch[i]
		id, ok := e.hint[i], false
		if int(id) < len(e.defs) && labels.Equal(e.defs[id], s.Labels) {
			ok = true
		} else {
			id, ok = e.lookup(s.Labels)
		}
		if !ok {
			id = uint32(len(e.defs))
			e.defs = append(e.defs, s.Labels)
			h := s.Labels.Hash()
			if _, taken := e.ids[h]; !taken {
				e.ids[h] = id
			}
			e.defBuf = e.appendLabels(e.defBuf, s.Labels)
			nDefs++
		}
		e.hint[i] = id
		e.smpBuf = binary.AppendUvarint(e.smpBuf, uint64(id))
		e.smpBuf = binary.AppendUvarint(e.smpBuf, uint64(s.T-minT))
		e.smpBuf = binary.LittleEndian.AppendUint64(e.smpBuf, math.Float64bits(s.V))
	}
	e.body = binary.AppendUvarint(e.body[:0], uint64(nDefs))
	e.body = append(e.body, e.defBuf...)
	e.body = append(e.body, e.smpBuf...)

	need := frameHeaderSize + snappy.MaxEncodedLen(len(e.body))
	if cap(e.frame) < need {
		e.frame = make([]byte, need)
	}
	e.frame = e.frame[:need]
	payload := snappy.Encode(e.frame[frameHeaderSize:], e.body)
	e.frame = e.frame[:frameHeaderSize+len(payload)]
	binary.LittleEndian.PutUint32(e.frame[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(e.frame[8:12], uint32(len(batch)))
	binary.LittleEndian.PutUint64(e.frame[12:20], uint64(minT))
	crc := crc32.Update(0, castagnoli, e.frame[8:frameHeaderSize])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(e.frame[4:8], crc)
	return e.frame, mark
}

// rollback forgets the definitions made since mark (their record was not
// written).
func (e *encoder) rollback(mark int) {
	for id := mark; id < len(e.defs); id++ {
		h := e.defs[id].Hash()
		if got, ok := e.ids[h]; ok && int(got) == id {
			delete(e.ids, h)
		}
	}
	clear(e.defs[mark:])
	e.defs = e.defs[:mark]
}

// lookup finds the id of a series defined in the current segment. A hash
// collision with another series counts as not found: the series is then
// defined again, which is correct, only larger.
func (e *encoder) lookup(ls labels.Labels) (uint32, bool) {
	id, ok := e.ids[ls.Hash()]
	if !ok || !labels.Equal(e.defs[id], ls) {
		return 0, false
	}
	return id, true
}

// appendLabels appends the definition of a series: its labels merged with
// the external labels it does not have, sorted by name.
func (e *encoder) appendLabels(b []byte, ls labels.Labels) []byte {
	n := ls.Len()
	for _, l := range e.ext {
		if !ls.Has(l.Name) {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	x := 0
	appendLabel := func(name, value string) {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(len(value)))
		b = append(b, value...)
	}
	ls.Range(func(l labels.Label) {
		for x < len(e.ext) && e.ext[x].Name < l.Name {
			appendLabel(e.ext[x].Name, e.ext[x].Value)
			x++
		}
		if x < len(e.ext) && e.ext[x].Name == l.Name {
			x++ // the series has it: its own value wins
		}
		appendLabel(l.Name, l.Value)
	})
	for ; x < len(e.ext); x++ {
		appendLabel(e.ext[x].Name, e.ext[x].Value)
	}
	return b
}

// decodedSample is one sample of a decoded record.
type decodedSample struct {
	id uint32
	t  int64
	v  float64
}

// decoder reads records of one segment, keeping its series dictionary.
type decoder struct {
	dict    [][]prompb.Label
	body    []byte
	samples []decodedSample
}

func (d *decoder) reset() {
	clear(d.dict)
	d.dict = d.dict[:0]
}

// decode parses a record's payload: it adds the record's series
// definitions to the dictionary and, when wantSamples, returns its samples
// (valid until the next call).
func (d *decoder) decode(h frameHeader, payload []byte, wantSamples bool) ([]decodedSample, error) {
	n, err := snappy.DecodedLen(payload)
	if err != nil || n > maxPayload*8 {
		return nil, fmt.Errorf("%w: bad compressed length", errCorrupt)
	}
	if cap(d.body) < n {
		d.body = make([]byte, n)
	}
	body, err := snappy.Decode(d.body[:n], payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	r := byteReader{b: body}
	nDefs := r.uvarint()
	for i := uint64(0); i < nDefs && r.err == nil; i++ {
		nl := r.uvarint()
		if nl > uint64(len(r.b)) {
			r.err = io.ErrUnexpectedEOF
			break
		}
		ls := make([]prompb.Label, 0, nl)
		for j := uint64(0); j < nl && r.err == nil; j++ {
			name := r.str()
			value := r.str()
			ls = append(ls, prompb.Label{Name: name, Value: value})
		}
		d.dict = append(d.dict, ls)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: series definitions: %w", errCorrupt, r.err)
	}
	if !wantSamples {
		return nil, nil
	}
	d.samples = d.samples[:0]
	for i := uint32(0); i < h.samples; i++ {
		id := r.uvarint()
		dt := r.uvarint()
		v := r.float()
		if r.err != nil {
			return nil, fmt.Errorf("%w: sample %d: %w", errCorrupt, i, r.err)
		}
		if id >= uint64(len(d.dict)) {
			return nil, fmt.Errorf("%w: sample %d refers to undefined series %d", errCorrupt, i, id)
		}
		d.samples = append(d.samples, decodedSample{id: uint32(id), t: h.minT + int64(dt), v: v})
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last sample", errCorrupt, len(r.b))
	}
	return d.samples, nil
}

// byteReader reads varints and strings, remembering the first error.
type byteReader struct {
	b   []byte
	err error
}

func (r *byteReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *byteReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = io.ErrUnexpectedEOF
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *byteReader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// recordInfo describes one valid record found by scanSegment.
type recordInfo struct {
	off     int64
	samples uint32
	minT    int64
}

// scanSegment checks a whole segment held in data: the magic and every
// record's framing and CRC. It calls fn for each valid record and returns
// the end of the last valid record, with an error describing the first
// problem when that end is not the end of data.
func scanSegment(data []byte, fn func(recordInfo)) (int64, error) {
	if int64(len(data)) < segmentHeaderSize {
		return 0, fmt.Errorf("file is %d bytes, shorter than the segment header", len(data))
	}
	if string(data[:segmentHeaderSize]) != segmentMagic {
		return 0, errors.New("not a remote write queue segment (bad magic)")
	}
	off := segmentHeaderSize
	for off < int64(len(data)) {
		rest := data[off:]
		if len(rest) < frameHeaderSize {
			return off, fmt.Errorf("torn record header at offset %d (%d bytes)", off, len(rest))
		}
		h := parseFrameHeader(rest)
		if h.length > maxPayload || int64(h.length) > int64(len(rest)-frameHeaderSize) {
			return off, fmt.Errorf("torn or corrupt record at offset %d (length %d, %d bytes left)", off, h.length, len(rest)-frameHeaderSize)
		}
		end := frameHeaderSize + int64(h.length)
		if !checkFrame(rest, rest[frameHeaderSize:end]) {
			return off, fmt.Errorf("record at offset %d fails its checksum", off)
		}
		if fn != nil {
			fn(recordInfo{off: off, samples: h.samples, minT: h.minT})
		}
		off += end
	}
	return off, nil
}

// readFileLimited reads a small file, refusing one larger than limit.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
