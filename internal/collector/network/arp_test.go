package network

import (
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

const arpHeader = "IP address       HW type     Flags       HW address            Mask     Device\n"

func TestParseArp(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // device=count,...
		wantErr string
	}{
		{
			name: "normal",
			in: arpHeader + "192.168.1.1      0x1         0x2         00:11:22:33:44:55     *        eth0\n" +
				"10.0.0.2         0x1         0x2         00:11:22:33:44:56     *        ens1f0\n" +
				"192.168.1.7      0x1         0x0         00:00:00:00:00:00     *        eth0\n",
			want: "ens1f0=1,eth0=2",
		},
		{name: "header only", in: arpHeader, want: ""},
		{name: "empty", in: "", wantErr: `/proc/net/arp:1: empty file; expected a header line (line: "")`},
		{name: "short line", in: arpHeader + "192.168.1.1 0x1 0x2 00:11:22:33:44:55 eth0\n", wantErr: `/proc/net/arp:2: expected 6 columns (IP address, HW type, Flags, HW address, Mask, Device), got 5 (line: "192.168.1.1 0x1 0x2 00:11:22:33:44:55 eth0")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newArp(hostfs.Roots{}, deviceFilter{})
			err := c.parse("/proc/net/arp", []byte(tt.in))
			if tt.wantErr != "" {
				wantParseErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range c.order {
				got = append(got, d.labels[0]+"="+fmtG(float64(d.count)))
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("got %s, want %s", strings.Join(got, ","), tt.want)
			}
		})
	}
}

func TestArpCollect(t *testing.T) {
	c := newByName(t, fixtureRoots(), Config{}, "arp")
	for tick := 0; tick < 2; tick++ { // counts restart each tick
		r := collectOnce(t, c)
		r.shape(t, "node_arp_entries", collector.Gauge, "device")
		r.want(t, "node_arp_entries", 2, "eth0")
		r.want(t, "node_arp_entries", 3, "ens1f0")
	}
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{ArpDeviceExclude: "^eth"}, "arp"))
	r.absent(t, "node_arp_entries", "eth0")
	r.want(t, "node_arp_entries", 3, "ens1f0")
}
