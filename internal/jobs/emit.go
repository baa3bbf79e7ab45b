package jobs

import (
	"strconv"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// Descs are the trainwatch_job_* descriptors. Create them once with NewDescs
// and pass them to every Emit.
type Descs struct {
	Info, Processes, Ranks, Workers         *collector.Desc
	CPUPercent, ResidentMemoryBytes         *collector.Desc
	ReadBytesPerSecond, WriteBytesPerSecond *collector.Desc
	GPUMemoryBytes, GPUs, GPUInfo           *collector.Desc
	StartTimeSeconds                        *collector.Desc
}

// NewDescs returns the trainwatch_job_* descriptors. Every family but
// trainwatch_job_info and trainwatch_job_gpu_info has the single label job,
// the Job.ID.
func NewDescs() *Descs {
	g := collector.Gauge
	return &Descs{
		Info: collector.NewDesc("trainwatch_job_info",
			"A training job (a process tree; see docs/jobs.md); value 1.", g,
			"job", "name", "root_pid", "launcher", "user", "container", "pod", "namespace", "slurm_job"),
		Processes: collector.NewDesc("trainwatch_job_processes",
			"Processes in the job's tree.", g, "job"),
		Ranks: collector.NewDesc("trainwatch_job_ranks",
			"Processes of the job that use a GPU.", g, "job"),
		Workers: collector.NewDesc("trainwatch_job_workers",
			"Python children of the job's ranks that use no GPU (DataLoader workers).", g, "job"),
		CPUPercent: collector.NewDesc("trainwatch_job_cpu_percent",
			"CPU used by the job's processes since the previous scan (100 = one core).", g, "job"),
		ResidentMemoryBytes: collector.NewDesc("trainwatch_job_resident_memory_bytes",
			"Resident memory of the job's processes, summed.", g, "job"),
		ReadBytesPerSecond: collector.NewDesc("trainwatch_job_read_bytes_per_second",
			"Storage reads of the job's processes (/proc/PID/io read_bytes), bytes per second.", g, "job"),
		WriteBytesPerSecond: collector.NewDesc("trainwatch_job_write_bytes_per_second",
			"Storage writes of the job's processes (/proc/PID/io write_bytes), bytes per second.", g, "job"),
		GPUMemoryBytes: collector.NewDesc("trainwatch_job_gpu_memory_bytes",
			"GPU memory used by the job's processes, summed over their GPUs.", g, "job"),
		GPUs: collector.NewDesc("trainwatch_job_gpus",
			"GPUs the job's processes use.", g, "job"),
		GPUInfo: collector.NewDesc("trainwatch_job_gpu_info",
			"A GPU the job uses; value 1.", g, "job", "gpu", "UUID"),
		StartTimeSeconds: collector.NewDesc("trainwatch_job_start_time_seconds",
			"Start time of the job's root process, seconds since the epoch.", g, "job"),
	}
}

// Emit writes the series of jobs to e. trainwatch_job_start_time_seconds is
// omitted for a job whose root's start time is unknown.
func Emit(jobs []Job, e *collector.Emitter, d *Descs) {
	for i := range jobs {
		j := &jobs[i]
		e.Emit(d.Info, 1, j.ID, j.Name, strconv.Itoa(j.RootPID), j.Launcher, j.User,
			j.Container, j.Pod, j.Namespace, j.SlurmJob)
		e.Emit(d.Processes, float64(len(j.PIDs)), j.ID)
		e.Emit(d.Ranks, float64(j.Ranks), j.ID)
		e.Emit(d.Workers, float64(j.Workers), j.ID)
		e.Emit(d.CPUPercent, j.CPUPercent, j.ID)
		e.Emit(d.ResidentMemoryBytes, float64(j.ResidentBytes), j.ID)
		e.Emit(d.ReadBytesPerSecond, j.ReadBytesPerSecond, j.ID)
		e.Emit(d.WriteBytesPerSecond, j.WriteBytesPerSecond, j.ID)
		e.Emit(d.GPUMemoryBytes, float64(j.GPUMemoryBytes), j.ID)
		e.Emit(d.GPUs, float64(len(j.GPUs)), j.ID)
		for k, g := range j.GPUs {
			uuid := ""
			if k < len(j.GPUUUIDs) {
				uuid = j.GPUUUIDs[k]
			}
			e.Emit(d.GPUInfo, 1, j.ID, g, uuid)
		}
		if !j.StartTime.IsZero() {
			e.Emit(d.StartTimeSeconds, float64(j.StartTime.UnixNano())/1e9, j.ID)
		}
	}
}
