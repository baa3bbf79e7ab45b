package network

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// DefaultNetclassSlowInterval is the default of Config.NetclassSlowInterval.
const DefaultNetclassSlowInterval = time.Minute

// Which attributes are read every tick ("fast") and which only at discovery,
// every Config.NetclassSlowInterval and on a link event ("slow"). A link
// event is any change in a fast attribute (its value, or whether it can be
// read) on any interface; it re-reads the slow attributes of every
// interface on the same tick, because a bond's speed and address follow its
// slaves' links without an event of its own. operstate, carrier, dormant,
// speed and duplex read "down" or fail with EINVAL while an interface is
// administratively down, so `ip link set up/down` is always a link event.
//
//	attribute           read  why
//	operstate           fast  link state; node_network_up, info's operstate; vanish probe
//	carrier             fast  link state (EINVAL while admin down)
//	carrier_changes     fast  counts link events; catches a flap between two ticks
//	carrier_up_count    fast  as carrier_changes
//	carrier_down_count  fast  as carrier_changes
//	dormant             fast  set at run time by drivers and 802.1X/Wi-Fi supplicants
//	speed               slow  negotiated when the link comes up: a link event
//	duplex              slow  as speed
//	flags               slow  adminstate: ip link set up/down (a link event, see
//	                          above); IFF_PROMISC etc. may show one interval late
//	address             slow  reconfiguration (a bond's, on a slave's link event)
//	broadcast           slow  reconfiguration
//	ifalias             slow  reconfiguration
//	mtu                 slow  reconfiguration
//	tx_queue_len        slow  reconfiguration
//	netdev_group        slow  reconfiguration
//	link_mode           slow  reconfiguration
//	addr_assign_type    slow  fixed when the address is set
//	name_assign_type    slow  fixed at creation or rename
//	dev_id, type        slow  fixed at creation
//	ifindex, iflink     slow  fixed at creation (ifindex is the slow-read probe)
//
// /sys/class/net is listed again at every slow read and on the tick a fast
// read finds an interface gone, so a new interface appears up to one slow
// interval late and a removed one disappears on the tick its reads fail.

// netclassNumeric lists the integer attributes of /sys/class/net/<iface>
// and the node_network_<metric> each becomes, as in node_exporter.
var netclassNumeric = [...]struct {
	file, metric string
	typ          collector.ValueType
	fast         bool
}{
	{"addr_assign_type", "address_assign_type", collector.Gauge, false},
	{"carrier", "carrier", collector.Gauge, true},
	{"carrier_changes", "carrier_changes_total", collector.Counter, true},
	{"carrier_up_count", "carrier_up_changes_total", collector.Counter, true},
	{"carrier_down_count", "carrier_down_changes_total", collector.Counter, true},
	{"dev_id", "device_id", collector.Gauge, false},
	{"dormant", "dormant", collector.Gauge, true},
	{"flags", "flags", collector.Gauge, false},
	{"ifindex", "iface_id", collector.Gauge, false},
	{"iflink", "iface_link", collector.Gauge, false},
	{"link_mode", "iface_link_mode", collector.Gauge, false},
	{"mtu", "mtu_bytes", collector.Gauge, false},
	{"name_assign_type", "name_assign_type", collector.Gauge, false},
	{"netdev_group", "net_dev_group", collector.Gauge, false},
	{"speed", "speed_bytes", collector.Gauge, false},
	{"tx_queue_len", "transmit_queue_length", collector.Gauge, false},
	{"type", "protocol_type", collector.Gauge, false},
}

// Indexes into netclassNumeric used by the collector's logic.
const (
	ncFlags   = 7
	ncIfindex = 8
	ncSpeed   = 14
	ncNumeric = len(netclassNumeric)
)

// netclassStrings lists the text attributes that feed node_network_info
// and node_network_up; only operstate is fast (see the table above).
var netclassStrings = [...]string{"address", "broadcast", "duplex", "ifalias", "operstate"}

const (
	ncAddress = iota
	ncBroadcast
	ncDuplex
	ncIfalias
	ncOperstate
	ncStrings
)

// netclassIface is what the collector keeps about one entry of
// /sys/class/net.
type netclassIface struct {
	name    string
	labels  []string // {name}
	ignored bool
	// present is false for an entry that is not an interface (the file
	// bonding_masters) or that vanished; it is probed again at the next
	// listing.
	present bool
	// slowDue asks for a read of the slow attributes this tick (and of the
	// fast ones too unless fastGen is this tick); it stays set until a
	// read succeeds.
	slowDue bool
	fastGen uint64 // tick whose fast read succeeded
	listGen uint64 // listing that last saw the entry

	numPaths [ncNumeric]string
	strPaths [ncStrings]string
	vals     [ncNumeric]int64
	has      [ncNumeric]bool
	strs     [ncStrings]string
	// numGone and strGone mark attributes that did not exist at the last
	// slow read (an older kernel, lo's speed): fast ticks skip them.
	numGone    [ncNumeric]bool
	strGone    [ncStrings]bool
	adminstate string
	infoLabels []string // replaced, never modified, when a value changes
}

// netclassCollector reads /sys/class/net/<iface>/ as node_exporter's
// netclass collector (sysfs mode): the fast attributes every tick, the slow
// ones from a cache refreshed every slowEvery and on link events.
type netclassCollector struct {
	roots     hostfs.Roots
	dir       string
	buf       []byte
	filter    deviceFilter
	slowEvery time.Duration
	now       func() time.Time

	ifaces   map[string]*netclassIface
	list     []*netclassIface // the last listing, sorted by name
	order    []*netclassIface // what this tick emits
	gen      uint64           // tick counter
	listGen  uint64           // listing counter
	lastSlow time.Time        // when the last full (slow) read started

	upDesc   *collector.Desc
	infoDesc *collector.Desc
	numDescs [ncNumeric]*collector.Desc
}

// netclassOptions validates the netclass part of cfg and applies defaults.
func netclassOptions(cfg Config) (slowEvery time.Duration, now func() time.Time, err error) {
	slowEvery, now = cfg.NetclassSlowInterval, cfg.Now
	switch {
	case slowEvery < 0:
		return 0, nil, fmt.Errorf("network config: netclass_slow_interval is %s; it must be positive (for example 1m), or 0 for the default of %s",
			slowEvery, DefaultNetclassSlowInterval)
	case slowEvery == 0:
		slowEvery = DefaultNetclassSlowInterval
	}
	if now == nil {
		now = time.Now
	}
	return slowEvery, now, nil
}

func newNetclass(roots hostfs.Roots, filter deviceFilter, cfg Config) (*netclassCollector, error) {
	slowEvery, now, err := netclassOptions(cfg)
	if err != nil {
		return nil, err
	}
	c := &netclassCollector{
		roots:     roots,
		dir:       roots.SysPath("class", "net"),
		filter:    filter,
		slowEvery: slowEvery,
		now:       now,
		ifaces:    make(map[string]*netclassIface),
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
	return c, nil
}

func (c *netclassCollector) Name() string { return "netclass" }

func (c *netclassCollector) Collect(_ context.Context, e *collector.Emitter) error {
	now := c.now()
	c.gen++
	full := c.lastSlow.IsZero() || now.Sub(c.lastSlow) >= c.slowEvery || now.Before(c.lastSlow)
	if full {
		if err := c.relist(true); err != nil {
			return err
		}
		c.lastSlow = now
	} else {
		vanished, event := false, false
		for _, ifc := range c.list {
			if ifc.ignored || !ifc.present || ifc.slowDue {
				continue
			}
			gone, changed, err := c.readFast(ifc)
			if err != nil {
				return err
			}
			vanished = vanished || gone
			event = event || changed
		}
		if vanished {
			if err := c.relist(false); err != nil {
				return err
			}
		}
		if event {
			for _, ifc := range c.list {
				if ifc.present {
					ifc.slowDue = true
				}
			}
		}
	}
	c.order = c.order[:0]
	for _, ifc := range c.list {
		if ifc.ignored {
			continue
		}
		if ifc.slowDue {
			if err := c.readSlow(ifc); err != nil {
				return err
			}
		}
		if ifc.present {
			c.order = append(c.order, ifc)
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

// relist lists /sys/class/net again. New entries, entries that were not
// interfaces and, when all is set, every entry get a slow read this tick;
// entries no longer listed are forgotten.
func (c *netclassCollector) relist(all bool) error {
	names, err := c.roots.ReadDirNames(c.dir)
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("netclass: %s does not exist: %w", c.dir, collector.ErrNoData)
		}
		return fmt.Errorf("list network interfaces: %w", err)
	}
	sort.Strings(names)
	c.listGen++
	c.list = c.list[:0]
	for _, n := range names {
		ifc, ok := c.ifaces[n]
		if !ok {
			ifc = c.newIface(n)
		}
		ifc.listGen = c.listGen
		if !ok || all || !ifc.present {
			ifc.slowDue = true
		}
		c.list = append(c.list, ifc)
	}
	if len(c.ifaces) != len(c.list) {
		for n, ifc := range c.ifaces {
			if ifc.listGen != c.listGen {
				delete(c.ifaces, n)
			}
		}
	}
	return nil
}

func (c *netclassCollector) newIface(name string) *netclassIface {
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

// vanishedErr reports whether a failed read means that the interface's
// directory is gone (or was never a directory).
func vanishedErr(err error) bool {
	return hostfs.IsNotExist(err) || errors.Is(err, syscall.ENOTDIR)
}

// readFast reads the fast attributes of a known interface. gone is true
// when an attribute that existed at the last slow read no longer does: the
// interface was removed (the entry then waits for a slow read, which a
// relisting gives it if it is still listed). changed is true when a value,
// or whether it could be read, differs from the last read: a link event.
func (c *netclassCollector) readFast(ifc *netclassIface) (gone, changed bool, err error) {
	// operstate first: it exists on every interface, so a removed one is
	// noticed after one failed open.
	if !ifc.strGone[ncOperstate] {
		b, err := c.roots.ReadFile(ifc.strPaths[ncOperstate], c.buf)
		c.buf = b
		if err != nil && vanishedErr(err) {
			ifc.slowDue = true
			return true, false, nil
		}
		changed = c.setString(ifc, ncOperstate, b, err)
	}
	for i, a := range netclassNumeric {
		if !a.fast || ifc.numGone[i] {
			continue
		}
		b, err := c.roots.ReadFile(ifc.numPaths[i], c.buf)
		c.buf = b
		if err != nil && vanishedErr(err) {
			ifc.slowDue = true
			return true, changed, nil
		}
		oldV, oldHas := ifc.vals[i], ifc.has[i]
		if err := c.setNumeric(ifc, i, b, err); err != nil {
			return false, changed, err
		}
		if ifc.has[i] != oldHas || ifc.vals[i] != oldV {
			changed = true
		}
	}
	ifc.fastGen = c.gen
	if changed {
		c.setInfo(ifc)
	}
	return false, changed, nil
}

// readSlow reads an entry's slow attributes, and its fast ones unless they
// were read this tick. An entry that is not an interface (a file such as
// bonding_masters) or vanished is marked not present. An attribute that
// cannot be read (EINVAL for the speed of a down link, EOPNOTSUPP, a
// missing file on an older kernel) is left out; a value that cannot be
// parsed is an error.
func (c *netclassCollector) readSlow(ifc *netclassIface) error {
	// ifindex exists on every interface since Linux 2.6; reading it first
	// tells a vanished or non-directory entry from a missing attribute.
	b, err := c.roots.ReadFile(ifc.numPaths[ncIfindex], c.buf)
	c.buf = b
	if err != nil && vanishedErr(err) {
		ifc.present, ifc.slowDue = false, false
		return nil
	}
	if err := c.setNumeric(ifc, ncIfindex, b, err); err != nil {
		return err
	}
	withFast := ifc.fastGen != c.gen
	for i, a := range netclassNumeric {
		if i == ncIfindex || (a.fast && !withFast) {
			continue
		}
		b, err = c.roots.ReadFile(ifc.numPaths[i], c.buf)
		c.buf = b
		ifc.numGone[i] = err != nil && hostfs.IsNotExist(err)
		if err := c.setNumeric(ifc, i, b, err); err != nil {
			return err
		}
	}
	for i := range netclassStrings {
		if i == ncOperstate && !withFast {
			continue
		}
		b, err = c.roots.ReadFile(ifc.strPaths[i], c.buf)
		c.buf = b
		ifc.strGone[i] = err != nil && hostfs.IsNotExist(err)
		c.setString(ifc, i, b, err)
	}
	c.setInfo(ifc)
	ifc.present, ifc.slowDue = true, false
	if withFast {
		ifc.fastGen = c.gen
	}
	return nil
}

// setString stores text attribute i read as b ("" when readErr is set) and
// reports whether it changed.
func (c *netclassCollector) setString(ifc *netclassIface, i int, b []byte, readErr error) bool {
	t := trimSpace(b)
	if readErr != nil {
		t = nil
	}
	if string(t) == ifc.strs[i] {
		return false
	}
	ifc.strs[i] = string(t)
	return true
}

// setInfo derives adminstate and node_network_info's labels from the
// attributes, replacing the label slice only when a value changed.
func (c *netclassCollector) setInfo(ifc *netclassIface) {
	admin := "unknown"
	if ifc.has[ncFlags] {
		admin = "down"
		if ifc.vals[ncFlags]&1 == 1 { // IFF_UP
			admin = "up"
		}
	}
	ifc.adminstate = admin
	// Label order: address, adminstate, broadcast, device, duplex, ifalias, operstate.
	if l := ifc.infoLabels; l != nil && l[0] == ifc.strs[ncAddress] && l[1] == admin &&
		l[2] == ifc.strs[ncBroadcast] && l[4] == ifc.strs[ncDuplex] &&
		l[5] == ifc.strs[ncIfalias] && l[6] == ifc.strs[ncOperstate] {
		return
	}
	ifc.infoLabels = []string{ifc.strs[ncAddress], admin, ifc.strs[ncBroadcast], ifc.name,
		ifc.strs[ncDuplex], ifc.strs[ncIfalias], ifc.strs[ncOperstate]}
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
