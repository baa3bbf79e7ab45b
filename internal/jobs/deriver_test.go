package jobs

import (
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/process"
)

type fixedTable struct{ t *process.Table }

func (f fixedTable) Latest() *process.Table { return f.t }

func TestDeriverEmitsJobsAndGPUMemoryTop(t *testing.T) {
	start := time.Unix(1764300000, 0)
	tbl := &process.Table{Time: start, Procs: map[int]*process.Proc{
		1:   {PID: 1, Comm: "systemd", StartTime: start},
		100: {PID: 100, PPID: 1, Comm: "torchrun", Cmdline: "/usr/bin/python3 /usr/bin/torchrun --nproc-per-node 2 train.py", User: "alice", StartTime: start},
		101: {PID: 101, PPID: 100, Comm: "python3", Cmdline: "/usr/bin/python3 -u train.py", User: "alice", StartTime: start, CPUPercent: 90, ResidentBytes: 1 << 30},
		102: {PID: 102, PPID: 100, Comm: "python3", Cmdline: "/usr/bin/python3 -u train.py", User: "alice", StartTime: start, CPUPercent: 80, ResidentBytes: 1 << 30},
	}}
	mem := collector.NewDesc(famProcessMemory, "", collector.Gauge, procLabels...)
	g := collector.NewEmitter()
	g.Emit(mem, 40<<30, "0", "GPU-a", "101", "python3", "alice", "", "", "", "")
	g.Emit(mem, 30<<30, "1", "GPU-b", "102", "python3", "alice", "", "", "", "")
	snap := &collector.Snapshot{Time: start, Families: collector.MergeFamilies(g.Families())}

	e := collector.NewEmitter()
	NewDeriver(fixedTable{tbl}, Options{}).Derive(snap, e)
	fams := collector.MergeFamilies(e.Families())
	out := &collector.Snapshot{Families: fams}

	if f := out.Family("trainwatch_job_gpus"); f == nil || len(f.Samples) != 1 || f.Samples[0].Value != 2 {
		t.Fatalf("trainwatch_job_gpus = %+v, want one job with 2 GPUs", f)
	}
	if f := out.Family("trainwatch_job_gpu_memory_bytes"); f == nil || f.Samples[0].Value != 70<<30 {
		t.Fatalf("trainwatch_job_gpu_memory_bytes = %+v, want 70 GiB", f)
	}
	top := out.Family("trainwatch_process_gpu_memory_bytes")
	if top == nil || len(top.Samples) != 2 || top.Label(0, "pid") != "101" || top.Samples[0].Value != 40<<30 || top.Label(0, "command") != "python3" || top.Label(0, "user") != "alice" {
		t.Fatalf("trainwatch_process_gpu_memory_bytes = %+v", top)
	}

	// No table yet: nothing, no panic.
	e2 := collector.NewEmitter()
	NewDeriver(fixedTable{}, Options{}).Derive(snap, e2)
	if len(e2.Families()) != 0 {
		t.Fatal("emitted without a process table")
	}
}
