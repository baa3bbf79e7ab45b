package summary

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// Compute summarises cur. When prev is non-nil and older than cur, rates
// are computed over the interval between them; otherwise RatesAvailable is
// false and every rate is 0. Compute returns nil when cur is nil. Values
// that are NaN or infinite are treated as missing, so the result always
// encodes as JSON.
func Compute(prev, cur *collector.Snapshot) *Host {
	if cur == nil {
		return nil
	}
	h := &Host{
		Time:                cur.Time.UTC(),
		Filesystems:         []Filesystem{},
		Disks:               []Disk{},
		Network:             []Interface{},
		Temperatures:        []Temperature{},
		TCPConnectionStates: map[string]uint64{},
		GPUBackends:         []GPUBackend{},
		GPUs:                []GPU{},
		Processes:           []Process{},
		Jobs:                []Job{},
		Collectors:          []CollectorStatus{},
	}
	c := rateCtx{cur: newView(cur)}
	if prev != nil {
		if dt := cur.Time.Sub(prev.Time).Seconds(); dt > 0 {
			c.prev = newView(prev)
			c.dt = dt
			h.RatesAvailable = true
			h.IntervalSeconds = dt
		}
	}

	computeIdentity(h, c.cur, cur.Time)
	computeCPU(h, c)
	computeMemory(h, c.cur)
	computeFilesystems(h, c.cur)
	computeDisks(h, c)
	computeNetwork(h, c)
	computeTemperatures(h, c.cur)
	for _, s := range c.cur.samples("node_tcp_connection_states", "state") {
		// node_exporter puts the queue sums (rx_queued_bytes,
		// tx_queued_bytes) in the same family; they are not states.
		if strings.HasSuffix(s.labels[0], "_queued_bytes") {
			continue
		}
		h.TCPConnectionStates[s.labels[0]] = toUint(s.value)
	}
	computeDemo(h, c.cur)
	computeGPUBackends(h, c.cur)
	computeGPUs(h, c.cur)
	computeProcesses(h, c.cur)
	computeJobs(h, c.cur)
	for _, st := range cur.Collectors {
		h.Collectors = append(h.Collectors, CollectorStatus{Name: st.Name, Success: st.Success, Error: st.Error, NoData: st.NoData})
	}
	sort.SliceStable(h.Collectors, func(i, j int) bool { return naturalLess(h.Collectors[i].Name, h.Collectors[j].Name) })
	roundHost(h)
	roundJobs(h)
	return h
}

// Rounding applied to the computed values, as a power of ten to scale by:
// the summary is for reading and logging, and 55.00000000000001 % or
// 399999.99999999994 B/s help no one.
const (
	percentScale = 100  // 0.01 %
	rateScale    = 1000 // 0.001 per second, 0.001 for queue depth
	latencyScale = 1e9  // 1 ns
	secondsScale = 1000 // 1 ms for uptime and interval
)

// round rounds v to 1/scale; the result is the double nearest to that
// decimal, so it encodes briefly.
func round(v, scale float64) float64 { return math.Round(v*scale) / scale }

// roundHost rounds every computed value of h in one place, so that the
// formulas above stay exact.
func roundHost(h *Host) {
	h.UptimeSeconds = round(h.UptimeSeconds, secondsScale)
	h.IntervalSeconds = round(h.IntervalSeconds, secondsScale)
	h.CPU.BusyPercent = round(h.CPU.BusyPercent, percentScale)
	for m, v := range h.CPU.ModesPercent {
		h.CPU.ModesPercent[m] = round(v, percentScale)
	}
	for i := range h.CPU.Cores {
		h.CPU.Cores[i].BusyPercent = round(h.CPU.Cores[i].BusyPercent, percentScale)
	}
	m := &h.Memory
	m.UsedPercent = round(m.UsedPercent, percentScale)
	m.SwapUsedPercent = round(m.SwapUsedPercent, percentScale)
	for i := range h.Filesystems {
		fs := &h.Filesystems[i]
		fs.UsedPercent = round(fs.UsedPercent, percentScale)
		fs.InodesUsedPercent = round(fs.InodesUsedPercent, percentScale)
	}
	for i := range h.Disks {
		d := &h.Disks[i]
		for _, p := range []*float64{&d.ReadBytesPerSecond, &d.WriteBytesPerSecond, &d.ReadOpsPerSecond, &d.WriteOpsPerSecond, &d.QueueDepth} {
			*p = round(*p, rateScale)
		}
		d.ReadLatencySeconds = round(d.ReadLatencySeconds, latencyScale)
		d.WriteLatencySeconds = round(d.WriteLatencySeconds, latencyScale)
		d.UtilizationPercent = round(d.UtilizationPercent, percentScale)
	}
	for i := range h.Network {
		n := &h.Network[i]
		for _, p := range []*float64{&n.ReceiveBytesPerSecond, &n.TransmitBytesPerSecond, &n.ReceivePacketsPerSecond,
			&n.TransmitPacketsPerSecond, &n.ReceiveErrorsPerSecond, &n.TransmitErrorsPerSecond,
			&n.ReceiveDropsPerSecond, &n.TransmitDropsPerSecond} {
			*p = round(*p, rateScale)
		}
	}
	for i := range h.GPUs {
		g := &h.GPUs[i]
		for _, p := range []*float64{g.MemoryUsedPercent, g.TensorActivePercent, g.SMActivePercent} {
			if p != nil {
				*p = round(*p, percentScale)
			}
		}
		for j := range g.Processes {
			for _, p := range []*float64{g.Processes[j].SMUtilizationPercent, g.Processes[j].UtilizationPercent} {
				if p != nil {
					*p = round(*p, percentScale)
				}
			}
		}
	}
}

// rateCtx carries the two snapshots and the interval between them. prev is
// nil when rates cannot be computed.
type rateCtx struct {
	cur, prev *view
	dt        float64
}

// view indexes a snapshot's families by name.
type view struct {
	snap *collector.Snapshot
}

func newView(s *collector.Snapshot) *view { return &view{snap: s} }

// labelled is one sample's selected label values and its value.
type labelled struct {
	labels []string
	value  float64
}

// samples returns the finite samples of family name with the values of the
// given labels, in the family's order.
func (v *view) samples(name string, labels ...string) []labelled {
	if v == nil {
		return nil
	}
	f := v.snap.Family(name)
	if f == nil {
		return nil
	}
	out := make([]labelled, 0, len(f.Samples))
	for i, s := range f.Samples {
		if !finite(s.Value) {
			continue
		}
		lv := make([]string, len(labels))
		for j, l := range labels {
			lv[j] = f.Label(i, l)
		}
		out = append(out, labelled{labels: lv, value: s.Value})
	}
	return out
}

// byLabel returns family name's finite values keyed by one label.
func (v *view) byLabel(name, label string) map[string]float64 {
	ss := v.samples(name, label)
	if ss == nil {
		return nil
	}
	m := make(map[string]float64, len(ss))
	for _, s := range ss {
		m[s.labels[0]] = s.value
	}
	return m
}

// scalar returns the value of a family's first finite sample.
func (v *view) scalar(name string) (float64, bool) {
	ss := v.samples(name)
	if len(ss) == 0 {
		return 0, false
	}
	return ss[0].value, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// toUint converts a gauge or counter value to a byte or item count,
// clamping negatives and non-finite values to 0.
func toUint(v float64) uint64 {
	if !finite(v) || v <= 0 {
		return 0
	}
	if v >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(math.Round(v))
}

func clamp(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, v))
}

// percent returns 100 × num / den, or 0 when den is not positive.
func percent(num, den float64) float64 {
	if den <= 0 {
		return 0
	}
	return 100 * num / den
}

func computeIdentity(h *Host, v *view, t time.Time) {
	if ss := v.samples("node_uname_info", "nodename", "release", "machine"); len(ss) > 0 {
		h.Hostname, h.Kernel, h.Machine = ss[0].labels[0], ss[0].labels[1], ss[0].labels[2]
	}
	if boot, ok := v.scalar("node_boot_time_seconds"); ok && boot > 0 {
		up := float64(t.Unix()) - boot + float64(t.Nanosecond())/1e9
		if up > 0 {
			h.UptimeSeconds = up
		}
	}
}

// idleModes are the modes that count as not busy: iowait is time a CPU
// had nothing to run while waiting for I/O.
func idleMode(mode string) bool { return mode == "idle" || mode == "iowait" }

func cpuTimes(v *view) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, s := range v.samples("node_cpu_seconds_total", "cpu", "mode") {
		m := out[s.labels[0]]
		if m == nil {
			m = map[string]float64{}
			out[s.labels[0]] = m
		}
		m[s.labels[1]] = s.value
	}
	return out
}

func computeCPU(h *Host, c rateCtx) {
	cpu := &h.CPU
	cpu.ModesPercent = map[string]float64{}
	cpu.Cores = []Core{}
	cur := cpuTimes(c.cur)
	var prev map[string]map[string]float64
	if c.prev != nil {
		prev = cpuTimes(c.prev)
	}
	names := make([]string, 0, len(cur))
	for name := range cur {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	cpu.Count = len(names)

	sum := map[string]float64{}
	var sumTotal float64
	for _, name := range names {
		core := Core{CPU: name}
		if p, ok := prev[name]; ok {
			// A mode going backwards is clamped to 0: the kernel's iowait
			// counter is known to decrease slightly on some kernels.
			d := map[string]float64{}
			var total, idle float64
			for mode, v := range cur[name] {
				pv, ok := p[mode]
				if !ok {
					continue
				}
				dv := math.Max(0, v-pv)
				d[mode] = dv
				total += dv
				if idleMode(mode) {
					idle += dv
				}
			}
			if total > 0 {
				core.RatesAvailable = true
				core.BusyPercent = clamp(100*(1-idle/total), 0, 100)
				for mode, dv := range d {
					sum[mode] += dv
				}
				sumTotal += total
			}
		}
		cpu.Cores = append(cpu.Cores, core)
	}
	if sumTotal > 0 {
		cpu.RatesAvailable = true
		var idle float64
		for mode, dv := range sum {
			cpu.ModesPercent[mode] = 100 * dv / sumTotal
			if idleMode(mode) {
				idle += dv
			}
		}
		cpu.BusyPercent = clamp(100*(1-idle/sumTotal), 0, 100)
	}
	cpu.Load1, _ = c.cur.scalar("node_load1")
	cpu.Load5, _ = c.cur.scalar("node_load5")
	cpu.Load15, _ = c.cur.scalar("node_load15")
	r, _ := c.cur.scalar("node_procs_running")
	b, _ := c.cur.scalar("node_procs_blocked")
	cpu.ProcsRunning, cpu.ProcsBlocked = toUint(r), toUint(b)
}

func computeMemory(h *Host, v *view) {
	get := func(name string) (float64, bool) { return v.scalar("node_memory_" + name + "_bytes") }
	total, _ := get("MemTotal")
	free, _ := get("MemFree")
	buffers, _ := get("Buffers")
	cached, _ := get("Cached")
	avail, ok := get("MemAvailable")
	if !ok {
		// Kernels before 3.14 have no MemAvailable; this is free's estimate.
		avail = free + buffers + cached
	}
	avail = clamp(avail, 0, math.Max(total, 0))
	m := &h.Memory
	m.TotalBytes = toUint(total)
	m.AvailableBytes = toUint(avail)
	m.UsedBytes = toUint(total - avail)
	m.FreeBytes = toUint(free)
	m.BuffersBytes = toUint(buffers)
	m.CachedBytes = toUint(cached)
	m.UsedPercent = clamp(percent(total-avail, total), 0, 100)

	swapTotal, _ := get("SwapTotal")
	swapFree, _ := get("SwapFree")
	swapFree = clamp(swapFree, 0, math.Max(swapTotal, 0))
	m.SwapTotalBytes = toUint(swapTotal)
	m.SwapFreeBytes = toUint(swapFree)
	m.SwapUsedBytes = toUint(swapTotal - swapFree)
	m.SwapUsedPercent = clamp(percent(swapTotal-swapFree, swapTotal), 0, 100)
}

type fsKey struct{ mountpoint, device, fstype string }

func computeFilesystems(h *Host, v *view) {
	fss := map[fsKey]*Filesystem{}
	get := func(k fsKey) *Filesystem {
		fs := fss[k]
		if fs == nil {
			fs = &Filesystem{Mountpoint: k.mountpoint, Device: k.device, FSType: k.fstype}
			fss[k] = fs
		}
		return fs
	}
	type fsVals struct{ size, avail, free, files, filesFree float64 }
	vals := map[fsKey]*fsVals{}
	for _, name := range []string{"size_bytes", "avail_bytes", "free_bytes", "files", "files_free", "readonly", "device_error"} {
		for _, s := range v.samples("node_filesystem_"+name, "mountpoint", "device", "fstype", "device_error") {
			k := fsKey{s.labels[0], s.labels[1], s.labels[2]}
			fs := get(k)
			if s.labels[3] != "" {
				fs.Error = s.labels[3]
			}
			fv := vals[k]
			if fv == nil {
				fv = &fsVals{}
				vals[k] = fv
			}
			switch name {
			case "size_bytes":
				fv.size = s.value
			case "avail_bytes":
				fv.avail = s.value
			case "free_bytes":
				fv.free = s.value
			case "files":
				fv.files = s.value
			case "files_free":
				fv.filesFree = s.value
			case "readonly":
				fs.Readonly = s.value == 1
			case "device_error":
				if s.value == 1 && fs.Error == "" {
					fs.Error = "device error"
				}
			}
		}
	}
	for k, fs := range fss {
		fv := vals[k]
		size := math.Max(fv.size, 0)
		avail := clamp(fv.avail, 0, size)
		fs.SizeBytes = toUint(size)
		fs.AvailBytes = toUint(avail)
		fs.FreeBytes = toUint(fv.free)
		fs.UsedBytes = toUint(size - avail)
		fs.UsedPercent = clamp(percent(size-avail, size), 0, 100)
		files := math.Max(fv.files, 0)
		filesFree := clamp(fv.filesFree, 0, files)
		fs.InodesTotal = toUint(files)
		fs.InodesFree = toUint(filesFree)
		fs.InodesUsed = toUint(files - filesFree)
		fs.InodesUsedPercent = clamp(percent(files-filesFree, files), 0, 100)
		h.Filesystems = append(h.Filesystems, *fs)
	}
	sort.Slice(h.Filesystems, func(i, j int) bool {
		a, b := h.Filesystems[i], h.Filesystems[j]
		if a.Mountpoint != b.Mountpoint {
			return naturalLess(a.Mountpoint, b.Mountpoint)
		}
		if a.Device != b.Device {
			return naturalLess(a.Device, b.Device)
		}
		return a.FSType < b.FSType
	})
}

// counters holds, for one device, the values of several counter families
// in one snapshot, indexed like the names passed to deviceCounters.
type counters struct {
	v  []float64
	ok []bool
}

// deviceCounters reads the given counter families keyed by their device
// label.
func deviceCounters(v *view, names []string) map[string]*counters {
	out := map[string]*counters{}
	if v == nil {
		return out
	}
	for i, name := range names {
		for _, s := range v.samples(name, "device") {
			c := out[s.labels[0]]
			if c == nil {
				c = &counters{v: make([]float64, len(names)), ok: make([]bool, len(names))}
				out[s.labels[0]] = c
			}
			c.v[i], c.ok[i] = s.value, true
		}
	}
	return out
}

// deltas returns cur − prev for each counter. A counter missing from
// either snapshot has delta 0. ok is false when the device is not in prev
// or any counter went backwards (a reset): its rates are then unknown.
func deltas(prev, cur *counters) (d []float64, ok bool) {
	if prev == nil || cur == nil {
		return nil, false
	}
	d = make([]float64, len(cur.v))
	for i := range cur.v {
		if !cur.ok[i] || !prev.ok[i] {
			continue
		}
		if cur.v[i] < prev.v[i] {
			return nil, false
		}
		d[i] = cur.v[i] - prev.v[i]
	}
	return d, true
}

// diskCounterNames are the diskstats counters a Disk is computed from,
// indexed by the d* constants.
func diskCounterNames() []string {
	return []string{
		"node_disk_reads_completed_total",
		"node_disk_writes_completed_total",
		"node_disk_read_bytes_total",
		"node_disk_written_bytes_total",
		"node_disk_read_time_seconds_total",
		"node_disk_write_time_seconds_total",
		"node_disk_io_time_seconds_total",
		"node_disk_io_time_weighted_seconds_total",
	}
}

const (
	dReads = iota
	dWrites
	dReadBytes
	dWrittenBytes
	dReadTime
	dWriteTime
	dIOTime
	dWeighted
)

func computeDisks(h *Host, c rateCtx) {
	names := diskCounterNames()
	cur := deviceCounters(c.cur, names)
	prev := deviceCounters(c.prev, names)
	for dev, cc := range cur {
		// A device that has completed no I/O since boot (an empty card
		// reader, an unused optical drive) is left out.
		if cc.ok[dReads] && cc.ok[dWrites] && cc.v[dReads] == 0 && cc.v[dWrites] == 0 {
			continue
		}
		d := Disk{
			Device:               dev,
			ReadBytesTotal:       toUint(cc.v[dReadBytes]),
			WrittenBytesTotal:    toUint(cc.v[dWrittenBytes]),
			ReadsCompletedTotal:  toUint(cc.v[dReads]),
			WritesCompletedTotal: toUint(cc.v[dWrites]),
		}
		if c.prev != nil {
			if dv, ok := deltas(prev[dev], cc); ok {
				d.RatesAvailable = true
				d.ReadBytesPerSecond = dv[dReadBytes] / c.dt
				d.WriteBytesPerSecond = dv[dWrittenBytes] / c.dt
				d.ReadOpsPerSecond = dv[dReads] / c.dt
				d.WriteOpsPerSecond = dv[dWrites] / c.dt
				if dv[dReads] > 0 {
					d.ReadLatencySeconds = dv[dReadTime] / dv[dReads]
				}
				if dv[dWrites] > 0 {
					d.WriteLatencySeconds = dv[dWriteTime] / dv[dWrites]
				}
				d.UtilizationPercent = clamp(100*dv[dIOTime]/c.dt, 0, 100)
				d.QueueDepth = dv[dWeighted] / c.dt
			}
		}
		h.Disks = append(h.Disks, d)
	}
	sort.Slice(h.Disks, func(i, j int) bool { return naturalLess(h.Disks[i].Device, h.Disks[j].Device) })
}

// netCounterNames are the netdev counters an Interface is computed from,
// indexed by the n* constants.
func netCounterNames() []string {
	return []string{
		"node_network_receive_bytes_total",
		"node_network_transmit_bytes_total",
		"node_network_receive_packets_total",
		"node_network_transmit_packets_total",
		"node_network_receive_errs_total",
		"node_network_transmit_errs_total",
		"node_network_receive_drop_total",
		"node_network_transmit_drop_total",
	}
}

const (
	nRxBytes = iota
	nTxBytes
	nRxPackets
	nTxPackets
	nRxErrs
	nTxErrs
	nRxDrop
	nTxDrop
)

func computeNetwork(h *Host, c rateCtx) {
	names := netCounterNames()
	cur := deviceCounters(c.cur, names)
	prev := deviceCounters(c.prev, names)
	up := c.cur.byLabel("node_network_up", "device")
	speed := c.cur.byLabel("node_network_speed_bytes", "device")
	devs := map[string]bool{}
	for d := range cur {
		devs[d] = true
	}
	for d := range up {
		devs[d] = true
	}
	for d := range speed {
		devs[d] = true
	}
	for dev := range devs {
		ifc := Interface{Device: dev}
		if u, ok := up[dev]; ok {
			b := u == 1
			ifc.Up = &b
		}
		// Interfaces without a known speed report -1 Mb/s, which
		// node_exporter scales to a negative value.
		if s, ok := speed[dev]; ok && s > 0 {
			v := toUint(s)
			ifc.SpeedBytesPerSecond = &v
		}
		if cc := cur[dev]; cc != nil {
			ifc.ReceiveBytesTotal = toUint(cc.v[nRxBytes])
			ifc.TransmitBytesTotal = toUint(cc.v[nTxBytes])
			if dv, ok := deltas(prev[dev], cc); ok && c.prev != nil {
				ifc.RatesAvailable = true
				ifc.ReceiveBytesPerSecond = dv[nRxBytes] / c.dt
				ifc.TransmitBytesPerSecond = dv[nTxBytes] / c.dt
				ifc.ReceivePacketsPerSecond = dv[nRxPackets] / c.dt
				ifc.TransmitPacketsPerSecond = dv[nTxPackets] / c.dt
				ifc.ReceiveErrorsPerSecond = dv[nRxErrs] / c.dt
				ifc.TransmitErrorsPerSecond = dv[nTxErrs] / c.dt
				ifc.ReceiveDropsPerSecond = dv[nRxDrop] / c.dt
				ifc.TransmitDropsPerSecond = dv[nTxDrop] / c.dt
			}
		}
		h.Network = append(h.Network, ifc)
	}
	sort.Slice(h.Network, func(i, j int) bool { return naturalLess(h.Network[i].Device, h.Network[j].Device) })
}

type sensorKey struct{ chip, sensor string }

func computeTemperatures(h *Host, v *view) {
	chipNames := map[string]string{}
	for _, s := range v.samples("node_hwmon_chip_names", "chip", "chip_name") {
		chipNames[s.labels[0]] = s.labels[1]
	}
	labels := map[sensorKey]string{}
	for _, s := range v.samples("node_hwmon_sensor_label", "chip", "sensor", "label") {
		labels[sensorKey{s.labels[0], s.labels[1]}] = s.labels[2]
	}
	limit := func(name string) map[sensorKey]float64 {
		m := map[sensorKey]float64{}
		for _, s := range v.samples(name, "chip", "sensor") {
			m[sensorKey{s.labels[0], s.labels[1]}] = s.value
		}
		return m
	}
	maxes := limit("node_hwmon_temp_max_celsius")
	crits := limit("node_hwmon_temp_crit_celsius")
	for _, s := range v.samples("node_hwmon_temp_celsius", "chip", "sensor") {
		k := sensorKey{s.labels[0], s.labels[1]}
		t := Temperature{
			Source:   SourceHwmon,
			Chip:     k.chip,
			ChipName: chipNames[k.chip],
			Sensor:   k.sensor,
			Label:    labels[k],
			Celsius:  s.value,
		}
		if t.ChipName == "" {
			t.ChipName = k.chip
		}
		// Drivers report 0 for a limit they do not know.
		if m, ok := maxes[k]; ok && m > 0 {
			t.MaxCelsius = &m
		}
		if cr, ok := crits[k]; ok && cr > 0 {
			t.CritCelsius = &cr
		}
		h.Temperatures = append(h.Temperatures, t)
	}
	for _, s := range v.samples("node_thermal_zone_temp", "zone", "type") {
		h.Temperatures = append(h.Temperatures, Temperature{
			Source:   SourceThermalZone,
			Chip:     "thermal_zone" + s.labels[0],
			ChipName: "thermal_zone",
			Sensor:   s.labels[0],
			Label:    s.labels[1],
			Celsius:  s.value,
		})
	}
	sort.Slice(h.Temperatures, func(i, j int) bool {
		a, b := h.Temperatures[i], h.Temperatures[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.Chip != b.Chip {
			return naturalLess(a.Chip, b.Chip)
		}
		return naturalLess(a.Sensor, b.Sensor)
	})
}

// naturalLess orders strings with embedded numbers by their numeric value:
// "cpu2" < "cpu10", "nvme0n1" < "nvme1n1", "temp9" < "temp10".
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		ad, bd := isDigit(a[0]), isDigit(b[0])
		switch {
		case ad && bd:
			an, arest := digitRun(a)
			bn, brest := digitRun(b)
			at, bt := strings.TrimLeft(an, "0"), strings.TrimLeft(bn, "0")
			if len(at) != len(bt) {
				return len(at) < len(bt)
			}
			if at != bt {
				return at < bt
			}
			if len(an) != len(bn) {
				return len(an) < len(bn)
			}
			a, b = arest, brest
		case a[0] != b[0]:
			return a[0] < b[0]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
