package summary

import (
	"time"

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
