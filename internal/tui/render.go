package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/trainwatch/trainwatch/internal/summary"
)

// Size limits: below minWidth × minHeight the UI only says so.
const (
	minWidth  = 40
	minHeight = 10
)

// layout is the body's size and how much detail it takes.
type layout struct {
	w, h int
	// compact (under 100 columns or 30 rows) drops graphs and keeps
	// numbers; large (from 160 × 45) adds graphs and columns.
	compact, large bool
}

func (m *Model) layout() layout {
	l := layout{w: m.width, h: m.bodyHeight()}
	l.compact = m.width < 100 || m.height < 30
	l.large = m.width >= 160 && m.height >= 45
	return l
}

// bodyHeight is the rows between the header and tab lines and the footer.
func (m *Model) bodyHeight() int { return max(0, m.height-3) }

// View implements tea.Model: the frame, in the alternate screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.screen())
	v.AltScreen = true
	return v
}

// screen is the frame: rendered when something changed and reused
// otherwise, so that a frame costs nothing between data.
func (m *Model) screen() string {
	if m.dirty || m.frame == "" {
		m.frame = m.render()
		m.dirty = false
	}
	return m.frame
}

// render draws the whole frame: every line at most m.width cells, exactly
// m.height lines.
func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	if m.width < minWidth || m.height < minHeight {
		msg := fmt.Sprintf("trainwatch top needs at least %d×%d; this terminal is %d×%d. q quits.", minWidth, minHeight, m.width, m.height)
		lines := strings.Split(wrap(msg, m.width), "\n")
		return strings.Join(fit(lines, m.width, m.height), "\n")
	}
	l := m.layout()
	var body []string
	var more string
	if m.panel == panelProcesses {
		body = m.processesPanel(l)
	} else {
		body, more = m.scrolled(m.panelLines(l), l.h)
	}
	switch {
	case m.help:
		body = overlay(fit(body, l.w, l.h), m.helpBox(l), l.w, m.st.color)
	case m.dialog != nil:
		body = overlay(fit(body, l.w, l.h), m.dialogBox(l), l.w, m.st.color)
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, m.headerLine(), m.tabsLine())
	lines = append(lines, fit(body, l.w, l.h)...)
	lines = append(lines, m.footerLine(more))
	return strings.Join(fit(lines, m.width, m.height), "\n")
}

// fit clips each line to w cells and pads or cuts the list to h lines;
// each line is made safe for the terminal (safeLine).
func fit(lines []string, w, h int) []string {
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = clip(safeLine(lines[i]), w)
		}
	}
	return out
}

// scrolled shows the part of lines the panel's scroll position selects,
// and says what is hidden.
func (m *Model) scrolled(lines []string, h int) ([]string, string) {
	if len(lines) <= h {
		m.scroll[m.panel] = 0
		return lines, ""
	}
	off := min(m.scroll[m.panel], len(lines)-h)
	m.scroll[m.panel] = off
	return lines[off : off+h], fmt.Sprintf("lines %d–%d of %d ↑↓", off+1, off+h, len(lines))
}

// panelLines renders the current panel (except processes) in full.
func (m *Model) panelLines(l layout) []string {
	if m.payload == nil || m.payload.Host == nil {
		return m.waitingLines(l)
	}
	switch m.panel {
	case panelGPUs:
		return m.gpusPanel(l)
	case panelCPU:
		return m.cpuPanel(l)
	case panelDisks:
		return m.disksPanel(l)
	case panelNetwork:
		return m.networkPanel(l)
	case panelSensors:
		return m.sensorsPanel(l)
	case panelRuns:
		return m.runsPanel(l)
	case panelAlerts:
		return m.alertsPanel(l)
	}
	return m.overviewPanel(l)
}

// waitingLines say why there is nothing to show yet.
func (m *Model) waitingLines(l layout) []string {
	if m.connErr != nil {
		lines := append([]string{""}, para("No data: "+m.connErr.Error(), l.w, 2, m.st.crit)...)
		return append(lines, para(fmt.Sprintf("Retrying in %s. Is `trainwatch serve` running there? Without --url, top uses the local agent, or collects in this process when none answers.", m.retry), l.w, 0, paint{})...)
	}
	return []string{"", "Waiting for the first snapshot from " + m.src.Label() + " …"}
}

// headerLine: what, where from, whether live, which host, when.
func (m *Model) headerLine() string {
	// The host and time first: on a narrow terminal the end is cut.
	segs := []string{m.st.title.on("trainwatch top")}
	var h *summary.Host
	if m.payload != nil {
		h = m.payload.Host
	}
	if h != nil {
		if h.Hostname != "" {
			segs = append(segs, m.st.bold.on(h.Hostname))
		}
		layout := "2006-01-02 15:04:05"
		if m.width < 100 {
			layout = "15:04:05"
		}
		segs = append(segs, h.Time.In(m.loc).Format(layout))
	}
	switch {
	case m.connErr != nil:
		segs = append(segs, m.st.crit.on(fmt.Sprintf("disconnected — retrying in %s: %v", m.retry, m.connErr)))
	case h == nil:
		segs = append(segs, "connecting…")
	}
	segs = append(segs, m.src.Label())
	if h != nil {
		if h.UptimeSeconds > 0 {
			segs = append(segs, "up "+fmtDuration(h.UptimeSeconds))
		}
		if h.Demo {
			segs = append(segs, m.st.warn.on("DEMO: "+h.DemoScenario))
		}
	}
	return strings.Join(segs, " │ ")
}

// tabsLine lists the panels, the current one in brackets.
func (m *Model) tabsLine() string {
	alerts := 0
	if m.payload != nil {
		for _, a := range m.payload.Alerts {
			if a.State == "firing" {
				alerts++
			}
		}
	}
	for _, short := range []bool{false, true} {
		var b strings.Builder
		n := 0
		for p := range numPanels {
			long, sh := p.names()
			name := long
			if short {
				name = sh
			}
			label := fmt.Sprintf("%d %s", p+1, name)
			if p == panelAlerts && alerts > 0 {
				label += fmt.Sprintf("(%d)", alerts)
			}
			if p == m.panel {
				label = "[" + label + "]"
				b.WriteString(m.st.tabActive.on(label))
			} else {
				label = " " + label + " "
				if p == panelAlerts && alerts > 0 {
					b.WriteString(m.st.crit.on(label))
				} else {
					b.WriteString(m.st.tabOther.on(label))
				}
			}
			n += width(label)
		}
		if n <= m.width || short {
			return b.String()
		}
	}
	return ""
}

// footerLine: the last message, or the keys of the current view.
func (m *Model) footerLine(more string) string {
	var s string
	switch {
	case m.pv.filtering:
		s = m.st.key.on("Filter: ") + m.pv.filter + "█  " + m.st.dim.on("Enter keeps it · Esc clears it")
	case m.status != "":
		if m.statusBad {
			s = m.st.crit.on(m.status)
		} else {
			s = m.st.ok.on(m.status)
		}
	case m.dialog != nil:
		s = "y sends · ←/→ choose the signal · any other key cancels"
	case m.help:
		s = "? or Esc closes the help"
	case m.panel == panelProcesses:
		s = m.keyHint("↑↓", "select") + m.keyHint("c/m/g/i/p/n", "sort") + m.keyHint("r", "reverse") +
			m.keyHint("/", "filter") + m.keyHint("t", "tree") + m.keyHint("k", "signal") + m.keyHint("?", "help") + m.keyHint("q", "quit")
	default:
		s = m.keyHint("1-9/Tab", "panels") + m.keyHint("↑↓", "scroll") + m.keyHint("?", "help") + m.keyHint("q", "quit")
	}
	s = strings.TrimRight(s, " ")
	if more != "" {
		gap := m.width - width(s) - width(more)
		if gap >= 2 {
			s += strings.Repeat(" ", gap) + m.st.dim.on(more)
		}
	}
	return s
}

func (m *Model) keyHint(k, what string) string { return m.st.key.on(k) + " " + what + "  " }

// helpBox lists every key, in at most 80 columns; on a short terminal
// the blank lines and then the data line go first.
func (m *Model) helpBox(l layout) []string {
	rows := [][2]string{
		{"1 … 9", "1 Overview 2 GPUs 3 CPU/Memory 4 Disks 5 Network"},
		{"", "6 Sensors 7 Processes 8 Runs 9 Alerts"},
		{"Tab  Shift+Tab  ← →", "next / previous panel"},
		{"↑ ↓ PgUp PgDn Home End", "scroll; in Processes, move the selection"},
		{"?", "this help (? or Esc closes it)"},
		{"q  Ctrl+C", "quit"},
		{"", ""},
		{"Processes", ""},
		{"c m g i p n", "sort: CPU, memory, GPU memory, I/O, PID, name"},
		{"r", "reverse the sort (or the same sort key again)"},
		{"/", "filter: command, user, PID, job, container"},
		{"  Enter  Esc", "keep the filter / clear it (Ctrl+U erases)"},
		{"Esc", "clear the filter"},
		{"t", "tree view: children under their parent"},
		{"k", "send a signal to the selected process"},
		{"  ← → Tab  y", "choose TERM, KILL or INT; y sends, else cancel"},
	}
	var lines []string
	for _, r := range rows {
		switch {
		case r[0] == "" && r[1] == "":
			lines = append(lines, "")
		case r[1] == "":
			lines = append(lines, m.st.title.on(r[0]))
		default:
			lines = append(lines, m.st.key.on(pad(r[0], 22))+" "+r[1])
		}
	}
	interval := ""
	if m.infoKnown && m.info.Interval > 0 {
		interval = fmt.Sprintf(", every %s", m.info.Interval)
	}
	data := []string{"", m.st.dim.on("Data: " + m.src.Label() + interval + "; processes every " + m.procEvery.String() + " while shown.")}
	if m.seedErr != nil {
		data = append(data, m.st.dim.on("Graphs start with this session: "+m.seedErr.Error()+"."))
	}
	if len(lines)+len(data)+2 <= l.h {
		lines = append(lines, data...)
	}
	if len(lines)+2 > l.h {
		kept := lines[:0]
		for _, s := range lines {
			if s != "" {
				kept = append(kept, s)
			}
		}
		lines = kept
	}
	if len(lines)+2 > l.h {
		lines = lines[:max(1, l.h-2)]
	}
	return box("trainwatch top — keys", lines, l.w)
}

// dialogBox asks to confirm a signal.
func (m *Model) dialogBox(l layout) []string {
	d := m.dialog
	c := signalChoices()[d.choice]
	q := fmt.Sprintf("Send SIG%s to PID %d (%s)? [y/N]", c.name, d.pid, clip(d.desc, max(10, l.w-40)))
	var choices []string
	for i, sc := range signalChoices() {
		if i == d.choice {
			choices = append(choices, m.st.tabActive.on("["+sc.name+"]"))
		} else {
			choices = append(choices, " "+sc.name+" ")
		}
	}
	return box("Send a signal", []string{q, "", "Signal: " + strings.Join(choices, " ") + "   " + m.st.dim.on("←/→ choose")}, l.w)
}

// box frames lines with a title, at most w cells wide.
func box(title string, lines []string, w int) []string {
	inner := width(title) + 2
	for _, l := range lines {
		inner = max(inner, width(l))
	}
	inner = min(inner, w-4)
	out := make([]string, 0, len(lines)+2)
	top := "┌─ " + clip(title, inner-2) + " "
	out = append(out, top+strings.Repeat("─", max(0, inner+3-width(top)))+"┐")
	for _, l := range lines {
		out = append(out, "│ "+pad(l, inner)+" │")
	}
	out = append(out, "└"+strings.Repeat("─", inner+2)+"┘")
	return out
}

// overlay draws the box lines centred over base (h lines of at most w
// cells), keeping base's text on both sides.
func overlay(base, boxLines []string, w int, color bool) []string {
	if len(boxLines) == 0 {
		return base
	}
	bw := width(boxLines[0])
	x := max(0, (w-bw)/2)
	y := max(0, (len(base)-len(boxLines))/2)
	out := append([]string(nil), base...)
	reset := ""
	if color {
		reset = ansi.ResetStyle
	}
	for i, bl := range boxLines {
		if y+i >= len(out) {
			break
		}
		line := pad(out[y+i], w)
		left := ansi.Truncate(line, x, "")
		right := ansi.TruncateLeft(line, x+bw, "")
		if rest := w - x - bw; rest < 3 {
			// A sliver of the line below would read as noise.
			right = strings.Repeat(" ", max(0, rest))
		}
		out[y+i] = left + reset + bl + reset + right
	}
	return out
}

// para is text wrapped to w cells, each line painted with p and every line
// after the first indented by indent spaces.
func para(text string, w, indent int, p paint) []string {
	lines := strings.Split(wrap(text, max(10, w-indent)), "\n")
	for i := range lines {
		if i > 0 {
			lines[i] = strings.Repeat(" ", indent) + lines[i]
		}
		lines[i] = p.on(lines[i])
	}
	return lines
}

// wrap breaks s into lines of at most w cells at spaces.
func wrap(s string, w int) string {
	if w <= 0 {
		return ""
	}
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		ww := width(word)
		if i > 0 {
			if n+1+ww > w {
				b.WriteByte('\n')
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += ww
	}
	return b.String()
}

// ago says how long before now t was: "12m05s ago".
func ago(t, now time.Time) string {
	return fmtDuration(now.Sub(t).Seconds()) + " ago"
}
