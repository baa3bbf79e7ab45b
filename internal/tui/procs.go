package tui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// sortKey is the process table's sort column.
type sortKey int

const (
	sortCPU sortKey = iota
	sortMem
	sortGPU
	sortIO
	sortPID
	sortName
)

// label is the column header the sort indicator goes on.
func (k sortKey) label() string {
	switch k {
	case sortMem:
		return "MEM"
	case sortGPU:
		return "GPU MEM"
	case sortIO:
		return "I/O"
	case sortPID:
		return "PID"
	case sortName:
		return "COMMAND"
	}
	return "CPU%"
}

// descending is the key's natural direction: largest first for amounts,
// smallest first for PIDs and names.
func (k sortKey) descending() bool { return k != sortPID && k != sortName }

// procView is the processes panel's state.
type procView struct {
	key       sortKey
	reverse   bool
	tree      bool
	filter    string
	filtering bool
	// sel is the selected PID (0: the first row); offset the first row
	// shown.
	sel    int
	offset int
	// rows are the rows to show, derived from the list and the settings
	// above; nil when they must be derived again.
	rows  []procRow
	total int
}

// procRow is one row of the table: a process and, in tree view, its depth
// and the tree lines drawn before its command.
type procRow struct {
	p      *ui.ProcessRow
	prefix string
}

func newProcView() procView { return procView{key: sortCPU} }

func (pv *procView) invalidate() { pv.rows = nil }

func (pv *procView) setSort(k sortKey) {
	if pv.key == k {
		pv.reverse = !pv.reverse
	} else {
		pv.key, pv.reverse = k, false
	}
	pv.invalidate()
}

// ioRate is a row's read + write rate (0 when unknown).
func ioRate(p *ui.ProcessRow) float64 {
	var v float64
	if p.ReadBytesPerSecond != nil {
		v += *p.ReadBytesPerSecond
	}
	if p.WriteBytesPerSecond != nil {
		v += *p.WriteBytesPerSecond
	}
	return v
}

// compare orders a before b by the view's key and direction, PID last.
func (pv *procView) compare(a, b *ui.ProcessRow) int {
	var c int
	switch pv.key {
	case sortCPU:
		c = cmp.Compare(a.CPUPercent, b.CPUPercent)
	case sortMem:
		c = cmp.Compare(a.ResidentBytes, b.ResidentBytes)
	case sortGPU:
		c = cmp.Compare(a.GPUMemoryBytes, b.GPUMemoryBytes)
	case sortIO:
		c = cmp.Compare(ioRate(a), ioRate(b))
	case sortName:
		c = cmp.Compare(a.Command, b.Command)
	}
	if pv.key.descending() {
		c = -c
	}
	if c == 0 {
		c = cmp.Compare(a.PID, b.PID)
	}
	if pv.reverse {
		c = -c
	}
	return c
}

// matches reports whether p matches the filter (lower case): a substring
// of its command line, command, user, PID, job, container or GPUs.
func matches(p *ui.ProcessRow, f string) bool {
	if f == "" {
		return true
	}
	for _, s := range []string{p.Cmdline, p.Command, p.User, p.JobName, p.Job, p.Container} {
		if strings.Contains(strings.ToLower(s), f) {
			return true
		}
	}
	return strconv.Itoa(p.PID) == f
}

// derive computes the rows of list: filtered, sorted, and in tree view
// each process under its parent (a process whose parent is filtered out
// is a root).
func (pv *procView) derive(list *ui.ProcessList) []procRow {
	if pv.rows != nil {
		return pv.rows
	}
	pv.rows = []procRow{}
	if list == nil {
		pv.total = 0
		return pv.rows
	}
	pv.total = len(list.Processes)
	f := strings.ToLower(strings.TrimSpace(pv.filter))
	kept := make([]*ui.ProcessRow, 0, len(list.Processes))
	for i := range list.Processes {
		if p := &list.Processes[i]; matches(p, f) {
			kept = append(kept, p)
		}
	}
	slices.SortFunc(kept, pv.compare)
	if !pv.tree {
		for _, p := range kept {
			pv.rows = append(pv.rows, procRow{p: p})
		}
		return pv.rows
	}
	byPID := make(map[int]bool, len(kept))
	for _, p := range kept {
		byPID[p.PID] = true
	}
	children := map[int][]*ui.ProcessRow{}
	var roots []*ui.ProcessRow
	for _, p := range kept { // in sort order, so siblings stay sorted
		if p.PPID != p.PID && byPID[p.PPID] {
			children[p.PPID] = append(children[p.PPID], p)
		} else {
			roots = append(roots, p)
		}
	}
	var walk func(p *ui.ProcessRow, lead string, last, root bool, depth int)
	walk = func(p *ui.ProcessRow, lead string, last, root bool, depth int) {
		prefix, next := "", ""
		if !root {
			if last {
				prefix, next = lead+"└─", lead+"  "
			} else {
				prefix, next = lead+"├─", lead+"│ "
			}
		}
		pv.rows = append(pv.rows, procRow{p: p, prefix: prefix})
		if depth > 64 { // a PID cycle in a racy scan
			return
		}
		kids := children[p.PID]
		for i, c := range kids {
			walk(c, next, i == len(kids)-1, false, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, "", true, true, 0)
	}
	return pv.rows
}

// index is the position of the selected PID in rows (0 when absent).
func (pv *procView) index(rows []procRow) int {
	for i, r := range rows {
		if r.p.PID == pv.sel {
			return i
		}
	}
	return 0
}

// selectedRow is the selected process, nil when the table is empty.
func (m *Model) selectedRow() *ui.ProcessRow {
	rows := m.pv.derive(m.procs)
	if len(rows) == 0 {
		return nil
	}
	return rows[m.pv.index(rows)].p
}

// moveSelection moves the selection and scrolls to keep it visible.
func (m *Model) moveSelection(key string) {
	rows := m.pv.derive(m.procs)
	if len(rows) == 0 {
		return
	}
	i := m.pv.index(rows)
	page := max(1, m.procRowsVisible()-1)
	switch key {
	case "up":
		i--
	case "down":
		i++
	case "pgup":
		i -= page
	case "pgdown":
		i += page
	case "home":
		i = 0
	case "end":
		i = len(rows) - 1
	}
	i = max(0, min(i, len(rows)-1))
	m.pv.sel = rows[i].p.PID
}
