package memory

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// memLine is one parsed line of /proc/meminfo. Key points into the buffer
// the line was read from.
type memLine struct {
	Key   []byte
	Value float64
	// KB is true when the value carried the "kB" unit.
	KB bool
}

// memEntry is what the collector remembers about the key at one line
// position, so that a tick finds its descriptor without a map lookup.
type memEntry struct {
	key  string
	kb   bool
	desc *collector.Desc
}

// meminfoCollector reads /proc/meminfo as node_exporter's meminfo collector:
// every key becomes node_memory_<Key>_bytes (kB × 1024), or
// node_memory_<Key> for values without a unit (the HugePages_* page counts).
type meminfoCollector struct {
	roots  hostfs.Roots
	path   string
	buf    []byte
	fields [][]byte
	lines  []memLine
	byPos  []memEntry
	byName map[string]*collector.Desc
}

func newMeminfo(roots hostfs.Roots) *meminfoCollector {
	return &meminfoCollector{
		roots:  roots,
		path:   roots.ProcPath("meminfo"),
		byName: make(map[string]*collector.Desc),
	}
}

func (c *meminfoCollector) Name() string { return "meminfo" }

func (c *meminfoCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("meminfo: %s does not exist: %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read memory information: %w", err)
	}
	c.lines, c.fields, err = parseMeminfo(c.path, b, c.lines, c.fields)
	if err != nil {
		return err
	}
	for i := range c.lines {
		l := &c.lines[i]
		v := l.Value
		if l.KB {
			v *= 1024
		}
		e.Emit(c.desc(i, l), v)
	}
	return nil
}

// desc returns the descriptor of the line at position i, creating it the
// first time its key is seen.
func (c *meminfoCollector) desc(i int, l *memLine) *collector.Desc {
	if i < len(c.byPos) && c.byPos[i].kb == l.KB && c.byPos[i].key == string(l.Key) {
		return c.byPos[i].desc
	}
	name := meminfoMetricName(string(l.Key), l.KB)
	d, ok := c.byName[name]
	if !ok {
		d = collector.NewDesc("node_memory_"+name, "Memory information field "+name+".", collector.Gauge)
		c.byName[name] = d
	}
	ent := memEntry{key: string(l.Key), kb: l.KB, desc: d}
	if i < len(c.byPos) {
		c.byPos[i] = ent
	} else {
		c.byPos = append(c.byPos, ent)
	}
	return d
}

// meminfoMetricName turns a /proc/meminfo key into node_exporter's metric
// name suffix: "Active(anon)" becomes "Active_anon", and values in kB get
// "_bytes". Characters not allowed in a metric name become '_'.
func meminfoMetricName(key string, kb bool) string {
	name := sanitize(strings.ReplaceAll(strings.ReplaceAll(key, "(", "_"), ")", ""))
	if kb {
		name += "_bytes"
	}
	return name
}

// parseMeminfo parses /proc/meminfo ("Key:   123 kB" or "Key:   123") into
// dst, reusing dst and fields. Empty lines are skipped.
func parseMeminfo(file string, b []byte, dst []memLine, fields [][]byte) ([]memLine, [][]byte, error) {
	dst = dst[:0]
	l := hostfs.NewLines(file, b)
	for l.Next() {
		line := l.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return dst, fields, l.Errorf(`expected "Key: value [kB]"`)
		}
		fields = hostfs.Fields(fields, line[colon+1:])
		var kb bool
		switch len(fields) {
		case 1:
		case 2:
			if string(fields[1]) != "kB" {
				return dst, fields, l.Errorf("unknown unit %q; expected kB", fields[1])
			}
			kb = true
		default:
			return dst, fields, l.Errorf("expected a value and an optional kB unit after the colon, got %d fields", len(fields))
		}
		v, ok := hostfs.ParseUint(fields[0])
		if !ok {
			return dst, fields, l.Errorf("value %q is not an unsigned integer", fields[0])
		}
		dst = append(dst, memLine{Key: line[:colon], Value: float64(v), KB: kb})
	}
	if len(dst) == 0 {
		return dst, fields, &hostfs.ParseError{File: file, Line: 1, Msg: "no memory information in file"}
	}
	return dst, fields, nil
}
