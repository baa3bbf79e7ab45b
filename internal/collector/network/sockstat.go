package network

import (
	"context"
	"fmt"
	"os"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// isSockstatField reports whether node_exporter exports a per-protocol
// field (procfs parses exactly these).
func isSockstatField(f []byte) bool {
	switch string(f) {
	case "inuse", "orphan", "tw", "alloc", "mem", "memory":
		return true
	}
	return false
}

// sockProto holds the descriptors of one protocol line, created on first
// sight; a nil entry marks a field that is not exported.
type sockProto struct {
	fields   map[string]*collector.Desc
	memBytes *collector.Desc
}

// sockstatCollector reads /proc/net/sockstat and /proc/net/sockstat6 as
// node_exporter's sockstat collector.
type sockstatCollector struct {
	roots    hostfs.Roots
	paths    [2]string
	buf      []byte
	fields   [][]byte
	pageSize float64
	protos   map[string]*sockProto
	used     *collector.Desc
}

func newSockstat(roots hostfs.Roots) *sockstatCollector {
	return &sockstatCollector{
		roots:    roots,
		paths:    [2]string{roots.ProcPath("net", "sockstat"), roots.ProcPath("net", "sockstat6")},
		pageSize: float64(os.Getpagesize()),
		protos:   make(map[string]*sockProto),
		used: collector.NewDesc("node_sockstat_sockets_used",
			"Number of IPv4 sockets in use.", collector.Gauge),
	}
}

func (c *sockstatCollector) Name() string { return "sockstat" }

func (c *sockstatCollector) Collect(_ context.Context, e *collector.Emitter) error {
	missing := 0
	for _, path := range c.paths {
		b, err := c.roots.ReadFile(path, c.buf)
		c.buf = b
		if err != nil {
			if hostfs.IsNotExist(err) {
				missing++ // IPv4 or IPv6 disabled
				continue
			}
			return fmt.Errorf("read socket statistics: %w", err)
		}
		if err := c.parse(path, b, e); err != nil {
			return err
		}
	}
	if missing == len(c.paths) {
		return fmt.Errorf("sockstat: neither %s nor %s exists: %w", c.paths[0], c.paths[1], collector.ErrNoData)
	}
	return nil
}

// parse emits the values of a sockstat file ("TCP: inuse 4 orphan 0 ...").
func (c *sockstatCollector) parse(file string, b []byte, e *collector.Emitter) error {
	l := hostfs.NewLines(file, b)
	for l.Next() {
		c.fields = hostfs.Fields(c.fields, l.Bytes())
		if len(c.fields) == 0 {
			continue
		}
		head := c.fields[0]
		if len(head) < 2 || head[len(head)-1] != ':' {
			return l.Errorf("expected \"<PROTO>: <name> <value> ...\"")
		}
		proto := head[:len(head)-1]
		kv := c.fields[1:]
		if len(kv)%2 != 0 {
			return l.Errorf("expected name/value pairs after %q, got %d fields", head, len(kv))
		}
		p := c.proto(proto)
		for i := 0; i < len(kv); i += 2 {
			v, ok := hostfs.ParseUint(kv[i+1])
			if !ok {
				return l.Errorf("%s: %q is not an unsigned integer", kv[i], kv[i+1])
			}
			if string(proto) == "sockets" {
				if string(kv[i]) == "used" {
					e.Emit(c.used, float64(v))
				}
				continue
			}
			d, ok := p.fields[string(kv[i])]
			if !ok {
				d = c.fieldDesc(p, proto, kv[i])
			}
			if d == nil {
				continue
			}
			e.Emit(d, float64(v))
			if string(kv[i]) == "mem" {
				if p.memBytes == nil {
					p.memBytes = collector.NewDesc("node_sockstat_"+string(proto)+"_mem_bytes",
						"Number of "+string(proto)+" sockets in state mem_bytes.", collector.Gauge)
				}
				e.Emit(p.memBytes, float64(v)*c.pageSize)
			}
		}
	}
	return nil
}

func (c *sockstatCollector) proto(name []byte) *sockProto {
	if p, ok := c.protos[string(name)]; ok {
		return p
	}
	p := &sockProto{fields: make(map[string]*collector.Desc)}
	c.protos[string(name)] = p
	return p
}

// fieldDesc creates (once) the descriptor of node_sockstat_<PROTO>_<field>,
// or records nil for a field node_exporter does not export.
func (c *sockstatCollector) fieldDesc(p *sockProto, proto, field []byte) *collector.Desc {
	var d *collector.Desc
	if isSockstatField(field) {
		d = collector.NewDesc("node_sockstat_"+string(proto)+"_"+string(field),
			"Number of "+string(proto)+" sockets in state "+string(field)+".", collector.Gauge)
	}
	p.fields[string(field)] = d
	return d
}
