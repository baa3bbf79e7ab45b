package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseSysInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"9000", 9000, true},
		{"-1", -1, true},
		{"0x1003", 4099, true},
		{"0X9", 9, true},
		{"0x0", 0, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"-9223372036854775808", -1 << 63, true},
		{"9223372036854775808", 0, false},
		{"0xffffffffffffffff", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"0x", 0, false},
		{"0xg", 0, false},
		{"12a", 0, false},
		{"1.5", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSysInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSysInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNetclassCollect(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{}, "netclass"))
	r.shape(t, "node_network_up", collector.Gauge, "device")
	r.shape(t, "node_network_info", collector.Gauge, "address", "adminstate", "broadcast", "device", "duplex", "ifalias", "operstate")
	for _, a := range netclassNumeric {
		r.shape(t, "node_network_"+a.metric, a.typ, "device")
	}

	// bonding_masters is a file, not an interface.
	var devs []string
	for _, s := range r["node_network_up"].Samples {
		devs = append(devs, s.LabelValues[0])
	}
	if got := strings.Join(devs, ","); got != "docker0,ens1f0,ens1f1,eth0,lo" {
		t.Errorf("interfaces %s", got)
	}

	r.want(t, "node_network_up", 1, "eth0")
	r.want(t, "node_network_up", 1, "ens1f0")
	r.want(t, "node_network_up", 0, "ens1f1")
	r.want(t, "node_network_up", 0, "lo") // operstate "unknown"
	r.want(t, "node_network_info", 1, "3c:ec:ef:4a:21:7e", "up", "ff:ff:ff:ff:ff:ff", "eth0", "full", "", "up")
	r.want(t, "node_network_info", 1, "b8:3f:d2:1c:90:4a", "up", "ff:ff:ff:ff:ff:ff", "ens1f0", "full", "rdma-less data plane", "up")
	r.want(t, "node_network_info", 1, "b8:3f:d2:1c:90:4b", "down", "ff:ff:ff:ff:ff:ff", "ens1f1", "unknown", "", "down")
	r.want(t, "node_network_info", 1, "00:00:00:00:00:00", "up", "00:00:00:00:00:00", "lo", "", "", "unknown")

	r.want(t, "node_network_speed_bytes", 100000*125000, "ens1f0")
	r.want(t, "node_network_speed_bytes", 10000*125000, "eth0")
	r.absent(t, "node_network_speed_bytes", "ens1f1") // -1: unknown
	r.absent(t, "node_network_speed_bytes", "lo")     // no attribute
	r.want(t, "node_network_mtu_bytes", 9000, "ens1f0")
	r.want(t, "node_network_mtu_bytes", 65536, "lo")
	r.want(t, "node_network_carrier", 1, "ens1f0")
	r.want(t, "node_network_carrier", 0, "docker0")
	r.absent(t, "node_network_carrier", "ens1f1") // unreadable: only that attribute is skipped
	r.want(t, "node_network_mtu_bytes", 1500, "ens1f1")
	r.want(t, "node_network_carrier_changes_total", 6, "ens1f0")
	r.want(t, "node_network_carrier_up_changes_total", 3, "ens1f0")
	r.want(t, "node_network_carrier_down_changes_total", 3, "ens1f0")
	r.want(t, "node_network_flags", 0x1003, "eth0")
	r.want(t, "node_network_flags", 9, "lo")
	r.want(t, "node_network_device_id", 0, "eth0")
	r.want(t, "node_network_iface_id", 3, "ens1f0")
	r.want(t, "node_network_iface_link", 3, "ens1f0")
	r.want(t, "node_network_iface_link_mode", 0, "ens1f0")
	r.want(t, "node_network_address_assign_type", 0, "ens1f0")
	r.want(t, "node_network_name_assign_type", 4, "ens1f0")
	r.absent(t, "node_network_name_assign_type", "lo")
	r.want(t, "node_network_net_dev_group", 0, "ens1f0")
	r.want(t, "node_network_dormant", 0, "ens1f0")
	r.want(t, "node_network_transmit_queue_length", 1000, "ens1f0")
	r.want(t, "node_network_protocol_type", 772, "lo")
	r.want(t, "node_network_protocol_type", 1, "eth0")
}

func TestNetclassIgnoredDevices(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{NetclassIgnoredDevices: "^(docker|ens1f1)"}, "netclass"))
	if n := len(r["node_network_up"].Samples); n != 3 {
		t.Errorf("%d interfaces, want 3", n)
	}
	r.absent(t, "node_network_up", "docker0")
	r.absent(t, "node_network_up", "ens1f1")
}

// writeIface writes a minimal interface under sys/class/net.
func writeIface(t *testing.T, sys, name string, attrs map[string]string) {
	t.Helper()
	dir := filepath.Join(sys, "class", "net", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range attrs {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNetclassMalformedAttribute(t *testing.T) {
	tests := []struct {
		name, attr, value, want string
	}{
		{"mtu", "mtu", "abc", `class/net/eth9/mtu:1: expected an integer (line: "abc")`},
		{"flags", "flags", "0xzz", `class/net/eth9/flags:1: expected an integer (line: "0xzz")`},
		{"ifindex", "ifindex", "", `class/net/eth9/ifindex:1: expected an integer (line: "")`},
		{"speed", "speed", "100G", `class/net/eth9/speed:1: expected an integer (line: "100G")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := t.TempDir()
			attrs := map[string]string{"ifindex": "7", "operstate": "up", "mtu": "1500"}
			attrs[tt.attr] = tt.value
			writeIface(t, sys, "eth9", attrs)
			c := newByName(t, hostfs.Roots{Sys: sys}, Config{}, "netclass")
			_, err := collector.CollectOnce(t.Context(), c)
			wantParseErr(t, err, filepath.Join(sys, tt.want))
		})
	}
}

func TestNetclassChanges(t *testing.T) {
	sys := t.TempDir()
	writeIface(t, sys, "eth9", map[string]string{"ifindex": "7", "operstate": "up", "flags": "0x1003", "address": "aa:bb:cc:dd:ee:ff"})
	writeIface(t, sys, "veth1", map[string]string{"ifindex": "8", "operstate": "up"})
	c := newByName(t, hostfs.Roots{Sys: sys}, Config{}, "netclass")
	first := collectOnce(t, c)
	info := first["node_network_info"].Samples[0].LabelValues
	first.want(t, "node_network_info", 1, "aa:bb:cc:dd:ee:ff", "up", "", "eth9", "", "", "up")

	// The link goes down and veth1 disappears.
	writeIface(t, sys, "eth9", map[string]string{"operstate": "down", "flags": "0x1002"})
	if err := os.RemoveAll(filepath.Join(sys, "class", "net", "veth1")); err != nil {
		t.Fatal(err)
	}
	second := collectOnce(t, c)
	second.want(t, "node_network_info", 1, "aa:bb:cc:dd:ee:ff", "down", "", "eth9", "", "", "down")
	second.want(t, "node_network_up", 0, "eth9")
	second.absent(t, "node_network_up", "veth1")
	if strings.Join(info, ",") != "aa:bb:cc:dd:ee:ff,up,,eth9,,,up" {
		t.Errorf("labels emitted in the first tick were modified: %q", info)
	}
	if len(c.(*netclassCollector).ifaces) != 1 {
		t.Errorf("vanished interface still cached")
	}
}

func TestNetclassNoSysfs(t *testing.T) {
	c := newByName(t, hostfs.Roots{Sys: t.TempDir()}, Config{}, "netclass")
	_, err := collector.CollectOnce(t.Context(), c)
	if !errorsIsNoData(err) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}
