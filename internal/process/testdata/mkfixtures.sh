#!/bin/sh
# Rebuilds the fixture /proc and root filesystem of the process tests.
#   proc/stat                 btime 1767225600 (2026-01-01T00:00:00Z)
#   proc/<pid>/{stat,status,io,limits,cmdline,cgroup,fd/}
#   rootfs/etc/passwd         root 0, alice 1000, bob 1001
#
#   1    systemd          init, cgroup v2 /init.scope
#   2    kthreadd         kernel thread (PF_KTHREAD in flags)
#   3    kworker/0:1      kernel thread, state I, ppid 2
#   200  python3          "python3 train.py --epochs 10" in Docker (cgroup v1), alice
#   201  python3          its forked data loader (same command line)
#   202  nvidia-smi       a child the config's matchers do not match
#   203  python3          a zombie child of 200 (state Z, empty cmdline)
#   300  python3          "python3 /workspace/finetune.py" in a k8s pod (containerd, v2), bob
#   410  python           "python eval.py" in Slurm job 1234 (cgroup v1)
#   420  python3          "/usr/bin/python3 pretrain.py" in Slurm job 5678 (cgroup v2)
#   600  sshd             its io is made unreadable by the tests' read hook
#
# Usage: sh testdata/mkfixtures.sh   (from the package directory)
set -eu
cd "$(dirname "$0")"
rm -rf proc rootfs
mkdir -p proc rootfs/etc

printf 'cpu  1 2 3 4 5 6 7 0 0 0\nintr 0\nctxt 0\nbtime 1767225600\nprocesses 1\n' >proc/stat
printf 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n' >rootfs/etc/passwd

# proc PID COMM STATE PPID FLAGS UID MINFLT MAJFLT UTIME STIME THREADS START VSIZE RSSPAGES SWAPKB VOL NONVOL READ WRITE NFD CMDLINE CGROUP
proc() {
	d=proc/$1
	mkdir -p "$d/fd"
	printf '%s (%s) %s %s %s %s 0 -1 %s %s 0 %s 0 %s %s 0 0 20 0 %s 0 %s %s %s 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n' \
		"$1" "$2" "$3" "$4" "$1" "$1" "$5" "$7" "$8" "$9" "${10}" "${11}" "${12}" "${13}" "${14}" >"$d/stat"
	{
		printf 'Name:\t%s\nUmask:\t0022\nState:\t%s\nTgid:\t%s\nNgid:\t0\nPid:\t%s\nPPid:\t%s\nTracerPid:\t0\n' "$2" "$3" "$1" "$1" "$4"
		printf 'Uid:\t%s\t%s\t%s\t%s\nGid:\t%s\t%s\t%s\t%s\nFDSize:\t256\nGroups:\t%s\n' "$6" "$6" "$6" "$6" "$6" "$6" "$6" "$6" "$6"
		if [ "${15}" != - ]; then
			printf 'VmPeak:\t  %s kB\nVmRSS:\t  %s kB\nVmSwap:\t  %s kB\n' 999999 "$((${14} * 4))" "${15}"
		fi
		printf 'Threads:\t%s\nvoluntary_ctxt_switches:\t%s\nnonvoluntary_ctxt_switches:\t%s\n' "${11}" "${16}" "${17}"
	} >"$d/status"
	printf 'rchar: 1000\nwchar: 2000\nsyscr: 10\nsyscw: 20\nread_bytes: %s\nwrite_bytes: %s\ncancelled_write_bytes: 0\n' "${18}" "${19}" >"$d/io"
	printf 'Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 524288               files     \n' >"$d/limits"
	i=0
	while [ "$i" -lt "${20}" ]; do
		: >"$d/fd/$i"
		i=$((i + 1))
	done
	# Git keeps no empty directories.
	[ "${20}" -gt 0 ] || : >"$d/fd/.keep"
	printf "${21}" >"$d/cmdline"
	printf '%s' "${22}" >"$d/cgroup"
}

DOCKER=4f0e9c3b2a1d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f
proc 1 systemd S 0 4194560 0 50000 100 500 300 1 12 170000000 3000 0 9000 400 1000000 2000000 60 '/sbin/init\0splash\0' '0::/init.scope
'
proc 2 kthreadd S 0 2129984 0 0 0 0 10 1 12 0 0 - 500 1 0 0 0 '' '0::/
'
proc 3 kworker/0:1-events I 2 69238880 0 0 0 0 200 1 15 0 0 - 90000 30 0 0 0 '' '0::/
'
proc 200 python3 S 1 4194304 1000 900000 12 360000 12000 24 345678 30000000000 2500000 1024 80000 7000 500000000 100000000 40 'python3\0train.py\0--epochs=10\0' "12:memory:/docker/$DOCKER
11:cpu,cpuacct:/docker/$DOCKER
1:name=systemd:/docker/$DOCKER
"
proc 201 python3 R 200 4194368 1000 200000 3 9000 800 4 345700 20000000000 1200000 0 3000 900 70000000 0 12 'python3\0train.py\0--epochs=10\0' "12:memory:/docker/$DOCKER
11:cpu,cpuacct:/docker/$DOCKER
1:name=systemd:/docker/$DOCKER
"
proc 202 nvidia-smi D 200 4194304 1000 3000 0 20 10 1 346000 300000000 5000 0 10 2 0 0 3 'nvidia-smi\0--query-gpu=memory.used\0' "12:memory:/docker/$DOCKER
11:cpu,cpuacct:/docker/$DOCKER
1:name=systemd:/docker/$DOCKER
"
proc 203 python3 Z 200 4227084 1000 100 0 30 5 1 346100 0 0 - 4 1 0 0 0 '' "12:memory:/docker/$DOCKER
11:cpu,cpuacct:/docker/$DOCKER
1:name=systemd:/docker/$DOCKER
"
proc 300 python3 S 1 4194304 1001 400000 5 50000 4000 16 400000 25000000000 2000000 0 20000 3000 1000000000 4000000 30 'python3\0/workspace/finetune.py\0--lr=1e-4\0' '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c6a2e_5b1d_4c7e_9a8b_2d4e6f8a0b1c.slice/cri-containerd-3f9d2c1b8a7e6d5c4b3a29180f1e2d3c4b5a69788766554433221100ffeeddcc.scope
'
proc 410 python R 1 4194304 1000 10000 0 7000 300 2 410000 900000000 100000 0 300 80 2000000 0 8 'python\0eval.py\0' '11:cpuset:/slurm/uid_1000/job_1234/step_0/task_0
4:memory:/slurm/uid_1000/job_1234/step_0/task_0
1:name=systemd:/system.slice/slurmd.service
'
proc 420 python3 S 1 4194304 1000 10000 0 1500 150 6 420000 4000000000 300000 0 700 20 0 3000000 10 '/usr/bin/python3\0pretrain.py\0' '0::/system.slice/slurmstepd.scope/job_5678/step_0/user/task_0
'
proc 600 sshd S 1 4194560 0 2000 0 40 20 1 2000 15000000 2000 100 300 7 0 0 5 'sshd: alice [priv]\0' '0::/system.slice/ssh.service
'
