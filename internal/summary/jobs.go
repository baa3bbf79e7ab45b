package summary

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Process is one of the agent's top processes: the union of the top N by
// CPU, by resident memory and by I/O that the process collector reports as
// trainwatch_process_*{pid,command,user}.
type Process struct {
	PID int64 `json:"pid"`
	// Command is the process's comm, e.g. "python3" or "pt_main_thread".
	Command string `json:"command"`
	// User is the user name, else the uid.
	User string `json:"user"`
	// CPUPercent is trainwatch_process_cpu_percent: CPU used since the
	// agent's previous scan, 100 = one core (may exceed 100).
	CPUPercent float64 `json:"cpu_percent"`
	// ResidentBytes is trainwatch_process_resident_memory_bytes.
	ResidentBytes uint64 `json:"resident_bytes"`
	// ReadBytesPerSecond and WriteBytesPerSecond are the storage I/O rates
	// (/proc/PID/io); omitted when the agent could not read them.
	ReadBytesPerSecond  *float64 `json:"read_bytes_per_second,omitempty"`
	WriteBytesPerSecond *float64 `json:"write_bytes_per_second,omitempty"`
	// Threads is trainwatch_process_threads.
	Threads uint64 `json:"threads"`
	// OpenFDs is trainwatch_process_open_fds; omitted when unreadable.
	OpenFDs *uint64 `json:"open_fds,omitempty"`
	// GPUMemoryBytes is the process's GPU memory summed over the GPUs that
	// list it (GPU.Processes); omitted when no GPU lists it.
	GPUMemoryBytes *uint64 `json:"gpu_memory_bytes,omitempty"`
}

// Job is a training job (a process tree and the GPUs it uses; see
// docs/jobs.md), from trainwatch_job_*{job}.
type Job struct {
	// ID is the job label, "<root pid>-<root start time>".
	ID string `json:"id"`
	// Name is the Slurm job id, container, pod or training script.
	Name    string `json:"name"`
	RootPID int64  `json:"root_pid"`
	// Launcher is "torchrun", "deepspeed", "accelerate", "mpirun", "slurm"
	// or "" for none.
	Launcher  string `json:"launcher"`
	User      string `json:"user"`
	Container string `json:"container"`
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	SlurmJob  string `json:"slurm_job"`
	// Processes, Ranks and Workers count the job's processes, those using
	// a GPU, and the ranks' Python children that use none.
	Processes uint64 `json:"processes"`
	Ranks     uint64 `json:"ranks"`
	Workers   uint64 `json:"workers"`
	// CPUPercent, ResidentBytes and the I/O rates are summed over the
	// job's processes; 100 % = one core.
	CPUPercent          float64 `json:"cpu_percent"`
	ResidentBytes       uint64  `json:"resident_bytes"`
	ReadBytesPerSecond  float64 `json:"read_bytes_per_second"`
	WriteBytesPerSecond float64 `json:"write_bytes_per_second"`
	GPUMemoryBytes      uint64  `json:"gpu_memory_bytes"`
	// GPUs are the gpu indexes the job uses (trainwatch_job_gpu_info),
	// sorted in natural order.
	GPUs []string `json:"gpus"`
	// StartTime is the root's start time; omitted when unknown.
	StartTime *time.Time `json:"start_time,omitempty"`
	// RunningSeconds is Host.Time − StartTime (0 when the start is in the
	// future); omitted when StartTime is.
	RunningSeconds *float64 `json:"running_seconds,omitempty"`
}

func parsePID(s string) int64 {
	pid, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}

func u64p(v float64) *uint64 { x := toUint(v); return &x }

// computeProcesses reads the top processes and joins each with its GPU
// memory from h.GPUs, which must be computed first.
func computeProcesses(h *Host, v *view) {
	gpuMem := map[int64]uint64{}
	for _, g := range h.GPUs {
		for _, p := range g.Processes {
			gpuMem[p.PID] += p.MemoryBytes
		}
	}
	procs := map[string]*Process{}
	for _, sr := range []struct {
		name string
		set  func(p *Process, v float64)
	}{
		{"trainwatch_process_cpu_percent", func(p *Process, v float64) { p.CPUPercent = math.Max(v, 0) }},
		{"trainwatch_process_resident_memory_bytes", func(p *Process, v float64) { p.ResidentBytes = toUint(v) }},
		{"trainwatch_process_read_bytes_per_second", func(p *Process, v float64) { p.ReadBytesPerSecond = ptr(math.Max(v, 0)) }},
		{"trainwatch_process_write_bytes_per_second", func(p *Process, v float64) { p.WriteBytesPerSecond = ptr(math.Max(v, 0)) }},
		{"trainwatch_process_threads", func(p *Process, v float64) { p.Threads = toUint(v) }},
		{"trainwatch_process_open_fds", func(p *Process, v float64) { p.OpenFDs = u64p(v) }},
	} {
		for _, s := range v.samples(sr.name, "pid", "command", "user") {
			if s.labels[0] == "" {
				continue
			}
			p := procs[s.labels[0]]
			if p == nil {
				p = &Process{PID: parsePID(s.labels[0])}
				procs[s.labels[0]] = p
			}
			if p.Command == "" {
				p.Command = s.labels[1]
			}
			if p.User == "" {
				p.User = s.labels[2]
			}
			sr.set(p, s.value)
		}
	}
	for _, p := range procs {
		if m, ok := gpuMem[p.PID]; ok {
			p.GPUMemoryBytes = &m
		}
		h.Processes = append(h.Processes, *p)
	}
	sort.Slice(h.Processes, func(i, j int) bool {
		a, b := h.Processes[i], h.Processes[j]
		if a.CPUPercent != b.CPUPercent {
			return a.CPUPercent > b.CPUPercent
		}
		if a.PID != b.PID {
			return a.PID < b.PID
		}
		return a.Command < b.Command
	})
}

// computeJobs reads the trainwatch_job_* families. A job is any job label
// seen in them; trainwatch_job_info gives its identity.
func computeJobs(h *Host, v *view) {
	jobs := map[string]*Job{}
	get := func(id string) *Job {
		j := jobs[id]
		if j == nil {
			j = &Job{ID: id, GPUs: []string{}}
			jobs[id] = j
		}
		return j
	}
	for _, s := range v.samples("trainwatch_job_info", "job", "name", "root_pid", "launcher", "user",
		"container", "pod", "namespace", "slurm_job") {
		if s.labels[0] == "" || s.value == 0 {
			continue
		}
		j := get(s.labels[0])
		l := s.labels
		j.Name, j.RootPID, j.Launcher, j.User = l[1], parsePID(l[2]), l[3], l[4]
		j.Container, j.Pod, j.Namespace, j.SlurmJob = l[5], l[6], l[7], l[8]
	}
	gpus := map[string]map[string]bool{}
	for _, s := range v.samples("trainwatch_job_gpu_info", "job", "gpu") {
		if s.labels[0] == "" || s.labels[1] == "" || s.value == 0 {
			continue
		}
		get(s.labels[0])
		if gpus[s.labels[0]] == nil {
			gpus[s.labels[0]] = map[string]bool{}
		}
		gpus[s.labels[0]][s.labels[1]] = true
	}
	for _, sr := range []struct {
		name string
		set  func(j *Job, v float64)
	}{
		{"trainwatch_job_processes", func(j *Job, v float64) { j.Processes = toUint(v) }},
		{"trainwatch_job_ranks", func(j *Job, v float64) { j.Ranks = toUint(v) }},
		{"trainwatch_job_workers", func(j *Job, v float64) { j.Workers = toUint(v) }},
		{"trainwatch_job_cpu_percent", func(j *Job, v float64) { j.CPUPercent = math.Max(v, 0) }},
		{"trainwatch_job_resident_memory_bytes", func(j *Job, v float64) { j.ResidentBytes = toUint(v) }},
		{"trainwatch_job_read_bytes_per_second", func(j *Job, v float64) { j.ReadBytesPerSecond = math.Max(v, 0) }},
		{"trainwatch_job_write_bytes_per_second", func(j *Job, v float64) { j.WriteBytesPerSecond = math.Max(v, 0) }},
		{"trainwatch_job_gpu_memory_bytes", func(j *Job, v float64) { j.GPUMemoryBytes = toUint(v) }},
		{"trainwatch_job_start_time_seconds", func(j *Job, v float64) {
			if v <= 0 {
				return
			}
			sec, frac := math.Modf(v)
			t := time.Unix(int64(sec), int64(frac*1e9)).UTC().Round(time.Millisecond)
			j.StartTime = &t
			run := math.Max(h.Time.Sub(t).Seconds(), 0)
			j.RunningSeconds = &run
		}},
	} {
		for _, s := range v.samples(sr.name, "job") {
			if s.labels[0] != "" {
				sr.set(get(s.labels[0]), s.value)
			}
		}
	}
	for id, j := range jobs {
		for g := range gpus[id] {
			j.GPUs = append(j.GPUs, g)
		}
		sort.Slice(j.GPUs, func(a, b int) bool { return naturalLess(j.GPUs[a], j.GPUs[b]) })
		h.Jobs = append(h.Jobs, *j)
	}
	sort.Slice(h.Jobs, func(i, j int) bool {
		a, b := h.Jobs[i], h.Jobs[j]
		if a.GPUMemoryBytes != b.GPUMemoryBytes {
			return a.GPUMemoryBytes > b.GPUMemoryBytes
		}
		if a.CPUPercent != b.CPUPercent {
			return a.CPUPercent > b.CPUPercent
		}
		return naturalLess(a.ID, b.ID)
	})
}

// roundJobs rounds the computed values of h.Processes and h.Jobs.
func roundJobs(h *Host) {
	for i := range h.Processes {
		p := &h.Processes[i]
		p.CPUPercent = round(p.CPUPercent, percentScale)
		for _, r := range []*float64{p.ReadBytesPerSecond, p.WriteBytesPerSecond} {
			if r != nil {
				*r = round(*r, rateScale)
			}
		}
	}
	for i := range h.Jobs {
		j := &h.Jobs[i]
		j.CPUPercent = round(j.CPUPercent, percentScale)
		j.ReadBytesPerSecond = round(j.ReadBytesPerSecond, rateScale)
		j.WriteBytesPerSecond = round(j.WriteBytesPerSecond, rateScale)
		if j.RunningSeconds != nil {
			*j.RunningSeconds = round(*j.RunningSeconds, secondsScale)
		}
	}
}
