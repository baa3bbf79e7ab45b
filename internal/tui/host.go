package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/trainwatch/trainwatch/internal/summary"
)

// cpuPanel is htop's meters: a bar per core, the average with its modes,
// load, memory and swap, with history graphs when there is room, and the
// busiest processes.
func (m *Model) cpuPanel(l layout) []string {
	h := m.payload.Host
	c := h.CPU
	var lines []string
	// Cores in as many columns as keep them within half the height.
	cellMin := 22
	cols := max(1, l.w/cellMin)
	if n := len(c.Cores); n > 0 {
		for cols > 1 && (n+cols-1)/cols < 2 && cols > n {
			cols--
		}
		cols = max(1, min(cols, n))
		if l.h > 8 {
			for cols < l.w/14 && (n+cols-1)/cols > l.h/2 {
				cols++
			}
		}
		cellW := (l.w - (cols - 1)) / cols
		rows := (n + cols - 1) / cols
		for r := range rows {
			var cells []string
			for col := range cols {
				i := col*rows + r
				if i >= n {
					break
				}
				cells = append(cells, pad(m.coreCell(c.Cores[i], cellW), cellW))
			}
			lines = append(lines, strings.TrimRight(strings.Join(cells, " "), " "))
		}
	} else {
		lines = append(lines, m.st.dim.on("No per-CPU counters (the cpu collector reads /proc/stat)."))
	}
	lines = append(lines, "")
	bw := max(10, min(40, l.w/4))
	avg := m.label("avg") + " "
	if c.RatesAvailable {
		avg += padLeft(fmtPct(c.BusyPercent), 4) + " " + m.st.pct(bar(c.BusyPercent, bw), c.BusyPercent)
		for _, mode := range []string{"user", "nice", "system", "iowait", "irq", "softirq", "steal"} {
			if v, ok := c.ModesPercent[mode]; ok && (v >= 0.05 || mode == "user" || mode == "system" || mode == "iowait") {
				avg += fmt.Sprintf(" %s %s", mode, fmtPct(v))
			}
		}
	} else {
		avg += "rates from the next tick"
	}
	lines = append(lines, avg)
	lines = append(lines, m.label("load")+fmt.Sprintf(" %.2f %.2f %.2f  (%d CPUs)  running %d  blocked %d  uptime %s",
		c.Load1, c.Load5, c.Load15, c.Count, c.ProcsRunning, c.ProcsBlocked, fmtDuration(h.UptimeSeconds)))
	graphRows := 0
	if !l.compact {
		graphRows = 3
		if l.large {
			graphRows = 6
		}
		lines = append(lines, m.graphLines("CPU %", keyCPU, l.w, graphRows, 0, 100, m.st.accent)...)
	}
	lines = append(lines, "")
	mem := h.Memory
	lines = append(lines, m.label("Mem")+" "+padLeft(fmtPct(mem.UsedPercent), 4)+" "+m.st.pct(bar(mem.UsedPercent, bw), mem.UsedPercent)+
		fmt.Sprintf(" %s used of %s  available %s  buffers %s  cached %s", fmtU(mem.UsedBytes), fmtU(mem.TotalBytes),
			fmtU(mem.AvailableBytes), fmtU(mem.BuffersBytes), fmtU(mem.CachedBytes)))
	if mem.SwapTotalBytes > 0 {
		lines = append(lines, m.label("Swap")+" "+padLeft(fmtPct(mem.SwapUsedPercent), 4)+" "+m.st.pct(bar(mem.SwapUsedPercent, bw), mem.SwapUsedPercent)+
			fmt.Sprintf(" %s used of %s", fmtU(mem.SwapUsedBytes), fmtU(mem.SwapTotalBytes)))
	} else {
		lines = append(lines, m.label("Swap")+" none configured")
	}
	if graphRows > 0 {
		lines = append(lines, m.graphLines("Mem %", keyMem, l.w, max(2, graphRows-1), 0, 100, m.st.info)...)
	}
	if len(h.Processes) > 0 {
		lines = append(lines, "", m.st.title.on("TOP PROCESSES (by CPU; 7 lists them all)"))
		lines = append(lines, m.hostProcLines(h.Processes, max(3, l.h-len(lines)-1), l.w)...)
	}
	return lines
}

// coreCell is "  3 [████    ]  45%".
func (m *Model) coreCell(c summary.Core, w int) string {
	label := padLeft(c.CPU, 3) + " "
	if !c.RatesAvailable {
		return label + m.st.dim.on("-")
	}
	bw := max(3, w-width(label)-5)
	return label + m.st.pct(bar(c.BusyPercent, bw), c.BusyPercent) + padLeft(fmtPct(c.BusyPercent), 5)
}

// graphLines draws key's history as a labelled graph rows tall.
func (m *Model) graphLines(label, key string, w, rows int, lo, hi float64, p paint) []string {
	head := pad(label, 8)
	gw := w - width(head)
	if gw < 10 || rows <= 0 {
		return nil
	}
	vs := m.hist.last(key, gw)
	if hi <= lo {
		lo, hi = rangeOf(vs)
		lo = min(lo, 0)
	}
	out := make([]string, 0, rows)
	for i, r := range graph(vs, gw, rows, lo, hi) {
		lead := strings.Repeat(" ", width(head))
		if i == 0 {
			lead = m.st.dim.on(head)
		}
		out = append(out, lead+p.on(r))
	}
	return out
}

// disksPanel is iostat and iotop and df: I/O per device, the processes
// doing I/O, and space per filesystem.
func (m *Model) disksPanel(l layout) []string {
	h := m.payload.Host
	var lines []string
	lines = append(lines, m.st.title.on("BLOCK DEVICES"))
	if len(h.Disks) == 0 {
		lines = append(lines, m.st.dim.on("No block devices (the diskstats collector reads /proc/diskstats)."))
	} else {
		hdr := fmt.Sprintf("%-12s %9s %9s %7s %7s %8s %8s %5s %6s", "DEVICE", "READ/s", "WRITE/s", "r/s", "w/s", "r_await", "w_await", "UTIL", "QUEUE")
		if l.compact {
			hdr = fmt.Sprintf("%-12s %9s %9s %8s %8s %5s", "DEVICE", "READ/s", "WRITE/s", "r_await", "w_await", "UTIL")
		}
		lines = append(lines, m.st.dim.on(hdr))
		for _, d := range h.Disks {
			var s string
			ra := fmt.Sprintf("%.1fms", d.ReadLatencySeconds*1000)
			wa := fmt.Sprintf("%.1fms", d.WriteLatencySeconds*1000)
			if l.compact {
				s = fmt.Sprintf("%-12s %9s %9s %8s %8s %5s", clip(d.Device, 12), fmtRate(d.ReadBytesPerSecond), fmtRate(d.WriteBytesPerSecond), ra, wa, fmtPct(d.UtilizationPercent))
			} else {
				s = fmt.Sprintf("%-12s %9s %9s %7s %7s %8s %8s %5s %6.2f", clip(d.Device, 12), fmtRate(d.ReadBytesPerSecond), fmtRate(d.WriteBytesPerSecond),
					fmtCount(d.ReadOpsPerSecond), fmtCount(d.WriteOpsPerSecond), ra, wa, fmtPct(d.UtilizationPercent), d.QueueDepth)
				if !d.RatesAvailable {
					s = fmt.Sprintf("%-12s %s", clip(d.Device, 12), m.st.dim.on("new device: rates from the next tick"))
				}
				rest := l.w - width(s) - 2
				if rest >= 16 && d.RatesAvailable {
					sw := min(40, (rest-3)/2)
					r := m.hist.last(diskKey(d.Device, "r"), sw)
					wr := m.hist.last(diskKey(d.Device, "w"), sw)
					_, hi := rangeOf(append(append([]float64{}, r...), wr...))
					s += "  " + m.st.ok.on(sparkline(r, sw, 0, hi)) + " " + m.st.warn.on(sparkline(wr, sw, 0, hi))
				}
			}
			lines = append(lines, s)
		}
		if !l.compact {
			lines = append(lines, m.st.dim.on("history: read, then written, on one scale per device"))
		}
	}
	lines = append(lines, "", m.st.title.on("FILESYSTEMS"))
	if len(h.Filesystems) == 0 {
		lines = append(lines, m.st.dim.on("No filesystems (the filesystem collector reads /proc/mounts and statfs)."))
	} else {
		bw := 12
		if l.compact {
			bw = 8
		}
		lines = append(lines, m.st.dim.on(fmt.Sprintf("%-18s %-14s %-6s %7s %7s %7s %s %6s", "MOUNT", "DEVICE", "TYPE", "SIZE", "USED", "AVAIL", pad("USE%", bw+5), "INODES")))
		for _, f := range h.Filesystems {
			if f.Error != "" {
				lines = append(lines, fmt.Sprintf("%-18s %-14s %-6s %s", clip(f.Mountpoint, 18), clip(f.Device, 14), clip(f.FSType, 6), m.st.crit.on("cannot read: "+f.Error)))
				continue
			}
			ro := ""
			if f.Readonly {
				ro = " ro"
			}
			lines = append(lines, fmt.Sprintf("%-18s %-14s %-6s %7s %7s %7s %s %s %6s%s", clip(f.Mountpoint, 18), clip(f.Device, 14), clip(f.FSType, 6),
				fmtU(f.SizeBytes), fmtU(f.UsedBytes), fmtU(f.AvailBytes), padLeft(fmtPct(f.UsedPercent), 4),
				m.st.level(bar(f.UsedPercent, bw), f.UsedPercent, 80, 90), fmtPct(f.InodesUsedPercent), ro))
		}
	}
	// iotop: the agent's top processes by I/O.
	var io []summary.Process
	for _, p := range h.Processes {
		if p.ReadBytesPerSecond != nil || p.WriteBytesPerSecond != nil {
			io = append(io, p)
		}
	}
	rate := func(p summary.Process) float64 {
		r, _ := val(p.ReadBytesPerSecond)
		w, _ := val(p.WriteBytesPerSecond)
		return r + w
	}
	sort.SliceStable(io, func(i, j int) bool { return rate(io[i]) > rate(io[j]) })
	lines = append(lines, "", m.st.title.on("PROCESSES BY I/O (7 lists them all; sort with i)"))
	if len(io) == 0 {
		lines = append(lines, m.st.dim.on("No per-process I/O: the process collector is off, or /proc/PID/io is not readable (run as root)."))
	} else {
		lines = append(lines, m.hostProcLines(io, max(3, l.h-len(lines)-1), l.w)...)
	}
	return lines
}

// networkPanel is iftop per interface: rates, packets, errors, history.
func (m *Model) networkPanel(l layout) []string {
	h := m.payload.Host
	var lines []string
	lines = append(lines, m.st.title.on("INTERFACES"))
	if len(h.Network) == 0 {
		lines = append(lines, m.st.dim.on("No interfaces (the netdev collector reads /proc/net/dev)."))
		return lines
	}
	hdr := fmt.Sprintf("%-12s %-5s %7s %9s %9s %7s %7s %5s %5s", "IFACE", "STATE", "SPEED", "RX/s", "TX/s", "RXpk/s", "TXpk/s", "ERR", "DROP")
	if l.compact {
		hdr = fmt.Sprintf("%-12s %-5s %7s %9s %9s %5s %5s", "IFACE", "STATE", "SPEED", "RX/s", "TX/s", "ERR", "DROP")
	}
	lines = append(lines, m.st.dim.on(hdr))
	graphRows := 0
	if l.large {
		graphRows = 2
	}
	for _, n := range h.Network {
		state := "-"
		if up, ok := val(n.Up); ok {
			state = "down"
			if up {
				state = "up"
			}
		}
		speed := "-"
		if v, ok := val(n.SpeedBytesPerSecond); ok && v > 0 {
			speed = fmtCount(float64(v)*8) + "b"
		}
		errs := n.ReceiveErrorsPerSecond + n.TransmitErrorsPerSecond
		drops := n.ReceiveDropsPerSecond + n.TransmitDropsPerSecond
		var s string
		if l.compact {
			s = fmt.Sprintf("%-12s %-5s %7s %9s %9s %5s %5s", clip(n.Device, 12), state, speed, fmtRate(n.ReceiveBytesPerSecond), fmtRate(n.TransmitBytesPerSecond), fmtCount(errs), fmtCount(drops))
		} else {
			s = fmt.Sprintf("%-12s %-5s %7s %9s %9s %7s %7s %5s %5s", clip(n.Device, 12), state, speed, fmtRate(n.ReceiveBytesPerSecond), fmtRate(n.TransmitBytesPerSecond),
				fmtCount(n.ReceivePacketsPerSecond), fmtCount(n.TransmitPacketsPerSecond), fmtCount(errs), fmtCount(drops))
		}
		if errs > 0 || drops > 0 {
			s = m.st.warn.on(s)
		}
		gw := l.w - 16
		rest := l.w - width(s) - 2
		sw := min(50, (rest-3)/2)
		if graphRows == 0 {
			gw = sw
		}
		rx := m.hist.last(netKey(n.Device, "rx"), gw)
		tx := m.hist.last(netKey(n.Device, "tx"), gw)
		_, hi := rangeOf(append(append([]float64{}, rx...), tx...))
		// Graphs for the interfaces that carried traffic, sparklines for
		// the others.
		busy := hi > 1
		if !l.compact && (graphRows == 0 || !busy) && rest >= 16 {
			s += "  " + m.st.ok.on(sparkline(rx, sw, 0, hi)) + " " + m.st.info.on(sparkline(tx, sw, 0, hi))
		}
		lines = append(lines, s)
		if graphRows > 0 && busy {
			for i, r := range graph(rx, gw, graphRows, 0, hi) {
				lead := "              "
				if i == 0 {
					lead = m.st.dim.on("   ↓ rx       ")
				}
				lines = append(lines, lead+"  "+m.st.ok.on(r))
			}
			for i, r := range graph(tx, gw, graphRows, 0, hi) {
				lead := "              "
				if i == 0 {
					lead = m.st.dim.on("   ↑ tx       ")
				}
				lines = append(lines, lead+"  "+m.st.info.on(r))
			}
		}
	}
	if !l.compact {
		lines = append(lines, m.st.dim.on("history: received, then sent, on one scale per interface"))
	}
	if len(h.TCPConnectionStates) > 0 {
		states := make([]string, 0, len(h.TCPConnectionStates))
		for s := range h.TCPConnectionStates {
			states = append(states, s)
		}
		sort.Slice(states, func(i, j int) bool {
			a, b := h.TCPConnectionStates[states[i]], h.TCPConnectionStates[states[j]]
			if a != b {
				return a > b
			}
			return states[i] < states[j]
		})
		var parts []string
		for _, s := range states {
			parts = append(parts, fmt.Sprintf("%s %d", s, h.TCPConnectionStates[s]))
		}
		lines = append(lines, "", m.label("TCP")+" "+strings.Join(parts, "  "))
	}
	return lines
}

// sensorsPanel is lm-sensors' view: every sensor by chip, with its limits,
// and the GPUs' temperatures.
func (m *Model) sensorsPanel(l layout) []string {
	h := m.payload.Host
	var lines []string
	bw := 20
	if l.compact {
		bw = 10
	}
	if len(h.Temperatures) == 0 {
		lines = append(lines, m.st.warn.on("No host temperature sensors."))
		for _, c := range h.Collectors {
			if (c.Name == "hwmon" || c.Name == "thermal_zone") && !c.Success {
				lines = append(lines, strings.Split(wrap(c.Name+": "+c.Error, l.w-2), "\n")...)
			}
		}
	}
	chip := ""
	for _, t := range h.Temperatures {
		name := t.ChipName
		if t.Chip != "" && t.Chip != t.ChipName {
			name += " (" + t.Chip + ")"
		}
		if name != chip {
			if chip != "" {
				lines = append(lines, "")
			}
			chip = name
			lines = append(lines, m.st.title.on(name))
		}
		label := t.Label
		if label == "" {
			label = t.Sensor
		}
		hi := 100.0
		if v, ok := val(t.CritCelsius); ok && v > 0 {
			hi = v
		}
		s := fmt.Sprintf("  %-20s %s %s", clip(label, 20), padLeft(m.st.temp(fmt.Sprintf("%.1f°C", t.Celsius), t.Celsius), 7),
			m.st.temp(bar(100*t.Celsius/hi, bw), t.Celsius))
		var lim []string
		if v, ok := val(t.MaxCelsius); ok {
			lim = append(lim, fmt.Sprintf("high %.1f°C", v))
		}
		if v, ok := val(t.CritCelsius); ok {
			lim = append(lim, fmt.Sprintf("crit %.1f°C", v))
		}
		if len(lim) > 0 {
			s += "  (" + strings.Join(lim, ", ") + ")"
		}
		lines = append(lines, s)
	}
	if len(h.GPUs) > 0 {
		lines = append(lines, "", m.st.title.on("GPUs"))
		for _, g := range h.GPUs {
			v, ok := val(g.TemperatureCelsius)
			if !ok {
				lines = append(lines, fmt.Sprintf("  GPU %-16s %7s", g.Index, "-"))
				continue
			}
			s := fmt.Sprintf("  GPU %-16s %s %s", g.Index, padLeft(m.st.temp(fmt.Sprintf("%.1f°C", v), v), 7), m.st.temp(bar(v, bw), v))
			if !l.compact {
				sw := min(40, max(0, l.w-width(s)-2))
				s += "  " + m.st.warn.on(sparkline(m.hist.last(gpuKey(g.Index, "temp"), sw), sw, 20, 100))
			}
			lines = append(lines, s)
		}
	}
	return lines
}
