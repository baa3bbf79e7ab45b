package tui

import (
	"strconv"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/ui"
)

func pids(rows []procRow) string {
	s := make([]string, len(rows))
	for i, r := range rows {
		s[i] = strconv.Itoa(r.p.PID)
	}
	return strings.Join(s, " ")
}

func f64(v float64) *float64 { return &v }

func TestProcessViewSortFilterTree(t *testing.T) {
	list := &ui.ProcessList{Processes: []ui.ProcessRow{
		{PID: 1, PPID: 0, Command: "systemd", Cmdline: "/sbin/init", User: "root", CPUPercent: 0.1, ResidentBytes: 10},
		{PID: 10, PPID: 1, Command: "torchrun", Cmdline: "torchrun train.py", User: "alice", CPUPercent: 1, ResidentBytes: 100, JobName: "train.py"},
		{PID: 11, PPID: 10, Command: "python3", Cmdline: "python3 train.py --rank 0", User: "alice", CPUPercent: 130, ResidentBytes: 5000, GPUMemoryBytes: 900, ReadBytesPerSecond: f64(10), JobName: "train.py"},
		{PID: 12, PPID: 10, Command: "python3", Cmdline: "python3 train.py --rank 1", User: "alice", CPUPercent: 120, ResidentBytes: 6000, GPUMemoryBytes: 800, ReadBytesPerSecond: f64(20), JobName: "train.py"},
		{PID: 13, PPID: 11, Command: "pt_data_worker", Cmdline: "python3 train.py --rank 0", User: "alice", CPUPercent: 90, ResidentBytes: 300, ReadBytesPerSecond: f64(500)},
		{PID: 20, PPID: 1, Command: "nginx", Cmdline: "nginx: worker", User: "www-data", CPUPercent: 0.5, ResidentBytes: 50, Container: "3f2a9c1b7d4e", WriteBytesPerSecond: f64(5)},
	}}
	cases := []struct {
		name    string
		key     sortKey
		reverse bool
		filter  string
		tree    bool
		want    string
		prefix  map[int]string
	}{
		{name: "CPU", key: sortCPU, want: "11 12 13 10 20 1"},
		{name: "CPU reversed", key: sortCPU, reverse: true, want: "1 20 10 13 12 11"},
		{name: "memory", key: sortMem, want: "12 11 13 10 20 1"},
		{name: "GPU memory, PID breaks ties", key: sortGPU, want: "11 12 1 10 13 20"},
		{name: "I/O", key: sortIO, want: "13 12 11 20 1 10"},
		{name: "PID", key: sortPID, want: "1 10 11 12 13 20"},
		{name: "name", key: sortName, want: "20 13 11 12 1 10"},
		{name: "filter by command line", key: sortCPU, filter: "rank 1", want: "12"},
		{name: "filter by user, any case", key: sortCPU, filter: "WWW", want: "20"},
		{name: "filter by job", key: sortPID, filter: "train.py", want: "10 11 12 13"},
		{name: "filter by container", key: sortPID, filter: "3f2a", want: "20"},
		{name: "filter by PID", key: sortPID, filter: "13", want: "13"},
		{name: "tree", key: sortCPU, tree: true, want: "1 10 11 13 12 20",
			prefix: map[int]string{1: "", 10: "├─", 11: "│ ├─", 13: "│ │ └─", 12: "│ └─", 20: "└─"}},
		{name: "tree, filtered: orphans are roots", key: sortCPU, tree: true, filter: "python3", want: "11 13 12"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pv := procView{key: c.key, reverse: c.reverse, filter: c.filter, tree: c.tree}
			rows := pv.derive(list)
			if got := pids(rows); got != c.want {
				t.Errorf("order %q, want %q", got, c.want)
			}
			for _, r := range rows {
				if want, ok := c.prefix[r.p.PID]; ok && r.prefix != want {
					t.Errorf("PID %d prefix %q, want %q", r.p.PID, r.prefix, want)
				}
			}
		})
	}
}

func TestSetSortTogglesDirection(t *testing.T) {
	pv := newProcView()
	pv.setSort(sortMem)
	if pv.key != sortMem || pv.reverse {
		t.Fatalf("after m: %+v", pv)
	}
	pv.setSort(sortMem)
	if !pv.reverse {
		t.Error("the same key again does not reverse")
	}
	pv.setSort(sortCPU)
	if pv.key != sortCPU || pv.reverse {
		t.Errorf("a new key keeps the reversal: %+v", pv)
	}
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		p    ui.ProcessRow
		want string
	}{
		{ui.ProcessRow{Cmdline: "/opt/conda/bin/python3 -u train.py"}, "python3 -u train.py"},
		{ui.ProcessRow{Cmdline: "/sbin/init"}, "init"},
		{ui.ProcessRow{Cmdline: "-bash"}, "-bash"},
		{ui.ProcessRow{Cmdline: "sshd: alice@pts/0"}, "sshd: alice@pts/0"},
		{ui.ProcessRow{Command: "defunct"}, "[defunct]"},
	}
	for _, c := range cases {
		if got := commandLine(&c.p); got != c.want {
			t.Errorf("commandLine(%q) = %q, want %q", c.p.Cmdline, got, c.want)
		}
	}
}
