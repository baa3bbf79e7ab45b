package network

import (
	"bytes"
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// conntrackStats are the /proc/net/stat/nf_conntrack columns node_exporter
// exports, summed over CPUs, with their help texts.
var conntrackStats = [...]struct{ column, help string }{
	{"found", "Number of searched entries which were successful."},
	{"invalid", "Number of packets seen which can not be tracked."},
	{"ignore", "Number of packets seen which are already connected to a conntrack entry."},
	{"insert", "Number of entries inserted into the list."},
	{"insert_failed", "Number of entries for which list insertion was attempted but failed."},
	{"drop", "Number of packets dropped due to conntrack failure."},
	{"early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."},
	{"search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."},
}

// conntrackCollector reads nf_conntrack_count and nf_conntrack_max under
// /proc/sys/net/netfilter and /proc/net/stat/nf_conntrack, as
// node_exporter's conntrack collector.
type conntrackCollector struct {
	roots     hostfs.Roots
	countPath string
	maxPath   string
	statPath  string
	buf       []byte
	fields    [][]byte

	header  []byte                   // header of the stat file the plan was built for
	columns [len(conntrackStats)]int // column of each stat; -1 when absent
	sums    [len(conntrackStats)]uint64

	entries, limit *collector.Desc
	stats          [len(conntrackStats)]*collector.Desc
}

func newConntrack(roots hostfs.Roots) *conntrackCollector {
	c := &conntrackCollector{
		roots:     roots,
		countPath: roots.ProcPath("sys", "net", "netfilter", "nf_conntrack_count"),
		maxPath:   roots.ProcPath("sys", "net", "netfilter", "nf_conntrack_max"),
		statPath:  roots.ProcPath("net", "stat", "nf_conntrack"),
		entries: collector.NewDesc("node_nf_conntrack_entries",
			"Number of currently allocated flow entries for connection tracking.", collector.Gauge),
		limit: collector.NewDesc("node_nf_conntrack_entries_limit",
			"Maximum size of connection tracking table.", collector.Gauge),
	}
	for i, s := range conntrackStats {
		c.stats[i] = collector.NewDesc("node_nf_conntrack_stat_"+s.column, s.help, collector.Gauge)
	}
	return c
}

func (c *conntrackCollector) Name() string { return "conntrack" }

func (c *conntrackCollector) Collect(_ context.Context, e *collector.Emitter) error {
	n, err := c.readUint(c.countPath)
	if err != nil {
		return err
	}
	limit, err := c.readUint(c.maxPath)
	if err != nil {
		return err
	}
	e.Emit(c.entries, float64(n))
	e.Emit(c.limit, float64(limit))

	b, err := c.roots.ReadFile(c.statPath, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return nil // statistics not compiled in
		}
		return fmt.Errorf("read conntrack statistics: %w", err)
	}
	ok, err := c.parseStat(c.statPath, b)
	if err != nil || !ok {
		return err
	}
	for i, d := range c.stats {
		if c.columns[i] >= 0 {
			e.Emit(d, float64(c.sums[i]))
		}
	}
	return nil
}

// readUint reads a one-number file; a missing file means conntrack is not
// loaded.
func (c *conntrackCollector) readUint(path string) (uint64, error) {
	b, err := c.roots.ReadFile(path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return 0, fmt.Errorf("conntrack: %s does not exist (nf_conntrack not loaded): %w", path, collector.ErrNoData)
		}
		return 0, fmt.Errorf("read conntrack table size: %w", err)
	}
	t := trimSpace(b)
	v, ok := hostfs.ParseUint(t)
	if !ok {
		return 0, &hostfs.ParseError{File: path, Line: 1, Text: string(t), Msg: "expected an unsigned integer"}
	}
	return v, nil
}

// parseStat sums the per-CPU hexadecimal columns of /proc/net/stat/nf_conntrack,
// found by the names of the header line. It returns false for an empty file.
func (c *conntrackCollector) parseStat(file string, b []byte) (bool, error) {
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return false, nil
	}
	header := l.Bytes()
	c.fields = hostfs.Fields(c.fields, header)
	ncols := len(c.fields)
	if c.header == nil || !bytes.Equal(c.header, header) {
		if ncols == 0 || string(c.fields[0]) != "entries" {
			return false, l.Errorf("expected a header line starting with \"entries\"")
		}
		for i, s := range conntrackStats {
			c.columns[i] = -1
			for j, f := range c.fields {
				if string(f) == s.column {
					c.columns[i] = j
				}
			}
		}
		c.header = append(c.header[:0], header...)
	}
	c.sums = [len(conntrackStats)]uint64{}
	for l.Next() {
		c.fields = hostfs.Fields(c.fields, l.Bytes())
		if len(c.fields) == 0 {
			continue
		}
		if len(c.fields) != ncols {
			return false, l.Errorf("expected %d columns as in the header, got %d", ncols, len(c.fields))
		}
		for i, col := range c.columns {
			if col < 0 {
				continue
			}
			v, ok := parseHex(c.fields[col])
			if !ok {
				return false, l.Errorf("%s: %q is not a hexadecimal number", conntrackStats[i].column, c.fields[col])
			}
			c.sums[i] += v
		}
	}
	return true, nil
}
