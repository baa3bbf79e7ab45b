package process

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fixtureRoots copies testdata/proc into a temporary directory (so that
// tests may change or remove processes) and returns roots over it.
func fixtureRoots(t testing.TB) (hostfs.Roots, string) {
	t.Helper()
	dir := t.TempDir()
	proc := filepath.Join(dir, "proc")
	if err := os.CopyFS(proc, os.DirFS("testdata/proc")); err != nil {
		t.Fatal(err)
	}
	rootfs, err := filepath.Abs("testdata/rootfs")
	if err != nil {
		t.Fatal(err)
	}
	return hostfs.Roots{Proc: proc, Sys: dir, RootFS: rootfs, Dev: dir, Run: dir}, proc
}

// denyIO makes the io file of sshd (600) unreadable, as it is for a
// non-root agent: tests run as root, where chmod does not deny reads, so
// the scanner's read hook returns EACCES instead.
func denyIO(path string) error {
	if strings.HasSuffix(path, "/600/io") {
		return syscall.EACCES
	}
	return nil
}

func fixtureScanner(t testing.TB) (*Scanner, string) {
	roots, proc := fixtureRoots(t)
	s := NewScanner(roots, nil)
	t.Cleanup(func() { _ = s.Close() })
	s.hook = denyIO
	s.page = 4096 // the fixture's rss is in 4 KiB pages on every machine
	return s, proc
}

func TestScanFixture(t *testing.T) {
	s, _ := fixtureScanner(t)
	tab, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Latest() != tab {
		t.Fatal("Latest is not the scanned table")
	}
	var pids []int
	for pid := range tab.Procs {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	if want := []int{1, 2, 3, 200, 201, 202, 203, 300, 410, 420, 600}; !slices.Equal(pids, want) {
		t.Fatalf("pids = %v, want %v", pids, want)
	}
	if tab.ReadErrors != 0 || tab.PartialErrors != 1 {
		t.Errorf("read errors %d, partial errors %d; want 0, 1 (sshd's io)", tab.ReadErrors, tab.PartialErrors)
	}
	const page = 4096
	p := tab.Procs[200]
	want := Proc{
		PID: 200, PPID: 1, StartTime: time.Unix(1767225600, 0).Add(3456780 * time.Millisecond),
		Comm: "python3", Cmdline: "python3 train.py --epochs=10", Exe: "python3", User: "alice", UID: 1000,
		State: 'S', UserSeconds: 3600, SystemSeconds: 120,
		ResidentBytes: 2500000 * page, VirtualBytes: 30000000000, SwapBytes: 1024 * 1024,
		MajorFaults: 12, MinorFaults: 900000, NumThreads: 24, OpenFDs: 40, MaxFDs: 1024,
		ReadBytes: 500000000, WriteBytes: 100000000,
		VoluntaryCtxSwitches: 80000, NonvoluntaryCtxSwitches: 7000,
		Container: "4f0e9c3b2a1d", Runtime: "docker",
		Cgroup: "/docker/4f0e9c3b2a1d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f", StartTicks: 345678,
	}
	if !p.StartTime.Equal(want.StartTime) {
		t.Errorf("start time %v, want %v", p.StartTime, want.StartTime)
	}
	want.StartTime = p.StartTime
	if !equalProc(*p, want) {
		t.Errorf("pid 200:\n got %+v\nwant %+v", *p, want)
	}

	// Kernel threads: by PF_KTHREAD, and kthreadd itself.
	for _, pid := range []int{2, 3} {
		if !tab.Procs[pid].KernelThread {
			t.Errorf("pid %d is not flagged as a kernel thread", pid)
		}
	}
	for _, pid := range []int{1, 200, 203} {
		if tab.Procs[pid].KernelThread {
			t.Errorf("pid %d is flagged as a kernel thread", pid)
		}
	}
	// The zombie: state Z, no fds, io not read (not an error).
	z := tab.Procs[203]
	if z.State != 'Z' || z.OpenFDs != 0 || z.Has("io") || !z.Has("fd") || z.Cmdline != "" {
		t.Errorf("zombie: %+v", *z)
	}
	// Permission denied on io: omitted, not zero.
	ssh := tab.Procs[600]
	if !slices.Equal(ssh.Missing, []string{"io"}) || ssh.OpenFDs != 5 || ssh.SwapBytes != 100*1024 {
		t.Errorf("sshd: %+v", *ssh)
	}
	// Cgroup attribution through procinfo: containerd in a pod (v2),
	// Slurm v1 and v2.
	if p := tab.Procs[300]; p.Container != "3f9d2c1b8a7e" || p.Runtime != "containerd" ||
		p.Pod != "0f3c6a2e-5b1d-4c7e-9a8b-2d4e6f8a0b1c" || p.User != "bob" || p.Exe != "python3" {
		t.Errorf("pod process: %+v", *p)
	}
	if p := tab.Procs[410]; p.SlurmJob != "1234" || p.Container != "" {
		t.Errorf("slurm v1 process: %+v", *p)
	}
	if p := tab.Procs[420]; p.SlurmJob != "5678" || p.Exe != "/usr/bin/python3" {
		t.Errorf("slurm v2 process: %+v", *p)
	}
	if p := tab.Procs[201]; p.PPID != 200 || p.State != 'R' {
		t.Errorf("child: %+v", *p)
	}
}

func equalProc(a, b Proc) bool {
	if !slices.Equal(a.Missing, b.Missing) {
		return false
	}
	a.Missing, b.Missing = nil, nil
	return reflect.DeepEqual(a, b)
}

func TestScanRates(t *testing.T) {
	s, proc := fixtureScanner(t)
	t0 := time.Unix(1767300000, 0)
	now := t0
	s.now = func() time.Time { return now }
	tab, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := tab.Procs[200]; p.CPUPercent != 0 || p.ReadBytesPerSecond != 0 {
		t.Fatalf("first scan has rates: %+v", *p)
	}
	// Two seconds later pid 200 used 100 more ticks of user time and
	// read 4 MB more.
	rewrite(t, filepath.Join(proc, "200/stat"), " 360000 12000 ", " 360100 12000 ")
	rewrite(t, filepath.Join(proc, "200/io"), "read_bytes: 500000000", "read_bytes: 504000000")
	now = t0.Add(2 * time.Second)
	if tab, err = s.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := tab.Procs[200]
	if p.CPUPercent != 50 || p.ReadBytesPerSecond != 2e6 || p.WriteBytesPerSecond != 0 {
		t.Errorf("cpu %v%%, read %v B/s, write %v B/s; want 50, 2e6, 0", p.CPUPercent, p.ReadBytesPerSecond, p.WriteBytesPerSecond)
	}
	// A new process under the same PID (another starttime) starts over.
	rewrite(t, filepath.Join(proc, "200/stat"), " 345678 ", " 999999 ")
	now = t0.Add(4 * time.Second)
	if tab, err = s.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := tab.Procs[200]; p.CPUPercent != 0 || p.StartTicks != 999999 {
		t.Errorf("reused pid: %+v", *p)
	}
}

func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScanVanishMidRead removes a process's directory after its first
// file was read: the process is left out, with no error and no partial
// entry, at whichever file it vanishes.
func TestScanVanishMidRead(t *testing.T) {
	for _, file := range []string{"stat", "status", "io", "fd", "cmdline"} {
		t.Run(file, func(t *testing.T) {
			s, proc := fixtureScanner(t)
			s.hook = func(path string) error {
				if path == filepath.Join(proc, "201", file) {
					if err := os.RemoveAll(filepath.Join(proc, "201")); err != nil {
						t.Fatal(err)
					}
				}
				return denyIO(path)
			}
			tab, err := s.Scan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tab.Procs[201]; ok {
				t.Fatal("pid 201 vanished but is in the table")
			}
			if len(tab.Procs) != 10 || tab.ReadErrors != 0 || tab.PartialErrors != 1 {
				t.Fatalf("%d processes, %d read errors, %d partial; want 10, 0, 1", len(tab.Procs), tab.ReadErrors, tab.PartialErrors)
			}
		})
	}
}

func TestScanESRCH(t *testing.T) {
	s, _ := fixtureScanner(t)
	s.hook = func(path string) error {
		if strings.HasSuffix(path, "/202/status") {
			return syscall.ESRCH
		}
		return nil
	}
	tab, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Procs[202]; ok || tab.PartialErrors != 0 {
		t.Fatalf("ESRCH: pid 202 present=%v, partial errors %d", ok, tab.PartialErrors)
	}
}

func TestScanMalformedStat(t *testing.T) {
	s, proc := fixtureScanner(t)
	if err := os.WriteFile(filepath.Join(proc, "410/stat"), []byte("410 (python) S 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tab, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Procs[410]; ok || tab.ReadErrors != 1 {
		t.Fatalf("malformed stat: present=%v, read errors %d; want absent, 1", ok, tab.ReadErrors)
	}
}

func TestScanNoProc(t *testing.T) {
	s := NewScanner(hostfs.Roots{Proc: filepath.Join(t.TempDir(), "nope")}, nil)
	_, err := s.Scan(context.Background())
	if err == nil || !strings.Contains(err.Error(), "list processes in") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseStat(t *testing.T) {
	line := "42 (a (weird) name) R 7 42 42 0 -1 2129984 11 0 13 0 15 16 0 0 20 0 3 0 22 23 24 18446744073709551615 1 1\n"
	var f statFields
	if !parseStat([]byte(line), &f) {
		t.Fatal("parse failed")
	}
	if string(f.comm) != "a (weird) name" || f.state != 'R' || f.ppid != 7 || f.flags != 2129984 ||
		f.minflt != 11 || f.majflt != 13 || f.utime != 15 || f.stime != 16 || f.threads != 3 ||
		f.start != 22 || f.vsize != 23 || f.rss != 24 {
		t.Fatalf("%+v", f)
	}
	for _, bad := range []string{
		"", "42 name) R", "42 (x) R 1 2 3", "42 (x) RR 7 42 42 0 -1 1 11 0 13 0 15 16 0 0 20 0 3 0 22 23 24",
		"42 (x) R 7 42 42 0 -1 1 11 0 13 0 15 -16 0 0 20 0 3 0 22 23 24",
	} {
		if parseStat([]byte(bad), &f) {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseStatusIOLimits(t *testing.T) {
	var p Proc
	if !parseStatus([]byte("Name:\tx\nVmSwap:\t   12 kB\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t6\n"), &p) ||
		p.SwapBytes != 12*1024 || p.VoluntaryCtxSwitches != 5 || p.NonvoluntaryCtxSwitches != 6 {
		t.Errorf("status: %+v", p)
	}
	if parseStatus([]byte("VmSwap:\tlots kB\n"), &p) {
		t.Error("malformed VmSwap parsed")
	}
	if !parseIO([]byte("rchar: 1\nread_bytes: 7\nwrite_bytes: 8\n"), &p) || p.ReadBytes != 7 || p.WriteBytes != 8 {
		t.Errorf("io: %+v", p)
	}
	if parseIO([]byte("rchar: 1\n"), &p) || parseIO([]byte("read_bytes: x\nwrite_bytes: 1\n"), &p) ||
		parseIO([]byte("read_bytes: 1\nread_bytes: 2\n"), &p) || parseIO([]byte("write_bytes: 1\nwrite_bytes: 2\n"), &p) {
		t.Error("malformed io parsed")
	}
	lim := "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            4096                 524288               files     \n"
	if n := parseLimitsNoFile([]byte(lim)); n != 4096 {
		t.Errorf("limits: %d", n)
	}
	if n := parseLimitsNoFile([]byte(strings.Replace(lim, "4096", "unlimited", 1))); n != 0 {
		t.Errorf("unlimited: %d", n)
	}
}

// TestScanLive spawns a process tree, finds it with its PPID links, and
// sees it vanish cleanly after it is killed.
func TestScanLive(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot run sh:", err)
	}
	sh := cmd.Process.Pid
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	s := NewScanner(hostfs.DefaultRoots(), nil)
	c, err := NewCollector(s, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var kids []int
	deadline := time.Now().Add(5 * time.Second)
	for {
		e := newEmitter()
		if err := c.Collect(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		tab := s.Latest()
		kids = kids[:0]
		for _, p := range tab.Procs {
			if p.PPID == sh && p.Comm == "sleep" {
				kids = append(kids, p.PID)
			}
		}
		if len(kids) == 2 {
			if p := tab.Procs[sh]; p == nil || p.Comm != "sh" || p.PPID != os.Getpid() {
				t.Fatalf("sh (%d): %+v", sh, p)
			}
			if n := sampleValue(e, "namedprocess_namegroup_num_procs", "sleep"); n < 2 {
				t.Fatalf("group sleep has %v processes, want >= 2", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("found sleep children %v of sh %d", kids, sh)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, k := range kids {
		if err := syscall.Kill(k, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	// sh's wait reaps the children, then sh exits.
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sh: %v", err)
	}
	tab, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range append(kids, sh) {
		if p, ok := tab.Procs[pid]; ok {
			t.Errorf("pid %d still in the table: %+v", pid, *p)
		}
	}
	if tab.ReadErrors != 0 {
		t.Errorf("%d read errors", tab.ReadErrors)
	}
}

// TestLatestConcurrent reads the latest table while scans replace it
// (run with -race).
func TestLatestConcurrent(t *testing.T) {
	s, _ := fixtureScanner(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if tab := s.Latest(); tab != nil {
				for _, p := range tab.Procs {
					_ = p.Comm + p.User + p.Cmdline
					_ = p.CPUPercent + p.ReadBytesPerSecond
				}
			}
		}
	}()
	for i := 0; i < 10; i++ {
		if _, err := s.Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
}

// TestParseStatusVmSwapOverflow: a VmSwap in kB whose bytes do not fit a
// uint64 is refused, not wrapped around (FuzzProcFiles found
// 11710000000000000000 kB read as 640968836710400 kB).
func TestParseStatusVmSwapOverflow(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		swap uint64
	}{
		{"VmSwap:\t0 kB", true, 0},
		{"VmSwap:\t18014398509481983 kB", true, 18014398509481983 * 1024}, // MaxUint64/1024
		{"VmSwap:\t18014398509481984 kB", false, 0},
		{"VmSwap:11710000000000000000A", false, 0},
		{"VmSwap:\t18446744073709551615 kB", false, 0},
		{"VmSwap:\t18446744073709551616 kB", false, 0},
	} {
		var p Proc
		ok := parseStatus([]byte("Name:\tx\n"+tc.line+"\nvoluntary_ctxt_switches:\t5\n"), &p)
		if ok != tc.ok || p.SwapBytes != tc.swap || p.VoluntaryCtxSwitches != 5 {
			t.Errorf("%q: ok %v, swap %d, ctxt %d; want %v, %d, 5", tc.line, ok, p.SwapBytes, p.VoluntaryCtxSwitches, tc.ok, tc.swap)
		}
	}
}
