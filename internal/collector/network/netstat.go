package network

import (
	"bytes"
	"context"
	"fmt"
	"regexp"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// netstatSection is the parsing plan of one "Proto: names" header line of
// /proc/net/netstat or /proc/net/snmp, rebuilt only when the header changes.
type netstatSection struct {
	header []byte            // copy of the header line
	descs  []*collector.Desc // per field after the protocol; nil: not exported
	fields int               // number of fields after the protocol
}

// snmp6Line is the parsing plan of one "Name value" line of /proc/net/snmp6.
type snmp6Line struct {
	name []byte
	desc *collector.Desc // nil: not exported
}

// netstatCollector reads /proc/net/netstat, /proc/net/snmp and
// /proc/net/snmp6 as node_exporter's netstat collector: one untyped
// node_netstat_<Proto>_<Field> per field matching the field regexp.
type netstatCollector struct {
	roots     hostfs.Roots
	netstat   string
	snmp      string
	snmp6     string
	buf       []byte
	fields    [][]byte
	valFields [][]byte
	re        *regexp.Regexp

	plans [2][]netstatSection // netstat, snmp
	plan6 []snmp6Line
	descs map[string]*collector.Desc
}

func newNetstat(roots hostfs.Roots, re *regexp.Regexp) *netstatCollector {
	return &netstatCollector{
		roots:   roots,
		netstat: roots.ProcPath("net", "netstat"),
		snmp:    roots.ProcPath("net", "snmp"),
		snmp6:   roots.ProcPath("net", "snmp6"),
		re:      re,
		descs:   make(map[string]*collector.Desc),
	}
}

func (c *netstatCollector) Name() string { return "netstat" }

func (c *netstatCollector) Collect(_ context.Context, e *collector.Emitter) error {
	for i, path := range [2]string{c.netstat, c.snmp} {
		b, err := c.roots.ReadFile(path, c.buf)
		c.buf = b
		if err != nil {
			if hostfs.IsNotExist(err) {
				return fmt.Errorf("netstat: %s does not exist: %w", path, collector.ErrNoData)
			}
			return fmt.Errorf("read network statistics: %w", err)
		}
		if err := c.parsePairs(i, path, b, e); err != nil {
			return err
		}
	}
	b, err := c.roots.ReadFile(c.snmp6, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return nil // IPv6 disabled
		}
		return fmt.Errorf("read IPv6 network statistics: %w", err)
	}
	return c.parseSNMP6(c.snmp6, b, e)
}

// desc returns the descriptor of node_netstat_<proto>_<field>, or nil when
// the field regexp does not select it. Called only when a plan is built.
func (c *netstatCollector) desc(proto, field []byte) *collector.Desc {
	key := string(proto) + "_" + string(field)
	if !c.re.MatchString(key) {
		return nil
	}
	name := "node_netstat_" + key
	if d, ok := c.descs[name]; ok {
		return d
	}
	d := collector.NewDesc(name, "Statistic "+string(proto)+string(field)+".", collector.Untyped)
	c.descs[name] = d
	return d
}

// parsePairs parses a file of header/values line pairs ("TcpExt: A B" then
// "TcpExt: 1 2"); plan selects the cached plans (0 netstat, 1 snmp).
func (c *netstatCollector) parsePairs(plan int, file string, b []byte, e *collector.Emitter) error {
	plans := c.plans[plan]
	l := hostfs.NewLines(file, b)
	k := 0
	for l.Next() {
		header := l.Bytes()
		if len(trimSpace(header)) == 0 {
			continue
		}
		if k >= len(plans) || !bytes.Equal(plans[k].header, header) {
			sec, err := c.buildSection(l)
			if err != nil {
				return err
			}
			if k < len(plans) {
				plans[k] = sec
			} else {
				plans = append(plans, sec)
			}
		}
		sec := &plans[k]
		k++
		proto := header[:bytes.IndexByte(header, ':')+1]
		if !l.Next() {
			return l.Errorf("header line is not followed by a values line")
		}
		vals := l.Bytes()
		if !bytes.HasPrefix(vals, proto) {
			return l.Errorf("expected the values line of %q", proto)
		}
		c.valFields = hostfs.Fields(c.valFields, vals[len(proto):])
		if len(c.valFields) != sec.fields {
			return l.Errorf("%d values for %d field names", len(c.valFields), sec.fields)
		}
		for i, d := range sec.descs {
			if d == nil {
				continue
			}
			v, ok := hostfs.ParseFloat(c.valFields[i])
			if !ok {
				return l.Errorf("field %d: %q is not a number", i+1, c.valFields[i])
			}
			e.Emit(d, v)
		}
	}
	c.plans[plan] = plans[:k]
	return nil
}

// buildSection makes the plan of the header line l is on.
func (c *netstatCollector) buildSection(l *hostfs.Lines) (netstatSection, error) {
	header := l.Bytes()
	c.fields = hostfs.Fields(c.fields, header)
	if len(c.fields) == 0 || len(c.fields[0]) < 2 || c.fields[0][len(c.fields[0])-1] != ':' {
		return netstatSection{}, l.Errorf("expected \"<Proto>: <field names>\"")
	}
	proto := c.fields[0][:len(c.fields[0])-1]
	sec := netstatSection{
		header: append([]byte(nil), header...),
		descs:  make([]*collector.Desc, len(c.fields)-1),
		fields: len(c.fields) - 1,
	}
	for i, f := range c.fields[1:] {
		sec.descs[i] = c.desc(proto, f)
	}
	return sec, nil
}

// parseSNMP6 parses /proc/net/snmp6 ("Ip6InReceives 123" per line). The
// protocol is the name up to its first '6', as in node_exporter; names
// without a '6' are skipped.
func (c *netstatCollector) parseSNMP6(file string, b []byte, e *collector.Emitter) error {
	l := hostfs.NewLines(file, b)
	k := 0
	for l.Next() {
		c.fields = hostfs.Fields(c.fields, l.Bytes())
		if len(c.fields) == 0 {
			continue
		}
		if len(c.fields) != 2 {
			return l.Errorf("expected \"<name> <value>\", got %d fields", len(c.fields))
		}
		name := c.fields[0]
		if k >= len(c.plan6) || !bytes.Equal(c.plan6[k].name, name) {
			p := snmp6Line{name: append([]byte(nil), name...)}
			if six := bytes.IndexByte(name, '6'); six >= 0 {
				p.desc = c.desc(name[:six+1], name[six+1:])
			}
			if k < len(c.plan6) {
				c.plan6[k] = p
			} else {
				c.plan6 = append(c.plan6, p)
			}
		}
		d := c.plan6[k].desc
		k++
		if d == nil {
			continue
		}
		v, ok := hostfs.ParseFloat(c.fields[1])
		if !ok {
			return l.Errorf("%q is not a number", c.fields[1])
		}
		e.Emit(d, v)
	}
	c.plan6 = c.plan6[:k]
	return nil
}
