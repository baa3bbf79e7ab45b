package remotewrite

import (
	"math"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"

	"github.com/trainwatch/trainwatch/internal/store"
)

func lbl(kv ...string) labels.Labels { return labels.FromStrings(kv...) }

// TestRecordRoundTrip encodes ticks into a segment image, scans it and
// decodes it: labels (with external labels), timestamps and value bits
// come back unchanged, and a series is defined only once per segment.
func TestRecordRoundTrip(t *testing.T) {
	a := lbl("__name__", "up", "job", "trainwatch", "instance", "h:1")
	b := lbl("__name__", "node_load1", "job", "trainwatch", "instance", "h:1")
	c := lbl("__name__", "x", "cluster", "own")
	stale := math.Float64frombits(value.StaleNaN)
	tests := []struct {
		name  string
		ext   map[string]string
		ticks [][]store.Appended
	}{
		{"one tick", nil, [][]store.Appended{{{Labels: a, T: 1000, V: 1}, {Labels: b, T: 1000, V: 0.25}}}},
		{"series reused across ticks", nil, [][]store.Appended{
			{{Labels: a, T: 1000, V: 1}, {Labels: b, T: 1000, V: 2}},
			{{Labels: a, T: 2000, V: 3}, {Labels: b, T: 2000, V: 4}, {Labels: c, T: 2000, V: 5}},
			{{Labels: c, T: 3000, V: 6}},
		}},
		{"special values", nil, [][]store.Appended{{
			{Labels: a, T: 5, V: stale}, {Labels: b, T: 5, V: math.Inf(-1)}, {Labels: c, T: 5, V: math.Copysign(0, -1)},
		}}},
		{"explicit timestamps before the tick", nil, [][]store.Appended{{
			{Labels: a, T: 1_700_000_000_000, V: 1}, {Labels: b, T: 1_600_000_000_000, V: 2}, {Labels: c, T: -5, V: 3},
		}}},
		{"external labels", map[string]string{"cluster": "ext", "region": "eu", "A": "first"}, [][]store.Appended{
			{{Labels: a, T: 1, V: 1}, {Labels: c, T: 1, V: 2}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := newEncoder(tt.ext)
			seg := []byte(segmentMagic)
			for _, tick := range tt.ticks {
				frame, _ := enc.encode(tick)
				seg = append(seg, frame...)
			}
			var recs []recordInfo
			end, err := scanSegment(seg, func(ri recordInfo) { recs = append(recs, ri) })
			if err != nil || end != int64(len(seg)) || len(recs) != len(tt.ticks) {
				t.Fatalf("scan: end %d of %d, %d records, err %v", end, len(seg), len(recs), err)
			}
			var dec decoder
			defined := 0
			for i, ri := range recs {
				h := parseFrameHeader(seg[ri.off:])
				before := len(dec.dict)
				got, err := dec.decode(h, seg[ri.off+frameHeaderSize:ri.off+frameHeaderSize+int64(h.length)], true)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				defined += len(dec.dict) - before
				if len(got) != len(tt.ticks[i]) {
					t.Fatalf("record %d: %d samples, want %d", i, len(got), len(tt.ticks[i]))
				}
				for j, s := range got {
					want := tt.ticks[i][j]
					if s.t != want.T || math.Float64bits(s.v) != math.Float64bits(want.V) {
						t.Errorf("record %d sample %d: got (%d, %v), want (%d, %v)", i, j, s.t, s.v, want.T, want.V)
					}
					if g, w := promLabels(dec.dict[s.id]), withExternal(want.Labels, tt.ext); !labels.Equal(g, w) {
						t.Errorf("record %d sample %d: labels %s, want %s", i, j, g, w)
					}
				}
			}
			distinct := map[string]bool{}
			for _, tick := range tt.ticks {
				for _, s := range tick {
					distinct[s.Labels.String()] = true
				}
			}
			if defined != len(distinct) {
				t.Errorf("%d series definitions for %d distinct series", defined, len(distinct))
			}
		})
	}
}

// TestExternalLabels checks Prometheus' semantics: an external label is
// added only when the series lacks that label, and the result is sorted.
func TestExternalLabels(t *testing.T) {
	tests := []struct {
		name   string
		series labels.Labels
		ext    map[string]string
		want   labels.Labels
	}{
		{"added", lbl("__name__", "m", "job", "j"), map[string]string{"cluster": "c"}, lbl("__name__", "m", "cluster", "c", "job", "j")},
		{"existing label wins", lbl("__name__", "m", "job", "own"), map[string]string{"job": "ext", "zone": "z"}, lbl("__name__", "m", "job", "own", "zone", "z")},
		{"sorted before __name__", lbl("__name__", "m"), map[string]string{"A": "a"}, lbl("A", "a", "__name__", "m")},
		{"all present", lbl("a", "1", "b", "2"), map[string]string{"a": "x", "b": "y"}, lbl("a", "1", "b", "2")},
		{"none", lbl("a", "1"), nil, lbl("a", "1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := newEncoder(tt.ext)
			frame, _ := enc.encode([]store.Appended{{Labels: tt.series, T: 1, V: 1}})
			var dec decoder
			got, err := dec.decode(parseFrameHeader(frame), frame[frameHeaderSize:], true)
			if err != nil {
				t.Fatal(err)
			}
			if g := promLabels(dec.dict[got[0].id]); !labels.Equal(g, tt.want) {
				t.Errorf("got %s, want %s", g, tt.want)
			}
		})
	}
}

// TestEncoderRollback checks that definitions of a record that could not
// be written are forgotten, so the next record defines them again.
func TestEncoderRollback(t *testing.T) {
	enc := newEncoder(nil)
	a, b := lbl("n", "a"), lbl("n", "b")
	f1, _ := enc.encode([]store.Appended{{Labels: a, T: 1, V: 1}})
	seg := append([]byte(segmentMagic), f1...)
	_, mark := enc.encode([]store.Appended{{Labels: a, T: 2, V: 2}, {Labels: b, T: 2, V: 2}})
	enc.rollback(mark)
	f3, _ := enc.encode([]store.Appended{{Labels: b, T: 3, V: 3}, {Labels: a, T: 3, V: 3}})
	seg = append(seg, f3...)
	type ts struct {
		t int64
		n string
	}
	var got []ts
	var dec decoder
	if _, err := scanSegment(seg, func(ri recordInfo) {
		h := parseFrameHeader(seg[ri.off:])
		smp, err := dec.decode(h, seg[ri.off+frameHeaderSize:ri.off+frameHeaderSize+int64(h.length)], true)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range smp {
			got = append(got, ts{s.t, promLabels(dec.dict[s.id]).Get("n")})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if want := []ts{{1, "a"}, {3, "b"}, {3, "a"}}; !slices.Equal(got, want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
}

// TestDecodeCorrupt checks that damaged payloads are errors, never panics.
func TestDecodeCorrupt(t *testing.T) {
	enc := newEncoder(nil)
	frame, _ := enc.encode([]store.Appended{{Labels: lbl("a", "b"), T: 1, V: 1}, {Labels: lbl("a", "c"), T: 2, V: 2}})
	h := parseFrameHeader(frame)
	payload := frame[frameHeaderSize:]
	for i := range payload {
		for _, bit := range []byte{1, 0x80} {
			p := slices.Clone(payload)
			p[i] ^= bit
			var dec decoder
			_, _ = dec.decode(h, p, true) // must not panic
		}
	}
	for cut := range payload {
		var dec decoder
		if _, err := dec.decode(h, payload[:cut], true); err == nil {
			t.Errorf("payload cut at %d decoded without error", cut)
		}
	}
	h.samples = 3
	var dec decoder
	if _, err := dec.decode(h, payload, true); err == nil {
		t.Error("wrong sample count decoded without error")
	}
}

func promLabels(ls []prompb.Label) labels.Labels {
	b := labels.NewScratchBuilder(len(ls))
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	if !slices.IsSortedFunc(ls, func(x, y prompb.Label) int {
		switch {
		case x.Name < y.Name:
			return -1
		case x.Name > y.Name:
			return 1
		}
		return 0
	}) {
		return lbl("error", "labels not sorted")
	}
	return b.Labels()
}

func withExternal(ls labels.Labels, ext map[string]string) labels.Labels {
	b := labels.NewBuilder(ls)
	for k, v := range ext {
		if !ls.Has(k) {
			b.Set(k, v)
		}
	}
	return b.Labels()
}
