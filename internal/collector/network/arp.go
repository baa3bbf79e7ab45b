package network

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// arpDevice counts the entries of one device.
type arpDevice struct {
	name    string
	labels  []string // {name}
	ignored bool
	count   int
	gen     uint64
}

// arpCollector reads /proc/net/arp as node_exporter's arp collector with
// --no-collector.arp.netlink.
type arpCollector struct {
	roots  hostfs.Roots
	path   string
	buf    []byte
	fields [][]byte
	filter deviceFilter
	devs   map[string]*arpDevice
	order  []*arpDevice
	gen    uint64
	desc   *collector.Desc
}

func newArp(roots hostfs.Roots, filter deviceFilter) *arpCollector {
	return &arpCollector{
		roots:  roots,
		path:   roots.ProcPath("net", "arp"),
		filter: filter,
		devs:   make(map[string]*arpDevice),
		desc:   collector.NewDesc("node_arp_entries", "ARP entries by device", collector.Gauge, "device"),
	}
}

func (c *arpCollector) Name() string { return "arp" }

func (c *arpCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("arp: %s does not exist: %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read ARP table: %w", err)
	}
	if err := c.parse(c.path, b); err != nil {
		return err
	}
	for _, d := range c.order {
		if !d.ignored {
			e.Emit(c.desc, float64(d.count), d.labels...)
		}
	}
	return nil
}

// parse counts the entries per device (the sixth column) into c.order,
// sorted by name. The first line is the header.
func (c *arpCollector) parse(file string, b []byte) error {
	c.gen++
	c.order = c.order[:0]
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return &hostfs.ParseError{File: file, Line: 1, Msg: "empty file; expected a header line"}
	}
	for l.Next() {
		c.fields = hostfs.Fields(c.fields, l.Bytes())
		if len(c.fields) == 0 {
			continue
		}
		if len(c.fields) != 6 {
			return l.Errorf("expected 6 columns (IP address, HW type, Flags, HW address, Mask, Device), got %d", len(c.fields))
		}
		name := c.fields[5]
		d, ok := c.devs[string(name)]
		if !ok {
			n := string(name)
			d = &arpDevice{name: n, labels: []string{n}, ignored: c.filter.ignored(n)}
			c.devs[n] = d
		}
		if d.gen != c.gen {
			d.gen, d.count = c.gen, 0
			c.order = append(c.order, d)
		}
		d.count++
	}
	if len(c.devs) != len(c.order) {
		for n, d := range c.devs {
			if d.gen != c.gen {
				delete(c.devs, n)
			}
		}
	}
	slices.SortFunc(c.order, func(a, b *arpDevice) int { return strings.Compare(a.name, b.name) })
	return nil
}
