package jobs

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// want is what a test expects of one job; zero fields are not checked
// except Ranks and Workers.
type want struct {
	root                   int
	launcher, name         string
	pids                   int
	ranks, workers         int
	gpus                   []string
	slurm, container, user string
}

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(w *world)
		opts  Options
		want  []want
	}{
		{
			name:  "torchrun 8 ranks x 4 workers",
			build: func(w *world) { w.torchrun(1000, 700, 8, 4) },
			want: []want{{root: 1000, launcher: "torchrun", name: "train.py", pids: 1 + 8 + 32 + 1, ranks: 8, workers: 32,
				gpus: []string{"0", "1", "2", "3", "4", "5", "6", "7"}, user: "alice"}},
		},
		{
			name: "two trainings under one shell",
			build: func(w *world) {
				w.add(2000, 700, "python3", "python3 train_a.py")
				w.add(2001, 2000, "python3", "python3 train_a.py")
				w.add(3000, 700, "python3", "python3 /home/alice/b/train_b.py --epochs 3")
				w.use(2000, 0, 1<<30)
				w.use(3000, 1, 1<<30)
			},
			want: []want{
				{root: 2000, name: "train_a.py", pids: 2, ranks: 1, workers: 1, gpus: []string{"0"}},
				{root: 3000, name: "train_b.py", pids: 1, ranks: 1, gpus: []string{"1"}},
			},
		},
		{
			name: "slurm step, second step of the same job is its own job",
			build: func(w *world) {
				w.add(4000, 700, "srun", "srun -N1 --gpus=4 python train.py")
				w.add(4001, 4000, "slurmstepd", "slurmstepd: [4242.0]").User = "root"
				for i := 0; i < 4; i++ {
					p := w.add(4010+i, 4001, "python", "python train.py")
					p.SlurmJob, p.User = "4242", "bob"
					w.use(4010+i, i, 1<<30)
				}
				w.add(4100, 1, "slurmd", "/usr/sbin/slurmd -D")
				w.add(4101, 4100, "slurmstepd", "slurmstepd: [4242.1]").User = "root"
				p := w.add(4102, 4101, "python", "python eval.py")
				p.SlurmJob, p.User = "4242", "bob"
				w.use(4102, 5, 1<<30)
			},
			want: []want{
				{root: 4001, launcher: "slurm", name: "4242", pids: 5, ranks: 4, gpus: []string{"0", "1", "2", "3"}, slurm: "4242", user: "bob"},
				{root: 4101, launcher: "slurm", name: "4242", pids: 2, ranks: 1, gpus: []string{"5"}, slurm: "4242", user: "bob"},
			},
		},
		{
			name: "torchrun in a slurm step",
			build: func(w *world) {
				w.add(4500, 1, "slurmd", "/usr/sbin/slurmd -D")
				w.add(4501, 4500, "slurmstepd", "slurmstepd: [77.0]").User = "root"
				w.add(4502, 4501, "bash", "/bin/bash run.sh").SlurmJob = "77"
				w.torchrun(4510, 4502, 2, 1)
			},
			want: []want{{root: 4501, launcher: "torchrun", name: "77", pids: 2 + 1 + 2 + 2 + 1, ranks: 2, workers: 2,
				gpus: []string{"0", "1"}, slurm: "77", user: "alice"}},
		},
		{
			name: "containers",
			build: func(w *world) {
				// Container pid 1 is the training itself.
				w.add(5000, 1, "containerd-shim", "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id aaa")
				p := w.add(5001, 5000, "python", "python /app/train.py")
				p.Container, p.Pod, p.Namespace = "0123456789ab", "pod-uid-1", "ml"
				w.use(5001, 0, 1<<30)
				w.use(5001, 1, 1<<30)
				// Entry-point script is the container's pid 1; a docker
				// exec'd process in the same container is another tree.
				w.add(5100, 1, "containerd-shim", "/usr/bin/containerd-shim-runc-v2 -id bbb")
				w.add(5101, 5100, "bash", "/bin/bash /entrypoint.sh").Container = "bbbbbbbbbbbb"
				w.add(5102, 5101, "python", "python train.py").Container = "bbbbbbbbbbbb"
				w.add(5103, 5100, "python", "python eval.py").Container = "bbbbbbbbbbbb"
				w.use(5102, 2, 1<<30)
				w.use(5103, 3, 1<<30)
				// docker --init: docker-init stops the walk.
				w.add(5200, 1, "conmon", "/usr/bin/conmon -c ccc")
				w.add(5201, 5200, "docker-init", "/sbin/docker-init -- python train.py").Container = "cccccccccccc"
				w.add(5202, 5201, "python", "python train.py").Container = "cccccccccccc"
				w.use(5202, 4, 1<<30)
			},
			want: []want{
				{root: 5001, name: "0123456789ab", pids: 1, ranks: 1, gpus: []string{"0", "1"}, container: "0123456789ab"},
				{root: 5101, name: "bbbbbbbbbbbb", pids: 2, ranks: 1, gpus: []string{"2"}, container: "bbbbbbbbbbbb"},
				{root: 5103, name: "bbbbbbbbbbbb", pids: 1, ranks: 1, gpus: []string{"3"}, container: "bbbbbbbbbbbb"},
				{root: 5202, name: "cccccccccccc", pids: 1, ranks: 1, gpus: []string{"4"}, container: "cccccccccccc"},
			},
		},
		{
			name: "deepspeed",
			build: func(w *world) {
				w.add(6000, 700, "deepspeed", "/usr/bin/python3 /usr/local/bin/deepspeed --num_gpus 2 train.py --deepspeed ds.json")
				w.add(6001, 6000, "python3", "/usr/bin/python3 -u -m deepspeed.launcher.launch --world_info=e30= --master_addr=127.0.0.1 train.py --deepspeed ds.json")
				for i := 0; i < 2; i++ {
					w.add(6002+i, 6001, "python3", fmt.Sprintf("/usr/bin/python3 -u train.py --local_rank=%d --deepspeed ds.json", i))
					w.use(6002+i, i, 1<<30)
				}
			},
			want: []want{{root: 6000, launcher: "deepspeed", name: "train.py", pids: 4, ranks: 2, gpus: []string{"0", "1"}}},
		},
		{
			name: "accelerate and python -m torch.distributed.run",
			build: func(w *world) {
				w.add(6500, 700, "accelerate", "/usr/bin/python3 /usr/local/bin/accelerate launch --num_processes 2 finetune.py")
				w.add(6501, 6500, "python3", "/usr/bin/python3 finetune.py")
				w.use(6501, 0, 1<<30)
				w.add(6600, 700, "python", "python -m torch.distributed.run --nproc_per_node=1 -m mypkg.train")
				w.add(6601, 6600, "python", "python -m mypkg.train")
				w.use(6601, 1, 1<<30)
			},
			want: []want{
				{root: 6500, launcher: "accelerate", name: "finetune.py", pids: 2, ranks: 1, gpus: []string{"0"}},
				{root: 6600, launcher: "torchrun", name: "mypkg.train", pids: 2, ranks: 1, gpus: []string{"1"}},
			},
		},
		{
			name: "mpirun and hydra with a bash wrapper",
			build: func(w *world) {
				w.add(7000, 700, "mpirun", "mpirun -np 2 python train.py")
				for i := 0; i < 2; i++ {
					w.add(7001+i, 7000, "python", "python train.py")
					w.use(7001+i, i, 1<<30)
				}
				w.add(7100, 700, "mpiexec.hydra", "mpiexec.hydra -n 1 ./run_rank.sh")
				w.add(7101, 7100, "hydra_pmi_proxy", "/usr/bin/hydra_pmi_proxy --control-port node1:3333")
				w.add(7102, 7101, "bash", "/bin/bash ./run_rank.sh")
				w.add(7103, 7102, "python", "python pretrain.py")
				w.use(7103, 2, 1<<30)
			},
			want: []want{
				{root: 7000, launcher: "mpirun", name: "train.py", pids: 3, ranks: 2, gpus: []string{"0", "1"}},
				{root: 7100, launcher: "mpirun", name: "pretrain.py", pids: 4, ranks: 1, gpus: []string{"2"}},
			},
		},
		{
			name: "multiprocessing.spawn ranks under the script",
			build: func(w *world) {
				w.add(7500, 700, "python", "python ddp.py")
				for i := 0; i < 2; i++ {
					w.add(7501+i, 7500, "python", "python -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7) --multiprocessing-fork")
					w.use(7501+i, i, 1<<30)
				}
				w.add(7503, 7500, "python", "python -c from multiprocessing.resource_tracker import main;main(4)")
			},
			want: []want{{root: 7500, name: "ddp.py", pids: 4, ranks: 2, gpus: []string{"0", "1"}}},
		},
		{
			name: "parent vanished",
			build: func(w *world) {
				w.add(8000, 1, "python", "python train.py")
				w.use(8000, 0, 1<<30)
				w.add(8100, 99999, "pt_main_thread", "")
				w.use(8100, 1, 1<<30)
			},
			want: []want{
				{root: 8000, name: "train.py", pids: 1, ranks: 1, gpus: []string{"0"}},
				{root: 8100, name: "pt_main_thread", pids: 1, ranks: 1, gpus: []string{"1"}},
			},
		},
		{
			name: "tmux and jupyter stop the walk",
			build: func(w *world) {
				w.add(9000, 1, "tmux: server", "tmux new -s exp")
				w.add(9001, 9000, "bash", "-bash")
				w.add(9002, 9001, "python", "python train.py")
				w.use(9002, 0, 1<<30)
				w.add(9100, 700, "jupyter-lab", "/usr/bin/python3 /usr/local/bin/jupyter-lab")
				w.add(9101, 9100, "python3", "/usr/bin/python3 -m ipykernel_launcher -f kernel-1.json")
				w.add(9102, 9100, "python3", "/usr/bin/python3 -m ipykernel_launcher -f kernel-2.json")
				w.use(9101, 1, 1<<30)
				w.use(9102, 2, 1<<30)
			},
			want: []want{
				{root: 9002, name: "train.py", pids: 1, ranks: 1, gpus: []string{"0"}},
				{root: 9101, name: "ipykernel_launcher", pids: 1, ranks: 1, gpus: []string{"1"}},
				{root: 9102, name: "ipykernel_launcher", pids: 1, ranks: 1, gpus: []string{"2"}},
			},
		},
		{
			name: "non-GPU trees are not jobs by default",
			build: func(w *world) {
				w.add(9500, 700, "python", "python preprocess.py").CPUPercent = 400
				w.add(9501, 9500, "python", "python preprocess.py").CPUPercent = 100
				w.add(9600, 700, "make", "make -j16").CPUPercent = 1600
			},
		},
		{
			name: "non-GPU python tree with MinCPUPercent",
			opts: Options{MinCPUPercent: 200},
			build: func(w *world) {
				w.add(9500, 700, "python", "python preprocess.py").CPUPercent = 150
				w.add(9501, 9500, "python", "python preprocess.py").CPUPercent = 100
				w.add(9700, 700, "python", "python idle.py")
				w.add(9600, 700, "make", "make -j16").CPUPercent = 1600
				w.add(9800, 700, "python", "python train.py")
				w.add(9801, 9800, "python", "python train.py").CPUPercent = 500
				w.use(9800, 0, 1<<30)
			},
			want: []want{
				{root: 9500, name: "preprocess.py", pids: 2},
				{root: 9800, name: "train.py", pids: 2, ranks: 1, workers: 1, gpus: []string{"0"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			tc.build(w)
			got := Find(w.tab, w.gpu, tc.opts)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d jobs, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, wj := range tc.want {
				j := got[i]
				if j.RootPID != wj.root {
					t.Errorf("job %d: root %d, want %d", i, j.RootPID, wj.root)
				}
				if wantID := fmt.Sprintf("%d-%d", wj.root, t0.Unix()-int64(wj.root)); j.ID != wantID {
					t.Errorf("job %d: ID %q, want %q", i, j.ID, wantID)
				}
				if j.Launcher != wj.launcher {
					t.Errorf("job %d: launcher %q, want %q", i, j.Launcher, wj.launcher)
				}
				if j.Name != wj.name {
					t.Errorf("job %d: name %q, want %q", i, j.Name, wj.name)
				}
				if len(j.PIDs) != wj.pids {
					t.Errorf("job %d: %d processes %v, want %d", i, len(j.PIDs), j.PIDs, wj.pids)
				}
				if j.Ranks != wj.ranks || j.Workers != wj.workers {
					t.Errorf("job %d: %d ranks %d workers, want %d and %d", i, j.Ranks, j.Workers, wj.ranks, wj.workers)
				}
				if !reflect.DeepEqual(j.GPUs, wj.gpus) {
					t.Errorf("job %d: GPUs %v, want %v", i, j.GPUs, wj.gpus)
				}
				if len(j.GPUUUIDs) != len(j.GPUs) {
					t.Errorf("job %d: %d UUIDs for %d GPUs", i, len(j.GPUUUIDs), len(j.GPUs))
				}
				if j.SlurmJob != wj.slurm || j.Container != wj.container {
					t.Errorf("job %d: slurm %q container %q, want %q %q", i, j.SlurmJob, j.Container, wj.slurm, wj.container)
				}
				if wj.user != "" && j.User != wj.user {
					t.Errorf("job %d: user %q, want %q", i, j.User, wj.user)
				}
			}
			// Every GPU process is in exactly one job.
			seen := make(map[int]int)
			for _, j := range got {
				for _, pid := range j.PIDs {
					seen[pid]++
				}
			}
			for pid := range w.gpu {
				if seen[pid] != 1 {
					t.Errorf("GPU process %d is in %d jobs", pid, seen[pid])
				}
			}
			for pid, n := range seen {
				if n != 1 {
					t.Errorf("process %d is in %d jobs", pid, n)
				}
			}
		})
	}
}

// TestFindAggregates checks the sums of the torchrun job exactly.
func TestFindAggregates(t *testing.T) {
	w := newWorld()
	w.torchrun(1000, 700, 8, 4)
	w.tab.Procs[1001].ReadBytesPerSecond = 1e6
	w.tab.Procs[1001].Missing = []string{"io"}
	w.tab.Procs[1002].WriteBytesPerSecond = 0
	jobs := Find(w.tab, w.gpu, Options{})
	if len(jobs) != 1 {
		t.Fatalf("got %d jobs", len(jobs))
	}
	j := jobs[0]
	n := 1 + 8 + 32 + 1
	// torchrun 1 + ranks 8×100 + workers 32×25 + tracker 1.
	if j.CPUPercent != 1602 {
		t.Errorf("CPU %v, want 1602", j.CPUPercent)
	}
	if j.ResidentBytes != uint64(n)<<20 {
		t.Errorf("resident %d, want %d", j.ResidentBytes, uint64(n)<<20)
	}
	if want := float64(n-1)*10 + 1e6; j.ReadBytesPerSecond != want {
		t.Errorf("read %v, want %v", j.ReadBytesPerSecond, want)
	}
	if want := float64(n - 1); j.WriteBytesPerSecond != want {
		t.Errorf("write %v, want %v", j.WriteBytesPerSecond, want)
	}
	if want := uint64(1+2+3+4+5+6+7+8) << 30; j.GPUMemoryBytes != want {
		t.Errorf("GPU memory %d, want %d", j.GPUMemoryBytes, want)
	}
	if j.StartTime != w.tab.Procs[1000].StartTime {
		t.Errorf("start %v", j.StartTime)
	}
	if j.GPUUUIDs[7] != "GPU-0007" {
		t.Errorf("UUIDs %v", j.GPUUUIDs)
	}
}

// TestFindStableIDs runs two scans of the same jobs, with changed rates and
// a replaced DataLoader worker, and checks that the IDs stay, and that a
// reused root PID gets a new ID.
func TestFindStableIDs(t *testing.T) {
	scan := func(step int) []Job {
		w := newWorld()
		w.tab.Time = t0.Add(time.Duration(step) * 15 * time.Second)
		w.torchrun(1000, 700, 8, 4)
		w.add(2000, 700, "python3", "python3 train_a.py")
		w.use(2000, 0, 1<<30)
		for _, p := range w.tab.Procs {
			p.CPUPercent += float64(step * 7)
		}
		if step == 1 {
			delete(w.tab.Procs, 1002)
			w.add(1100, 1001, "pt_data_worker", "/usr/bin/python3 -u train.py")
		}
		return Find(w.tab, w.gpu, Options{})
	}
	a, b := scan(0), scan(1)
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("got %d and %d jobs", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			t.Errorf("job %d: ID %q then %q", i, a[i].ID, b[i].ID)
		}
	}
	if a[0].ID != fmt.Sprintf("1000-%d", t0.Unix()-1000) {
		t.Errorf("ID %q", a[0].ID)
	}

	w := newWorld()
	w.add(2000, 700, "python3", "python3 train_a.py").StartTime = t0.Add(time.Hour)
	w.use(2000, 0, 1<<30)
	if c := Find(w.tab, w.gpu, Options{}); len(c) != 1 || c[0].ID == a[1].ID {
		t.Errorf("reused PID: jobs %+v, old ID %q", c, a[1].ID)
	}
	w.tab.Procs[2000].StartTime = time.Time{}
	if c := Find(w.tab, w.gpu, Options{}); len(c) != 1 || c[0].ID != "2000-0" {
		t.Errorf("unknown start time: jobs %+v", c)
	}
}

func TestFindEdgeCases(t *testing.T) {
	if got := Find(nil, nil, Options{}); got != nil {
		t.Errorf("nil table: %v", got)
	}
	w := newWorld()
	// GPU use of a PID the scanner did not see, and a PPID cycle.
	w.use(424242, 0, 1<<30)
	w.add(3000, 3001, "python", "python a.py")
	w.add(3001, 3000, "python", "python b.py")
	w.use(3000, 1, 1<<30)
	got := Find(w.tab, w.gpu, Options{})
	if len(got) != 1 || len(got[0].GPUs) != 1 || got[0].GPUs[0] != "1" {
		t.Errorf("got %+v", got)
	}
}
