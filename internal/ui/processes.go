package ui

import (
	"net/http"
	"sort"
	"time"

	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
)

// ProcessRow is one process of /api/ui/processes.
type ProcessRow struct {
	PID                 int      `json:"pid"`
	PPID                int      `json:"ppid"`
	Command             string   `json:"command"`
	Cmdline             string   `json:"cmdline"`
	User                string   `json:"user"`
	State               string   `json:"state"`
	CPUPercent          float64  `json:"cpu_percent"`
	ResidentBytes       uint64   `json:"resident_bytes"`
	ReadBytesPerSecond  *float64 `json:"read_bytes_per_second,omitempty"`
	WriteBytesPerSecond *float64 `json:"write_bytes_per_second,omitempty"`
	Threads             int      `json:"threads"`
	GPUMemoryBytes      uint64   `json:"gpu_memory_bytes"`
	GPUs                []string `json:"gpus"`
	Container           string   `json:"container"`
	Job                 string   `json:"job"`
	JobName             string   `json:"job_name"`
}

// JobRow is one training job of /api/ui/processes.
type JobRow struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	RootPID        int      `json:"root_pid"`
	Launcher       string   `json:"launcher"`
	User           string   `json:"user"`
	Processes      int      `json:"processes"`
	Ranks          int      `json:"ranks"`
	Workers        int      `json:"workers"`
	CPUPercent     float64  `json:"cpu_percent"`
	ResidentBytes  uint64   `json:"resident_bytes"`
	GPUMemoryBytes uint64   `json:"gpu_memory_bytes"`
	GPUs           []string `json:"gpus"`
}

// ProcessList is the answer of /api/ui/processes.
type ProcessList struct {
	Time      time.Time    `json:"time"`
	Processes []ProcessRow `json:"processes"`
	Jobs      []JobRow     `json:"jobs"`
}

// handleProcesses lists every process of the latest scan (kernel threads
// left out), each with its job and GPU memory. It is computed on request:
// the page asks every few seconds while it is open, not every tick.
func (u *UI) handleProcesses(w http.ResponseWriter, _ *http.Request) {
	if u.opts.Processes == nil {
		writeError(w, http.StatusNotFound, "the process collector is off (processes.disable in the configuration)")
		return
	}
	tab := u.opts.Processes()
	if tab == nil {
		writeError(w, http.StatusServiceUnavailable, "no process scan yet: the first collection has not finished")
		return
	}
	var uses map[int][]jobs.GPUUse
	if snap := u.snapshotOf(); snap != nil {
		uses = jobs.GPUUseFromSnapshot(snap)
	}
	writeJSON(w, http.StatusOK, BuildProcessList(tab, uses, u.opts.Jobs))
}

// BuildProcessList joins a process table with its jobs and GPU use: the
// answer of /api/ui/processes (kernel threads left out, busiest first),
// also what `trainwatch top` shows when it collects in-process.
func BuildProcessList(tab *process.Table, uses map[int][]jobs.GPUUse, opts jobs.Options) ProcessList {
	js := jobs.Find(tab, uses, opts)
	jobOfPID := map[int]*jobs.Job{}
	out := ProcessList{Time: tab.Time.UTC(), Processes: []ProcessRow{}, Jobs: make([]JobRow, 0, len(js))}
	for i := range js {
		j := &js[i]
		for _, pid := range j.PIDs {
			jobOfPID[pid] = j
		}
		out.Jobs = append(out.Jobs, JobRow{
			ID: j.ID, Name: j.Name, RootPID: j.RootPID, Launcher: j.Launcher, User: j.User,
			Processes: len(j.PIDs), Ranks: j.Ranks, Workers: j.Workers,
			CPUPercent: finite(j.CPUPercent), ResidentBytes: j.ResidentBytes,
			GPUMemoryBytes: j.GPUMemoryBytes, GPUs: append([]string{}, j.GPUs...),
		})
	}
	for _, p := range tab.Procs {
		if p.KernelThread {
			continue
		}
		row := ProcessRow{
			PID: p.PID, PPID: p.PPID, Command: p.Comm, Cmdline: p.Cmdline, User: p.User,
			State: string(rune(p.State)), CPUPercent: finite(p.CPUPercent), ResidentBytes: p.ResidentBytes,
			Threads: p.NumThreads, Container: p.Container, GPUs: []string{},
		}
		if p.State == 0 {
			row.State = ""
		}
		if p.Has("io") {
			r, wr := finite(p.ReadBytesPerSecond), finite(p.WriteBytesPerSecond)
			row.ReadBytesPerSecond, row.WriteBytesPerSecond = &r, &wr
		}
		seen := map[string]bool{}
		for _, use := range uses[p.PID] {
			row.GPUMemoryBytes += use.MemoryBytes
			if !seen[use.GPU] {
				seen[use.GPU] = true
				row.GPUs = append(row.GPUs, use.GPU)
			}
		}
		if j := jobOfPID[p.PID]; j != nil {
			row.Job, row.JobName = j.ID, j.Name
		}
		out.Processes = append(out.Processes, row)
	}
	sort.Slice(out.Processes, func(i, k int) bool {
		a, b := out.Processes[i], out.Processes[k]
		if a.CPUPercent != b.CPUPercent {
			return a.CPUPercent > b.CPUPercent
		}
		return a.PID < b.PID
	})
	return out
}
