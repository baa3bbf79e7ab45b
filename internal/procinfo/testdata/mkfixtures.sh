#!/bin/sh
# Rebuilds the fixture /proc and root filesystem of the procinfo tests:
#   proc/stat                     btime 1767225600 (2026-01-01T00:00:00Z)
#   proc/<pid>/{stat,status,cmdline,cgroup}
#   proc/4242/root/...            a pod's service account namespace file
#   rootfs/etc/passwd
# The cgroup files follow layouts seen on real hosts (cgroup v1 with one
# line per hierarchy, v2 with the single 0:: line).
#
# Usage: sh testdata/mkfixtures.sh   (from the package directory)
set -eu
cd "$(dirname "$0")"
rm -rf proc rootfs
mkdir -p proc rootfs/etc

printf 'cpu  1 2 3 4 5 6 7 0 0 0\nintr 0\nctxt 0\nbtime 1767225600\nprocesses 1\n' >proc/stat

# proc PID COMM UID STARTTIME CMDLINE(NUL-separated, printf format) CGROUP
proc() {
	d=proc/$1
	mkdir -p "$d"
	# 52 fields, as Linux 5.x+ writes them; starttime is field 22.
	printf '%s (%s) S 1 %s %s 0 -1 4194560 2471 0 0 0 312 45 0 0 20 0 9 0 %s 9876543210 123456 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n' \
		"$1" "$2" "$1" "$1" "$4" >"$d/stat"
	printf 'Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%s\nNgid:\t0\nPid:\t%s\nPPid:\t1\nTracerPid:\t0\nUid:\t%s\t%s\t%s\t%s\nGid:\t%s\t%s\t%s\t%s\nFDSize:\t256\nGroups:\t%s\nVmRSS:\t  123456 kB\nThreads:\t9\n' \
		"$2" "$1" "$1" "$3" "$3" "$3" "$3" "$3" "$3" "$3" "$3" "$3" >"$d/status"
	printf "$5" >"$d/cmdline"
	printf '%s' "$6" >"$d/cgroup"
}

proc 1 systemd 0 12 '/sbin/init\0splash\0' '0::/init.scope
'

# A PyTorch worker in a Kubernetes pod (containerd, systemd cgroup driver, cgroup v2).
proc 4242 pt_main_thread 1000 345678 'python3\0-m\0torch.distributed.run\0--nproc-per-node=8\0train.py\0' \
	'0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c6a2e_5b1d_4c7e_9a8b_2d4e6f8a0b1c.slice/cri-containerd-3f9d2c1b8a7e6d5c4b3a29180f1e2d3c4b5a69788766554433221100ffeeddcc.scope
'
mkdir -p proc/4242/root/run/secrets/kubernetes.io/serviceaccount
printf 'ml-research' >proc/4242/root/run/secrets/kubernetes.io/serviceaccount/namespace

# A Slurm job step on a cgroup v1 host (proctrack/cgroup, task/cgroup).
proc 5151 python 1001 98765 'python\0train.py\0--lr\0003e-4\0' '12:pids:/slurm/uid_1001/job_734211/step_0/task_0
11:memory:/slurm/uid_1001/job_734211/step_0/task_0
10:devices:/slurm/uid_1001/job_734211/step_0
9:freezer:/slurm/uid_1001/job_734211/step_0
8:cpuset:/slurm/uid_1001/job_734211/step_0
7:cpu,cpuacct:/slurm/uid_1001/job_734211/step_0/task_0
6:perf_event:/
5:hugetlb:/
4:net_cls,net_prio:/
3:blkio:/system.slice/slurmd.service
2:rdma:/
1:name=systemd:/system.slice/slurmd.service
'

# A Docker container (cgroupfs driver, cgroup v1); its uid is not in /etc/passwd.
proc 6060 vllm 2000 222222 'vllm\0serve\0meta-llama/Llama-3.1-8B\0' '11:hugetlb:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30
10:net_prio:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30
4:memory:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30
1:name=systemd:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30
0::/system.slice/containerd.service
'

# A comm with spaces and parentheses; a zombie-like empty cmdline.
proc 7070 'tmux: (server)' 0 5000 '' '0::/user.slice/user-0.slice/session-3.scope
'

# Malformed files.
proc 8080 broken 0 6000 'broken\0' '0::/system.slice/ok.service
1:name=systemd
'
proc 9090 shortstat 0 7000 'x\0' '0::/
'
printf '9090 (shortstat) S 1 9090\n' >proc/9090/stat

cat >rootfs/etc/passwd <<'P'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
bob:x:1001:1001::/home/bob:/bin/bash
alice2:x:1000:1000:second name for 1000:/home/alice:/bin/bash
+@netgroup::::::
broken line without colons
P
