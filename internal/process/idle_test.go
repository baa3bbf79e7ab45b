package process

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// TestIdleSkipIsExact runs a real single-threaded process that sleeps on
// its stdin: a scan while it sleeps is served from the previous full read
// without reading its status, io or fd (and gives the same values); once it
// runs (opens a file, writes 8 KiB), the next scan reads it in full and
// sees the new fd and the written bytes.
func TestIdleSkipIsExact(t *testing.T) {
	s := NewScanner(hostfs.DefaultRoots(), nil)
	t.Cleanup(func() { _ = s.Close() })
	if !s.idleSkip {
		t.Skip("this kernel does not show task run times in /proc/PID/schedstat")
	}
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = testenv.LookPath(t, "python3")
	}
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(python, "-c", `import sys, os
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.readline()
f = open(sys.argv[1], "w")
f.write("x" * 8192)
f.flush()
sys.stdout.write("written\n")
sys.stdout.flush()
sys.stdin.readline()
`, out)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	dir := "/proc/" + strconv.Itoa(pid) + "/"

	var mu sync.Mutex
	var reads []string
	s.hook = func(path string) error {
		if strings.HasPrefix(path, dir) {
			mu.Lock()
			reads = append(reads, strings.TrimPrefix(path, dir))
			mu.Unlock()
		}
		return nil
	}
	scan := func() (*Proc, []string) {
		mu.Lock()
		reads = nil
		mu.Unlock()
		tab, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		p := tab.Procs[pid]
		if p == nil {
			t.Fatalf("pid %d not in the scan", pid)
		}
		cp := *p
		return &cp, append([]string(nil), reads...)
	}
	childOut := bufio.NewReader(stdout)
	if line, err := childOut.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	// Wait until it sleeps in readline: its run time stops moving for two
	// scans in a row, 20 ms apart, while it is in state S.
	var first *Proc
	for i, quiet := 0, 0; quiet < 2; i++ {
		if i == 200 {
			t.Fatal("the child never went to sleep in readline")
		}
		time.Sleep(20 * time.Millisecond)
		p, r := scan()
		if contains(r, "status") || p.State != 'S' {
			quiet = 0
			continue
		}
		if quiet == 0 {
			first = p
		}
		quiet++
	}
	idle, r := scan()
	if contains(r, "status") || contains(r, "io") || contains(r, "fd") {
		t.Fatalf("idle process read in full: %v", r)
	}
	if idle.OpenFDs != first.OpenFDs || idle.WriteBytes != first.WriteBytes || idle.VoluntaryCtxSwitches != first.VoluntaryCtxSwitches {
		t.Fatalf("idle scan %+v differs from the full read %+v", idle, first)
	}

	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := childOut.ReadString('\n'); err != nil || line != "written\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	after, r := scan()
	if !contains(r, "status") || !contains(r, "io") || !contains(r, "fd") {
		t.Fatalf("a process that ran was not read in full: %v", r)
	}
	if after.OpenFDs != idle.OpenFDs+1 {
		t.Errorf("open fds %d after opening a file, want %d", after.OpenFDs, idle.OpenFDs+1)
	}
	if after.WriteBytes < idle.WriteBytes+8192 {
		t.Errorf("write_bytes %d after writing 8 KiB, want at least %d", after.WriteBytes, idle.WriteBytes+8192)
	}
	// Once it blocks in readline again it has switched out voluntarily;
	// the scans must see that, whether they read it in full or not.
	for i := 0; ; i++ {
		p, _ := scan()
		if p.State == 'S' && p.VoluntaryCtxSwitches > idle.VoluntaryCtxSwitches {
			break
		}
		if i == 200 {
			t.Fatalf("voluntary context switches still %d (state %c) after the process slept again; were %d",
				p.VoluntaryCtxSwitches, p.State, idle.VoluntaryCtxSwitches)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
