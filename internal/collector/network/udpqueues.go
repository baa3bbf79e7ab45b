package network

import (
	"bytes"
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// udpQueuesCollector sums the tx_queue and rx_queue columns of
// /proc/net/udp and /proc/net/udp6 as node_exporter's udp_queues collector.
type udpQueuesCollector struct {
	roots  hostfs.Roots
	paths  [2]string
	buf    []byte
	fields [][]byte
	desc   *collector.Desc
	labels [2][2][]string // [v4, v6][tx, rx]
}

func newUDPQueues(roots hostfs.Roots) *udpQueuesCollector {
	return &udpQueuesCollector{
		roots: roots,
		paths: [2]string{roots.ProcPath("net", "udp"), roots.ProcPath("net", "udp6")},
		desc: collector.NewDesc("node_udp_queues",
			"Number of allocated memory in the kernel for UDP datagrams in bytes.", collector.Gauge, "ip", "queue"),
		labels: [2][2][]string{{{"v4", "tx"}, {"v4", "rx"}}, {{"v6", "tx"}, {"v6", "rx"}}},
	}
}

func (c *udpQueuesCollector) Name() string { return "udp_queues" }

func (c *udpQueuesCollector) Collect(_ context.Context, e *collector.Emitter) error {
	for i, path := range c.paths {
		b, err := c.roots.ReadFile(path, c.buf)
		c.buf = b
		if err != nil {
			if hostfs.IsNotExist(err) {
				if i == 0 {
					return fmt.Errorf("udp_queues: %s does not exist: %w", path, collector.ErrNoData)
				}
				return nil // IPv6 disabled
			}
			return fmt.Errorf("read UDP sockets: %w", err)
		}
		tx, rx, err := c.parse(path, b)
		if err != nil {
			return err
		}
		e.Emit(c.desc, float64(tx), c.labels[i][0]...)
		e.Emit(c.desc, float64(rx), c.labels[i][1]...)
	}
	return nil
}

// parse sums the fifth column ("tx_queue:rx_queue", hexadecimal) over the
// socket lines; the first line is the header.
func (c *udpQueuesCollector) parse(file string, b []byte) (tx, rx uint64, err error) {
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return 0, 0, &hostfs.ParseError{File: file, Line: 1, Msg: "empty file; expected a header line"}
	}
	for l.Next() {
		c.fields = hostfs.Fields(c.fields, l.Bytes())
		if len(c.fields) == 0 {
			continue
		}
		if len(c.fields) < 5 {
			return 0, 0, l.Errorf("expected at least 5 columns, got %d", len(c.fields))
		}
		q := c.fields[4]
		colon := bytes.IndexByte(q, ':')
		if colon < 0 {
			return 0, 0, l.Errorf("queues: expected \"<tx>:<rx>\", got %q", q)
		}
		t, ok1 := parseHex(q[:colon])
		r, ok2 := parseHex(q[colon+1:])
		if !ok1 || !ok2 {
			return 0, 0, l.Errorf("queues: %q is not two hexadecimal numbers", q)
		}
		tx += t
		rx += r
	}
	return tx, rx, nil
}
