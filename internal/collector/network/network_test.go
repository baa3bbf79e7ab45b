package network

import (
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestNewNames(t *testing.T) {
	cs, err := New(hostfs.DefaultRoots(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name())
	}
	want := "netdev,netclass,netstat,sockstat,softnet,arp,conntrack,udp_queues,tcpstat"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("collectors %s, want %s", got, want)
	}
}

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "netdev include and exclude",
			cfg:  Config{NetdevDeviceInclude: "eth", NetdevDeviceExclude: "lo"},
			want: "network config: netdev_device_include and netdev_device_exclude are mutually exclusive; set only one of them",
		},
		{
			name: "bad netdev include",
			cfg:  Config{NetdevDeviceInclude: "eth("},
			want: "network config: netdev_device_include \"eth(\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing closing ): `eth(`",
		},
		{
			name: "bad netdev exclude",
			cfg:  Config{NetdevDeviceExclude: "[lo"},
			want: "network config: netdev_device_exclude \"[lo\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing closing ]: `[lo`",
		},
		{
			name: "bad netclass",
			cfg:  Config{NetclassIgnoredDevices: "*"},
			want: "network config: netclass_ignored_devices \"*\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing argument to repetition operator: `*`",
		},
		{
			name: "arp include and exclude",
			cfg:  Config{ArpDeviceInclude: "a", ArpDeviceExclude: "b"},
			want: "network config: arp_device_include and arp_device_exclude are mutually exclusive; set only one of them",
		},
		{
			name: "bad netstat fields",
			cfg:  Config{NetstatFields: "(?<x"},
			want: "network config: netstat_fields \"(?<x\" is not a valid regular expression (RE2 syntax): error parsing regexp: invalid named capture: `(?<x`",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(hostfs.Roots{}, tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\n want %s", err, tt.want)
			}
		})
	}
}

func TestParseHex(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"00000733", 0x733, true},
		{"DeadBeef", 0xdeadbeef, true},
		{"ffffffffffffffff", 1<<64 - 1, true},
		{"1ffffffffffffffff", 0, false},
		{"", 0, false},
		{"0x10", 0, false},
		{"-1", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseHex([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseHex(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
