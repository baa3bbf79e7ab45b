package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// procCol is one column of the process table.
type procCol struct {
	title string
	w     int
	right bool
	// sorts is the sort key the column shows, -1 for none.
	sorts sortKey
	cell  func(r procRow) string
}

func optRate(p *float64) string {
	if v, ok := val(p); ok {
		return fmtRate(v)
	}
	return "-"
}

// commandLine is a process's command line with argv[0]'s directory left
// out ("python3 -u train.py" for "/opt/conda/bin/python3 -u train.py"), or
// its command in brackets when it has none (a zombie).
func commandLine(p *ui.ProcessRow) string {
	c := p.Cmdline
	if c == "" {
		return "[" + p.Command + "]"
	}
	if strings.HasPrefix(c, "/") {
		arg0, rest, _ := strings.Cut(c, " ")
		if rest != "" {
			return baseName(arg0) + " " + rest
		}
		return baseName(arg0)
	}
	return c
}

// procColumns are the table's columns for a width: more of them on wider
// screens. The RUN, JOB and CONTAINER columns are shown when a process has
// one (runOf names the training run of a process's job; under 160 columns
// one RUN/JOB column shows the run, else the job); the command column
// comes last and takes the rest of the line.
func procColumns(w int, runOf func(*ui.ProcessRow) string, runs, jobs, containers bool) []procCol {
	pid := procCol{"PID", 7, true, sortPID, func(r procRow) string { return strconv.Itoa(r.p.PID) }}
	user := procCol{"USER", 9, false, -1, func(r procRow) string { return r.p.User }}
	cpu := procCol{"CPU%", 6, true, sortCPU, func(r procRow) string { return strconv.FormatFloat(r.p.CPUPercent, 'f', 1, 64) }}
	mem := procCol{"MEM", 6, true, sortMem, func(r procRow) string { return fmtU(r.p.ResidentBytes) }}
	gpu := procCol{"GPU MEM", 7, true, sortGPU, func(r procRow) string {
		if r.p.GPUMemoryBytes == 0 && len(r.p.GPUs) == 0 {
			return "-"
		}
		return fmtU(r.p.GPUMemoryBytes)
	}}
	cmd := procCol{"COMMAND", 0, false, sortName, func(r procRow) string { return r.prefix + commandLine(r.p) }}
	if w < 100 {
		io := procCol{"I/O", 8, true, sortIO, func(r procRow) string {
			if r.p.ReadBytesPerSecond == nil && r.p.WriteBytesPerSecond == nil {
				return "-"
			}
			return fmtRate(ioRate(r.p))
		}}
		return append(append([]procCol{pid, user, cpu, mem, gpu, io}, runJob(10, runOf, runs, jobs)...), cmd)
	}
	run := procCol{"RUN", 20, false, -1, func(r procRow) string { return runOf(r.p) }}
	state := procCol{"S", 1, false, -1, func(r procRow) string { return r.p.State }}
	thr := procCol{"THR", 4, true, -1, func(r procRow) string { return strconv.Itoa(r.p.Threads) }}
	read := procCol{"READ/s", 8, true, sortIO, func(r procRow) string { return optRate(r.p.ReadBytesPerSecond) }}
	write := procCol{"WRITE/s", 8, true, sortIO, func(r procRow) string { return optRate(r.p.WriteBytesPerSecond) }}
	job := procCol{"JOB", 20, false, -1, func(r procRow) string { return r.p.JobName }}
	ctr := procCol{"CONTAINER", 12, false, -1, func(r procRow) string { return r.p.Container }}
	var cols []procCol
	if w < 160 {
		cols = append([]procCol{pid, user, state, cpu, mem, gpu, read, write}, runJob(14, runOf, runs, jobs)...)
	} else {
		ppid := procCol{"PPID", 7, true, -1, func(r procRow) string { return strconv.Itoa(r.p.PPID) }}
		gpus := procCol{"GPUS", 7, false, -1, func(r procRow) string { return strings.Join(r.p.GPUs, ",") }}
		user.w = 10
		cols = []procCol{pid, ppid, user, state, cpu, mem, thr, gpu, gpus, read, write}
		if runs {
			cols = append(cols, run)
		}
		if jobs {
			cols = append(cols, job)
		}
	}
	if containers {
		cols = append(cols, ctr)
	}
	return append(cols, cmd)
}

// runJob is one column w wide with a process's run, else its job ("RUN/JOB"),
// or its job ("JOB") when no process has a run, or none.
func runJob(w int, runOf func(*ui.ProcessRow) string, runs, jobs bool) []procCol {
	switch {
	case runs:
		return []procCol{{"RUN/JOB", w, false, -1, func(r procRow) string {
			if run := runOf(r.p); run != "" {
				return run
			}
			return r.p.JobName
		}}}
	case jobs:
		return []procCol{{"JOB", w, false, -1, func(r procRow) string { return r.p.JobName }}}
	}
	return nil
}

// procRowsVisible is how many table rows the panel shows.
func (m *Model) procRowsVisible() int { return max(1, m.bodyHeight()-2) }

// processesPanel is htop's process list: every process with its job,
// container and GPU memory, sortable, filterable, as a tree, with a
// selection to send signals to.
func (m *Model) processesPanel(l layout) []string {
	if !m.info.Processes {
		return append([]string{""}, para("This agent lists no processes: its process collector is off (processes.disable in its configuration).", l.w, 0, paint{})...)
	}
	if m.procs == nil {
		if m.procErr != nil {
			return append([]string{""}, para("Cannot list the processes: "+m.procErr.Error(), l.w, 2, m.st.crit)...)
		}
		return []string{"", "Loading the process list from " + m.src.Label() + " …"}
	}
	pv := &m.pv
	rows := pv.derive(m.procs)
	// The run of a process is the run whose job it is in.
	runByJob := map[string]string{}
	if m.payload != nil {
		for _, r := range m.payload.Runs {
			if r.Job != "" {
				runByJob[r.Job] = r.Name
			}
		}
	}
	runOf := func(p *ui.ProcessRow) string { return runByJob[p.Job] }
	var runs, jobs, containers bool
	for _, r := range rows {
		runs = runs || runOf(r.p) != ""
		jobs = jobs || r.p.JobName != ""
		containers = containers || r.p.Container != ""
	}
	cols := procColumns(l.w, runOf, runs, jobs, containers)
	// Title: counts, sort, view, filter, freshness.
	dir := "▼"
	if pv.key.descending() == pv.reverse {
		dir = "▲"
	}
	title := m.st.title.on("PROCESSES") + fmt.Sprintf(" %d", len(rows))
	if len(rows) != pv.total {
		title += fmt.Sprintf(" of %d", pv.total)
	}
	title += " · sort " + pv.key.label() + " " + dir
	if pv.tree {
		title += " · tree"
	}
	if pv.filter != "" {
		title += " · filter " + m.st.key.on(strconv.Quote(pv.filter))
	}
	title += fmt.Sprintf(" · %d jobs", len(m.procs.Jobs))
	title += " · " + m.procs.Time.In(m.loc).Format("15:04:05")
	if m.procErr != nil {
		title += " · " + m.st.crit.on("refresh failed: "+m.procErr.Error())
	}
	// Widths: the command takes what the others leave.
	used := 1
	for _, c := range cols[:len(cols)-1] {
		used += c.w + 1
	}
	cmdW := max(10, l.w-used)
	var hb strings.Builder
	hb.WriteByte(' ')
	for i, c := range cols {
		t := c.title
		if c.sorts == pv.key {
			t += dir
		}
		w := c.w
		if i == len(cols)-1 {
			w = cmdW
		}
		if c.right {
			hb.WriteString(padLeft(t, w))
		} else {
			hb.WriteString(pad(t, w))
		}
		if i < len(cols)-1 {
			hb.WriteByte(' ')
		}
	}
	lines := []string{title, m.st.dim.on(strings.TrimRight(hb.String(), " "))}
	if len(rows) == 0 {
		if pv.filter != "" {
			return append(lines, "", "No process matches "+strconv.Quote(pv.filter)+" (Esc clears the filter).")
		}
		return append(lines, "", "No processes.")
	}
	vis := max(1, l.h-2)
	idx := pv.index(rows)
	if idx < pv.offset {
		pv.offset = idx
	}
	if idx >= pv.offset+vis {
		pv.offset = idx - vis + 1
	}
	pv.offset = max(0, min(pv.offset, len(rows)-vis))
	var b strings.Builder
	for i := pv.offset; i < len(rows) && i < pv.offset+vis; i++ {
		r := rows[i]
		b.Reset()
		if i == idx {
			b.WriteByte('>')
		} else {
			b.WriteByte(' ')
		}
		for j, c := range cols {
			w := c.w
			if j == len(cols)-1 {
				w = cmdW
			}
			v := c.cell(r)
			if c.right {
				b.WriteString(padLeft(v, w))
			} else if j == len(cols)-1 {
				b.WriteString(clip(v, w))
			} else {
				b.WriteString(pad(v, w))
			}
			if j < len(cols)-1 {
				b.WriteByte(' ')
			}
		}
		line := b.String()
		switch {
		case i == idx:
			line = m.st.selected.on(pad(line, l.w))
		case r.p.GPUMemoryBytes > 0:
			line = m.st.accent.on(line)
		case r.p.State == "D" || r.p.State == "Z":
			line = m.st.warn.on(line)
		}
		lines = append(lines, line)
	}
	return lines
}
