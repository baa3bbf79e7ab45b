package jobs

import (
	"fmt"
	"testing"
)

// benchWorld is a busy machine: 2,000 processes, of which a torchrun job
// with 8 GPU ranks and 8 DataLoader workers each, the rest shells, daemons
// and non-GPU Python scripts.
func benchWorld() *world {
	w := newWorld()
	w.torchrun(1000, 700, 8, 8)
	pid := 10000
	for len(w.tab.Procs) < 2000 {
		w.add(pid, 600, "bash", "-bash")
		w.add(pid+1, pid, "python3", fmt.Sprintf("python3 tool%d.py", pid))
		w.add(pid+2, pid+1, "python3", fmt.Sprintf("python3 tool%d.py", pid))
		w.add(pid+3, 1, "someservice", "/usr/bin/someservice --flag")
		pid += 10
	}
	return w
}

func BenchmarkFind(b *testing.B) {
	w := benchWorld()
	b.ReportAllocs()
	for b.Loop() {
		if jobs := Find(w.tab, w.gpu, Options{}); len(jobs) != 1 || jobs[0].Ranks != 8 {
			b.Fatalf("got %+v", jobs)
		}
	}
}

func BenchmarkFindMinCPU(b *testing.B) {
	w := benchWorld()
	b.ReportAllocs()
	for b.Loop() {
		Find(w.tab, w.gpu, Options{MinCPUPercent: 50})
	}
}
