package sensors

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// hwmonCollector reads /sys/class/hwmon as node_exporter's hwmon collector.
// It lists the chips and their attribute files at discovery (first tick,
// then every DiscoveryInterval), reads thresholds and labels at discovery
// and every ThresholdInterval, and reads only the fast attributes (see
// fastElement) every tick.
type hwmonCollector struct {
	roots    hostfs.Roots
	o        options
	now      clock
	classDir string

	chipNamesDesc   *collector.Desc
	sensorLabelDesc *collector.Desc
	descs           map[string]*collector.Desc

	chips         []*hwmonChip
	noData        error // set when there is nothing to collect until the next discovery
	lastDiscovery time.Time
	lastThreshold time.Time
	buf           []byte
}

type hwmonChip struct {
	label      string
	nameLabels []string // chip, chip_name; nil when the chip has no name file
	sensors    []*hwmonSensor
}

type hwmonSensor struct {
	name        string
	labels      []string // chip, sensor
	labelPath   string   // "" when the sensor has no label file
	labelLabels []string // chip, label, sensor; nil when the label is unknown
	attrs       []*hwmonAttr
}

type hwmonAttr struct {
	path   string
	desc   *collector.Desc
	conv   conv
	fast   bool
	labels []string // chip, sensor
	// labelAsSensor: labels take the sensor label (node_hwmon_freq_freq_mhz).
	labelAsSensor bool
	// gone is set when the file cannot be read until the next discovery (a
	// directory, write-only or removed).
	gone bool
	// value and ok are the cached reading of a slow attribute.
	value float64
	ok    bool
}

func newHwmon(roots hostfs.Roots, o options) *hwmonCollector {
	return &hwmonCollector{
		roots:    roots,
		o:        o,
		now:      time.Now,
		classDir: roots.SysPath("class", "hwmon"),
		chipNamesDesc: collector.NewDesc("node_hwmon_chip_names",
			"Annotation metric for human-readable chip names", collector.Gauge, "chip", "chip_name"),
		sensorLabelDesc: collector.NewDesc("node_hwmon_sensor_label",
			"Label for given chip and sensor", collector.Gauge, "chip", "label", "sensor"),
		descs: make(map[string]*collector.Desc),
	}
}

func (c *hwmonCollector) Name() string { return "hwmon" }

func (c *hwmonCollector) Collect(_ context.Context, e *collector.Emitter) error {
	now := c.now()
	switch {
	case due(c.lastDiscovery, now, c.o.discoverIntv):
		refresh := due(c.lastThreshold, now, c.o.thresholdIntv)
		if err := c.discover(refresh); err != nil {
			return err
		}
		c.lastDiscovery = now
		if refresh {
			c.lastThreshold = now
		}
	case due(c.lastThreshold, now, c.o.thresholdIntv):
		c.refreshSlow()
		c.lastThreshold = now
	}
	if c.noData != nil {
		return c.noData
	}
	for _, chip := range c.chips {
		if chip.nameLabels != nil {
			e.Emit(c.chipNamesDesc, 1, chip.nameLabels...)
		}
		for _, s := range chip.sensors {
			if s.labelLabels != nil {
				e.Emit(c.sensorLabelDesc, 1, s.labelLabels...)
			}
			for _, a := range s.attrs {
				if a.gone {
					continue
				}
				if a.fast {
					c.read(a)
				}
				if a.ok {
					e.Emit(a.desc, a.value, a.labels...)
				}
			}
		}
	}
	return nil
}

// read reads one attribute into a.value and a.ok. A file that can never be
// read marks the attribute gone; a transient failure (the sensor is busy
// or disconnected) or a malformed value skips it this time, as
// node_exporter does.
func (c *hwmonCollector) read(a *hwmonAttr) {
	b, err := c.roots.ReadFile(a.path, c.buf)
	c.buf = b
	a.ok = false
	if err != nil {
		a.gone = !transient(err)
		return
	}
	a.value, a.ok = convert(a.conv, b)
}

// convert turns an attribute's content into a sample value. As
// node_exporter, only newlines are trimmed.
func convert(cv conv, b []byte) (float64, bool) {
	b = bytes.Trim(b, "\n")
	if cv == convIsOne {
		if len(b) == 1 && b[0] == '1' {
			return 1, true
		}
		return 0, true
	}
	v, ok := hostfs.ParseFloat(b)
	if !ok {
		return 0, false
	}
	switch cv {
	case convMilli:
		v *= 0.001
	case convMicro:
		v /= 1000000.0
	}
	return v, true
}

// readLabel reads a sensor label file; only newlines are trimmed and
// invalid UTF-8 is replaced, as node_exporter does.
func (c *hwmonCollector) readLabel(path string) (string, bool) {
	b, err := c.roots.ReadFile(path, c.buf)
	c.buf = b
	if err != nil {
		return "", false
	}
	return strings.ToValidUTF8(string(bytes.Trim(b, "\n")), "\uFFFD"), true
}

// setLabel records a sensor's label and updates the series that carry it.
func (s *hwmonSensor) setLabel(label string, ok bool) {
	if !ok {
		s.labelLabels = nil
	} else if s.labelLabels == nil || s.labelLabels[1] != label {
		s.labelLabels = []string{s.labels[0], label, s.name}
	}
	for _, a := range s.attrs {
		if !a.labelAsSensor {
			continue
		}
		switch {
		case !ok:
			a.labels = nil
			a.gone = true
		case a.labels == nil || a.labels[1] != cleanName(label):
			a.labels = []string{s.labels[0], cleanName(label)}
			a.gone = false
		}
	}
}

// refreshSlow re-reads the labels and slow attributes of every chip.
func (c *hwmonCollector) refreshSlow() {
	for _, chip := range c.chips {
		for _, s := range chip.sensors {
			if s.labelPath != "" {
				s.setLabel(c.readLabel(s.labelPath))
			}
			for _, a := range s.attrs {
				if !a.fast && !a.gone {
					c.read(a)
				}
			}
		}
	}
}

// noHwmonReason is the ErrNoData reason when the kernel shows no chips.
const noHwmonReason = "no hwmon chips under %s: the kernel exposes no sensor drivers " +
	"(on a VM this is normal; on bare metal load the drivers, e.g. coretemp, k10temp, nct6775, " +
	"and run sensors-detect from lm-sensors to find the others)"

// discover lists the chips and their attributes again. Slow attributes and
// labels keep their cached values unless refresh is set or they are new.
func (c *hwmonCollector) discover(refresh bool) error {
	names, err := c.roots.ReadDirNames(c.classDir)
	if err != nil {
		if hostfs.IsNotExist(err) {
			c.chips = nil
			c.noData = fmt.Errorf(noHwmonReason+": %w", c.classDir, collector.ErrNoData)
			return nil
		}
		return fmt.Errorf("hwmon: list chips: %w", err)
	}
	sort.Strings(names)

	// Cached slow values and labels by path, reused when not refreshing.
	var oldAttrs map[string]*hwmonAttr
	var oldLabels map[string][]string
	if !refresh {
		oldAttrs = make(map[string]*hwmonAttr)
		oldLabels = make(map[string][]string)
		for _, chip := range c.chips {
			for _, s := range chip.sensors {
				if s.labelPath != "" {
					oldLabels[s.labelPath] = s.labelLabels
				}
				for _, a := range s.attrs {
					if !a.fast {
						oldAttrs[a.path] = a
					}
				}
			}
		}
	}

	var chips []*hwmonChip
	seen := make(map[string]bool) // chip + "\x00" + sensor, to drop duplicate series
	total, excluded := 0, 0
	for _, n := range names {
		chip, ok := c.discoverChip(filepath.Join(c.classDir, n), seen, oldAttrs, oldLabels)
		if !ok {
			continue
		}
		total++
		if chip == nil {
			excluded++
			continue
		}
		chips = append(chips, chip)
	}
	sort.SliceStable(chips, func(i, j int) bool { return chips[i].label < chips[j].label })
	c.chips = chips
	switch {
	case total == 0:
		c.noData = fmt.Errorf(noHwmonReason+": %w", c.classDir, collector.ErrNoData)
	case len(chips) == 0:
		c.noData = fmt.Errorf("hwmon: all %d chips under %s are excluded by %s: %w",
			total, c.classDir, c.o.chips.describe("chip"), collector.ErrNoData)
	default:
		c.noData = nil
	}
	return nil
}

// rawSensor gathers one sensor's attribute files during discovery.
type rawSensor struct {
	typ   string
	num   int
	key   string            // typ + num, the sensor label value
	props map[string]string // element -> path
}

// discoverChip reads one hwmon directory. ok is false when dir is not a
// chip (not a directory, or nothing names it); chip is nil when the chip
// filter excludes it.
func (c *hwmonCollector) discoverChip(dir string, seen map[string]bool, oldAttrs map[string]*hwmonAttr, oldLabels map[string][]string) (chip *hwmonChip, ok bool) {
	files, err := c.roots.ReadDirNames(dir)
	if err != nil {
		return nil, false
	}
	devicePath, devErr := filepath.EvalSymlinks(filepath.Join(dir, "device"))
	if devErr != nil {
		devicePath = ""
	}
	nameFile, hasName := "", false
	if b, err := c.roots.ReadFile(filepath.Join(dir, "name"), c.buf); err == nil {
		c.buf = b
		nameFile, hasName = string(b), len(b) > 0
	} else {
		c.buf = b
	}
	realDir := ""
	if devicePath == "" && cleanName(nameFile) == "" {
		if realDir, err = filepath.EvalSymlinks(dir); err != nil {
			return nil, false
		}
	}
	label, err := chipLabel(devicePath, nameFile, realDir)
	if err != nil {
		return nil, false
	}
	if c.o.chips.ignored(label) {
		return nil, true
	}
	chip = &hwmonChip{label: label}
	if hasName {
		if cn := cleanName(nameFile); cn != "" {
			chip.nameLabels = []string{label, cn}
		}
	}

	// Attribute files of the chip directory, then of its device directory
	// (which win for the same sensor and element, as in node_exporter).
	raw := make(map[string]*rawSensor)
	addFiles(raw, resolve(dir), files)
	if devicePath != "" {
		if devFiles, err := c.roots.ReadDirNames(devicePath); err == nil {
			addFiles(raw, devicePath, devFiles)
		}
	}
	sensors := make([]*rawSensor, 0, len(raw))
	for _, rs := range raw {
		sensors = append(sensors, rs)
	}
	sort.Slice(sensors, func(i, j int) bool {
		if sensors[i].typ != sensors[j].typ {
			return sensors[i].typ < sensors[j].typ
		}
		return sensors[i].num < sensors[j].num
	})

	for _, rs := range sensors {
		if c.o.sensors.ignored(label + ";" + rs.key) {
			continue
		}
		if seen[label+"\x00"+rs.key] {
			continue // another chip with the same label already has this sensor
		}
		s := &hwmonSensor{name: rs.key, labels: []string{label, rs.key}, labelPath: rs.props["label"]}
		_, hasBare := rs.props[""]
		elements := make([]string, 0, len(rs.props))
		for el := range rs.props {
			elements = append(elements, el)
		}
		sort.Strings(elements)
		for _, el := range elements {
			spec, ok := hwmonAttrSpec(rs.typ, el, hasBare)
			if !ok {
				continue
			}
			a := &hwmonAttr{
				path:          rs.props[el],
				desc:          c.desc(spec),
				conv:          spec.conv,
				fast:          fastElement(rs.typ, el),
				labels:        s.labels,
				labelAsSensor: spec.labelAsSensor,
			}
			if !a.fast {
				if old, ok := oldAttrs[a.path]; ok {
					a.value, a.ok, a.gone = old.value, old.ok, old.gone
				} else {
					c.read(a)
				}
			}
			s.attrs = append(s.attrs, a)
		}
		switch old, cached := oldLabels[s.labelPath]; {
		case s.labelPath == "":
			s.setLabel("", false)
		case cached:
			s.setLabel(labelOf(old))
		default:
			s.setLabel(c.readLabel(s.labelPath))
		}
		if len(s.attrs) == 0 && s.labelLabels == nil {
			continue
		}
		seen[label+"\x00"+rs.key] = true
		chip.sensors = append(chip.sensors, s)
	}
	return chip, true
}

func labelOf(labelLabels []string) (string, bool) {
	if labelLabels == nil {
		return "", false
	}
	return labelLabels[1], true
}

// addFiles adds the sensor attribute files among names (in dir) to raw.
func addFiles(raw map[string]*rawSensor, dir string, names []string) {
	for _, n := range names {
		typ, num, prop, ok := parseSensorFilename(n)
		if !ok || !isSensorType(typ) {
			continue
		}
		if n == typ && !isRegular(filepath.Join(dir, n)) {
			// "power" is the runtime power management directory of every
			// device, not a sensor; a bare "temp" file (a thermal zone's
			// device directory) is one.
			continue
		}
		key := typ + strconv.Itoa(num)
		rs := raw[key]
		if rs == nil {
			rs = &rawSensor{typ: typ, num: num, key: key, props: make(map[string]string)}
			raw[key] = rs
		}
		rs.props[prop] = filepath.Join(dir, n)
	}
}

// isRegular reports whether path is (or links to) a regular file.
func isRegular(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// desc returns the descriptor for spec, created on first use.
func (c *hwmonCollector) desc(spec attrSpec) *collector.Desc {
	if d, ok := c.descs[spec.name]; ok {
		return d
	}
	d := collector.NewDesc(spec.name, spec.help, spec.typ, "chip", "sensor")
	c.descs[spec.name] = d
	return d
}
