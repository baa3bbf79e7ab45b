package summary

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// builder assembles a collector.Snapshot in tests.
type builder struct {
	t          time.Time
	e          *collector.Emitter
	descs      map[string]*collector.Desc
	collectors []collector.CollectorStatus
}

func newBuilder(t time.Time) *builder {
	return &builder{t: t, e: collector.NewEmitter(), descs: map[string]*collector.Desc{}}
}

// add emits one sample; kv alternates label names and values.
func (b *builder) add(name string, v float64, kv ...string) *builder {
	var names, values []string
	for i := 0; i+1 < len(kv); i += 2 {
		names = append(names, kv[i])
		values = append(values, kv[i+1])
	}
	d := b.descs[name]
	if d == nil {
		d = collector.NewDesc(name, "test", collector.Gauge, names...)
		b.descs[name] = d
	}
	b.e.Emit(d, v, values...)
	return b
}

func (b *builder) collector(name string, err string) *builder {
	b.collectors = append(b.collectors, collector.CollectorStatus{Name: name, Success: err == "", Error: err})
	return b
}

func (b *builder) snap() *collector.Snapshot {
	return &collector.Snapshot{Time: b.t, Families: collector.MergeFamilies(b.e.Families()), Collectors: b.collectors}
}

// t0 is the time of the fixtures' first snapshot.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const gib = 1 << 30

// cpuModes are CPU seconds per mode, in node_exporter's mode order.
type cpuModes struct{ user, nice, system, idle, iowait, irq, softirq, steal float64 }

func (b *builder) cpu(cpu string, m cpuModes) *builder {
	for _, x := range []struct {
		mode string
		v    float64
	}{{"user", m.user}, {"nice", m.nice}, {"system", m.system}, {"idle", m.idle}, {"iowait", m.iowait},
		{"irq", m.irq}, {"softirq", m.softirq}, {"steal", m.steal}} {
		b.add("node_cpu_seconds_total", x.v, "cpu", cpu, "mode", x.mode)
	}
	return b
}

// diskVals are one device's diskstats counters.
type diskVals struct {
	reads, writes, readBytes, writtenBytes, readTime, writeTime, ioTime, weighted float64
}

func (b *builder) disk(dev string, d diskVals) *builder {
	b.add("node_disk_reads_completed_total", d.reads, "device", dev)
	b.add("node_disk_writes_completed_total", d.writes, "device", dev)
	b.add("node_disk_read_bytes_total", d.readBytes, "device", dev)
	b.add("node_disk_written_bytes_total", d.writtenBytes, "device", dev)
	b.add("node_disk_read_time_seconds_total", d.readTime, "device", dev)
	b.add("node_disk_write_time_seconds_total", d.writeTime, "device", dev)
	b.add("node_disk_io_time_seconds_total", d.ioTime, "device", dev)
	b.add("node_disk_io_time_weighted_seconds_total", d.weighted, "device", dev)
	return b
}

// netVals are one interface's netdev counters.
type netVals struct{ rxBytes, txBytes, rxPackets, txPackets, rxErrs, txErrs, rxDrop, txDrop float64 }

func (b *builder) net(dev string, n netVals) *builder {
	b.add("node_network_receive_bytes_total", n.rxBytes, "device", dev)
	b.add("node_network_transmit_bytes_total", n.txBytes, "device", dev)
	b.add("node_network_receive_packets_total", n.rxPackets, "device", dev)
	b.add("node_network_transmit_packets_total", n.txPackets, "device", dev)
	b.add("node_network_receive_errs_total", n.rxErrs, "device", dev)
	b.add("node_network_transmit_errs_total", n.txErrs, "device", dev)
	b.add("node_network_receive_drop_total", n.rxDrop, "device", dev)
	b.add("node_network_transmit_drop_total", n.txDrop, "device", dev)
	return b
}

func (b *builder) fs(mount, dev, fstype, devErr string, size, avail, free, files, filesFree, ro float64) *builder {
	l := []string{"device", dev, "fstype", fstype, "mountpoint", mount, "device_error", devErr}
	if devErr == "" {
		b.add("node_filesystem_size_bytes", size, l...)
		b.add("node_filesystem_avail_bytes", avail, l...)
		b.add("node_filesystem_free_bytes", free, l...)
		b.add("node_filesystem_files", files, l...)
		b.add("node_filesystem_files_free", filesFree, l...)
	}
	b.add("node_filesystem_readonly", ro, l...)
	errv := 0.0
	if devErr != "" {
		errv = 1
	}
	b.add("node_filesystem_device_error", errv, l...)
	return b
}

func (b *builder) gpu(idx, uuid, model string, util, used, free, temp, power, sm, mem float64) *builder {
	l := []string{"gpu", idx, "UUID", uuid, "pci_bus_id", "00000000:1" + idx + ":00.0", "device", "nvidia" + idx, "modelName", model, "Hostname", "trainer-01"}
	b.add("DCGM_FI_DEV_GPU_UTIL", util, l...)
	b.add("DCGM_FI_DEV_FB_USED", used, l...)
	b.add("DCGM_FI_DEV_FB_FREE", free, l...)
	b.add("DCGM_FI_DEV_GPU_TEMP", temp, l...)
	b.add("DCGM_FI_DEV_POWER_USAGE", power, l...)
	b.add("DCGM_FI_DEV_SM_CLOCK", sm, l...)
	b.add("DCGM_FI_DEV_MEM_CLOCK", mem, l...)
	return b
}

// common adds the gauges that are the same in both fixture snapshots.
func (b *builder) common() *builder {
	b.add("node_uname_info", 1, "domainname", "(none)", "machine", "x86_64", "nodename", "trainer-01",
		"release", "6.8.0-45-generic", "sysname", "Linux", "version", "#45-Ubuntu SMP")
	b.add("node_boot_time_seconds", float64(t0.Unix())-(3*86400+4*3600+5*60))
	b.add("node_load1", 3.5).add("node_load5", 2.25).add("node_load15", 1.125)
	b.add("node_procs_running", 5).add("node_procs_blocked", 1)
	b.add("node_memory_MemTotal_bytes", 64*gib)
	b.add("node_memory_MemAvailable_bytes", 16*gib)
	b.add("node_memory_MemFree_bytes", 4*gib)
	b.add("node_memory_Buffers_bytes", 1*gib)
	b.add("node_memory_Cached_bytes", 12*gib)
	b.add("node_memory_SwapTotal_bytes", 8*gib)
	b.add("node_memory_SwapFree_bytes", 6*gib)
	b.fs("/", "/dev/nvme0n1p2", "ext4", "", 100*gib, 5*gib, 10*gib, 6553600, 5000000, 0)
	b.fs("/boot/efi", "/dev/nvme0n1p1", "vfat", "", 512<<20, 500<<20, 500<<20, 0, 0, 0)
	b.fs("/data", "/dev/sda1", "xfs", "", 4096*float64(gib), 1024*float64(gib), 1024*float64(gib), 1e8, 9.9e7, 1)
	b.fs("/mnt/datasets", "nas:/datasets", "nfs4", "mountpoint timeout", 0, 0, 0, 0, 0, 0)
	b.add("node_network_up", 1, "device", "eth0").add("node_network_speed_bytes", 1.25e9, "device", "eth0")
	b.add("node_network_up", 0, "device", "lo")
	b.add("node_network_up", 0, "device", "docker0").add("node_network_speed_bytes", -125000, "device", "docker0")
	b.add("node_hwmon_chip_names", 1, "chip", "platform_coretemp_0", "chip_name", "coretemp")
	b.add("node_hwmon_chip_names", 1, "chip", "nvme_nvme0", "chip_name", "nvme")
	b.add("node_hwmon_sensor_label", 1, "chip", "platform_coretemp_0", "sensor", "temp1", "label", "Package id 0")
	b.add("node_hwmon_sensor_label", 1, "chip", "platform_coretemp_0", "sensor", "temp2", "label", "Core 0")
	b.add("node_hwmon_sensor_label", 1, "chip", "nvme_nvme0", "sensor", "temp1", "label", "Composite")
	b.add("node_hwmon_temp_celsius", 72, "chip", "platform_coretemp_0", "sensor", "temp1")
	b.add("node_hwmon_temp_celsius", 85, "chip", "platform_coretemp_0", "sensor", "temp2")
	b.add("node_hwmon_temp_celsius", 41.85, "chip", "nvme_nvme0", "sensor", "temp1")
	b.add("node_hwmon_temp_celsius", 30, "chip", "hwmon9", "sensor", "temp10")
	b.add("node_hwmon_temp_max_celsius", 100, "chip", "platform_coretemp_0", "sensor", "temp1")
	b.add("node_hwmon_temp_max_celsius", 100, "chip", "platform_coretemp_0", "sensor", "temp2")
	b.add("node_hwmon_temp_crit_celsius", 100, "chip", "platform_coretemp_0", "sensor", "temp1")
	b.add("node_hwmon_temp_crit_celsius", 100, "chip", "platform_coretemp_0", "sensor", "temp2")
	b.add("node_hwmon_temp_max_celsius", 81.85, "chip", "nvme_nvme0", "sensor", "temp1")
	b.add("node_hwmon_temp_crit_celsius", 84.85, "chip", "nvme_nvme0", "sensor", "temp1")
	b.add("node_thermal_zone_temp", 47, "type", "x86_pkg_temp", "zone", "1")
	b.add("node_thermal_zone_temp", 27.8, "type", "acpitz", "zone", "0")
	b.add("node_tcp_connection_states", 42, "state", "established")
	b.add("node_tcp_connection_states", 7, "state", "listen")
	b.add("node_tcp_connection_states", 3, "state", "time_wait")
	b.gpu("0", "GPU-aaaa", "NVIDIA H100 80GB HBM3", 97, 72000, 9559, 71, 612.5, 1980, 2619)
	b.gpu("1", "GPU-bbbb", "NVIDIA H100 80GB HBM3", 3, 1024, 80535, 88, 118.25, 345, 2619)
	b.collector("cpu", "").collector("meminfo", "").collector("diskstats", "").collector("netdev", "")
	b.collector("hwmon", "")
	b.collector("infiniband", "no data on this machine: /sys/class/infiniband does not exist")
	return b
}

// fullPair returns two snapshots of a busy training machine 10 s apart.
// Expected rates (Δ over 10 s):
//   - cpu0: Δ user 6, system 1, idle 2, iowait 1 → busy 70 %;
//     cpu1: Δ user 9, idle 0.5, softirq 0.5 → busy 95 %;
//     cpu2: Δ idle 10 → 0 %; cpu10: new in cur → no rates.
//     Average: Δtotal 30, idle-like 13.5 → 55 %.
//   - nvme0n1: 1000 reads, 4 MB read, 2 s read time → 2 ms; 500 writes,
//     1.5 s → 3 ms; io_time 6 s → 60 %; weighted 12 s → queue 1.2.
//   - sda: no reads in the interval → read latency 0; sdb new; sr0 never
//     used → left out.
//   - eth0: 125 MB in, 25 MB out; veth1 counters reset → no rates.
func fullPair() (prev, cur *collector.Snapshot) {
	p := newBuilder(t0).common()
	p.cpu("0", cpuModes{user: 100, system: 50, idle: 1000, iowait: 10, softirq: 1})
	p.cpu("1", cpuModes{user: 200, system: 20, idle: 900, iowait: 5, softirq: 2})
	p.cpu("2", cpuModes{user: 10, system: 5, idle: 2000})
	p.disk("nvme0n1", diskVals{reads: 10000, writes: 5000, readBytes: 1e9, writtenBytes: 2e9, readTime: 20, writeTime: 15, ioTime: 100, weighted: 200})
	p.disk("sda", diskVals{reads: 300, writes: 100, readBytes: 3e6, writtenBytes: 1e6, readTime: 3, writeTime: 1, ioTime: 4, weighted: 4})
	p.disk("sr0", diskVals{})
	p.net("eth0", netVals{rxBytes: 1e12, txBytes: 2e11, rxPackets: 1e9, txPackets: 5e8, rxErrs: 1, rxDrop: 10})
	p.net("lo", netVals{rxBytes: 5e6, txBytes: 5e6, rxPackets: 5e4, txPackets: 5e4})
	p.net("docker0", netVals{})
	p.net("veth1", netVals{rxBytes: 9e9, txBytes: 9e9, rxPackets: 9e6, txPackets: 9e6})

	c := newBuilder(t0.Add(10 * time.Second)).common()
	c.cpu("0", cpuModes{user: 106, system: 51, idle: 1002, iowait: 11, softirq: 1})
	c.cpu("1", cpuModes{user: 209, system: 20, idle: 900.5, iowait: 5, softirq: 2.5})
	c.cpu("2", cpuModes{user: 10, system: 5, idle: 2010})
	c.cpu("10", cpuModes{user: 1, idle: 1})
	c.disk("nvme0n1", diskVals{reads: 11000, writes: 5500, readBytes: 1e9 + 4e6, writtenBytes: 2e9 + 8e6, readTime: 22, writeTime: 16.5, ioTime: 106, weighted: 212})
	c.disk("sda", diskVals{reads: 300, writes: 110, readBytes: 3e6, writtenBytes: 1e6 + 40960, readTime: 3, writeTime: 1.05, ioTime: 4.02, weighted: 4.05})
	c.disk("sdb", diskVals{reads: 5, writes: 1, readBytes: 20480, writtenBytes: 4096, readTime: 0.01, writeTime: 0.001, ioTime: 0.01, weighted: 0.011})
	c.disk("sr0", diskVals{})
	c.net("eth0", netVals{rxBytes: 1e12 + 1.25e8, txBytes: 2e11 + 2.5e7, rxPackets: 1e9 + 1e5, txPackets: 5e8 + 5e4, rxErrs: 1, rxDrop: 12})
	c.net("lo", netVals{rxBytes: 5e6 + 1e4, txBytes: 5e6 + 1e4, rxPackets: 5e4 + 100, txPackets: 5e4 + 100})
	c.net("docker0", netVals{})
	c.net("veth1", netVals{rxBytes: 1000, txBytes: 2000, rxPackets: 10, txPackets: 20})
	return p.snap(), c.snap()
}

// Label sets of the NVML backend (internal/gpu/nvmlgpu) and the amdgpu
// collector, in their order.
var (
	dcgmLabelNames = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}
	upLabelNames   = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"}
	procLabelNames = []string{"gpu", "UUID", "pid", "command", "user", "container", "pod", "namespace", "slurm_job"}
)

// kv zips label names and values into builder.add's alternating form.
func kv(names []string, values ...string) []string {
	out := make([]string, 0, 2*len(names)+2)
	for i, n := range names {
		out = append(out, n, values[i])
	}
	return out
}

// nvGPU is one NVIDIA GPU as the NVML backend reports it.
type nvGPU struct {
	idx, uuid, model                           string
	util, used, free, temp, power, limit       float64 // %, MiB, MiB, °C, W, W
	sm, mem, pstate, tensor, smActive, memCopy float64 // MHz, MHz, P, ratio, ratio, %
	// reasons are the active clock-event reasons; every other reason of
	// clockEventReasons is emitted as 0.
	reasons []string
}

func (g nvGPU) labels() []string {
	return kv(dcgmLabelNames, g.idx, g.uuid, "00000000:"+g.idx+"0:00.0", "nvidia"+g.idx, g.model, "trainer-01", "550.54.15")
}

// nvml emits what the NVML backend emits for a GPU that answered.
func (b *builder) nvml(g nvGPU) *builder {
	l := g.labels()
	for _, x := range []struct {
		name string
		v    float64
	}{
		{"DCGM_FI_DEV_GPU_UTIL", g.util}, {"DCGM_FI_DEV_MEM_COPY_UTIL", g.memCopy},
		{"DCGM_FI_DEV_FB_USED", g.used}, {"DCGM_FI_DEV_FB_FREE", g.free},
		{"DCGM_FI_DEV_FB_TOTAL", g.used + g.free + 568}, {"DCGM_FI_DEV_FB_RESERVED", 568},
		{"DCGM_FI_DEV_GPU_TEMP", g.temp}, {"DCGM_FI_DEV_POWER_USAGE", g.power},
		{"DCGM_FI_DEV_POWER_MGMT_LIMIT", g.limit}, {"DCGM_FI_DEV_ENFORCED_POWER_LIMIT", g.limit},
		{"DCGM_FI_DEV_SM_CLOCK", g.sm}, {"DCGM_FI_DEV_MEM_CLOCK", g.mem}, {"DCGM_FI_DEV_PSTATE", g.pstate},
		{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", g.tensor}, {"DCGM_FI_PROF_SM_ACTIVE", g.smActive},
	} {
		b.add(x.name, x.v, l...)
	}
	var mask float64
	active := map[string]bool{}
	for _, r := range g.reasons {
		active[r] = true
	}
	for bit, r := range clockEventReasons {
		v := 0.0
		if active[r] {
			v = 1
			mask += float64(uint64(1) << bit)
		}
		b.add("trainwatch_gpu_clock_event_active", v, "gpu", g.idx, "UUID", g.uuid, "reason", r)
	}
	b.add("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", mask, l...)
	b.add("DCGM_FI_DEV_XID_ERRORS", 0, append(append([]string{}, l...), "err_code", "0", "err_msg", "No Error")...)
	b.add("trainwatch_gpu_up", 1, kv(upLabelNames, g.idx, g.uuid, "00000000:"+g.idx+"0:00.0", "nvidia"+g.idx, g.model, "trainer-01")...)
	return b
}

// lostGPU emits what the NVML backend emits for a GPU that fell off the bus.
func (b *builder) lostGPU(idx, uuid, model string) *builder {
	return b.add("trainwatch_gpu_up", 0, kv(upLabelNames, idx, uuid, "00000000:"+idx+"0:00.0", "nvidia"+idx, model, "trainer-01")...)
}

func (b *builder) xid(idx, uuid, xid string, n float64) *builder {
	return b.add("trainwatch_gpu_xid_events_total", n, "gpu", idx, "UUID", uuid, "xid", xid)
}

// proc is one process's series; sm < 0 leaves out its SM utilisation.
type proc struct {
	pid, command, user, container, pod, namespace, slurmJob string
	memory, sm                                              float64
}

func (b *builder) proc(idx, uuid string, p proc) *builder {
	l := kv(procLabelNames, idx, uuid, p.pid, p.command, p.user, p.container, p.pod, p.namespace, p.slurmJob)
	b.add("trainwatch_gpu_process_memory_bytes", p.memory, l...)
	if p.sm >= 0 {
		b.add("trainwatch_gpu_process_sm_utilization_percent", p.sm, l...)
	}
	return b
}

// amdGPU is one AMD GPU as the amdgpu collector reports it.
type amdGPU struct {
	idx, uuid, model                         string
	util, memBusy, used, total, power, limit float64 // %, %, bytes, bytes, W, W
	sclk, mclk                               float64 // Hz
	temps                                    map[string]float64
	up                                       float64 // trainwatch_gpu_up: 0 emits only identity
}

func (b *builder) amd(g amdGPU) *builder {
	pci := "0000:" + g.idx + "5:00.0"
	l := kv(upLabelNames, g.idx, g.uuid, pci, "card"+g.idx, g.model, "trainer-01")
	b.add("trainwatch_gpu_up", g.up, l...)
	b.add("trainwatch_gpu_info", 1, append(append([]string{}, l...), "vendor", "amd", "model", g.model, "driver", "amdgpu")...)
	if g.up == 0 {
		return b
	}
	b.add("trainwatch_gpu_utilization_percent", g.util, l...)
	b.add("trainwatch_gpu_memory_utilization_percent", g.memBusy, l...)
	b.add("trainwatch_gpu_memory_used_bytes", g.used, l...)
	b.add("trainwatch_gpu_memory_total_bytes", g.total, l...)
	b.add("trainwatch_gpu_power_watts", g.power, l...)
	b.add("trainwatch_gpu_power_limit_watts", g.limit, l...)
	b.add("trainwatch_gpu_clock_hertz", g.sclk, append(append([]string{}, l...), "clock", "sm")...)
	b.add("trainwatch_gpu_clock_hertz", g.mclk, append(append([]string{}, l...), "clock", "memory")...)
	for s, t := range g.temps {
		b.add("trainwatch_gpu_temperature_celsius", t, append(append([]string{}, l...), "sensor", s)...)
	}
	return b
}

// gpuSnapshot is a training machine with four NVIDIA GPUs (one throttled
// by its power cap, one thermally throttled with XIDs, one lost, one idle)
// and an AMD GPU, twelve processes among them, in demo mode.
func gpuSnapshot() *collector.Snapshot { return gpuBuilder().snap() }

// gpuBuilder is gpuSnapshot's builder, for fixtures that add to it.
func gpuBuilder() *builder {
	const h200 = "NVIDIA H200 141GB HBM3e"
	b := newBuilder(t0)
	b.add("node_uname_info", 1, "machine", "x86_64", "nodename", "trainer-01", "release", "6.8.0-45-generic")
	b.add("trainwatch_demo", 1, "scenario", "8x H200 training (simulated)")
	b.add("trainwatch_gpu_backend_up", 1, "backend", "nvml")
	b.nvml(nvGPU{idx: "0", uuid: "GPU-0000", model: h200, util: 99, used: 130000, free: 13304, temp: 78, power: 698.6, limit: 700,
		sm: 1755, mem: 2619, tensor: 0.61234, smActive: 0.91, memCopy: 45, reasons: []string{"sw_power_cap"}})
	b.nvml(nvGPU{idx: "1", uuid: "GPU-1111", model: h200, util: 64, used: 120000, free: 23304, temp: 91, power: 402, limit: 700,
		sm: 1200, mem: 2619, tensor: 0.3, smActive: 0.5, memCopy: 20, reasons: []string{"hw_thermal_slowdown", "gpu_idle", "sw_thermal_slowdown"}})
	b.xid("1", "GPU-1111", "13", 2).xid("1", "GPU-1111", "48", 1)
	b.lostGPU("2", "GPU-2222", h200)
	b.xid("2", "GPU-2222", "79", 1)
	b.nvml(nvGPU{idx: "3", uuid: "GPU-3333", model: h200, used: 512, free: 142792, temp: 34, power: 72.4, limit: 700,
		sm: 345, mem: 2619, pstate: 8, reasons: []string{"gpu_idle"}})
	b.amd(amdGPU{idx: "9", uuid: "0x5d1c2a3b4c5d6e7f", model: "AMD Instinct MI300X OAM", util: 87, memBusy: 31,
		used: 150 * gib, total: 192 * gib, power: 612, limit: 750, sclk: 2.1e9, mclk: 1.3e9,
		temps: map[string]float64{"junction": 71, "mem": 64}, up: 1})
	for i, p := range []proc{
		{"4100", "/usr/bin/python3", "alice", "3f2a1b4c5d6e", "9b1c0e52-3d4f-4a5b-8c6d-7e8f9a0b1c2d", "research", "", 120e9, 91},
		{"4101", "pt_data_worker", "alice", "3f2a1b4c5d6e", "9b1c0e52-3d4f-4a5b-8c6d-7e8f9a0b1c2d", "research", "", 2e9, 0},
		{"5200", "python train.py --config configs/llama-70b-finetune-long-context.yaml", "bob", "", "", "", "81234", 110e9, 63},
		{"5201", "nvidia-cuda-mps-server", "root", "", "", "", "", 0.5e9, -1},
	} {
		b.proc([]string{"0", "0", "1", "1"}[i], []string{"GPU-0000", "GPU-0000", "GPU-1111", "GPU-1111"}[i], p)
	}
	for i := 0; i < 6; i++ {
		b.proc("3", "GPU-3333", proc{pid: fmt.Sprint(7000 + i), command: "jupyter-kernel", user: "carol", memory: float64((i + 1) * 64 << 20), sm: 0})
	}
	amdProcs := []proc{
		{"9100", "pt_main_thread", "dave", "", "", "", "", 140e9, -1},
		{"9101", "rocm-smi", "dave", "", "", "", "", 0, -1},
	}
	for _, p := range amdProcs {
		l := kv(procLabelNames, "9", "0x5d1c2a3b4c5d6e7f", p.pid, p.command, p.user, p.container, p.pod, p.namespace, p.slurmJob)
		b.add("trainwatch_gpu_process_memory_bytes", p.memory, l...)
		b.add("trainwatch_gpu_process_utilization_percent", 0, l...)
	}
	b.collector("gpu", "").collector("amdgpu", "")
	return b
}

// noGPUSnapshot is a machine without the NVIDIA driver.
func noGPUSnapshot() *collector.Snapshot {
	return newBuilder(t0).
		add("trainwatch_gpu_backend_up", 0, "backend", "nvml").
		collector("gpu", "no data on this machine: NVML library libnvidia-ml.so.1 not found: no NVIDIA driver installed (install the NVIDIA driver)").
		collector("amdgpu", "amdgpu: no GPU bound to the amdgpu driver under /sys/class/drm: no data on this machine").
		snap()
}

// promSnapshot reads a Prometheus text exposition into a snapshot.
func promSnapshot(t *testing.T, path string, at time.Time) *collector.Snapshot {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	b := newBuilder(at)
	for _, n := range names {
		for _, m := range fams[n].GetMetric() {
			lp := m.GetLabel()
			sort.Slice(lp, func(i, j int) bool { return lp[i].GetName() < lp[j].GetName() })
			var l []string
			for _, x := range lp {
				l = append(l, x.GetName(), x.GetValue())
			}
			var v float64
			switch {
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			default:
				v = m.GetUntyped().GetValue()
			}
			b.add(n, v, l...)
		}
	}
	return b.collector("gpu", "").snap()
}
