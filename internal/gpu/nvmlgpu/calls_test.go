//go:build cgo

package nvmlgpu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/gpu/mockgpu"
)

func diff(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range b {
		if d := v - a[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// callTable counts the NVML calls of the first tick (init and discovery),
// a steady tick and a tick that also re-reads the slow values, on the
// 8-GPU H200 Static machine, as a markdown table.
func callTable(t *testing.T) string {
	r := newRig(t, "h200", noEvents{mockgpu.NewStatic()}, func(c *Config) { c.DisableEvents = true }, nil)
	var snaps []map[string]int
	snaps = append(snaps, mockgpu.ServerCalls(r.srv))
	r.mustTick()
	snaps = append(snaps, mockgpu.ServerCalls(r.srv))
	r.mustTick()
	snaps = append(snaps, mockgpu.ServerCalls(r.srv))
	r.clock.Add(DefaultSlowInterval)
	r.mustTick()
	snaps = append(snaps, mockgpu.ServerCalls(r.srv))
	first, steady, slow := diff(snaps[0], snaps[1]), diff(snaps[1], snaps[2]), diff(snaps[2], snaps[3])
	names := map[string]bool{}
	for _, m := range []map[string]int{first, steady, slow} {
		for k := range m {
			names[k] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var b strings.Builder
	b.WriteString("| NVML call | first tick | steady tick | tick with slow re-read |\n|---|---:|---:|---:|\n")
	cell := func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprint(n)
	}
	for _, k := range sorted {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k, cell(first[k]), cell(steady[k]), cell(slow[k]))
	}
	fmt.Fprintf(&b, "| **total** | **%d** | **%d** | **%d** |\n", mockgpu.Total(first), mockgpu.Total(steady), mockgpu.Total(slow))
	return b.String()
}

// TestCallsPerTick pins the NVML calls per tick for 8 GPUs, and checks
// that docs/gpu.md shows the same table.
func TestCallsPerTick(t *testing.T) {
	table := callTable(t)
	checkGolden(t, "calls_h200.md", []byte(table))
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "gpu.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), table) {
		t.Fatalf("docs/gpu.md does not contain the current call table (testdata/calls_h200.md):\n%s", table)
	}
}

// BenchmarkCollect8GPUs is one tick of the NVML backend on the 8-GPU H200
// mock with Static telemetry: the backend's own cost (the mock answers in
// nanoseconds; a real GPU's calls cost far more, see docs/gpu.md).
func BenchmarkCollect8GPUs(b *testing.B) {
	r := newRig(b, "h200", mockgpu.NewStatic(), nil, nil)
	r.mustTick()
	r.mustTick()
	before := mockgpu.Total(mockgpu.ServerCalls(r.srv))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		e := collector.NewEmitter()
		if err := r.c.Collect(ctx, e); err != nil {
			b.Fatal(err)
		}
		cancel()
		r.clock.Add(time.Second)
	}
	b.StopTimer()
	calls := mockgpu.Total(mockgpu.ServerCalls(r.srv)) - before
	b.ReportMetric(float64(calls)/float64(b.N), "nvml-calls/op")
}
