// Package network provides the network collectors, named and shaped as
// node_exporter's: netdev (/proc/net/dev), netclass (/sys/class/net),
// netstat (/proc/net/netstat, snmp, snmp6), sockstat, softnet, arp,
// conntrack, udp_queues and tcpstat (netlink sock_diag).
package network

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// DefaultNetstatFields is node_exporter's default --collector.netstat.fields
// regular expression with Tcp_MaxConn added, which dashboard 1860 uses.
const DefaultNetstatFields = `^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab|MaxConn)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$`

// Config holds the options of the network collectors. The zero value gives
// node_exporter's defaults. Regular expressions use Go's RE2 syntax and are
// not anchored unless they say so, as in node_exporter.
type Config struct {
	// NetdevDeviceInclude keeps only the netdev devices that match
	// (node_exporter's --collector.netdev.device-include).
	NetdevDeviceInclude string `yaml:"netdev_device_include"`
	// NetdevDeviceExclude drops the netdev devices that match
	// (--collector.netdev.device-exclude). Mutually exclusive with the include.
	NetdevDeviceExclude string `yaml:"netdev_device_exclude"`
	// NetdevNoHandler reads statistics/rx_nohandler from sysfs for each
	// netdev device, so that node_network_receive_nohandler_total exists as
	// with node_exporter's default netlink mode. Nil means true.
	NetdevNoHandler *bool `yaml:"netdev_nohandler"`
	// NetclassIgnoredDevices drops the netclass devices that match
	// (--collector.netclass.ignored-devices).
	NetclassIgnoredDevices string `yaml:"netclass_ignored_devices"`
	// NetclassSlowInterval is how often netclass lists /sys/class/net again
	// and re-reads the interface attributes that change only on
	// reconfiguration (address, mtu, flags, speed, duplex, ...). operstate,
	// carrier, carrier_changes, carrier_up_count, carrier_down_count and
	// dormant are read every tick, and a change in any of them re-reads the
	// slow attributes on the same tick (speed and duplex change when a link
	// comes up). An interface that is removed disappears on the next tick; a
	// new one appears up to one interval late. Default 1m; 0 means the
	// default; negative is an error.
	NetclassSlowInterval time.Duration `yaml:"netclass_slow_interval"`
	// NetstatFields selects the netstat fields to export, matched against
	// "<Proto>_<Field>" (--collector.netstat.fields). Empty means
	// DefaultNetstatFields.
	NetstatFields string `yaml:"netstat_fields"`
	// TCPStatInterval is how often tcpstat dumps the sockets over netlink;
	// in between every tick serves the last counts. A dump costs about
	// 0.4 µs per socket (45 ms with 100,000 sockets, which distributed
	// training and data loaders reach) and the states are gauges that
	// Prometheus scrapes every 15 s at most. Default 5s; 0 means the
	// default; negative is an error.
	TCPStatInterval time.Duration `yaml:"tcpstat_interval"`
	// ArpDeviceInclude keeps only the ARP devices that match
	// (--collector.arp.device-include).
	ArpDeviceInclude string `yaml:"arp_device_include"`
	// ArpDeviceExclude drops the ARP devices that match
	// (--collector.arp.device-exclude). Mutually exclusive with the include.
	ArpDeviceExclude string `yaml:"arp_device_exclude"`

	// Now is the clock of the collectors that cache values (netclass); nil
	// means time.Now. Tests inject one.
	Now func() time.Time `yaml:"-"`
}

// DefaultTCPStatInterval is the default of Config.TCPStatInterval.
const DefaultTCPStatInterval = 5 * time.Second

// New returns the package's collectors reading under roots: netdev,
// netclass, netstat, sockstat, softnet, arp, conntrack, udp_queues and
// tcpstat. tcpstat asks the running kernel over netlink whatever the roots
// say, so fixture-based tests leave it out by name.
func New(roots hostfs.Roots, cfg Config) ([]collector.Collector, error) {
	netdevFilter, err := newDeviceFilter("netdev_device_include", cfg.NetdevDeviceInclude, "netdev_device_exclude", cfg.NetdevDeviceExclude)
	if err != nil {
		return nil, err
	}
	arpFilter, err := newDeviceFilter("arp_device_include", cfg.ArpDeviceInclude, "arp_device_exclude", cfg.ArpDeviceExclude)
	if err != nil {
		return nil, err
	}
	netclassFilter, err := newDeviceFilter("", "", "netclass_ignored_devices", cfg.NetclassIgnoredDevices)
	if err != nil {
		return nil, err
	}
	netclass, err := newNetclass(roots, netclassFilter, cfg)
	if err != nil {
		return nil, err
	}
	fields := cfg.NetstatFields
	if fields == "" {
		fields = DefaultNetstatFields
	}
	fieldRE, err := regexp.Compile(fields)
	if err != nil {
		return nil, fmt.Errorf("network config: netstat_fields %q is not a valid regular expression (RE2 syntax): %w", fields, err)
	}
	nohandler := cfg.NetdevNoHandler == nil || *cfg.NetdevNoHandler
	tcpEvery := cfg.TCPStatInterval
	switch {
	case tcpEvery < 0:
		return nil, fmt.Errorf("network config: tcpstat_interval is %s; it must be positive (for example 5s), or 0 for the default of %s",
			tcpEvery, DefaultTCPStatInterval)
	case tcpEvery == 0:
		tcpEvery = DefaultTCPStatInterval
	}
	return []collector.Collector{
		newNetdev(roots, netdevFilter, nohandler),
		netclass,
		newNetstat(roots, fieldRE),
		newSockstat(roots),
		newSoftnet(roots),
		newArp(roots, arpFilter),
		newConntrack(roots),
		newUDPQueues(roots),
		newTCPStat(roots, tcpEvery),
	}, nil
}

// deviceFilter is node_exporter's device filter: a device is ignored when it
// matches the exclude pattern or does not match the include pattern.
type deviceFilter struct {
	include *regexp.Regexp
	exclude *regexp.Regexp
}

// newDeviceFilter compiles a filter; includeOpt and excludeOpt are the
// configuration keys, named in errors.
func newDeviceFilter(includeOpt, include, excludeOpt, exclude string) (deviceFilter, error) {
	var f deviceFilter
	if include != "" && exclude != "" {
		return f, fmt.Errorf("network config: %s and %s are mutually exclusive; set only one of them", includeOpt, excludeOpt)
	}
	var err error
	if include != "" {
		if f.include, err = regexp.Compile(include); err != nil {
			return f, fmt.Errorf("network config: %s %q is not a valid regular expression (RE2 syntax): %w", includeOpt, include, err)
		}
	}
	if exclude != "" {
		if f.exclude, err = regexp.Compile(exclude); err != nil {
			return f, fmt.Errorf("network config: %s %q is not a valid regular expression (RE2 syntax): %w", excludeOpt, exclude, err)
		}
	}
	return f, nil
}

// ignored reports whether the device is filtered out.
func (f deviceFilter) ignored(name string) bool {
	return (f.exclude != nil && f.exclude.MatchString(name)) ||
		(f.include != nil && !f.include.MatchString(name))
}

// parseHex parses an unsigned hexadecimal number (no 0x prefix) without
// allocating.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// parseSysInt parses a sysfs integer attribute: decimal, optionally
// negative, or hexadecimal with a 0x prefix (flags, dev_id), as procfs does.
func parseSysInt(b []byte) (int64, bool) {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		v, ok := parseHex(b[2:])
		if !ok || v > 1<<63-1 {
			return 0, false
		}
		return int64(v), true
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := hostfs.ParseUint(b)
	if !ok || u > 1<<63 || (!neg && u > 1<<63-1) {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// trimSpace trims ASCII white space (sysfs values end in a newline).
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// cpuLabels caches the decimal strings of CPU numbers so that per-CPU
// samples do not allocate a label slice every tick.
type cpuLabels [][]string

func (c *cpuLabels) get(i int) []string {
	for len(*c) <= i {
		*c = append(*c, []string{strconv.Itoa(len(*c))})
	}
	return (*c)[i]
}
