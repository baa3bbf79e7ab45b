package process

import (
	"context"
	"encoding/binary"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// The budget: with 2,000 extra processes, one scan costs no more than
// 1.5x a minimal Go loop that opens, reads and closes the same per-PID
// files (and lists the same directories with getdents). Both are
// measured in CPU time of this process in one run, and the ratio is
// reported as scan/floor.

const benchProcs = 2000

// spawnSleepers starts n `sleep 600` children, killed when b ends.
func spawnSleepers(b *testing.B, n int) {
	cmds := make([]*exec.Cmd, 0, n)
	b.Cleanup(func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
		}
		for _, c := range cmds {
			_ = c.Wait()
		}
	})
	for i := 0; i < n; i++ {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			b.Fatalf("start sleeper %d: %v", i, err)
		}
		cmds = append(cmds, c)
	}
}

// benchFloor reads what a scan read with the plainest Go: open, read
// into one buffer, close; getdents for directories. No parsing.
type benchFloor struct {
	accesses []string
	buf      []byte
}

func (f *benchFloor) run() {
	for _, a := range f.accesses {
		if dir, ok := strings.CutPrefix(a, "dir:"); ok {
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			for {
				n, err := unix.Getdents(fd, f.buf)
				if n <= 0 || err != nil {
					break
				}
				// Walk the records as the scan does to count them.
				for b := f.buf[:n]; len(b) >= 19; b = b[binary.NativeEndian.Uint16(b[16:18]):] {
				}
				// As the scan: room left for another entry is the end
				// of a /proc/PID/fd listing.
				if strings.HasSuffix(dir, "/fd") && n <= len(f.buf)-(19+256+8) {
					break
				}
			}
			unix.Close(fd)
			continue
		}
		fd, err := unix.Open(a, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		for {
			// As hostfs.ReadFile: a short read is the end.
			n, err := unix.Read(fd, f.buf)
			if n <= 0 || err != nil || n < len(f.buf) {
				break
			}
		}
		unix.Close(fd)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkScanVsFloor(b *testing.B) {
	if testing.Short() {
		b.Skip("spawns 2,000 processes")
	}
	if _, err := exec.LookPath("sleep"); err != nil {
		b.Skip("no sleep command")
	}
	spawnSleepers(b, benchProcs)
	var seen []string
	tracing := false
	roots := hostfs.DefaultRoots()
	roots.Trace = func(p string) {
		if tracing {
			seen = append(seen, p)
		}
	}
	s := NewScanner(roots, nil)
	c, err := NewCollector(s, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	// The first scan reads every identity; the traced second one is a
	// steady-state scan.
	if _, err := s.Scan(ctx); err != nil {
		b.Fatal(err)
	}
	tracing = true
	tab, err := s.Scan(ctx)
	tracing = false
	if err != nil {
		b.Fatal(err)
	}
	s.roots.Trace = nil
	fl := &benchFloor{accesses: seen, buf: make([]byte, 64<<10)}
	var scanCPU, floorCPU, collectCPU time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := cpuTime()
		if _, err := s.Scan(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := cpuTime()
		fl.run()
		t2 := cpuTime()
		if err := c.Collect(ctx, collector.NewEmitter()); err != nil {
			b.Fatal(err)
		}
		t3 := cpuTime()
		scanCPU += t1 - t0
		floorCPU += t2 - t1
		collectCPU += t3 - t2
	}
	b.StopTimer()
	b.ReportMetric(float64(len(tab.Procs)), "procs")
	b.ReportMetric(float64(len(seen)), "accesses")
	b.ReportMetric(float64(scanCPU.Nanoseconds())/float64(b.N), "scan-cpu-ns/op")
	b.ReportMetric(float64(floorCPU.Nanoseconds())/float64(b.N), "floor-cpu-ns/op")
	b.ReportMetric(float64(collectCPU.Nanoseconds())/float64(b.N), "collect-cpu-ns/op")
	if floorCPU > 0 {
		b.ReportMetric(float64(scanCPU)/float64(floorCPU), "scan/floor")
		b.ReportMetric(float64(collectCPU)/float64(floorCPU), "collect/floor")
	}
}

// BenchmarkScan is a steady-state scan of this machine's processes.
func BenchmarkScan(b *testing.B) {
	s := NewScanner(hostfs.DefaultRoots(), nil)
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	if _, err := s.Scan(ctx); err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Scan(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollectProcess is one collection (scan, groups, top) of this
// machine's processes.
func BenchmarkCollectProcess(b *testing.B) {
	cs, err := New(hostfs.DefaultRoots(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs[0].(*Collector).Scanner().Close() })
	ctx := context.Background()
	if err := cs[0].Collect(ctx, collector.NewEmitter()); err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cs[0].Collect(ctx, collector.NewEmitter()); err != nil {
			b.Fatal(err)
		}
	}
}
