package system

import (
	"bytes"
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// readUint reads a one-number proc file into buf and parses it.
func readUint(roots hostfs.Roots, path string, buf *[]byte) (uint64, error) {
	b, err := roots.ReadFile(path, *buf)
	*buf = b
	if err != nil {
		return 0, err
	}
	b = bytes.TrimSpace(b)
	v, ok := hostfs.ParseUint(b)
	if !ok {
		return 0, &hostfs.ParseError{File: path, Line: 1, Text: string(b), Msg: "expected an unsigned integer"}
	}
	return v, nil
}

// entropyCollector is node_exporter's entropy collector.
type entropyCollector struct {
	roots               hostfs.Roots
	availPath, poolPath string
	avail, pool         *collector.Desc
	buf                 []byte
}

func newEntropy(roots hostfs.Roots) *entropyCollector {
	return &entropyCollector{
		roots:     roots,
		availPath: roots.ProcPath("sys", "kernel", "random", "entropy_avail"),
		poolPath:  roots.ProcPath("sys", "kernel", "random", "poolsize"),
		avail:     collector.NewDesc("node_entropy_available_bits", "Bits of available entropy.", collector.Gauge),
		pool:      collector.NewDesc("node_entropy_pool_size_bits", "Bits of entropy pool.", collector.Gauge),
	}
}

func (c *entropyCollector) Name() string { return "entropy" }

func (c *entropyCollector) Collect(_ context.Context, e *collector.Emitter) error {
	avail, err := readUint(c.roots, c.availPath, &c.buf)
	if err != nil {
		return fmt.Errorf("read available entropy: %w", err)
	}
	e.Emit(c.avail, float64(avail))
	pool, err := readUint(c.roots, c.poolPath, &c.buf)
	switch {
	case err == nil:
		e.Emit(c.pool, float64(pool))
	case !hostfs.IsNotExist(err):
		return fmt.Errorf("read entropy pool size: %w", err)
	}
	return nil
}

// parseFileNr parses proc/sys/fs/file-nr: allocated, unused (always 0
// since Linux 2.6) and maximum file handles.
func parseFileNr(file string, b []byte) (allocated, maximum uint64, err error) {
	l := hostfs.NewLines(file, b)
	if !l.Next() {
		return 0, 0, &hostfs.ParseError{File: file, Line: 1, Msg: "empty file; expected allocated, unused and maximum file handles"}
	}
	var arr [4][]byte
	f := hostfs.Fields(arr[:0], l.Bytes())
	if len(f) != 3 {
		return 0, 0, l.Errorf("expected 3 fields (allocated, unused, maximum), got %d", len(f))
	}
	allocated, ok := hostfs.ParseUint(f[0])
	if !ok {
		return 0, 0, l.Errorf("allocated: %q is not an unsigned integer", f[0])
	}
	maximum, ok = hostfs.ParseUint(f[2])
	if !ok {
		return 0, 0, l.Errorf("maximum: %q is not an unsigned integer", f[2])
	}
	return allocated, maximum, nil
}

// filefdCollector is node_exporter's filefd collector.
type filefdCollector struct {
	roots              hostfs.Roots
	path               string
	allocated, maximum *collector.Desc
	buf                []byte
}

func newFilefd(roots hostfs.Roots) *filefdCollector {
	return &filefdCollector{
		roots:     roots,
		path:      roots.ProcPath("sys", "fs", "file-nr"),
		allocated: collector.NewDesc("node_filefd_allocated", "File descriptor statistics: allocated.", collector.Gauge),
		maximum:   collector.NewDesc("node_filefd_maximum", "File descriptor statistics: maximum.", collector.Gauge),
	}
}

func (c *filefdCollector) Name() string { return "filefd" }

func (c *filefdCollector) Collect(_ context.Context, e *collector.Emitter) error {
	b, err := c.roots.ReadFile(c.path, c.buf)
	c.buf = b
	if err != nil {
		return fmt.Errorf("read file handle counts: %w", err)
	}
	allocated, maximum, err := parseFileNr(c.path, b)
	if err != nil {
		return err
	}
	e.Emit(c.allocated, float64(allocated))
	e.Emit(c.maximum, float64(maximum))
	return nil
}

// kernelHungCollector is node_exporter's kernel_hung collector: tasks the
// kernel's hung-task detector has reported since boot.
type kernelHungCollector struct {
	roots hostfs.Roots
	path  string
	desc  *collector.Desc
	buf   []byte
}

func newKernelHung(roots hostfs.Roots) *kernelHungCollector {
	return &kernelHungCollector{
		roots: roots,
		path:  roots.ProcPath("sys", "kernel", "hung_task_detect_count"),
		desc: collector.NewDesc("node_kernel_hung_tasks_total",
			"Total number of tasks that have been detected as hung since the system booted.", collector.Counter),
	}
}

func (c *kernelHungCollector) Name() string { return "kernel_hung" }

func (c *kernelHungCollector) Collect(_ context.Context, e *collector.Emitter) error {
	v, err := readUint(c.roots, c.path, &c.buf)
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("%s does not exist (kernel without CONFIG_DETECT_HUNG_TASK, or too old to count hung tasks): %w", c.path, collector.ErrNoData)
		}
		return fmt.Errorf("read hung task count: %w", err)
	}
	e.Emit(c.desc, float64(v))
	return nil
}
