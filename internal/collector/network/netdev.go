package network

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// netdevColumns are the 16 counters of a /proc/net/dev line, named as
// node_exporter names them after its legacy renaming (errs, drop, colls).
var netdevColumns = [16]string{
	"receive_bytes", "receive_packets", "receive_errs", "receive_drop",
	"receive_fifo", "receive_frame", "receive_compressed", "receive_multicast",
	"transmit_bytes", "transmit_packets", "transmit_errs", "transmit_drop",
	"transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed",
}

// netdevDevice is what the collector keeps about one device between ticks.
type netdevDevice struct {
	name          string
	labels        []string // {name}; never modified once emitted
	ignored       bool
	nohandlerPath string
	gen           uint64
	vals          [16]uint64
	nohandler     uint64
	hasNoHandler  bool
}

// netdevCollector reads /proc/net/dev as node_exporter's netdev collector.
type netdevCollector struct {
	roots         hostfs.Roots
	path          string
	buf           []byte
	nhBuf         []byte
	fields        [][]byte
	filter        deviceFilter
	readNoHandler bool

	devs  map[string]*netdevDevice
	order []*netdevDevice // this tick's devices, sorted by name
	gen   uint64
	seen  int // devices in this tick's file, filtered or not

	descs         [16]*collector.Desc
	nohandlerDesc *collector.Desc
}

func newNetdev(roots hostfs.Roots, filter deviceFilter, readNoHandler bool) *netdevCollector {
	c := &netdevCollector{
		roots:         roots,
		path:          roots.ProcPath("net", "dev"),
		filter:        filter,
		readNoHandler: readNoHandler,
		devs:          make(map[string]*netdevDevice),
		nohandlerDesc: collector.NewDesc("node_network_receive_nohandler_total",
			"Network device statistic receive_nohandler.", collector.Counter, "device"),
	}
	for i, col := range netdevColumns {
		c.descs[i] = collector.NewDesc("node_network_"+col+"_total",
			"Network device statistic "+col+".", collector.Counter, "device")
	}
	return c
}

func (c *netdevCollector) Name() string { return "netdev" }

func (c *netdevCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("netdev: %s does not exist: %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read network device statistics: %w", err)
	}
	if err := c.parse(c.path, b); err != nil {
		return err
	}
	if c.readNoHandler {
		if err := c.readNoHandlers(); err != nil {
			return err
		}
	}
	for i, d := range c.descs {
		for _, dev := range c.order {
			e.Emit(d, float64(dev.vals[i]), dev.labels...)
		}
	}
	for _, dev := range c.order {
		if dev.hasNoHandler {
			e.Emit(c.nohandlerDesc, float64(dev.nohandler), dev.labels...)
		}
	}
	return nil
}

// parse reads the device lines of /proc/net/dev into c.order, sorted by
// name, leaving out filtered devices.
func (c *netdevCollector) parse(file string, b []byte) error {
	c.gen++
	c.seen = 0
	c.order = c.order[:0]
	l := hostfs.NewLines(file, b)
	for i := 0; i < 2; i++ {
		if !l.Next() {
			return &hostfs.ParseError{File: file, Line: i + 1, Msg: "missing header; expected two header lines before the devices"}
		}
		if bytes.IndexByte(l.Bytes(), '|') < 0 {
			return l.Errorf("header line has no '|' column separator")
		}
	}
	for l.Next() {
		line := l.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return l.Errorf("expected \"<device>: <16 counters>\", found no colon")
		}
		name := trimSpace(line[:colon])
		if len(name) == 0 {
			return l.Errorf("empty device name")
		}
		c.fields = hostfs.Fields(c.fields, line[colon+1:])
		if len(c.fields) != len(netdevColumns) {
			return l.Errorf("expected %d counters after the device name, got %d", len(netdevColumns), len(c.fields))
		}
		dev := c.device(name)
		if dev.gen == c.gen {
			return l.Errorf("device %q listed twice", name)
		}
		dev.gen = c.gen
		c.seen++
		if dev.ignored {
			continue
		}
		for i, f := range c.fields {
			v, ok := hostfs.ParseUint(f)
			if !ok {
				return l.Errorf("%s: %q is not an unsigned integer", netdevColumns[i], f)
			}
			dev.vals[i] = v
		}
		c.order = append(c.order, dev)
	}
	c.prune()
	slices.SortFunc(c.order, func(a, b *netdevDevice) int { return strings.Compare(a.name, b.name) })
	return nil
}

// device returns the state kept for a device, creating it on first sight.
func (c *netdevCollector) device(name []byte) *netdevDevice {
	if dev, ok := c.devs[string(name)]; ok {
		return dev
	}
	n := string(name)
	dev := &netdevDevice{
		name:          n,
		labels:        []string{n},
		ignored:       c.filter.ignored(n),
		nohandlerPath: c.roots.SysPath("class", "net", n, "statistics", "rx_nohandler"),
	}
	c.devs[n] = dev
	return dev
}

// prune forgets devices that were not in this tick's file.
func (c *netdevCollector) prune() {
	if len(c.devs) == c.seen {
		return
	}
	for n, dev := range c.devs {
		if dev.gen != c.gen {
			delete(c.devs, n)
		}
	}
}

// readNoHandlers reads statistics/rx_nohandler of each device from sysfs.
// A device without the attribute (an old kernel, a device of another
// network namespace) simply has no nohandler sample.
func (c *netdevCollector) readNoHandlers() error {
	for _, dev := range c.order {
		dev.hasNoHandler = false
		b, err := c.roots.ReadFile(dev.nohandlerPath, c.nhBuf)
		c.nhBuf = b
		if err != nil {
			continue
		}
		v, ok := hostfs.ParseUint(trimSpace(b))
		if !ok {
			return &hostfs.ParseError{File: dev.nohandlerPath, Line: 1, Text: string(trimSpace(b)), Msg: "expected an unsigned integer"}
		}
		dev.nohandler, dev.hasNoHandler = v, true
	}
	return nil
}
