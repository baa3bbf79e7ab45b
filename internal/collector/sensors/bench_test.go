package sensors

import (
	"context"
	"errors"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// benchCollect measures one tick of the named collector over the fixture
// tree and, when this machine has the files, over the real host. The
// first Collect (discovery, thresholds) is outside the timing: what is
// measured is the steady state between discoveries.
func benchCollect(b *testing.B, name string) {
	for _, tc := range []struct {
		name  string
		roots hostfs.Roots
	}{
		{"fixture", fixtureRoots()},
		{"host", hostfs.DefaultRoots()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cs, err := New(tc.roots, Config{})
			if err != nil {
				b.Fatal(err)
			}
			var c collector.Collector
			for _, x := range cs {
				if x.Name() == name {
					c = x
				}
			}
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

func BenchmarkCollectHwmon(b *testing.B)            { benchCollect(b, "hwmon") }
func BenchmarkCollectThermalZone(b *testing.B)      { benchCollect(b, "thermal_zone") }
func BenchmarkCollectPowerSupplyClass(b *testing.B) { benchCollect(b, "powersupplyclass") }
func BenchmarkCollectRapl(b *testing.B)             { benchCollect(b, "rapl") }
