package process

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/procinfo"
)

// pfKthread is PF_KTHREAD in /proc/PID/stat's flags field (field 9).
const pfKthread = 0x00200000

// userHZ is the unit of utime, stime and starttime (USER_HZ).
const userHZ = 100

// Bits of what could not be read for a process; see Proc.Missing.
const (
	missIO = 1 << iota
	missFD
	missStatus
	missCmdline
	missLimits
	missAll = 1<<iota - 1
)

var missingNames = [...]string{"io", "fd", "status", "cmdline", "limits"}

// missingSlices holds one shared, read-only Proc.Missing slice per
// combination of bits, so that a missing field costs no allocation.
var missingSlices = func() [missAll + 1][]string {
	var t [missAll + 1][]string
	for bits := 1; bits <= missAll; bits++ {
		var s []string
		for i, n := range missingNames {
			if bits&(1<<i) != 0 {
				s = append(s, n)
			}
		}
		t[bits] = s[:len(s):len(s)]
	}
	return t
}()

// Scanner reads every process under roots.ProcPath() once per Scan. It
// keeps, per PID, the file paths, the identity (command line, user,
// cgroup attribution, fd limit: read once per (pid, starttime)) and the
// previous scan's counters for rates, so that a steady-state scan reads
// stat, status, io and the fd directory of each process and allocates
// nothing per process beyond its slot in the new Table.
//
// The two files read every scan, /proc/PID/stat and /proc/PID/schedstat,
// are read through descriptors kept open between scans (pread at offset 0
// regenerates a procfs file), which halves their cost. A kept descriptor
// belongs to the process it was opened for: once that process has exited,
// a read fails with ESRCH (or reads nothing), and the Scanner closes the
// descriptor and reads the file by path, which finds the PID's current
// process if any. Descriptors are closed as soon as their process leaves
// the table or its PID is reused, and by Close. At most
// min(2048, RLIMIT_NOFILE soft limit / 4) descriptors are kept (read at
// NewScanner; Go raises the soft limit to the hard one at start-up); the
// files of processes beyond that are opened, read and closed each scan.
// Each kept procfs descriptor also holds about 4.5 KiB of kernel memory
// (its seq_file buffer), charged to the agent's memory cgroup: 3.3 MiB at
// 370 processes, 9 MiB at the cap.
type Scanner struct {
	roots   hostfs.Roots
	info    *procinfo.Reader
	procDir string
	page    uint64
	now     func() time.Time

	// hook, when set (tests), is called before every per-process file or
	// directory is read; a non-nil error is used as that read's error.
	hook func(path string) error

	latest atomic.Pointer[Table]

	mu     sync.Mutex // one Scan at a time
	states map[int]*pstate
	gen    uint64
	pids   []int
	buf    []byte
	dirBuf []byte

	// idleSkip is on when the kernel shows each task's run time in
	// /proc/PID/schedstat; see readProc.
	idleSkip bool
	// fdSize is on when the size of /proc/PID/fd is its number of open
	// descriptors (Linux 6.2+) and the agent may read every process's.
	fdSize bool

	// kept is the number of descriptors open in the states, maxKept the
	// most that may be (0 after Close).
	kept, maxKept int
	// checkLinks is set when the proc root is not a procfs (a fixture
	// tree): a kept descriptor of a regular file reads on after the file
	// is removed or replaced, so each read also checks that it is linked.
	checkLinks bool
}

// maxKeptFDs bounds the descriptors a Scanner keeps open; see Scanner.
const maxKeptFDs = 2048

// fullEvery bounds how many scans in a row an idle process's status, io
// and fd are served from its last full read.
const fullEvery = 12

// pstate is what the Scanner keeps about one PID between scans.
type pstate struct {
	pid   int
	start uint64 // starttime; with pid, the process's identity
	known bool   // identity read for (pid, start)
	gen   uint64 // last scan that saw the process

	statPath, statusPath, ioPath, fdPath, limitsPath string
	fdPathZ                                          []byte // fdPath, NUL-terminated

	comm         string
	kernelThread bool
	id           procinfo.Info
	exe          string
	maxFDs       int
	idMissing    int // missCmdline, missLimits

	schedstatPath string

	// Descriptors of stat and schedstat kept open between scans; -1 when
	// none is kept.
	statFD, schedstatFD int

	// The last full read of status, io and fd, kept for idle scans:
	// runtime is the task's sum_exec_runtime (ns, /proc/PID/schedstat)
	// read just before it; rss the resident pages then.
	haveFull  bool
	runtime   uint64
	rss       uint64
	idleScans int
	full      fullRead

	// Previous scan, for rates.
	prevTime          time.Time
	prevTicks         uint64
	prevRead, prevWrt uint64
	prevIO            bool
}

// NewScanner returns a Scanner of the processes under roots.Proc. info
// resolves identities (user, cgroup attribution); nil makes one.
func NewScanner(roots hostfs.Roots, info *procinfo.Reader) *Scanner {
	roots = roots.WithDefaults()
	if info == nil {
		info = procinfo.NewReader(roots)
	}
	s := &Scanner{
		roots:   roots,
		info:    info,
		procDir: roots.ProcPath(),
		page:    uint64(os.Getpagesize()),
		now:     time.Now,
		states:  make(map[int]*pstate),
		buf:     make([]byte, 0, 4096),
		dirBuf:  make([]byte, 8192),
	}
	// Idle skipping needs each task's run time, which the kernel shows in
	// /proc/PID/schedstat only with CONFIG_SCHED_INFO (else "0 0 0").
	if b, err := s.read(roots.ProcPath("self", "schedstat")); err == nil {
		if rt, ok := parseRuntime(b); ok && rt > 0 {
			s.idleSkip = true
		}
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		s.maxKept = int(min(maxKeptFDs, rl.Cur/4))
	}
	var fs unix.Statfs_t
	s.checkLinks = unix.Statfs(s.procDir, &fs) != nil || fs.Type != unix.PROC_SUPER_MAGIC
	// Linux 6.2 and later give the number of open descriptors as the size
	// of /proc/PID/fd: one statx instead of open, getdents and close. Used
	// only when the agent may list every process's descriptors (it can
	// list init's), so that a process whose fd directory the agent may
	// not read stays "Missing: fd" as before.
	self := roots.ProcPath("self", "fd")
	if n, err := statxSizeZ(self, []byte(self+"\x00")); !s.checkLinks && err == nil && n > 0 {
		if _, err := s.countFDsListing(roots.ProcPath("1", "fd"), nil); err == nil {
			s.fdSize = true
		}
	}
	return s
}

// Close closes the descriptors the Scanner keeps open. Scan may still be
// called afterwards; it then keeps none.
func (s *Scanner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxKept = 0
	var errs []error
	for _, st := range s.states {
		if err := s.dropFDs(st); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("process: close scanner: %w", err)
	}
	return nil
}

// Latest returns the table of the last successful Scan (nil before the
// first). It is safe to call concurrently with Scan.
func (s *Scanner) Latest() *Table { return s.latest.Load() }

// Result of reading one process.
const (
	kept = iota
	vanished
	failed
)

// Scan reads every process and returns the new table. Processes that
// exit while they are read are left out without error. The error is
// non-nil only when /proc cannot be listed or ctx ends.
func (s *Scanner) Scan(ctx context.Context) (*Table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var err error
	if s.pids, err = s.listPIDs(s.pids[:0]); err != nil {
		return nil, fmt.Errorf("process: list processes in %s: %w", s.procDir, err)
	}
	s.gen++
	slab := make([]Proc, len(s.pids))
	tab := &Table{Time: now, Procs: make(map[int]*Proc, len(s.pids))}
	n := 0
	for i, pid := range s.pids {
		if i&63 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("process: scan stopped after %d of %d processes: %w", i, len(s.pids), err)
			}
		}
		p := &slab[n]
		switch s.readProc(pid, p, now, tab) {
		case kept:
			tab.Procs[pid] = p
			n++
		case failed:
			*p = Proc{}
			tab.ReadErrors++
		default:
			*p = Proc{}
		}
	}
	for pid, st := range s.states {
		if st.gen != s.gen {
			_ = s.dropFDs(st)
			delete(s.states, pid)
			s.info.Forget(pid)
		}
	}
	s.latest.Store(tab)
	return tab, nil
}

// gone reports whether err means the process exited while being read.
func gone(err error) bool {
	return hostfs.IsNotExist(err) || errors.Is(err, syscall.ESRCH)
}

func (s *Scanner) read(path string) ([]byte, error) {
	if s.hook != nil {
		if err := s.hook(path); err != nil {
			return s.buf[:0], &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
	b, err := s.roots.ReadFile(path, s.buf)
	s.buf = b[:0]
	return b, err
}

// readKept reads a file read every scan (stat, schedstat) through the
// descriptor kept for it in *fd (-1: none), opening one to keep when the
// budget allows, else by path. The hook and the trace see the read as
// they see any other.
func (s *Scanner) readKept(path string, fd *int) ([]byte, error) {
	if s.hook != nil {
		if err := s.hook(path); err != nil {
			return s.buf[:0], &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
	if s.roots.Trace != nil {
		s.roots.Note(path)
	}
	if *fd >= 0 {
		b, err := hostfs.PreadFile(*fd, path, s.buf)
		s.buf = b[:0]
		if err == nil && len(b) > 0 && (!s.checkLinks || linked(*fd)) {
			return b, nil
		}
		_ = s.closeFD(fd)
		if err != nil && !gone(err) {
			return b, err
		}
		// The process the descriptor was opened for has exited (ESRCH,
		// or nothing to read), or the fixture file was replaced: the
		// path finds the PID's current process, if there is one.
	}
	if s.kept >= s.maxKept {
		b, err := hostfs.ReadFile(path, s.buf)
		s.buf = b[:0]
		return b, err
	}
	nfd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return s.buf[:0], &os.PathError{Op: "open", Path: path, Err: err}
	}
	b, err := hostfs.PreadFile(nfd, path, s.buf)
	s.buf = b[:0]
	if err != nil || len(b) == 0 {
		syscall.Close(nfd)
		return b, err
	}
	*fd = nfd
	s.kept++
	return b, nil
}

// linked reports whether the file open as fd still has a name (fstat's
// link count), or fstat fails.
func linked(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) != nil || st.Nlink > 0
}

// closeFD closes a kept descriptor and marks it gone.
func (s *Scanner) closeFD(fd *int) error {
	if *fd < 0 {
		return nil
	}
	err := syscall.Close(*fd)
	*fd = -1
	s.kept--
	return err
}

// dropFDs closes the descriptors kept for st.
func (s *Scanner) dropFDs(st *pstate) error {
	var errs []error
	if err := s.closeFD(&st.statFD); err != nil {
		errs = append(errs, fmt.Errorf("close %s: %w", st.statPath, err))
	}
	if err := s.closeFD(&st.schedstatFD); err != nil {
		errs = append(errs, fmt.Errorf("close %s: %w", st.schedstatPath, err))
	}
	return errors.Join(errs...)
}

func (s *Scanner) state(pid int) *pstate {
	if st := s.states[pid]; st != nil {
		return st
	}
	dir := s.procDir + "/" + strconv.Itoa(pid) + "/"
	st := &pstate{
		pid:        pid,
		statPath:   dir + "stat",
		statusPath: dir + "status",
		ioPath:     dir + "io",
		fdPath:     dir + "fd",
		limitsPath: dir + "limits",
		fdPathZ:    []byte(dir + "fd\x00"),

		schedstatPath: dir + "schedstat",
		statFD:        -1,
		schedstatFD:   -1,
	}
	s.states[pid] = st
	return st
}

// fullRead is what one full read of status, io and fd gave.
type fullRead struct {
	miss        int
	partial     bool
	swap        uint64
	vcs, nvcs   uint64
	read, write uint64
	fds         int
}

func (f *fullRead) apply(p *Proc) {
	p.SwapBytes, p.VoluntaryCtxSwitches, p.NonvoluntaryCtxSwitches = f.swap, f.vcs, f.nvcs
	p.ReadBytes, p.WriteBytes, p.OpenFDs = f.read, f.write, f.fds
}

// readFull reads status, io and the fd directory of a process into p.
func (s *Scanner) readFull(st *pstate, sf *statFields, p *Proc) (miss int, partial bool, result int) {
	var b []byte
	var err error
	if b, err = s.read(st.statusPath); err != nil {
		if gone(err) {
			return miss, partial, vanished
		}
		miss |= missStatus
		partial = true
	} else if !parseStatus(b, p) {
		miss |= missStatus
		partial = true
	}

	if sf.state == 'Z' {
		// A zombie has released its files and its I/O accounting is
		// not worth a read: fd 0, io missing.
		miss |= missIO
	} else {
		if b, err = s.read(st.ioPath); err != nil {
			if gone(err) {
				return miss, partial, vanished
			}
			miss |= missIO
			partial = true
		} else if !parseIO(b, p) {
			miss |= missIO
			partial = true
		}
		nfd, err := s.countFDs(st.fdPath, st.fdPathZ)
		if err != nil {
			if gone(err) {
				return miss, partial, vanished
			}
			miss |= missFD
			partial = true
		}
		p.OpenFDs = nfd
	}

	return miss, partial, kept
}

// readRuntime reads the task's run time in ns from /proc/PID/schedstat.
func (s *Scanner) readRuntime(st *pstate) (uint64, bool) {
	b, err := s.readKept(st.schedstatPath, &st.schedstatFD)
	if err != nil {
		return 0, false
	}
	return parseRuntime(b)
}

// parseRuntime returns the first field of a schedstat line.
func parseRuntime(b []byte) (uint64, bool) {
	i := bytes.IndexByte(b, ' ')
	if i <= 0 {
		return 0, false
	}
	return hostfs.ParseUint(b[:i])
}

// readProc fills p with process pid. A process that exits while it is read
// gives vanished, and p is then half filled: the caller discards it.
func (s *Scanner) readProc(pid int, p *Proc, now time.Time, tab *Table) int {
	st := s.state(pid)
	b, err := s.readKept(st.statPath, &st.statFD)
	if err != nil {
		if gone(err) {
			return vanished
		}
		return failed
	}
	var sf statFields
	if !parseStat(b, &sf) {
		return failed
	}
	if st.known && st.start != sf.start {
		// The PID was reused: a new process, whose descriptors are
		// opened afresh.
		_ = s.dropFDs(st)
		*st = pstate{pid: pid, statPath: st.statPath, statusPath: st.statusPath,
			ioPath: st.ioPath, fdPath: st.fdPath, limitsPath: st.limitsPath, fdPathZ: st.fdPathZ,
			schedstatPath: st.schedstatPath, statFD: -1, schedstatFD: -1}
	}
	st.start = sf.start
	if string(sf.comm) != st.comm {
		st.comm = string(sf.comm)
	}
	miss := 0
	partial := false

	p.PID, p.PPID, p.State = pid, sf.ppid, sf.state
	p.Comm = st.comm
	p.StartTicks = sf.start
	ticks := sf.utime + sf.stime
	p.UserSeconds = float64(sf.utime) / userHZ
	p.SystemSeconds = float64(sf.stime) / userHZ
	p.MinorFaults, p.MajorFaults = sf.minflt, sf.majflt
	p.NumThreads = int(sf.threads)
	p.VirtualBytes = sf.vsize
	p.ResidentBytes = sf.rss * s.page

	// Idle skip. A single-threaded process whose task has not run since
	// the last full read (same sum_exec_runtime, to the nanosecond) cannot
	// have done I/O, opened or closed files, switched context or swapped
	// in; swapping out lowers its RSS, which is checked too. Its status,
	// io and fd are then exactly what the last full read saw, so they are
	// served from it (at most fullEvery scans in a row). Multi-threaded
	// processes are always read in full: schedstat shows the main thread.
	skip := false
	var runtime uint64
	haveRuntime := false
	if s.idleSkip && sf.threads == 1 && sf.state != 'Z' {
		if rt, ok := s.readRuntime(st); ok {
			runtime, haveRuntime = rt, true
			skip = st.haveFull && rt == st.runtime && sf.rss == st.rss && st.idleScans < fullEvery
		}
	}
	if skip {
		st.idleScans++
		st.full.apply(p)
		miss |= st.full.miss
		partial = partial || st.full.partial
	} else {
		fm, fp, r := s.readFull(st, &sf, p)
		if r == vanished {
			return vanished
		}
		miss |= fm
		partial = partial || fp
		st.haveFull, st.runtime, st.rss, st.idleScans = haveRuntime, runtime, sf.rss, 0
		st.full = fullRead{miss: fm, partial: fp, swap: p.SwapBytes, vcs: p.VoluntaryCtxSwitches,
			nvcs: p.NonvoluntaryCtxSwitches, read: p.ReadBytes, write: p.WriteBytes, fds: p.OpenFDs}
	}

	if !st.known {
		if r := s.identify(st, &sf); r == vanished {
			return vanished
		} else if r == failed {
			partial = true
		}
	}
	miss |= st.idMissing
	id := &st.id
	p.StartTime = id.StartTime
	p.Cmdline, p.Exe, p.User, p.UID = id.Cmdline, st.exe, id.User, id.UID
	p.Container, p.Pod, p.Namespace, p.SlurmJob = id.Container, id.Pod, id.Namespace, id.SlurmJob
	p.Runtime, p.Cgroup = id.Runtime, id.Cgroup
	p.KernelThread = st.kernelThread
	p.MaxFDs = st.maxFDs

	if !st.prevTime.IsZero() {
		if dt := now.Sub(st.prevTime).Seconds(); dt > 0 {
			if ticks >= st.prevTicks {
				p.CPUPercent = float64(ticks-st.prevTicks) / userHZ / dt * 100
			}
			if st.prevIO && miss&missIO == 0 {
				if p.ReadBytes >= st.prevRead {
					p.ReadBytesPerSecond = float64(p.ReadBytes-st.prevRead) / dt
				}
				if p.WriteBytes >= st.prevWrt {
					p.WriteBytesPerSecond = float64(p.WriteBytes-st.prevWrt) / dt
				}
			}
		}
	}
	st.prevTime, st.prevTicks = now, ticks
	st.prevIO = miss&missIO == 0
	if st.prevIO {
		st.prevRead, st.prevWrt = p.ReadBytes, p.WriteBytes
	}
	p.Missing = missingSlices[miss]
	if partial {
		tab.PartialErrors++
	}
	st.gen = s.gen
	return kept
}

// identify reads what does not change during a process's life: its
// command line, user, cgroup attribution (through procinfo) and fd limit.
func (s *Scanner) identify(st *pstate, sf *statFields) int {
	res := kept
	st.idMissing = 0
	if s.hook != nil {
		if err := s.hook(st.statPath[:len(st.statPath)-len("stat")] + "cmdline"); err != nil {
			if gone(err) {
				return vanished
			}
			st.idMissing |= missCmdline
			res = failed
		}
	}
	if st.idMissing == 0 {
		id, err := s.info.Lookup(st.pid)
		switch {
		case err != nil && gone(err):
			return vanished
		case err != nil:
			st.idMissing |= missCmdline
			res = failed
		default:
			st.id = id
		}
	}
	if st.idMissing == 0 {
		// argv[0] unsplit: "sshd: alice [priv]" is one argument.
		b, err := s.read(st.statPath[:len(st.statPath)-len("stat")] + "cmdline")
		if err != nil && gone(err) {
			return vanished
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		st.exe = string(b)
	}
	st.kernelThread = sf.flags&pfKthread != 0 ||
		(st.id.Cmdline == "" && st.idMissing&missCmdline == 0 && sf.state != 'Z' && (sf.ppid == 2 || st.pid == 2))
	if st.kernelThread {
		// Kernel threads have no file table and no rlimits to speak of.
		st.known = true
		return res
	}
	b, err := s.read(st.limitsPath)
	switch {
	case err != nil && gone(err):
		if sf.state == 'Z' {
			break
		}
		return vanished
	case err != nil:
		st.idMissing |= missLimits
		res = failed
	default:
		st.maxFDs = parseLimitsNoFile(b)
	}
	st.known = true
	return res
}

// countFDs counts the entries of a /proc/PID/fd directory with getdents
// into a reused buffer. pathZ is path with a NUL appended, kept per
// process so that opening it allocates nothing.
func (s *Scanner) countFDs(path string, pathZ []byte) (int, error) {
	if s.hook != nil {
		if err := s.hook(path); err != nil {
			return 0, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
	if s.roots.Trace != nil {
		s.roots.Note("dir:" + path)
	}
	if s.fdSize && pathZ != nil {
		n, err := statxSizeZ(path, pathZ)
		return int(n), err
	}
	return s.countFDsListing(path, pathZ)
}

// countFDsListing counts the entries of a /proc/PID/fd directory with
// getdents (pathZ as in countFDs, or nil).
func (s *Scanner) countFDsListing(path string, pathZ []byte) (int, error) {
	n := 0
	err := s.getdents(path, pathZ, func(name []byte) {
		// Descriptors are numbers; this skips "." and "..".
		if len(name) > 0 && name[0] >= '0' && name[0] <= '9' {
			n++
		}
	})
	return n, err
}

// listPIDs appends the numeric entries of the proc root to dst.
func (s *Scanner) listPIDs(dst []int) ([]int, error) {
	if s.roots.Trace != nil {
		s.roots.Note("dir:" + s.procDir)
	}
	err := s.getdents(s.procDir, nil, func(name []byte) {
		if v, ok := hostfs.ParseUint(name); ok && v > 0 && v < 1<<31 {
			dst = append(dst, int(v))
		}
	})
	return dst, err
}

// getdents calls fn with every entry name of directory path (pathZ, when
// not nil, is path NUL-terminated).
func (s *Scanner) getdents(path string, pathZ []byte, fn func(name []byte)) error {
	var fd int
	var err error
	if pathZ != nil {
		fd, err = openDirZ(pathZ)
	} else {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.Getdents(fd, s.dirBuf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "getdents", Path: path, Err: err}
		}
		if n <= 0 {
			return nil
		}
		b := s.dirBuf[:n]
		for len(b) >= 19 {
			// struct linux_dirent64: ino u64, off s64, reclen u16,
			// type u8, name (NUL-terminated).
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return &os.PathError{Op: "getdents", Path: path, Err: syscall.EINVAL}
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			fn(name)
			b = b[reclen:]
		}
		if pathZ != nil && n <= len(s.dirBuf)-maxDirent {
			// /proc/PID/fd emits entries until the buffer is full, so
			// room left for another entry means the listing ended: skip
			// the getdents that would return 0.
			return nil
		}
	}
}

// maxDirent bounds one linux_dirent64 record (19-byte header, a name of up
// to 255 bytes and its NUL, padding).
const maxDirent = 19 + 256 + 8

// openDirZ opens a directory by a NUL-terminated path without the
// allocation syscall.Open makes to convert a string.
func openDirZ(pathZ []byte) (int, error) {
	for {
		r, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&pathZ[0])),
			uintptr(syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

var atFDCWD = unix.AT_FDCWD

// statxSizeZ returns the size statx reports for path (pathZ: path with a
// NUL appended), allocating nothing.
func statxSizeZ(path string, pathZ []byte) (int64, error) {
	var stx unix.Statx_t
	for {
		_, _, e := syscall.Syscall6(unix.SYS_STATX, uintptr(atFDCWD), uintptr(unsafe.Pointer(&pathZ[0])),
			0, unix.STATX_SIZE, uintptr(unsafe.Pointer(&stx)), 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, &os.PathError{Op: "statx", Path: path, Err: e}
		}
		return int64(stx.Size), nil
	}
}

// statFields are the fields of /proc/PID/stat the scanner uses.
type statFields struct {
	comm           []byte
	state          byte
	ppid           int
	flags          uint64
	minflt, majflt uint64
	utime, stime   uint64
	threads, start uint64
	vsize, rss     uint64
}

// parseStat parses a /proc/PID/stat line by hand. comm is between the
// first '(' and the last ')' (it may hold spaces and parentheses); the
// fields are counted from the last ')'.
func parseStat(b []byte, f *statFields) bool {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return false
	}
	f.comm = b[open+1 : closing]
	i := closing + 1
	idx := 0 // 0 = state (field 3)
	for idx <= 21 {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n') {
			i++
		}
		if i >= len(b) {
			return false
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\n' {
			j++
		}
		fld := b[i:j]
		i = j
		var v uint64
		var ok = true
		switch idx {
		case 0:
			if len(fld) != 1 {
				return false
			}
			f.state = fld[0]
			idx++
			continue
		case 1, 6, 7, 9, 11, 12, 17, 19, 20, 21:
			v, ok = hostfs.ParseUint(fld)
		}
		if !ok {
			return false
		}
		switch idx {
		case 1:
			f.ppid = int(v)
		case 6:
			f.flags = v
		case 7:
			f.minflt = v
		case 9:
			f.majflt = v
		case 11:
			f.utime = v
		case 12:
			f.stime = v
		case 17:
			f.threads = v
		case 19:
			f.start = v
		case 20:
			f.vsize = v
		case 21:
			f.rss = v
		}
		idx++
	}
	return true
}

// leadingUint parses the unsigned integer after optional blanks.
func leadingUint(b []byte) (uint64, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	return hostfs.ParseUint(b[i:j])
}

// parseStatus reads VmSwap and the context switch counts of a
// /proc/PID/status (the uid comes from procinfo, once per process).
func parseStatus(b []byte, p *Proc) bool {
	ok := true
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		switch line[0] {
		case 'V':
			if bytes.HasPrefix(line, []byte("VmSwap:")) {
				v, good := leadingUint(line[len("VmSwap:"):])
				if v > math.MaxUint64/1024 {
					v, good = 0, false // kB that no uint64 of bytes holds
				}
				p.SwapBytes = v * 1024
				ok = ok && good
			}
		case 'v':
			if bytes.HasPrefix(line, []byte("voluntary_ctxt_switches:")) {
				v, good := leadingUint(line[len("voluntary_ctxt_switches:"):])
				p.VoluntaryCtxSwitches = v
				ok = ok && good
			}
		case 'n':
			if bytes.HasPrefix(line, []byte("nonvoluntary_ctxt_switches:")) {
				v, good := leadingUint(line[len("nonvoluntary_ctxt_switches:"):])
				p.NonvoluntaryCtxSwitches = v
				ok = ok && good
			}
		}
	}
	return ok
}

// parseIO reads read_bytes and write_bytes of a /proc/PID/io; false
// unless both are there and parse.
func parseIO(b []byte, p *Proc) bool {
	found := 0 // bit 1: read_bytes, bit 2: write_bytes
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		switch {
		case bytes.HasPrefix(line, []byte("read_bytes:")):
			v, ok := leadingUint(line[len("read_bytes:"):])
			if !ok {
				return false
			}
			p.ReadBytes = v
			found |= 1
		case bytes.HasPrefix(line, []byte("write_bytes:")):
			v, ok := leadingUint(line[len("write_bytes:"):])
			if !ok {
				return false
			}
			p.WriteBytes = v
			found |= 2
		}
	}
	return found == 3 // both read (a key twice is not both)
}

// parseLimitsNoFile returns the soft "Max open files" of a
// /proc/PID/limits; 0 when unlimited or absent.
func parseLimitsNoFile(b []byte) int {
	const key = "Max open files"
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	v, ok := leadingUint(b[i+len(key):])
	if !ok || v > 1<<31 {
		return 0
	}
	return int(v)
}
