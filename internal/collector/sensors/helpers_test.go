package sensors

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fixtureRoots reads the fixture sysfs tree under testdata/sys.
func fixtureRoots() hostfs.Roots {
	return hostfs.Roots{Sys: filepath.Join("testdata", "sys")}
}

// copyFixture copies testdata/sys (symlinks kept) into a temporary
// directory that the test may change, and returns roots reading it.
func copyFixture(t testing.TB) hostfs.Roots {
	t.Helper()
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join("testdata", "sys"), dst).CombinedOutput(); err != nil {
		t.Fatalf("copy fixture: %v: %s", err, out)
	}
	return hostfs.Roots{Sys: filepath.Join(dst, "sys")}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }
func mustOptions(t testing.TB, cfg Config) options {
	t.Helper()
	o, err := cfg.options()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// collectText runs c once and returns its output in the text format,
// families sorted by name.
func collectText(t testing.TB, c collector.Collector) string {
	t.Helper()
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	b, err := exposition.Text(collector.MergeFamilies(fams))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkGolden compares got with testdata/golden/<name>.txt (UPDATE_GOLDEN=1
// rewrites it).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", "golden", name+".txt"), []byte(got))
}

// writeFile replaces a fixture file's content.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// traceCounter counts the reads of paths ending in any of the suffixes.
type traceCounter struct {
	suffixes []string
	n        int
}

func (tc *traceCounter) trace(path string) {
	for _, s := range tc.suffixes {
		if strings.HasSuffix(path, s) {
			tc.n++
			return
		}
	}
}
