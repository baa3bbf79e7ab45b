package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector/collectortest"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// fixtureConfig collects from testdata/root with every outside input
// (statfs, the clock, adjtimex, uname's machine) made deterministic.
func fixtureConfig(t *testing.T) Config {
	t.Helper()
	root, err := filepath.Abs("testdata/root")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	cfg.Roots = hostfs.Roots{
		Proc:   filepath.Join(root, "proc"),
		Sys:    fixtureSys(t),
		RootFS: filepath.Join(root, "rootfs"),
		Dev:    filepath.Join(root, "dev"),
		Run:    filepath.Join(root, "run"),
	}
	// tcpstat needs a live netlink socket; it has its own tests.
	cfg.Disable = []string{"tcpstat"}
	cfg.System.Machine = "x86_64"
	cfg.System.Now = func() time.Time { return time.Unix(1764339600, 500e6).UTC() }
	cfg.System.Adjtimex = func(tx *syscall.Timex) (int, error) {
		*tx = syscall.Timex{Offset: 1500, Freq: -1000 << 16, Maxerror: 16000, Esterror: 1000, Constant: 7, Precision: 1, Tolerance: 32768000, Tick: 10000, Status: 0x2001}
		return 0, nil
	}
	cfg.Filesystem.Statfs = func(path string, st *unix.Statfs_t) error {
		rel, err := filepath.Rel(cfg.Roots.RootFS, path)
		if err != nil {
			return err
		}
		// Sizes derived from the path, so each mount has its own.
		n := uint64(len(rel) + 1)
		*st = unix.Statfs_t{Bsize: 4096, Frsize: 4096, Blocks: 1 << 20 * n, Bfree: 1 << 19 * n, Bavail: 1 << 18 * n, Files: 1 << 16 * n, Ffree: 1 << 15 * n}
		return nil
	}
	return cfg
}

// fixtureSys unpacks testdata/root-sys.tar, the fixture's /sys. It is kept
// as an archive because sysfs paths contain ':', which Go module zips do
// not allow.
func fixtureSys(t testing.TB) string {
	t.Helper()
	return filepath.Join(collectortest.ExtractTar(t, "testdata/root-sys.tar"), "sys")
}

// volatile families depend on timing, not on the fixture.
var volatile = map[string]bool{
	"trainwatch_collector_duration_seconds":               true,
	"node_scrape_collector_duration_seconds":              true,
	"trainwatch_tick_duration_seconds":                    true,
	"trainwatch_collector_last_success_timestamp_seconds": true,
}

func fixtureExposition(t *testing.T) []byte {
	t.Helper()
	cs, err := Collectors(fixtureConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := collector.NewRunner(collector.RunnerOptions{Timeout: 10 * time.Second}, cs...)
	if err != nil {
		t.Fatal(err)
	}
	snap := r.Tick(context.Background())
	for _, st := range snap.Collectors {
		if !st.Success && !strings.Contains(st.Error, collector.ErrNoData.Error()) {
			t.Errorf("collector %s failed on the fixture: %s", st.Name, st.Error)
		}
	}
	var fams []*collector.Family
	for _, f := range snap.Families {
		if !volatile[f.Desc.Name] {
			fams = append(fams, f)
		}
	}
	b, err := exposition.Text(fams)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenMetrics is the end-to-end diff of /metrics over the fixture
// tree. Regenerate with UPDATE_GOLDEN=1 go test ./internal/collector/host/
// and review the diff.
func TestGoldenMetrics(t *testing.T) {
	got := fixtureExposition(t)
	testenv.Golden(t, filepath.Join("testdata", "e2e-output.txt"), got)
}

func TestGoldenPassesPromtool(t *testing.T) {
	if problems := testenv.PromtoolCheckMetrics(t, fixtureExposition(t)); len(problems) > 0 {
		t.Fatalf("promtool check metrics:\n%s", strings.Join(problems, "\n"))
	}
}

// TestDashboardCoverage checks the share of the names used by Grafana
// dashboard 1860 that the fixture produces, against the list of names that
// docs/metrics.md explains as not emitted.
func TestDashboardCoverage(t *testing.T) {
	// The list lives in the shared compat folder beside the repository.
	names, err := os.ReadFile("../../../../shared/compat/dashboards/node-exporter-full.metrics.txt")
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("dashboard 1860 name list: %v", err)
		}
		t.Skipf("dashboard 1860 name list not found: %v", err)
	}
	exp := string(fixtureExposition(t))
	var missing []string
	total := 0
	for _, n := range strings.Fields(string(names)) {
		if !strings.HasPrefix(n, "node_") {
			continue
		}
		total++
		if !strings.Contains(exp, "\n"+n+"{") && !strings.Contains(exp, "\n"+n+" ") {
			missing = append(missing, n)
		}
	}
	doc, err := os.ReadFile("../../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range missing {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("%s is used by dashboard 1860, not emitted, and not explained in docs/metrics.md", n)
		}
	}
	got := float64(total-len(missing)) / float64(total)
	t.Logf("dashboard 1860: %d of %d node_* names emitted on the fixture (%.1f%%)", total-len(missing), total, 100*got)
	if got < 0.9 {
		t.Errorf("only %.1f%% of dashboard 1860's names are emitted; want at least 90%%", 100*got)
	}
}

func TestUnknownCollectorIsAnError(t *testing.T) {
	_, err := Collectors(Config{Disable: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `unknown collector "nope"; known collectors: `) {
		t.Fatalf("err = %v", err)
	}
}
