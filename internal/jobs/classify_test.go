package jobs

import (
	"testing"

	"github.com/trainwatch/trainwatch/internal/process"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		comm, cmdline string
		kind          kind
		launcher      string
	}{
		{"torchrun", "/usr/bin/python3 /usr/local/bin/torchrun --nproc-per-node 8 train.py", kindLauncher, LauncherTorchrun},
		{"python", "python -m torch.distributed.launch --nproc_per_node 2 train.py", kindLauncher, LauncherTorchrun},
		{"python3", "python3 -u -mtorch.distributed.run train.py", kindLauncher, LauncherTorchrun},
		{"python3", "python3 -m deepspeed.launcher.runner train.py", kindLauncher, LauncherDeepSpeed},
		{"python3", "python3 -m accelerate.commands.launch train.py", kindLauncher, LauncherAccelerate},
		{"mpiexec", "mpiexec -n 4 ./a.out", kindLauncher, LauncherMPI},
		{"prted", "prted --prtemca ess env", kindLauncher, LauncherMPI},
		{"srun", "srun python train.py", kindLauncher, LauncherSlurm},
		{"slurmstepd", "slurmstepd: [12.batch]", kindStep, LauncherSlurm},
		{"containerd-shim", "/usr/bin/containerd-shim-runc-v2 -id x", kindBoundary, ""},
		{"sshd-session", "sshd-session: alice [priv]", kindBoundary, ""},
		{"python3", "/usr/bin/python3 /usr/local/bin/jupyter-notebook", kindBoundary, ""},
		{"python3", "python3 -W ignore -X dev train.py", kindPython, ""},
		{"pt_main_thread", "python3 -u train.py", kindPython, ""},
		{"python3", "python3", kindOther, ""},
		{"python3", "python3 -c print(1)", kindOther, ""},
		{"python3", "python3 - < script", kindOther, ""},
		{"python3", "python3 -c from multiprocessing.resource_tracker import main;main(3)", kindOther, ""},
		{"numactl", "numactl --cpunodebind=0 python train.py", kindWrapper, ""},
		{"make", "make -j", kindOther, ""},
	} {
		got := classify(&process.Proc{Comm: tc.comm, Cmdline: tc.cmdline})
		if got.kind != tc.kind || got.launcher != tc.launcher {
			t.Errorf("%q %q: kind %d launcher %q, want %d %q", tc.comm, tc.cmdline, got.kind, got.launcher, tc.kind, tc.launcher)
		}
	}
	if classify(&process.Proc{Comm: "kworker/0:1", KernelThread: true}).kind != kindBoundary {
		t.Error("kernel thread is not a boundary")
	}
}

func TestScriptName(t *testing.T) {
	for cmdline, want := range map[string]string{
		"python /a/b/train.py --cfg x.py":                    "train.py",
		"torchrun --nproc-per-node 8 pretrain.py":            "pretrain.py",
		"python -m torch.distributed.run -m pkg.train":       "pkg.train",
		"python -m torch.distributed.run --standalone":       "",
		"slurmstepd: [1.0]":                                  "",
		"":                                                   "",
		"/usr/bin/python3 -u -m deepspeed.launcher.launch x": "",
	} {
		if got := scriptName(cmdline); got != want {
			t.Errorf("scriptName(%q) = %q, want %q", cmdline, got, want)
		}
	}
}
