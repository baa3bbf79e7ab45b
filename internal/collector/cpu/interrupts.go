package cpu

import (
	"bytes"
	"context"
	"fmt"
	"regexp"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// irqScanner parses /proc/interrupts without allocating per line once its
// buffers have grown.
type irqScanner struct {
	fields [][]byte
	values []uint64
}

// scan calls fn for every interrupt line of /proc/interrupts with the
// interrupt's name (before the colon), the fields after the per-CPU counts
// (chip, hardware IRQ, devices; or a description) and the per-CPU counts,
// one per CPU column of the header. Lines with fewer fields than CPU columns
// plus one (ERR, MIS) are skipped, as node_exporter does.
func (s *irqScanner) scan(file string, b []byte, fn func(name []byte, desc [][]byte, values []uint64) error) error {
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return &hostfs.ParseError{File: file, Line: 1, Msg: "empty file; expected a header of CPU columns"}
	}
	s.fields = hostfs.Fields(s.fields, l.Bytes())
	ncpu := len(s.fields)
	if ncpu == 0 {
		return l.Errorf("expected a header of CPU columns")
	}
	for l.Next() {
		line := l.Bytes()
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		s.fields = hostfs.Fields(s.fields, line[colon+1:])
		if len(s.fields) < ncpu+1 {
			continue
		}
		s.values = s.values[:0]
		for i := 0; i < ncpu; i++ {
			v, ok := hostfs.ParseUint(s.fields[i])
			if !ok {
				return l.Errorf("CPU column %d: %q is not an unsigned integer", i, s.fields[i])
			}
			s.values = append(s.values, v)
		}
		name := bytes.TrimLeft(line[:colon], " \t")
		if err := fn(name, s.fields[ncpu:], s.values); err != nil {
			return err
		}
	}
	return nil
}

// irqLabels splits an interrupt's description as node_exporter does: a
// numbered interrupt has its chip as info and the rest as devices; a named
// one (NMI, LOC, ...) has its whole description as info.
func irqLabels(name []byte, desc [][]byte) (info, devices string) {
	if _, ok := hostfs.ParseUint(name); ok {
		return string(desc[0]), string(bytes.Join(desc[1:], []byte(" ")))
	}
	return string(bytes.Join(desc, []byte(" "))), ""
}

// irqSeries is what the interrupts collector keeps per interrupt line.
type irqSeries struct {
	desc    []byte     // the description the labels were made from
	labels  [][]string // per CPU column: cpu, type, info, devices
	ignored bool
	gen     uint64
}

// interruptsCollector is node_exporter's interrupts collector:
// node_interrupts_total{cpu,type,info,devices} from /proc/interrupts.
type interruptsCollector struct {
	roots            hostfs.Roots
	path             string
	desc             *collector.Desc
	include, exclude *regexp.Regexp
	includeZeros     bool

	scanner irqScanner
	ids     numStrings
	series  map[string]*irqSeries
	gen     uint64
	joined  []byte
	buf     []byte
}

func newInterrupts(roots hostfs.Roots, include, exclude *regexp.Regexp, includeZeros bool) *interruptsCollector {
	return &interruptsCollector{
		roots:        roots,
		path:         roots.ProcPath("interrupts"),
		desc:         collector.NewDesc("node_interrupts_total", "Interrupt details.", collector.Counter, "cpu", "type", "info", "devices"),
		include:      include,
		exclude:      exclude,
		includeZeros: includeZeros,
		series:       make(map[string]*irqSeries),
	}
}

func (c *interruptsCollector) Name() string { return "interrupts" }

func (c *interruptsCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		return fmt.Errorf("read interrupts: %w", err)
	}
	c.gen++
	seen := 0
	err = c.scanner.scan(c.path, b, func(name []byte, desc [][]byte, values []uint64) error {
		seen++
		s := c.lookup(name, desc, len(values))
		if s.ignored {
			return nil
		}
		for i, v := range values {
			if v == 0 && !c.includeZeros {
				continue
			}
			e.Emit(c.desc, float64(v), s.labels[i]...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(c.series) > seen {
		for k, s := range c.series {
			if s.gen != c.gen {
				delete(c.series, k)
			}
		}
	}
	return nil
}

// lookup returns the cached labels of an interrupt line, making them when
// the line is new or its description or CPU count changed.
func (c *interruptsCollector) lookup(name []byte, desc [][]byte, ncpu int) *irqSeries {
	c.joined = c.joined[:0]
	for i, d := range desc {
		if i > 0 {
			c.joined = append(c.joined, ' ')
		}
		c.joined = append(c.joined, d...)
	}
	s, ok := c.series[string(name)]
	if ok && len(s.labels) == ncpu && bytes.Equal(s.desc, c.joined) {
		s.gen = c.gen
		return s
	}
	typ := string(name)
	info, devices := irqLabels(name, desc)
	s = &irqSeries{desc: append([]byte(nil), c.joined...), gen: c.gen}
	filterName := typ + ";" + info + ";" + devices
	s.ignored = (c.exclude != nil && c.exclude.MatchString(filterName)) ||
		(c.include != nil && !c.include.MatchString(filterName))
	s.labels = make([][]string, ncpu)
	for i := range s.labels {
		s.labels[i] = []string{c.ids.get(i), typ, info, devices}
	}
	c.series[typ] = s
	return s
}
