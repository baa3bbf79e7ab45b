package cpu

import (
	"path/filepath"
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

// stepClock is a clock that tests move by hand.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time { return c.t }
