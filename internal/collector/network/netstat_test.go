package network

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func newTestNetstat() *netstatCollector {
	return newNetstat(hostfs.Roots{}, regexp.MustCompile(DefaultNetstatFields))
}

// emitted flattens an emitter's samples to "name value" lines.
func emitted(e *collector.Emitter) string {
	var b strings.Builder
	for _, f := range e.Families() {
		for _, s := range f.Samples {
			b.WriteString(f.Desc.Name)
			if len(s.LabelValues) > 0 {
				b.WriteString("{" + strings.Join(s.LabelValues, ",") + "}")
			}
			b.WriteString(" " + fmtG(s.Value) + "\n")
		}
	}
	return b.String()
}

func TestParseNetstatPairs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{
			name: "snmp",
			in: "Ip: Forwarding DefaultTTL InReceives\nIp: 1 64 3148\n" +
				"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens CurrEstab InErrs\nTcp: 1 200 120000 -1 41 7 3\n",
			want: "node_netstat_Ip_Forwarding 1\nnode_netstat_Tcp_MaxConn -1\nnode_netstat_Tcp_ActiveOpens 41\nnode_netstat_Tcp_CurrEstab 7\nnode_netstat_Tcp_InErrs 3\n",
		},
		{
			name: "netstat",
			in:   "TcpExt: SyncookiesSent TW ListenOverflows ListenDrops TCPTimeouts\nTcpExt: 1 2 3 4 5\nIpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 81234567890123 79876543210987\n",
			want: "node_netstat_TcpExt_SyncookiesSent 1\nnode_netstat_TcpExt_ListenOverflows 3\nnode_netstat_TcpExt_ListenDrops 4\nnode_netstat_TcpExt_TCPTimeouts 5\n" +
				"node_netstat_IpExt_InOctets 81234567890123\nnode_netstat_IpExt_OutOctets 79876543210987\n",
		},
		{name: "unselected fields are not parsed", in: "Ip: DefaultTTL InReceives\nIp: x y\n", want: ""},
		{name: "blank lines", in: "\nIp: Forwarding\nIp: 2\n\n", want: "node_netstat_Ip_Forwarding 2\n"},
		{name: "empty", in: "", want: ""},
		{name: "no protocol", in: "Forwarding DefaultTTL\n1 64\n", wantErr: `/proc/net/snmp:1: expected "<Proto>: <field names>" (line: "Forwarding DefaultTTL")`},
		{name: "lone colon", in: ": Forwarding\n: 1\n", wantErr: `/proc/net/snmp:1: expected "<Proto>: <field names>" (line: ": Forwarding")`},
		{name: "no values line", in: "Ip: Forwarding DefaultTTL\n", wantErr: `/proc/net/snmp:1: header line is not followed by a values line (line: "Ip: Forwarding DefaultTTL")`},
		{name: "values of another protocol", in: "Ip: Forwarding\nTcp: 1\n", wantErr: `/proc/net/snmp:2: expected the values line of "Ip:" (line: "Tcp: 1")`},
		{name: "too few values", in: "Ip: Forwarding DefaultTTL\nIp: 1\n", wantErr: `/proc/net/snmp:2: 1 values for 2 field names (line: "Ip: 1")`},
		{name: "too many values", in: "Ip: Forwarding\nIp: 1 2\n", wantErr: `/proc/net/snmp:2: 2 values for 1 field names (line: "Ip: 1 2")`},
		{name: "bad value", in: "Tcp: CurrEstab\nTcp: 1e\n", wantErr: `/proc/net/snmp:2: field 1: "1e" is not a number (line: "Tcp: 1e")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestNetstat()
			e := collector.NewEmitter()
			err := c.parsePairs(1, "/proc/net/snmp", []byte(tt.in), e)
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

func TestParseSNMP6(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{
			name: "normal",
			in:   "Ip6InReceives                   \t1\nIp6InOctets                     \t987654321\nIcmp6InMsgs \t3\nUdp6InDatagrams 12\nUdpLite6InErrors 0\nIp6InTooBigErrors 0\n",
			want: "node_netstat_Ip6_InOctets 987654321\nnode_netstat_Icmp6_InMsgs 3\nnode_netstat_Udp6_InDatagrams 12\nnode_netstat_UdpLite6_InErrors 0\n",
		},
		{name: "name without 6 is skipped", in: "IpInOctets 5\n", want: ""},
		{name: "empty", in: "", want: ""},
		{name: "three fields", in: "Ip6InOctets 1 2\n", wantErr: `/proc/net/snmp6:1: expected "<name> <value>", got 3 fields (line: "Ip6InOctets 1 2")`},
		{name: "no value", in: "Ip6InReceives 1\nIp6InOctets\n", wantErr: `/proc/net/snmp6:2: expected "<name> <value>", got 1 fields (line: "Ip6InOctets")`},
		{name: "bad value", in: "Ip6InOctets 0x10\n", wantErr: `/proc/net/snmp6:1: "0x10" is not a number (line: "Ip6InOctets 0x10")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestNetstat()
			e := collector.NewEmitter()
			err := c.parseSNMP6("/proc/net/snmp6", []byte(tt.in), e)
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

func TestNetstatCollect(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{}, "netstat"))
	r.shape(t, "node_netstat_Tcp_CurrEstab", collector.Untyped)
	if h := r["node_netstat_Tcp_CurrEstab"].Desc.Help; h != "Statistic TcpCurrEstab." {
		t.Errorf("help %q", h)
	}
	r.want(t, "node_netstat_Tcp_CurrEstab", 87)
	r.want(t, "node_netstat_Tcp_MaxConn", -1)
	r.want(t, "node_netstat_Tcp_InSegs", 9012345678)
	r.want(t, "node_netstat_Tcp_RetransSegs", 1234567)
	r.want(t, "node_netstat_TcpExt_ListenDrops", 12)
	r.want(t, "node_netstat_TcpExt_SyncookiesFailed", 3)
	r.want(t, "node_netstat_TcpExt_TCPOFOQueue", 90412)
	r.want(t, "node_netstat_IpExt_InOctets", 81234567890123)
	r.want(t, "node_netstat_Ip_Forwarding", 1)
	r.want(t, "node_netstat_Icmp_InErrors", 2)
	r.want(t, "node_netstat_Udp_RcvbufErrors", 5)
	r.want(t, "node_netstat_UdpLite_InErrors", 0)
	r.want(t, "node_netstat_Ip6_InOctets", 987654321)
	r.want(t, "node_netstat_Udp6_InDatagrams", 12345)
	r.want(t, "node_netstat_Icmp6_OutMsgs", 3456)
	for _, n := range []string{"node_netstat_Tcp_RtoMin", "node_netstat_TcpExt_TW", "node_netstat_IcmpMsg_InType3", "node_netstat_Ip6_InReceives"} {
		if r[n] != nil {
			t.Errorf("%s exported; the default field regexp excludes it", n)
		}
	}
}

func TestNetstatFieldsConfig(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{NetstatFields: "^Tcp_(RtoMin|CurrEstab)$"}, "netstat"))
	if len(r) != 2 {
		t.Errorf("%d families, want 2", len(r))
	}
	r.want(t, "node_netstat_Tcp_RtoMin", 200)
	r.want(t, "node_netstat_Tcp_CurrEstab", 87)
}

func TestNetstatHeaderChange(t *testing.T) {
	proc := t.TempDir()
	write := func(snmp string) {
		if err := os.MkdirAll(filepath.Join(proc, "net"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, "net", "netstat"), []byte("TcpExt: ListenDrops\nTcpExt: 4\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, "net", "snmp"), []byte(snmp), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newByName(t, hostfs.Roots{Proc: proc}, Config{}, "netstat")
	write("Tcp: CurrEstab InSegs\nTcp: 1 2\n")
	r := collectOnce(t, c)
	r.want(t, "node_netstat_Tcp_InSegs", 2)
	r.want(t, "node_netstat_TcpExt_ListenDrops", 4) // snmp6 is absent: IPv6 disabled
	write("Tcp: InSegs CurrEstab OutSegs\nTcp: 5 6 7\n")
	r = collectOnce(t, c)
	r.want(t, "node_netstat_Tcp_InSegs", 5)
	r.want(t, "node_netstat_Tcp_CurrEstab", 6)
	r.want(t, "node_netstat_Tcp_OutSegs", 7)
}

func TestNetstatNoData(t *testing.T) {
	c := newByName(t, hostfs.Roots{Proc: t.TempDir()}, Config{}, "netstat")
	if _, err := collector.CollectOnce(t.Context(), c); !errorsIsNoData(err) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}
