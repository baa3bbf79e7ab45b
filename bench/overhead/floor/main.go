// Command floor is the physical floor of host collection: the least a Go
// program has to do, once per tick, to read the kernel data behind
// trainwatch's host and process metrics. It reads the same /proc and /sys
// files trainwatch's collectors read, makes the same statfs calls and the
// same sock_diag netlink dump, and does nothing else: no parsing beyond
// what finding the files needs (the PID list, the mount table), no metric
// model, no history, no HTTP. The overhead harness (bench/overhead) runs it
// next to `trainwatch serve` and compares their CPU time.
//
// Files stay open and are read with pread from offset 0 each tick (one
// reused buffer; directories are rewound with lseek), which is the
// cheapest way the kernel offers; -reopen opens and closes them every time
// instead, as most agents do.
//
// Every tick (-interval, default 1 s) it reads:
//
//   - /proc: stat, meminfo, vmstat, loadavg, diskstats, schedstat,
//     interrupts, pressure/{cpu,io,memory,irq}, net/{dev,netstat,snmp,
//     snmp6,sockstat,sockstat6,softnet_stat,arp,udp,udp6},
//     net/stat/nf_conntrack, sys/fs/file-nr, sys/kernel/random/entropy_avail,
//     sys/kernel/hung_task_detect_count,
//     sys/net/netfilter/nf_conntrack_{count,max}, self/mountinfo,
//     self/{stat,limits} and the self/fd directory (the agent's own
//     process_* metrics);
//   - /sys: devices/system/cpu/online, every CPU's cpufreq/scaling_cur_freq,
//     every network interface's operstate, carrier, carrier_changes,
//     carrier_up_count, carrier_down_count, dormant and
//     statistics/rx_nohandler (the counters come from /proc/net/dev),
//     every hwmon *_input, thermal_zone*/temp, power_supply/*/uevent and
//     powercap energy_uj;
//   - statfs of every real mount in mountinfo (node_exporter's default
//     exclusions: pseudo file systems, /dev, /proc, /sys, /run/credentials,
//     container storage);
//   - one NETLINK_SOCK_DIAG dump of the TCP sockets per address family
//     (tcpstat).
//
// Every -proc-every ticks (default 1: every tick) it lists /proc and reads
// each process's stat, status and io and counts its descriptors (one
// statx of its fd directory, whose size is the count on Linux 6.2+; else
// the directory is listed); every
// -threads-every ticks (default 0: never) also, for a process with more
// than one thread, its task directory and every thread's stat
// (node_exporter's processes collector; a single-threaded process's
// thread state is its stat's).
// Files that never change (os-release, hostname, CPU topology, interface
// addresses) are read once at start, as a minimal program would.
//
// It runs until SIGINT or SIGTERM, or for -duration, and then prints what
// one tick read on standard error.
//
//	go build -o /tmp/floor ./bench/overhead/floor && /tmp/floor -duration 10s
package main

import (
	"unsafe"

	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// netlinkSockDiag is NETLINK_SOCK_DIAG; sockDiagByFamily is
// SOCK_DIAG_BY_FAMILY (linux/sock_diag.h). The syscall package has neither.
const (
	netlinkSockDiag  = 4
	sockDiagByFamily = 20
)

// rediscoverEvery is how many ticks pass between two looks for new
// interfaces, sensors and CPUs.
const rediscoverEvery = 60

func main() {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	interval := fs.Duration("interval", time.Second, "time between ticks")
	duration := fs.Duration("duration", 0, "stop after this long (0: run until SIGINT/SIGTERM)")
	procEvery := fs.Int("proc-every", 1, "read every process each N ticks (0: never)")
	threadsEvery := fs.Int("threads-every", 0, "read every thread's stat each N ticks (0: never)")
	reopen := fs.Bool("reopen", false, "open and close every file each time instead of keeping it open")
	procRoot := fs.String("proc", "/proc", "procfs mount point")
	sysRoot := fs.String("sys", "/sys", "sysfs mount point")
	_ = fs.Parse(os.Args[1:])
	if *interval <= 0 {
		fmt.Fprintln(os.Stderr, "floor: -interval must be positive")
		os.Exit(2)
	}
	f := newFloor(*procRoot, *sysRoot, !*reopen)
	defer f.close()
	f.loop(*interval, *duration, *procEvery, *threadsEvery)
	fmt.Fprintf(os.Stderr, "floor: %d ticks; last tick: %d files read (%d bytes), %d statfs, %d processes, %d threads, %d netlink bytes; %d descriptors open\n",
		f.ticks, f.last.files, f.last.bytes, f.last.statfs, f.last.procs, f.last.threads, f.last.netlink, f.openFDs())
}

// file is one file or directory the floor reads; fd is -1 while closed.
type file struct {
	path string
	fd   int
	dir  bool
}

// procFiles are one process's files.
type procFiles struct {
	stat, status, io, fd file
	fdZ                  []byte // fd's path, NUL-terminated, for statx
	tasks                file
	seen                 uint64 // last scan that listed the PID
}

// tickStats counts what one tick did.
type tickStats struct {
	files, bytes, statfs, procs, threads, netlink int
}

// floor holds the open files and the reused buffers.
type floor struct {
	proc, sys string
	keep      bool
	fdSize    bool // count descriptors with statx (see newFloor)

	buf    []byte
	dirBuf []byte

	fixed     []*file
	mountinfo file
	mounts    []string // real mount points of the last mountinfo
	lastMI    []byte   // the mountinfo they came from
	procDir   file
	procs     map[int]*procFiles
	scan      uint64
	pids      []int
	tids      []int
	nl        int // netlink socket, -1 when closed

	ticks uint64
	cur   tickStats
	last  tickStats
}

func newFloor(proc, sys string, keep bool) *floor {
	f := &floor{
		proc: proc, sys: sys, keep: keep,
		buf:       make([]byte, 64<<10),
		dirBuf:    make([]byte, 32<<10),
		mountinfo: file{path: filepath.Join(proc, "self/mountinfo"), fd: -1},
		procDir:   file{path: proc, fd: -1, dir: true},
		procs:     make(map[int]*procFiles),
		nl:        -1,
	}
	// Linux 6.2+ gives the number of open descriptors as the size of
	// /proc/PID/fd: one statx instead of listing it (as trainwatch does).
	var stx unix.Statx_t
	f.fdSize = unix.Statx(unix.AT_FDCWD, filepath.Join(proc, "self/fd"), 0, unix.STATX_SIZE, &stx) == nil && stx.Size > 0
	f.discover()
	return f
}

// fixedProc lists the /proc files read every tick.
func fixedProc() []string {
	return []string{
		"stat", "meminfo", "vmstat", "loadavg", "diskstats", "schedstat", "interrupts",
		"pressure/cpu", "pressure/io", "pressure/memory", "pressure/irq",
		"net/dev", "net/netstat", "net/snmp", "net/snmp6", "net/sockstat", "net/sockstat6",
		"net/softnet_stat", "net/arp", "net/udp", "net/udp6", "net/stat/nf_conntrack",
		"sys/fs/file-nr", "sys/kernel/random/entropy_avail", "sys/kernel/hung_task_detect_count",
		"sys/net/netfilter/nf_conntrack_count", "sys/net/netfilter/nf_conntrack_max",
		"self/stat", "self/limits",
	}
}

// netFiles lists the per-interface sysfs attributes read every tick.
func netFiles() []string {
	return []string{"operstate", "carrier", "carrier_changes", "carrier_up_count", "carrier_down_count",
		"dormant", "statistics/rx_nohandler"}
}

// discover (re)builds the list of fixed files: those that exist now. Files
// already open stay open.
func (f *floor) discover() {
	old := make(map[string]*file, len(f.fixed))
	for _, x := range f.fixed {
		old[x.path] = x
	}
	var paths []string
	for _, p := range fixedProc() {
		paths = append(paths, filepath.Join(f.proc, p))
	}
	paths = append(paths, filepath.Join(f.sys, "devices/system/cpu/online"))
	globs := []string{
		"devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq",
		"class/hwmon/hwmon*/*_input",
		"class/hwmon/hwmon*/device/*_input",
		"class/thermal/thermal_zone*/temp",
		"class/power_supply/*/uevent",
		"class/powercap/*/energy_uj",
	}
	for _, g := range globs {
		m, _ := filepath.Glob(filepath.Join(f.sys, g))
		paths = append(paths, m...)
	}
	ifaces, _ := os.ReadDir(filepath.Join(f.sys, "class/net"))
	for _, ifc := range ifaces {
		for _, a := range netFiles() {
			paths = append(paths, filepath.Join(f.sys, "class/net", ifc.Name(), a))
		}
	}
	paths = append(paths, filepath.Join(f.proc, "self/fd"))
	fixed := make([]*file, 0, len(paths))
	for _, p := range paths {
		if x := old[p]; x != nil {
			fixed = append(fixed, x)
			delete(old, p)
			continue
		}
		if _, err := os.Stat(p); err != nil {
			continue
		}
		fixed = append(fixed, &file{path: p, fd: -1, dir: strings.HasSuffix(p, "/fd")})
	}
	for _, x := range old {
		closeFile(x)
	}
	f.fixed = fixed
}

// loop ticks until a signal or the duration.
func (f *floor) loop(interval, duration time.Duration, procEvery, threadsEvery int) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	var stop <-chan time.Time
	if duration > 0 {
		stop = time.After(duration)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		f.tick(procEvery, threadsEvery)
		select {
		case <-sig:
			return
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// tick reads everything once.
func (f *floor) tick(procEvery, threadsEvery int) {
	f.cur = tickStats{}
	if f.ticks > 0 && f.ticks%rediscoverEvery == 0 {
		f.discover()
	}
	for _, x := range f.fixed {
		if x.dir {
			f.readDir(x)
		} else {
			f.read(x)
		}
	}
	f.statfsMounts()
	f.sockDiag(syscall.AF_INET)
	f.sockDiag(syscall.AF_INET6)
	if procEvery > 0 && f.ticks%uint64(procEvery) == 0 {
		threads := threadsEvery > 0 && f.ticks%uint64(threadsEvery) == 0
		f.scanProcs(threads)
	}
	f.ticks++
	f.last = f.cur
}

// open opens x if it is closed.
func (f *floor) open(x *file) bool {
	if x.fd >= 0 {
		return true
	}
	flags := syscall.O_RDONLY | syscall.O_CLOEXEC
	if x.dir {
		flags |= syscall.O_DIRECTORY
	}
	fd, err := syscall.Open(x.path, flags, 0)
	if err != nil {
		return false
	}
	x.fd = fd
	return true
}

// done closes x after a read unless files are kept open, or always after
// an error (the process is gone, or the file vanished).
func (f *floor) done(x *file, failed bool) {
	if failed || !f.keep {
		closeFile(x)
	}
}

func closeFile(x *file) {
	if x.fd >= 0 {
		_ = syscall.Close(x.fd)
		x.fd = -1
	}
}

// read reads x whole from offset 0 into the buffer and returns it. It
// reads until pread returns 0: seq_file-based /proc files may return less
// than asked before their end.
func (f *floor) read(x *file) ([]byte, bool) {
	if !f.open(x) {
		return nil, false
	}
	off := 0
	for {
		if off == len(f.buf) {
			f.buf = append(f.buf, make([]byte, len(f.buf))...)
		}
		n, err := syscall.Pread(x.fd, f.buf[off:], int64(off))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			f.done(x, true)
			return nil, false
		}
		if n == 0 {
			break
		}
		off += n
	}
	f.cur.files++
	f.cur.bytes += off
	f.done(x, false)
	return f.buf[:off], true
}

// readDir reads the directory x to its end and returns the raw dirents.
func (f *floor) readDir(x *file) ([]byte, bool) {
	if !f.open(x) {
		return nil, false
	}
	if f.keep {
		if _, err := syscall.Seek(x.fd, 0, 0); err != nil {
			f.done(x, true)
			return nil, false
		}
	}
	off := 0
	for {
		if len(f.dirBuf)-off < 4096 {
			f.dirBuf = append(f.dirBuf, make([]byte, len(f.dirBuf))...)
		}
		n, err := syscall.Getdents(x.fd, f.dirBuf[off:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			f.done(x, true)
			return nil, false
		}
		if n <= 0 {
			break
		}
		off += n
	}
	f.cur.files++
	f.done(x, false)
	return f.dirBuf[:off], true
}

// statfsMounts calls statfs on every real mount point, re-parsing
// mountinfo only when it changed.
func (f *floor) statfsMounts() {
	b, ok := f.read(&f.mountinfo)
	if !ok {
		return
	}
	if !bytes.Equal(b, f.lastMI) {
		f.lastMI = append(f.lastMI[:0], b...)
		f.mounts = realMounts(f.lastMI)
	}
	var st syscall.Statfs_t
	for _, m := range f.mounts {
		_ = syscall.Statfs(m, &st)
		f.cur.statfs++
	}
}

// realMounts lists the mount points in mountinfo that node_exporter's
// filesystem collector reports by default.
func realMounts(mi []byte) []string {
	var out []string
	seen := make(map[string]bool)
	for line := range bytes.SplitSeq(mi, []byte{'\n'}) {
		fields := bytes.Fields(line)
		sep := -1
		for i, fl := range fields {
			if string(fl) == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			continue
		}
		mp := unescapeOctal(string(fields[4]))
		if excludedFSType(string(fields[sep+1])) || excludedMountPoint(mp) || seen[mp] {
			continue
		}
		seen[mp] = true
		out = append(out, mp)
	}
	return out
}

// excludedFSType is node_exporter's default --collector.filesystem.fs-types-exclude.
func excludedFSType(t string) bool {
	switch t {
	case "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
		"devtmpfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc", "procfs",
		"pstore", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "erofs", "sysfs", "tracefs":
		return true
	}
	return false
}

// excludedMountPoint is node_exporter's default
// --collector.filesystem.mount-points-exclude.
func excludedMountPoint(mp string) bool {
	for _, p := range []string{"/dev", "/proc", "/sys"} {
		if mp == p || strings.HasPrefix(mp, p+"/") {
			return true
		}
	}
	for _, p := range []string{"/run/credentials/", "/var/lib/docker/", "/var/lib/containers/storage/"} {
		if strings.HasPrefix(mp, p) && len(mp) > len(p) {
			return true
		}
	}
	return false
}

// unescapeOctal undoes mountinfo's \NNN escapes (space, tab, newline, \).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sockDiag dumps every TCP socket of one address family over the kept
// netlink socket and reads the answer without looking at it.
func (f *floor) sockDiag(family uint8) {
	if f.nl < 0 {
		fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkSockDiag)
		if err != nil {
			return
		}
		f.nl = fd
	}
	var req [16 + 56]byte
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	req[16] = family
	req[17] = syscall.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[20:], 0xfff) // every TCP state
	if err := syscall.Sendto(f.nl, req[:], 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		_ = syscall.Close(f.nl)
		f.nl = -1
		return
	}
	for {
		n, _, err := syscall.Recvfrom(f.nl, f.buf, 0)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || n < 16 {
			return
		}
		f.cur.netlink += n
		for off := 0; off+16 <= n; {
			l := int(binary.NativeEndian.Uint32(f.buf[off:]))
			typ := binary.NativeEndian.Uint16(f.buf[off+4:])
			if typ == syscall.NLMSG_DONE || typ == syscall.NLMSG_ERROR || l < 16 {
				return
			}
			off += (l + 3) &^ 3
		}
	}
}

// scanProcs lists /proc and reads every process's files; with threads,
// also every thread's stat.
func (f *floor) scanProcs(threads bool) {
	b, ok := f.readDir(&f.procDir)
	if !ok {
		return
	}
	f.pids = parsePIDs(b, f.pids[:0])
	f.scan++
	for _, pid := range f.pids {
		p := f.procs[pid]
		if p == nil {
			dir := filepath.Join(f.proc, strconv.Itoa(pid))
			p = &procFiles{
				stat:   file{path: dir + "/stat", fd: -1},
				status: file{path: dir + "/status", fd: -1},
				io:     file{path: dir + "/io", fd: -1},
				fd:     file{path: dir + "/fd", fd: -1, dir: true},
				fdZ:    []byte(dir + "/fd\x00"),
				tasks:  file{path: dir + "/task", fd: -1, dir: true},
			}
			f.procs[pid] = p
		}
		p.seen = f.scan
		stat, ok := f.read(&p.stat)
		if !ok {
			// Gone, or the PID was reused: start over next scan.
			p.closeAll()
			continue
		}
		f.cur.procs++
		multi := statThreads(stat) > 1
		f.read(&p.status)
		f.read(&p.io)
		if f.fdSize {
			f.statxFD(p.fdZ)
		} else {
			f.readDir(&p.fd)
		}
		switch {
		case threads && multi:
			f.readThreads(p)
		case threads:
			// One thread, the main one, whose state stat has: no task
			// directory to list (as trainwatch's processes collector).
			f.cur.threads++
		}
	}
	for pid, p := range f.procs {
		if p.seen != f.scan {
			p.closeAll()
			delete(f.procs, pid)
		}
	}
}

// statxFD counts a process's descriptors with one statx of its fd
// directory (pathZ: NUL-terminated).
func (f *floor) statxFD(pathZ []byte) {
	var stx unix.Statx_t
	cwd := unix.AT_FDCWD
	_, _, e := syscall.Syscall6(unix.SYS_STATX, uintptr(cwd), uintptr(unsafe.Pointer(&pathZ[0])),
		0, unix.STATX_SIZE, uintptr(unsafe.Pointer(&stx)), 0)
	if e == 0 {
		f.cur.files++
	}
}

// statThreads returns the num_threads field of a /proc/PID/stat (the 18th
// after the command name), or 0, without allocating.
func statThreads(b []byte) int {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	field, n := -1, 0
	for _, c := range b[i+1:] {
		switch {
		case c == ' ':
			field++
		case field == 17 && c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
		case field > 17:
			return n
		}
	}
	return n
}

// readThreads reads the stat of every thread of p, opening each one for
// the read: threads come and go.
func (f *floor) readThreads(p *procFiles) {
	b, ok := f.readDir(&p.tasks)
	if !ok {
		return
	}
	f.tids = parsePIDs(b, f.tids[:0])
	dir := strings.TrimSuffix(p.tasks.path, "task")
	for _, tid := range f.tids {
		x := file{path: dir + "task/" + strconv.Itoa(tid) + "/stat", fd: -1}
		if _, ok := f.read(&x); ok {
			f.cur.threads++
		}
		closeFile(&x)
	}
}

func (p *procFiles) closeAll() {
	for _, x := range []*file{&p.stat, &p.status, &p.io, &p.fd, &p.tasks} {
		closeFile(x)
	}
}

// parsePIDs appends the numeric names in raw linux_dirent64 records.
func parsePIDs(b []byte, out []int) []int {
	for off := 0; off+19 <= len(b); {
		reclen := int(binary.NativeEndian.Uint16(b[off+16:]))
		if reclen < 19 || off+reclen > len(b) {
			break
		}
		name := b[off+19 : off+reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) > 0 && name[0] >= '1' && name[0] <= '9' {
			n := 0
			ok := true
			for _, c := range name {
				if c < '0' || c > '9' {
					ok = false
					break
				}
				n = n*10 + int(c-'0')
			}
			if ok {
				out = append(out, n)
			}
		}
		off += reclen
	}
	return out
}

// openFDs counts the descriptors the floor holds.
func (f *floor) openFDs() int {
	n := 0
	for _, x := range f.fixed {
		if x.fd >= 0 {
			n++
		}
	}
	for _, p := range f.procs {
		for _, x := range []*file{&p.stat, &p.status, &p.io, &p.fd, &p.tasks} {
			if x.fd >= 0 {
				n++
			}
		}
	}
	return n
}

// close closes everything.
func (f *floor) close() {
	for _, x := range f.fixed {
		closeFile(x)
	}
	for _, p := range f.procs {
		p.closeAll()
	}
	closeFile(&f.mountinfo)
	closeFile(&f.procDir)
	if f.nl >= 0 {
		_ = syscall.Close(f.nl)
	}
}
