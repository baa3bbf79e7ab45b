package jobs

import (
	"path"
	"strings"

	"github.com/trainwatch/trainwatch/internal/process"
)

// kind is what a process is to the root walk.
type kind int

const (
	// kindOther is any process without a role: the walk stops below it.
	kindOther kind = iota
	// kindBoundary is never part of a job and stops the walk even inside a
	// container: init/systemd, sshd, login, tmux and screen servers,
	// container runtimes and container init processes, job schedulers'
	// daemons, jupyter servers.
	kindBoundary
	// kindLauncher is a distributed launcher: torchrun, deepspeed,
	// accelerate, mpirun and the MPI process managers, srun.
	kindLauncher
	// kindStep is slurmstepd: the walk climbs into it but never past it.
	kindStep
	// kindPython is a Python interpreter running a script or module, or a
	// multiprocessing.spawn child.
	kindPython
	// kindWrapper is a shell or exec wrapper (bash, sh, env, numactl, ...):
	// part of the job only directly under a launcher, step or Python script.
	kindWrapper
)

// Launcher names as Job.Launcher reports them.
const (
	LauncherTorchrun   = "torchrun"
	LauncherDeepSpeed  = "deepspeed"
	LauncherAccelerate = "accelerate"
	LauncherMPI        = "mpirun"
	LauncherSlurm      = "slurm"
)

// isBoundaryName reports whether a command name (comm, or argv[0]'s base
// name) stops the walk. Names comm cuts at 15 bytes or that carry a version
// are matched by prefix.
func isBoundaryName(name string) bool {
	switch name {
	case "systemd", "init", "sshd", "sshd-session", "sshd-auth", "login",
		"tmux: server", "tmux", "screen", "SCREEN", "mosh-server", "cron", "crond", "atd",
		"conmon", "docker-init", "tini", "dumb-init", "catatonit",
		"containerd", "dockerd", "runc", "crun", "kubelet", "podman",
		"slurmd", "supervisord", "s6-svscan", "runsv":
		return true
	}
	return strings.HasPrefix(name, "containerd-shim") || strings.HasPrefix(name, "jupyter")
}

// launcherName maps a launcher's command name to its Job.Launcher value ("" for
// other names).
func launcherName(name string) string {
	switch name {
	case "torchrun":
		return LauncherTorchrun
	case "deepspeed":
		return LauncherDeepSpeed
	case "accelerate":
		return LauncherAccelerate
	case "mpirun", "mpiexec", "mpiexec.hydra", "orterun", "prterun", "orted", "prted", "hydra_pmi_proxy":
		return LauncherMPI
	case "srun":
		return LauncherSlurm
	}
	return ""
}

// launcherModule maps a launcher's python -m module to its Job.Launcher value
// ("" for other modules).
func launcherModule(module string) string {
	switch module {
	case "torch.distributed.run", "torch.distributed.launch":
		return LauncherTorchrun
	case "deepspeed.launcher.launch", "deepspeed.launcher.runner":
		return LauncherDeepSpeed
	case "accelerate.commands.launch", "accelerate.commands.accelerate_cli":
		return LauncherAccelerate
	}
	return ""
}

// isWrapperName reports whether a command name is a shell or exec wrapper.
func isWrapperName(name string) bool {
	switch name {
	case "sh", "bash", "dash", "zsh", "ksh", "fish",
		"env", "nohup", "timeout", "stdbuf", "numactl", "taskset", "nice", "ionice",
		"chrt", "time", "setsid", "uv", "micromamba":
		return true
	}
	return false
}

// isHelper reports whether a command line is a Python multiprocessing helper
// (resource tracker, semaphore tracker, forkserver): a child of a rank that
// is not a worker.
func isHelper(cmdline string) bool {
	return strings.Contains(cmdline, "multiprocessing.resource_tracker") ||
		strings.Contains(cmdline, "multiprocessing.semaphore_tracker") ||
		strings.Contains(cmdline, "multiprocessing.forkserver")
}

// info is what the walk needs to know about one process, computed once.
type info struct {
	kind kind
	// launcher is the Job.Launcher value for kindLauncher and kindStep
	// processes ("" otherwise).
	launcher string
	// python is true for a Python interpreter (with or without a script)
	// and for PyTorch's renamed threads (pt_main_thread, pt_data_worker).
	python bool
	// helper is true for multiprocessing helper processes.
	helper bool
}

// classify works out a process's role from its comm and command line.
func classify(p *process.Proc) info {
	args := strings.Fields(p.Cmdline)
	argv0 := p.Comm
	if len(args) > 0 {
		argv0 = path.Base(args[0])
	}
	var in info
	in.python = isPythonName(p.Comm) || isPythonName(argv0) ||
		p.Comm == "pt_main_thread" || p.Comm == "pt_data_worker"
	script, module := "", ""
	if isPythonName(argv0) {
		script, module = pythonTarget(args)
	}
	in.helper = isHelper(p.Cmdline)
	switch {
	case p.KernelThread:
		in.kind = kindBoundary
	case p.Comm == "slurmstepd" || strings.HasPrefix(argv0, "slurmstepd"):
		in.kind, in.launcher = kindStep, LauncherSlurm
	case isBoundaryName(p.Comm) || isBoundaryName(argv0) || isBoundaryName(path.Base(script)) ||
		strings.HasPrefix(module, "ipykernel") || strings.HasPrefix(module, "jupyter"):
		in.kind = kindBoundary
	case launcherName(p.Comm) != "":
		in.kind, in.launcher = kindLauncher, launcherName(p.Comm)
	case launcherName(argv0) != "":
		in.kind, in.launcher = kindLauncher, launcherName(argv0)
	case script != "" && launcherName(path.Base(script)) != "":
		in.kind, in.launcher = kindLauncher, launcherName(path.Base(script))
	case launcherModule(module) != "":
		in.kind, in.launcher = kindLauncher, launcherModule(module)
	case in.python && (script != "" || module != "" || strings.Contains(p.Cmdline, "multiprocessing.spawn")) && !in.helper:
		in.kind = kindPython
	case isWrapperName(p.Comm) || isWrapperName(argv0):
		in.kind = kindWrapper
	}
	return in
}

// isPythonName reports whether a command name is a Python interpreter
// (python, python3, python3.12, pythonw).
func isPythonName(name string) bool {
	return strings.HasPrefix(name, "python")
}

// pythonTarget returns the script or -m module a Python command line runs
// ("" for both with -c or an interactive interpreter). args[0] is the
// interpreter.
func pythonTarget(args []string) (script, module string) {
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-m" && i+1 < len(args):
			return "", args[i+1]
		case strings.HasPrefix(a, "-m") && len(a) > 2:
			return "", a[2:]
		case a == "-c" || strings.HasPrefix(a, "-c"):
			return "", ""
		case a == "-W" || a == "-X" || a == "--check-hash-based-pycs":
			i++ // takes an argument
		case a == "-" || a == "--":
			return "", ""
		case strings.HasPrefix(a, "-"):
		default:
			return a, ""
		}
	}
	return "", ""
}

// scriptName returns the training script named on a command line: the base
// name of the first argument after argv[0] that ends in ".py" (train.py,
// also behind launchers: "torchrun --nproc-per-node 8 train.py"), or else
// the first module after -m or --module that is not a launcher ("python -m
// pkg.train", "python -m torch.distributed.run -m pkg.train"). "" when there
// is neither.
func scriptName(cmdline string) string {
	args := strings.Fields(cmdline)
	for _, a := range args[min(1, len(args)):] {
		if !strings.HasPrefix(a, "-") && strings.HasSuffix(a, ".py") {
			return path.Base(a)
		}
	}
	for i := 1; i+1 < len(args); i++ {
		if m := args[i+1]; (args[i] == "-m" || args[i] == "--module") && !strings.HasPrefix(m, "-") && launcherModule(m) == "" {
			return m
		}
	}
	return ""
}
