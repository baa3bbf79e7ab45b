package network

import (
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

const netdevHeader = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

func TestParseNetdev(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string][16]uint64
		order   []string
		wantErr string
	}{
		{
			name: "normal",
			in: netdevHeader +
				"    lo:    3293      31    0    0    0     0          0         0     3293      31    0    0    0     0       0          0\n" +
				"  eth0: 63857876    2141    1    2    3     4          5         6   192577    1765    7    8    9    10      11         12\n",
			order: []string{"eth0", "lo"},
			want: map[string][16]uint64{
				"lo":   {3293, 31, 0, 0, 0, 0, 0, 0, 3293, 31},
				"eth0": {63857876, 2141, 1, 2, 3, 4, 5, 6, 192577, 1765, 7, 8, 9, 10, 11, 12},
			},
		},
		{
			name:  "wide counter touches the colon",
			in:    netdevHeader + "ens1f0:81234567890123 61234567890    2 1021    0     1          0      1024 79876543210987 59876543210    0    0    0     0       0          0\n",
			order: []string{"ens1f0"},
			want:  map[string][16]uint64{"ens1f0": {81234567890123, 61234567890, 2, 1021, 0, 1, 0, 1024, 79876543210987, 59876543210}},
		},
		{name: "header only", in: netdevHeader, order: []string{}},
		{name: "empty", in: "", wantErr: `/proc/net/dev:1: missing header; expected two header lines before the devices (line: "")`},
		{name: "one header line", in: "Inter-|   Receive  |  Transmit\n", wantErr: `/proc/net/dev:2: missing header; expected two header lines before the devices (line: "")`},
		{name: "header without columns", in: "Inter-|   Receive  |  Transmit\nface bytes\n", wantErr: `/proc/net/dev:2: header line has no '|' column separator (line: "face bytes")`},
		{name: "no colon", in: netdevHeader + "  eth0 1 2 3\n", wantErr: `/proc/net/dev:3: expected "<device>: <16 counters>", found no colon (line: "  eth0 1 2 3")`},
		{name: "no name", in: netdevHeader + "   : 1 2 3\n", wantErr: `/proc/net/dev:3: empty device name (line: "   : 1 2 3")`},
		{name: "short", in: netdevHeader + "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n", wantErr: `/proc/net/dev:3: expected 16 counters after the device name, got 15 (line: "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15")`},
		{name: "bad counter", in: netdevHeader + "lo: 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15 16\n", wantErr: `/proc/net/dev:3: transmit_errs: "x" is not an unsigned integer (line: "lo: 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15 16")`},
		{name: "negative counter", in: netdevHeader + "lo: -1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", wantErr: `/proc/net/dev:3: receive_bytes: "-1" is not an unsigned integer (line: "lo: -1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16")`},
		{name: "device twice", in: netdevHeader + "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nlo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", wantErr: `/proc/net/dev:4: device "lo" listed twice (line: "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newNetdev(hostfs.Roots{}, deviceFilter{}, false)
			err := c.parse("/proc/net/dev", []byte(tt.in))
			if tt.wantErr != "" {
				wantParseErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range c.order {
				names = append(names, d.name)
				if d.vals != tt.want[d.name] {
					t.Errorf("%s: %v, want %v", d.name, d.vals, tt.want[d.name])
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.order, ",") {
				t.Errorf("devices %q, want %q", names, tt.order)
			}
		})
	}
}

func TestNetdevCollect(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{}, "netdev"))
	for _, col := range netdevColumns {
		r.shape(t, "node_network_"+col+"_total", collector.Counter, "device")
	}
	r.shape(t, "node_network_receive_nohandler_total", collector.Counter, "device")
	if n := len(r["node_network_receive_bytes_total"].Samples); n != 5 {
		t.Errorf("%d devices, want 5", n)
	}
	r.want(t, "node_network_receive_bytes_total", 81234567890123, "ens1f0")
	r.want(t, "node_network_receive_packets_total", 61234567890, "ens1f0")
	r.want(t, "node_network_receive_errs_total", 2, "ens1f0")
	r.want(t, "node_network_receive_drop_total", 1021, "ens1f0")
	r.want(t, "node_network_receive_frame_total", 1, "ens1f0")
	r.want(t, "node_network_receive_multicast_total", 1024, "ens1f0")
	r.want(t, "node_network_transmit_bytes_total", 79876543210987, "ens1f0")
	r.want(t, "node_network_transmit_packets_total", 59876543210, "ens1f0")
	r.want(t, "node_network_receive_drop_total", 14, "eth0")
	r.want(t, "node_network_receive_multicast_total", 40312, "eth0")
	r.want(t, "node_network_transmit_bytes_total", 48213904, "lo")
	r.want(t, "node_network_transmit_packets_total", 17, "docker0")
	r.want(t, "node_network_transmit_colls_total", 0, "docker0")
	r.want(t, "node_network_receive_nohandler_total", 3, "ens1f0")
	r.want(t, "node_network_receive_nohandler_total", 0, "lo")
}

func TestNetdevFilter(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "default", cfg: Config{}, want: []string{"docker0", "ens1f0", "ens1f1", "eth0", "lo"}},
		{name: "include", cfg: Config{NetdevDeviceInclude: "^ens"}, want: []string{"ens1f0", "ens1f1"}},
		{name: "exclude", cfg: Config{NetdevDeviceExclude: "^(lo|docker.*)$"}, want: []string{"ens1f0", "ens1f1", "eth0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newByName(t, fixtureRoots(), tt.cfg, "netdev")
			for tick := 0; tick < 2; tick++ { // the second tick uses the cached filter results
				r := collectOnce(t, c)
				var got []string
				for _, s := range r["node_network_transmit_bytes_total"].Samples {
					got = append(got, s.LabelValues[0])
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Errorf("tick %d: devices %q, want %q", tick, got, tt.want)
				}
			}
		})
	}
}

func TestNetdevNoHandlerOff(t *testing.T) {
	off := false
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{NetdevNoHandler: &off}, "netdev"))
	if r["node_network_receive_nohandler_total"] != nil {
		t.Error("node_network_receive_nohandler_total emitted with netdev_nohandler off")
	}
}

func TestNetdevForgetsVanishedDevices(t *testing.T) {
	c := newNetdev(hostfs.Roots{}, deviceFilter{}, false)
	two := netdevHeader + "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nveth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	one := netdevHeader + "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	if err := c.parse("dev", []byte(two)); err != nil {
		t.Fatal(err)
	}
	if err := c.parse("dev", []byte(one)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.devs["veth1"]; ok || len(c.devs) != 1 {
		t.Errorf("devices kept: %d, veth1 kept: %v", len(c.devs), ok)
	}
}
