package cpu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// The numeric cpufreq attributes node_exporter exports, in its emission
// order. Values are kHz.
var freqFiles = [...]struct {
	file, name, help string
}{
	{"cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current CPU thread frequency in hertz."},
	{"cpuinfo_avg_freq", "node_cpu_frequency_avg_hertz", "Average CPU thread frequency in hertz."},
	{"cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum CPU thread frequency in hertz."},
	{"cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum CPU thread frequency in hertz."},
	{"scaling_cur_freq", "node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz."},
	{"scaling_min_freq", "node_cpu_scaling_frequency_min_hertz", "Minimum scaled CPU thread frequency in hertz."},
	{"scaling_max_freq", "node_cpu_scaling_frequency_max_hertz", "Maximum scaled CPU thread frequency in hertz."},
}

// freqCPU is what the cpufreq collector keeps per CPU: file paths and label
// values, made once.
type freqCPU struct {
	paths     [len(freqFiles)]string
	available string
	governor  string
	one       []string

	// The governor series, rebuilt only when the files change.
	rawAvailable []byte
	rawGovernor  []byte
	govLabels    [][]string
	govActive    []bool

	// skip counts down the collections for which a CPU without any
	// cpufreq attribute (a VM) is not probed again.
	skip int
}

// freqRecheck is how many collections a CPU without cpufreq attributes is
// skipped before the collector looks again (a cpufreq driver may load late).
const freqRecheck = 60

// cpufreqCollector is node_exporter's cpufreq collector: per-CPU hardware
// and scaling frequencies and the scaling governor, from
// devices/system/cpu/cpuN/cpufreq. Unreadable attributes (cpuinfo_cur_freq
// needs root) are skipped, as node_exporter does.
type cpufreqCollector struct {
	roots       hostfs.Roots
	cpuDir      string
	offlinePath string

	descs     [len(freqFiles)]*collector.Desc
	govDesc   *collector.Desc
	ids       numStrings
	cpus      map[int]*freqCPU
	lister    *cpuLister
	offline   []int
	rawOff    []byte
	buf, buf2 []byte
}

func newCPUFreq(roots hostfs.Roots) *cpufreqCollector {
	c := &cpufreqCollector{
		roots:       roots,
		cpuDir:      roots.SysPath("devices", "system", "cpu"),
		offlinePath: roots.SysPath("devices", "system", "cpu", "offline"),
		govDesc: collector.NewDesc("node_cpu_scaling_governor",
			"Current enabled CPU frequency governor.", collector.Gauge, "cpu", "governor"),
		cpus:   make(map[int]*freqCPU),
		lister: newCPULister(roots),
	}
	for i, f := range freqFiles {
		c.descs[i] = collector.NewDesc(f.name, f.help, collector.Gauge, "cpu")
	}
	return c
}

func (c *cpufreqCollector) Name() string { return "cpufreq" }

func (c *cpufreqCollector) Collect(ctx context.Context, e *collector.Emitter) error {
	dirs, ok, err := c.lister.list()
	if err != nil {
		return fmt.Errorf("list CPUs: %w", err)
	}
	if !ok {
		return fmt.Errorf("%s does not exist: %w", c.cpuDir, collector.ErrNoData)
	}
	if err := c.readOffline(); err != nil {
		return err
	}
	found := 0
	for _, id := range dirs {
		if containsInt(c.offline, id) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cpufreq: stopped after %d CPUs: %w", found, err)
		}
		fc := c.cpu(id)
		if fc.skip > 0 {
			fc.skip--
			continue
		}
		has, err := c.collectCPU(e, fc)
		if err != nil {
			return err
		}
		if has {
			found++
		} else {
			fc.skip = freqRecheck
		}
	}
	if found == 0 {
		return fmt.Errorf("no CPU has a cpufreq directory under %s: %w", c.cpuDir, collector.ErrNoData)
	}
	return nil
}

// readOffline reads the list of offline CPUs, whose cpufreq files are
// skipped. A missing file means none is offline.
func (c *cpufreqCollector) readOffline() error {
	b, err := c.roots.ReadFile(c.offlinePath, c.buf)
	c.buf = b
	if err != nil {
		if hostfs.IsNotExist(err) {
			c.offline = c.offline[:0]
			return nil
		}
		return fmt.Errorf("read offline CPUs: %w", err)
	}
	if bytes.Equal(b, c.rawOff) && c.rawOff != nil {
		return nil
	}
	list, err := parseCPUList(c.offlinePath, b)
	if err != nil {
		return err
	}
	c.offline = list
	c.rawOff = append(c.rawOff[:0], b...)
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *cpufreqCollector) cpu(id int) *freqCPU {
	if fc, ok := c.cpus[id]; ok {
		return fc
	}
	name := "cpu" + c.ids.get(id)
	fc := &freqCPU{
		one:       []string{c.ids.get(id)},
		available: c.roots.SysPath("devices", "system", "cpu", name, "cpufreq", "scaling_available_governors"),
		governor:  c.roots.SysPath("devices", "system", "cpu", name, "cpufreq", "scaling_governor"),
	}
	for i, f := range freqFiles {
		fc.paths[i] = c.roots.SysPath("devices", "system", "cpu", name, "cpufreq", f.file)
	}
	c.cpus[id] = fc
	return fc
}

// skippable reports whether a cpufreq attribute error only means the
// attribute is not there for us (missing, root-only, or timed out).
func skippable(err error) bool {
	return hostfs.IsNotExist(err) || errors.Is(err, os.ErrPermission) ||
		errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.ETIMEDOUT) ||
		errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EINVAL)
}

// collectCPU emits one CPU's frequencies; has is false when the CPU has no
// readable cpufreq attribute at all.
func (c *cpufreqCollector) collectCPU(e *collector.Emitter, fc *freqCPU) (has bool, err error) {
	for i, path := range fc.paths {
		b, err := c.roots.ReadFile(path, c.buf)
		c.buf = b
		if err != nil {
			if skippable(err) {
				continue
			}
			return has, fmt.Errorf("read CPU frequency: %w", err)
		}
		v, ok := hostfs.ParseUint(bytes.TrimSpace(b))
		if !ok {
			return has, &hostfs.ParseError{File: path, Line: 1, Text: string(bytes.TrimSpace(b)), Msg: "expected a frequency in kHz"}
		}
		has = true
		e.Emit(c.descs[i], float64(v)*1000, fc.one...)
	}
	gov, err := c.roots.ReadFile(fc.governor, c.buf)
	c.buf = gov
	if err != nil {
		if skippable(err) {
			return has, nil
		}
		return has, fmt.Errorf("read CPU frequency governor: %w", err)
	}
	avail, err := c.roots.ReadFile(fc.available, c.buf2)
	c.buf2 = avail
	if err != nil {
		if skippable(err) {
			return has, nil
		}
		return has, fmt.Errorf("read available CPU frequency governors: %w", err)
	}
	has = true
	gov, avail = bytes.TrimSpace(gov), bytes.TrimSpace(avail)
	if len(gov) == 0 {
		return has, nil
	}
	if fc.govLabels == nil || !bytes.Equal(gov, fc.rawGovernor) || !bytes.Equal(avail, fc.rawAvailable) {
		fc.rawGovernor = append(fc.rawGovernor[:0], gov...)
		fc.rawAvailable = append(fc.rawAvailable[:0], avail...)
		fc.govLabels, fc.govActive = fc.govLabels[:0], fc.govActive[:0]
		for _, g := range hostfs.Fields(nil, avail) {
			fc.govLabels = append(fc.govLabels, []string{fc.one[0], string(g)})
			fc.govActive = append(fc.govActive, bytes.Equal(g, gov))
		}
	}
	for i, l := range fc.govLabels {
		v := 0.0
		if fc.govActive[i] {
			v = 1
		}
		e.Emit(c.govDesc, v, l...)
	}
	return has, nil
}
