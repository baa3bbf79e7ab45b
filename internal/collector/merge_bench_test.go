package collector

import (
	"fmt"
	"testing"
)

// BenchmarkMergeFamilies merges a tick's worth of families: 40 collectors
// of 10 families each (names interleaved across collectors, some shared
// by two collectors), as the runner does every tick.
func BenchmarkMergeFamilies(b *testing.B) {
	lists := make([][]*Family, 40)
	for c := range lists {
		for f := range 10 {
			name := fmt.Sprintf("node_family_%03d_%02d_seconds_total", (f*37+c*11)%400, c%2)
			lists[c] = append(lists[c], &Family{Desc: NewDesc(name, "h", Counter, "l"),
				Samples: []Sample{{LabelValues: []string{"x"}, Value: 1}}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := MergeFamilies(lists...); len(got) == 0 {
			b.Fatal("nothing merged")
		}
	}
}
