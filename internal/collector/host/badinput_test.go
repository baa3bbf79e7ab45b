package host

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// copyFixture copies testdata/root into a temporary directory that a test
// may damage.
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	// cp -a keeps the sysfs symlinks.
	if out, err := exec.Command("cp", "-a", "testdata/root/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copy fixture: %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "-a", fixtureSys(t), filepath.Join(dst, "sys")).CombinedOutput(); err != nil {
		t.Fatalf("copy fixture sys: %v\n%s", err, out)
	}
	return dst
}

// TestDamagedFilesDisableOnlyTheirCollector removes, blocks and corrupts
// files of three collectors and checks that exactly those fail, each with a
// reason that names the file (and line, for malformed content), in the
// self-metrics and in the log, while every other collector still works.
func TestDamagedFilesDisableOnlyTheirCollector(t *testing.T) {
	root := copyFixture(t)
	cfg := fixtureConfig(t)
	cfg.Roots.Proc = filepath.Join(root, "proc")
	cfg.Roots.Sys = filepath.Join(root, "sys")
	cfg.Roots.RootFS = filepath.Join(root, "rootfs")

	// meminfo: missing.
	if err := os.Remove(filepath.Join(root, "proc/meminfo")); err != nil {
		t.Fatal(err)
	}
	// loadavg: unreadable (a directory where the file should be; root can
	// read any mode bits, so chmod would prove nothing here).
	if err := os.Remove(filepath.Join(root, "proc/loadavg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "proc/loadavg"), 0o755); err != nil {
		t.Fatal(err)
	}
	// diskstats: a malformed third line.
	ds := filepath.Join(root, "proc/diskstats")
	b, err := os.ReadFile(ds)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[2] = " 259       0 nvme0n1 12 x 3\n"
	if err := os.WriteFile(ds, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}

	cs, err := Collectors(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	r, err := collector.NewRunner(collector.RunnerOptions{Timeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}, cs...)
	if err != nil {
		t.Fatal(err)
	}
	snap := r.Tick(context.Background())

	wantFail := map[string]string{
		"meminfo":   filepath.Join(root, "proc/meminfo") + " does not exist",
		"loadavg":   filepath.Join(root, "proc/loadavg") + ": is a directory",
		"diskstats": filepath.Join(root, "proc/diskstats") + ":3:",
	}
	for _, st := range snap.Collectors {
		want, shouldFail := wantFail[st.Name]
		switch {
		case shouldFail && st.Success:
			t.Errorf("%s succeeded on a damaged file", st.Name)
		case shouldFail && !strings.Contains(st.Error, want):
			t.Errorf("%s error %q does not contain %q", st.Name, st.Error, want)
		case !shouldFail && !st.Success && !strings.Contains(st.Error, collector.ErrNoData.Error()):
			t.Errorf("%s failed although its files are intact: %s", st.Name, st.Error)
		}
	}
	success := snap.Family("trainwatch_collector_success")
	for i := range success.Samples {
		name := success.Label(i, "collector")
		if _, bad := wantFail[name]; bad && success.Samples[i].Value != 0 {
			t.Errorf("trainwatch_collector_success{collector=%q} = %v, want 0", name, success.Samples[i].Value)
		}
	}
	if snap.Family("node_cpu_seconds_total") == nil || snap.Family("node_network_receive_bytes_total") == nil {
		t.Error("intact collectors produced nothing")
	}
	if snap.Family("node_memory_MemTotal_bytes") != nil || snap.Family("node_load1") != nil {
		t.Error("a failed collector with no earlier values still produced metrics")
	}
	log := logBuf.String()
	for name := range wantFail {
		if !strings.Contains(log, "collector="+name) {
			t.Errorf("log does not mention the failing collector %s:\n%s", name, log)
		}
	}
}
