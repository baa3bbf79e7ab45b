package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times; it is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procStat is what the harness needs from /proc/PID/stat.
type procStat struct {
	pid   int
	ppid  int
	comm  string
	state byte
	// ticks is utime+stime+cutime+cstime: the process's own CPU time and
	// that of its children that exited and were reaped.
	ticks uint64
	start uint64 // starttime, with pid the process's identity
}

// readProcStat reads /proc/PID/stat; ok is false when the process is gone.
func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	return parseProcStat(pid, b)
}

// parseProcStat parses one /proc/PID/stat line.
func parseProcStat(pid int, b []byte) (procStat, bool) {
	lp := bytes.IndexByte(b, '(')
	rp := bytes.LastIndexByte(b, ')')
	if lp < 0 || rp < lp || rp+2 > len(b) {
		return procStat{}, false
	}
	f := strings.Fields(string(b[rp+2:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 20 {
		return procStat{}, false
	}
	num := func(i int) uint64 {
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return v
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStat{
		pid: pid, ppid: ppid, comm: string(b[lp+1 : rp]), state: f[0][0],
		ticks: num(11) + num(12) + num(13) + num(14),
		start: num(19),
	}, true
}

// listPIDs returns every numeric entry of /proc.
func listPIDs() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if p, err := strconv.Atoi(n); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// procTable is every process on the host at one moment.
type procTable map[int]procStat

// readProcTable reads every process's stat.
func readProcTable() (procTable, error) {
	pids, err := listPIDs()
	if err != nil {
		return nil, err
	}
	t := make(procTable, len(pids))
	for _, p := range pids {
		if st, ok := readProcStat(p); ok {
			t[p] = st
		}
	}
	return t, nil
}

// tree returns root and its live descendants; nil when root is gone or
// its PID now belongs to another process.
func (t procTable) tree(root int, start uint64) []procStat {
	r, ok := t[root]
	if !ok || r.start != start {
		return nil
	}
	children := make(map[int][]int)
	for pid, st := range t {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	out := []procStat{r}
	todo := []int{root}
	seen := map[int]bool{root: true}
	for len(todo) > 0 && len(seen) < 100000 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, c := range children[p] {
			if !seen[c] {
				seen[c] = true
				out = append(out, t[c])
				todo = append(todo, c)
			}
		}
	}
	return out
}

// hostCPU is the busy and total jiffies of all CPUs from /proc/stat.
type hostCPU struct{ busy, total uint64 }

func readHostCPU() hostCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	var h hostCPU
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		if i == 8 || i == 9 { // guest, guest_nice: already in user, nice
			continue
		}
		h.total += v
		if i != 3 && i != 4 { // idle, iowait
			h.busy += v
		}
	}
	return h
}

// busyPct is the share of all CPUs busy between two readings, in percent.
func busyPct(a, b hostCPU) float64 {
	if b.total <= a.total {
		return 0
	}
	return 100 * float64(b.busy-a.busy) / float64(b.total-a.total)
}

// socket is a listening TCP socket or a bound UDP socket.
type socket struct {
	proto string
	ip    net.IP
	port  int
}

func (s socket) String() string {
	return fmt.Sprintf("%s %s", s.proto, net.JoinHostPort(s.ip.String(), strconv.Itoa(s.port)))
}

// boundSockets lists the listening TCP and bound UDP sockets held by pids.
func boundSockets(pids []int) []socket {
	byInode := make(map[string]socket)
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		parseProcNet(proto, byInode)
	}
	var out []socket
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			l, err := os.Readlink(dir + "/" + e.Name())
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			if s, ok := byInode[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")]; ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseProcNet adds /proc/net/PROTO's listening (TCP) or bound (UDP)
// sockets to byInode.
func parseProcNet(proto string, byInode map[string]socket) {
	b, err := os.ReadFile("/proc/net/" + proto)
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		hexIP, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			continue
		}
		if strings.HasPrefix(proto, "tcp") && f[3] != "0A" { // LISTEN
			continue
		}
		if strings.HasPrefix(proto, "udp") && port == 0 {
			continue
		}
		raw, err := hex.DecodeString(hexIP)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			continue
		}
		// The kernel prints each 32-bit word in host (little-endian) order.
		for i := 0; i+4 <= len(raw); i += 4 {
			raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		byInode[f[9]] = socket{proto: proto, ip: net.IP(raw), port: int(port)}
	}
}

// evictPageCache writes back and drops path's pages from the page cache
// (posix_fadvise DONTNEED), so that the next exec reads it back from disk.
// Pages mapped by a running process stay.
func evictPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s: %w", path, err)
	}
	return nil
}
