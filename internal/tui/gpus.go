package tui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/summary"
)

// val is *p, or 0 and false when p is nil.
func val[T any](p *T) (T, bool) {
	if p == nil {
		var z T
		return z, false
	}
	return *p, true
}

// throttles are a GPU's active clock-event reasons, gpu_idle left out (an
// idle GPU is not held back).
func throttles(g *summary.GPU) []string {
	var out []string
	for _, r := range g.ThrottleReasons {
		if r != "gpu_idle" {
			out = append(out, r)
		}
	}
	return out
}

// xidText is a GPU's XID errors, "XID 13×2 79×1", or "".
func xidText(g *summary.GPU) string {
	if g.XIDEventsTotal == 0 {
		return ""
	}
	codes := make([]string, 0, len(g.XIDs))
	for c := range g.XIDs {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		a, _ := strconv.Atoi(codes[i])
		b, _ := strconv.Atoi(codes[j])
		return a < b
	})
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%s×%d", c, g.XIDs[c]))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("XID ×%d", g.XIDEventsTotal)
	}
	return "XID " + strings.Join(parts, " ")
}

// gpuFlags are a GPU's markers: throttle reasons and XID errors.
func (m *Model) gpuFlags(g *summary.GPU) string {
	var parts []string
	if t := throttles(g); len(t) > 0 {
		parts = append(parts, m.st.warn.on("⚠ "+strings.Join(t, ",")))
	}
	if x := xidText(g); x != "" {
		parts = append(parts, m.st.crit.on("✖ "+x))
	}
	return strings.Join(parts, " ")
}

// gpuMemText is "116/141G" (used/total).
func gpuMemText(g *summary.GPU) string {
	used, ok := val(g.MemoryUsedBytes)
	if !ok {
		return "-"
	}
	if total, ok := val(g.MemoryTotalBytes); ok {
		return strings.TrimSuffix(fmtU(used), "G") + "/" + fmtU(total)
	}
	return fmtU(used)
}

// gpuPowerText is "655/700W".
func gpuPowerText(g *summary.GPU) string {
	p, ok := val(g.PowerWatts)
	if !ok {
		return "-"
	}
	if lim, ok := val(g.PowerLimitWatts); ok {
		return fmt.Sprintf("%.0f/%.0fW", p, lim)
	}
	return fmt.Sprintf("%.0fW", p)
}

func (m *Model) tempText(c *float64) string {
	v, ok := val(c)
	if !ok {
		return "-"
	}
	return m.st.temp(fmt.Sprintf("%.0f°C", v), v)
}

// utilBar is "98% [█████ ]" for a GPU's utilisation.
func (m *Model) utilBar(p *float64, bw int) string {
	v, ok := val(p)
	if !ok {
		return padLeft("-", 4) + " " + strings.Repeat(" ", bw)
	}
	return padLeft(fmtPct(v), 4) + " " + m.st.accent.on(bar(v, bw))
}

// memBar is "82% [████  ]" for a used percentage.
func (m *Model) memBar(p *float64, bw int) string {
	v, ok := val(p)
	if !ok {
		return padLeft("-", 4) + " " + strings.Repeat(" ", bw)
	}
	return padLeft(fmtPct(v), 4) + " " + m.st.pct(bar(v, bw), v)
}

// topGPUProcess is a GPU's largest process, "python3 16195".
func topGPUProcess(g *summary.GPU) string {
	if len(g.Processes) == 0 {
		return ""
	}
	p := g.Processes[0]
	s := fmt.Sprintf("%s %d", baseName(p.Command), p.PID)
	if len(g.Processes) > 1 {
		s += fmt.Sprintf(" +%d", len(g.Processes)-1)
	}
	return s
}

// baseName is a command's last path element: "/usr/bin/python3" -> "python3".
func baseName(cmd string) string {
	if i := strings.LastIndexByte(cmd, '/'); i >= 0 && i < len(cmd)-1 {
		return cmd[i+1:]
	}
	return cmd
}

// gpuHeaderRow is the column header of gpuRow at the same widths.
func gpuHeaderRow(bw int) string {
	return "GPU " + pad("UTIL", 5+bw) + " " + pad("MEM", 5+bw) + " " + pad("USED", 9) + " TEMP  " + pad("POWER", 9) + " SM CLOCK"
}

// gpuRow is one GPU on one line: the overview's and the compact GPU
// panel's; withSpark adds its utilisation history in the room left.
func (m *Model) gpuRow(g *summary.GPU, w, bw int, withSpark bool) string {
	idx := padLeft(g.Index, 3) + " "
	if !g.Up {
		return idx + m.st.crit.on("LOST: the GPU does not answer (fallen off the bus, in reset, or the driver timed out)")
	}
	sm := "-"
	if v, ok := val(g.SMClockHertz); ok {
		sm = fmtMHz(v)
	}
	line := idx + m.utilBar(g.UtilizationPercent, bw) + " " + m.memBar(g.MemoryUsedPercent, bw) + " " +
		padLeft(gpuMemText(g), 9) + " " + padLeft(m.tempText(g.TemperatureCelsius), 4) + "  " +
		padLeft(gpuPowerText(g), 9) + " " + padLeft(sm, 8)
	tail := m.gpuFlags(g)
	if p := topGPUProcess(g); p != "" {
		if tail != "" {
			tail += " "
		}
		tail += m.st.dim.on(p)
	}
	rest := w - width(line) - 1
	if withSpark && rest >= 12 {
		sw := min(60, rest-width(tail)-1)
		if sw >= 8 {
			line += " " + m.st.accent.on(sparkline(m.hist.last(gpuKey(g.Index, "util"), sw), sw, 0, 100))
		}
	}
	if tail != "" {
		line += " " + tail
	}
	return line
}

// noGPUText says why there are no GPUs, in one sentence.
func (m *Model) noGPUText() string {
	var up []string
	for _, b := range m.payload.Host.GPUBackends {
		if b.Up {
			up = append(up, b.Backend)
		}
	}
	if len(up) > 0 {
		return "No GPU data: the GPU backends working (" + strings.Join(up, ", ") + ") report no GPU."
	}
	return "No GPU data: no GPU backend is working (NVIDIA: NVML from the driver; AMD: amdgpu under /sys/class/drm)."
}

// noGPULines say why there are no GPUs, with each GPU collector's reason.
func (m *Model) noGPULines(w int) []string {
	lines := para(m.noGPUText(), w, 0, m.st.warn)
	for _, c := range m.payload.Host.Collectors {
		if !c.Success && strings.Contains(c.Name, "gpu") {
			lines = append(lines, para("  "+c.Name+": "+c.Error, w, 4, paint{})...)
		}
	}
	return lines
}

// gpusPanel is nvtop's view: each GPU with its numbers, graphs and
// processes, in one to three columns.
func (m *Model) gpusPanel(l layout) []string {
	gpus := m.payload.Host.GPUs
	if len(gpus) == 0 {
		return m.noGPULines(l.w)
	}
	cols := 1
	switch {
	case len(gpus) == 1:
	case l.w >= 240:
		cols = 3
	case l.w >= 110:
		cols = 2
	}
	perCol := (len(gpus) + cols - 1) / cols
	colW := (l.w - (cols - 1)) / cols
	// Each card gets its share of the height, less a separating line.
	cardH := l.h/perCol - 1
	if cardH < 4 {
		// One row per GPU and its processes below, as in the overview.
		bw := 8
		lines := []string{m.st.title.on(gpuHeaderRow(bw))}
		for i := range gpus {
			lines = append(lines, m.gpuRow(&gpus[i], l.w, bw, false))
		}
		lines = append(lines, "", m.st.title.on("GPU PROCESSES"))
		for i := range gpus {
			for _, p := range gpus[i].Processes {
				lines = append(lines, m.gpuProcLine(&gpus[i], p, l.w))
			}
		}
		return lines
	}
	columns := make([][]string, cols)
	for i := range gpus {
		c := i / perCol
		card := m.gpuCard(&gpus[i], colW, cardH, l)
		if len(columns[c]) > 0 {
			columns[c] = append(columns[c], "")
		}
		columns[c] = append(columns[c], card...)
	}
	return joinColumns(columns, colW)
}

// joinColumns puts columns of lines side by side, each colW wide,
// separated by a space.
func joinColumns(columns [][]string, colW int) []string {
	n := 0
	for _, c := range columns {
		n = max(n, len(c))
	}
	out := make([]string, n)
	var b strings.Builder
	for i := range n {
		b.Reset()
		for j, c := range columns {
			if j > 0 {
				b.WriteByte(' ')
			}
			s := ""
			if i < len(c) {
				s = c[i]
			}
			if j < len(columns)-1 {
				b.WriteString(pad(s, colW))
			} else {
				b.WriteString(clip(s, colW))
			}
		}
		out[i] = strings.TrimRight(b.String(), " ")
	}
	return out
}

// gpuCard is one GPU in at most h lines of w cells: a title, bars with
// history, temperature and power, clocks and activity, throttling and
// XIDs, and processes, as many as fit, in that order.
func (m *Model) gpuCard(g *summary.GPU, w, h int, l layout) []string {
	title := m.st.title.on("GPU "+g.Index) + " " + shortModel(g.ModelName)
	if g.PCIBusID != "" && w >= 90 {
		title += m.st.dim.on(" " + g.PCIBusID)
	}
	if ps, ok := val(g.PState); ok {
		title += fmt.Sprintf(" P%d", ps)
	}
	if !g.Up {
		return []string{title, m.st.crit.on("LOST: the GPU does not answer (fallen off the bus, in reset, or the driver timed out)")}
	}
	title += "  " + m.tempText(g.TemperatureCelsius) + "  " + gpuPowerText(g)
	if f := m.gpuFlags(g); f != "" {
		title += "  " + f
	}
	lines := []string{title}
	bw := 12
	if w < 60 {
		bw = 8
	}
	// spark is "label value" and key's history in the rest of w cells.
	spark := func(label, value string, key string, lo, hi float64, paint paint, rows, w int) []string {
		head := pad(label, 5) + value
		gw := w - width(head) - 1
		if l.compact || gw < 8 {
			return []string{head}
		}
		vs := m.hist.last(key, gw)
		if hi <= lo {
			lo, hi = rangeOf(vs)
			lo = min(lo, 0)
		}
		if rows <= 1 {
			return []string{head + " " + paint.on(sparkline(vs, gw, lo, hi))}
		}
		out := make([]string, rows)
		for i, r := range graph(vs, gw, rows, lo, hi) {
			if i == 0 {
				out[i] = head + " " + paint.on(r)
			} else {
				out[i] = strings.Repeat(" ", width(head)) + " " + paint.on(r)
			}
		}
		return out
	}
	// Graph heights: spare rows after the one-line items go to the
	// utilisation and memory graphs.
	items := 6 + max(1, min(len(g.Processes), 3))
	spare := max(0, h-items)
	utilRows := 1 + min((spare+1)/2, 5)
	memRows := 1 + min(spare-(utilRows-1), 3)
	lines = append(lines, spark("util", m.utilBar(g.UtilizationPercent, bw), gpuKey(g.Index, "util"), 0, 100, m.st.accent, utilRows, w)...)
	lines = append(lines, spark("mem", m.memBar(g.MemoryUsedPercent, bw)+" "+gpuMemText(g), gpuKey(g.Index, "mem"), 0, 100, m.st.info, memRows, w)...)
	if h > len(lines) {
		t := m.tempText(g.TemperatureCelsius)
		pw := gpuPowerText(g)
		if l.compact {
			lines = append(lines, "temp "+t+"  power "+pw)
		} else {
			half := (w - 1) / 2
			lim, _ := val(g.PowerLimitWatts)
			left := spark("temp", padLeft(t, 5), gpuKey(g.Index, "temp"), 0, 100, m.st.warn, 1, half)[0]
			right := spark("pwr", padLeft(pw, 9), gpuKey(g.Index, "power"), 0, lim, m.st.ok, 1, w-half-1)[0]
			lines = append(lines, pad(left, half)+" "+right)
		}
	}
	if h > len(lines) {
		var parts []string
		if v, ok := val(g.SMClockHertz); ok {
			parts = append(parts, "SM "+fmtMHz(v))
		}
		if v, ok := val(g.MemoryClockHertz); ok {
			parts = append(parts, "mem "+fmtMHz(v))
		}
		if v, ok := val(g.TensorActivePercent); ok {
			parts = append(parts, "tensor "+fmtPct(v))
		}
		if v, ok := val(g.SMActivePercent); ok {
			parts = append(parts, "active "+fmtPct(v))
		}
		if v, ok := val(g.MemoryCopyUtilizationPercent); ok {
			parts = append(parts, "copy "+fmtPct(v))
		}
		lines = append(lines, m.st.dim.on("clk  ")+strings.Join(parts, "  "))
	}
	if h > len(lines) {
		thr := "none"
		if t := throttles(g); len(t) > 0 {
			thr = m.st.warn.on(strings.Join(t, ", "))
		}
		x := "none"
		if s := xidText(g); s != "" {
			x = m.st.crit.on(s)
		}
		lines = append(lines, m.st.dim.on("thr  ")+thr+m.st.dim.on("  xid ")+x)
	}
	if len(g.Processes) == 0 && h > len(lines) {
		lines = append(lines, m.st.dim.on("proc none"))
	}
	for i, p := range g.Processes {
		if h <= len(lines) {
			break
		}
		if i > 0 && h == len(lines)+1 && i < len(g.Processes)-1 {
			lines = append(lines, m.st.dim.on(fmt.Sprintf("     … %d more processes", len(g.Processes)-i)))
			break
		}
		lines = append(lines, m.gpuProcLine(g, p, w))
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	return lines
}

// gpuProcLine is one process on a GPU: "proc 16195 demo python3 115.1G SM 98%".
func (m *Model) gpuProcLine(g *summary.GPU, p summary.GPUProcess, w int) string {
	s := fmt.Sprintf("%s %7d %-8s %7s", m.st.dim.on("  "+padLeft(g.Index, 2)), p.PID, clip(p.User, 8), fmtU(p.MemoryBytes))
	if v, ok := val(p.SMUtilizationPercent); ok {
		s += " SM " + padLeft(fmtPct(v), 4)
	} else if v, ok := val(p.UtilizationPercent); ok {
		s += " use " + padLeft(fmtPct(v), 4)
	}
	s += " " + baseName(p.Command)
	if p.Container != "" {
		s += m.st.dim.on(" ctr " + p.Container)
	}
	if p.SlurmJob != "" {
		s += m.st.dim.on(" slurm " + p.SlurmJob)
	}
	return clip(s, w)
}
