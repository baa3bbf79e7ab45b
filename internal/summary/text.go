package summary

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// TextOptions controls WriteText.
type TextOptions struct {
	// Color enables ANSI colours. The caller decides, typically from
	// whether the output is a terminal and whether NO_COLOR is set.
	Color bool
	// Width is the terminal width in columns. It lays out the per-core grid
	// (0 means 80 there) and, when set, narrows the GPU, jobs and top
	// processes tables to fit (dropping the clock columns, shortening
	// models, names and commands); 0 leaves tables at their natural width,
	// for pipes and logs.
	Width int
}

// Thresholds used to colour values in WriteText.
const (
	// WarnPercent and CritPercent apply to used space, memory, swap, inode,
	// CPU, GPU and disk-utilisation percentages.
	WarnPercent = 80
	CritPercent = 90
	// WarnCelsius and CritCelsius apply to temperatures whose hardware
	// limits are unknown; a sensor's own max and crit limits apply too.
	WarnCelsius = 80
	CritCelsius = 90
)

// level is how alarming a value is.
type level int

const (
	levelNone level = iota
	levelOK
	levelWarn
	levelCrit
	levelHeader
)

func (l level) ansi() string {
	switch l {
	case levelOK:
		return "\x1b[32m"
	case levelWarn:
		return "\x1b[33m"
	case levelCrit:
		return "\x1b[31m"
	case levelHeader:
		return "\x1b[1m"
	}
	return ""
}

const ansiReset = "\x1b[0m"

func percentLevel(p float64) level {
	switch {
	case p >= CritPercent:
		return levelCrit
	case p >= WarnPercent:
		return levelWarn
	}
	return levelNone
}

func tempLevel(t Temperature) level {
	switch {
	case t.Celsius > CritCelsius || (t.CritCelsius != nil && t.Celsius >= *t.CritCelsius):
		return levelCrit
	case t.Celsius > WarnCelsius || (t.MaxCelsius != nil && t.Celsius >= *t.MaxCelsius):
		return levelWarn
	}
	return levelNone
}

// WriteText writes the summary for a person to read: a banner in demo
// mode, identity, CPU (average, per-mode and a per-core grid), load, memory
// and swap, GPUs, training jobs, GPU processes, the top processes by CPU,
// filesystems,
// disk I/O, network, temperatures, TCP connection states and the collectors
// that failed. Values past WarnPercent/CritPercent or the temperature limits
// are yellow/red when opts.Color is set.
func (h *Host) WriteText(w io.Writer, opts TextOptions) error {
	p := &printer{w: bufio.NewWriter(w), color: opts.Color, maxWidth: max(opts.Width, 0)}
	if opts.Width <= 0 {
		opts.Width = 80
	}
	h.textDemo(p)
	h.textHeader(p)
	h.textCPU(p, opts.Width)
	h.textMemory(p)
	h.textGPUs(p)
	h.textJobs(p)
	h.textGPUProcesses(p)
	h.textTopProcesses(p)
	h.textFilesystems(p)
	h.textDisks(p)
	h.textNetwork(p)
	h.textTemperatures(p)
	h.textTCP(p)
	h.textProblems(p)
	if p.err != nil {
		return fmt.Errorf("write summary: %w", p.err)
	}
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// printer writes text, remembering the first error.
type printer struct {
	w     *bufio.Writer
	color bool
	// maxWidth is the width the GPU tables are fitted to; 0 for none.
	maxWidth int
	err      error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// paint wraps s in the colour of l when colour is on.
func (p *printer) paint(s string, l level) string {
	if !p.color || l == levelNone || s == "" {
		return s
	}
	return l.ansi() + s + ansiReset
}

func (p *printer) section(title string) {
	p.printf("\n%s\n", p.paint(title, levelHeader))
}

// cell is one table cell: its text and colour.
type cell struct {
	text  string
	level level
}

func c(text string) cell             { return cell{text: text} }
func cl(text string, l level) cell   { return cell{text: text, level: l} }
func width(s string) int             { return utf8.RuneCountInString(s) }
func pad(s string, n int) string     { return s + strings.Repeat(" ", max(0, n-width(s))) }
func padLeft(s string, n int) string { return strings.Repeat(" ", max(0, n-width(s))) + s }

// table writes rows as aligned columns separated by two spaces, indented by
// two. right[i] right-aligns column i. The first row is a header.
func (p *printer) table(right []bool, rows [][]cell) {
	var widths []int
	for _, r := range rows {
		for i, x := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], width(x.text))
		}
	}
	for ri, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, x := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			last := i == len(r)-1
			var s string
			switch {
			case i < len(right) && right[i]:
				s = padLeft(x.text, widths[i])
			case last:
				s = x.text
			default:
				s = pad(x.text, widths[i])
			}
			l := x.level
			if ri == 0 {
				l = levelHeader
			}
			// Colour only the text, not the padding, so that the
			// escapes do not affect alignment.
			trimmed := strings.TrimSpace(s)
			if trimmed != "" && l != levelNone {
				lead := s[:strings.Index(s, trimmed)]
				s = lead + p.paint(trimmed, l) + s[len(lead)+len(trimmed):]
			}
			b.WriteString(s)
		}
		p.printf("%s\n", strings.TrimRight(b.String(), " "))
	}
}

func (h *Host) textHeader(p *printer) {
	name := h.Hostname
	if name == "" {
		name = "(unknown host)"
	}
	p.printf("%s  %s", p.paint(name, levelHeader), h.Time.UTC().Format("2006-01-02 15:04:05 MST"))
	if h.Kernel != "" {
		p.printf("  kernel %s", h.Kernel)
	}
	if h.Machine != "" {
		p.printf(" %s", h.Machine)
	}
	if h.UptimeSeconds > 0 {
		p.printf("  up %s", fmtUptime(h.UptimeSeconds))
	}
	p.printf("\n")
	if h.RatesAvailable {
		p.printf("rates over the last %s\n", fmtSeconds(h.IntervalSeconds))
	} else {
		p.printf("rates: n/a (they need two snapshots; shown as -)\n")
	}
}

// modeOrder is the order in which CPU modes are listed.
func modeOrder(modes map[string]float64) []string {
	known := []string{"user", "nice", "system", "iowait", "irq", "softirq", "steal"}
	var out []string
	seen := map[string]bool{"idle": true}
	for _, m := range known {
		if _, ok := modes[m]; ok {
			out = append(out, m)
			seen[m] = true
		}
	}
	var rest []string
	for m := range modes {
		if !seen[m] {
			rest = append(rest, m)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func (h *Host) textCPU(p *printer, termWidth int) {
	cpu := h.CPU
	p.section("CPU")
	if cpu.Count == 0 {
		p.printf("  no CPU times read\n")
	}
	busy := "-"
	var lvl level
	if cpu.RatesAvailable {
		busy = fmtPercent(cpu.BusyPercent)
		lvl = percentLevel(cpu.BusyPercent)
	}
	if cpu.Count > 0 {
		p.printf("  %d cores  busy %s", cpu.Count, p.paint(busy, lvl))
	}
	if cpu.RatesAvailable {
		p.printf("  [%s]", p.paint(bar(cpu.BusyPercent, 20), barLevel(cpu.BusyPercent)))
	}
	if cpu.Count > 0 {
		p.printf("\n")
	}
	if cpu.RatesAvailable {
		var parts []string
		for _, m := range modeOrder(cpu.ModesPercent) {
			parts = append(parts, fmt.Sprintf("%s %s", m, fmtPercent(cpu.ModesPercent[m])))
		}
		p.printf("  %s\n", strings.Join(parts, "  "))
	}
	perCore := ""
	if cpu.Count > 0 {
		perCore = fmt.Sprintf(" (%.2f per core)", cpu.Load1/float64(cpu.Count))
	}
	p.printf("  load %.2f %.2f %.2f%s  procs running %d  blocked %d\n",
		cpu.Load1, cpu.Load5, cpu.Load15, perCore, cpu.ProcsRunning, cpu.ProcsBlocked)
	if len(cpu.Cores) == 0 || !cpu.RatesAvailable {
		return
	}
	nameW := 0
	for _, core := range cpu.Cores {
		nameW = max(nameW, width(core.CPU))
	}
	const barW = 10
	cellW := nameW + 1 + barW + 2 + 1 + 4 // "12 [||||      ] 100%"
	cols := max(1, (termWidth-2+3)/(cellW+3))
	for i := 0; i < len(cpu.Cores); i += cols {
		var b strings.Builder
		b.WriteString("  ")
		for j := i; j < min(i+cols, len(cpu.Cores)); j++ {
			core := cpu.Cores[j]
			if j > i {
				b.WriteString("   ")
			}
			b.WriteString(padLeft(core.CPU, nameW))
			b.WriteString(" [")
			if core.RatesAvailable {
				b.WriteString(p.paint(bar(core.BusyPercent, barW), barLevel(core.BusyPercent)))
				b.WriteString("] ")
				pct := fmt.Sprintf("%.0f%%", core.BusyPercent)
				b.WriteString(strings.Repeat(" ", 4-width(pct)))
				b.WriteString(p.paint(pct, percentLevel(core.BusyPercent)))
			} else {
				b.WriteString(strings.Repeat(" ", barW))
				b.WriteString("] ")
				b.WriteString(padLeft("-", 4))
			}
		}
		p.printf("%s\n", b.String())
	}
}

// bar draws a bar of n characters filled in proportion to pct.
func bar(pct float64, n int) string {
	fill := int(math.Round(clamp(pct, 0, 100) / 100 * float64(n)))
	return strings.Repeat("|", fill) + strings.Repeat(" ", n-fill)
}

// barLevel is the colour of a bar: green unless past a threshold.
func barLevel(pct float64) level {
	if l := percentLevel(pct); l != levelNone {
		return l
	}
	return levelOK
}

func (h *Host) textMemory(p *printer) {
	m := h.Memory
	p.section("MEMORY")
	if m.TotalBytes == 0 {
		p.printf("  memory sizes not read\n")
		return
	}
	rows := [][]cell{
		{c(""), c("USED"), c("TOTAL"), c("USE%"), c(""), c("AVAILABLE"), c("BUFFERS"), c("CACHED")},
		{c("RAM"), c(FormatBytes(m.UsedBytes)), c(FormatBytes(m.TotalBytes)),
			cl(fmtPercent(m.UsedPercent), percentLevel(m.UsedPercent)),
			cl(bar(m.UsedPercent, 10), barLevel(m.UsedPercent)),
			c(FormatBytes(m.AvailableBytes)), c(FormatBytes(m.BuffersBytes)), c(FormatBytes(m.CachedBytes))},
	}
	swap := []cell{c("Swap"), c(FormatBytes(m.SwapUsedBytes)), c(FormatBytes(m.SwapTotalBytes))}
	if m.SwapTotalBytes > 0 {
		swap = append(swap, cl(fmtPercent(m.SwapUsedPercent), percentLevel(m.SwapUsedPercent)),
			cl(bar(m.SwapUsedPercent, 10), barLevel(m.SwapUsedPercent)), c(FormatBytes(m.SwapFreeBytes)))
	} else {
		swap = append(swap, c("-"), c("(no swap)"))
	}
	rows = append(rows, swap)
	p.table([]bool{false, true, true, true, false, true, true, true}, rows)
}

func (h *Host) textFilesystems(p *printer) {
	if len(h.Filesystems) == 0 {
		return
	}
	p.section("FILESYSTEMS")
	rows := [][]cell{{c("MOUNT"), c("DEVICE"), c("TYPE"), c("SIZE"), c("USED"), c("AVAIL"), c("USE%"), c("INODES"), c("")}}
	for _, fs := range h.Filesystems {
		if fs.Error != "" {
			rows = append(rows, []cell{c(fs.Mountpoint), c(fs.Device), c(fs.FSType),
				c("-"), c("-"), c("-"), c("-"), c("-"), cl("error: "+firstLine(fs.Error), levelCrit)})
			continue
		}
		inodes := "-"
		if fs.InodesTotal > 0 {
			inodes = fmtPercent(fs.InodesUsedPercent)
		}
		flag := c("")
		if fs.Readonly {
			flag = c("ro")
		}
		rows = append(rows, []cell{c(fs.Mountpoint), c(fs.Device), c(fs.FSType),
			c(FormatBytes(fs.SizeBytes)), c(FormatBytes(fs.UsedBytes)), c(FormatBytes(fs.AvailBytes)),
			cl(fmtPercent(fs.UsedPercent), percentLevel(fs.UsedPercent)),
			cl(inodes, percentLevel(fs.InodesUsedPercent)), flag})
	}
	p.table([]bool{false, false, false, true, true, true, true, true, false}, rows)
}

func (h *Host) textDisks(p *printer) {
	if len(h.Disks) == 0 {
		return
	}
	p.section("DISK I/O")
	rows := [][]cell{{c("DEVICE"), c("READ"), c("WRITE"), c("READ/s"), c("WRITE/s"), c("R LAT"), c("W LAT"), c("UTIL"), c("QUEUE")}}
	for _, d := range h.Disks {
		if !d.RatesAvailable {
			rows = append(rows, []cell{c(d.Device), c("-"), c("-"), c("-"), c("-"), c("-"), c("-"), c("-"), c("-")})
			continue
		}
		rows = append(rows, []cell{c(d.Device),
			c(fmtRate(d.ReadBytesPerSecond)), c(fmtRate(d.WriteBytesPerSecond)),
			c(fmtCount(d.ReadOpsPerSecond)), c(fmtCount(d.WriteOpsPerSecond)),
			c(fmtLatency(d.ReadLatencySeconds)), c(fmtLatency(d.WriteLatencySeconds)),
			cl(fmtPercent(d.UtilizationPercent), percentLevel(d.UtilizationPercent)),
			c(fmt.Sprintf("%.2f", d.QueueDepth))})
	}
	p.table([]bool{false, true, true, true, true, true, true, true, true}, rows)
}

func (h *Host) textNetwork(p *printer) {
	if len(h.Network) == 0 {
		return
	}
	p.section("NETWORK")
	rows := [][]cell{{c("INTERFACE"), c("STATE"), c("SPEED"), c("IN"), c("OUT"), c("IN pkt/s"), c("OUT pkt/s"), c("ERR/s"), c("DROP/s")}}
	for _, n := range h.Network {
		state := "-"
		if n.Up != nil {
			state = "down"
			if *n.Up {
				state = "up"
			}
		}
		speed := "-"
		if n.SpeedBytesPerSecond != nil {
			speed = fmtBits(float64(*n.SpeedBytesPerSecond) * 8)
		}
		r := []cell{c(n.Device), c(state), c(speed)}
		if !n.RatesAvailable {
			r = append(r, c("-"), c("-"), c("-"), c("-"), c("-"), c("-"))
		} else {
			errs := n.ReceiveErrorsPerSecond + n.TransmitErrorsPerSecond
			drops := n.ReceiveDropsPerSecond + n.TransmitDropsPerSecond
			r = append(r, c(fmtRate(n.ReceiveBytesPerSecond)), c(fmtRate(n.TransmitBytesPerSecond)),
				c(fmtCount(n.ReceivePacketsPerSecond)), c(fmtCount(n.TransmitPacketsPerSecond)),
				cl(fmtCount(errs), nonZeroLevel(errs)), cl(fmtCount(drops), nonZeroLevel(drops)))
		}
		rows = append(rows, r)
	}
	p.table([]bool{false, false, true, true, true, true, true, true, true}, rows)
}

func nonZeroLevel(v float64) level {
	if v > 0 {
		return levelWarn
	}
	return levelNone
}

func (h *Host) textTemperatures(p *printer) {
	if len(h.Temperatures) == 0 {
		return
	}
	p.section("TEMPERATURES")
	rows := [][]cell{{c("CHIP"), c("SENSOR"), c("TEMP"), c("MAX"), c("CRIT")}}
	for _, t := range h.Temperatures {
		sensor := t.Label
		if sensor == "" {
			sensor = t.Sensor
		}
		rows = append(rows, []cell{c(t.ChipName), c(sensor), cl(fmtCelsius(t.Celsius), tempLevel(t)),
			c(optFloat(t.MaxCelsius, 1, "%.1f°C")), c(optFloat(t.CritCelsius, 1, "%.1f°C"))})
	}
	p.table([]bool{false, false, true, true, true}, rows)
}

func (h *Host) textTCP(p *printer) {
	if len(h.TCPConnectionStates) == 0 {
		return
	}
	states := make([]string, 0, len(h.TCPConnectionStates))
	for s := range h.TCPConnectionStates {
		states = append(states, s)
	}
	sort.Strings(states)
	p.section("TCP CONNECTIONS")
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%s %d", s, h.TCPConnectionStates[s])
	}
	p.printf("  %s\n", strings.Join(parts, "  "))
}

func (h *Host) textProblems(p *printer) {
	var rows [][]cell
	for _, st := range h.Collectors {
		if !st.Success {
			rows = append(rows, []cell{c(st.Name), cl(orDash(firstLine(st.Error)), levelWarn)})
		}
	}
	if len(rows) == 0 {
		return
	}
	p.section("COLLECTORS WITH PROBLEMS")
	p.table(nil, append([][]cell{{c("COLLECTOR"), c("ERROR")}}, rows...))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtPercent(p float64) string { return fmt.Sprintf("%.1f%%", p) }

func fmtCelsius(t float64) string { return fmt.Sprintf("%.1f°C", t) }

// FormatBytes formats a size with binary units and one decimal: "512 B",
// "12.5 GiB" (B, KiB, MiB, GiB, TiB, PiB, EiB).
func FormatBytes(b uint64) string {
	if b < 1024 {
		return fmt.Sprintf("%d B", b)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(b) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// fmtSI formats v with decimal prefixes (k, M, G, T) and the given unit.
func fmtSI(v float64, unit string) string {
	prefixes := []string{"", "k", "M", "G", "T", "P"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.1f %s%s", v, prefixes[i], unit)
}

// fmtRate formats a throughput in decimal units: B/s, kB/s, MB/s, GB/s.
func fmtRate(bps float64) string { return fmtSI(bps, "B/s") }

// fmtBits formats a link speed in bits per second.
func fmtBits(bits float64) string { return fmtSI(bits, "bit/s") }

// fmtCount formats an event rate: one decimal below 100, then k/M.
func fmtCount(v float64) string {
	switch {
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	case v < 1000:
		return fmt.Sprintf("%.0f", v)
	case v < 1e6:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.1fM", v/1e6)
}

// fmtLatency formats seconds as µs, ms or s.
func fmtLatency(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s < 1e-3:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}

// fmtSeconds formats an interval such as "1.0s" or "1m30s".
func fmtSeconds(s float64) string {
	if s < 60 {
		return fmt.Sprintf("%.1fs", s)
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// fmtUptime formats an uptime as "3d 4h 5m", "4h 5m" or "5m 3s".
func fmtUptime(s float64) string {
	t := int64(s)
	d, hr, m, sec := t/86400, t/3600%24, t/60%60, t%60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh %dm", d, hr, m)
	case hr > 0:
		return fmt.Sprintf("%dh %dm", hr, m)
	}
	return fmt.Sprintf("%dm %ds", m, sec)
}

func optBytes(v *uint64) string {
	if v == nil {
		return "-"
	}
	return FormatBytes(*v)
}

func optFloat(v *float64, div float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v/div)
}
