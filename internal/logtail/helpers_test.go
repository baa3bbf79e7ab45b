package logtail

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// fixture returns the bytes of testdata/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeInPlace writes data to path the way Python's open(path, "w") does:
// same inode, truncated, rewritten.
func writeInPlace(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile puts data at path as a new file (write elsewhere, rename).
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	writeInPlace(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends data to path.
func appendFile(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// num formats a float so that NaN and ±Inf compare equal as text.
func num(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// fmtEntry renders an entry as one comparable line:
// "t=<ms> step=<n> epoch=<e> k=v k=v" with keys sorted.
func fmtEntry(e runs.Entry) string {
	keys := make([]string, 0, len(e.Values))
	for k := range e.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "t=%d step=%d epoch=%s", e.TimeMs, e.Step, num(e.Epoch))
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, num(e.Values[k]))
	}
	return b.String()
}

// fmtEntries renders entries with fmtEntry.
func fmtEntries(es []runs.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmtEntry(e)
	}
	return out
}

// sameLines fails the test when got and want differ, showing the first
// difference.
func sameLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("%s: entry %d:\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d (got %q)", what, len(got), len(want), got)
	}
}

// poller polls and fails the test on an error.
func mustPoll(t testing.TB, p interface {
	Poll() ([]runs.Entry, error)
}) []runs.Entry {
	t.Helper()
	es, err := p.Poll()
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return es
}

// ---- an independent TFRecord codec for the tests ----

// testCRC32C is a bitwise CRC-32C (Castagnoli, reflected 0x82F63B78),
// written apart from the package's table-driven hash/crc32 use so that the
// fixtures are checked by a second implementation.
func testCRC32C(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for k := 0; k < 8; k++ {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// testMask is the TFRecord CRC mask.
func testMask(c uint32) uint32 {
	return (c>>15 | c<<17) + 0xa282ead8
}

// testFrame wraps data in a TFRecord frame.
func testFrame(data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(data)))
	out = binary.LittleEndian.AppendUint32(out, testMask(testCRC32C(out[:8])))
	out = append(out, data...)
	return binary.LittleEndian.AppendUint32(out, testMask(testCRC32C(data)))
}

// testRecords splits a whole TFRecord file into its records, checking both
// CRCs of each with the test's own CRC-32C, and fails on any defect.
func testRecords(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	off := 0
	for off < len(b) {
		if len(b)-off < 12 {
			t.Fatalf("offset %d: %d bytes left, not a record header", off, len(b)-off)
		}
		n := int(binary.LittleEndian.Uint64(b[off:]))
		if got, want := binary.LittleEndian.Uint32(b[off+8:]), testMask(testCRC32C(b[off:off+8])); got != want {
			t.Fatalf("offset %d: length CRC %#x, want %#x", off, got, want)
		}
		if len(b)-off-12 < n+4 {
			t.Fatalf("offset %d: record of %d bytes runs past the end", off, n)
		}
		data := b[off+12 : off+12+n]
		if got, want := binary.LittleEndian.Uint32(b[off+12+n:]), testMask(testCRC32C(data)); got != want {
			t.Fatalf("offset %d: data CRC %#x, want %#x", off, got, want)
		}
		out = append(out, data)
		off += 12 + n + 4
	}
	return out
}

// ---- protobuf building blocks for hand-made events ----

func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbString(b []byte, num protowire.Number, s string) []byte {
	return pbBytes(b, num, []byte(s))
}

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func pbFloat(b []byte, num protowire.Number, f float32) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(f))
}

func pbDouble(b []byte, num protowire.Number, f float64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(f))
}

// testEvent encodes a tensorflow.Event with the given summary values
// (already encoded Summary.Value messages).
func testEvent(wall float64, step int64, values ...[]byte) []byte {
	b := pbDouble(nil, 1, wall)
	if step != 0 {
		b = pbVarint(b, 2, uint64(step))
	}
	if len(values) > 0 {
		var s []byte
		for _, v := range values {
			s = pbBytes(s, 1, v)
		}
		b = pbBytes(b, 5, s)
	}
	return b
}

// testSimple encodes a Summary.Value with simple_value.
func testSimple(tag string, v float32) []byte {
	return pbFloat(pbString(nil, 1, tag), 2, v)
}

// testTensorValue encodes a Summary.Value with a tensor and, when plugin is
// not empty, metadata naming the plugin.
func testTensorValue(tag string, tensor []byte, plugin string) []byte {
	b := pbString(nil, 1, tag)
	b = pbBytes(b, 8, tensor)
	if plugin != "" {
		b = pbBytes(b, 9, pbBytes(nil, 1, pbString(nil, 1, plugin)))
	}
	return b
}

// testShape encodes a TensorShapeProto with the given dims.
func testShape(dims ...uint64) []byte {
	var b []byte
	for _, d := range dims {
		b = pbBytes(b, 2, pbVarint(nil, 1, d))
	}
	return b
}
