package network

import (
	"context"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// liveCollect runs the named collector on this machine twice (the second
// run uses the caches the first one built) and returns the second result.
// It skips when the source does not exist here.
func liveCollect(t *testing.T, name string) result {
	t.Helper()
	c := newByName(t, hostfs.DefaultRoots(), Config{}, name)
	var r result
	for i := 0; i < 2; i++ {
		fams, err := collector.CollectOnce(context.Background(), c)
		if errorsIsNoData(err) {
			t.Skipf("%s: %v", name, err)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = result{}
		for _, f := range fams {
			if _, dup := r[f.Desc.Name]; dup {
				t.Fatalf("family %s emitted twice", f.Desc.Name)
			}
			r[f.Desc.Name] = f
		}
	}
	return r
}

func TestLive(t *testing.T) {
	t.Run("netdev", func(t *testing.T) {
		r := liveCollect(t, "netdev")
		for _, n := range []string{"node_network_receive_bytes_total", "node_network_transmit_bytes_total", "node_network_receive_packets_total"} {
			v, ok := r.value(n, "lo")
			if !ok || v < 0 {
				t.Errorf("%s{device=\"lo\"} = %v, %v; want a value >= 0", n, v, ok)
			}
		}
	})
	t.Run("netclass", func(t *testing.T) {
		r := liveCollect(t, "netclass")
		if _, ok := r.value("node_network_up", "lo"); !ok {
			t.Error("node_network_up{device=\"lo\"} missing")
		}
		if v, ok := r.value("node_network_mtu_bytes", "lo"); !ok || v <= 0 {
			t.Errorf("node_network_mtu_bytes{device=\"lo\"} = %v, %v; want > 0", v, ok)
		}
		if v, ok := r.value("node_network_protocol_type", "lo"); !ok || v != 772 {
			t.Errorf("node_network_protocol_type{device=\"lo\"} = %v, %v; want 772 (ARPHRD_LOOPBACK)", v, ok)
		}
		// The loopback has no speed (EINVAL): only that attribute is skipped.
		r.absent(t, "node_network_speed_bytes", "lo")
	})
	t.Run("netstat", func(t *testing.T) {
		r := liveCollect(t, "netstat")
		for _, n := range []string{"node_netstat_Tcp_CurrEstab", "node_netstat_Tcp_MaxConn", "node_netstat_Tcp_InSegs", "node_netstat_IpExt_InOctets", "node_netstat_Udp_InDatagrams"} {
			if _, ok := r.value(n); !ok {
				t.Errorf("%s missing", n)
			}
		}
	})
	t.Run("sockstat", func(t *testing.T) {
		r := liveCollect(t, "sockstat")
		if v, ok := r.value("node_sockstat_sockets_used"); !ok || v < 1 {
			t.Errorf("node_sockstat_sockets_used = %v, %v; want >= 1", v, ok)
		}
		if _, ok := r.value("node_sockstat_TCP_mem_bytes"); !ok {
			t.Error("node_sockstat_TCP_mem_bytes missing")
		}
	})
	t.Run("softnet", func(t *testing.T) {
		r := liveCollect(t, "softnet")
		if f := r["node_softnet_processed_total"]; f == nil || len(f.Samples) == 0 {
			t.Error("no per-CPU softnet samples")
		}
	})
	t.Run("arp", func(t *testing.T) {
		r := liveCollect(t, "arp")
		if f := r["node_arp_entries"]; f != nil {
			for _, s := range f.Samples {
				if s.Value < 1 {
					t.Errorf("device %s: %v entries", s.LabelValues[0], s.Value)
				}
			}
		}
	})
	t.Run("conntrack", func(t *testing.T) {
		r := liveCollect(t, "conntrack")
		if v, ok := r.value("node_nf_conntrack_entries_limit"); !ok || v < 1 {
			t.Errorf("node_nf_conntrack_entries_limit = %v, %v; want >= 1", v, ok)
		}
	})
	t.Run("udp_queues", func(t *testing.T) {
		r := liveCollect(t, "udp_queues")
		for _, q := range []string{"tx", "rx"} {
			if v, ok := r.value("node_udp_queues", "v4", q); !ok || v < 0 {
				t.Errorf("node_udp_queues{ip=\"v4\",queue=%q} = %v, %v", q, v, ok)
			}
		}
	})
}
