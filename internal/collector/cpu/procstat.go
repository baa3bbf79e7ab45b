package cpu

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// userHZ is the kernel's USER_HZ: /proc/stat counts CPU time in 1/100 s on
// every Linux architecture node_exporter supports.
const userHZ = 100

// statShareWindow is how long one read of /proc/stat serves both the cpu and
// the stat collector. The Runner starts them together in every tick, so the
// second one normally finds the first one's read; a reader that comes later
// (the next tick, or a late goroutine) reads the file again.
const statShareWindow = 50 * time.Millisecond

// The per-CPU time columns of /proc/stat, in file order.
const (
	colUser = iota
	colNice
	colSystem
	colIdle
	colIOWait
	colIRQ
	colSoftIRQ
	colSteal
	colGuest
	colGuestNice
	numCols
)

// cpuTimes is one "cpuN" line of /proc/stat, in ticks of 1/USER_HZ.
type cpuTimes struct {
	id int
	t  [numCols]uint64
}

// procStat is what this package uses of /proc/stat.
type procStat struct {
	cpus []cpuTimes

	intr, ctxt, btime, forks, running, blocked          uint64
	hasIntr, hasCtxt, hasBtime, hasForks, hasRun, hasBl bool

	fields [][]byte // parser scratch
}

// parseProcStat parses /proc/stat into out, reusing out.cpus. The aggregate
// "cpu" line and lines this package does not use (softirq, ...) are skipped.
func parseProcStat(file string, b []byte, out *procStat) error {
	out.cpus = out.cpus[:0]
	out.hasIntr, out.hasCtxt, out.hasBtime, out.hasForks, out.hasRun, out.hasBl = false, false, false, false, false, false
	l := hostfs.NewLines(file, b)
	fields := out.fields
	defer func() { out.fields = fields[:0] }()
	for l.Next() {
		line := l.Bytes()
		if len(line) == 0 {
			continue
		}
		// Only the first two fields matter except on cpuN lines; the intr
		// line holds one field per IRQ, so avoid splitting it whole.
		name, rest := cutField(line)
		switch {
		case bytes.HasPrefix(name, []byte("cpu")):
			if len(name) == 3 {
				continue // the aggregate line; node_exporter exports per-CPU times only
			}
			id, ok := hostfs.ParseUint(name[3:])
			if !ok {
				return l.Errorf("%q is not a CPU name (expected cpuN)", name)
			}
			fields = hostfs.Fields(fields, rest)
			if len(fields) < 4 {
				return l.Errorf("%s: expected at least 4 time columns (user nice system idle), got %d", name, len(fields))
			}
			ct := cpuTimes{id: int(id)}
			for i, f := range fields {
				if i == numCols {
					break
				}
				v, ok := hostfs.ParseUint(f)
				if !ok {
					return l.Errorf("%s column %d: %q is not an unsigned integer", name, i+1, f)
				}
				ct.t[i] = v
			}
			out.cpus = append(out.cpus, ct)
		case string(name) == "intr":
			v, err := firstUint(l, name, rest)
			if err != nil {
				return err
			}
			out.intr, out.hasIntr = v, true
		case string(name) == "ctxt":
			v, err := firstUint(l, name, rest)
			if err != nil {
				return err
			}
			out.ctxt, out.hasCtxt = v, true
		case string(name) == "btime":
			v, err := firstUint(l, name, rest)
			if err != nil {
				return err
			}
			out.btime, out.hasBtime = v, true
		case string(name) == "processes":
			v, err := firstUint(l, name, rest)
			if err != nil {
				return err
			}
			out.forks, out.hasForks = v, true
		case string(name) == "procs_running":
			v, err := firstUint(l, name, rest)
			if err != nil {
				return err
			}
			out.running, out.hasRun = v, true
		case string(name) == "procs_blocked":
			v, err := firstUint(l, name, rest)
			if err != nil {
				return err
			}
			out.blocked, out.hasBl = v, true
		}
	}
	return nil
}

// cutField splits off the first space-separated field of line.
func cutField(line []byte) (field, rest []byte) {
	line = bytes.TrimLeft(line, " \t")
	i := bytes.IndexAny(line, " \t")
	if i < 0 {
		return line, nil
	}
	return line[:i], line[i+1:]
}

// firstUint parses the first field of rest as the value of the key name.
func firstUint(l *hostfs.Lines, name, rest []byte) (uint64, error) {
	f, _ := cutField(rest)
	if len(f) == 0 {
		return 0, l.Errorf("%s: missing value", name)
	}
	v, ok := hostfs.ParseUint(f)
	if !ok {
		return 0, l.Errorf("%s: %q is not an unsigned integer", name, f)
	}
	return v, nil
}

// statSource reads and parses /proc/stat for the cpu and stat collectors,
// sharing one read between them within statShareWindow.
type statSource struct {
	roots hostfs.Roots
	path  string
	now   func() time.Time

	mu     sync.Mutex
	buf    []byte
	data   procStat
	readAt time.Time
	valid  bool
}

func newStatSource(roots hostfs.Roots, now func() time.Time) *statSource {
	if now == nil {
		now = time.Now
	}
	return &statSource{roots: roots, path: roots.ProcPath("stat"), now: now}
}

// with calls fn with the parsed file, reading it first unless a read within
// the share window can serve. fn must copy what it keeps: the data is reused.
func (s *statSource) with(fn func(*procStat)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.valid || now.Before(s.readAt) || now.Sub(s.readAt) > statShareWindow {
		s.valid = false
		b, err := s.roots.ReadFile(s.path, s.buf)
		s.buf = b
		if err != nil {
			return fmt.Errorf("read kernel statistics: %w", err)
		}
		if err := parseProcStat(s.path, b, &s.data); err != nil {
			return err
		}
		s.readAt, s.valid = now, true
	}
	fn(&s.data)
	return nil
}
