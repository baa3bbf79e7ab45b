package logtail

import (
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

const (
	tbTorch = "tb/events.out.tfevents.1700000000.trainhost.4242.0"
	tbTF2   = "tb/events.out.tfevents.1700000500.trainhost.4300.0"
)

// readAll reads a whole event file with a fresh reader.
func readAll(t testing.TB, data []byte) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.out.tfevents.1")
	writeInPlace(t, path, data)
	return fmtEntries(mustPoll(t, NewEventsReader(path)))
}

func TestEventsFixtures(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		records int
		entries int
		// want maps an entry index to its expected rendering.
		want map[int]string
	}{
		{"torch SummaryWriter style", tbTorch, 46, 44, map[int]string{
			0:  "t=1700000001250 step=0 epoch=NaN train/loss=2",
			1:  "t=1700000001260 step=0 epoch=NaN train/lr=0.009999999776482582",
			2:  "t=1700000001750 step=1 epoch=NaN train/loss=1.6666666269302368",
			20: "t=1700000005770 step=9 epoch=NaN val/loss=0.15000000596046448",
			27: "t=1700000007750 step=13 epoch=NaN train/loss=NaN",
			42: "t=1700000013250 step=20 epoch=NaN train/accuracy=0.8125",
			43: "t=1700000014250 step=20 epoch=NaN train/tokens_per_s=12345.678901234",
		}},
		{"TF2 tf.summary style", tbTF2, 14, 11, map[int]string{
			0:  "t=1700000501500 step=20 epoch=NaN epoch_loss=0.44999998807907104",
			9:  "t=1700000503750 step=29 epoch=NaN epoch_loss=0.36734694242477417",
			10: "t=1700000505500 step=29 epoch=NaN epoch_learning_rate=0.000123456789",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := fixture(t, tc.file)
			// The fixture's framing, checked by the test's own CRC-32C.
			recs := testRecords(t, data)
			if len(recs) != tc.records {
				t.Fatalf("%d records, want %d", len(recs), tc.records)
			}
			// The first record is the file_version event every writer
			// starts with: wall_time (1) then file_version (3).
			if want := "brain.Event:2"; !strings.HasSuffix(string(recs[0]), want) {
				t.Fatalf("first record %q does not end in %q", recs[0], want)
			}
			got := readAll(t, data)
			if len(got) != tc.entries {
				t.Fatalf("%d entries, want %d: %q", len(got), tc.entries, got)
			}
			for i, w := range tc.want {
				if got[i] != w {
					t.Errorf("entry %d:\n got %s\nwant %s", i, got[i], w)
				}
			}
			for _, line := range got {
				for _, skipped := range []string{"weights", "notes"} {
					if strings.Contains(line, " "+skipped) {
						t.Errorf("non-scalar %s read as a value: %s", skipped, line)
					}
				}
			}
		})
	}
}

// A file written a few bytes at a time reads the same as the whole file.
func TestEventsPartialRecords(t *testing.T) {
	for _, file := range []string{tbTorch, tbTF2} {
		for _, chunk := range []int{1, 5, 12, 13, 100} {
			t.Run(fmt.Sprintf("%s/%d", filepath.Base(file), chunk), func(t *testing.T) {
				data := fixture(t, file)
				want := readAll(t, data)
				path := filepath.Join(t.TempDir(), "events.out.tfevents.2")
				r := NewEventsReader(path)
				if got := mustPoll(t, r); got != nil {
					t.Fatalf("missing file: %v", got)
				}
				var got []string
				for off := 0; off < len(data); off += chunk {
					appendFile(t, path, data[off:min(off+chunk, len(data))])
					got = append(got, fmtEntries(mustPoll(t, r))...)
				}
				sameLines(t, "incremental", got, want)
				if r.Offset() != int64(len(data)) {
					t.Fatalf("Offset() = %d, want %d", r.Offset(), len(data))
				}
			})
		}
	}
}

// recordOffsets returns the offset of each record in a TFRecord file.
func recordOffsets(t testing.TB, data []byte) []int {
	var offs []int
	off := 0
	for _, rec := range testRecords(t, data) {
		offs = append(offs, off)
		off += 12 + len(rec) + 4
	}
	return offs
}

func TestEventsCorruption(t *testing.T) {
	data := fixture(t, tbTorch)
	offs := recordOffsets(t, data)
	const k = 5 // the record that is damaged
	// Records 1..4 are four entries (the first is file_version).
	tests := []struct {
		name   string
		damage func(b []byte)
		want   string
	}{
		{"data CRC", func(b []byte) { b[offs[k]+12+3] ^= 0x40 }, "data CRC mismatch"},
		{"data CRC bytes", func(b []byte) { b[offs[k+1]-1] ^= 0x01 }, "data CRC mismatch"},
		{"length", func(b []byte) { b[offs[k]] ^= 0x02 }, "length CRC mismatch"},
		{"length CRC bytes", func(b []byte) { b[offs[k]+9] ^= 0x80 }, "length CRC mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), data...)
			tc.damage(b)
			path := filepath.Join(t.TempDir(), "events.out.tfevents.3")
			writeInPlace(t, path, b)
			r := NewEventsReader(path)
			got, err := r.Poll()
			if err != nil || len(got) != k-1 {
				t.Fatalf("first poll: %d entries, %v; want %d and no error yet", len(got), err, k-1)
			}
			got, err = r.Poll()
			wantOff := fmt.Sprintf("offset %d", offs[k])
			if len(got) != 0 || err == nil || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), wantOff) {
				t.Fatalf("second poll: %d entries, %v; want an error naming %s, %q and %q", len(got), err, path, wantOff, tc.want)
			}
			for i := 0; i < 2; i++ {
				if got, err := r.Poll(); len(got) != 0 || err != nil {
					t.Fatalf("after the error: %d entries, %v", len(got), err)
				}
			}
			// Replacing the file starts over.
			replaceFile(t, path, data)
			if got := mustPoll(t, r); len(got) != 44 {
				t.Fatalf("replaced file: %d entries", len(got))
			}
		})
	}
}

// A damaged record that gets repaired before the next poll (its bytes were
// not visible yet) is read normally.
func TestEventsCRCMismatchHealed(t *testing.T) {
	data := fixture(t, tbTF2)
	offs := recordOffsets(t, data)
	b := append([]byte(nil), data...)
	for i := offs[3] + 12; i < offs[4]; i++ {
		b[i] = 0 // a page not written back yet reads as zeros
	}
	path := filepath.Join(t.TempDir(), "events.out.tfevents.4")
	writeInPlace(t, path, b)
	r := NewEventsReader(path)
	first := fmtEntries(mustPoll(t, r))
	writeInPlace(t, path, data)
	rest := fmtEntries(mustPoll(t, r))
	sameLines(t, "healed", append(first, rest...), readAll(t, data))
}

func TestEventsBadRecords(t *testing.T) {
	good := testFrame(testEvent(1.5, 7, testSimple("loss", 0.5)))
	t.Run("not an event", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.out.tfevents.5")
		bad := testFrame([]byte{0x0a, 0xff}) // field 1 as bytes, length runs out
		writeInPlace(t, path, append(append(append([]byte(nil), good...), bad...), good...))
		got, err := NewEventsReader(path).Poll()
		if len(got) != 2 || err == nil || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", len(good))) {
			t.Fatalf("%d entries, %v; want 2 and an error at offset %d", len(got), err, len(good))
		}
	})
	t.Run("implausible length", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.out.tfevents.6")
		hdr := binary.LittleEndian.AppendUint64(nil, 1<<40)
		hdr = binary.LittleEndian.AppendUint32(hdr, testMask(testCRC32C(hdr)))
		writeInPlace(t, path, append(append([]byte(nil), good...), hdr...))
		r := NewEventsReader(path)
		got, err := r.Poll()
		if len(got) != 1 || err == nil || !strings.Contains(err.Error(), "implausible") {
			t.Fatalf("%d entries, %v", len(got), err)
		}
		if got, err := r.Poll(); got != nil || err != nil {
			t.Fatalf("after: %v, %v", got, err)
		}
	})
	t.Run("shrunk", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.out.tfevents.7")
		writeInPlace(t, path, append(append([]byte(nil), good...), good...))
		r := NewEventsReader(path)
		if got := mustPoll(t, r); len(got) != 2 {
			t.Fatalf("%d entries", len(got))
		}
		writeInPlace(t, path, good)
		if got := mustPoll(t, r); len(got) != 1 {
			t.Fatalf("shrunk file read again: %d entries, want 1", len(got))
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := NewEventsReader(dir).Poll(); err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDecodeEventValues(t *testing.T) {
	f32 := func(f float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(f)) }
	f64 := func(f float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)) }
	tensor := func(dtype uint64, shape []byte, rest func([]byte) []byte) []byte {
		b := pbVarint(nil, 1, dtype)
		if shape != nil {
			b = pbBytes(b, 2, shape)
		}
		return rest(b)
	}
	content := func(c []byte) func([]byte) []byte {
		return func(b []byte) []byte { return pbBytes(b, 4, c) }
	}
	tests := []struct {
		name  string
		event []byte
		want  string // "" when no entry
	}{
		{"simple_value", testEvent(10, 3, testSimple("a/b", 0.25)), "t=10000 step=3 epoch=NaN a/b=0.25"},
		{"two values", testEvent(10, 3, testSimple("x", 1), testSimple("y", 2)), "t=10000 step=3 epoch=NaN x=1 y=2"},
		{"no summary", testEvent(10, 3), ""},
		{"file_version", pbString(pbDouble(nil, 1, 10), 3, "brain.Event:2"), ""},
		{"float tensor_content", testEvent(0, 1, testTensorValue("l", tensor(dtFloat, testShape(), content(f32(1.5))), "scalars")), "t=0 step=1 epoch=NaN l=1.5"},
		{"double tensor_content", testEvent(0, 1, testTensorValue("l", tensor(dtDouble, testShape(), content(f64(0.1))), "scalars")), "t=0 step=1 epoch=NaN l=0.1"},
		{"float_val packed", testEvent(0, 1, testTensorValue("l", tensor(dtFloat, testShape(), func(b []byte) []byte { return pbBytes(b, 5, f32(2.5)) }), "scalars")), "t=0 step=1 epoch=NaN l=2.5"},
		{"float_val unpacked", testEvent(0, 1, testTensorValue("l", tensor(dtFloat, nil, func(b []byte) []byte { return pbFloat(b, 5, 3.5) }), "")), "t=0 step=1 epoch=NaN l=3.5"},
		{"double_val packed", testEvent(0, 1, testTensorValue("l", tensor(dtDouble, testShape(1), func(b []byte) []byte { return pbBytes(b, 6, f64(4.5)) }), "scalars")), "t=0 step=1 epoch=NaN l=4.5"},
		{"double_val unpacked", testEvent(0, 1, testTensorValue("l", tensor(dtDouble, nil, func(b []byte) []byte { return pbDouble(b, 6, 4.75) }), "scalars")), "t=0 step=1 epoch=NaN l=4.75"},
		{"int32 int_val", testEvent(0, 1, testTensorValue("n", tensor(dtInt32, nil, func(b []byte) []byte { return pbVarint(b, 7, 42) }), "scalars")), "t=0 step=1 epoch=NaN n=42"},
		{"int32 negative content", testEvent(0, 1, testTensorValue("n", tensor(dtInt32, nil, content(binary.LittleEndian.AppendUint32(nil, uint32(0xfffffffe)))), "scalars")), "t=0 step=1 epoch=NaN n=-2"},
		{"int64 int64_val", testEvent(0, 1, testTensorValue("n", tensor(dtInt64, nil, func(b []byte) []byte { return pbBytes(b, 10, protowireVarints(1<<40)) }), "scalars")), "t=0 step=1 epoch=NaN n=1.099511627776e+12"},
		{"int64 content", testEvent(0, 1, testTensorValue("n", tensor(dtInt64, nil, content(binary.LittleEndian.AppendUint64(nil, 7))), "scalars")), "t=0 step=1 epoch=NaN n=7"},
		{"half half_val", testEvent(0, 1, testTensorValue("h", tensor(dtHalf, nil, func(b []byte) []byte { return pbVarint(b, 13, 0x3c00) }), "scalars")), "t=0 step=1 epoch=NaN h=1"},
		{"half content", testEvent(0, 1, testTensorValue("h", tensor(dtHalf, nil, content([]byte{0x00, 0xc0})), "scalars")), "t=0 step=1 epoch=NaN h=-2"},
		{"bfloat16 content", testEvent(0, 1, testTensorValue("h", tensor(dtBfloat16, nil, content([]byte{0xc0, 0x3f})), "scalars")), "t=0 step=1 epoch=NaN h=1.5"},
		{"two elements", testEvent(0, 1, testTensorValue("v", tensor(dtFloat, testShape(2), content(append(f32(1), f32(2)...))), "scalars")), ""},
		{"unknown rank", testEvent(0, 1, testTensorValue("v", tensor(dtFloat, pbVarint(nil, 3, 1), content(f32(1))), "scalars")), ""},
		{"histograms plugin", testEvent(0, 1, testTensorValue("w", tensor(dtFloat, testShape(), content(f32(1))), "histograms")), ""},
		{"string tensor", testEvent(0, 1, testTensorValue("s", tensor(7, testShape(), func(b []byte) []byte { return pbString(b, 8, "hi") }), "")), ""},
		{"float with wrong content size", testEvent(0, 1, testTensorValue("v", tensor(dtFloat, nil, content([]byte{1, 2, 3})), "scalars")), ""},
		{"negative wall time", testEvent(-5, 1, testSimple("x", 1)), "t=0 step=1 epoch=NaN x=1"},
		{"unknown fields skipped", append(pbString(testEvent(2, 1, testSimple("x", 1)), 99, "future"), pbVarint(nil, 100, 1)...), "t=2000 step=1 epoch=NaN x=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok, err := decodeEvent(tc.event, map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if ok {
				got = fmtEntry(e)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// protowireVarints packs varints as a packed repeated field's payload.
func protowireVarints(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// Writers may put a tag's metadata in its first event only.
func TestDecodeEventPluginRemembered(t *testing.T) {
	plugins := map[string]string{}
	ten := pbBytes(pbVarint(nil, 1, dtFloat), 4, binary.LittleEndian.AppendUint32(nil, math.Float32bits(1)))
	for i, tc := range []struct {
		value  []byte
		wantOK bool
	}{
		{testTensorValue("h", ten, "histograms"), false},
		{testTensorValue("h", ten, ""), false}, // still a histogram
		{testTensorValue("s", ten, "scalars"), true},
		{testTensorValue("s", ten, ""), true},
	} {
		_, ok, err := decodeEvent(testEvent(1, 1, tc.value), plugins)
		if err != nil || ok != tc.wantOK {
			t.Fatalf("event %d: ok=%v err=%v, want ok=%v", i, ok, err, tc.wantOK)
		}
	}
}

func TestDecodeEventErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated tag":        {0x80},
		"truncated double":     {0x09, 1, 2},
		"summary runs out":     {0x2a, 0x05, 0x0a},
		"bad value":            pbBytes(nil, 5, pbBytes(nil, 1, []byte{0x15, 1})),
		"bad metadata":         pbBytes(nil, 5, pbBytes(nil, 1, pbBytes(nil, 9, []byte{0x0a, 0x05}))),
		"bad tensor":           pbBytes(nil, 5, pbBytes(nil, 1, pbBytes(nil, 8, []byte{0x22, 0x09}))),
		"bad shape":            pbBytes(nil, 5, pbBytes(nil, 1, pbBytes(nil, 8, pbBytes(nil, 2, []byte{0x12, 0x03, 0x08})))),
		"bad packed float_val": pbBytes(nil, 5, pbBytes(nil, 1, pbBytes(nil, 8, pbBytes(nil, 5, []byte{1, 2, 3})))),
	} {
		if _, _, err := decodeEvent(b, map[string]string{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestHalfToFloat(t *testing.T) {
	for bits, want := range map[uint16]float64{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: math.Ldexp(1, -24),
		0x7c00: math.Inf(1), 0xfc00: math.Inf(-1),
	} {
		if got := halfToFloat(bits); got != want {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", bits, got, want)
		}
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(got) {
		t.Errorf("halfToFloat(NaN) = %v", got)
	}
}

// The package's CRC agrees with the test's bitwise one and with the
// CRC-32C check value.
func TestMaskedCRC32C(t *testing.T) {
	if got := testCRC32C([]byte("123456789")); got != 0xe3069283 {
		t.Fatalf("test CRC-32C check value = %#x", got)
	}
	for _, s := range []string{"", "a", "123456789", strings.Repeat("tfevents", 100)} {
		if got, want := maskedCRC32C([]byte(s)), testMask(testCRC32C([]byte(s))); got != want {
			t.Fatalf("maskedCRC32C(%q) = %#x, want %#x", s, got, want)
		}
	}
}

func TestEventsReaderPath(t *testing.T) {
	r := NewEventsReader("x")
	if r.Path() != "x" || r.Offset() != 0 {
		t.Fatal(r.Path(), r.Offset())
	}
}
