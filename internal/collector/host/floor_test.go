package host

import (
	"context"
	"encoding/binary"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// The budget of issue 2: one full host tick costs no more than 2x a minimal
// Go loop that only reads the same files. BenchmarkTickVsFloor measures both
// in one run, in CPU time (user+system of the whole process, since the tick
// runs its collectors concurrently), and reports the ratio.

// tracedAccesses runs one tick of every host collector on the real machine
// and returns every file, directory, statfs and netlink access it made.
func tracedAccesses(b *testing.B) []string {
	var seen []string
	tracing := false
	cfg := fullTickConfig()
	cfg.Roots.Trace = func(p string) {
		if tracing {
			seen = append(seen, p)
		}
	}
	cs, err := Collectors(cfg)
	if err != nil {
		b.Fatal(err)
	}
	// Sequentially, so the trace needs no lock; the second call of each is
	// traced, so one-time discovery reads do not count.
	for _, c := range cs {
		_, _ = collector.CollectOnce(context.Background(), c)
		tracing = true
		_, _ = collector.CollectOnce(context.Background(), c)
		tracing = false
	}
	return seen
}

// floor reads what the tick read with the plainest Go: open/read/close
// into one buffer, getdents, statfs, one netlink dump per family. No parsing.
type floor struct {
	accesses []string
	buf      []byte
}

func (f *floor) run(b *testing.B) {
	for _, a := range f.accesses {
		switch {
		case strings.HasPrefix(a, "statfs:"):
			var st unix.Statfs_t
			_ = unix.Statfs(a[len("statfs:"):], &st)
		case strings.HasPrefix(a, "dir:"):
			if d, err := os.Open(a[len("dir:"):]); err == nil {
				_, _ = d.Readdirnames(-1)
				d.Close()
			}
		case strings.HasPrefix(a, "netlink:"):
			sockDiagDump(b, unix.AF_INET)
			sockDiagDump(b, unix.AF_INET6)
		default:
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
}

// sockDiagDump asks the kernel for every TCP socket of one family and
// reads the answer without looking at it.
func sockDiagDump(b *testing.B, family uint8) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	req := make([]byte, 16+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], 20) // SOCK_DIAG_BY_FAMILY
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	req[16] = family
	req[17] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[20:], 0xfff) // all states
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 16 {
			return
		}
		for off := 0; off+16 <= n; {
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			if binary.NativeEndian.Uint16(buf[off+4:]) == unix.NLMSG_DONE || l < 16 {
				return
			}
			off += (l + 3) &^ 3
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fullTickConfig runs every collector every tick, including the ones that
// are Scheduled less often by default, so that a tick is complete.
func fullTickConfig() Config {
	var cfg Config
	cfg.System.ProcessesInterval = time.Nanosecond
	return cfg
}

func BenchmarkTickVsFloor(b *testing.B) {
	cs, err := Collectors(fullTickConfig())
	if err != nil {
		b.Fatal(err)
	}
	r, err := collector.NewRunner(collector.RunnerOptions{Timeout: 10 * time.Second}, cs...)
	if err != nil {
		b.Fatal(err)
	}
	fl := &floor{accesses: tracedAccesses(b), buf: make([]byte, 64<<10)}
	ctx := context.Background()
	r.Tick(ctx) // warm up caches (chip discovery, descriptors)
	var tickCPU, floorCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := cpuTime()
		r.Tick(ctx)
		t1 := cpuTime()
		fl.run(b)
		t2 := cpuTime()
		tickCPU += t1 - t0
		floorCPU += t2 - t1
	}
	b.ReportMetric(float64(tickCPU.Nanoseconds())/float64(b.N), "tick-cpu-ns/op")
	b.ReportMetric(float64(floorCPU.Nanoseconds())/float64(b.N), "floor-cpu-ns/op")
	b.ReportMetric(float64(len(fl.accesses)), "accesses")
	if floorCPU > 0 {
		b.ReportMetric(float64(tickCPU)/float64(floorCPU), "tick/floor")
	}
}

// BenchmarkHostTick is one tick of every host collector on this machine.
func BenchmarkHostTick(b *testing.B) {
	cs, err := Collectors(fullTickConfig())
	if err != nil {
		b.Fatal(err)
	}
	r, err := collector.NewRunner(collector.RunnerOptions{Timeout: 10 * time.Second}, cs...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r.Tick(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Tick(ctx)
	}
}
