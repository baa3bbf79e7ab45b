package tui

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// Options configures the UI.
type Options struct {
	// Source gives the data (required).
	Source Source
	// Profile is the colour profile (see ColorProfile); ASCII, NoTTY or
	// the zero value for no colour at all.
	Profile colorprofile.Profile
	// Location is the time zone of the times shown (default time.Local).
	Location *time.Location
	// ProcessRefresh is how often the process list is fetched while the
	// processes panel is visible (default 2 s).
	ProcessRefresh time.Duration
}

// panel is one of the UI's views.
type panel int

const (
	panelOverview panel = iota
	panelGPUs
	panelCPU
	panelDisks
	panelNetwork
	panelSensors
	panelProcesses
	panelRuns
	panelAlerts
	numPanels
)

// panelNames are each panel's tab label, long and short.
func (p panel) names() (long, short string) {
	switch p {
	case panelOverview:
		return "Overview", "Over"
	case panelGPUs:
		return "GPUs", "GPU"
	case panelCPU:
		return "CPU/Memory", "CPU"
	case panelDisks:
		return "Disks", "Disk"
	case panelNetwork:
		return "Network", "Net"
	case panelSensors:
		return "Sensors", "Temp"
	case panelProcesses:
		return "Processes", "Proc"
	case panelRuns:
		return "Runs", "Runs"
	case panelAlerts:
		return "Alerts", "Alrt"
	}
	return "?", "?"
}

// Messages.
type (
	eventMsg    Event
	streamEnded struct{}
	infoMsg     struct{ info Info }
	seedMsg     struct {
		series map[string][]Point
		runs   map[string][]Point
		err    error
	}
	procsMsg struct {
		list *ui.ProcessList
		err  error
		gen  int
	}
	procTickMsg struct{ gen int }
	// inspectMsg runs a function on the model inside Update, where the
	// model may be read safely (tests).
	inspectMsg func(*Model)
	signalMsg  struct {
		pid  int
		desc string
		name string
		err  error
	}
)

// Model is the UI: Elm-style, its Update changes it in place and its I/O
// runs in commands. View returns a frame rendered once per change.
type Model struct {
	src       Source
	st        styles
	loc       *time.Location
	procEvery time.Duration

	ctx        context.Context
	cancel     context.CancelFunc
	events     chan Event
	streamDone chan struct{}
	// streaming is set when the stream command starts.
	streaming atomic.Bool

	width, height int
	panel         panel
	help          bool
	scroll        [numPanels]int

	info      Info
	infoKnown bool
	payload   *ui.Payload
	connErr   error
	retry     time.Duration
	hist      *history
	seeded    bool
	seedErr   error
	seenRuns  map[string]bool

	procs   *ui.ProcessList
	procErr error
	procGen int
	pv      procView

	dialog    *signalDialog
	status    string
	statusBad bool

	// frame is the last rendered View; dirty says it must be redrawn.
	frame string
	dirty bool
}

// signalDialog is the confirmation asked before sending a signal.
type signalDialog struct {
	pid    int
	desc   string
	choice int
}

// New returns the UI over opts.Source.
func New(opts Options) *Model {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.ProcessRefresh <= 0 {
		opts.ProcessRefresh = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Model{
		src: opts.Source, st: newStyles(opts.Profile), loc: opts.Location, procEvery: opts.ProcessRefresh,
		ctx: ctx, cancel: cancel, events: make(chan Event), streamDone: make(chan struct{}),
		hist: newHistory(), seenRuns: map[string]bool{}, pv: newProcView(), dirty: true,
		info: Info{Processes: true, Runs: true, Alerting: true, History: true},
	}
}

// Close stops the source's stream and waits (up to 5 s) for it to end,
// so that the source's resources (NVML) may be released after.
func (m *Model) Close() {
	m.cancel()
	if !m.streaming.Load() {
		return
	}
	select {
	case <-m.streamDone:
	case <-time.After(5 * time.Second):
	}
}

// Init implements tea.Model: run the stream, wait for its first event and
// ask what the source has.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.stream, m.waitEvent, m.fetchInfo)
}

// stream is the command that runs the source's stream until the UI ends;
// waitEvent hands its events to Update one at a time.
func (m *Model) stream() tea.Msg {
	m.streaming.Store(true)
	defer close(m.streamDone)
	m.src.Stream(m.ctx, m.events)
	return streamEnded{}
}

// waitEvent is the command that delivers the stream's next event.
func (m *Model) waitEvent() tea.Msg {
	select {
	case ev := <-m.events:
		return eventMsg(ev)
	case <-m.ctx.Done():
		return nil
	}
}

func (m *Model) fetchInfo() tea.Msg {
	ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	defer cancel()
	info, err := m.src.Info(ctx)
	if err != nil {
		return nil // an older agent: assume it has everything
	}
	return infoMsg{info}
}

// fetchProcesses is the command that lists the processes for loop gen.
func (m *Model) fetchProcesses(gen int) tea.Cmd {
	src, ctx := m.src, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		l, err := src.Processes(ctx)
		return procsMsg{list: l, err: err, gen: gen}
	}
}

// restartProcesses fetches the process list now and, while the panel is
// visible, every procEvery after; an earlier loop stops.
func (m *Model) restartProcesses() tea.Cmd {
	m.procGen++
	if m.panel != panelProcesses || !m.info.Processes {
		return nil
	}
	return m.fetchProcesses(m.procGen)
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.dirty = true
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case eventMsg:
		return m, m.onEvent(Event(msg))
	case streamEnded:
		return m, nil
	case infoMsg:
		m.info, m.infoKnown = msg.info, true
		if !m.info.Processes {
			m.procs, m.procErr = nil, nil
		}
		return m, nil
	case seedMsg:
		m.onSeed(msg)
		return m, nil
	case procsMsg:
		if msg.err != nil {
			m.procErr = msg.err
		} else {
			cleanProcesses(msg.list)
			m.procs, m.procErr = msg.list, nil
			m.pv.invalidate()
		}
		if msg.gen == m.procGen && m.panel == panelProcesses {
			gen := msg.gen
			return m, tea.Tick(m.procEvery, func(time.Time) tea.Msg { return procTickMsg{gen} })
		}
		return m, nil
	case procTickMsg:
		if msg.gen == m.procGen && m.panel == panelProcesses {
			return m, m.fetchProcesses(msg.gen)
		}
		m.dirty = false
		return m, nil
	case signalMsg:
		if msg.err != nil {
			m.setStatus(fmt.Sprintf("SIG%s to PID %d failed: %v", msg.name, msg.pid, msg.err), true)
		} else {
			m.setStatus(fmt.Sprintf("Sent SIG%s to PID %d (%s)", msg.name, msg.pid, msg.desc), false)
		}
		return m, m.restartProcesses()
	case tea.KeyPressMsg:
		return m.onKey(msg)
	case inspectMsg:
		msg(m)
	}
	m.dirty = false
	return m, nil
}

func (m *Model) setStatus(s string, bad bool) { m.status, m.statusBad = s, bad }

// onEvent takes a stream event; the first snapshot seeds the graphs from
// the source's history, and so does each run's first appearance.
func (m *Model) onEvent(ev Event) tea.Cmd {
	cmds := []tea.Cmd{m.waitEvent}
	if ev.Payload == nil {
		m.connErr, m.retry = ev.Err, ev.Retry
		return tea.Batch(cmds...)
	}
	m.connErr = nil
	m.payload = ev.Payload
	m.hist.observe(ev.Payload)
	if !m.seeded {
		m.seeded = true
		cmds = append(cmds, m.seedHost(ev.Payload))
	}
	for _, r := range ev.Payload.Runs {
		if !m.seenRuns[r.ID] {
			m.seenRuns[r.ID] = true
			cmds = append(cmds, m.seedRun(r, ev.Payload.Host.Time))
		}
	}
	return tea.Batch(cmds...)
}

// seedQuery is one range query that seeds graphs: key names the history
// series of a result's labels ("" to skip it).
type seedQuery struct {
	expr string
	key  func(l map[string]string) string
}

// seedQueries are the queries of the host graphs; w is the rate window.
func seedQueries(w string) []seedQuery {
	gpu := func(what string) func(map[string]string) string {
		return func(l map[string]string) string {
			if l["gpu"] == "" {
				return ""
			}
			return gpuKey(l["gpu"], what)
		}
	}
	dev := func(f func(dev, dir string) string, dir string) func(map[string]string) string {
		return func(l map[string]string) string {
			if l["device"] == "" {
				return ""
			}
			return f(l["device"], dir)
		}
	}
	fixed := func(k string) func(map[string]string) string { return func(map[string]string) string { return k } }
	return []seedQuery{
		{"DCGM_FI_DEV_GPU_UTIL", gpu("util")},
		{"trainwatch_gpu_utilization_percent", gpu("util")},
		{"100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)", gpu("mem")},
		{"100 * trainwatch_gpu_memory_used_bytes / trainwatch_gpu_memory_total_bytes", gpu("mem")},
		{"DCGM_FI_DEV_GPU_TEMP", gpu("temp")},
		{"DCGM_FI_DEV_POWER_USAGE", gpu("power")},
		{`100 * (1 - sum(rate(node_cpu_seconds_total{mode=~"idle|iowait"}[` + w + `])) / sum(rate(node_cpu_seconds_total[` + w + `])))`, fixed(keyCPU)},
		{"100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)", fixed(keyMem)},
		{"100 * (1 - node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes)", fixed(keySwap)},
		{"rate(node_disk_read_bytes_total[" + w + "])", dev(diskKey, "r")},
		{"rate(node_disk_written_bytes_total[" + w + "])", dev(diskKey, "w")},
		{"rate(node_network_receive_bytes_total[" + w + "])", dev(netKey, "rx")},
		{"rate(node_network_transmit_bytes_total[" + w + "])", dev(netKey, "tx")},
	}
}

// step is the interval between a payload's snapshots (1 s when unknown).
func step(p *ui.Payload) time.Duration {
	if p.Host != nil && p.Host.IntervalSeconds > 0 {
		return time.Duration(math.Round(p.Host.IntervalSeconds*1000)) * time.Millisecond
	}
	return time.Second
}

// seedHost is the command that reads the host graphs' recent history.
func (m *Model) seedHost(p *ui.Payload) tea.Cmd {
	src, ctx := m.src, m.ctx
	end := p.Host.Time
	st := step(p)
	start := end.Add(-time.Duration(historyLen-1) * st)
	window := strconv.FormatInt(max(3*st, 2*time.Second).Milliseconds(), 10) + "ms"
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		out := seedMsg{series: map[string][]Point{}}
		for _, q := range seedQueries(window) {
			ss, err := src.QueryRange(ctx, q.expr, start, end, st)
			if err != nil {
				out.err = err
				return out
			}
			for _, s := range ss {
				if k := q.key(s.Labels); k != "" && len(out.series[k]) == 0 {
					out.series[k] = s.Points
				}
			}
		}
		return out
	}
}

// seedRun is the command that reads a run's loss over the whole run.
func (m *Model) seedRun(r ui.RunView, now time.Time) tea.Cmd {
	src, ctx, id := m.src, m.ctx, r.ID
	start, end := r.Start, now
	if r.End != nil && r.End.Before(end) {
		end = *r.End
	}
	if !start.Before(end) {
		return nil
	}
	st := max(end.Sub(start)/runHistoryLen, time.Second)
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		ss, err := src.QueryRange(ctx, `training_loss{run="`+promEscape(id)+`"}`, start, end, st)
		if err != nil || len(ss) == 0 {
			return nil
		}
		return seedMsg{runs: map[string][]Point{id: ss[0].Points}}
	}
}

// promEscape escapes a PromQL string literal's content.
func promEscape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func (m *Model) onSeed(s seedMsg) {
	if s.err != nil {
		m.seedErr = s.err
	}
	for k, pts := range s.series {
		m.hist.ring(k).seed(pts)
	}
	for id, pts := range s.runs {
		c := m.hist.runs[id]
		if c == nil {
			c = &compacting{}
			m.hist.runs[id] = c
		}
		c.seed(pts)
	}
}

// quit stops the stream and ends the program.
func (m *Model) quit() (tea.Model, tea.Cmd) {
	m.cancel()
	return m, tea.Quit
}

// setPanel switches to p, starting or stopping the process list's refresh.
func (m *Model) setPanel(p panel) tea.Cmd {
	if p == m.panel {
		return nil
	}
	m.panel = p
	return m.restartProcesses()
}

func (m *Model) onKey(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	key := k.String()
	if key == "ctrl+c" {
		return m.quit()
	}
	m.status = ""
	if m.dialog != nil {
		return m, m.dialogKey(key)
	}
	if m.pv.filtering {
		m.filterKey(k)
		return m, nil
	}
	if m.help {
		switch key {
		case "q":
			return m.quit()
		case "?", "esc", "enter":
			m.help = false
		}
		return m, nil
	}
	switch key {
	case "q":
		return m.quit()
	case "?":
		m.help = true
		return m, nil
	case "tab", "right":
		return m, m.setPanel((m.panel + 1) % numPanels)
	case "shift+tab", "left":
		return m, m.setPanel((m.panel + numPanels - 1) % numPanels)
	case "1", "2", "3", "4", "5", "6", "7", "8", "9":
		return m, m.setPanel(panel(key[0] - '1'))
	}
	if m.panel == panelProcesses {
		return m, m.processKey(key)
	}
	m.scrollKey(key)
	return m, nil
}

// scrollKey scrolls a panel taller than the screen.
func (m *Model) scrollKey(key string) {
	page := max(1, m.bodyHeight()-1)
	s := &m.scroll[m.panel]
	switch key {
	case "up":
		*s--
	case "down":
		*s++
	case "pgup":
		*s -= page
	case "pgdown", "space":
		*s += page
	case "home":
		*s = 0
	case "end":
		*s = math.MaxInt32
	default:
		m.dirty = false
	}
	*s = max(0, *s) // the render clamps the bottom
}

func (m *Model) processKey(key string) tea.Cmd {
	pv := &m.pv
	switch key {
	case "c":
		pv.setSort(sortCPU)
	case "m":
		pv.setSort(sortMem)
	case "g":
		pv.setSort(sortGPU)
	case "i":
		pv.setSort(sortIO)
	case "p":
		pv.setSort(sortPID)
	case "n":
		pv.setSort(sortName)
	case "r":
		pv.reverse = !pv.reverse
		pv.invalidate()
	case "t":
		pv.tree = !pv.tree
		pv.invalidate()
	case "/":
		pv.filtering = true
	case "esc":
		if pv.filter != "" {
			pv.filter = ""
			pv.invalidate()
		}
	case "k":
		m.openDialog()
	case "up", "down", "pgup", "pgdown", "home", "end":
		m.moveSelection(key)
	default:
		m.dirty = false
	}
	return nil
}

// filterKey edits the filter while it is typed: Enter keeps it, Esc
// clears it.
func (m *Model) filterKey(k tea.KeyPressMsg) {
	pv := &m.pv
	switch k.String() {
	case "enter":
		pv.filtering = false
	case "esc":
		pv.filtering = false
		pv.filter = ""
	case "backspace", "ctrl+h":
		if r := []rune(pv.filter); len(r) > 0 {
			pv.filter = string(r[:len(r)-1])
		}
	case "ctrl+u":
		pv.filter = ""
	default:
		if k.Text == "" || k.Mod&(tea.ModCtrl|tea.ModAlt|tea.ModSuper) != 0 {
			return
		}
		pv.filter += printable(k.Text)
	}
	pv.invalidate()
}

// openDialog asks to confirm a signal to the selected process, or says
// why signals cannot be sent.
func (m *Model) openDialog() {
	if err := m.src.CanSignal(); err != nil {
		m.setStatus("Cannot send signals: "+err.Error(), true)
		return
	}
	row := m.selectedRow()
	if row == nil {
		m.setStatus("No process selected", true)
		return
	}
	m.dialog = &signalDialog{pid: row.PID, desc: commandLine(row)}
}

func (m *Model) dialogKey(key string) tea.Cmd {
	d := m.dialog
	n := len(signalChoices())
	switch key {
	case "left", "shift+tab":
		d.choice = (d.choice + n - 1) % n
	case "right", "tab":
		d.choice = (d.choice + 1) % n
	case "y", "Y":
		m.dialog = nil
		c := signalChoices()[d.choice]
		src, pid, desc := m.src, d.pid, d.desc
		return func() tea.Msg {
			return signalMsg{pid: pid, desc: desc, name: c.name, err: src.Signal(pid, c.sig)}
		}
	default:
		m.dialog = nil
		m.setStatus("No signal sent", false)
	}
	return nil
}
