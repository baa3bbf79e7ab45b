package network

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"syscall"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// netclassNumeric lists the integer attributes of /sys/class/net/<iface>
// and the node_network_<metric> each becomes, as in node_exporter.
var netclassNumeric = [...]struct {
	file, metric string
	typ          collector.ValueType
}{
	{"addr_assign_type", "address_assign_type", collector.Gauge},
	{"carrier", "carrier", collector.Gauge},
	{"carrier_changes", "carrier_changes_total", collector.Counter},
	{"carrier_up_count", "carrier_up_changes_total", collector.Counter},
	{"carrier_down_count", "carrier_down_changes_total", collector.Counter},
	{"dev_id", "device_id", collector.Gauge},
	{"dormant", "dormant", collector.Gauge},
	{"flags", "flags", collector.Gauge},
	{"ifindex", "iface_id", collector.Gauge},
	{"iflink", "iface_link", collector.Gauge},
	{"link_mode", "iface_link_mode", collector.Gauge},
	{"mtu", "mtu_bytes", collector.Gauge},
	{"name_assign_type", "name_assign_type", collector.Gauge},
	{"netdev_group", "net_dev_group", collector.Gauge},
	{"speed", "speed_bytes", collector.Gauge},
	{"tx_queue_len", "transmit_queue_length", collector.Gauge},
	{"type", "protocol_type", collector.Gauge},
}

// Indexes into netclassNumeric used by the collector's logic.
const (
	ncFlags   = 7
	ncIfindex = 8
	ncSpeed   = 14
	ncNumeric = len(netclassNumeric)
)

// netclassStrings lists the text attributes that feed node_network_info
// and node_network_up.
var netclassStrings = [...]string{"address", "broadcast", "duplex", "ifalias", "operstate"}

const (
	ncAddress = iota
	ncBroadcast
	ncDuplex
	ncIfalias
	ncOperstate
	ncStrings
)

// netclassIface is what the collector keeps about one interface.
type netclassIface struct {
	name        string
	labels      []string // {name}
	ignored     bool
	numPaths    [ncNumeric]string
	strPaths    [ncStrings]string
	vals        [ncNumeric]int64
	has         [ncNumeric]bool
	strs        [ncStrings]string
	adminstate  string
	infoLabels  []string // replaced, never modified, when a value changes
	seenThisGen uint64
}

// netclassCollector reads /sys/class/net/<iface>/ as node_exporter's
// netclass collector (sysfs mode).
type netclassCollector struct {
	roots  hostfs.Roots
	dir    string
	buf    []byte
	filter deviceFilter

	ifaces map[string]*netclassIface
	order  []*netclassIface
	gen    uint64

	upDesc   *collector.Desc
	infoDesc *collector.Desc
	numDescs [ncNumeric]*collector.Desc
}

func newNetclass(roots hostfs.Roots, filter deviceFilter) *netclassCollector {
	c := &netclassCollector{
		roots:  roots,
		dir:    roots.SysPath("class", "net"),
		filter: filter,
		ifaces: make(map[string]*netclassIface),
		upDesc: collector.NewDesc("node_network_up",
			"Value is 1 if operstate is 'up', 0 otherwise.", collector.Gauge, "device"),
		infoDesc: collector.NewDesc("node_network_info",
			"Non-numeric data from /sys/class/net/<iface>, value is always 1.", collector.Gauge,
			"address", "adminstate", "broadcast", "device", "duplex", "ifalias", "operstate"),
	}
	for i, a := range netclassNumeric {
		c.numDescs[i] = collector.NewDesc("node_network_"+a.metric,
			"Network device property: "+a.metric, a.typ, "device")
	}
	return c
}

func (c *netclassCollector) Name() string { return "netclass" }

func (c *netclassCollector) Collect(_ context.Context, e *collector.Emitter) error {
	names, err := c.roots.ReadDirNames(c.dir)
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("netclass: %s does not exist: %w", c.dir, collector.ErrNoData)
		}
		return fmt.Errorf("list network interfaces: %w", err)
	}
	sort.Strings(names)
	c.gen++
	c.order = c.order[:0]
	seen := 0
	for _, n := range names {
		ifc := c.iface(n)
		ifc.seenThisGen = c.gen
		seen++
		if ifc.ignored {
			continue
		}
		ok, err := c.read(ifc)
		if err != nil {
			return err
		}
		if ok {
			c.order = append(c.order, ifc)
		}
	}
	if len(c.ifaces) != seen {
		for n, ifc := range c.ifaces {
			if ifc.seenThisGen != c.gen {
				delete(c.ifaces, n)
			}
		}
	}

	for _, ifc := range c.order {
		up := 0.0
		if ifc.strs[ncOperstate] == "up" {
			up = 1
		}
		e.Emit(c.upDesc, up, ifc.labels...)
	}
	for _, ifc := range c.order {
		e.Emit(c.infoDesc, 1, ifc.infoLabels...)
	}
	for i, d := range c.numDescs {
		for _, ifc := range c.order {
			if !ifc.has[i] {
				continue
			}
			v := float64(ifc.vals[i])
			if i == ncSpeed {
				if ifc.vals[i] < 0 {
					continue // -1: speed unknown
				}
				v *= 125000 // Mb/s to bytes/s
			}
			e.Emit(d, v, ifc.labels...)
		}
	}
	return nil
}

func (c *netclassCollector) iface(name string) *netclassIface {
	if ifc, ok := c.ifaces[name]; ok {
		return ifc
	}
	ifc := &netclassIface{name: name, labels: []string{name}, ignored: c.filter.ignored(name)}
	for i, a := range netclassNumeric {
		ifc.numPaths[i] = c.roots.SysPath("class", "net", name, a.file)
	}
	for i, f := range netclassStrings {
		ifc.strPaths[i] = c.roots.SysPath("class", "net", name, f)
	}
	c.ifaces[name] = ifc
	return ifc
}

// read reads an interface's attributes. It returns false when the entry is
// not an interface (a file such as bonding_masters) or vanished. An
// attribute that cannot be read (EINVAL for the speed of a down link,
// EOPNOTSUPP, a missing file on an older kernel) is left out; a value that
// cannot be parsed is an error.
func (c *netclassCollector) read(ifc *netclassIface) (bool, error) {
	// ifindex exists on every interface since Linux 2.6; reading it first
	// tells a vanished or non-directory entry from a missing attribute.
	b, err := c.roots.ReadFile(ifc.numPaths[ncIfindex], c.buf)
	c.buf = b
	if err != nil && (hostfs.IsNotExist(err) || errors.Is(err, syscall.ENOTDIR)) {
		return false, nil
	}
	if err := c.setNumeric(ifc, ncIfindex, b, err); err != nil {
		return false, err
	}
	for i := range netclassNumeric {
		if i == ncIfindex {
			continue
		}
		b, err = c.roots.ReadFile(ifc.numPaths[i], c.buf)
		c.buf = b
		if err := c.setNumeric(ifc, i, b, err); err != nil {
			return false, err
		}
	}
	changed := ifc.infoLabels == nil
	for i := range netclassStrings {
		b, err = c.roots.ReadFile(ifc.strPaths[i], c.buf)
		c.buf = b
		t := trimSpace(b)
		if err != nil {
			t = nil
		}
		if string(t) != ifc.strs[i] {
			ifc.strs[i] = string(t)
			changed = true
		}
	}
	admin := "unknown"
	if ifc.has[ncFlags] {
		admin = "down"
		if ifc.vals[ncFlags]&1 == 1 { // IFF_UP
			admin = "up"
		}
	}
	if admin != ifc.adminstate {
		ifc.adminstate = admin
		changed = true
	}
	if changed {
		// Label order: address, adminstate, broadcast, device, duplex, ifalias, operstate.
		ifc.infoLabels = []string{ifc.strs[ncAddress], ifc.adminstate, ifc.strs[ncBroadcast], ifc.name,
			ifc.strs[ncDuplex], ifc.strs[ncIfalias], ifc.strs[ncOperstate]}
	}
	return true, nil
}

// setNumeric stores integer attribute i read as b (or not, when readErr is
// set: the attribute is then left out).
func (c *netclassCollector) setNumeric(ifc *netclassIface, i int, b []byte, readErr error) error {
	ifc.has[i] = false
	if readErr != nil {
		return nil
	}
	t := trimSpace(b)
	v, ok := parseSysInt(t)
	if !ok {
		return &hostfs.ParseError{File: ifc.numPaths[i], Line: 1, Text: string(t), Msg: "expected an integer"}
	}
	ifc.vals[i], ifc.has[i] = v, true
	return nil
}
