// Package system provides the collectors of the machine's identity and
// kernel-wide state: uname, os-release, time and clock discipline, entropy,
// file handles, process and thread counts, and hung tasks.
package system

import (
	"fmt"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// Config holds the options of this package's collectors. The zero value
// behaves as node_exporter's defaults.
type Config struct {
	// ProcessesNoThreadStates turns off node_processes_threads_state, which
	// reads /proc/PID/task/TID/stat for every thread of the machine: on a
	// training server with thousands of threads it is most of the cost of
	// the processes collector.
	ProcessesNoThreadStates bool `yaml:"processes_no_thread_states"`
	// ProcessesInterval is how often the processes collector scans /proc
	// (one file per process and thread); between scans its last values are
	// served. Default DefaultProcessesInterval; it never runs more often
	// than the agent's interval.
	ProcessesInterval time.Duration `yaml:"processes_interval"`

	// Machine is node_uname_info's machine label. Default: the machine
	// field of uname(2), the only uname field not readable under the proc
	// root. Tests set it.
	Machine string `yaml:"-"`
	// Now is the clock of the time collector; tests replace it. Default
	// time.Now.
	Now func() time.Time `yaml:"-"`
	// Adjtimex reads the kernel clock discipline for the timex collector;
	// tests replace it. Default adjtimex(2) in read-only mode.
	Adjtimex func(*syscall.Timex) (int, error) `yaml:"-"`
}

// DefaultProcessesInterval is how often the processes collector scans
// /proc by default: a full scan costs about 10 µs per process and thread,
// too much for every second on a training server with thousands of them.
const DefaultProcessesInterval = 15 * time.Second

// New returns this package's collectors reading under roots: uname, os,
// time, timex, entropy, filefd, processes and kernel_hung.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ProcessesInterval < 0 {
		return nil, fmt.Errorf("processes_interval %s: must be positive, or 0 for the default of %s", cfg.ProcessesInterval, DefaultProcessesInterval)
	}
	if cfg.ProcessesInterval == 0 {
		cfg.ProcessesInterval = DefaultProcessesInterval
	}
	if cfg.Adjtimex == nil {
		cfg.Adjtimex = syscall.Adjtimex
	}
	if cfg.Machine == "" {
		var u syscall.Utsname
		if err := syscall.Uname(&u); err == nil {
			cfg.Machine = cString(u.Machine[:])
		}
	}
	return []collector.Collector{
		newUname(roots, cfg.Machine),
		newOSRelease(roots),
		newTime(roots, cfg.Now),
		newTimex(cfg.Adjtimex),
		newEntropy(roots),
		newFilefd(roots),
		newProcesses(roots, !cfg.ProcessesNoThreadStates, cfg.ProcessesInterval),
		newKernelHung(roots),
	}, nil
}

// cString converts a NUL-terminated uname(2) field (int8 or uint8,
// depending on the architecture) to a string.
func cString[T int8 | uint8](a []T) string {
	b := make([]byte, 0, len(a))
	for _, c := range a {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
