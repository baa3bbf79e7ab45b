package summary

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxTextTopProcesses is how many of the top processes WriteText lists,
// the busiest by CPU; a line counts the others.
const MaxTextTopProcesses = 10

// gpuList formats sorted GPU indexes compactly: runs of three or more
// consecutive numbers as a range, "0-7", "0,2", "0-3,6". Indexes that are
// not plain numbers are listed as they are. "-" for none.
func gpuList(gpus []string) string {
	if len(gpus) == 0 {
		return "-"
	}
	var parts []string
	for i := 0; i < len(gpus); {
		n, ok := gpuNumber(gpus[i])
		j := i + 1
		if ok {
			for j < len(gpus) {
				if m, ok := gpuNumber(gpus[j]); !ok || m != n+(j-i) {
					break
				}
				j++
			}
		}
		if j-i >= 3 {
			parts = append(parts, gpus[i]+"-"+gpus[j-1])
		} else {
			parts = append(parts, gpus[i:j]...)
		}
		i = j
	}
	return strings.Join(parts, ",")
}

// gpuNumber returns the number a GPU index is, if it is one written
// canonically ("3", not "03" or "+3").
func gpuNumber(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == s
}

func optRate(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmtRate(*v)
}

func (h *Host) textJobs(p *printer) {
	if len(h.Jobs) == 0 {
		return
	}
	rows := [][]cell{{c("NAME"), c("LAUNCHER"), c("USER"), c("GPUS"), c("RANKS/WORKERS"), c("CPU%"), c("RSS"),
		c("GPU MEM"), c("I/O R/W"), c("RUNNING")}}
	right := []bool{false, false, false, false, true, true, true, true, true, true}
	for _, j := range h.Jobs {
		name := j.Name
		if name == "" {
			name = j.ID
		}
		running := "-"
		if j.RunningSeconds != nil {
			running = fmtUptime(*j.RunningSeconds)
		}
		rows = append(rows, []cell{c(name), c(orDash(j.Launcher)), c(orDash(j.User)), c(gpuList(j.GPUs)),
			c(fmt.Sprintf("%d/%d", j.Ranks, j.Workers)), c(fmtPercent(j.CPUPercent)), c(FormatBytes(j.ResidentBytes)),
			c(FormatBytes(j.GPUMemoryBytes)), c(fmtRate(j.ReadBytesPerSecond) + " / " + fmtRate(j.WriteBytesPerSecond)),
			c(running)})
	}
	rows, right = fitTable(rows, right, p.maxWidth, fitStep{header: "NAME", n: 16}, fitStep{header: "USER", n: 8},
		fitStep{header: "I/O R/W"}, fitStep{header: "NAME", n: 12}, fitStep{header: "RSS"}, fitStep{header: "LAUNCHER"},
		fitStep{header: "RUNNING"}, fitStep{header: "NAME", n: 8})
	p.section("JOBS")
	p.table(right, rows)
}

func (h *Host) textTopProcesses(p *printer) {
	if len(h.Processes) == 0 {
		return
	}
	procs := h.Processes
	more := 0
	if len(procs) > MaxTextTopProcesses {
		more = len(procs) - MaxTextTopProcesses
		procs = procs[:MaxTextTopProcesses]
	}
	rows := [][]cell{{c("PID"), c("USER"), c("CPU%"), c("RSS"), c("READ/s"), c("WRITE/s"), c("GPU MEM"), c("COMMAND")}}
	right := []bool{true, false, true, true, true, true, true, false}
	for _, pr := range procs {
		rows = append(rows, []cell{c(strconv.FormatInt(pr.PID, 10)), c(orDash(pr.User)), c(fmtPercent(pr.CPUPercent)),
			c(FormatBytes(pr.ResidentBytes)), c(optRate(pr.ReadBytesPerSecond)), c(optRate(pr.WriteBytesPerSecond)),
			c(optBytes(pr.GPUMemoryBytes)), c(orDash(pr.Command))})
	}
	rows, right = fitTable(rows, right, p.maxWidth, fitStep{header: "COMMAND", n: 12}, fitStep{header: "USER", n: 8},
		fitStep{header: "COMMAND", n: 8}, fitStep{header: "GPU MEM"}, fitStep{header: "WRITE/s"}, fitStep{header: "READ/s"})
	p.section("TOP PROCESSES")
	p.table(right, rows)
	if more > 0 {
		p.printf("  … %d more\n", more)
	}
}
