package logtail

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// EventFileMarker is the part of a file name that TensorBoard itself looks
// for to tell event files (events.out.tfevents.<time>.<host>...).
const EventFileMarker = "tfevents"

// scalarsPlugin is the plugin name of TensorBoard's scalar dashboard
// (tensorboard/plugins/scalar/metadata.py).
const scalarsPlugin = "scalars"

// maxErrorsPerPoll bounds the per-record errors one poll returns.
const maxErrorsPerPoll = 3

// TFRecord framing sizes: the length and its CRC, and the data's CRC.
const (
	recordHeaderLen = 8 + 4
	recordFooterLen = 4
	// maxRecordLen bounds the length a record may claim. Real records are
	// far smaller (TensorBoard itself caps protos at 2 GiB); a bigger
	// length with a valid CRC is corruption, not a record to wait for.
	maxRecordLen = 1 << 30
)

// TensorFlow DataType values (tensorflow/core/framework/types.proto).
const (
	dtFloat    = 1
	dtDouble   = 2
	dtInt32    = 3
	dtInt64    = 9
	dtBfloat16 = 14
	dtHalf     = 19
)

// EventsReader reads one TensorBoard event file incrementally. It is not
// safe for concurrent use.
type EventsReader struct {
	path string
	// id is the file as seen at the last poll.
	id os.FileInfo
	// pos is the offset of the first record not read yet.
	pos int64
	// suspect is the offset of a record whose CRC did not match at the
	// last poll (-1 when none): it is reported if it still does not.
	suspect int64
	// dead is set after a corrupt record: the rest of the file is skipped.
	dead bool
	// plugins remembers each tag's plugin name from its metadata, which
	// writers may put in the tag's first event only.
	plugins map[string]string
	buf     []byte
}

// NewEventsReader returns a reader for the event file at path. The file need
// not exist yet.
func NewEventsReader(path string) *EventsReader {
	return &EventsReader{path: path, suspect: -1, plugins: map[string]string{}}
}

// Path returns the file the reader reads.
func (r *EventsReader) Path() string { return r.path }

// Offset returns how many bytes of the file have been read: the offset of
// the next record.
func (r *EventsReader) Offset() int64 { return r.pos }

// Poll reads the records written since the last call and returns one entry
// per event that holds at least one scalar: TimeMs from wall_time, Step
// from step, the values keyed by tag. A record not fully written yet is
// left for the next call. A CRC mismatch that is still there at the next
// call, or a record that is not an Event, stops the reading of this file
// with an error that names the file and offset; later calls return nothing
// unless the file is replaced. A missing file is not an error.
func (r *EventsReader) Poll() ([]runs.Entry, error) {
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tensorboard %s: %w", r.path, err)
	}
	if r.id != nil && (!os.SameFile(r.id, st) || st.Size() < r.pos) {
		// Another file at the path, or one cut short: start over.
		r.pos, r.suspect, r.dead = 0, -1, false
		clear(r.plugins)
	}
	r.id = st
	if r.dead || st.Size() <= r.pos {
		return nil, nil
	}
	return r.read(f, st.Size())
}

// read decodes the complete records between r.pos and size.
func (r *EventsReader) read(f io.ReaderAt, size int64) ([]runs.Entry, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, r.pos, size-r.pos), int(min(size-r.pos, 64<<10)))
	var (
		out  []runs.Entry
		hdr  [recordHeaderLen]byte
		errs []error
	)
	for {
		left := size - r.pos
		if left < recordHeaderLen {
			return out, errors.Join(errs...) // nothing, or a header being written
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return out, errors.Join(append(errs, r.readError(err))...)
		}
		n := binary.LittleEndian.Uint64(hdr[:8])
		if maskedCRC32C(hdr[:8]) != binary.LittleEndian.Uint32(hdr[8:]) {
			return out, errors.Join(append(errs, r.crcMismatch("length"))...)
		}
		if n > maxRecordLen {
			r.dead = true
			return out, errors.Join(append(errs, fmt.Errorf("tensorboard %s: offset %d: record length %d is implausible; skipping the rest of the file", r.path, r.pos, n))...)
		}
		if uint64(left-recordHeaderLen) < n+recordFooterLen {
			return out, errors.Join(errs...) // the record is being written
		}
		need := int(n) + recordFooterLen
		if cap(r.buf) < need {
			r.buf = make([]byte, need)
		}
		rec := r.buf[:need]
		if _, err := io.ReadFull(br, rec); err != nil {
			return out, errors.Join(append(errs, r.readError(err))...)
		}
		data := rec[:n]
		if maskedCRC32C(data) != binary.LittleEndian.Uint32(rec[n:]) {
			return out, errors.Join(append(errs, r.crcMismatch("data"))...)
		}
		at := r.pos
		r.pos += recordHeaderLen + int64(need)
		r.suspect = -1
		if need > maxKeptBuffer {
			r.buf = nil
		}
		e, ok, err := decodeEvent(data, r.plugins)
		if err != nil {
			// The framing is sound (the CRC matched): skip this record only.
			if len(errs) < maxErrorsPerPoll {
				errs = append(errs, fmt.Errorf("tensorboard %s: offset %d: record skipped, not a tensorflow.Event: %w", r.path, at, err))
			}
			continue
		}
		if ok {
			out = append(out, e)
		}
	}
}

// readError wraps an error reading the record at r.pos; a file cut short
// while it was read is no error (the next poll starts over).
func (r *EventsReader) readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return fmt.Errorf("tensorboard %s: reading at offset %d: %w", r.path, r.pos, err)
}

// crcMismatch handles a record at r.pos whose CRC does not match: the first
// time it waits for the next poll (the bytes may not have been visible
// yet), the second time the rest of the file is skipped with an error.
func (r *EventsReader) crcMismatch(what string) error {
	if r.suspect != r.pos {
		r.suspect = r.pos
		return nil
	}
	r.dead = true
	return fmt.Errorf("tensorboard %s: offset %d: %s CRC mismatch (corrupt record); skipping the rest of the file", r.path, r.pos, what)
}

// maskedCRC32C is the TFRecord checksum: CRC-32C, rotated right by 15 bits
// and offset by a constant.
func maskedCRC32C(b []byte) uint32 {
	c := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	return (c>>15 | c<<17) + 0xa282ead8
}

// decodeEvent decodes a serialized tensorflow.Event into an entry holding
// its scalar values; ok is false when it holds none. plugins carries each
// tag's plugin name from one event to the next.
func decodeEvent(b []byte, plugins map[string]string) (e runs.Entry, ok bool, err error) {
	e = runs.Entry{Step: -1, Epoch: math.NaN()}
	var wall float64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return e, false, fmt.Errorf("event field: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type: // wall_time
			var v uint64
			v, n = protowire.ConsumeFixed64(b)
			wall = math.Float64frombits(v)
		case num == 2 && typ == protowire.VarintType: // step
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			e.Step = int64(v)
		case num == 5 && typ == protowire.BytesType: // summary
			var s []byte
			s, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				if err := decodeSummary(s, plugins, &e); err != nil {
					return e, false, fmt.Errorf("summary: %w", err)
				}
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return e, false, fmt.Errorf("event field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	if e.Step < 0 {
		e.Step = 0 // proto3 leaves a zero step out
	}
	if wall > 0 && wall < 1e13 {
		e.TimeMs = int64(math.Round(wall * 1000))
	}
	return e, len(e.Values) > 0, nil
}

// decodeSummary adds the scalar values of a tensorflow.Summary to e.
func decodeSummary(b []byte, plugins map[string]string, e *runs.Entry) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType { // value
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				if err := decodeValue(v, plugins, e); err != nil {
					return fmt.Errorf("value: %w", err)
				}
			}
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// decodeValue adds one Summary.Value to e when it is a scalar: a
// simple_value, or a one-element numeric tensor whose tag belongs to the
// scalars plugin (or never had plugin metadata).
func decodeValue(b []byte, plugins map[string]string, e *runs.Entry) error {
	var (
		tag, plugin     string
		tensor          []byte
		simple          float64
		hasSimple, hasT bool
	)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType: // tag
			var s []byte
			s, n = protowire.ConsumeBytes(b)
			tag = string(s)
		case num == 2 && typ == protowire.Fixed32Type: // simple_value
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			simple, hasSimple = float64(math.Float32frombits(v)), true
		case num == 8 && typ == protowire.BytesType: // tensor
			tensor, n = protowire.ConsumeBytes(b)
			hasT = true
		case num == 9 && typ == protowire.BytesType: // metadata
			var md []byte
			md, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				p, err := pluginName(md)
				if err != nil {
					return fmt.Errorf("metadata: %w", err)
				}
				plugin = p
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	if plugin != "" {
		plugins[tag] = plugin
	} else {
		plugin = plugins[tag]
	}
	switch {
	case hasSimple:
		put(e, tag, simple)
	case hasT && (plugin == "" || plugin == scalarsPlugin):
		v, ok, err := tensorScalar(tensor)
		if err != nil {
			return fmt.Errorf("tensor of tag %q: %w", tag, err)
		}
		if ok {
			put(e, tag, v)
		}
	}
	return nil
}

// put sets e.Values[tag] = v.
func put(e *runs.Entry, tag string, v float64) {
	if e.Values == nil {
		e.Values = make(map[string]float64, 1)
	}
	e.Values[tag] = v
}

// pluginName reads SummaryMetadata.plugin_data.plugin_name.
func pluginName(b []byte) (string, error) {
	var name string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType { // plugin_data
			var pd []byte
			pd, n = protowire.ConsumeBytes(b)
			for len(pd) > 0 && n >= 0 {
				pnum, ptyp, m := protowire.ConsumeTag(pd)
				if m < 0 {
					return "", protowire.ParseError(m)
				}
				pd = pd[m:]
				if pnum == 1 && ptyp == protowire.BytesType {
					var s []byte
					s, m = protowire.ConsumeBytes(pd)
					name = string(s)
				} else {
					m = protowire.ConsumeFieldValue(pnum, ptyp, pd)
				}
				if m < 0 {
					return "", protowire.ParseError(m)
				}
				pd = pd[m:]
			}
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
	}
	return name, nil
}

// tensorProto is the part of a tensorflow.TensorProto a scalar needs.
type tensorProto struct {
	dtype   uint64
	dims    []int64
	unknown bool
	content []byte
	floats  []float32
	doubles []float64
	ints    []int64 // int_val, int64_val and half_val, as written
}

// tensorScalar returns the value of a one-element numeric TensorProto; ok
// is false for any other tensor (strings, several elements, other types).
func tensorScalar(b []byte) (float64, bool, error) {
	t, err := decodeTensor(b)
	if err != nil {
		return 0, false, err
	}
	if t.unknown {
		return 0, false, nil
	}
	for _, d := range t.dims {
		if d != 1 {
			return 0, false, nil
		}
	}
	c := t.content
	switch t.dtype {
	case dtFloat:
		if len(c) == 4 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(c))), true, nil
		}
		if len(c) == 0 && len(t.floats) == 1 {
			return float64(t.floats[0]), true, nil
		}
	case dtDouble:
		if len(c) == 8 {
			return math.Float64frombits(binary.LittleEndian.Uint64(c)), true, nil
		}
		if len(c) == 0 && len(t.doubles) == 1 {
			return t.doubles[0], true, nil
		}
	case dtInt32:
		if len(c) == 4 {
			return float64(int32(binary.LittleEndian.Uint32(c))), true, nil
		}
		if len(c) == 0 && len(t.ints) == 1 {
			return float64(int32(t.ints[0])), true, nil
		}
	case dtInt64:
		if len(c) == 8 {
			return float64(int64(binary.LittleEndian.Uint64(c))), true, nil
		}
		if len(c) == 0 && len(t.ints) == 1 {
			return float64(t.ints[0]), true, nil
		}
	case dtHalf, dtBfloat16:
		var bits uint16
		switch {
		case len(c) == 2:
			bits = binary.LittleEndian.Uint16(c)
		case len(c) == 0 && len(t.ints) == 1:
			bits = uint16(t.ints[0])
		default:
			return 0, false, nil
		}
		if t.dtype == dtHalf {
			return halfToFloat(bits), true, nil
		}
		return float64(math.Float32frombits(uint32(bits) << 16)), true, nil
	}
	return 0, false, nil
}

// decodeTensor reads the fields of a TensorProto that tensorScalar uses.
func decodeTensor(b []byte) (tensorProto, error) {
	var t tensorProto
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return t, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType: // dtype
			t.dtype, n = protowire.ConsumeVarint(b)
		case num == 2 && typ == protowire.BytesType: // tensor_shape
			var s []byte
			s, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				if err := decodeShape(s, &t); err != nil {
					return t, fmt.Errorf("tensor_shape: %w", err)
				}
			}
		case num == 4 && typ == protowire.BytesType: // tensor_content
			t.content, n = protowire.ConsumeBytes(b)
		case num == 5: // float_val, packed or not
			n = consumeRepeated(b, num, typ, protowire.Fixed32Type, func(v uint64) {
				t.floats = append(t.floats, math.Float32frombits(uint32(v)))
			})
		case num == 6: // double_val
			n = consumeRepeated(b, num, typ, protowire.Fixed64Type, func(v uint64) {
				t.doubles = append(t.doubles, math.Float64frombits(v))
			})
		case num == 7 || num == 10 || num == 13: // int_val, int64_val, half_val
			n = consumeRepeated(b, num, typ, protowire.VarintType, func(v uint64) {
				t.ints = append(t.ints, int64(v))
			})
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return t, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return t, nil
}

// decodeShape reads a TensorShapeProto's dim sizes and unknown_rank.
func decodeShape(b []byte, t *tensorProto) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.BytesType: // dim
			var d []byte
			d, n = protowire.ConsumeBytes(b)
			size := int64(0)
			for len(d) > 0 && n >= 0 {
				dnum, dtyp, m := protowire.ConsumeTag(d)
				if m < 0 {
					return protowire.ParseError(m)
				}
				d = d[m:]
				if dnum == 1 && dtyp == protowire.VarintType {
					var v uint64
					v, m = protowire.ConsumeVarint(d)
					size = int64(v)
				} else {
					m = protowire.ConsumeFieldValue(dnum, dtyp, d)
				}
				if m < 0 {
					return protowire.ParseError(m)
				}
				d = d[m:]
			}
			t.dims = append(t.dims, size)
		case num == 3 && typ == protowire.VarintType: // unknown_rank
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			t.unknown = v != 0
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// consumeRepeated reads one occurrence of a repeated scalar field whose
// elements have wire type elem: packed (one length-delimited run) or not
// (one element). It returns the bytes used, or a negative protowire error.
func consumeRepeated(b []byte, num protowire.Number, typ, elem protowire.Type, add func(uint64)) int {
	one := func(b []byte) (uint64, int) {
		switch elem {
		case protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			return uint64(v), n
		case protowire.Fixed64Type:
			return protowire.ConsumeFixed64(b)
		default:
			return protowire.ConsumeVarint(b)
		}
	}
	switch typ {
	case elem:
		v, n := one(b)
		if n >= 0 {
			add(v)
		}
		return n
	case protowire.BytesType:
		p, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return n
		}
		for len(p) > 0 {
			v, m := one(p)
			if m < 0 {
				return m
			}
			add(v)
			p = p[m:]
		}
		return n
	}
	// A field of another type under this number: skip it.
	return protowire.ConsumeFieldValue(num, typ, b)
}

// halfToFloat converts IEEE 754 binary16 bits to a float64.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// isEventFile reports whether name is a TensorBoard event file name.
func isEventFile(name string) bool {
	return strings.Contains(name, EventFileMarker)
}
