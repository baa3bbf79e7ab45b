package memory

import (
	"bytes"
	"context"
	"fmt"
	"regexp"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// vmLine is one parsed line of /proc/vmstat. Key points into the buffer the
// line was read from.
type vmLine struct {
	Key   []byte
	Value float64
}

// vmEntry is what the collector remembers about the field at one line
// position: its name and its descriptor, nil when the field is not exported.
type vmEntry struct {
	key  string
	desc *collector.Desc
}

// vmstatCollector reads /proc/vmstat as node_exporter's vmstat collector:
// each field that matches the field pattern becomes an untyped
// node_vmstat_<field>.
type vmstatCollector struct {
	roots  hostfs.Roots
	path   string
	fields *regexp.Regexp
	buf    []byte
	split  [][]byte
	lines  []vmLine
	byPos  []vmEntry
	byName map[string]*collector.Desc
}

func newVmstat(roots hostfs.Roots, fields *regexp.Regexp) *vmstatCollector {
	return &vmstatCollector{
		roots:  roots,
		path:   roots.ProcPath("vmstat"),
		fields: fields,
		byName: make(map[string]*collector.Desc),
	}
}

func (c *vmstatCollector) Name() string { return "vmstat" }

func (c *vmstatCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("vmstat: %s does not exist: %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read virtual memory statistics: %w", err)
	}
	c.lines, c.split, err = parseVmstat(c.path, b, c.lines, c.split)
	if err != nil {
		return err
	}
	for i := range c.lines {
		if d := c.desc(i, c.lines[i].Key); d != nil {
			e.Emit(d, c.lines[i].Value)
		}
	}
	return nil
}

// desc returns the descriptor of the field at line position i, or nil when
// the field is filtered out. The pattern runs once per field name.
func (c *vmstatCollector) desc(i int, key []byte) *collector.Desc {
	if i < len(c.byPos) && c.byPos[i].key == string(key) {
		return c.byPos[i].desc
	}
	name := string(key)
	d, ok := c.byName[name]
	if !ok {
		if c.fields.MatchString(name) {
			d = collector.NewDesc("node_vmstat_"+sanitize(name), "/proc/vmstat information field "+name+".", collector.Untyped)
		}
		c.byName[name] = d
	}
	ent := vmEntry{key: name, desc: d}
	if i < len(c.byPos) {
		c.byPos[i] = ent
	} else {
		c.byPos = append(c.byPos, ent)
	}
	return d
}

// sanitize replaces characters not allowed in a metric name with '_'.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !nameChar(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, ch := range b {
		if !nameChar(ch) {
			b[i] = '_'
		}
	}
	return string(b)
}

func nameChar(ch byte) bool {
	return ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_'
}

// parseVmstat parses /proc/vmstat ("name value" per line) into dst,
// reusing dst and split. Empty lines are skipped.
func parseVmstat(file string, b []byte, dst []vmLine, split [][]byte) ([]vmLine, [][]byte, error) {
	dst = dst[:0]
	l := hostfs.NewLines(file, b)
	for l.Next() {
		line := l.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		split = hostfs.Fields(split, line)
		if len(split) != 2 {
			return dst, split, l.Errorf(`expected "name value", got %d fields`, len(split))
		}
		v, ok := hostfs.ParseFloat(split[1])
		if !ok {
			return dst, split, l.Errorf("value %q of %s is not a number", split[1], split[0])
		}
		dst = append(dst, vmLine{Key: split[0], Value: v})
	}
	if len(dst) == 0 {
		return dst, split, &hostfs.ParseError{File: file, Line: 1, Msg: "no statistics in file"}
	}
	return dst, split, nil
}
