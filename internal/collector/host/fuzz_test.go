package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// perProcess matches the fixture's per-process and /proc/sys files.
var perProcess = regexp.MustCompile(`^proc/([0-9]+|sys)/`)

// FuzzHostFiles replaces one file of the fixture host (any file of its
// /proc, /sys or /etc/os-release, chosen by number) with any content, as an
// exotic or future kernel might write it, and collects: no collector or
// deriver panics (the runner would recover it), none hangs, a collector
// that fails says why, and the exposition stays valid (it parses, and
// every label value is UTF-8).
func FuzzHostFiles(f *testing.F) {
	root := f.TempDir()
	if out, err := exec.Command("cp", "-a", "testdata/root/.", root).CombinedOutput(); err != nil {
		f.Fatalf("copy fixture: %v\n%s", err, out)
	}
	sys := fixtureSys(f)
	var files []string
	for _, dir := range []string{filepath.Join(root, "proc"), filepath.Join(root, "rootfs"), sys} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if info, err := d.Info(); err == nil && info.Size() <= 64<<10 {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	sort.Strings(files)
	orig := make(map[string][]byte, len(files))
	for i, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		orig[p] = b
		// Seed each system-wide file of /proc and /etc (not the per-process
		// ones, nor /proc/sys) with its own content cut in half: every
		// seed is a collection, replayed by plain go test.
		if rel, _ := filepath.Rel(root, p); !perProcess.MatchString(rel) && !strings.HasPrefix(rel, "..") {
			f.Add(uint16(i), b[:len(b)/2])
		}
	}
	cfg := Config{Roots: hostfs.Roots{
		Proc: filepath.Join(root, "proc"), Sys: sys, RootFS: filepath.Join(root, "rootfs"),
		Dev: filepath.Join(root, "dev"), Run: filepath.Join(root, "run"),
	}}
	cfg.Disable = []string{"tcpstat"} // needs a live netlink socket
	cfg.System.Machine = "x86_64"
	cfg.System.Now = func() time.Time { return time.Unix(1764339600, 500e6).UTC() }
	cfg.System.Adjtimex = func(tx *syscall.Timex) (int, error) { *tx = syscall.Timex{Status: 0x2001}; return 0, nil }
	cfg.Filesystem.Statfs = func(path string, st *unix.Statfs_t) error {
		*st = unix.Statfs_t{Bsize: 4096, Frsize: 4096, Blocks: 1 << 20, Bfree: 1 << 19, Bavail: 1 << 18, Files: 1 << 16, Ffree: 1 << 15}
		return nil
	}

	f.Fuzz(func(t *testing.T, idx uint16, data []byte) {
		p := files[int(idx)%len(files)]
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.WriteFile(p, orig[p], 0o644); err != nil {
				t.Fatal(err)
			}
		}()
		cs, err := Collectors(cfg)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		// The runner recovers a panic into an error, and a deriver's
		// panic into a log line: both are failures here, as is a
		// collector that misses its deadline on a small file.
		var logs bytes.Buffer
		r, err := collector.NewRunner(collector.RunnerOptions{
			Timeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		}, cs...)
		if err != nil {
			t.Fatal(err)
		}
		snap := r.Tick(context.Background())
		for _, st := range snap.Collectors {
			switch {
			case !st.Success && st.Error == "":
				t.Fatalf("%s with %q: collector %s failed without a reason", p, data, st.Name)
			case strings.HasPrefix(st.Error, "panic:"):
				t.Fatalf("%s with %q: collector %s panicked: %s", p, data, st.Name, st.Error)
			case st.Stale && !st.Success && strings.Contains(st.Error, "deadline"):
				t.Fatalf("%s with %q: collector %s hung: %s", p, data, st.Name, st.Error)
			}
		}
		if strings.Contains(logs.String(), `msg="deriver panicked`) {
			t.Fatalf("%s with %q: a panic was logged:\n%s", p, data, logs.String())
		}
		for _, fam := range snap.Families {
			for _, s := range fam.Samples {
				for j, v := range s.LabelValues {
					if !utf8.ValidString(v) {
						t.Fatalf("%s with %q: %s{%s=%q}: not UTF-8", p, data, fam.Desc.Name, fam.Desc.LabelNames[j], v)
					}
				}
			}
		}
		txt, err := exposition.Text(snap.Families)
		if err != nil {
			t.Fatal(err)
		}
		tp := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := tp.TextToMetricFamilies(bytes.NewReader(txt)); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("%s with %q: the exposition does not parse: %v", p, data, err)
		}
	})
}
