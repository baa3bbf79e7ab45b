package system

import (
	"bytes"
	"context"
	"fmt"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// unameCollector is node_exporter's uname collector. It reads what uname(2)
// returns from proc/sys/kernel, so that a fixture tree or a host's /proc
// mounted into a container can be read; only the machine comes from the
// syscall (Config.Machine).
type unameCollector struct {
	roots   hostfs.Roots
	machine string
	desc    *collector.Desc

	// sysname, release and version cannot change without a reboot: they
	// are read once.
	fixedPaths [3]string
	fixed      [3]string
	fixedRead  bool

	hostPath, domainPath string
	host, domain         []byte
	labels               []string
	buf                  []byte
}

func newUname(roots hostfs.Roots, machine string) *unameCollector {
	return &unameCollector{
		roots:   roots,
		machine: machine,
		desc: collector.NewDesc("node_uname_info",
			"Labeled system information as provided by the uname system call.", collector.Gauge,
			"sysname", "release", "version", "machine", "nodename", "domainname"),
		fixedPaths: [3]string{
			roots.ProcPath("sys", "kernel", "ostype"),
			roots.ProcPath("sys", "kernel", "osrelease"),
			roots.ProcPath("sys", "kernel", "version"),
		},
		hostPath:   roots.ProcPath("sys", "kernel", "hostname"),
		domainPath: roots.ProcPath("sys", "kernel", "domainname"),
	}
}

func (c *unameCollector) Name() string { return "uname" }

func (c *unameCollector) Collect(_ context.Context, e *collector.Emitter) error {
	if !c.fixedRead {
		for i, p := range c.fixedPaths {
			s, err := c.roots.ReadString(p)
			if err != nil {
				return fmt.Errorf("read kernel identity: %w", err)
			}
			c.fixed[i] = s
		}
		c.fixedRead = true
		c.labels = nil
	}
	host, err := c.readTrimmed(c.hostPath)
	if err != nil {
		return err
	}
	changed := !bytes.Equal(host, c.host)
	c.host = append(c.host[:0], host...)
	domain, err := c.readTrimmed(c.domainPath)
	if err != nil {
		return err
	}
	changed = changed || !bytes.Equal(domain, c.domain)
	c.domain = append(c.domain[:0], domain...)
	if changed || c.labels == nil {
		c.labels = []string{c.fixed[0], c.fixed[1], c.fixed[2], c.machine, string(c.host), string(c.domain)}
	}
	e.Emit(c.desc, 1, c.labels...)
	return nil
}

func (c *unameCollector) readTrimmed(path string) ([]byte, error) {
	b, err := c.roots.ReadFile(path, c.buf)
	c.buf = b
	if err != nil {
		return nil, fmt.Errorf("read host name: %w", err)
	}
	return bytes.TrimSpace(b), nil
}
