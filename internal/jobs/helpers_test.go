package jobs

import (
	"fmt"
	"time"

	"github.com/trainwatch/trainwatch/internal/process"
)

// t0 is the scan time of the hand-built tables.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// world builds a process table by hand.
type world struct {
	tab *process.Table
	gpu map[int][]GPUUse
}

// newWorld returns a table holding systemd (1), sshd (500), a session's sshd
// (600) and its interactive bash (700), as alice.
func newWorld() *world {
	w := &world{tab: &process.Table{Time: t0, Procs: make(map[int]*process.Proc)}, gpu: make(map[int][]GPUUse)}
	w.add(1, 0, "systemd", "/sbin/init")
	w.add(2, 0, "kthreadd", "").KernelThread = true
	w.add(500, 1, "sshd", "sshd: /usr/sbin/sshd -D [listener]")
	w.add(600, 500, "sshd", "sshd: alice@pts/0")
	w.add(700, 600, "bash", "-bash")
	return w
}

// add adds a process started pid seconds before t0 as alice, using 1% CPU,
// 1 MiB resident, reading 10 B/s and writing 1 B/s.
func (w *world) add(pid, ppid int, comm, cmdline string) *process.Proc {
	p := &process.Proc{
		PID: pid, PPID: ppid, Comm: comm, Cmdline: cmdline,
		StartTime: t0.Add(-time.Duration(pid) * time.Second),
		User:      "alice", State: 'S',
		CPUPercent: 1, ResidentBytes: 1 << 20, ReadBytesPerSecond: 10, WriteBytesPerSecond: 1,
	}
	w.tab.Procs[pid] = p
	return p
}

// use records that pid uses GPU gpu with mem bytes.
func (w *world) use(pid, gpu int, mem uint64) {
	w.gpu[pid] = append(w.gpu[pid], GPUUse{GPU: fmt.Sprint(gpu), UUID: fmt.Sprintf("GPU-%04d", gpu), MemoryBytes: mem, SMPercent: 50})
}

// torchrun adds torchrun (pid root, under parent) with ranks ranks on GPUs
// 0.. and workers DataLoader workers per rank, plus a multiprocessing
// resource tracker under the first rank. Ranks use 100% CPU and (gpu+1) GiB
// of GPU memory; workers 25% CPU.
func (w *world) torchrun(root, parent, ranks, workers int) {
	w.add(root, parent, "torchrun", "/usr/bin/python3 /usr/local/bin/torchrun --nproc-per-node 8 train.py --lr 1e-4")
	for r := 0; r < ranks; r++ {
		pid := root + 1 + r*(workers+2)
		p := w.add(pid, root, "pt_main_thread", "/usr/bin/python3 -u train.py --lr 1e-4")
		p.CPUPercent = 100
		w.use(pid, r, uint64(r+1)<<30)
		for k := 1; k <= workers; k++ {
			w.add(pid+k, pid, "pt_data_worker", "/usr/bin/python3 -u train.py --lr 1e-4").CPUPercent = 25
		}
		if r == 0 {
			w.add(pid+workers+1, pid, "python3", "/usr/bin/python3 -c from multiprocessing.resource_tracker import main;main(31)")
		}
	}
}
