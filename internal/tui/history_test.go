package tui

import (
	"testing"
)

func TestRing(t *testing.T) {
	var r ring
	for i := range historyLen + 10 {
		r.add(int64(i), float64(i))
	}
	r.add(5, -1) // older than the last: ignored
	vs := r.values(nil)
	if len(vs) != historyLen || vs[0] != 10 || vs[len(vs)-1] != historyLen+9 {
		t.Fatalf("ring keeps %d values from %v to %v", len(vs), vs[0], vs[len(vs)-1])
	}
}

func TestRingSeed(t *testing.T) {
	cases := []struct {
		name     string
		existing []Point
		seed     []Point
		want     []float64
	}{
		{"empty ring", nil, []Point{{1, 1}, {2, 2}}, []float64{1, 2}},
		{"seed before the stream", []Point{{3, 30}, {4, 40}}, []Point{{1, 1}, {2, 2}, {3, 3}}, []float64{1, 2, 30, 40}},
		{"seed all newer: nothing added", []Point{{1, 10}}, []Point{{2, 2}}, []float64{10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r ring
			for _, p := range c.existing {
				r.add(p.T, p.V)
			}
			r.seed(c.seed)
			got := r.values(nil)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
	// A long seed keeps the newest historyLen values.
	var r ring
	long := make([]Point, 2*historyLen)
	for i := range long {
		long[i] = Point{int64(i), float64(i)}
	}
	r.seed(long)
	if vs := r.values(nil); len(vs) != historyLen || vs[0] != historyLen {
		t.Errorf("long seed: %d values from %v", len(vs), vs[0])
	}
}

// TestCompacting: a run's series keeps its whole length in at most
// runHistoryLen points, averaging pairs as it grows.
func TestCompacting(t *testing.T) {
	var c compacting
	n := 10 * runHistoryLen
	for i := range n {
		c.add(int64(i+1), float64(i))
	}
	vs := c.values(nil)
	if len(vs) > runHistoryLen+1 || len(vs) < runHistoryLen/2 {
		t.Fatalf("%d values for %d samples", len(vs), n)
	}
	// The first point is the mean of the earliest samples; the series
	// still rises from about 0 to about n.
	if vs[0] > float64(n)/float64(len(vs)) || vs[len(vs)-1] < float64(n)*0.95 {
		t.Errorf("values from %v to %v", vs[0], vs[len(vs)-1])
	}
	c.add(5, 1e9) // older: ignored
	if got := c.values(nil); got[len(got)-1] == 1e9 {
		t.Error("an older sample was added")
	}
	// A seed replaces what the stream had.
	c.seed([]Point{{1, 3}, {2, 2}, {3, 1}})
	if got := c.values(nil); len(got) != 3 || got[0] != 3 {
		t.Errorf("after seed: %v", got)
	}
}

// TestObserve: a snapshot adds each graph's value at its time.
func TestObserve(t *testing.T) {
	p := loadPayload(t)
	h := newHistory()
	h.observe(p)
	h.observe(p) // the same time again: ignored
	for _, key := range []string{gpuKey("0", "util"), gpuKey("6", "power"), keyCPU, keyMem, keySwap, diskKey("md0", "r"), netKey("ib0", "tx")} {
		if got := h.last(key, historyLen); len(got) != 1 {
			t.Errorf("%s: %v", key, got)
		}
	}
	if got := h.last(gpuKey("7", "util"), historyLen); len(got) != 0 {
		t.Errorf("the lost GPU has values: %v", got)
	}
	if got := h.last(diskKey("sda", "r"), historyLen); len(got) != 0 {
		t.Errorf("a disk without rates has values: %v", got)
	}
	if got := h.runLoss("llama-8b-sft-0412", nil); len(got) != 1 || got[0] != 0.9412 {
		t.Errorf("run loss: %v", got)
	}
}
