package process

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// DefaultTopN is the number of processes reported per ranking.
const DefaultTopN = 10

// Collector scans the processes each tick and emits process-exporter's
// namedprocess_namegroup_* groups and the top processes.
type Collector struct {
	scanner  *Scanner
	interval time.Duration
	matchers []*matcher // nil: group by comm
	children bool
	topN     int
	// removeAfter is how long an empty group is kept (negative: forever).
	removeAfter time.Duration

	tick    uint64
	members map[memberKey]*member
	groups  map[string]*group
	names   []string // sorted group names
	top     []*Proc
	tmpl    strings.Builder

	scrapeErrors, readErrors, partialErrors float64

	numProcs, cpu, readBytes, writeBytes, majflt, minflt, ctxsw, mem, fds, worstFD, oldest, threads, states *collector.Desc
	scrapeErrDesc, readErrDesc, partialErrDesc                                                              *collector.Desc
	topCPU, topRSS, topRead, topWrite, topFDs, topThreads, topStart                                         *collector.Desc
}

type memberKey struct {
	pid   int
	start uint64
}

// counters are a process's cumulative values, in integers (CPU in clock
// ticks) so that sums are exact: a group's total must not change, let
// alone drop, when a member's values move into the departed totals.
type counters struct {
	user, sys, read, write, majflt, minflt, vol, nonvol uint64
}

func (c *counters) add(o *counters) {
	c.user += o.user
	c.sys += o.sys
	c.read += o.read
	c.write += o.write
	c.majflt += o.majflt
	c.minflt += o.minflt
	c.vol += o.vol
	c.nonvol += o.nonvol
}

// member is one process the collector has seen.
type member struct {
	group   *group // nil: not grouped
	seen    uint64 // tick last seen
	topTick uint64 // tick it was last in the top set
	last    counters
	comm    string
	labels  []string // pid, command, user
}

// The five states process-exporter reports.
var stateNames = [...]string{"Running", "Sleeping", "Waiting", "Zombie", "Other"}

func stateIndex(s byte) int {
	switch s {
	case 'R':
		return 0
	case 'S':
		return 1
	case 'D':
		return 2
	case 'Z':
		return 3
	}
	return 4
}

// group is one namegroup: the totals of its departed processes and this
// tick's sums.
type group struct {
	lbl                    []string
	lblUser, lblSys        []string
	lblVol, lblNonvol      []string
	lblRes, lblVirt, lblSw []string
	lblStates              [5][]string

	departed counters
	cur      counters
	procs    int
	threads  int
	fds      int
	res      uint64
	virt     uint64
	swap     uint64
	worst    float64
	oldest   time.Time
	states   [5]int
	// busy is the last scan that found a process in the group.
	busy time.Time
}

func newGroup(name string) *group {
	g := &group{
		lbl:     []string{name},
		lblUser: []string{name, "user"}, lblSys: []string{name, "system"},
		lblVol: []string{name, "voluntary"}, lblNonvol: []string{name, "nonvoluntary"},
		lblRes: []string{name, "resident"}, lblVirt: []string{name, "virtual"}, lblSw: []string{name, "swapped"},
	}
	for i, s := range stateNames {
		g.lblStates[i] = []string{name, s}
	}
	return g
}

// New returns the process collector ("process") for cfg, with a Scanner
// of its own.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	c, err := NewCollector(NewScanner(roots, nil), cfg)
	if err != nil {
		return nil, err
	}
	return []collector.Collector{c}, nil
}

// NewCollector returns a collector that scans with s (whose Latest table
// others, such as job attribution, may read).
func NewCollector(s *Scanner, cfg Config) (*Collector, error) {
	groups := cfg.Groups
	if cfg.GroupsFile != "" {
		if len(cfg.Groups) > 0 {
			return nil, fmt.Errorf("process: set either process_names or groups_file (%s), not both", cfg.GroupsFile)
		}
		var err error
		if groups, err = LoadGroupsFile(cfg.GroupsFile); err != nil {
			return nil, err
		}
	}
	var ms []*matcher
	if len(groups) > 0 {
		var err error
		if ms, err = compileMatchers(groups); err != nil {
			return nil, fmt.Errorf("process: %w", err)
		}
	}
	topN := cfg.TopN
	if topN == 0 {
		topN = DefaultTopN
	}
	children := cfg.Children == nil || *cfg.Children
	removeEmpty := cfg.RemoveEmptyAfter
	if removeEmpty == 0 {
		removeEmpty = DefaultRemoveEmptyAfter
	}
	gn := []string{"groupname"}
	g := func(name, help string, t collector.ValueType, extra ...string) *collector.Desc {
		return collector.NewDesc("namedprocess_namegroup_"+name, help, t, append(gn[:1:1], extra...)...)
	}
	tl := []string{"pid", "command", "user"}
	tp := func(name, help string) *collector.Desc {
		return collector.NewDesc("trainwatch_process_"+name, help, collector.Gauge, tl...)
	}
	return &Collector{
		scanner:     s,
		interval:    cfg.Interval,
		matchers:    ms,
		children:    children,
		topN:        topN,
		removeAfter: removeEmpty,
		members:     make(map[memberKey]*member),
		groups:      make(map[string]*group),

		numProcs:   g("num_procs", "number of processes in this group", collector.Gauge),
		cpu:        g("cpu_seconds_total", "Cpu user usage in seconds", collector.Counter, "mode"),
		readBytes:  g("read_bytes_total", "number of bytes read by this group", collector.Counter),
		writeBytes: g("write_bytes_total", "number of bytes written by this group", collector.Counter),
		majflt:     g("major_page_faults_total", "Major page faults", collector.Counter),
		minflt:     g("minor_page_faults_total", "Minor page faults", collector.Counter),
		ctxsw:      g("context_switches_total", "Context switches", collector.Counter, "ctxswitchtype"),
		mem:        g("memory_bytes", "number of bytes of memory in use", collector.Gauge, "memtype"),
		fds:        g("open_filedesc", "number of open file descriptors for this group", collector.Gauge),
		worstFD:    g("worst_fd_ratio", "the worst (closest to 1) ratio between open fds and max fds among all procs in this group", collector.Gauge),
		oldest:     g("oldest_start_time_seconds", "start time in seconds since 1970/01/01 of oldest process in group", collector.Gauge),
		threads:    g("num_threads", "Number of threads", collector.Gauge),
		states:     g("states", "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other", collector.Gauge, "state"),

		scrapeErrDesc:  collector.NewDesc("namedprocess_scrape_errors", "general scrape errors: no proc metrics collected during a cycle", collector.Counter),
		readErrDesc:    collector.NewDesc("namedprocess_scrape_procread_errors", "incremented each time a proc's metrics collection fails", collector.Counter),
		partialErrDesc: collector.NewDesc("namedprocess_scrape_partial_errors", "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats", collector.Counter),

		topCPU:     tp("cpu_percent", "CPU used by the process since the previous scan, in percent of one CPU (top processes only)."),
		topRSS:     tp("resident_memory_bytes", "Resident memory of the process (top processes only)."),
		topRead:    tp("read_bytes_per_second", "Storage bytes read per second by the process since the previous scan (top processes only)."),
		topWrite:   tp("write_bytes_per_second", "Storage bytes written per second by the process since the previous scan (top processes only)."),
		topFDs:     tp("open_fds", "Open file descriptors of the process (top processes only)."),
		topThreads: tp("threads", "Threads of the process (top processes only)."),
		topStart:   tp("start_time_seconds", "Start time of the process in seconds since the epoch (top processes only)."),
	}, nil
}

// Name is "process".
func (c *Collector) Name() string { return "process" }

// MinInterval is Config.Interval (0: every tick).
func (c *Collector) MinInterval() time.Duration { return c.interval }

// Scanner returns the collector's scanner.
func (c *Collector) Scanner() *Scanner { return c.scanner }

// Collect scans the processes and emits the groups and top processes.
func (c *Collector) Collect(ctx context.Context, e *collector.Emitter) error {
	tab, err := c.scanner.Scan(ctx)
	if err != nil {
		c.scrapeErrors++
		return err
	}
	c.readErrors += float64(tab.ReadErrors)
	c.partialErrors += float64(tab.PartialErrors)
	c.tick++
	for _, g := range c.groups {
		g.cur = counters{}
		g.procs, g.threads, g.fds, g.res, g.virt, g.swap, g.worst = 0, 0, 0, 0, 0, 0, 0
		g.oldest, g.states = time.Time{}, [5]int{}
	}
	for _, p := range tab.Procs {
		m := c.member(tab, p, 0)
		c.account(m, p)
	}
	for k, m := range c.members {
		if m.seen != c.tick {
			if m.group != nil {
				m.group.departed.add(&m.last)
			}
			delete(c.members, k)
		}
	}
	c.removeEmptyGroups(tab.Time)
	c.emitGroups(e)
	if c.topN > 0 {
		c.emitTop(e, tab)
	}
	return nil
}

// member returns p's member, assigning its group on first sight.
func (c *Collector) member(tab *Table, p *Proc, depth int) *member {
	k := memberKey{p.PID, p.StartTicks}
	if m := c.members[k]; m != nil {
		return m
	}
	m := &member{}
	c.members[k] = m
	name, ok := c.groupName(p)
	if ok {
		m.group = c.group(name)
	} else if c.children && depth < 512 {
		if parent := tab.Procs[p.PPID]; parent != nil && parent.PID != p.PID {
			m.group = c.member(tab, parent, depth+1).group
		}
	}
	return m
}

// groupName returns the group p's matchers give it.
func (c *Collector) groupName(p *Proc) (string, bool) {
	if c.matchers == nil {
		return p.Comm, true
	}
	for _, m := range c.matchers {
		name, ok, err := m.match(p, &c.tmpl)
		if err != nil {
			c.partialErrors++
			return "", false
		}
		if ok {
			return name, true
		}
	}
	return "", false
}

// removeEmptyGroups notes which groups have processes at now and drops
// those that have had none for c.removeAfter. A group without a process
// has no member left (a member's exit moves its counters into the
// group's departed ones and drops the member), so nothing points to it.
func (c *Collector) removeEmptyGroups(now time.Time) {
	drop := false
	for _, g := range c.groups {
		if g.procs > 0 || g.busy.IsZero() {
			g.busy = now
		} else if c.removeAfter > 0 && now.Sub(g.busy) > c.removeAfter {
			drop = true
		}
	}
	if !drop {
		return
	}
	c.names = slices.DeleteFunc(c.names, func(name string) bool {
		g := c.groups[name]
		if g.procs == 0 && now.Sub(g.busy) > c.removeAfter {
			delete(c.groups, name)
			return true
		}
		return false
	})
}

func (c *Collector) group(name string) *group {
	if g := c.groups[name]; g != nil {
		return g
	}
	g := newGroup(name)
	c.groups[name] = g
	i, _ := slices.BinarySearch(c.names, name)
	c.names = slices.Insert(c.names, i, name)
	return g
}

// account records p's values into its member and group.
func (c *Collector) account(m *member, p *Proc) {
	m.seen = c.tick
	m.last.user, m.last.sys = toTicks(p.UserSeconds), toTicks(p.SystemSeconds)
	m.last.majflt, m.last.minflt = p.MajorFaults, p.MinorFaults
	missIO, missStatus, missFD := false, false, false
	for _, f := range p.Missing {
		switch f {
		case "io":
			missIO = true
		case "status":
			missStatus = true
		case "fd":
			missFD = true
		}
	}
	// A field that could not be read this time keeps its last value.
	if !missIO {
		m.last.read, m.last.write = p.ReadBytes, p.WriteBytes
	}
	if !missStatus {
		m.last.vol, m.last.nonvol = p.VoluntaryCtxSwitches, p.NonvoluntaryCtxSwitches
	}
	g := m.group
	if g == nil {
		return
	}
	g.cur.add(&m.last)
	g.procs++
	g.threads += p.NumThreads
	g.res += p.ResidentBytes
	g.virt += p.VirtualBytes
	g.swap += p.SwapBytes
	if !missFD {
		g.fds += p.OpenFDs
		if p.MaxFDs > 0 {
			if r := float64(p.OpenFDs) / float64(p.MaxFDs); r > g.worst {
				g.worst = r
			}
		}
	}
	if !p.StartTime.IsZero() && (g.oldest.IsZero() || p.StartTime.Before(g.oldest)) {
		g.oldest = p.StartTime
	}
	g.states[stateIndex(p.State)]++
}

func (c *Collector) emitGroups(e *collector.Emitter) {
	for _, name := range c.names {
		g := c.groups[name]
		t := g.departed
		t.add(&g.cur)
		e.Emit(c.numProcs, float64(g.procs), g.lbl...)
		e.Emit(c.cpu, float64(t.user)/userHZ, g.lblUser...)
		e.Emit(c.cpu, float64(t.sys)/userHZ, g.lblSys...)
		e.Emit(c.readBytes, float64(t.read), g.lbl...)
		e.Emit(c.writeBytes, float64(t.write), g.lbl...)
		e.Emit(c.majflt, float64(t.majflt), g.lbl...)
		e.Emit(c.minflt, float64(t.minflt), g.lbl...)
		e.Emit(c.ctxsw, float64(t.vol), g.lblVol...)
		e.Emit(c.ctxsw, float64(t.nonvol), g.lblNonvol...)
		e.Emit(c.mem, float64(g.res), g.lblRes...)
		e.Emit(c.mem, float64(g.virt), g.lblVirt...)
		e.Emit(c.mem, float64(g.swap), g.lblSw...)
		e.Emit(c.fds, float64(g.fds), g.lbl...)
		e.Emit(c.worstFD, g.worst, g.lbl...)
		oldest := 0.0
		if !g.oldest.IsZero() {
			oldest = float64(g.oldest.UnixNano()) / 1e9
		}
		e.Emit(c.oldest, oldest, g.lbl...)
		e.Emit(c.threads, float64(g.threads), g.lbl...)
		for i := range stateNames {
			e.Emit(c.states, float64(g.states[i]), g.lblStates[i]...)
		}
	}
	e.Emit(c.scrapeErrDesc, c.scrapeErrors)
	e.Emit(c.readErrDesc, c.readErrors)
	e.Emit(c.partialErrDesc, c.partialErrors)
}

// emitTop emits the union of the top N processes by CPU, by resident
// memory and by I/O rate, in PID order.
func (c *Collector) emitTop(e *collector.Emitter, tab *Table) {
	c.top = c.top[:0]
	for _, p := range tab.Procs {
		c.top = append(c.top, p)
	}
	n := min(c.topN, len(c.top))
	mark := func() {
		for _, p := range c.top[:n] {
			c.members[memberKey{p.PID, p.StartTicks}].topTick = c.tick
		}
	}
	slices.SortFunc(c.top, func(a, b *Proc) int { return cmpDesc(a.CPUPercent, b.CPUPercent, a, b) })
	mark()
	slices.SortFunc(c.top, func(a, b *Proc) int {
		return cmpDesc(float64(a.ResidentBytes), float64(b.ResidentBytes), a, b)
	})
	mark()
	slices.SortFunc(c.top, func(a, b *Proc) int {
		return cmpDesc(a.ReadBytesPerSecond+a.WriteBytesPerSecond, b.ReadBytesPerSecond+b.WriteBytesPerSecond, a, b)
	})
	mark()
	sel := c.top[:0]
	for _, p := range tab.Procs {
		if c.members[memberKey{p.PID, p.StartTicks}].topTick == c.tick {
			sel = append(sel, p)
		}
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].PID < sel[j].PID })
	for _, p := range sel {
		m := c.members[memberKey{p.PID, p.StartTicks}]
		if m.labels == nil || m.comm != p.Comm {
			m.comm = p.Comm
			m.labels = []string{strconv.Itoa(p.PID), p.Comm, p.User}
		}
		e.Emit(c.topCPU, p.CPUPercent, m.labels...)
		e.Emit(c.topRSS, float64(p.ResidentBytes), m.labels...)
		if p.Has("io") {
			e.Emit(c.topRead, p.ReadBytesPerSecond, m.labels...)
			e.Emit(c.topWrite, p.WriteBytesPerSecond, m.labels...)
		}
		if p.Has("fd") {
			e.Emit(c.topFDs, float64(p.OpenFDs), m.labels...)
		}
		e.Emit(c.topThreads, float64(p.NumThreads), m.labels...)
		if !p.StartTime.IsZero() {
			e.Emit(c.topStart, float64(p.StartTime.UnixNano())/1e9, m.labels...)
		}
	}
}

// toTicks turns Proc's CPU seconds back into the clock ticks they came from.
func toTicks(sec float64) uint64 { return uint64(math.Round(sec * userHZ)) }

// cmpDesc orders by v descending, then by PID, so that ties are stable.
func cmpDesc(va, vb float64, a, b *Proc) int {
	switch {
	case va > vb:
		return -1
	case va < vb:
		return 1
	}
	return a.PID - b.PID
}
