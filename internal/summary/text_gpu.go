package summary

import (
	"fmt"
	"sort"
	"strings"
)

// MaxTextProcesses is how many GPU processes WriteText lists, the largest
// GPU memory users of all GPUs; a line counts the others.
const MaxTextProcesses = 10

// textDemo writes the demo-mode banner, the first line of the output.
func (h *Host) textDemo(p *printer) {
	if !h.Demo {
		return
	}
	line := "DEMO MODE: GPU data is simulated"
	// The NVML demo's scenario already ends in "(simulated)".
	if sc := strings.TrimSpace(strings.TrimSuffix(h.DemoScenario, "(simulated)")); sc != "" {
		line += " (" + sc + ")"
	}
	p.printf("%s\n", p.paint(line, levelWarn))
}

// throttleLevel is how alarming an active clock-event reason is: thermal,
// power-brake and hardware slowdowns cut clocks hard; the software power cap
// is a GPU at its power limit; the others (sync boost, application clocks)
// are settings.
func throttleLevel(reason string) level {
	switch reason {
	case "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "hw_slowdown":
		return levelCrit
	case "sw_power_cap":
		return levelWarn
	}
	return levelNone
}

// throttleCell lists a GPU's active clock-event reasons except gpu_idle,
// which only says the GPU has nothing to do.
func throttleCell(reasons []string) cell {
	var shown []string
	l := levelNone
	for _, r := range reasons {
		if r == "gpu_idle" {
			continue
		}
		shown = append(shown, r)
		l = max(l, throttleLevel(r))
	}
	if len(shown) == 0 {
		return c("-")
	}
	return cl(strings.Join(shown, ","), l)
}

// xidCell is a GPU's XID count with the codes seen, e.g. "3 (48,79)".
func xidCell(g GPU) cell {
	if g.XIDEventsTotal == 0 {
		return c("0")
	}
	codes := make([]string, 0, len(g.XIDs))
	for x, n := range g.XIDs {
		if n > 0 {
			codes = append(codes, x)
		}
	}
	sort.Slice(codes, func(i, j int) bool { return naturalLess(codes[i], codes[j]) })
	return cl(fmt.Sprintf("%d (%s)", g.XIDEventsTotal, strings.Join(codes, ",")), levelCrit)
}

func powerText(g GPU) string {
	switch {
	case g.PowerWatts != nil && g.PowerLimitWatts != nil:
		return fmt.Sprintf("%.0f/%.0f W", *g.PowerWatts, *g.PowerLimitWatts)
	case g.PowerWatts != nil:
		return fmt.Sprintf("%.0f W", *g.PowerWatts)
	}
	return "-"
}

func (h *Host) textGPUs(p *printer) {
	p.section("GPUS")
	if len(h.GPUs) == 0 {
		p.printf("  none detected\n")
		for _, line := range h.backendProblems() {
			p.printf("  %s\n", p.paint(line, levelWarn))
		}
		return
	}
	xids := false
	for _, g := range h.GPUs {
		xids = xids || g.XIDEventsTotal > 0
	}
	header := []cell{c("GPU"), c("MODEL"), c("UTIL"), c("MEMORY USED"), c("TOTAL"), c("MEM%"), c("TEMP"), c("POWER"),
		c("SM CLOCK"), c("MEM CLOCK")}
	right := []bool{false, false, true, true, true, true, true, true, true, true}
	if xids {
		header = append(header, c("XID"))
		right = append(right, true)
	}
	header = append(header, c("THROTTLE"))
	right = append(right, false)
	rows := [][]cell{header}
	for _, g := range h.GPUs {
		r := []cell{c(g.Index), c(orDash(g.ModelName))}
		if !g.Up {
			// Lost: nothing else is known; the XID column may say why.
			r = append(r, cl("LOST", levelCrit))
			for len(r) < len(header)-1 {
				r = append(r, c("-"))
			}
			if xids {
				r[len(r)-1] = xidCell(g)
			}
			rows = append(rows, append(r, c("-")))
			continue
		}
		if g.UtilizationPercent != nil {
			r = append(r, c(fmtPercent(*g.UtilizationPercent)))
		} else {
			r = append(r, c("-"))
		}
		r = append(r, c(optBytes(g.MemoryUsedBytes)), c(optBytes(g.MemoryTotalBytes)))
		if g.MemoryUsedPercent != nil {
			r = append(r, cl(fmtPercent(*g.MemoryUsedPercent), percentLevel(*g.MemoryUsedPercent)))
		} else {
			r = append(r, c("-"))
		}
		if g.TemperatureCelsius != nil {
			r = append(r, cl(fmtCelsius(*g.TemperatureCelsius), tempLevel(Temperature{Celsius: *g.TemperatureCelsius})))
		} else {
			r = append(r, c("-"))
		}
		r = append(r, c(powerText(g)), c(optFloat(g.SMClockHertz, 1e6, "%.0f MHz")),
			c(optFloat(g.MemoryClockHertz, 1e6, "%.0f MHz")))
		if xids {
			r = append(r, xidCell(g))
		}
		rows = append(rows, append(r, throttleCell(g.ThrottleReasons)))
	}
	rows, right = fitTable(rows, right, p.maxWidth,
		fitStep{header: "MEM CLOCK"}, fitStep{header: "MODEL", shorten: shortModel}, fitStep{header: "SM CLOCK"},
		fitStep{header: "MODEL", n: 12}, fitStep{header: "THROTTLE", n: 12}, fitStep{header: "TOTAL"},
		fitStep{header: "MODEL"})
	p.table(right, rows)
}

// backendProblems says, for each GPU backend that is down, why: the first
// line of its collector's error.
func (h *Host) backendProblems() []string {
	var out []string
	for _, b := range h.GPUBackends {
		if b.Up {
			continue
		}
		name, collectors := b.Backend, []string{b.Backend}
		if b.Backend == "nvml" {
			// The NVML backend is the collector named "gpu".
			name, collectors = "NVIDIA", []string{"gpu", "nvml"}
		}
		line := name + ": not available"
		if reason := h.collectorError(collectors...); reason != "" {
			line += " — " + reason
		}
		out = append(out, line)
	}
	return out
}

// collectorError returns the first line of the first named collector's
// error, without the "no data on this machine" that most carry.
func (h *Host) collectorError(names ...string) string {
	const noData = "no data on this machine"
	for _, n := range names {
		for _, st := range h.Collectors {
			if st.Name != n || st.Success || st.Error == "" {
				continue
			}
			e := firstLine(st.Error)
			e = strings.TrimPrefix(e, noData+": ")
			e = strings.TrimSuffix(e, ": "+noData)
			return e
		}
	}
	return ""
}

// gpuProcess is a process with the index of its GPU.
type gpuProcess struct {
	gpu string
	GPUProcess
}

func (h *Host) textGPUProcesses(p *printer) {
	var all []gpuProcess
	for _, g := range h.GPUs {
		for _, pr := range g.Processes {
			all = append(all, gpuProcess{g.Index, pr})
		}
	}
	if len(all) == 0 {
		return
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.MemoryBytes != b.MemoryBytes {
			return a.MemoryBytes > b.MemoryBytes
		}
		if a.gpu != b.gpu {
			return naturalLess(a.gpu, b.gpu)
		}
		return a.PID < b.PID
	})
	more := 0
	if len(all) > MaxTextProcesses {
		more = len(all) - MaxTextProcesses
		all = all[:MaxTextProcesses]
	}
	var container, pod, slurm bool
	for _, pr := range all {
		container = container || pr.Container != ""
		pod = pod || pr.Pod != "" || pr.Namespace != ""
		slurm = slurm || pr.SlurmJob != ""
	}
	header := []cell{c("GPU"), c("PID"), c("USER"), c("GPU MEM"), c("SM%")}
	right := []bool{false, true, false, true, true}
	opt := func(on bool, name string) {
		if on {
			header = append(header, c(name))
			right = append(right, false)
		}
	}
	opt(container, "CONTAINER")
	opt(pod, "POD")
	opt(slurm, "SLURM JOB")
	header = append(header, c("COMMAND"))
	right = append(right, false)
	rows := [][]cell{header}
	for _, pr := range all {
		sm := "-"
		if pr.SMUtilizationPercent != nil {
			sm = fmt.Sprintf("%.0f%%", *pr.SMUtilizationPercent)
		}
		r := []cell{c(pr.gpu), c(fmt.Sprint(pr.PID)), c(orDash(pr.User)), c(FormatBytes(pr.MemoryBytes)), c(sm)}
		if container {
			r = append(r, c(orDash(pr.Container)))
		}
		if pod {
			r = append(r, c(orDash(podText(pr.Namespace, pr.Pod))))
		}
		if slurm {
			r = append(r, c(orDash(pr.SlurmJob)))
		}
		rows = append(rows, append(r, c(orDash(pr.Command))))
	}
	rows, right = fitTable(rows, right, p.maxWidth, fitStep{header: "COMMAND", shorten: shortCommand}, fitStep{header: "COMMAND", n: 16}, fitStep{header: "POD", n: 14},
		fitStep{header: "COMMAND", n: 8}, fitStep{header: "CONTAINER", n: 8}, fitStep{header: "POD", n: 10},
		fitStep{header: "USER", n: 8})
	p.section("GPU PROCESSES")
	p.table(right, rows)
	if more > 0 {
		p.printf("  … %d more\n", more)
	}
}

// podText is "namespace/pod-uid", or whichever of the two is known.
func podText(namespace, pod string) string {
	switch {
	case namespace != "" && pod != "":
		return namespace + "/" + pod
	case namespace != "":
		return namespace
	}
	return pod
}

// shortCommand drops the directory of a command's program,
// "/usr/bin/python3 train.py" → "python3 train.py".
func shortCommand(cmd string) string {
	prog, args, _ := strings.Cut(cmd, " ")
	if i := strings.LastIndexByte(prog, '/'); i >= 0 && i < len(prog)-1 {
		prog = prog[i+1:]
	}
	if args == "" {
		return prog
	}
	return prog + " " + args
}

// fitStep is one way to narrow a table, applied to the column with this
// header: rewrite its cells with shorten; or cut them to no fewer than n
// characters; or, when neither is set, drop the column.
type fitStep struct {
	header  string
	n       int
	shorten func(string) string
}

// shortModel drops the vendor's name from a model name, "NVIDIA H200 141GB
// HBM3e" → "H200 141GB HBM3e".
func shortModel(m string) string {
	for _, v := range []string{"NVIDIA ", "AMD "} {
		if rest, ok := strings.CutPrefix(m, v); ok && rest != "" {
			return rest
		}
	}
	return m
}

// tableWidth is the width of the widest line p.table writes for rows.
func tableWidth(rows [][]cell) int {
	var widths []int
	for _, r := range rows {
		for i, x := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], width(x.text))
		}
	}
	w := 2
	for i, x := range widths {
		if i > 0 {
			w += 2
		}
		w += x
	}
	return w
}

// truncate shortens s to n characters, the last one "…".
func truncate(s string, n int) string {
	if width(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// fitTable applies steps in order, as far as needed, until the table is at
// most maxWidth wide; maxWidth 0 leaves it as it is. The first row is the
// header that names the columns.
func fitTable(rows [][]cell, right []bool, maxWidth int, steps ...fitStep) ([][]cell, []bool) {
	if maxWidth <= 0 || len(rows) == 0 {
		return rows, right
	}
	for _, st := range steps {
		excess := tableWidth(rows) - maxWidth
		if excess <= 0 {
			break
		}
		col := -1
		for i, x := range rows[0] {
			if x.text == st.header {
				col = i
			}
		}
		if col < 0 {
			continue
		}
		if st.shorten != nil {
			for _, r := range rows[1:] {
				r[col].text = st.shorten(r[col].text)
			}
			continue
		}
		if st.n == 0 {
			for i, r := range rows {
				rows[i] = append(r[:col:col], r[col+1:]...)
			}
			if col < len(right) {
				right = append(right[:col:col], right[col+1:]...)
			}
			continue
		}
		w := 0
		for _, r := range rows[1:] {
			w = max(w, width(r[col].text))
		}
		target := max(st.n, w-excess, width(st.header))
		for _, r := range rows[1:] {
			r[col].text = truncate(r[col].text, target)
		}
	}
	return rows, right
}
