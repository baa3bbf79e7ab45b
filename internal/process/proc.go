// Package process reads every process from /proc once per scan and serves
// process-exporter-compatible groups (namedprocess_namegroup_*), the top
// processes (trainwatch_process_*), and the process table that job
// attribution (internal/jobs) groups into training jobs.
package process

import "time"

// Proc is one process as of the last scan. Fields that could not be read
// (permission denied, process gone) are left at their zero value and
// recorded in Missing, so that they are omitted, never reported as zero.
type Proc struct {
	PID, PPID int
	// StartTime is when the process started (boot time + starttime).
	StartTime time.Time
	// Comm is the kernel's command name (15 bytes at most); Cmdline the
	// command line, arguments joined by spaces ("" for kernel threads).
	Comm, Cmdline string
	// Exe is argv[0] as process-exporter's exe matcher sees it.
	Exe string
	// User is the name of the real uid.
	User string
	UID  int
	// State is the one-letter state from /proc/PID/stat (R, S, D, Z, ...).
	State byte
	// KernelThread is true for kernel threads (no mm, PF_KTHREAD).
	KernelThread bool

	// Cumulative CPU time in seconds.
	UserSeconds, SystemSeconds float64
	// CPUPercent is the share of one CPU used since the previous scan
	// (100 = one full core); 0 on a process's first scan.
	CPUPercent                             float64
	ResidentBytes, VirtualBytes, SwapBytes uint64
	MajorFaults, MinorFaults               uint64
	NumThreads                             int
	OpenFDs                                int
	// MaxFDs is the soft RLIMIT_NOFILE (0 when unknown).
	MaxFDs int
	// ReadBytes and WriteBytes are /proc/PID/io read_bytes/write_bytes
	// (storage I/O); ReadBytesPerSecond and WriteBytesPerSecond their
	// rates since the previous scan.
	ReadBytes, WriteBytes                         uint64
	ReadBytesPerSecond, WriteBytesPerSecond       float64
	VoluntaryCtxSwitches, NonvoluntaryCtxSwitches uint64

	// Container, Pod, Namespace, SlurmJob come from /proc/PID/cgroup
	// (see internal/procinfo).
	Container, Pod, Namespace, SlurmJob string
	// Runtime is the container runtime Container was found for; Cgroup
	// the process's cgroup path (see procinfo.Info).
	Runtime, Cgroup string
	// StartTicks is /proc/PID/stat's starttime (clock ticks since boot):
	// with PID it identifies the process even when boot time is unknown.
	StartTicks uint64

	// Missing lists fields that could not be read: "io", "fd", "status",
	// "cmdline", "limits". The slice is shared between processes and
	// scans: never modify it.
	Missing []string
}

// Has reports whether field ("io", "fd", ...) was read.
func (p *Proc) Has(field string) bool {
	for _, m := range p.Missing {
		if m == field {
			return false
		}
	}
	return true
}

// Table is the result of one scan: every process, by PID. A Table and its
// Procs are never modified after Scan returns them, so they may be read
// from several goroutines.
type Table struct {
	Time  time.Time
	Procs map[int]*Proc

	// ReadErrors counts processes that could not be read at all for a
	// reason other than exiting (a malformed stat), and so are absent;
	// PartialErrors counts processes with some field in Missing because
	// of an error (permission denied on io or fd, a malformed status).
	// Processes that exit during the scan are neither: they are absent.
	ReadErrors, PartialErrors int
}
