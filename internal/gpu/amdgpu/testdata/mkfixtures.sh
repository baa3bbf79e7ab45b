#!/bin/sh
# Rebuilds testdata/fixtures.tar, the amdgpu collector's fixture trees:
#   mi300x/{sys,proc,rootfs}  an 8-way MI300X-like server cut to two GPUs
#                             (card1, card2) and the BMC's ASPEED VGA (card0, driver ast)
#   radeon/{sys,proc,rootfs}  a workstation with a Radeon RX 7900 XTX-like card
#                             (card0, amdgpu) and an Intel iGPU (card1, i915)
# sysfs paths hold ':' (0000:05:00.0), which Go module zips reject, and
# /proc/PID/fd is made of symbolic links, which they drop: the trees are
# kept as one archive that the tests unpack with collectortest.ExtractTar.
#
# Values follow what the kernel's amdgpu driver (6.x) prints: sysfs
# attributes in bytes and percent, hwmon in millidegrees, microwatts and
# hertz, fdinfo as in Documentation/gpu/drm-usage-stats.rst.
#
# Usage: sh testdata/mkfixtures.sh   (from the package directory)
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# put FILE VALUE: VALUE and a newline, as sysfs writes attributes.
put() {
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" >"$1"
}
# raw FILE CONTENT: CONTENT as is (printf format).
raw() {
	mkdir -p "$(dirname "$1")"
	printf "$2" >"$1"
}
# link PATH TARGET
link() {
	mkdir -p "$(dirname "$1")"
	ln -s "$2" "$1"
}

# pcidev SYS PATH DRIVER PCI_ID CLASS: a PCI function bound to DRIVER.
pcidev() {
	sys=$1 path=$2 drv=$3 id=$4 class=$5
	d=$sys/devices/$path
	slot=$(basename "$path")
	up=$(echo "$path" | sed 's|[^/]*|..|g')
	vendor=$(echo "$id" | cut -d: -f1 | tr 'A-Z' 'a-z')
	device=$(echo "$id" | cut -d: -f2 | tr 'A-Z' 'a-z')
	raw "$d/uevent" "DRIVER=$drv\nPCI_CLASS=$class\nPCI_ID=$id\nPCI_SUBSYS_ID=$id\nPCI_SLOT_NAME=$slot\nMODALIAS=pci:v0000${vendor}d0000${device}\n"
	put "$d/vendor" "0x$vendor"
	put "$d/device" "0x$device"
	put "$d/power/runtime_status" active
	mkdir -p "$sys/bus/pci/drivers/$drv"
	link "$d/driver" "$up/../bus/pci/drivers/$drv"
}

# drmnode SYS PATH NODE: /sys/class/drm/NODE for the device at PATH.
drmnode() {
	sys=$1 path=$2 node=$3
	d=$sys/devices/$path/drm/$node
	mkdir -p "$d"
	link "$d/device" "../../../$(basename "$path")"
	put "$d/dev" "226:0"
	link "$sys/class/drm/$node" "../../devices/$path/drm/$node"
}

# amdgpu SYS PATH: the amdgpu attributes every GPU has.
amdgpu() {
	d=$1/devices/$2
	put "$d/pp_dpm_sclk" "0: 500Mhz *"
	put "$d/power_dpm_force_performance_level" auto
	put "$d/pcie_replay_count" 0
}

# hwmon SYS PATH HWMON FILE=VALUE...: the GPU's hwmon directory.
hwmon() {
	sys=$1 path=$2 hw=$3
	shift 3
	d=$sys/devices/$path/hwmon/$hw
	put "$d/name" amdgpu
	link "$d/device" "../../../$(basename "$path")"
	link "$sys/class/hwmon/$hw" "../../devices/$path/hwmon/$hw"
	for kv in "$@"; do
		put "$d/${kv%%=*}" "${kv#*=}"
	done
}

# proc ROOT PID COMM UID STARTTIME CMDLINE CGROUP: /proc/PID's identity files.
proc() {
	d=$1/proc/$2
	mkdir -p "$d/fd" "$d/fdinfo"
	printf '%s (%s) S 1 %s %s 0 -1 4194560 2471 0 0 0 312 45 0 0 20 0 9 0 %s 9876543210 123456 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n' \
		"$2" "$3" "$2" "$2" "$5" >"$d/stat"
	printf 'Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%s\nPid:\t%s\nPPid:\t1\nUid:\t%s\t%s\t%s\t%s\nGid:\t%s\t%s\t%s\t%s\n' \
		"$3" "$2" "$2" "$4" "$4" "$4" "$4" "$4" "$4" "$4" "$4" >"$d/status"
	printf "$6" >"$d/cmdline"
	printf '%s\n' "$7" >"$d/cgroup"
}

# fd ROOT PID FD TARGET [FDINFO-BODY]: an open file and its fdinfo.
fd() {
	link "$1/proc/$2/fd/$3" "$4"
	body=${5:-}
	case $body in
	'' | *'\n') ;;
	*) body="$body\n" ;; # $(amdfd ...) lost its last newline
	esac
	raw "$1/proc/$2/fdinfo/$3" "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t1107\n$body"
}

# amdfd CLIENT PDEV VRAM-KiB GFX-ns COMPUTE-ns: a 6.x amdgpu fdinfo body.
amdfd() {
	printf 'drm-driver:\tamdgpu\ndrm-client-id:\t%s\ndrm-pdev:\t%s\npasid:\t%s\ndrm-total-gtt:\t2048 KiB\ndrm-shared-gtt:\t0\ndrm-total-vram:\t%s KiB\ndrm-resident-vram:\t%s KiB\ndrm-memory-vram:\t%s KiB\ndrm-memory-gtt:\t2048 KiB\ndrm-memory-cpu:\t0 KiB\namd-memory-visible-vram:\t0 KiB\namd-evicted-vram:\t0 KiB\namd-requested-vram:\t%s KiB\namd-requested-gtt:\t2048 KiB\ndrm-engine-gfx:\t%s ns\ndrm-engine-compute:\t%s ns\ndrm-engine-dma:\t0 ns\n' \
		"$1" "$2" "$((32768 + $1))" "$3" "$3" "$3" "$3" "$4" "$5"
}

passwd() {
	mkdir -p "$1/rootfs/etc"
	cat >"$1/rootfs/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
bob:x:1001:1001:Bob:/home/bob:/bin/bash
P
}

##### MI300X-like server
r=$tmp/mi300x
s=$r/sys
put "$s/class/drm/version" "drm 1.1.0 20060810"
put "$s/module/amdgpu/version" "6.8.5"
ast=pci0000:00/0000:00:1c.4/0000:0a:00.0
pcidev "$s" "$ast" ast 1A03:2000 30000
drmnode "$s" "$ast" card0
link "$s/class/drm/card0-VGA-1" "../../devices/$ast/drm/card0/card0-VGA-1"
mkdir -p "$s/devices/$ast/drm/card0/card0-VGA-1"

g1=pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:00.0/0000:05:00.0
g2=pci0000:10/0000:10:01.1/0000:11:00.0/0000:12:00.0/0000:15:00.0
n=1
for g in $g1 $g2; do
	pcidev "$s" "$g" amdgpu 1002:74A1 120000
	amdgpu "$s" "$g"
	drmnode "$s" "$g" card$n
	drmnode "$s" "$g" renderD$((127 + n))
	d=$s/devices/$g
	put "$d/product_name" "AMD Instinct MI300X OAM"
	put "$d/product_number" "102-G30211-0C"
	put "$d/vbios_version" "113-M3000100-102"
	put "$d/mem_info_vram_total" 206158430208
	put "$d/mem_info_vis_vram_total" 206158430208
	put "$d/mem_info_gtt_total" 811748569088
	put "$d/max_link_speed" "32.0 GT/s PCIe"
	put "$d/max_link_width" 16
	n=$((n + 1))
done
d=$s/devices/$g1
put "$d/unique_id" 5d3a1f0e6c2b4a97
put "$d/serial_number" 692251001124
put "$d/gpu_busy_percent" 87
put "$d/mem_busy_percent" 34
put "$d/mem_info_vram_used" 150323855360
put "$d/mem_info_vis_vram_used" 150323855360
put "$d/mem_info_gtt_used" 39321600
put "$d/current_link_speed" "32.0 GT/s PCIe"
put "$d/current_link_width" 16
hwmon "$s" "$g1" hwmon2 temp2_input=52000 temp2_label=junction temp2_crit=110000 temp2_emergency=115000 \
	temp3_input=45000 temp3_label=mem temp3_crit=95000 power1_input=612000000 power1_cap=750000000 \
	power1_cap_max=750000000 power1_cap_min=0 freq1_input=2100000000 freq1_label=sclk \
	freq2_input=1300000000 freq2_label=mclk in0_input=781 in0_label=vddgfx
d=$s/devices/$g2
put "$d/unique_id" 8c1e04b27f3a9d65
put "$d/serial_number" 692251001298
put "$d/gpu_busy_percent" 0
put "$d/mem_busy_percent" 0
put "$d/mem_info_vram_used" 87241523200
put "$d/mem_info_gtt_used" 20971520
# A link trained down to Gen4 x8 (a riser or a retimer at fault).
put "$d/current_link_speed" "16.0 GT/s PCIe"
put "$d/current_link_width" 8
hwmon "$s" "$g2" hwmon3 temp2_input=38000 temp2_label=junction temp3_input=36000 temp3_label=mem \
	power1_input=141000000 power1_cap=750000000 freq1_input=132000000 freq1_label=sclk \
	freq2_input=900000000 freq2_label=mclk

p=$r
passwd "$r"
raw "$r/proc/stat" "cpu  1 2 3 4 5 6 7 0 0 0\nbtime 1767225600\nprocesses 9\n"
proc "$p" 1 systemd 0 12 '/sbin/init\0' '0::/init.scope'
fd "$p" 1 0 /dev/null
# A PyTorch rank in a Kubernetes pod, on both GPUs; fd 5 is a dup of fd 4.
pod=0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c6a2e_5b1d_4c7e_9a8b_2d4e6f8a0b1c.slice/cri-containerd-3f9d2c1b8a7e6d5c4b3a29180f1e2d3c4b5a69788766554433221100ffeeddcc.scope
proc "$p" 4242 pt_main_thread 1000 345678 'python3\0train.py\0' "$pod"
mkdir -p "$p/proc/4242/root/run/secrets/kubernetes.io/serviceaccount"
printf 'ml-research' >"$p/proc/4242/root/run/secrets/kubernetes.io/serviceaccount/namespace"
fd "$p" 4242 0 /dev/null
fd "$p" 4242 1 'pipe:[52311]'
fd "$p" 4242 3 /dev/kfd
fd "$p" 4242 4 /dev/dri/renderD128 "$(amdfd 17 0000:05:00.0 41943040 0 1000000000)"
fd "$p" 4242 5 /dev/dri/renderD128 "$(amdfd 17 0000:05:00.0 41943040 0 1000000000)"
fd "$p" 4242 6 /dev/dri/renderD129 "$(amdfd 18 0000:15:00.0 1048576 2000000000 0)"
fd "$p" 4242 7 'anon_inode:[eventfd]'
fd "$p" 4242 8 'socket:[88123]'
# Its data loader worker, forked later: it inherited client 17.
proc "$p" 4300 pt_data_worker 1000 345900 'python3\0train.py\0' "$pod"
fd "$p" 4300 4 /dev/dri/renderD128 "$(amdfd 17 0000:05:00.0 41943040 0 1000000000)"
# A Slurm job with two contexts on GPU 2.
proc "$p" 5151 python 1001 98765 'python\0finetune.py\0' '0::/system.slice/slurmstepd.scope/job_734211/step_0/user/task_0'
fd "$p" 5151 5 /dev/dri/renderD129 "$(amdfd 31 0000:15:00.0 83886080 0 0)"
fd "$p" 5151 6 /dev/dri/renderD129 "$(amdfd 32 0000:15:00.0 1048576 0 0)"
# vLLM in Docker, the largest user of GPU 1; its uid is not in /etc/passwd.
proc "$p" 6060 vllm 2000 222222 'vllm\0serve\0' '0::/system.slice/docker-9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d.scope'
fd "$p" 6060 9 /dev/dri/renderD128 "$(amdfd 40 0000:05:00.0 104857600 0 0)"
# The BMC console on the ASPEED card: another driver.
proc "$p" 7070 Xorg 0 500 '/usr/lib/xorg/Xorg\0' '0::/system.slice/display-manager.service'
fd "$p" 7070 9 /dev/dri/card0 'drm-driver:\tast\ndrm-client-id:\t2\ndrm-pdev:\t0000:0a:00.0\n'
# amd-smi probing the GPU: a client holding nothing.
proc "$p" 8080 amd-smi 0 999000 'amd-smi\0monitor\0' '0::/user.slice/user-0.slice/session-1.scope'
fd "$p" 8080 3 /dev/dri/renderD128 "$(amdfd 50 0000:05:00.0 0 0 0)"
# A client whose fdinfo does not parse.
proc "$p" 9000 broken 0 999100 'broken\0' '0::/init.scope'
fd "$p" 9000 3 /dev/dri/renderD128 'drm-driver:\tamdgpu\ndrm-client-id:\t60\ndrm-pdev:\t0000:05:00.0\ndrm-memory-vram:\tlots KiB\n'
# A kernel thread: an empty fd directory.
proc "$p" 2 kthreadd 0 1 '' '0::/'

##### Radeon workstation
r=$tmp/radeon
s=$r/sys
put "$s/class/drm/version" "drm 1.1.0 20060810"
igpu=pci0000:00/0000:00:02.0
pcidev "$s" "$igpu" i915 8086:A780 30000
drmnode "$s" "$igpu" card1
drmnode "$s" "$igpu" renderD129
g=pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:00.0/0000:03:00.0
pcidev "$s" "$g" amdgpu 1002:744C 30000
amdgpu "$s" "$g"
drmnode "$s" "$g" card0
drmnode "$s" "$g" renderD128
link "$s/class/drm/card0-DP-1" "../../devices/$g/drm/card0/card0-DP-1"
mkdir -p "$s/devices/$g/drm/card0/card0-DP-1"
d=$s/devices/$g
put "$d/vbios_version" "113-D7020100-102"
put "$d/gpu_busy_percent" 12
put "$d/mem_busy_percent" 5
put "$d/mem_info_vram_total" 25753026560
put "$d/mem_info_vram_used" 1288490188
put "$d/mem_info_vis_vram_total" 25753026560
put "$d/mem_info_vis_vram_used" 1288490188
put "$d/mem_info_gtt_total" 33441652736
put "$d/mem_info_gtt_used" 167772160
put "$d/current_link_speed" "16.0 GT/s PCIe"
put "$d/current_link_width" 16
put "$d/max_link_speed" "16.0 GT/s PCIe"
put "$d/max_link_width" 16
hwmon "$s" "$g" hwmon5 temp1_input=41000 temp1_label=edge temp1_crit=100000 temp2_input=48000 \
	temp2_label=junction temp2_crit=110000 temp3_input=56000 temp3_label=mem temp3_crit=100000 \
	power1_average=45000000 power1_input=47000000 power1_cap=303000000 power1_cap_max=339000000 \
	freq1_input=500000000 freq1_label=sclk freq2_input=96000000 freq2_label=mclk \
	fan1_input=1100 fan1_min=0 fan1_max=3300 pwm1=77 pwm1_enable=2 in0_input=658 in0_label=vddgfx

p=$r
passwd "$r"
raw "$r/proc/stat" "btime 1767225600\n"
# Xorg on a pre-5.19 kernel's fdinfo format.
proc "$p" 2200 Xorg 0 1500 '/usr/lib/xorg/Xorg\0vt2\0' '0::/system.slice/display-manager.service'
fd "$p" 2200 12 /dev/dri/card0 'pdev:\t0000:03:00.0\npasid:\t32769\nvram mem:\t262144 kB\ngtt mem:\t16384 kB\ncpu mem:\t0 kB\ngfx0:\t3.2%%\n'
proc "$p" 3300 blender 1000 77000 'blender\0scene.blend\0' '0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-blender.scope'
fd "$p" 3300 20 /dev/dri/renderD128 'drm-driver:\tamdgpu\ndrm-client-id:\t9\ndrm-pdev:\t0000:03:00.0\npasid:\t32790\ndrm-memory-vram:\t4194304 KiB\ndrm-engine-gfx:\t90000000000 ns\ndrm-engine-compute:\t0 ns\n'
# A newer kernel's common keys only: resident VRAM is preferred to total.
proc "$p" 3500 gnome-shell 1000 1700 'gnome-shell\0' '0::/user.slice/user-1000.slice/user@1000.service/session.slice/org.gnome.Shell@wayland.service'
fd "$p" 3500 14 /dev/dri/renderD128 'drm-driver:\tamdgpu\ndrm-client-id:\t4\ndrm-pdev:\t0000:03:00.0\ndrm-total-vram:\t131072 KiB\ndrm-resident-vram:\t65536 KiB\ndrm-engine-gfx:\t5000000000 ns\n'
# Firefox on the Intel iGPU.
proc "$p" 3400 firefox 1000 80000 'firefox\0' '0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope'
fd "$p" 3400 30 /dev/dri/renderD129 'drm-driver:\ti915\ndrm-client-id:\t5\ndrm-pdev:\t0000:00:02.0\ndrm-engine-render:\t123456 ns\n'

tar -C "$tmp" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -cf fixtures.tar mi300x radeon
echo "wrote $(pwd)/fixtures.tar"
