// Package jobs groups the process table into training jobs: process trees
// rooted at a launcher (torchrun, deepspeed, accelerate, mpirun, a Slurm
// step), a container's first process or a training script, with the GPUs
// their processes use. It is pure logic: the process scanner
// (internal/process) and the GPU collectors supply the inputs, and Emit turns
// the result into trainwatch_job_* series.
//
// The rules, also in docs/jobs.md:
//
//   - Every process that uses a GPU (has a per-process GPU series) and is in
//     the process table belongs to exactly one job.
//   - Its job's root is found by walking up from it. The walk moves from a
//     process to its parent while the parent is part of the job: a launcher
//     (torchrun or python -m torch.distributed.run/launch, deepspeed or
//     deepspeed.launcher, accelerate, mpirun, mpiexec, orterun, prterun,
//     orted, prted, hydra_pmi_proxy, srun), a Slurm step (slurmstepd), a
//     Python interpreter running a script or -m module, or a shell or exec
//     wrapper (bash, sh, env, numactl, ...) whose own parent is one of those.
//     Inside a container it also moves to any parent in the same container,
//     so that the container's first process is the root.
//   - The walk stops at slurmstepd itself (the step is the job boundary), at
//     PID 1 and a parent not in the table (a process whose parent exited is
//     its own root), and below init/systemd, sshd, login, tmux and screen
//     servers, container runtimes and container init processes
//     (containerd-shim, conmon, docker-init, tini, dumb-init, ...), jupyter
//     servers and kernels, kernel threads, and any other process.
//   - A job is its root and all its descendants, except the subtrees of other
//     roots: each process belongs to its nearest root. Ranks are the job's
//     GPU-using processes, workers the Python children of ranks (DataLoader
//     workers, pt_data_worker) other than multiprocessing helpers.
//   - GPU processes of one Slurm job or container in different trees are
//     separate jobs unless their walks reach the same root.
//   - With Options.MinCPUPercent > 0, a tree rooted (by the same walk) above
//     a Python script that uses no GPU is a job too when its processes
//     together use at least that much CPU. Off by default.
package jobs

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/trainwatch/trainwatch/internal/process"
)

// Job is one training job as of one scan.
type Job struct {
	// ID is "<root pid>-<root start time, Unix seconds>" ("<root pid>-0"
	// when the start time is unknown): stable while the root lives, new
	// when its PID is reused.
	ID string
	// Name is the Slurm job id, else the container id, else the pod UID,
	// else the training script from the root's command line (train.py, or
	// the module of python -m), else that of the first rank, else the
	// root's comm.
	Name    string
	RootPID int
	// Launcher is the launcher nearest the first rank on its way to the
	// root: "torchrun", "deepspeed", "accelerate", "mpirun" or "slurm";
	// "" when there is none (a plain python train.py).
	Launcher string
	// PIDs are the job's processes, sorted.
	PIDs []int
	// Ranks counts the job's processes that use a GPU; Workers the Python
	// children of ranks that do not (DataLoader workers).
	Ranks, Workers int
	// Container, Pod, Namespace, SlurmJob and User come from the first
	// rank (lowest PID) that has the value, else from the root, else from
	// any of the job's processes (a Slurm step's root, slurmstepd, runs as
	// root; its ranks as the user).
	Container, Pod, Namespace, SlurmJob, User string
	// StartTime is the root's start time.
	StartTime time.Time
	// CPUPercent, ResidentBytes, ReadBytesPerSecond and
	// WriteBytesPerSecond are summed over the job's processes (values the
	// scanner could not read count as 0).
	CPUPercent          float64
	ResidentBytes       uint64
	ReadBytesPerSecond  float64
	WriteBytesPerSecond float64
	// GPUs are the distinct gpu labels of the job's GPU uses, sorted by
	// index; GPUUUIDs[i] is the UUID of GPUs[i] (the first in order where a
	// gpu label carries several, as MIG instances may).
	GPUs     []string
	GPUUUIDs []string
	// GPUMemoryBytes is the GPU memory of all the job's GPU uses.
	GPUMemoryBytes uint64
}

// Options tune Find. The zero value is the default.
type Options struct {
	// MinCPUPercent, when above 0, also makes jobs of trees that use no GPU:
	// a tree rooted above a Python script whose processes together use at
	// least this much CPU (100 = one core). 0: only GPU jobs.
	MinCPUPercent float64 `yaml:"min_cpu_percent"`
}

// finder holds one Find call's working state.
type finder struct {
	t        *process.Table
	info     map[int]info
	children map[int][]int
}

// Find groups t into training jobs by the rules of the package comment. gpu
// is each PID's GPU uses (GPUUseFromSnapshot); uses of PIDs not in t are
// ignored. Jobs are sorted by root PID. t is only read; a nil table yields
// no jobs.
func Find(t *process.Table, gpu map[int][]GPUUse, opts Options) []Job {
	if t == nil || len(t.Procs) == 0 {
		return nil
	}
	f := &finder{t: t, info: make(map[int]info, len(t.Procs)), children: make(map[int][]int, len(t.Procs))}
	for pid, p := range t.Procs {
		if p.PPID != pid {
			f.children[p.PPID] = append(f.children[p.PPID], pid)
		}
	}

	// Roots of GPU processes.
	gpuPIDs := make([]int, 0, len(gpu))
	for pid, uses := range gpu {
		if p := t.Procs[pid]; p != nil && !p.KernelThread && len(uses) > 0 {
			gpuPIDs = append(gpuPIDs, pid)
		}
	}
	sort.Ints(gpuPIDs)
	roots := make(map[int]bool)
	for _, pid := range gpuPIDs {
		roots[f.root(pid)] = true
	}
	owner := make(map[int]int) // pid → root pid
	var jobs []Job
	for _, r := range sortedKeys(roots) {
		members := f.members(r, roots, owner)
		jobs = append(jobs, f.job(r, members, gpu))
	}

	// CPU-only Python trees.
	if opts.MinCPUPercent > 0 {
		cpuRoots := make(map[int]bool)
		for pid := range t.Procs {
			if _, taken := owner[pid]; taken || f.classify(pid).kind != kindPython {
				continue
			}
			if r := f.root(pid); !roots[r] {
				if _, taken := owner[r]; !taken {
					cpuRoots[r] = true
				}
			}
		}
		for _, r := range sortedKeys(cpuRoots) {
			members := f.members(r, cpuRoots, owner)
			var cpu float64
			for _, pid := range members {
				cpu += t.Procs[pid].CPUPercent
			}
			if cpu < opts.MinCPUPercent {
				for _, pid := range members {
					delete(owner, pid)
				}
				continue
			}
			jobs = append(jobs, f.job(r, members, nil))
		}
		sort.Slice(jobs, func(i, j int) bool { return jobs[i].RootPID < jobs[j].RootPID })
	}
	return jobs
}

// classify returns pid's role, computing it once per Find.
func (f *finder) classify(pid int) info {
	if in, ok := f.info[pid]; ok {
		return in
	}
	in := classify(f.t.Procs[pid])
	f.info[pid] = in
	return in
}

// root walks up from pid while the parent is part of the job and returns
// the highest process reached.
func (f *finder) root(pid int) int {
	cur := f.t.Procs[pid]
	for range len(f.t.Procs) { // bounds the walk should PPIDs form a cycle
		if f.classify(cur.PID).kind == kindStep || cur.PPID <= 1 || cur.PPID == cur.PID {
			break
		}
		parent := f.t.Procs[cur.PPID]
		if parent == nil || !f.climb(cur, parent) {
			break
		}
		cur = parent
	}
	return cur.PID
}

// climb reports whether the walk moves from cur to its parent.
func (f *finder) climb(cur, parent *process.Proc) bool {
	switch f.classify(parent.PID).kind {
	case kindBoundary:
		return false
	case kindLauncher, kindStep, kindPython:
		return true
	case kindWrapper:
		if g := f.t.Procs[parent.PPID]; g != nil && parent.PPID > 1 {
			switch f.classify(g.PID).kind {
			case kindLauncher, kindStep, kindPython:
				return true
			}
		}
	}
	return cur.Container != "" && parent.Container == cur.Container
}

// members returns root and its descendants, sorted, skipping the subtrees of
// other roots and processes already owned by a job, and records them in
// owner.
func (f *finder) members(root int, roots map[int]bool, owner map[int]int) []int {
	out := []int{root}
	owner[root] = root
	for i := 0; i < len(out); i++ {
		for _, c := range f.children[out[i]] {
			if _, taken := owner[c]; taken || roots[c] || f.t.Procs[c].KernelThread {
				continue
			}
			owner[c] = root
			out = append(out, c)
		}
	}
	sort.Ints(out)
	return out
}

// job builds the Job of root with the given members.
func (f *finder) job(root int, members []int, gpu map[int][]GPUUse) Job {
	rp := f.t.Procs[root]
	j := Job{RootPID: root, PIDs: members, StartTime: rp.StartTime}
	start := int64(0)
	if !rp.StartTime.IsZero() {
		start = rp.StartTime.Unix()
	}
	j.ID = fmt.Sprintf("%d-%d", root, start)

	isRank := make(map[int]bool)
	gpuUUID := make(map[string]string)
	var ranks []*process.Proc
	for _, pid := range members {
		p := f.t.Procs[pid]
		j.CPUPercent += p.CPUPercent
		j.ResidentBytes += p.ResidentBytes
		j.ReadBytesPerSecond += p.ReadBytesPerSecond
		j.WriteBytesPerSecond += p.WriteBytesPerSecond
		if uses := gpu[pid]; len(uses) > 0 {
			isRank[pid] = true
			ranks = append(ranks, p)
			for _, u := range uses {
				j.GPUMemoryBytes += u.MemoryBytes
				if old, ok := gpuUUID[u.GPU]; !ok || u.UUID < old {
					gpuUUID[u.GPU] = u.UUID
				}
			}
		}
	}
	j.Ranks = len(ranks)
	for _, r := range ranks {
		for _, c := range f.children[r.PID] {
			in := f.classify(c)
			_, member := slices.BinarySearch(members, c)
			if member && !isRank[c] && in.python && !in.helper {
				j.Workers++
			}
		}
	}
	for g := range gpuUUID {
		j.GPUs = append(j.GPUs, g)
	}
	sort.Slice(j.GPUs, func(a, b int) bool { return LessIndex(j.GPUs[a], j.GPUs[b]) })
	for _, g := range j.GPUs {
		j.GPUUUIDs = append(j.GPUUUIDs, gpuUUID[g])
	}

	// Labels: first rank with the value, else root, else any member.
	order := make([]*process.Proc, 0, len(ranks)+1+len(members))
	order = append(order, ranks...)
	order = append(order, rp)
	for _, pid := range members {
		order = append(order, f.t.Procs[pid])
	}
	pick := func(get func(*process.Proc) string) string {
		for _, p := range order {
			if v := get(p); v != "" {
				return v
			}
		}
		return ""
	}
	j.Container = pick(func(p *process.Proc) string { return p.Container })
	j.Pod = pick(func(p *process.Proc) string { return p.Pod })
	j.Namespace = pick(func(p *process.Proc) string { return p.Namespace })
	j.SlurmJob = pick(func(p *process.Proc) string { return p.SlurmJob })
	j.User = pick(func(p *process.Proc) string { return p.User })

	// Launcher: nearest the first rank on its way up to the root.
	from := root
	if len(ranks) > 0 {
		from = ranks[0].PID
	}
	for pid, n := from, 0; n < len(f.t.Procs); n++ {
		if l := f.classify(pid).launcher; l != "" {
			j.Launcher = l
			break
		}
		p := f.t.Procs[pid]
		if pid == root || p == nil || f.t.Procs[p.PPID] == nil {
			break
		}
		pid = p.PPID
	}

	switch {
	case j.SlurmJob != "":
		j.Name = j.SlurmJob
	case j.Container != "":
		j.Name = j.Container
	case j.Pod != "":
		j.Name = j.Pod
	default:
		j.Name = scriptName(rp.Cmdline)
		if j.Name == "" && len(ranks) > 0 {
			j.Name = scriptName(ranks[0].Cmdline)
		}
		if j.Name == "" {
			j.Name = rp.Comm
		}
	}
	return j
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
