package jobs

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// procLabels are the per-process GPU series' labels.
var procLabels = []string{"gpu", "UUID", "pid", "command", "user", "container", "pod", "namespace", "slurm_job"}

func TestGPUUseFromSnapshot(t *testing.T) {
	mem := collector.NewDesc(famProcessMemory, "", collector.Gauge, procLabels...)
	sm := collector.NewDesc(famProcessSM, "", collector.Gauge, procLabels...)
	util := collector.NewDesc(famProcessUtil, "", collector.Gauge, procLabels...)
	nv := collector.NewEmitter()
	nv.Emit(mem, 48<<30, "1", "GPU-b", "4242", "python", "alice", "", "", "", "")
	nv.Emit(mem, 2<<30, "0", "GPU-a", "4242", "python", "alice", "", "", "", "")
	nv.Emit(mem, 1<<30, "0", "GPU-a", "not-a-pid", "x", "", "", "", "", "")
	nv.Emit(mem, -5, "0", "GPU-a", "77", "x", "", "", "", "", "")
	nv.Emit(sm, 83, "1", "GPU-b", "4242", "python", "alice", "", "", "", "")
	// Memory not available from NVML: SM series only.
	nv.Emit(sm, 12, "10", "GPU-k", "5000", "python", "alice", "", "", "", "")
	amd := collector.NewEmitter()
	amd.Emit(mem, 140e9, "9", "0x5d1c", "9100", "pt_main_thread", "dave", "", "", "", "")
	amd.Emit(util, 64, "9", "0x5d1c", "9100", "pt_main_thread", "dave", "", "", "", "")
	amd.Emit(util, 99, "10", "GPU-k", "5000", "python", "alice", "", "", "", "")
	s := &collector.Snapshot{Time: t0, Families: collector.MergeFamilies(nv.Families(), amd.Families())}

	got := GPUUseFromSnapshot(s)
	want := map[int][]GPUUse{
		4242: {{GPU: "0", UUID: "GPU-a", MemoryBytes: 2 << 30}, {GPU: "1", UUID: "GPU-b", MemoryBytes: 48 << 30, SMPercent: 83}},
		77:   {{GPU: "0", UUID: "GPU-a"}},
		5000: {{GPU: "10", UUID: "GPU-k", SMPercent: 12}},
		9100: {{GPU: "9", UUID: "0x5d1c", MemoryBytes: 140e9, SMPercent: 64}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := GPUUseFromSnapshot(nil); len(got) != 0 {
		t.Errorf("nil snapshot: %v", got)
	}
	if got := GPUUseFromSnapshot(&collector.Snapshot{}); len(got) != 0 {
		t.Errorf("empty snapshot: %v", got)
	}
}

func TestHelpers(t *testing.T) {
	if toUint(math.NaN()) != 0 || toUint(-1) != 0 || toUint(1e30) != math.MaxUint64 || toUint(3.9) != 3 {
		t.Error("toUint")
	}
	for _, c := range [][2]string{{"2", "10"}, {"9", "x"}, {"a", "b"}} {
		if !LessIndex(c[0], c[1]) || LessIndex(c[1], c[0]) {
			t.Errorf("LessIndex %v", c)
		}
	}
}

func TestEmit(t *testing.T) {
	w := newWorld()
	w.torchrun(1000, 700, 2, 1)
	w.add(3000, 1, "python", "python infer.py").StartTime = time.Time{}
	w.use(3000, 3, 5)
	jobs := Find(w.tab, w.gpu, Options{})
	e := collector.NewEmitter()
	d := NewDescs()
	Emit(jobs, e, d)

	byName := make(map[string]*collector.Family)
	for _, f := range e.Families() {
		byName[f.Desc.Name] = f
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f := byName[name]
		if f == nil {
			t.Fatalf("no family %s", name)
		}
		for _, s := range f.Samples {
			if reflect.DeepEqual(s.LabelValues, labels) {
				return s.Value
			}
		}
		t.Fatalf("%s%v: no sample in %+v", name, labels, f.Samples)
		return 0
	}
	id := jobs[0].ID
	value("trainwatch_job_info", id, "train.py", "1000", "torchrun", "alice", "", "", "", "")
	for name, v := range map[string]float64{
		"trainwatch_job_processes":              6,
		"trainwatch_job_ranks":                  2,
		"trainwatch_job_workers":                2,
		"trainwatch_job_cpu_percent":            1 + 200 + 50 + 1,
		"trainwatch_job_resident_memory_bytes":  6 << 20,
		"trainwatch_job_read_bytes_per_second":  60,
		"trainwatch_job_write_bytes_per_second": 6,
		"trainwatch_job_gpu_memory_bytes":       3 << 30,
		"trainwatch_job_gpus":                   2,
		"trainwatch_job_start_time_seconds":     float64(t0.Unix() - 1000),
	} {
		if got := value(name, id); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	value("trainwatch_job_gpu_info", id, "0", "GPU-0000")
	value("trainwatch_job_gpu_info", id, "1", "GPU-0001")
	value("trainwatch_job_gpu_info", "3000-0", "3", "GPU-0003")
	if n := len(byName["trainwatch_job_start_time_seconds"].Samples); n != 1 {
		t.Errorf("%d start times, want 1 (unknown start omitted)", n)
	}
	if n := len(byName["trainwatch_job_info"].Samples); n != 2 {
		t.Errorf("%d jobs emitted", n)
	}
	Emit(nil, collector.NewEmitter(), d)
}
