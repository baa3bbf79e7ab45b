package summary

import (
	"fmt"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// topProc is one process as the process collector's top set reports it;
// io and fds false leave out the series the scan could not read.
type topProc struct {
	pid, command, user    string
	cpu, rss, read, write float64
	threads, fds          float64
	io, hasFDs            bool
}

func (b *builder) topProc(p topProc) *builder {
	l := []string{"pid", p.pid, "command", p.command, "user", p.user}
	b.add("trainwatch_process_cpu_percent", p.cpu, l...)
	b.add("trainwatch_process_resident_memory_bytes", p.rss, l...)
	if p.io {
		b.add("trainwatch_process_read_bytes_per_second", p.read, l...)
		b.add("trainwatch_process_write_bytes_per_second", p.write, l...)
	}
	if p.hasFDs {
		b.add("trainwatch_process_open_fds", p.fds, l...)
	}
	b.add("trainwatch_process_threads", p.threads, l...)
	b.add("trainwatch_process_start_time_seconds", float64(t0.Unix()-3600), l...)
	return b
}

// fixtureJob is one job as internal/jobs.Emit reports it (same families
// and labels); start zero leaves out its start time.
type fixtureJob struct {
	id, name, rootPID, launcher, user, container, pod, namespace, slurmJob string
	processes, ranks, workers                                              float64
	cpu, rss, read, write, gpuMem                                          float64
	gpus, uuids                                                            []string
	start                                                                  time.Time
}

func (b *builder) job(j fixtureJob) *builder {
	b.add("trainwatch_job_info", 1, "job", j.id, "name", j.name, "root_pid", j.rootPID, "launcher", j.launcher,
		"user", j.user, "container", j.container, "pod", j.pod, "namespace", j.namespace, "slurm_job", j.slurmJob)
	for _, x := range []struct {
		name string
		v    float64
	}{
		{"trainwatch_job_processes", j.processes}, {"trainwatch_job_ranks", j.ranks}, {"trainwatch_job_workers", j.workers},
		{"trainwatch_job_cpu_percent", j.cpu}, {"trainwatch_job_resident_memory_bytes", j.rss},
		{"trainwatch_job_read_bytes_per_second", j.read}, {"trainwatch_job_write_bytes_per_second", j.write},
		{"trainwatch_job_gpu_memory_bytes", j.gpuMem}, {"trainwatch_job_gpus", float64(len(j.gpus))},
	} {
		b.add(x.name, x.v, "job", j.id)
	}
	for i, g := range j.gpus {
		uuid := ""
		if i < len(j.uuids) {
			uuid = j.uuids[i]
		}
		b.add("trainwatch_job_gpu_info", 1, "job", j.id, "gpu", g, "UUID", uuid)
	}
	if !j.start.IsZero() {
		b.add("trainwatch_job_start_time_seconds", float64(j.start.UnixNano())/1e9, "job", j.id)
	}
	return b
}

// jobsSnapshot is gpuSnapshot with the process collector's top processes
// (twelve: one using two GPUs, one without I/O or fd counts) and four
// jobs: an 8-GPU torchrun job in a pod, a Slurm job on GPUs 1 and 3, a
// job without launcher or start time on the AMD GPU, and a CPU-only job.
func jobsSnapshot() *collector.Snapshot {
	b := gpuBuilder()
	// pid 4100 also holds memory on GPU 1: its GPU memory is summed.
	b.proc("1", "GPU-1111", proc{pid: "4100", command: "/usr/bin/python3", user: "alice", memory: 1e9, sm: 2})
	for _, p := range []topProc{
		{"4100", "python3", "alice", 312.456, 48 * gib, 2.5e8, 1.2e6, 64, 512, true, true},
		{"4101", "pt_data_worker", "alice", 98.4, 6 * gib, 4.1e7, 0, 4, 40, true, true},
		{"5200", "python", "bob", 150, 32 * gib, 1e6, 5e5, 48, 300, true, true},
		{"9100", "pt_main_thread", "dave", 101.25, 40 * gib, 0, 8e7, 96, 1024, true, true},
		{"6100", "python3", "erin", 205, 3 * gib, 9e7, 2.4e7, 12, 30, true, true},
		{"1", "systemd", "root", 0.3, 12 << 20, 0, 0, 1, 120, true, true},
		{"880", "dockerd", "root", 2.1, 150 << 20, 0, 4096, 40, 200, true, true},
		{"1450", "node_exporter", "nobody", 1.2, 30 << 20, 0, 0, 12, 15, true, true},
		{"2210", "sshd", "root", 0, 8 << 20, 0, 0, 1, 0, false, false},
		{"3300", "containerd", "root", 1.1, 80 << 20, 0, 1024, 30, 90, true, true},
		{"7000", "jupyter-kernel", "carol", 0.5, 2 * gib, 0, 0, 10, 60, true, true},
		{"8000", "rsync", "frank", 35, 64 << 20, 1.5e8, 1.5e8, 3, 12, true, true},
	} {
		b.topProc(p)
	}
	var all8, uuids8 []string
	for i := 0; i < 8; i++ {
		all8 = append(all8, fmt.Sprint(i))
		uuids8 = append(uuids8, fmt.Sprintf("GPU-%d%d%d%d", i, i, i, i))
	}
	b.job(fixtureJob{id: "4090-1772348400", name: "3f2a1b4c5d6e", rootPID: "4090", launcher: "torchrun", user: "alice",
		container: "3f2a1b4c5d6e", pod: "9b1c0e52-3d4f-4a5b-8c6d-7e8f9a0b1c2d", namespace: "research",
		processes: 18, ranks: 8, workers: 9, cpu: 812.5, rss: 96 * gib, read: 3.5e8, write: 2.5e6, gpuMem: 960e9,
		gpus: all8, uuids: uuids8, start: t0.Add(-(5*time.Hour + 3*time.Minute))})
	b.job(fixtureJob{id: "5190-1772262000", name: "81234", rootPID: "5190", launcher: "slurm", user: "bob", slurmJob: "81234",
		processes: 3, ranks: 2, cpu: 150.004, rss: 33 * gib, read: 1e6, write: 5e5, gpuMem: 110.5e9,
		gpus: []string{"1", "3"}, uuids: []string{"GPU-1111", "GPU-3333"}, start: t0.Add(-26 * time.Hour)})
	b.job(fixtureJob{id: "9100-0", name: "finetune.py", rootPID: "9100", user: "dave",
		processes: 1, ranks: 1, cpu: 101.25, rss: 40 * gib, write: 8e7, gpuMem: 140e9,
		gpus: []string{"9"}, uuids: []string{"0x5d1c2a3b4c5d6e7f"}})
	b.job(fixtureJob{id: "6100-1772362800", name: "preprocess.py", rootPID: "6100", user: "erin",
		processes: 5, cpu: 205, rss: 3 * gib, read: 9e7, write: 2.4e7, start: t0.Add(-90 * time.Second)})
	b.collector("process", "")
	return b.snap()
}
