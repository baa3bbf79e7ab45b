package amdgpu

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/procinfo"
)

// BenchmarkCollectAmdgpu measures one tick between process scans (the
// steady state: the device attributes of every GPU read and the last
// scan's process series emitted), over the MI300X fixture and, when this
// machine has AMD GPUs, the real host.
func BenchmarkCollectAmdgpu(b *testing.B) {
	for _, tc := range []struct {
		name  string
		roots func(b *testing.B) hostfs.Roots
	}{
		{"fixture", func(b *testing.B) hostfs.Roots { return fixture(b, "mi300x") }},
		{"host", func(*testing.B) hostfs.Roots { return hostfs.DefaultRoots() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, _ := newTest(b, tc.roots(b), Config{})
			ctx := context.Background()
			if err := c.Collect(ctx, collector.NewEmitter()); err != nil {
				if errors.Is(err, collector.ErrNoData) {
					b.Skipf("%s: %v", tc.name, err)
				}
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e := collector.NewEmitter()
				if err := c.Collect(ctx, e); err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					b.ReportMetric(float64(e.Len()), "samples/op")
				}
			}
		})
	}
}

// BenchmarkProcessScan measures one /proc scan: on the fixture, and on
// this machine's real /proc (every process's fd links read, whether or
// not it has a GPU), which is the cost Config.ProcessInterval spreads.
func BenchmarkProcessScan(b *testing.B) {
	for _, tc := range []struct {
		name  string
		roots func(b *testing.B) hostfs.Roots
	}{
		{"fixture", func(b *testing.B) hostfs.Roots { return fixture(b, "mi300x") }},
		{"host", func(*testing.B) hostfs.Roots { return hostfs.DefaultRoots() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			roots := tc.roots(b).WithDefaults()
			cfg, _ := Config{Hostname: "node-a"}.withDefaults()
			s := newProcScanner(roots, procinfo.NewReader(roots), cfg)
			byPCI := map[string]*card{}
			if tc.name == "fixture" {
				c, _ := newTest(b, roots, Config{DisableProcesses: true})
				if err := c.discover(); err != nil {
					b.Fatal(err)
				}
				byPCI = c.byPCI
			}
			now := time.Unix(1e9, 0)
			s.scan(now, byPCI)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now = now.Add(5 * time.Second)
				s.scan(now, byPCI)
			}
			b.StopTimer()
			b.ReportMetric(float64(s.stats.pids), "pids/op")
			b.ReportMetric(float64(s.stats.fdDirs), "fddirs/op")
		})
	}
}
