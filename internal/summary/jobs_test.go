package summary

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func u64(v uint64) *uint64 { return &v }

func TestComputeProcesses(t *testing.T) {
	h := Compute(nil, jobsSnapshot())
	if len(h.Processes) != 12 {
		t.Fatalf("%d processes, want 12", len(h.Processes))
	}
	var order []int64
	for _, p := range h.Processes {
		order = append(order, p.PID)
	}
	// By CPU, busiest first; sshd and the others at 0.x in CPU order, ties by pid.
	want := []int64{4100, 6100, 5200, 9100, 4101, 8000, 880, 1450, 3300, 7000, 1, 2210}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	byPID := map[int64]Process{}
	for _, p := range h.Processes {
		byPID[p.PID] = p
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"cpu rounded", byPID[4100].CPUPercent, 312.46},
		{"command", byPID[4100].Command, "python3"},
		{"user", byPID[4100].User, "alice"},
		{"resident", byPID[4100].ResidentBytes, uint64(48 * gib)},
		{"read", byPID[4100].ReadBytesPerSecond, ptr(2.5e8)},
		{"write", byPID[4100].WriteBytesPerSecond, ptr(1.2e6)},
		{"threads", byPID[4100].Threads, uint64(64)},
		{"fds", byPID[4100].OpenFDs, u64(512)},
		// GPU memory summed over GPU 0 (120 GB) and GPU 1 (1 GB).
		{"gpu memory summed over GPUs", byPID[4100].GPUMemoryBytes, u64(121e9)},
		{"gpu memory of one GPU", byPID[9100].GPUMemoryBytes, u64(140e9)},
		{"gpu memory zero but listed", byPID[7000].GPUMemoryBytes, u64(64 << 20)},
		{"no GPU: omitted", byPID[6100].GPUMemoryBytes, (*uint64)(nil)},
		{"io unreadable: read omitted", byPID[2210].ReadBytesPerSecond, (*float64)(nil)},
		{"io unreadable: write omitted", byPID[2210].WriteBytesPerSecond, (*float64)(nil)},
		{"fds unreadable: omitted", byPID[2210].OpenFDs, (*uint64)(nil)},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, deref(tt.got), deref(tt.want))
		}
	}
}

// deref shows a pointer's value in a failure message.
func deref(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

func TestComputeProcessesEdgeCases(t *testing.T) {
	b := newBuilder(t0)
	// Only some families: the others default to zero or are omitted.
	b.add("trainwatch_process_cpu_percent", -3, "pid", "10", "command", "a", "user", "u")
	b.add("trainwatch_process_cpu_percent", 5, "pid", "12", "command", "b", "user", "u")
	b.add("trainwatch_process_resident_memory_bytes", 4096, "pid", "11", "command", "c", "user", "")
	b.add("trainwatch_process_cpu_percent", 5, "pid", "", "command", "no pid", "user", "u")
	h := Compute(nil, b.snap())
	want := []Process{
		{PID: 12, Command: "b", User: "u", CPUPercent: 5},
		{PID: 10, Command: "a", User: "u"},
		{PID: 11, Command: "c", ResidentBytes: 4096},
	}
	if !reflect.DeepEqual(h.Processes, want) {
		t.Errorf("processes = %+v, want %+v", h.Processes, want)
	}
}

func TestComputeJobs(t *testing.T) {
	h := Compute(nil, jobsSnapshot())
	var ids []string
	for _, j := range h.Jobs {
		ids = append(ids, j.ID)
	}
	// By GPU memory (960, 140, 110.5 GB, 0), largest first.
	if want := []string{"4090-1772348400", "9100-0", "5190-1772262000", "6100-1772362800"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("jobs %v, want %v", ids, want)
	}
	start := t0.Add(-(5*time.Hour + 3*time.Minute))
	want0 := Job{
		ID: "4090-1772348400", Name: "3f2a1b4c5d6e", RootPID: 4090, Launcher: "torchrun", User: "alice",
		Container: "3f2a1b4c5d6e", Pod: "9b1c0e52-3d4f-4a5b-8c6d-7e8f9a0b1c2d", Namespace: "research",
		Processes: 18, Ranks: 8, Workers: 9, CPUPercent: 812.5, ResidentBytes: 96 * gib,
		ReadBytesPerSecond: 3.5e8, WriteBytesPerSecond: 2.5e6, GPUMemoryBytes: 960e9,
		GPUs: []string{"0", "1", "2", "3", "4", "5", "6", "7"}, StartTime: &start, RunningSeconds: ptr(18180),
	}
	if !reflect.DeepEqual(h.Jobs[0], want0) {
		js, _ := json.Marshal(h.Jobs[0])
		wjs, _ := json.Marshal(want0)
		t.Errorf("job 0:\n got %s\nwant %s", js, wjs)
	}
	if j := h.Jobs[1]; j.StartTime != nil || j.RunningSeconds != nil || j.Launcher != "" {
		t.Errorf("job without start time or launcher: %+v", j)
	}
	if j := h.Jobs[2]; j.CPUPercent != 150 || !reflect.DeepEqual(j.GPUs, []string{"1", "3"}) || j.SlurmJob != "81234" {
		t.Errorf("slurm job: %+v", j)
	}
	if j := h.Jobs[3]; len(j.GPUs) != 0 || j.GPUs == nil || j.Ranks != 0 || *j.RunningSeconds != 90 {
		t.Errorf("CPU-only job: %+v", j)
	}
	js, err := json.Marshal(h.Jobs[1])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(js, []byte("start_time")) || bytes.Contains(js, []byte("running_seconds")) {
		t.Errorf("unknown start time not omitted: %s", js)
	}
}

func TestComputeJobsEdgeCases(t *testing.T) {
	b := newBuilder(t0)
	// Equal GPU memory: by CPU, then by id.
	b.add("trainwatch_job_gpu_memory_bytes", 100, "job", "b")
	b.add("trainwatch_job_gpu_memory_bytes", 100, "job", "a")
	b.add("trainwatch_job_gpu_memory_bytes", 100, "job", "c")
	b.add("trainwatch_job_cpu_percent", 50, "job", "c")
	// GPU indexes in natural order, each once; an empty gpu label skipped.
	for _, g := range []string{"10", "2", "2", "1", ""} {
		b.add("trainwatch_job_gpu_info", 1, "job", "a", "gpu", g, "UUID", "GPU-"+g)
	}
	// A start time after the snapshot: running 0.
	b.add("trainwatch_job_start_time_seconds", float64(t0.Add(time.Minute).Unix()), "job", "b")
	b.add("trainwatch_job_info", 1, "job", "b", "name", "train.py", "root_pid", "not-a-pid", "launcher", "", "user", "u",
		"container", "", "pod", "", "namespace", "", "slurm_job", "")
	h := Compute(nil, b.snap())
	var ids []string
	for _, j := range h.Jobs {
		ids = append(ids, j.ID)
	}
	if want := []string{"c", "a", "b"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("order %v, want %v", ids, want)
	}
	if got := h.Jobs[1].GPUs; !reflect.DeepEqual(got, []string{"1", "2", "10"}) {
		t.Errorf("gpus %v, want [1 2 10]", got)
	}
	if j := h.Jobs[2]; j.Name != "train.py" || j.RootPID != 0 || j.RunningSeconds == nil || *j.RunningSeconds != 0 {
		t.Errorf("job b: %+v", j)
	}
	// A job with no info has an empty name; the text shows its id.
	if h.Jobs[0].Name != "" {
		t.Errorf("job c name %q, want empty", h.Jobs[0].Name)
	}
}

func TestComputeNoJobsOrProcesses(t *testing.T) {
	for _, h := range []*Host{Compute(nil, emptySnapshot()), Compute(fullPair()), Compute(nil, gpuSnapshot())} {
		js, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(js, []byte(`"processes":[],"jobs":[]`)) {
			t.Errorf("processes and jobs not empty lists: %s", js)
		}
		var buf bytes.Buffer
		if err := h.WriteText(&buf, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "\nJOBS\n") || strings.Contains(buf.String(), "TOP PROCESSES") {
			t.Errorf("jobs or top processes section without data:\n%s", buf.String())
		}
	}
}

func TestGPUList(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, "-"},
		{[]string{"3"}, "3"},
		{[]string{"0", "2"}, "0,2"},
		{[]string{"0", "1"}, "0,1"},
		{[]string{"0", "1", "2", "3", "4", "5", "6", "7"}, "0-7"},
		{[]string{"0", "1", "2", "3", "6"}, "0-3,6"},
		{[]string{"0", "2", "3", "4", "7", "8"}, "0,2-4,7,8"},
		{[]string{"8", "9", "10", "11"}, "8-11"},
		{[]string{"0", "1", "2", "x", "y"}, "0-2,x,y"},
		{[]string{"01", "2", "3"}, "01,2,3"},
	}
	for _, tt := range tests {
		if got := gpuList(tt.in); got != tt.want {
			t.Errorf("gpuList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTextJobsAndProcesses(t *testing.T) {
	var buf bytes.Buffer
	if err := Compute(nil, jobsSnapshot()).WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	gpus, jobs, gpuProcs, top := strings.Index(out, "\nGPUS\n"), strings.Index(out, "\nJOBS\n"),
		strings.Index(out, "\nGPU PROCESSES\n"), strings.Index(out, "\nTOP PROCESSES\n")
	if !(gpus >= 0 && gpus < jobs && jobs < gpuProcs && gpuProcs < top) {
		t.Errorf("sections out of order (GPUS %d, JOBS %d, GPU PROCESSES %d, TOP PROCESSES %d)", gpus, jobs, gpuProcs, top)
	}
	for _, s := range []string{"torchrun", "0-7", "1,3", "8/9", "5h 3m", "… 2 more", "112.7 GiB"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
}

// TestTextJobsNarrow checks that the jobs and top processes tables fit a
// narrow terminal, dropping and cutting columns in their fit order.
func TestTextJobsNarrow(t *testing.T) {
	h := Compute(nil, jobsSnapshot())
	for _, w := range []int{100, 80, 64} {
		var buf bytes.Buffer
		p := &printer{w: bufio.NewWriter(&buf), maxWidth: w}
		h.textJobs(p)
		h.textTopProcesses(p)
		if err := p.w.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(buf.String(), "\n") {
			if width(line) > w {
				t.Errorf("width %d: line is %d wide: %q", w, width(line), line)
			}
		}
		if !strings.Contains(buf.String(), "GPU MEM") || !strings.Contains(buf.String(), "COMMAND") {
			t.Errorf("width %d: GPU MEM or COMMAND dropped:\n%s", w, buf.String())
		}
	}
}
