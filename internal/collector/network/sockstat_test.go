package network

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseSockstat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{
			name: "ipv4",
			in:   "sockets: used 229\nTCP: inuse 4 orphan 0 tw 8 alloc 5 mem 108\nUDP: inuse 1 mem 2\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
			want: "node_sockstat_sockets_used 229\nnode_sockstat_TCP_inuse 4\nnode_sockstat_TCP_orphan 0\nnode_sockstat_TCP_tw 8\nnode_sockstat_TCP_alloc 5\n" +
				"node_sockstat_TCP_mem 108\nnode_sockstat_TCP_mem_bytes 442368\nnode_sockstat_UDP_inuse 1\nnode_sockstat_UDP_mem 2\nnode_sockstat_UDP_mem_bytes 8192\n" +
				"node_sockstat_UDPLITE_inuse 0\nnode_sockstat_RAW_inuse 0\nnode_sockstat_FRAG_inuse 0\nnode_sockstat_FRAG_memory 0\n",
		},
		{
			name: "ipv6",
			in:   "TCP6: inuse 2\nUDP6: inuse 1\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n",
			want: "node_sockstat_TCP6_inuse 2\nnode_sockstat_UDP6_inuse 1\nnode_sockstat_UDPLITE6_inuse 0\nnode_sockstat_RAW6_inuse 0\nnode_sockstat_FRAG6_inuse 0\nnode_sockstat_FRAG6_memory 0\n",
		},
		{name: "unknown fields are skipped", in: "TCP: inuse 1 pressure 0\nMPTCP: inuse 3\n", want: "node_sockstat_TCP_inuse 1\nnode_sockstat_MPTCP_inuse 3\n"},
		{name: "empty", in: "", want: ""},
		{name: "no colon", in: "TCP inuse 1\n", wantErr: `/proc/net/sockstat:1: expected "<PROTO>: <name> <value> ..." (line: "TCP inuse 1")`},
		{name: "odd fields", in: "sockets: used 1\nTCP: inuse 1 orphan\n", wantErr: `/proc/net/sockstat:2: expected name/value pairs after "TCP:", got 3 fields (line: "TCP: inuse 1 orphan")`},
		{name: "bad value", in: "TCP: inuse -1\n", wantErr: `/proc/net/sockstat:1: inuse: "-1" is not an unsigned integer (line: "TCP: inuse -1")`},
		{name: "bad sockets value", in: "sockets: used many\n", wantErr: `/proc/net/sockstat:1: used: "many" is not an unsigned integer (line: "sockets: used many")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSockstat(hostfs.Roots{})
			c.pageSize = 4096
			e := collector.NewEmitter()
			err := c.parse("/proc/net/sockstat", []byte(tt.in), e)
			if tt.wantErr != "" {
				wantParseErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := emitted(e); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSockstatCollect(t *testing.T) {
	c := newByName(t, fixtureRoots(), Config{}, "sockstat")
	c.(*sockstatCollector).pageSize = 4096
	r := collectOnce(t, c)
	r.shape(t, "node_sockstat_TCP_inuse", collector.Gauge)
	r.shape(t, "node_sockstat_TCP_mem_bytes", collector.Gauge)
	if h := r["node_sockstat_TCP_tw"].Desc.Help; h != "Number of TCP sockets in state tw." {
		t.Errorf("help %q", h)
	}
	r.want(t, "node_sockstat_sockets_used", 1542)
	r.want(t, "node_sockstat_TCP_inuse", 87)
	r.want(t, "node_sockstat_TCP_orphan", 1)
	r.want(t, "node_sockstat_TCP_tw", 412)
	r.want(t, "node_sockstat_TCP_alloc", 95)
	r.want(t, "node_sockstat_TCP_mem", 2281)
	r.want(t, "node_sockstat_TCP_mem_bytes", 2281*4096)
	r.want(t, "node_sockstat_UDP_inuse", 12)
	r.want(t, "node_sockstat_UDP_mem_bytes", 8*4096)
	r.want(t, "node_sockstat_UDPLITE_inuse", 0)
	r.want(t, "node_sockstat_RAW_inuse", 1)
	r.want(t, "node_sockstat_FRAG_inuse", 0)
	r.want(t, "node_sockstat_FRAG_memory", 0)
	r.want(t, "node_sockstat_TCP6_inuse", 23)
	r.want(t, "node_sockstat_UDP6_inuse", 6)
	r.want(t, "node_sockstat_FRAG6_memory", 0)
}

func TestSockstatMissingFiles(t *testing.T) {
	proc := t.TempDir()
	c := newByName(t, hostfs.Roots{Proc: proc}, Config{}, "sockstat")
	if _, err := collector.CollectOnce(t.Context(), c); !errorsIsNoData(err) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
	// IPv6 disabled: only sockstat exists.
	if err := os.MkdirAll(filepath.Join(proc, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "net", "sockstat"), []byte("TCP: inuse 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := collectOnce(t, c)
	r.want(t, "node_sockstat_TCP_inuse", 3)
}
