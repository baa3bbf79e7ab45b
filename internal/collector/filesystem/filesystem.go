// Package filesystem provides the filesystem collector, named and shaped as
// node_exporter's: the size, free space and inodes of every mounted file
// system (statfs of each mount of /proc/1/mountinfo), with a per-mount
// timeout so that a hung network file system cannot stall collection.
package filesystem

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// node_exporter's defaults (collector/filesystem_linux.go).
const (
	// DefaultMountPointsExclude is --collector.filesystem.mount-points-exclude.
	DefaultMountPointsExclude = `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`
	// DefaultFSTypesExclude is --collector.filesystem.fs-types-exclude.
	DefaultFSTypesExclude = `^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$`
	// DefaultMountTimeout is --collector.filesystem.mount-timeout.
	DefaultMountTimeout = 5 * time.Second
	// DefaultStatWorkers is --collector.filesystem.stat-workers.
	DefaultStatWorkers = 4
)

// timeoutError is the device_error label of a mount whose statfs did not
// return in time, as node_exporter spells it.
const timeoutError = "mountpoint timeout"

// maxReserve bounds the time kept before the collector's deadline to
// report the mounts still being statted as timed out.
const maxReserve = 100 * time.Millisecond

// Config holds the options of the filesystem collector. The zero value
// gives node_exporter's defaults. Regular expressions use Go's RE2 syntax and
// are not anchored unless they say so.
type Config struct {
	// MountPointsExclude drops the mounts whose mount point matches
	// (--collector.filesystem.mount-points-exclude). Empty means
	// DefaultMountPointsExclude, unless MountPointsInclude is set.
	MountPointsExclude string `yaml:"mount_points_exclude"`
	// MountPointsInclude keeps only the mounts whose mount point matches.
	// Mutually exclusive with MountPointsExclude.
	MountPointsInclude string `yaml:"mount_points_include"`
	// FSTypesExclude drops the mounts whose file system type matches
	// (--collector.filesystem.fs-types-exclude). Empty means
	// DefaultFSTypesExclude, unless FSTypesInclude is set.
	FSTypesExclude string `yaml:"fs_types_exclude"`
	// FSTypesInclude keeps only the mounts whose type matches. Mutually
	// exclusive with FSTypesExclude.
	FSTypesInclude string `yaml:"fs_types_include"`
	// MountTimeout is how long one statfs may take before its mount is
	// reported with device_error="mountpoint timeout" and not statted again
	// until that call returns. Zero means DefaultMountTimeout.
	MountTimeout time.Duration `yaml:"mount_timeout"`
	// StatWorkers is how many statfs calls may run at once, not counting
	// calls that timed out. Zero means DefaultStatWorkers.
	StatWorkers int `yaml:"stat_workers"`

	// Statfs replaces unix.Statfs; tests use it to fake sizes and hung
	// mounts. Nil means unix.Statfs.
	Statfs func(path string, st *unix.Statfs_t) error `yaml:"-"`
}

// New returns the package's collectors reading under roots: filesystem.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	mp, err := newFilter("mount_points", cfg.MountPointsInclude, cfg.MountPointsExclude, DefaultMountPointsExclude)
	if err != nil {
		return nil, err
	}
	fs, err := newFilter("fs_types", cfg.FSTypesInclude, cfg.FSTypesExclude, DefaultFSTypesExclude)
	if err != nil {
		return nil, err
	}
	if cfg.MountTimeout < 0 {
		return nil, fmt.Errorf("filesystem config: mount_timeout %s is negative; use a positive duration such as 5s", cfg.MountTimeout)
	}
	if cfg.StatWorkers < 0 {
		return nil, fmt.Errorf("filesystem config: stat_workers %d is negative; use a positive number such as 4", cfg.StatWorkers)
	}
	return []collector.Collector{newFilesystem(roots, cfg, mp, fs)}, nil
}

// filter keeps what matches include (when set) and does not match exclude.
type filter struct {
	include, exclude *regexp.Regexp
}

func newFilter(opt, include, exclude, defaultExclude string) (filter, error) {
	var f filter
	if include != "" && exclude != "" {
		return f, fmt.Errorf("filesystem config: %s_include and %s_exclude are mutually exclusive; set only one of them", opt, opt)
	}
	var err error
	switch {
	case include != "":
		if f.include, err = regexp.Compile(include); err != nil {
			return f, fmt.Errorf("filesystem config: %s_include %q is not a valid regular expression (RE2 syntax): %w", opt, include, err)
		}
	case exclude != "":
		if f.exclude, err = regexp.Compile(exclude); err != nil {
			return f, fmt.Errorf("filesystem config: %s_exclude %q is not a valid regular expression (RE2 syntax): %w", opt, exclude, err)
		}
	default:
		f.exclude = regexp.MustCompile(defaultExclude)
	}
	return f, nil
}

func (f filter) ignored(s string) bool {
	return (f.exclude != nil && f.exclude.MatchString(s)) || (f.include != nil && !f.include.MatchString(s))
}

// mount is what the collector keeps about one line of mountinfo; it is
// rebuilt only when the line changes.
type mount struct {
	raw                                      string // the mountinfo line
	device, mountPoint, fsType, major, minor string
	ignored                                  bool // filtered out by mount point or type
	ro                                       float64
	statPath                                 string // the mount point under the root file system
	note                                     string // "statfs:" + statPath, for Roots.Note

	// Label values, never modified once emitted.
	labels        []string // device, mountpoint, fstype, ""
	infoLabels    []string // device, major, minor, mountpoint
	timeoutLabels []string // device_error="mountpoint timeout", made when first needed
	errLabels     []string // device_error=lastErr, made when the error changes
	lastErr       string
}

// Outcomes of one mount in one tick.
const (
	resSkipped = iota // not statted: the collector ran out of time first
	resOK
	resErr
	resTimeout
)

type statResult struct {
	state                           int
	size, free, avail, files, ffree float64
	err                             string
}

// statTick is the state of one tick's statfs calls, shared by the
// collector and its workers. Fields below jobs are guarded by
// filesystemCollector.mu.
type statTick struct {
	jobs    []int // indexes into the collector's jobs and res to stat
	allDone chan struct{}
	next    int  // next entry of jobs to start
	done    int  // entries of jobs finished or given up on
	stopped bool // the collector returned: start nothing more
}

// statWorker runs statfs calls one after another. A worker whose call
// timed out is abandoned: it only takes its mount out of the stuck set when
// the call returns, and exits.
type statWorker struct {
	st unix.Statfs_t
	// Guarded by filesystemCollector.mu.
	job       int       // index into res of the call in flight, -1 when none
	start     time.Time // when that call started
	abandoned bool
}

// filesystemCollector reads the mount table and statfs's each mount as
// node_exporter's filesystem collector.
type filesystemCollector struct {
	roots        hostfs.Roots
	paths        [2]string // <proc>/1/mountinfo, <proc>/self/mountinfo
	mpFilter     filter
	fsFilter     filter
	timeout      time.Duration
	workers      int
	statfs       func(string, *unix.Statfs_t) error
	rootFSPrefix string // stripped from mount points, as node_exporter's rootfsStripPrefix

	collectMu  sync.Mutex // Collect is not reentrant; the fields below are its own
	buf        []byte
	fields     [][]byte
	mounts     []*mount
	jobs       []*mount
	res        []statResult // results of jobs; written by workers under mu
	toStat     []int        // indexes of the jobs to stat this tick
	workerList []*statWorker
	timer      *time.Timer

	mu    sync.Mutex
	stuck map[string]int // mount point -> statfs calls timed out and not yet returned

	sizeDesc, freeDesc, availDesc, filesDesc, filesFreeDesc *collector.Desc
	roDesc, deviceErrorDesc, mountInfoDesc                  *collector.Desc
}

func newFilesystem(roots hostfs.Roots, cfg Config, mp, fs filter) *filesystemCollector {
	labels := []string{"device", "mountpoint", "fstype", "device_error"}
	gauge := func(name, help string) *collector.Desc {
		return collector.NewDesc("node_filesystem_"+name, help, collector.Gauge, labels...)
	}
	c := &filesystemCollector{
		roots:         roots,
		paths:         [2]string{roots.ProcPath("1", "mountinfo"), roots.ProcPath("self", "mountinfo")},
		mpFilter:      mp,
		fsFilter:      fs,
		timeout:       cfg.MountTimeout,
		workers:       cfg.StatWorkers,
		statfs:        cfg.Statfs,
		stuck:         make(map[string]int),
		timer:         time.NewTimer(time.Hour),
		sizeDesc:      gauge("size_bytes", "Filesystem size in bytes."),
		freeDesc:      gauge("free_bytes", "Filesystem free space in bytes."),
		availDesc:     gauge("avail_bytes", "Filesystem space available to non-root users in bytes."),
		filesDesc:     gauge("files", "Filesystem total file nodes."),
		filesFreeDesc: gauge("files_free", "Filesystem total free file nodes."),
		roDesc:        gauge("readonly", "Filesystem read-only status."),
		deviceErrorDesc: gauge("device_error",
			"Whether an error occurred while getting statistics for the given device."),
		mountInfoDesc: collector.NewDesc("node_filesystem_mount_info", "Filesystem mount information.",
			collector.Gauge, "device", "major", "minor", "mountpoint"),
	}
	c.timer.Stop()
	if c.timeout == 0 {
		c.timeout = DefaultMountTimeout
	}
	if c.workers == 0 {
		c.workers = DefaultStatWorkers
	}
	if c.statfs == nil {
		c.statfs = unix.Statfs
	}
	if r := filepath.Clean(roots.RootFS); r != "/" && r != "." {
		c.rootFSPrefix = r
	}
	return c
}

func (c *filesystemCollector) Name() string { return "filesystem" }

func (c *filesystemCollector) Collect(ctx context.Context, e *collector.Emitter) error {
	c.collectMu.Lock()
	defer c.collectMu.Unlock()
	if err := c.readMounts(); err != nil {
		return err
	}
	c.res = c.res[:0]
	for range c.jobs {
		c.res = append(c.res, statResult{})
	}
	skipped := c.statAll(ctx)
	c.emit(e)
	if skipped > 0 {
		cause := ctx.Err()
		if cause == nil { // stopped just before the deadline
			cause = context.DeadlineExceeded
		}
		return fmt.Errorf("filesystem: %d of %d mounts not statted before the deadline: %w", skipped, len(c.jobs), cause)
	}
	return nil
}

// readMounts reads the mount table (PID 1's, falling back to our own when
// hidepid or permissions hide it) and sets c.jobs to the mounts to report.
func (c *filesystemCollector) readMounts() error {
	path := c.paths[0]
	b, err := c.roots.ReadFile(path, c.buf)
	if err != nil && (hostfs.IsNotExist(err) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) {
		path = c.paths[1]
		b, err = c.roots.ReadFile(path, b)
	}
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("filesystem: neither %s nor %s exists: %w", c.paths[0], c.paths[1], collector.ErrNoData)
		}
		return fmt.Errorf("read mount table: %w", err)
	}
	l := hostfs.NewLines(path, b)
	n := 0
	changed := false
	for l.Next() {
		line := l.Bytes()
		if len(line) == 0 {
			continue
		}
		if n < len(c.mounts) && c.mounts[n].raw == string(line) {
			n++
			continue
		}
		var ml mountLine
		ml, c.fields, err = parseMountLine(l, c.fields)
		if err != nil {
			c.mounts = c.mounts[:n] // keep the lines that are known good
			c.jobs = nil            // and plan again next time
			return err
		}
		m := c.newMount(string(line), &ml)
		if n < len(c.mounts) {
			c.mounts[n] = m
		} else {
			c.mounts = append(c.mounts, m)
		}
		n++
		changed = true
	}
	if n != len(c.mounts) {
		clear(c.mounts[n:])
		c.mounts = c.mounts[:n]
		changed = true
	}
	if changed || c.jobs == nil {
		c.planJobs()
	}
	return nil
}

// newMount builds the cached state of a mountinfo line.
func (c *filesystemCollector) newMount(raw string, ml *mountLine) *mount {
	m := &mount{
		raw:        raw,
		device:     string(ml.Source),
		mountPoint: c.stripRootFS(unescape(ml.MountPoint)),
		fsType:     string(ml.FSType),
		major:      string(ml.Major),
		minor:      string(ml.Minor),
	}
	m.ignored = c.mpFilter.ignored(m.mountPoint) || c.fsFilter.ignored(m.fsType)
	if m.ignored {
		return m
	}
	if hasOption(ml.Options, "ro") || hasOption(ml.SuperOptions, "ro") {
		m.ro = 1
	}
	m.statPath = c.roots.RootPath(m.mountPoint)
	m.note = "statfs:" + m.statPath
	m.labels = []string{m.device, m.mountPoint, m.fsType, ""}
	m.infoLabels = []string{m.device, m.major, m.minor, m.mountPoint}
	return m
}

// stripRootFS removes the root file system's path from a mount point, for
// an agent that reads its own mount table with the host's root mounted
// under RootFS.
func (c *filesystemCollector) stripRootFS(mp string) string {
	if c.rootFSPrefix == "" {
		return mp
	}
	if mp == c.rootFSPrefix {
		return "/"
	}
	if rest, ok := strings.CutPrefix(mp, c.rootFSPrefix); ok && rest[0] == '/' {
		return rest
	}
	return mp
}

// planJobs lists the mounts to report: not filtered out, and each set of
// labels once (node_exporter reports a device mounted twice on the same
// mount point once).
func (c *filesystemCollector) planJobs() {
	type key struct{ device, mountPoint, fsType, major, minor string }
	seen := make(map[key]bool, len(c.mounts))
	c.jobs = c.jobs[:0]
	for _, m := range c.mounts {
		if m.ignored {
			continue
		}
		k := key{m.device, m.mountPoint, m.fsType, m.major, m.minor}
		if !seen[k] {
			seen[k] = true
			c.jobs = append(c.jobs, m)
		}
	}
	if c.jobs == nil {
		c.jobs = []*mount{}
	}
}

// statAll statfs's every job with at most c.workers calls running at once,
// each with its own deadline, and fills c.res. A call that does not return
// in time is abandoned to its worker, its mount goes into the stuck set
// until it returns, and a new worker takes over the remaining jobs. When
// the collector's own deadline comes close, every call still running is
// reported as timed out. It returns the number of jobs never started.
func (c *filesystemCollector) statAll(ctx context.Context) int {
	var cutoff time.Time
	if dl, ok := ctx.Deadline(); ok {
		cutoff = dl.Add(-min(time.Until(dl)/20, maxReserve))
	}
	// Mounts still stuck from an earlier tick are reported at once.
	c.toStat = c.toStat[:0]
	c.mu.Lock()
	for i, m := range c.jobs {
		if c.stuck[m.mountPoint] > 0 {
			c.res[i].state = resTimeout
		} else {
			c.toStat = append(c.toStat, i)
		}
	}
	c.mu.Unlock()
	if len(c.toStat) == 0 {
		return 0
	}
	for _, i := range c.toStat {
		c.roots.Note(c.jobs[i].note)
	}
	t := &statTick{jobs: c.toStat, allDone: make(chan struct{})}
	workers := c.workerList[:0]
	defer func() { c.workerList = workers[:0] }()
	for range min(c.workers, len(t.jobs)) {
		workers = c.startWorker(t, workers)
	}
	wake := time.Now().Add(c.timeout)
	for {
		if !cutoff.IsZero() && cutoff.Before(wake) {
			wake = cutoff
		}
		c.timer.Reset(time.Until(wake))
		var cut bool
		select {
		case <-t.allDone:
			c.timer.Stop()
			return 0
		case <-c.timer.C:
			cut = !cutoff.IsZero() && !time.Now().Before(cutoff)
		case <-ctx.Done():
			c.timer.Stop()
			cut = true
		}
		c.mu.Lock()
		now := time.Now()
		wake = now.Add(c.timeout)
		replace := 0
		for _, w := range workers {
			if w.abandoned || w.job < 0 {
				continue
			}
			if deadline := w.start.Add(c.timeout); cut || !now.Before(deadline) {
				w.abandoned = true
				c.stuck[c.jobs[w.job].mountPoint]++
				c.res[w.job].state = resTimeout
				t.done++
				replace++
			} else if deadline.Before(wake) {
				wake = deadline
			}
		}
		finished := t.done == len(t.jobs)
		if cut || finished {
			t.stopped = true
			unstarted := len(t.jobs) - t.next
			c.mu.Unlock()
			return unstarted
		}
		replace = min(replace, len(t.jobs)-t.next)
		c.mu.Unlock()
		for range replace {
			workers = c.startWorker(t, workers)
		}
	}
}

// startWorker starts a worker on t and adds it to workers.
func (c *filesystemCollector) startWorker(t *statTick, workers []*statWorker) []*statWorker {
	w := &statWorker{job: -1}
	go c.work(t, w)
	return append(workers, w)
}

// work runs the tick's statfs calls until there are none left.
func (c *filesystemCollector) work(t *statTick, w *statWorker) {
	c.mu.Lock()
	for !t.stopped && t.next < len(t.jobs) {
		i := t.jobs[t.next]
		t.next++
		m := c.jobs[i]
		w.job, w.start = i, time.Now()
		c.mu.Unlock()

		err := c.statfs(m.statPath, &w.st)

		c.mu.Lock()
		if w.abandoned {
			if c.stuck[m.mountPoint]--; c.stuck[m.mountPoint] <= 0 {
				delete(c.stuck, m.mountPoint)
			}
			break
		}
		w.job = -1
		r := &c.res[i]
		if err != nil {
			r.state, r.err = resErr, err.Error()
		} else {
			bs := float64(w.st.Bsize)
			r.state = resOK
			r.size = float64(w.st.Blocks) * bs
			r.free = float64(w.st.Bfree) * bs
			r.avail = float64(w.st.Bavail) * bs
			r.files = float64(w.st.Files)
			r.ffree = float64(w.st.Ffree)
		}
		if t.done++; t.done == len(t.jobs) {
			close(t.allDone)
		}
	}
	c.mu.Unlock()
}

// emit writes the tick's results in mount table order, as node_exporter:
// device_error and readonly for every mount, the sizes and mount_info only
// for the mounts that answered.
func (c *filesystemCollector) emit(e *collector.Emitter) {
	for i, m := range c.jobs {
		r := &c.res[i]
		switch r.state {
		case resOK:
			e.Emit(c.deviceErrorDesc, 0, m.labels...)
			e.Emit(c.roDesc, m.ro, m.labels...)
			e.Emit(c.sizeDesc, r.size, m.labels...)
			e.Emit(c.freeDesc, r.free, m.labels...)
			e.Emit(c.availDesc, r.avail, m.labels...)
			e.Emit(c.filesDesc, r.files, m.labels...)
			e.Emit(c.filesFreeDesc, r.ffree, m.labels...)
			e.Emit(c.mountInfoDesc, 1, m.infoLabels...)
		case resErr:
			if m.errLabels == nil || m.lastErr != r.err {
				m.lastErr = r.err
				m.errLabels = []string{m.device, m.mountPoint, m.fsType, r.err}
			}
			e.Emit(c.deviceErrorDesc, 1, m.errLabels...)
			e.Emit(c.roDesc, m.ro, m.errLabels...)
		case resTimeout:
			if m.timeoutLabels == nil {
				m.timeoutLabels = []string{m.device, m.mountPoint, m.fsType, timeoutError}
			}
			e.Emit(c.deviceErrorDesc, 1, m.timeoutLabels...)
			e.Emit(c.roDesc, 0, m.timeoutLabels...)
		}
	}
}
