package cpu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
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
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name() == name {
			return c
		}
	}
	t.Fatalf("no collector named %q", name)
	return nil
}

// collectOK runs c once and fails the test on error.
func collectOK(t testing.TB, c collector.Collector) []*collector.Family {
	t.Helper()
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	return fams
}

func family(fams []*collector.Family, name string) *collector.Family {
	for _, f := range fams {
		if f.Desc.Name == name {
			return f
		}
	}
	return nil
}

// value returns the value of the sample of family name whose labels are
// the given name/value pairs (all of the family's labels).
func value(t testing.TB, fams []*collector.Family, name string, labels ...string) float64 {
	t.Helper()
	f := family(fams, name)
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	if len(labels) != 2*len(f.Desc.LabelNames) {
		t.Fatalf("%s has labels %v; got %v", name, f.Desc.LabelNames, labels)
	}
next:
	for i := range f.Samples {
		for j := 0; j < len(labels); j += 2 {
			if f.Label(i, labels[j]) != labels[j+1] {
				continue next
			}
		}
		return f.Samples[i].Value
	}
	t.Fatalf("%s: no sample with labels %v", name, labels)
	return 0
}

// count returns the number of samples of a family (0 if absent).
func count(fams []*collector.Family, name string) int {
	if f := family(fams, name); f != nil {
		return len(f.Samples)
	}
	return 0
}

// names lists the families' names in emission order.
func names(fams []*collector.Family) string {
	var s []string
	for _, f := range fams {
		s = append(s, fmt.Sprintf("%s(%d)", f.Desc.Name, len(f.Samples)))
	}
	return strings.Join(s, " ")
}

func wantErr(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
}

func wantNoData(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, collector.ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}

// liveRoots returns the real host's roots, skipping the test when the file
// the collector reads does not exist here.
func liveRoots(t testing.TB, procOrSys, rel string) hostfs.Roots {
	t.Helper()
	roots := hostfs.DefaultRoots()
	base := roots.Proc
	if procOrSys == "sys" {
		base = roots.Sys
	}
	if _, err := os.Stat(filepath.Join(base, rel)); err != nil {
		t.Skipf("%s not available on this machine: %v", filepath.Join(base, rel), err)
	}
	return roots
}

// benchCollect runs c b.N times with a fresh emitter each time, as a tick does.
func benchCollect(b *testing.B, c collector.Collector) {
	b.Helper()
	ctx := context.Background()
	if err := c.Collect(ctx, collector.NewEmitter()); err != nil && !errors.Is(err, collector.ErrNoData) {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Collect(ctx, collector.NewEmitter()); err != nil && !errors.Is(err, collector.ErrNoData) {
			b.Fatal(err)
		}
	}
}

// benchRoots is the real host when path exists there, else the fixture.
func benchRoots(procOrSys, rel string) hostfs.Roots {
	roots := hostfs.DefaultRoots()
	base := roots.Proc
	if procOrSys == "sys" {
		base = roots.Sys
	}
	if _, err := os.Stat(filepath.Join(base, rel)); err == nil {
		return roots
	}
	return fixtureRoots("host")
}

// stepClock is a clock that tests move by hand.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time { return c.t }
