// Package procinfo says who a process is: its command, command line, user,
// start time, and the container, Kubernetes pod and Slurm job it runs in,
// read from /proc/PID/{stat,status,cmdline,cgroup} and the host's
// /etc/passwd. The GPU collectors use it to label per-process series; the
// process groups will use it too.
//
// A Reader caches what it learnt about a process, keyed by the PID and the
// process's start time, so that a PID the kernel hands to a new process is
// never labelled with the old process's identity: every Lookup re-reads
// /proc/PID/stat (one small read) and re-reads the rest only when the
// start time differs.
package procinfo

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// Info is who a process is.
type Info struct {
	PID int
	// Command is the kernel's comm: the executable's base name, at most 15
	// bytes, as /proc/PID/stat gives it ("python3", "pt_main_thread").
	Command string
	// Cmdline is the command line, arguments joined by spaces, cut at
	// MaxCmdline bytes; "" for kernel threads and zombies.
	Cmdline string
	// User is the name of the process's real uid in the host's /etc/passwd
	// (<rootfs>/etc/passwd), or the uid in decimal when the file does not
	// name it (directory users from LDAP or SSSD, container-only users).
	User string
	// UID is the real uid from /proc/PID/status.
	UID int
	// StartTime is when the process started (boot time from /proc/stat
	// plus the starttime field of /proc/PID/stat); zero when /proc/stat
	// has no btime.
	StartTime time.Time

	// Container is the short (12 hex digit) id of the container the
	// process runs in, from its cgroup path: Docker (/docker/<id>,
	// docker-<id>.scope), containerd's CRI plugin (cri-containerd-<id>.scope,
	// or a bare id under a cgroupfs kubepods pod), CRI-O (crio-<id>.scope)
	// and Podman (libpod-<id>.scope). "" outside containers.
	Container string
	// Runtime names the container runtime Container was found for:
	// "docker", "containerd", "cri-o" or "podman"; "" when Container is "".
	Runtime string
	// Pod is the Kubernetes pod UID (kubepods-...-pod<uid>.slice with the
	// systemd cgroup driver, /kubepods/.../pod<uid> with cgroupfs). The pod
	// name is not in any cgroup path, so a pod is known only by its UID
	// here; join with kube-state-metrics' kube_pod_info{uid} for the name.
	Pod string
	// Namespace is the pod's Kubernetes namespace. Cgroups do not carry it;
	// it is read from the service account token the kubelet mounts into
	// the container (/proc/PID/root/{,var/}run/secrets/kubernetes.io/
	// serviceaccount/namespace), which needs the same rights as reading
	// the process's memory (root, or CAP_SYS_PTRACE). "" when the pod has
	// no mounted token (automountServiceAccountToken: false) or the file
	// cannot be read.
	Namespace string
	// SlurmJob is the Slurm job id, from the cgroup Slurm's
	// proctrack/task cgroup plugins put job steps in (cgroup v1:
	// /slurm/uid_<u>/job_<id>/step_<s>/..., v2:
	// /system.slice/slurmstepd.scope/job_<id>/step_<s>/...). "" outside jobs.
	SlurmJob string
	// Cgroup is the process's cgroup path: the unified (v2) one when
	// there is one, else the name=systemd hierarchy's, else the first
	// listed.
	Cgroup string
}

// MaxCmdline is the longest command line kept in Info.Cmdline, in bytes.
const MaxCmdline = 4096

// userHZ is the unit of /proc/PID/stat's starttime (USER_HZ, the value
// sysconf(_SC_CLK_TCK) returns; 100 on every Linux architecture that has
// a procfs user ABI in use today).
const userHZ = 100

// maxEntries bounds the cache: when it is full, the entries not looked up
// since the previous sweep are dropped.
const maxEntries = 4096

// passwdTTL is how long a read of /etc/passwd is trusted before a uid it
// does not name makes the Reader read it again.
const passwdTTL = time.Minute

// Reader looks processes up under a set of hostfs roots. It is safe for
// concurrent use.
type Reader struct {
	roots hostfs.Roots
	now   func() time.Time

	mu       sync.Mutex
	cache    map[int]*entry
	buf      []byte
	bootTime time.Time
	bootRead bool
	users    map[int]string
	usersAt  time.Time
}

type entry struct {
	start uint64 // starttime in clock ticks since boot
	info  Info
	used  bool // looked up since the last sweep
}

// NewReader returns a Reader for the processes under roots.Proc, resolving
// users through roots.RootFS's /etc/passwd.
func NewReader(roots hostfs.Roots) *Reader {
	return &Reader{
		roots: roots.WithDefaults(),
		now:   time.Now,
		cache: make(map[int]*entry),
	}
}

// Lookup returns who process pid is. A process that no longer exists (or
// exits while it is read) gives an error for which errors.Is(err,
// os.ErrNotExist) holds; a malformed file gives a *hostfs.ParseError that
// names the file and line.
func (r *Reader) Lookup(pid int) (Info, error) {
	if pid <= 0 {
		return Info{}, fmt.Errorf("procinfo: invalid pid %d", pid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	p := strconv.Itoa(pid)
	statPath := r.roots.ProcPath(p, "stat")
	b, err := r.read(statPath)
	if err != nil {
		return Info{}, vanished(pid, err)
	}
	comm, start, err := parseStat(statPath, b)
	if err != nil {
		return Info{}, err
	}
	if e, ok := r.cache[pid]; ok && e.start == start {
		e.used = true
		return e.info, nil
	}

	info := Info{PID: pid, Command: string(comm)}
	if bt := r.boot(); !bt.IsZero() {
		info.StartTime = bt.Add(time.Duration(start) * (time.Second / userHZ))
	}

	statusPath := r.roots.ProcPath(p, "status")
	if b, err = r.read(statusPath); err != nil {
		return Info{}, vanished(pid, err)
	}
	if info.UID, err = parseStatusUID(statusPath, b); err != nil {
		return Info{}, err
	}
	info.User = r.userName(info.UID)

	if b, err = r.read(r.roots.ProcPath(p, "cmdline")); err != nil {
		return Info{}, vanished(pid, err)
	}
	info.Cmdline = cmdline(b)

	cgPath := r.roots.ProcPath(p, "cgroup")
	if b, err = r.read(cgPath); err != nil {
		return Info{}, vanished(pid, err)
	}
	cg, err := ParseCgroup(cgPath, b)
	if err != nil {
		return Info{}, err
	}
	info.Container, info.Runtime, info.Pod, info.SlurmJob, info.Cgroup = cg.Container, cg.Runtime, cg.Pod, cg.SlurmJob, cg.Path
	if info.Pod != "" {
		info.Namespace = r.namespace(p)
	}

	if len(r.cache) >= maxEntries {
		r.sweep()
	}
	r.cache[pid] = &entry{start: start, info: info, used: true}
	return info, nil
}

// Forget drops what the Reader knows about pid (a caller that saw it exit).
func (r *Reader) Forget(pid int) {
	r.mu.Lock()
	delete(r.cache, pid)
	r.mu.Unlock()
}

// read reads a file into the Reader's buffer. r.mu held.
func (r *Reader) read(path string) ([]byte, error) {
	b, err := r.roots.ReadFile(path, r.buf)
	r.buf = b
	return b, err
}

// sweep drops the entries not used since the previous sweep and marks the
// rest unused; if every entry was used it drops about half. r.mu held.
func (r *Reader) sweep() {
	for pid, e := range r.cache {
		if !e.used {
			delete(r.cache, pid)
		} else {
			e.used = false
		}
	}
	for pid := range r.cache {
		if len(r.cache) < maxEntries/2 {
			break
		}
		delete(r.cache, pid)
	}
}

// vanished turns the errors of reading a file of an exited process into
// one that matches os.ErrNotExist (ESRCH is what reads of a zombie's or a
// just-exited process's files can return).
func vanished(pid int, err error) error {
	if errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("procinfo: process %d exited: %w (%v)", pid, os.ErrNotExist, err)
	}
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("procinfo: process %d: %w", pid, err)
	}
	return fmt.Errorf("procinfo: %w", err)
}

// boot returns the boot time from /proc/stat's btime, read once; zero when
// it cannot be read. r.mu held.
func (r *Reader) boot() time.Time {
	if r.bootRead {
		return r.bootTime
	}
	r.bootRead = true
	path := r.roots.ProcPath("stat")
	b, err := r.read(path)
	if err != nil {
		return time.Time{}
	}
	if bt, ok := parseBootTime(b); ok {
		r.bootTime = time.Unix(int64(bt), 0)
	}
	return r.bootTime
}

// userName resolves uid through the host's /etc/passwd, re-read when it is
// older than passwdTTL and does not name uid. r.mu held.
func (r *Reader) userName(uid int) string {
	if name, ok := r.users[uid]; ok {
		return name
	}
	if r.users == nil || r.now().Sub(r.usersAt) >= passwdTTL {
		r.usersAt = r.now()
		r.users = map[int]string{}
		if b, err := r.read(r.roots.RootPath("/etc/passwd")); err == nil {
			r.users = parsePasswd(b)
		}
		if name, ok := r.users[uid]; ok {
			return name
		}
	}
	return strconv.Itoa(uid)
}

// saPaths are where a container's service account namespace file is seen
// through /proc/PID/root. /var/run is usually a symbolic link to /run, and
// an absolute link followed through /proc/PID/root resolves against the
// reader's root, not the container's, so both spellings are tried.
var saPaths = [...]string{
	"root/run/secrets/kubernetes.io/serviceaccount/namespace",
	"root/var/run/secrets/kubernetes.io/serviceaccount/namespace",
}

// namespace reads the Kubernetes namespace of a pod's process from its
// mounted service account; "" when there is none. r.mu held.
func (r *Reader) namespace(pid string) string {
	for _, rel := range saPaths {
		b, err := r.read(r.roots.ProcPath(pid, rel))
		if err != nil {
			continue
		}
		if ns := string(trimSpace(b)); validNamespace(ns) {
			return ns
		}
	}
	return ""
}

// validNamespace reports whether s is a Kubernetes namespace name (an RFC
// 1123 DNS label), so that an unexpected file never becomes a label.
func validNamespace(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
