package process

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// openFDs returns this test process's open descriptors and what each
// refers to (readlink of /proc/self/fd/N).
func openFDs(t *testing.T) map[int]string {
	t.Helper()
	names, err := hostfs.ReadDirNames("/proc/self/fd")
	if err != nil {
		t.Skip("cannot list /proc/self/fd:", err)
	}
	out := make(map[int]string, len(names))
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + n); err == nil {
			out[fd] = target
		}
	}
	return out
}

// fdsTo lists the open descriptors that refer to a path with prefix.
func fdsTo(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for fd, target := range openFDs(t) {
		if strings.HasPrefix(target, prefix) {
			out = append(out, strconv.Itoa(fd)+"->"+target)
		}
	}
	return out
}

// checkKept checks the Scanner's count of kept descriptors against its
// states, and that each kept descriptor is open on its state's file.
func checkKept(t *testing.T, s *Scanner) {
	t.Helper()
	fds := openFDs(t)
	n := 0
	for pid, st := range s.states {
		for _, k := range []struct {
			fd   int
			path string
		}{{st.statFD, st.statPath}, {st.schedstatFD, st.schedstatPath}} {
			if k.fd < 0 {
				continue
			}
			n++
			if fds[k.fd] != k.path {
				t.Errorf("pid %d: descriptor %d refers to %q, want %s", pid, k.fd, fds[k.fd], k.path)
			}
		}
	}
	if n != s.kept {
		t.Errorf("%d descriptors in the states, counter says %d", n, s.kept)
	}
	if s.kept > s.maxKept {
		t.Errorf("%d descriptors kept, cap %d", s.kept, s.maxKept)
	}
}

func scanOrFatal(t *testing.T, s *Scanner) *Table {
	t.Helper()
	tab, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestKeptFDsLiveProcess scans a real child: its stat (and schedstat)
// descriptors are opened on the first scan and reused by the next; once it
// has exited the scan drops it and closes them.
func TestKeptFDsLiveProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	sleep := testenv.LookPath(t, "sleep")
	s := NewScanner(hostfs.DefaultRoots(), nil)
	t.Cleanup(func() { _ = s.Close() })
	if s.checkLinks {
		t.Fatal("/proc is not seen as a procfs")
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	prefix := "/proc/" + strconv.Itoa(pid) + "/"
	want := 1
	if s.idleSkip {
		want = 2 // sleep is single-threaded: schedstat is read too
	}

	var statFD, schedFD int
	for i := 0; i < 3; i++ {
		tab := scanOrFatal(t, s)
		p := tab.Procs[pid]
		if p == nil {
			t.Fatalf("scan %d: pid %d not in the table", i, pid)
		}
		if p.PPID != os.Getpid() || p.Comm != "sleep" {
			t.Fatalf("scan %d: %+v", i, *p)
		}
		st := s.states[pid]
		if got := fdsTo(t, prefix); len(got) != want {
			t.Fatalf("scan %d: descriptors to the child %v, want %d", i, got, want)
		}
		if i == 0 {
			statFD, schedFD = st.statFD, st.schedstatFD
		} else if st.statFD != statFD || st.schedstatFD != schedFD {
			t.Fatalf("scan %d: descriptors %d, %d; the first scan kept %d, %d", i, st.statFD, st.schedstatFD, statFD, schedFD)
		}
		checkKept(t, s)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // reaped: the PID is gone
	tab := scanOrFatal(t, s)
	if p, ok := tab.Procs[pid]; ok {
		t.Fatalf("pid %d still in the table after its exit: %+v", pid, *p)
	}
	if _, ok := s.states[pid]; ok {
		t.Fatalf("pid %d still has a state", pid)
	}
	if got := fdsTo(t, prefix); len(got) != 0 {
		t.Fatalf("descriptors to the exited child still open: %v", got)
	}
	checkKept(t, s)
}

// TestKeptFDsGoneFallsBackToPath: a kept descriptor whose process exited
// while the PID shows a live process (here: the descriptor of an exited
// child swapped into this process's state) is closed, and the file is read
// by path, in the same scan.
func TestKeptFDsGoneFallsBackToPath(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	sleep := testenv.LookPath(t, "sleep")
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := cmd.Process.Pid
	s := NewScanner(hostfs.DefaultRoots(), nil)
	t.Cleanup(func() { _ = s.Close() })
	scanOrFatal(t, s)
	self := os.Getpid()
	cst, sst := s.states[child], s.states[self]
	if cst == nil || sst == nil || cst.statFD < 0 || sst.statFD < 0 {
		t.Fatal("no kept stat descriptors after the first scan")
	}
	// The state of this process now holds the child's descriptor, as if
	// the child had had this PID.
	cst.statFD, sst.statFD = sst.statFD, cst.statFD
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	tab := scanOrFatal(t, s)
	if p := tab.Procs[self]; p == nil || p.PID != self || p.PPID != os.Getppid() {
		t.Fatalf("this process after its stat descriptor failed: %+v", p)
	}
	if _, ok := tab.Procs[child]; ok {
		t.Fatal("the exited child is in the table")
	}
	if got := fdsTo(t, "/proc/"+strconv.Itoa(child)+"/"); len(got) != 0 {
		t.Fatalf("descriptors to the exited child still open: %v", got)
	}
	checkKept(t, s)
}

// keptFixture is a fixture scanner whose processes (and self) also have a
// schedstat, so that both files are kept for the single-threaded ones.
func keptFixture(t *testing.T) (*Scanner, string) {
	t.Helper()
	roots, proc := fixtureRoots(t)
	for _, pid := range []string{"self", "1", "2", "3", "202", "203", "600"} {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "schedstat"), []byte("5000 0 0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := NewScanner(roots, nil)
	t.Cleanup(func() { _ = s.Close() })
	s.hook = denyIO
	s.page = 4096
	if !s.idleSkip || !s.checkLinks {
		t.Fatalf("fixture scanner: idleSkip %v, checkLinks %v; want both", s.idleSkip, s.checkLinks)
	}
	return s, proc
}

// inode returns the inode number of the file open as fd.
func inode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat %d: %v", fd, err)
	}
	return st.Ino
}

// replace writes content to a new file and renames it over path (a new
// inode, as a new process's /proc/PID/stat is).
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestKeptFDsFixture: with a fixture proc root the kept descriptors are
// regular files. A file rewritten in place is read anew through its
// descriptor; a file replaced, or a process removed, is noticed and its
// descriptor closed.
func TestKeptFDsFixture(t *testing.T) {
	const stat200 = "200 (python3) S 1 200 200 0 -1 4194304 900000 0 12 0 360000 12000 0 0 20 0 24 0 345678 30000000000 2500000 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	tests := []struct {
		name   string
		change func(t *testing.T, proc string)
		// check looks at pid 200 (nil: absent) after the change.
		check func(t *testing.T, p *Proc, before, after *pstate)
		// fd is what became of 200's stat descriptor: "same" (the
		// file it was open on), "new" (open on the new file), "none".
		fd       string
		readErrs int
	}{
		{
			name: "rewritten in place",
			change: func(t *testing.T, proc string) {
				rewrite(t, filepath.Join(proc, "200/stat"), " 360000 12000 ", " 360100 12000 ")
			},
			check: func(t *testing.T, p *Proc, _, _ *pstate) {
				if p == nil || p.UserSeconds != 3601 || p.StartTicks != 345678 || p.CPUPercent != 50 {
					t.Errorf("pid 200: %+v; want 3601 user seconds, 50%% CPU", p)
				}
			},
			fd: "same",
		},
		{
			name: "replaced, same process",
			change: func(t *testing.T, proc string) {
				replace(t, filepath.Join(proc, "200/stat"), strings.Replace(stat200, " 360000 12000 ", " 360200 12000 ", 1))
			},
			check: func(t *testing.T, p *Proc, _, _ *pstate) {
				if p == nil || p.UserSeconds != 3602 || p.CPUPercent != 100 {
					t.Errorf("pid 200: %+v; want 3602 user seconds, 100%% CPU", p)
				}
			},
			fd: "new",
		},
		{
			name: "replaced, PID reused",
			change: func(t *testing.T, proc string) {
				replace(t, filepath.Join(proc, "200/stat"), strings.Replace(stat200, " 345678 ", " 999999 ", 1))
			},
			check: func(t *testing.T, p *Proc, _, _ *pstate) {
				if p == nil || p.StartTicks != 999999 || p.CPUPercent != 0 {
					t.Errorf("pid 200: %+v; want a new process (starttime 999999, no rate)", p)
				}
			},
			// A new process's descriptors are opened by its next scan.
			fd: "none",
		},
		{
			// As a kept procfs descriptor of an exited process reads
			// nothing: the file is read by path.
			name: "emptied and replaced",
			change: func(t *testing.T, proc string) {
				path := filepath.Join(proc, "200/stat")
				if err := os.Link(path, path+".old"); err != nil {
					t.Fatal(err)
				}
				replace(t, path, strings.Replace(stat200, " 345678 ", " 999999 ", 1))
				if err := os.Truncate(path+".old", 0); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, p *Proc, _, _ *pstate) {
				if p == nil || p.StartTicks != 999999 {
					t.Errorf("pid 200: %+v; want a new process (starttime 999999)", p)
				}
			},
			fd: "none",
		},
		{
			name: "removed",
			change: func(t *testing.T, proc string) {
				if err := os.RemoveAll(filepath.Join(proc, "200")); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, p *Proc, _, after *pstate) {
				if p != nil || after != nil {
					t.Errorf("removed pid 200: %+v, state %v", p, after)
				}
			},
		},
		{
			name: "stat file removed, directory left",
			change: func(t *testing.T, proc string) {
				if err := os.Remove(filepath.Join(proc, "200/stat")); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, p *Proc, _, after *pstate) {
				if p != nil || after != nil {
					t.Errorf("pid 200 without stat: %+v, state %v", p, after)
				}
			},
		},
		{
			name: "emptied",
			change: func(t *testing.T, proc string) {
				if err := os.WriteFile(filepath.Join(proc, "200/stat"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, p *Proc, _, after *pstate) {
				if p != nil || after != nil {
					t.Errorf("pid 200 with an empty stat: %+v, state %v", p, after)
				}
			},
			readErrs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, proc := keptFixture(t)
			t0 := time.Unix(1767300000, 0)
			s.now = func() time.Time { return t0 }
			tab := scanOrFatal(t, s)
			if len(tab.Procs) != 11 {
				t.Fatalf("%d processes, want 11", len(tab.Procs))
			}
			// Every process's stat, and schedstat for the five
			// single-threaded live ones.
			if s.kept != 11+5 {
				t.Fatalf("%d descriptors kept, want 16", s.kept)
			}
			checkKept(t, s)
			before := *s.states[200]
			oldIno := inode(t, before.statFD)
			tt.change(t, proc)
			s.now = func() time.Time { return t0.Add(2 * time.Second) }
			tab = scanOrFatal(t, s)
			after := s.states[200]
			tt.check(t, tab.Procs[200], &before, after)
			if after != nil {
				got := "none"
				if after.statFD >= 0 {
					got = "new"
					if inode(t, after.statFD) == oldIno {
						got = "same"
					}
				}
				if got != tt.fd {
					t.Errorf("stat descriptor: %s, want %s", got, tt.fd)
				}
			}
			if tab.ReadErrors != tt.readErrs {
				t.Errorf("%d read errors, want %d", tab.ReadErrors, tt.readErrs)
			}
			if got := fdsTo(t, proc); len(got) != s.kept {
				t.Errorf("descriptors open under the fixture %v, %d kept", got, s.kept)
			}
			checkKept(t, s)
		})
	}
}

// TestKeptFDsSchedstatFixture: the idle skip's schedstat is read through
// its kept descriptor: a changed run time makes the next scan read the
// process in full.
func TestKeptFDsSchedstatFixture(t *testing.T) {
	s, proc := keptFixture(t)
	var reads []string
	s.hook = func(path string) error {
		if strings.HasPrefix(path, filepath.Join(proc, "600")+"/") {
			reads = append(reads, filepath.Base(path))
		}
		return denyIO(path)
	}
	scan := func() []string {
		reads = nil
		scanOrFatal(t, s)
		return reads
	}
	scan()
	fd := s.states[600].schedstatFD
	if r := scan(); strings.Join(r, ",") != "stat,schedstat" {
		t.Fatalf("idle sshd read %v, want stat and schedstat only", r)
	}
	rewrite(t, filepath.Join(proc, "600/schedstat"), "5000 ", "6000 ")
	if r := scan(); !contains(r, "status") || !contains(r, "fd") {
		t.Fatalf("sshd after it ran read %v, want a full read", r)
	}
	if s.states[600].schedstatFD != fd {
		t.Fatalf("schedstat descriptor %d -> %d, want it kept", fd, s.states[600].schedstatFD)
	}
	checkKept(t, s)
}

// TestKeptFDsCap: with a cap on kept descriptors, the processes beyond it
// are read by path, with the same results, and a change to their files is
// seen.
func TestKeptFDsCap(t *testing.T) {
	ref, _ := keptFixture(t)
	want := scanOrFatal(t, ref)
	for _, limit := range []int{0, 1, 3, 15, 16, 1000} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			s, proc := keptFixture(t)
			s.maxKept = limit
			for i := 0; i < 3; i++ {
				if i == 2 {
					rewrite(t, filepath.Join(proc, "600/stat"), " 4194560 2000 ", " 4194560 2001 ")
					rewrite(t, filepath.Join(proc, "1/stat"), " 4194560 50000 ", " 4194560 50001 ")
				}
				tab := scanOrFatal(t, s)
				if len(tab.Procs) != len(want.Procs) || tab.ReadErrors != 0 || tab.PartialErrors != 1 {
					t.Fatalf("scan %d: %d processes, %d read errors, %d partial", i, len(tab.Procs), tab.ReadErrors, tab.PartialErrors)
				}
				for pid, w := range want.Procs {
					p, wp := *tab.Procs[pid], *w
					p.CPUPercent = 0
					if i == 2 {
						switch pid {
						case 600:
							wp.MinorFaults = 2001
						case 1:
							wp.MinorFaults = 50001
						}
					}
					if !equalProc(p, wp) {
						t.Errorf("scan %d, pid %d:\n got %+v\nwant %+v", i, pid, p, wp)
					}
				}
				if k := min(limit, 16); s.kept != k {
					t.Errorf("scan %d: %d descriptors kept, want %d", i, s.kept, k)
				}
				checkKept(t, s)
			}
		})
	}
}

// TestScannerClose: Close closes every kept descriptor; later scans keep
// none and a second Close is harmless.
func TestScannerClose(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	for _, name := range []string{"proc", "fixture"} {
		t.Run(name, func(t *testing.T) {
			before := len(openFDs(t))
			var s *Scanner
			if name == "proc" {
				s = NewScanner(hostfs.DefaultRoots(), nil)
			} else {
				s, _ = keptFixture(t)
			}
			scanOrFatal(t, s)
			scanOrFatal(t, s)
			opened := len(openFDs(t))
			if s.kept == 0 || opened != before+s.kept {
				t.Fatalf("%d descriptors before, %d after two scans, %d kept", before, opened, s.kept)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(openFDs(t)); n != before || s.kept != 0 {
				t.Fatalf("%d descriptors after Close, %d before; counter %d", n, before, s.kept)
			}
			if tab := scanOrFatal(t, s); len(tab.Procs) == 0 {
				t.Fatal("no processes in a scan after Close")
			}
			if n := len(openFDs(t)); n != before || s.kept != 0 {
				t.Fatalf("a scan after Close keeps descriptors: %d open, %d before; counter %d", n, before, s.kept)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

// TestCountFDsBySize: where the kernel gives /proc/PID/fd's size as its
// number of descriptors (Linux 6.2+), the scan counts them with one statx,
// and that count equals the listing's for a process holding extra files.
func TestCountFDsBySize(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	s := NewScanner(hostfs.DefaultRoots(), nil)
	t.Cleanup(func() { _ = s.Close() })
	if !s.fdSize {
		t.Skip("this kernel does not give /proc/PID/fd's size as its descriptor count, or init's descriptors cannot be listed")
	}
	var extra []*os.File
	for range 5 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	cmd := exec.Command(testenv.LookPath(t, "sleep"), "30")
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	st := s.state(cmd.Process.Pid)
	bySize, err := s.countFDs(st.fdPath, st.fdPathZ)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := s.countFDsListing(st.fdPath, st.fdPathZ)
	if err != nil {
		t.Fatal(err)
	}
	if bySize != listed || bySize < 3+len(extra) {
		t.Errorf("%d descriptors by size, %d listed; want equal counts, at least %d", bySize, listed, 3+len(extra))
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := s.countFDs(st.fdPath, st.fdPathZ); !gone(err) {
		t.Errorf("count of an exited process: %v, want an error gone() recognizes", err)
	}
}
