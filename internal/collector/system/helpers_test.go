package system

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/collectortest"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fixtureRoots points at a fixture tree under testdata/.
func fixtureRoots(name string) hostfs.Roots {
	base := filepath.Join("testdata", name)
	return hostfs.Roots{Proc: filepath.Join(base, "proc"), Sys: filepath.Join(base, "sys"), RootFS: base}
}

// testConfig makes the syscall-backed parts deterministic.
func testConfig() Config {
	return Config{
		Machine: "x86_64",
		Now:     func() time.Time { return time.Date(2026, 3, 1, 12, 30, 0, 250e6, time.FixedZone("CET", 3600)) },
		Adjtimex: func(tx *syscall.Timex) (int, error) {
			*tx = syscall.Timex{Offset: -1520, Freq: -1096532, Maxerror: 32500, Esterror: 1200, Status: 0x2001,
				Constant: 7, Tick: 10000, Tai: 37, Shift: 3}
			return 0, nil
		},
	}
}

// newByName builds the package's collectors over roots and returns the one
// with the given name.
func newByName(t testing.TB, roots hostfs.Roots, cfg Config, name string) collector.Collector {
	t.Helper()
	cs, err := New(roots, cfg)
	return collectortest.Pick(t, cs, err, name)
}

// Shorthands for the shared collector test helpers.
var (
	collectOK    = collectortest.CollectOK
	family       = collectortest.Family
	value        = collectortest.Value
	count        = collectortest.Count
	names        = collectortest.Names
	wantErr      = collectortest.WantErr
	wantNoData   = collectortest.WantNoData
	liveRoots    = collectortest.LiveRoots
	benchCollect = collectortest.Bench
)

// benchRoots is the real host when path exists there, else the fixture.
func benchRoots(procOrSys, rel string) hostfs.Roots {
	return collectortest.BenchRoots(procOrSys, rel, fixtureRoots("host"))
}
