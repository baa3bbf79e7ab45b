package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// parsePIDStat returns a task's state letter and thread count from its
// /proc/PID/stat (or /proc/PID/task/TID/stat) line. The command name in
// parentheses may itself hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parsePIDStat(file string, b []byte, fields [][]byte) (state byte, threads uint64, _ [][]byte, err error) {
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return 0, 0, fields, &hostfs.ParseError{File: file, Line: 1, Msg: "empty file; expected a process status line"}
	}
	line := l.Bytes()
	i := bytes.LastIndexByte(line, ')')
	if i < 0 {
		return 0, 0, fields, l.Errorf("missing the ')' that ends the command name")
	}
	fields = hostfs.Fields(fields, line[i+1:])
	// State is field 3 of the line, num_threads field 20.
	if len(fields) < 18 {
		return 0, 0, fields, l.Errorf("expected at least 18 fields after the command name, got %d", len(fields))
	}
	if len(fields[0]) != 1 {
		return 0, 0, fields, l.Errorf("state %q is not a single letter", fields[0])
	}
	threads, ok := hostfs.ParseUint(fields[17])
	if !ok {
		return 0, 0, fields, l.Errorf("num_threads: %q is not an unsigned integer", fields[17])
	}
	return fields[0][0], threads, fields, nil
}

// isPID reports whether a /proc entry name is a process (or thread) ID.
func isPID(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return true
}

// gone reports whether err means the process exited while being read.
func gone(err error) bool {
	return hostfs.IsNotExist(err) || errors.Is(err, syscall.ESRCH)
}

// processesCollector is node_exporter's processes collector: the number of
// processes and threads, by state, against the kernel's limits.
type processesCollector struct {
	interval     time.Duration
	roots        hostfs.Roots
	threadStates bool
	procDir      string
	prefix       string // procDir + "/"
	pidMaxPath   string
	threadsMax   string

	threadsDesc, maxThreadsDesc, stateDesc, threadStateDesc, pidsDesc, maxPIDsDesc *collector.Desc

	procStates, taskStates [256]uint64
	stateLabels            [256][]string
	fields                 [][]byte
	buf                    []byte
}

func newProcesses(roots hostfs.Roots, threadStates bool, interval time.Duration) *processesCollector {
	dir := roots.ProcPath()
	return &processesCollector{
		interval:     interval,
		roots:        roots,
		threadStates: threadStates,
		procDir:      dir,
		prefix:       dir + "/",
		pidMaxPath:   roots.ProcPath("sys", "kernel", "pid_max"),
		threadsMax:   roots.ProcPath("sys", "kernel", "threads-max"),
		threadsDesc: collector.NewDesc("node_processes_threads",
			"Allocated threads in system", collector.Gauge),
		maxThreadsDesc: collector.NewDesc("node_processes_max_threads",
			"Limit of threads in the system", collector.Gauge),
		stateDesc: collector.NewDesc("node_processes_state",
			"Number of processes in each state.", collector.Gauge, "state"),
		threadStateDesc: collector.NewDesc("node_processes_threads_state",
			"Number of threads in each state.", collector.Gauge, "thread_state"),
		pidsDesc: collector.NewDesc("node_processes_pids",
			"Number of PIDs", collector.Gauge),
		maxPIDsDesc: collector.NewDesc("node_processes_max_processes",
			"Number of max PIDs limit", collector.Gauge),
	}
}

func (c *processesCollector) Name() string { return "processes" }

// MinInterval makes the Runner scan processes only this often.
func (c *processesCollector) MinInterval() time.Duration { return c.interval }

func (c *processesCollector) Collect(ctx context.Context, e *collector.Emitter) error {
	names, err := c.roots.ReadDirNames(c.procDir)
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	c.procStates, c.taskStates = [256]uint64{}, [256]uint64{}
	var pids, threads uint64
	for _, pid := range names {
		if !isPID(pid) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("processes: stopped after %d processes: %w", pids, err)
		}
		state, n, err := c.readStat(c.prefix + pid + "/stat")
		if err != nil {
			if gone(err) {
				continue
			}
			return err
		}
		pids++
		threads += n
		c.procStates[state]++
		if c.threadStates {
			if n <= 1 {
				// Its only task is the main thread, whose state is the
				// process's: no need to list and read /proc/PID/task.
				c.taskStates[state]++
			} else if err := c.countThreads(pid, state); err != nil {
				return err
			}
		}
	}
	maxThreads, err := readUint(c.roots, c.threadsMax, &c.buf)
	if err != nil {
		return fmt.Errorf("read the thread limit: %w", err)
	}
	maxPIDs, err := readUint(c.roots, c.pidMaxPath, &c.buf)
	if err != nil {
		return fmt.Errorf("read the PID limit: %w", err)
	}
	e.Emit(c.threadsDesc, float64(threads))
	e.Emit(c.maxThreadsDesc, float64(maxThreads))
	c.emitStates(e, c.stateDesc, &c.procStates)
	e.Emit(c.pidsDesc, float64(pids))
	e.Emit(c.maxPIDsDesc, float64(maxPIDs))
	if c.threadStates {
		c.emitStates(e, c.threadStateDesc, &c.taskStates)
	}
	return nil
}

// countThreads counts the states of a process's threads; the main thread
// has the process's state.
func (c *processesCollector) countThreads(pid string, state byte) error {
	dir := c.prefix + pid + "/task"
	tids, err := c.roots.ReadDirNames(dir)
	if err != nil {
		if gone(err) {
			return nil
		}
		return fmt.Errorf("list threads: %w", err)
	}
	for _, tid := range tids {
		if tid == pid {
			c.taskStates[state]++
			continue
		}
		if !isPID(tid) {
			continue
		}
		st, _, err := c.readStat(dir + "/" + tid + "/stat")
		if err != nil {
			if gone(err) {
				continue
			}
			return err
		}
		c.taskStates[st]++
	}
	return nil
}

func (c *processesCollector) readStat(path string) (state byte, threads uint64, err error) {
	b, err := c.roots.ReadFile(path, c.buf)
	c.buf = b
	if err != nil {
		if gone(err) {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("read process status: %w", err)
	}
	state, threads, c.fields, err = parsePIDStat(path, b, c.fields)
	return state, threads, err
}

// emitStates emits one series per state seen, in the order of the state
// letters.
func (c *processesCollector) emitStates(e *collector.Emitter, d *collector.Desc, counts *[256]uint64) {
	for s, n := range counts {
		if n == 0 {
			continue
		}
		if c.stateLabels[s] == nil {
			c.stateLabels[s] = []string{string(rune(s))}
		}
		e.Emit(d, float64(n), c.stateLabels[s]...)
	}
}
