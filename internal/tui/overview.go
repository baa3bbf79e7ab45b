package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/trainwatch/trainwatch/internal/summary"
)

// label is a section's name in the overview's first column.
func (m *Model) label(s string) string { return m.st.title.on(pad(s, 5)) }

// overviewPanel fits the essentials of every panel on one screen: each
// GPU on a line, CPU, memory, runs, alerts, disks, filesystems, network,
// temperatures and failing collectors; then, as room allows, the training
// jobs and the busiest processes.
func (m *Model) overviewPanel(l layout) []string {
	h := m.payload.Host
	bw := 8
	switch {
	case l.w >= 160:
		bw = 16
	case l.w >= 110:
		bw = 12
	}
	var lines []string
	if len(h.GPUs) == 0 {
		lines = append(lines, m.label("GPU")+" "+m.st.warn.on(m.noGPUText()+" (2 GPUs says why)"))
	} else {
		lines = append(lines, m.st.title.on(gpuHeaderRow(bw)))
		for i := range h.GPUs {
			lines = append(lines, m.gpuRow(&h.GPUs[i], l.w, bw, !l.compact))
		}
	}
	lines = append(lines, m.cpuLine(h, bw, l), m.memLine(h, bw, l))
	lines = append(lines, m.runLines(l, 2)...)
	lines = append(lines, m.alertLines(l, 2)...)
	lines = append(lines, m.diskLine(h), m.fsLine(h), m.netLine(h), m.tempLine(h))
	lines = append(lines, m.problemLines(h)...)
	// What room is left goes to the training jobs and the busiest
	// processes.
	if n := len(h.Jobs); n > 0 && l.h-len(lines) >= n+2 {
		lines = append(lines, "", m.st.title.on("TRAINING JOBS"))
		lines = append(lines, m.jobLines(h.Jobs, l.w)...)
	}
	if room := l.h - len(lines) - 3; len(h.Processes) > 0 && room >= 3 {
		lines = append(lines, "", m.st.title.on("TOP PROCESSES (by CPU; 7 lists them all)"))
		lines = append(lines, m.hostProcLines(h.Processes, min(room, 10), l.w)...)
	}
	return lines
}

func (m *Model) cpuLine(h *summary.Host, bw int, l layout) string {
	c := h.CPU
	s := m.label("CPU") + " "
	if c.RatesAvailable {
		s += padLeft(fmtPct(c.BusyPercent), 4) + " " + m.st.pct(bar(c.BusyPercent, bw), c.BusyPercent)
	} else {
		s += padLeft("-", 4) + " " + pad("(rates next tick)", bw)
	}
	s += fmt.Sprintf(" %d cores  load %.2f %.2f %.2f  run %d blk %d", c.Count, c.Load1, c.Load5, c.Load15, c.ProcsRunning, c.ProcsBlocked)
	return m.withSpark(s, keyCPU, l, 0, 100, m.st.accent)
}

func (m *Model) memLine(h *summary.Host, bw int, l layout) string {
	mem := h.Memory
	s := m.label("MEM") + " " + padLeft(fmtPct(mem.UsedPercent), 4) + " " + m.st.pct(bar(mem.UsedPercent, bw), mem.UsedPercent) +
		" " + fmtU(mem.UsedBytes) + "/" + fmtU(mem.TotalBytes)
	if mem.SwapTotalBytes > 0 {
		s += "  swap " + fmtPct(mem.SwapUsedPercent) + " " + fmtU(mem.SwapUsedBytes) + "/" + fmtU(mem.SwapTotalBytes)
	} else {
		s += "  no swap"
	}
	return m.withSpark(s, keyMem, l, 0, 100, m.st.info)
}

// withSpark ends s with key's sparkline in the room left (not in compact
// layouts).
func (m *Model) withSpark(s, key string, l layout, lo, hi float64, p paint) string {
	rest := l.w - width(s) - 2
	if l.compact || rest < 10 {
		return s
	}
	sw := min(rest, 60)
	return s + "  " + p.on(sparkline(m.hist.last(key, sw), sw, lo, hi))
}

func (m *Model) diskLine(h *summary.Host) string {
	s := m.label("DISK")
	if len(h.Disks) == 0 {
		return s + " " + m.st.dim.on("no block devices")
	}
	for _, d := range h.Disks {
		s += fmt.Sprintf(" %s r %s w %s", d.Device, fmtRate(d.ReadBytesPerSecond), fmtRate(d.WriteBytesPerSecond))
		if d.UtilizationPercent > 0 {
			s += " " + fmtPct(d.UtilizationPercent)
		}
		s += " ·"
	}
	return strings.TrimSuffix(s, " ·")
}

func (m *Model) fsLine(h *summary.Host) string {
	s := m.label("FS")
	if len(h.Filesystems) == 0 {
		return s + " " + m.st.dim.on("no filesystems")
	}
	// The root first, then the fullest.
	fss := append([]summary.Filesystem(nil), h.Filesystems...)
	sort.SliceStable(fss, func(i, j int) bool {
		if (fss[i].Mountpoint == "/") != (fss[j].Mountpoint == "/") {
			return fss[i].Mountpoint == "/"
		}
		return fss[i].UsedPercent > fss[j].UsedPercent
	})
	for _, f := range fss {
		if f.Error != "" {
			s += " " + f.Mountpoint + " " + m.st.crit.on("error") + " ·"
			continue
		}
		s += fmt.Sprintf(" %s %s of %s ·", f.Mountpoint, m.st.level(fmtPct(f.UsedPercent), f.UsedPercent, 80, 90), fmtU(f.SizeBytes))
	}
	return strings.TrimSuffix(s, " ·")
}

func (m *Model) netLine(h *summary.Host) string {
	s := m.label("NET")
	n := 0
	for _, i := range h.Network {
		if i.Device == "lo" {
			continue
		}
		s += fmt.Sprintf(" %s ↓%s ↑%s ·", i.Device, fmtRate(i.ReceiveBytesPerSecond), fmtRate(i.TransmitBytesPerSecond))
		n++
	}
	if n == 0 {
		return s + " " + m.st.dim.on("no interfaces")
	}
	return strings.TrimSuffix(s, " ·")
}

func (m *Model) tempLine(h *summary.Host) string {
	s := m.label("TEMP")
	var parts []string
	if t := hottest(h.Temperatures, "coretemp", "k10temp", "zenpower", "x86_pkg_temp"); t != nil {
		parts = append(parts, "CPU "+m.st.temp(fmt.Sprintf("%.0f°C", t.Celsius), t.Celsius))
	}
	if t := hottest(h.Temperatures, "nvme"); t != nil {
		parts = append(parts, "NVMe "+m.st.temp(fmt.Sprintf("%.0f°C", t.Celsius), t.Celsius))
	}
	lo, hi, n := 1e9, -1e9, 0
	for _, g := range h.GPUs {
		if v, ok := val(g.TemperatureCelsius); ok {
			lo, hi, n = min(lo, v), max(hi, v), n+1
		}
	}
	if n > 0 {
		parts = append(parts, fmt.Sprintf("GPUs %.0f–%s", lo, m.st.temp(fmt.Sprintf("%.0f°C", hi), hi)))
	}
	if len(h.Temperatures) == 0 {
		parts = append(parts, m.st.dim.on("no host sensors (see 6 Sensors)"))
	} else if len(parts) == 0 || (len(parts) == 1 && n > 0) {
		t := hottest(h.Temperatures)
		parts = append(parts, fmt.Sprintf("hottest %s %s", sensorName(t), m.st.temp(fmt.Sprintf("%.0f°C", t.Celsius), t.Celsius)))
	}
	return s + " " + strings.Join(parts, "  ")
}

// hottest is the hottest sensor of the given chips (any chip when none
// are named), nil when there is none.
func hottest(ts []summary.Temperature, chips ...string) *summary.Temperature {
	var best *summary.Temperature
	for i := range ts {
		t := &ts[i]
		if len(chips) > 0 && !contains(chips, t.ChipName) && !contains(chips, t.Label) {
			continue
		}
		if best == nil || t.Celsius > best.Celsius {
			best = t
		}
	}
	return best
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sensorName is "coretemp Package id 0" or "thermal_zone0 x86_pkg_temp".
func sensorName(t *summary.Temperature) string {
	label := t.Label
	if label == "" {
		label = t.Sensor
	}
	return t.ChipName + " " + label
}

// problemLines name each collector that fails (sources absent on this
// machine are not problems: the panels concerned say so).
func (m *Model) problemLines(h *summary.Host) []string {
	var lines []string
	for _, c := range h.Collectors {
		if !c.Success && !c.NoData {
			lines = append(lines, m.label("WARN")+" "+m.st.warn.on("collector "+c.Name+" failing: "+c.Error))
		}
	}
	return lines
}

// hostProcLines are the agent's top processes (at most n).
func (m *Model) hostProcLines(ps []summary.Process, n, w int) []string {
	lines := []string{m.st.dim.on(fmt.Sprintf("%7s %-10s %6s %7s %8s %8s %8s  %s", "PID", "USER", "CPU%", "RES", "GPU MEM", "READ/s", "WRITE/s", "COMMAND"))}
	for i, p := range ps {
		if i >= n {
			break
		}
		gm := "-"
		if v, ok := val(p.GPUMemoryBytes); ok {
			gm = fmtU(v)
		}
		rd, wr := "-", "-"
		if v, ok := val(p.ReadBytesPerSecond); ok {
			rd = fmtRate(v)
		}
		if v, ok := val(p.WriteBytesPerSecond); ok {
			wr = fmtRate(v)
		}
		lines = append(lines, clip(fmt.Sprintf("%7d %-10s %6.1f %7s %8s %8s %8s  %s", p.PID, clip(p.User, 10), p.CPUPercent, fmtU(p.ResidentBytes), gm, rd, wr, p.Command), w))
	}
	return lines
}

// jobLines are the training jobs: which processes and GPUs form each.
func (m *Model) jobLines(js []summary.Job, w int) []string {
	var lines []string
	for _, j := range js {
		launcher := j.Launcher
		if launcher == "" {
			launcher = "-"
		}
		s := fmt.Sprintf("%-20s root %-7d %-10s %d procs %d ranks  CPU %5.0f%%  RES %6s  GPU mem %6s  GPUs %s",
			clip(j.Name, 20), j.RootPID, launcher, j.Processes, j.Ranks, j.CPUPercent, fmtU(j.ResidentBytes), fmtU(j.GPUMemoryBytes), strings.Join(j.GPUs, ","))
		if j.RunningSeconds != nil {
			s += "  up " + fmtDuration(*j.RunningSeconds)
		}
		if j.Container != "" {
			s += "  ctr " + j.Container
		}
		lines = append(lines, clip(s, w))
	}
	return lines
}
