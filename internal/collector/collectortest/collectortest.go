// Package collectortest holds helpers for testing collectors: picking one
// collector by name, collecting once, finding samples, comparing errors,
// and benchmarking a collector the way the Runner calls it.
package collectortest

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// Pick returns the collector with the given name from a package's New
// result, failing the test if New failed or there is none.
func Pick(t testing.TB, cs []collector.Collector, err error, name string) collector.Collector {
	t.Helper()
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

// CollectOK runs c once and fails the test on error.
func CollectOK(t testing.TB, c collector.Collector) []*collector.Family {
	t.Helper()
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	return fams
}

// Family returns the family with the given name, or nil.
func Family(fams []*collector.Family, name string) *collector.Family {
	for _, f := range fams {
		if f.Desc.Name == name {
			return f
		}
	}
	return nil
}

// Value returns the value of the sample of family name whose labels are
// the given name/value pairs (all of the family's labels).
func Value(t testing.TB, fams []*collector.Family, name string, labels ...string) float64 {
	t.Helper()
	f := Family(fams, name)
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

// Count returns the number of samples of a family (0 if absent).
func Count(fams []*collector.Family, name string) int {
	if f := Family(fams, name); f != nil {
		return len(f.Samples)
	}
	return 0
}

// Names lists the families' names and sample counts in emission order.
func Names(fams []*collector.Family) string {
	var s []string
	for _, f := range fams {
		s = append(s, fmt.Sprintf("%s(%d)", f.Desc.Name, len(f.Samples)))
	}
	return strings.Join(s, " ")
}

// WantErr fails the test unless err's text is exactly want.
func WantErr(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
}

// WantNoData fails the test unless err is collector.ErrNoData.
func WantNoData(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, collector.ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}

func hostBase(procOrSys string) string {
	roots := hostfs.DefaultRoots()
	if procOrSys == "sys" {
		return roots.Sys
	}
	return roots.Proc
}

// LiveRoots returns the real host's roots, skipping the test when the file
// the collector reads (rel, under "proc" or "sys") does not exist here.
func LiveRoots(t testing.TB, procOrSys, rel string) hostfs.Roots {
	t.Helper()
	p := filepath.Join(hostBase(procOrSys), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not available on this machine: %v", p, err)
	}
	return hostfs.DefaultRoots()
}

// BenchRoots is the real host when rel exists there, else fixture.
func BenchRoots(procOrSys, rel string, fixture hostfs.Roots) hostfs.Roots {
	if _, err := os.Stat(filepath.Join(hostBase(procOrSys), rel)); err == nil {
		return hostfs.DefaultRoots()
	}
	return fixture
}

// Bench runs c b.N times with a fresh emitter each time, as a tick does.
func Bench(b *testing.B, c collector.Collector) {
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

// ExtractTar unpacks a fixture tree kept as a tar archive (sysfs trees
// have ':' in their paths, which Go module zips do not allow) into a
// temporary directory and returns that directory. Directories, regular
// files and symbolic links are restored.
func ExtractTar(t testing.TB, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dst := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dst
		}
		if err != nil {
			t.Fatalf("%s: %v", archive, err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
			t.Fatalf("%s: entry %q leaves the archive's directory", archive, h.Name)
		}
		p := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var out *os.File
				if out, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o200); err == nil {
					_, err = io.Copy(out, tr)
					if cerr := out.Close(); err == nil {
						err = cerr
					}
				}
			}
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.Symlink(h.Linkname, p)
			}
		default:
			err = fmt.Errorf("unsupported entry type %q", h.Typeflag)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", archive, h.Name, err)
		}
	}
}

// WantParseError fails the test unless err is a *hostfs.ParseError whose
// text is exactly want (file, line, what was wrong and the line itself).
func WantParseError(t testing.TB, err error, want string) {
	t.Helper()
	var pe *hostfs.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *hostfs.ParseError", err)
	}
	if err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
}
