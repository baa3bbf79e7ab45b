// Package machine describes the machine a benchmark harness runs on and
// reads what the harnesses measure of the processes they start: memory
// and open files from /proc. It also holds the small helpers every
// harness needs (a free port, a sleep that ends with its context).
package machine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Host describes the machine.
type Host struct {
	Hostname string `json:"hostname"`
	Kind     string `json:"kind"`
	CPUModel string `json:"cpu_model"`
	Cores    int    `json:"cores"`
	Kernel   string `json:"kernel"`
	MemGiB   int    `json:"mem_gib"`
	Go       string `json:"go"`
}

// ReadHost describes this machine; Kind is "vm" under a hypervisor,
// "metal" otherwise.
func ReadHost() Host {
	h := Host{Cores: runtime.NumCPU(), Kind: "metal", Go: runtime.Version()}
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch {
			case k == "model name" && h.CPUModel == "":
				h.CPUModel = v
			case k == "flags" && slices.Contains(strings.Fields(v), "hypervisor"):
				h.Kind = "vm"
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					h.MemGiB = int((kb + 512<<10) >> 20)
				}
			}
		}
	}
	return h
}

// Mem is a process's memory from /proc/PID/status, in KiB: VmRSS, VmHWM,
// RssAnon and RssFile.
type Mem struct {
	RSS, HWM, Anon, File int64
}

// ReadMem reads a process's memory. A process without VmRSS (a zombie)
// is an error.
func ReadMem(pid int) (Mem, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Mem{}, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	defer f.Close()
	var m Mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		case "RssAnon":
			dst = &m.Anon
		case "RssFile":
			dst = &m.File
		default:
			continue
		}
		if fs := strings.Fields(v); len(fs) > 0 {
			*dst, _ = strconv.ParseInt(fs[0], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("memory of pid %d: no VmRSS (a zombie?)", pid)
	}
	return m, nil
}

// LogTail returns the last n lines of a program's output file, for error
// messages; "" when the file cannot be read.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Sleep sleeps d or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// LoadAvg returns /proc/loadavg's first three fields, or "?".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ModuleRoot finds the directory of trainwatch's go.mod above the working
// directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/trainwatch/trainwatch\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the trainwatch module (no go.mod of github.com/trainwatch/trainwatch above the working directory)")
		}
		dir = parent
	}
}

// Closed reports whether done is closed, without waiting: whether a
// started process's Wait has returned, for a harness that closes done then.
func Closed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
