package network

import (
	"context"
	"os"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// benchCollect measures one collection of the named collector on this
// machine when probe exists, else on the fixture tree.
func benchCollect(b *testing.B, name, probe string) {
	roots := hostfs.DefaultRoots()
	if _, err := os.Stat(probe); err != nil {
		roots = fixtureRoots()
	}
	c := newByName(b, roots, Config{}, name)
	ctx := context.Background()
	if err := c.Collect(ctx, collector.NewEmitter()); err != nil {
		b.Skipf("%s: %v", name, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Collect(ctx, collector.NewEmitter()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCollectNetdev(b *testing.B)   { benchCollect(b, "netdev", "/proc/net/dev") }
func BenchmarkCollectNetclass(b *testing.B) { benchCollect(b, "netclass", "/sys/class/net") }
func BenchmarkCollectNetstat(b *testing.B)  { benchCollect(b, "netstat", "/proc/net/netstat") }
func BenchmarkCollectSockstat(b *testing.B) { benchCollect(b, "sockstat", "/proc/net/sockstat") }
func BenchmarkCollectSoftnet(b *testing.B)  { benchCollect(b, "softnet", "/proc/net/softnet_stat") }
func BenchmarkCollectArp(b *testing.B)      { benchCollect(b, "arp", "/proc/net/arp") }
func BenchmarkCollectConntrack(b *testing.B) {
	benchCollect(b, "conntrack", "/proc/sys/net/netfilter/nf_conntrack_count")
}
func BenchmarkCollectUDPQueues(b *testing.B) { benchCollect(b, "udp_queues", "/proc/net/udp") }
func BenchmarkCollectTCPStat(b *testing.B)   { benchCollect(b, "tcpstat", "/proc/net") }

// BenchmarkCollectNetclassFixture measures netclass on the fixture tree
// (five interfaces), independent of this machine's interfaces.
func BenchmarkCollectNetclassFixture(b *testing.B) {
	c := newByName(b, fixtureRoots(), Config{}, "netclass")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Collect(context.Background(), collector.NewEmitter()); err != nil {
			b.Fatal(err)
		}
	}
}
