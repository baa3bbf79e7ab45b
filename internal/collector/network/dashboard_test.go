package network

import (
	"context"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// dashboardNames are the names of Grafana dashboard 1860 ("Node Exporter
// Full") that belong to this package. node_tcp_connection_states comes from
// tcpstat, which reads the live kernel and is checked by TestTCPStatLive.
const dashboardNames = `node_arp_entries node_netstat_Icmp_InErrors node_netstat_Icmp_InMsgs node_netstat_Icmp_OutMsgs
node_netstat_IpExt_InOctets node_netstat_IpExt_OutOctets node_netstat_TcpExt_ListenDrops node_netstat_TcpExt_ListenOverflows
node_netstat_TcpExt_SyncookiesFailed node_netstat_TcpExt_SyncookiesRecv node_netstat_TcpExt_SyncookiesSent
node_netstat_TcpExt_TCPOFOQueue node_netstat_TcpExt_TCPRcvQDrop node_netstat_TcpExt_TCPSynRetrans node_netstat_TcpExt_TCPTimeouts
node_netstat_Tcp_ActiveOpens node_netstat_Tcp_CurrEstab node_netstat_Tcp_InErrs node_netstat_Tcp_InSegs node_netstat_Tcp_MaxConn
node_netstat_Tcp_OutRsts node_netstat_Tcp_OutSegs node_netstat_Tcp_PassiveOpens node_netstat_Tcp_RetransSegs
node_netstat_UdpLite_InErrors node_netstat_Udp_InDatagrams node_netstat_Udp_InErrors node_netstat_Udp_NoPorts
node_netstat_Udp_OutDatagrams node_netstat_Udp_RcvbufErrors node_netstat_Udp_SndbufErrors node_network_carrier
node_network_mtu_bytes node_network_receive_bytes_total node_network_receive_compressed_total node_network_receive_drop_total
node_network_receive_errs_total node_network_receive_fifo_total node_network_receive_frame_total
node_network_receive_multicast_total node_network_receive_nohandler_total node_network_receive_packets_total
node_network_speed_bytes node_network_transmit_bytes_total node_network_transmit_carrier_total node_network_transmit_colls_total
node_network_transmit_compressed_total node_network_transmit_drop_total node_network_transmit_errs_total
node_network_transmit_fifo_total node_network_transmit_packets_total node_network_up node_nf_conntrack_entries
node_nf_conntrack_entries_limit node_sockstat_FRAG_inuse node_sockstat_FRAG_memory node_sockstat_RAW_inuse
node_sockstat_TCP_alloc node_sockstat_TCP_inuse node_sockstat_TCP_mem node_sockstat_TCP_mem_bytes node_sockstat_TCP_orphan
node_sockstat_TCP_tw node_sockstat_UDPLITE_inuse node_sockstat_UDP_inuse node_sockstat_UDP_mem node_sockstat_UDP_mem_bytes
node_sockstat_sockets_used node_softnet_dropped_total node_softnet_flow_limit_count_total node_softnet_processed_total
node_softnet_received_rps_total node_softnet_times_squeezed_total node_udp_queues`

// TestHostGoldenFixture runs every collector but tcpstat over the fixture
// tree of the project-wide golden /metrics test and checks that each
// dashboard 1860 name of this package is there, for every interface.
func TestHostGoldenFixture(t *testing.T) {
	root := "../host/testdata/root"
	cs, err := New(hostfs.Roots{Proc: root + "/proc", Sys: root + "/sys"}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*collector.Family{}
	for _, c := range cs {
		if c.Name() == "tcpstat" {
			continue
		}
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		for _, f := range fams {
			got[f.Desc.Name] = f
		}
	}
	for _, n := range strings.Fields(dashboardNames) {
		f := got[n]
		if f == nil || len(f.Samples) == 0 {
			t.Errorf("%s: not produced from the golden fixture", n)
		}
	}
	for _, n := range []string{"node_network_receive_bytes_total", "node_network_up", "node_network_receive_nohandler_total"} {
		if f := got[n]; f == nil || len(f.Samples) != 3 {
			t.Errorf("%s: want lo, eth0 and ens1f0", n)
		}
	}
	if f := got["node_network_speed_bytes"]; f == nil || len(f.Samples) != 2 {
		t.Error("node_network_speed_bytes: want eth0 and ens1f0 (lo has no speed)")
	}
}
