package filesystem

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

const fixtureRootFS = "testdata/rootfs"

// fakeFS is a fake statfs over the mount points of the fixtures: sizes
// derived from a per-mount number, errors, and hangs until released.
type fakeFS struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string]error
	hang  map[string]chan struct{}
}

func newFakeFS() *fakeFS {
	return &fakeFS{calls: map[string]int{}, errs: map[string]error{}, hang: map[string]chan struct{}{}}
}

// blocks is the number of 4 KiB blocks the fake reports for a mount point.
var blocks = map[string]uint64{
	"/":                  244071936, // 931 GiB
	"/run":               1646059,
	"/run/lock":          1280,
	"/boot/efi":          130812,
	"/data":              1875366912, // 7 TiB
	"/run/user/1000":     1646058,
	"/mnt/datasets":      26843545600,
	"/mnt/scratch space": 100000,
	"/mnt/archive":       976754176,
	"/mnt/shared":        5000,
	"/mnt/gone":          1,
}

func (f *fakeFS) statfs(path string, st *unix.Statfs_t) error {
	mp := strings.TrimPrefix(path, fixtureRootFS)
	if mp == "" {
		mp = "/"
	}
	f.mu.Lock()
	f.calls[mp]++
	err, hang := f.errs[mp], f.hang[mp]
	f.mu.Unlock()
	if hang != nil {
		<-hang
	}
	if err != nil {
		return err
	}
	b, ok := blocks[mp]
	if !ok {
		return unix.ENOENT
	}
	*st = unix.Statfs_t{Bsize: 4096, Blocks: b, Bfree: b / 2, Bavail: b/2 - b/20, Files: b / 4, Ffree: b / 8}
	return nil
}

func (f *fakeFS) callsTo(mp string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[mp]
}

func (f *fakeFS) setHang(mp string) chan struct{} {
	ch := make(chan struct{})
	f.mu.Lock()
	f.hang[mp] = ch
	f.mu.Unlock()
	return ch
}

func (f *fakeFS) clearHang(mp string) {
	f.mu.Lock()
	close(f.hang[mp])
	delete(f.hang, mp)
	f.mu.Unlock()
}

func fixtureRoots() hostfs.Roots {
	return hostfs.Roots{Proc: "testdata/proc", Sys: "testdata/sys", RootFS: fixtureRootFS}
}

func newCollector(t testing.TB, roots hostfs.Roots, cfg Config) collector.Collector {
	t.Helper()
	cs, err := New(roots, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Name() != "filesystem" {
		t.Fatalf("New returned %v", cs)
	}
	return cs[0]
}

func family(fams []*collector.Family, name string) *collector.Family {
	for _, f := range fams {
		if f.Desc.Name == name {
			return f
		}
	}
	return nil
}

// series renders a family's samples as "label|label|...=value", sorted.
func series(fams []*collector.Family, name string) []string {
	f := family(fams, name)
	if f == nil {
		return nil
	}
	var out []string
	for _, s := range f.Samples {
		out = append(out, strings.Join(s.LabelValues, "|")+"="+ftoa(s.Value))
	}
	sort.Strings(out)
	return out
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// value returns the value of a family for a mount point (device_error "").
func value(t *testing.T, fams []*collector.Family, name, mp string) float64 {
	t.Helper()
	f := family(fams, name)
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	for i, s := range f.Samples {
		if f.Label(i, "mountpoint") == mp {
			return s.Value
		}
	}
	t.Fatalf("%s has no sample for %s", name, mp)
	return 0
}

func mountpoints(fams []*collector.Family) string {
	f := family(fams, "node_filesystem_device_error")
	if f == nil {
		return ""
	}
	var out []string
	for i := range f.Samples {
		out = append(out, f.Label(i, "mountpoint"))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

const fixtureMounts = "/,/boot/efi,/data,/mnt/archive,/mnt/datasets,/mnt/scratch space,/mnt/shared,/run,/run/lock,/run/user/1000"

func TestFilesystemCollect(t *testing.T) {
	fake := newFakeFS()
	fake.errs["/run/user/1000"] = unix.EACCES
	var traced []string
	var traceMu sync.Mutex
	roots := fixtureRoots()
	roots.Trace = func(p string) {
		traceMu.Lock()
		traced = append(traced, p)
		traceMu.Unlock()
	}
	c := newCollector(t, roots, Config{Statfs: fake.statfs})
	for tick := 1; tick <= 2; tick++ { // the second tick uses the cached mount table
		traced = nil
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := mountpoints(fams); got != fixtureMounts {
			t.Fatalf("mount points = %s\nwant %s", got, fixtureMounts)
		}
		for _, f := range fams {
			want := "device,mountpoint,fstype,device_error"
			if f.Desc.Name == "node_filesystem_mount_info" {
				want = "device,major,minor,mountpoint"
			}
			if got := strings.Join(f.Desc.LabelNames, ","); got != want || f.Desc.Type != collector.Gauge {
				t.Errorf("%s: labels %s type %v, want %s gauge", f.Desc.Name, got, f.Desc.Type, want)
			}
		}
		// The root file system, with every value.
		const b = 244071936
		for name, want := range map[string]float64{
			"node_filesystem_size_bytes":   b * 4096,
			"node_filesystem_free_bytes":   b / 2 * 4096,
			"node_filesystem_avail_bytes":  (b/2 - b/20) * 4096,
			"node_filesystem_files":        b / 4,
			"node_filesystem_files_free":   b / 8,
			"node_filesystem_readonly":     0,
			"node_filesystem_device_error": 0,
		} {
			if got := value(t, fams, name, "/"); got != want {
				t.Errorf("%s{mountpoint=/} = %v, want %v", name, got, want)
			}
		}
		wantRO := []string{
			"/dev/nvme0n1p1|/boot/efi|vfat|=0",
			"/dev/nvme0n1p2|/|ext4|=0",
			"/dev/nvme1n1p1|/data|xfs|=0",
			"/dev/nvme1n1p2|/mnt/scratch space|ext4|=0",
			"/dev/sdb1|/mnt/archive|ext4|=1", // ro in the super options only
			"10.20.0.5:/export/datasets|/mnt/datasets|nfs4|=1",
			"tmpfs|/run/lock|tmpfs|=0",
			"tmpfs|/run/user/1000|tmpfs|permission denied=0",
			"tmpfs|/run|tmpfs|=0",
			"|/mnt/shared|fuse.sshfs|=0",
		}
		if got := series(fams, "node_filesystem_readonly"); strings.Join(got, "\n") != strings.Join(wantRO, "\n") {
			t.Errorf("readonly =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRO, "\n"))
		}
		wantErr := []string{
			"/dev/nvme0n1p1|/boot/efi|vfat|=0",
			"/dev/nvme0n1p2|/|ext4|=0",
			"/dev/nvme1n1p1|/data|xfs|=0",
			"/dev/nvme1n1p2|/mnt/scratch space|ext4|=0",
			"/dev/sdb1|/mnt/archive|ext4|=0",
			"10.20.0.5:/export/datasets|/mnt/datasets|nfs4|=0",
			"tmpfs|/run/lock|tmpfs|=0",
			"tmpfs|/run/user/1000|tmpfs|permission denied=1",
			"tmpfs|/run|tmpfs|=0",
			"|/mnt/shared|fuse.sshfs|=0",
		}
		if got := series(fams, "node_filesystem_device_error"); strings.Join(got, "\n") != strings.Join(wantErr, "\n") {
			t.Errorf("device_error =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantErr, "\n"))
		}
		// A failed mount has no sizes and no mount_info.
		if n := len(family(fams, "node_filesystem_size_bytes").Samples); n != 9 {
			t.Errorf("size_bytes has %d samples, want 9", n)
		}
		wantInfo := []string{
			"/dev/nvme0n1p1|259|1|/boot/efi=1",
			"/dev/nvme0n1p2|259|2|/=1",
			"/dev/nvme1n1p1|259|4|/data=1",
			"/dev/nvme1n1p2|259|5|/mnt/scratch space=1",
			"/dev/sdb1|8|17|/mnt/archive=1",
			"10.20.0.5:/export/datasets|0|36|/mnt/datasets=1",
			"tmpfs|0|24|/run=1",
			"tmpfs|0|26|/run/lock=1",
			"|0|38|/mnt/shared=1",
		}
		if got := series(fams, "node_filesystem_mount_info"); strings.Join(got, "\n") != strings.Join(wantInfo, "\n") {
			t.Errorf("mount_info =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantInfo, "\n"))
		}
		// One statfs per reported mount (the duplicate /data line is
		// statted once), recorded for the floor benchmark.
		var statfs []string
		for _, p := range traced {
			if strings.HasPrefix(p, "statfs:") {
				statfs = append(statfs, p)
			}
		}
		sort.Strings(statfs)
		if len(statfs) != 10 || statfs[0] != "statfs:testdata/rootfs" || statfs[2] != "statfs:testdata/rootfs/data" {
			t.Errorf("traced statfs calls = %v", statfs)
		}
		if fake.callsTo("/data") != tick {
			t.Errorf("/data statted %d times in %d ticks", fake.callsTo("/data"), tick)
		}
		if traced[0] != "testdata/proc/1/mountinfo" {
			t.Errorf("first read = %s, want testdata/proc/1/mountinfo", traced[0])
		}
	}
}

// TestFilesystemHungStatfs proves that a statfs that never returns on one
// mount does not stop the others, that the mount is reported with
// device_error="mountpoint timeout", that it is not statted again while the
// call is stuck, and that it is statted again once the call returns.
func TestFilesystemHungStatfs(t *testing.T) {
	fake := newFakeFS()
	fake.setHang("/mnt/datasets")
	const timeout = 250 * time.Millisecond
	c := newCollector(t, fixtureRoots(), Config{Statfs: fake.statfs, MountTimeout: timeout})

	start := time.Now()
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
		t.Errorf("first tick took %v, want about the mount timeout %v", d, timeout)
	}
	checkHung := func(tick string, fams []*collector.Family) {
		t.Helper()
		if got := mountpoints(fams); got != fixtureMounts {
			t.Fatalf("%s: mount points = %s", tick, got)
		}
		errs := series(fams, "node_filesystem_device_error")
		if !contains(errs, "10.20.0.5:/export/datasets|/mnt/datasets|nfs4|mountpoint timeout=1") {
			t.Errorf("%s: device_error = %v, want /mnt/datasets timed out", tick, errs)
		}
		if !contains(series(fams, "node_filesystem_readonly"), "10.20.0.5:/export/datasets|/mnt/datasets|nfs4|mountpoint timeout=0") {
			t.Errorf("%s: no readonly series for the timed-out mount", tick)
		}
		for _, s := range errs {
			if !strings.Contains(s, "/mnt/datasets") && !strings.HasSuffix(s, "|=0") {
				t.Errorf("%s: other mount failed: %s", tick, s)
			}
		}
		if n := len(family(fams, "node_filesystem_size_bytes").Samples); n != 9 {
			t.Errorf("%s: size_bytes has %d samples, want the 9 other mounts", tick, n)
		}
		if value(t, fams, "node_filesystem_size_bytes", "/data") != 1875366912*4096 {
			t.Errorf("%s: wrong size for /data", tick)
		}
	}
	checkHung("first tick", fams)

	// While the call is stuck the mount is reported at once, not statted.
	start = time.Now()
	fams, err = collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= timeout {
		t.Errorf("second tick took %v; the stuck mount should not be waited for", d)
	}
	checkHung("second tick", fams)
	if n := fake.callsTo("/mnt/datasets"); n != 1 {
		t.Errorf("/mnt/datasets statted %d times, want 1 (stuck)", n)
	}

	// The call returns: the mount leaves the stuck set and is statted again.
	fake.clearHang("/mnt/datasets")
	waitFor(t, func() bool {
		cc := c.(*filesystemCollector)
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return len(cc.stuck) == 0
	})
	fams, err = collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, fams, "node_filesystem_device_error", "/mnt/datasets"); got != 0 {
		t.Errorf("recovered mount: device_error = %v, want 0", got)
	}
	if got := value(t, fams, "node_filesystem_size_bytes", "/mnt/datasets"); got != 26843545600*4096 {
		t.Errorf("recovered mount: size = %v", got)
	}
	if n := fake.callsTo("/mnt/datasets"); n != 2 {
		t.Errorf("/mnt/datasets statted %d times, want 2", n)
	}
}

// TestFilesystemManyHung hangs more mounts than there are workers: the
// mounts that answer are still reported, because a timed-out call frees its
// worker's place.
func TestFilesystemManyHung(t *testing.T) {
	fake := newFakeFS()
	hung := []string{"/", "/run", "/run/lock"}
	for _, mp := range hung {
		defer fake.clearHang(mp)
		fake.setHang(mp)
	}
	c := newCollector(t, fixtureRoots(), Config{Statfs: fake.statfs, MountTimeout: 50 * time.Millisecond, StatWorkers: 2})
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(family(fams, "node_filesystem_size_bytes").Samples); n != 7 {
		t.Errorf("size_bytes has %d samples, want the 7 mounts that answered", n)
	}
	for _, mp := range hung {
		if v := value(t, fams, "node_filesystem_device_error", mp); v != 1 {
			t.Errorf("%s: device_error = %v, want 1", mp, v)
		}
	}
}

// TestFilesystemDeadline checks that the collector reports a hung mount as
// timed out before its own deadline when the deadline comes before the
// mount timeout, and returns in time without an error.
func TestFilesystemDeadline(t *testing.T) {
	fake := newFakeFS()
	fake.setHang("/data")
	defer fake.clearHang("/data")
	c := newCollector(t, fixtureRoots(), Config{Statfs: fake.statfs, MountTimeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // 50ms kept in reserve
	defer cancel()
	fams, err := collector.CollectOnce(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Errorf("Collect returned after its deadline")
	}
	if !contains(series(fams, "node_filesystem_device_error"), "/dev/nvme1n1p1|/data|xfs|mountpoint timeout=1") {
		t.Errorf("device_error = %v, want /data timed out", series(fams, "node_filesystem_device_error"))
	}
}

// TestFilesystemCanceled checks that mounts never statted make Collect fail.
func TestFilesystemCanceled(t *testing.T) {
	fake := newFakeFS()
	fake.setHang("/")
	defer fake.clearHang("/")
	c := newCollector(t, fixtureRoots(), Config{Statfs: fake.statfs, MountTimeout: time.Hour, StatWorkers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	fams, err := collector.CollectOnce(ctx, c)
	want := "filesystem: 9 of 10 mounts not statted before the deadline: context canceled"
	if err == nil || err.Error() != want || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if got := mountpoints(fams); got != "/" {
		t.Errorf("reported %q, want only the timed-out /", got)
	}
}

// TestFilesystemRealStatfs runs the real statfs over a fixture root file
// system, with the mount table of /proc/self (no /proc/1 in this tree).
func TestFilesystemRealStatfs(t *testing.T) {
	roots := hostfs.Roots{Proc: "testdata/selfonly/proc", RootFS: fixtureRootFS}
	c := newCollector(t, roots, Config{})
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/dev/nvme0n1p2|/|ext4|=0",
		"/dev/nvme1n1p1|/data|xfs|=0",
		"/dev/nvme2n1|/mnt/gone|ext4|no such file or directory=1",
	}
	if got := series(fams, "node_filesystem_device_error"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("device_error =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var st unix.Statfs_t
	if err := unix.Statfs(fixtureRootFS, &st); err != nil {
		t.Fatal(err)
	}
	if got := value(t, fams, "node_filesystem_size_bytes", "/"); got != float64(st.Blocks)*float64(st.Bsize) || got <= 0 {
		t.Errorf("size of / = %v, want %v", got, float64(st.Blocks)*float64(st.Bsize))
	}
}

func TestFilesystemErrors(t *testing.T) {
	proc := t.TempDir()
	c := newCollector(t, hostfs.Roots{Proc: proc, RootFS: fixtureRootFS}, Config{Statfs: newFakeFS().statfs})
	_, err := collector.CollectOnce(context.Background(), c)
	if !errors.Is(err, collector.ErrNoData) {
		t.Errorf("no mount table: err = %v, want ErrNoData", err)
	}
	if err := os.MkdirAll(filepath.Join(proc, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(proc, "1", "mountinfo"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const root = "22 1 259:2 / / rw - ext4 /dev/a rw\n"
	write(root + "42 22 259:4 / /data rw - xfs /dev/b rw\n")
	if _, err := collector.CollectOnce(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	write(root + "23 22 0:21 / /sys rw\n")
	_, err = collector.CollectOnce(context.Background(), c)
	want := proc + `/1/mountinfo:2: expected 6 fields, optional fields and a "-" separator, got 6 fields and no separator (line: "23 22 0:21 / /sys rw")`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	// After the error, a table of the lines known good is planned again.
	write(root)
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := mountpoints(fams); got != "/" {
		t.Errorf("after a parse error: mount points = %q, want /", got)
	}
}

// TestFilesystemMountTableChanges checks that mounts that come and go
// between ticks are followed.
func TestFilesystemMountTableChanges(t *testing.T) {
	proc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	const (
		root  = "22 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw\n"
		data  = "42 22 259:4 / /data rw,noatime - xfs /dev/nvme1n1p1 rw\n"
		boot  = "41 22 259:1 / /boot/efi rw,relatime - vfat /dev/nvme0n1p1 rw\n"
		proc_ = "24 22 0:22 / /proc rw - proc proc rw\n"
	)
	c := newCollector(t, hostfs.Roots{Proc: proc, RootFS: fixtureRootFS}, Config{Statfs: newFakeFS().statfs})
	for i, st := range []struct{ table, want string }{
		{root + data, "/,/data"},
		{root + proc_ + data + boot, "/,/boot/efi,/data"},
		{root + boot, "/,/boot/efi"},
		{root + "42 22 259:4 / /data ro,noatime - xfs /dev/nvme1n1p1 rw\n", "/,/data"},
		{"", ""},
	} {
		if err := os.WriteFile(filepath.Join(proc, "1", "mountinfo"), []byte(st.table), 0o644); err != nil {
			t.Fatal(err)
		}
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := mountpoints(fams); got != st.want {
			t.Errorf("step %d: mount points = %q, want %q", i, got, st.want)
		}
		if i == 3 && value(t, fams, "node_filesystem_readonly", "/data") != 1 {
			t.Errorf("step %d: /data remounted read-only not seen", i)
		}
	}
}

func TestStripRootFS(t *testing.T) {
	c := newFilesystem(hostfs.Roots{RootFS: "/host/"}, Config{}, filter{}, filter{})
	for in, want := range map[string]string{
		"/host":      "/",
		"/host/data": "/data",
		"/hostname":  "/hostname",
		"/data":      "/data",
	} {
		if got := c.stripRootFS(in); got != want {
			t.Errorf("stripRootFS(%q) = %q, want %q", in, got, want)
		}
	}
	if c := newFilesystem(hostfs.Roots{RootFS: "/"}, Config{}, filter{}, filter{}); c.stripRootFS("/data") != "/data" {
		t.Error("RootFS / changed a mount point")
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    string
		wantErr string
	}{
		{name: "mount point include", cfg: Config{MountPointsInclude: `^/(data|mnt/.*)$`},
			want: "/data,/mnt/archive,/mnt/datasets,/mnt/scratch space,/mnt/shared"},
		// A custom exclude replaces the default one: /dev/shm comes back.
		{name: "mount point exclude", cfg: Config{MountPointsExclude: `^/(run|mnt)($|/)`},
			want: "/,/boot/efi,/data,/dev/shm"},
		{name: "type include", cfg: Config{FSTypesInclude: `^(ext4|xfs)$`},
			want: "/,/data,/mnt/archive,/mnt/scratch space"},
		{name: "type exclude", cfg: Config{FSTypesExclude: `^(tmpfs|nfs4|fuse\..*)$`},
			want: "/,/boot/efi,/data,/mnt/archive,/mnt/scratch space,/run/docker/netns/1b2c3d4e5f60,/snap/core20/2318"},
		{name: "both mount point filters", cfg: Config{MountPointsInclude: "a", MountPointsExclude: "b"},
			wantErr: "filesystem config: mount_points_include and mount_points_exclude are mutually exclusive; set only one of them"},
		{name: "both type filters", cfg: Config{FSTypesInclude: "a", FSTypesExclude: "b"},
			wantErr: "filesystem config: fs_types_include and fs_types_exclude are mutually exclusive; set only one of them"},
		{name: "bad regexp", cfg: Config{FSTypesExclude: "("},
			wantErr: "filesystem config: fs_types_exclude \"(\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing closing ): `(`"},
		{name: "bad include regexp", cfg: Config{MountPointsInclude: "[a"},
			wantErr: "filesystem config: mount_points_include \"[a\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing closing ]: `[a`"},
		{name: "negative timeout", cfg: Config{MountTimeout: -time.Second},
			wantErr: "filesystem config: mount_timeout -1s is negative; use a positive duration such as 5s"},
		{name: "negative workers", cfg: Config{StatWorkers: -1},
			wantErr: "filesystem config: stat_workers -1 is negative; use a positive number such as 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Statfs = newFakeFS().statfs
			cs, err := New(fixtureRoots(), tt.cfg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fams, err := collector.CollectOnce(context.Background(), cs[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := mountpoints(fams); got != tt.want {
				t.Errorf("mount points = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestFilesystemLive runs the collector on this machine: the root file
// system is reported with the size statfs gives.
func TestFilesystemLive(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skipf("no mount table: %v", err)
	}
	c := newCollector(t, hostfs.DefaultRoots(), Config{})
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		t.Fatal(err)
	}
	if got := value(t, fams, "node_filesystem_size_bytes", "/"); got != float64(st.Blocks)*float64(st.Bsize) || got <= 0 {
		t.Errorf("size of / = %v, want %v", got, float64(st.Blocks)*float64(st.Bsize))
	}
	if got := value(t, fams, "node_filesystem_device_error", "/"); got != 0 {
		t.Errorf("device_error of / = %v", got)
	}
	for _, mp := range strings.Split(mountpoints(fams), ",") {
		if strings.HasPrefix(mp, "/proc") || strings.HasPrefix(mp, "/sys") || strings.HasPrefix(mp, "/dev") {
			t.Errorf("%s should be excluded by default", mp)
		}
	}
}

func BenchmarkCollectFilesystem(b *testing.B) {
	roots := hostfs.DefaultRoots()
	var cfg Config
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		roots, cfg = fixtureRoots(), Config{Statfs: newFakeFS().statfs}
	}
	c := newCollector(b, roots, cfg)
	b.ReportAllocs()
	for b.Loop() {
		e := collector.NewEmitter()
		if err := c.Collect(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
