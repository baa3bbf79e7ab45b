package procinfo

import (
	"bytes"
	"strconv"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// parseStat returns the comm and the starttime (clock ticks since boot) of
// a /proc/PID/stat. comm is between the first '(' and the last ')': it may
// itself hold spaces and parentheses.
func parseStat(file string, b []byte) (comm []byte, start uint64, err error) {
	b = bytes.TrimRight(b, "\n")
	l := hostfs.NewLines(file, b)
	l.Next()
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return nil, 0, l.Errorf("expected \"pid (comm) state ...\"")
	}
	comm = b[open+1 : closing]
	var arr [24][]byte
	f := hostfs.Fields(arr[:0], b[closing+1:])
	// After comm: state (field 3) ... starttime (field 22).
	if len(f) < 20 {
		return nil, 0, l.Errorf("%d fields after comm, want at least 20", len(f))
	}
	start, ok := hostfs.ParseUint(f[19])
	if !ok {
		return nil, 0, l.Errorf("starttime %q is not an unsigned integer", f[19])
	}
	return comm, start, nil
}

// parseStatusUID returns the real uid from a /proc/PID/status's Uid line
// ("Uid:\treal\teffective\tsaved\tfs").
func parseStatusUID(file string, b []byte) (int, error) {
	l := hostfs.NewLines(file, b)
	for l.Next() {
		line := l.Bytes()
		if !bytes.HasPrefix(line, []byte("Uid:")) {
			continue
		}
		var arr [6][]byte
		f := hostfs.Fields(arr[:0], line[len("Uid:"):])
		if len(f) != 4 {
			return 0, l.Errorf("expected 4 uids (real, effective, saved, filesystem), got %d", len(f))
		}
		uid, ok := hostfs.ParseUint(f[0])
		if !ok || uid > 1<<32-1 {
			return 0, l.Errorf("real uid %q is not a 32-bit unsigned integer", f[0])
		}
		return int(uid), nil
	}
	return 0, &hostfs.ParseError{File: file, Line: l.Number(), Msg: "no Uid line"}
}

// cmdline turns /proc/PID/cmdline's NUL-separated arguments into one line,
// cut at MaxCmdline bytes.
func cmdline(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) > MaxCmdline {
		b = b[:MaxCmdline]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c == 0 {
			c = ' '
		}
		out[i] = c
	}
	return string(out)
}

// parseBootTime returns /proc/stat's btime (seconds since the epoch).
func parseBootTime(b []byte) (uint64, bool) {
	l := hostfs.NewLines("", b)
	for l.Next() {
		line := l.Bytes()
		if bytes.HasPrefix(line, []byte("btime ")) {
			return hostfs.ParseUint(bytes.TrimSpace(line[len("btime "):]))
		}
	}
	return 0, false
}

// parsePasswd maps uids to user names from an /etc/passwd
// ("name:password:uid:gid:gecos:home:shell"). The file is not ours to
// police: comments, NIS "+"/"-" entries and lines that do not parse are
// skipped, and the first name of a uid wins (as getpwuid does).
func parsePasswd(b []byte) map[int]string {
	users := make(map[int]string)
	l := hostfs.NewLines("", b)
	for l.Next() {
		line := l.Bytes()
		if len(line) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 {
			continue
		}
		_, rest, ok = bytes.Cut(rest, []byte(":"))
		if !ok {
			continue
		}
		uidField, _, _ := bytes.Cut(rest, []byte(":"))
		uid, err := strconv.ParseUint(string(uidField), 10, 32)
		if err != nil {
			continue
		}
		if _, dup := users[int(uid)]; !dup {
			users[int(uid)] = string(name)
		}
	}
	return users
}

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

// Attribution is what a process's cgroup says about where it runs.
type Attribution struct {
	// Path is the unified (v2) cgroup path when there is one, else the
	// name=systemd hierarchy's, else the first listed.
	Path string
	// Container is the 12-hex-digit short container id, Runtime the
	// runtime it was recognised for (see Info).
	Container, Runtime string
	// Pod is the Kubernetes pod UID (dashes, as the API shows it).
	Pod string
	// SlurmJob is the Slurm job id.
	SlurmJob string
}

// ParseCgroup reads a /proc/PID/cgroup (cgroup v1, v2 or hybrid: lines
// "hierarchy-ID:controller-list:cgroup-path") and classifies the paths.
// Each field takes the first value any line yields, in file order.
func ParseCgroup(file string, b []byte) (Attribution, error) {
	var a Attribution
	var systemdPath, firstPath string
	l := hostfs.NewLines(file, b)
	for l.Next() {
		line := l.Bytes()
		if len(line) == 0 {
			continue
		}
		id, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return Attribution{}, l.Errorf("expected hierarchy-ID:controller-list:cgroup-path")
		}
		controllers, path, ok := bytes.Cut(rest, []byte(":"))
		if !ok {
			return Attribution{}, l.Errorf("expected hierarchy-ID:controller-list:cgroup-path")
		}
		if _, ok := hostfs.ParseUint(id); !ok {
			return Attribution{}, l.Errorf("hierarchy ID %q is not an unsigned integer", id)
		}
		path = bytes.TrimSuffix(path, []byte(" (deleted)"))
		if len(path) == 0 || path[0] != '/' {
			return Attribution{}, l.Errorf("cgroup path %q is not absolute", path)
		}
		p := string(path)
		switch {
		case string(id) == "0" && len(controllers) == 0:
			a.Path = p
		case string(controllers) == "name=systemd":
			systemdPath = p
		}
		if firstPath == "" {
			firstPath = p
		}
		c := classify(p)
		if a.Container == "" {
			a.Container, a.Runtime = c.Container, c.Runtime
		}
		if a.Pod == "" {
			a.Pod = c.Pod
		}
		if a.SlurmJob == "" {
			a.SlurmJob = c.SlurmJob
		}
	}
	if a.Path == "" {
		a.Path = systemdPath
	}
	if a.Path == "" {
		a.Path = firstPath
	}
	return a, nil
}
