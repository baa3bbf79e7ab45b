package sensors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// psKind is how a power supply attribute becomes a sample.
type psKind uint8

const (
	psRaw   psKind = iota // as read
	psMicro               // value / 1e6 (µA, µV, µWh, µAh, µW)
	psDeci                // value / 10 (tenths of a degree Celsius)
	psInfo                // a label of node_power_supply_info
)

// psAttrDef maps one /sys/class/power_supply/<name>/<file> to the metric
// node_exporter's powersupplyclass collector makes of it: for numbers
// node_power_supply_<metric>, for strings the <metric> label of
// node_power_supply_info.
type psAttrDef struct {
	file   string
	metric string
	kind   psKind
}

// psAttrDefs returns the attributes node_exporter reads, numbers first, then
// the info labels in their alphabetical order (the order the Prometheus
// client writes them in).
func psAttrDefs() []psAttrDef {
	return []psAttrDef{
		{"authentic", "authentic", psRaw},
		{"calibrate", "calibrate", psRaw},
		{"capacity", "capacity", psRaw},
		{"capacity_alert_max", "capacity_alert_max", psRaw},
		{"capacity_alert_min", "capacity_alert_min", psRaw},
		{"cycle_count", "cyclecount", psRaw},
		{"online", "online", psRaw},
		{"present", "present", psRaw},
		{"time_to_empty_now", "time_to_empty_seconds", psRaw},
		{"time_to_full_now", "time_to_full_seconds", psRaw},

		{"current_boot", "current_boot", psMicro},
		{"current_max", "current_max", psMicro},
		{"current_now", "current_ampere", psMicro},
		{"energy_empty", "energy_empty", psMicro},
		{"energy_empty_design", "energy_empty_design", psMicro},
		{"energy_full", "energy_full", psMicro},
		{"energy_full_design", "energy_full_design", psMicro},
		{"energy_now", "energy_watthour", psMicro},
		{"voltage_boot", "voltage_boot", psMicro},
		{"voltage_max", "voltage_max", psMicro},
		{"voltage_max_design", "voltage_max_design", psMicro},
		{"voltage_min", "voltage_min", psMicro},
		{"voltage_min_design", "voltage_min_design", psMicro},
		{"voltage_now", "voltage_volt", psMicro},
		{"voltage_ocv", "voltage_ocv", psMicro},
		{"charge_control_limit", "charge_control_limit", psMicro},
		{"charge_control_limit_max", "charge_control_limit_max", psMicro},
		{"charge_counter", "charge_counter", psMicro},
		{"charge_empty", "charge_empty", psMicro},
		{"charge_empty_design", "charge_empty_design", psMicro},
		{"charge_full", "charge_full", psMicro},
		{"charge_full_design", "charge_full_design", psMicro},
		{"charge_now", "charge_ampere", psMicro},
		{"charge_term_current", "charge_term_current", psMicro},
		{"constant_charge_current", "constant_charge_current", psMicro},
		{"constant_charge_current_max", "constant_charge_current_max", psMicro},
		{"constant_charge_voltage", "constant_charge_voltage", psMicro},
		{"constant_charge_voltage_max", "constant_charge_voltage_max", psMicro},
		{"precharge_current", "precharge_current", psMicro},
		{"input_current_limit", "input_current_limit", psMicro},
		{"power_now", "power_watt", psMicro},

		{"temp", "temp_celsius", psDeci},
		{"temp_alert_max", "temp_alert_max_celsius", psDeci},
		{"temp_alert_min", "temp_alert_min_celsius", psDeci},
		{"temp_ambient", "temp_ambient_celsius", psDeci},
		{"temp_ambient_max", "temp_ambient_max_celsius", psDeci},
		{"temp_ambient_min", "temp_ambient_min_celsius", psDeci},
		{"temp_max", "temp_max_celsius", psDeci},
		{"temp_min", "temp_min_celsius", psDeci},

		{"capacity_level", "capacity_level", psInfo},
		{"charge_type", "charge_type", psInfo},
		{"health", "health", psInfo},
		{"manufacturer", "manufacturer", psInfo},
		{"model_name", "model_name", psInfo},
		{"scope", "scope", psInfo},
		{"serial_number", "serial_number", psInfo},
		{"status", "status", psInfo},
		{"technology", "technology", psInfo},
		{"type", "type", psInfo},
		{"usb_type", "usb_type", psInfo},
	}
}

// powerSupplyCollector reads /sys/class/power_supply as node_exporter's
// powersupplyclass collector. The supplies and their attribute files are
// listed at discovery (first tick, then every DiscoveryInterval); the
// attributes are read every tick.
type powerSupplyCollector struct {
	roots    hostfs.Roots
	o        options
	now      clock
	classDir string

	defs      []psAttrDef
	byFile    map[string]int    // file -> index in defs
	descs     []*collector.Desc // by index in defs; nil for info fields
	infoNames []string          // label names of info fields, by info index
	infoFirst int               // index in defs of the first info field
	infoOrder []int             // info indexes in label name order; -1 is power_supply
	infoDesc  *collector.Desc

	supplies      []*powerSupply
	noData        error
	lastDiscovery time.Time
	buf           []byte
}

type powerSupply struct {
	name   string
	labels []string // power_supply
	attrs  []psAttr
	info   []psInfoField // by info index; path "" when absent

	infoMask   uint32
	infoValues []string // label values of the last info sample
}

type psAttr struct {
	path string
	def  int
}

type psInfoField struct {
	path  string
	raw   string // as last read
	value string // raw with invalid UTF-8 replaced
}

func newPowerSupply(roots hostfs.Roots, o options) *powerSupplyCollector {
	c := &powerSupplyCollector{
		roots:     roots,
		o:         o,
		now:       time.Now,
		classDir:  roots.SysPath("class", "power_supply"),
		defs:      psAttrDefs(),
		byFile:    make(map[string]int),
		infoFirst: -1,
	}
	c.descs = make([]*collector.Desc, len(c.defs))
	for i, d := range c.defs {
		c.byFile[d.file] = i
		if d.kind == psInfo {
			if c.infoFirst < 0 {
				c.infoFirst = i
			}
			c.infoNames = append(c.infoNames, d.metric)
			continue
		}
		c.descs[i] = collector.NewDesc("node_power_supply_"+d.metric,
			d.metric+" value of /sys/class/power_supply/<power_supply>.", collector.Gauge, "power_supply")
	}
	// The label names in alphabetical order: power_supply (-1) goes before
	// the first info field that sorts after it.
	placed := false
	for i, n := range c.infoNames {
		if !placed && n > "power_supply" {
			c.infoOrder = append(c.infoOrder, -1)
			placed = true
		}
		c.infoOrder = append(c.infoOrder, i)
	}
	if !placed {
		c.infoOrder = append(c.infoOrder, -1)
	}
	names := make([]string, len(c.infoOrder))
	for j, i := range c.infoOrder {
		names[j] = "power_supply"
		if i >= 0 {
			names[j] = c.infoNames[i]
		}
	}
	c.infoDesc = collector.NewDesc("node_power_supply_info", "info of /sys/class/power_supply/<power_supply>.",
		collector.Gauge, names...)
	return c
}

func (c *powerSupplyCollector) Name() string { return "powersupplyclass" }

func (c *powerSupplyCollector) Collect(_ context.Context, e *collector.Emitter) error {
	now := c.now()
	if due(c.lastDiscovery, now, c.o.discoverIntv) {
		if err := c.discover(); err != nil {
			return err
		}
		c.lastDiscovery = now
	}
	if c.noData != nil {
		return c.noData
	}
	for _, ps := range c.supplies {
		if err := c.collectSupply(ps, e); err != nil {
			return err
		}
	}
	return nil
}

func (c *powerSupplyCollector) collectSupply(ps *powerSupply, e *collector.Emitter) error {
	for _, a := range ps.attrs {
		b, err := c.readAttr(a.path)
		if err != nil {
			return err
		}
		if b == nil {
			continue // not supported by this supply, or not readable now
		}
		v, ok := parseInt64(b)
		if !ok {
			return fmt.Errorf("powersupplyclass: %w",
				&hostfs.ParseError{File: a.path, Line: 1, Text: string(b), Msg: "expected an integer"})
		}
		d := c.defs[a.def]
		value := float64(v)
		switch d.kind {
		case psMicro:
			value /= 1e6
		case psDeci:
			value /= 10.0
		}
		e.Emit(c.descs[a.def], value, ps.labels...)
	}

	// node_power_supply_info carries the non-empty string attributes.
	// node_exporter leaves the others out; trainwatch's families have one
	// label set, so they are "" here, which Prometheus stores the same as
	// an absent label.
	mask, changed := uint32(0), false
	for i := range ps.info {
		f := &ps.info[i]
		if f.path == "" {
			continue
		}
		b, err := c.readAttr(f.path)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			continue
		}
		if string(b) != f.raw {
			f.raw = string(b)
			f.value = strings.ToValidUTF8(f.raw, "\uFFFD")
			changed = true
		}
		mask |= 1 << i
	}
	if changed || mask != ps.infoMask || ps.infoValues == nil {
		// A new slice: the previous one belongs to samples already emitted.
		ps.infoMask = mask
		ps.infoValues = make([]string, len(c.infoOrder))
		for j, i := range c.infoOrder {
			switch {
			case i < 0:
				ps.infoValues[j] = ps.name
			case mask&(1<<i) != 0:
				ps.infoValues[j] = ps.info[i].value
			}
		}
	}
	e.Emit(c.infoDesc, 1, ps.infoValues...)
	return nil
}

// readAttr reads one attribute with surrounding white space removed. It
// returns nil, nil for the errors prometheus/procfs skips (the attribute
// is not supported by this supply or not readable now).
func (c *powerSupplyCollector) readAttr(path string) ([]byte, error) {
	b, err := c.roots.ReadFile(path, c.buf)
	c.buf = b
	if err != nil {
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EOPNOTSUPP),
			errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.EINVAL),
			errors.Is(err, syscall.ENODATA), errors.Is(err, syscall.EAGAIN),
			errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EISDIR):
			return nil, nil
		}
		return nil, fmt.Errorf("powersupplyclass: %w", err)
	}
	return bytes.TrimSpace(b), nil
}

func (c *powerSupplyCollector) discover() error {
	names, err := c.roots.ReadDirNames(c.classDir)
	if err != nil {
		if hostfs.IsNotExist(err) {
			c.supplies = nil
			c.noData = fmt.Errorf("no power supplies: %s does not exist (the kernel has no power_supply class): %w",
				c.classDir, collector.ErrNoData)
			return nil
		}
		return fmt.Errorf("powersupplyclass: list supplies: %w", err)
	}
	sort.Strings(names)
	old := make(map[string]*powerSupply, len(c.supplies))
	for _, ps := range c.supplies {
		old[ps.name] = ps
	}
	var supplies []*powerSupply
	ignored := 0
	for _, n := range names {
		if c.o.supplies.ignored(n) {
			ignored++
			continue
		}
		dir := resolve(filepath.Join(c.classDir, n))
		files, err := c.roots.ReadDirNames(dir)
		if err != nil {
			continue // not a directory, or gone
		}
		ps := &powerSupply{name: n, labels: []string{n}, info: make([]psInfoField, len(c.infoNames))}
		if o := old[n]; o != nil {
			ps.labels = o.labels
			ps.info = o.info // keeps the cached strings
			for i := range ps.info {
				ps.info[i].path = ""
			}
		}
		sort.Strings(files)
		for _, f := range files {
			i, ok := c.byFile[f]
			if !ok {
				continue
			}
			if c.defs[i].kind == psInfo {
				ps.info[i-c.infoFirst].path = filepath.Join(dir, f)
			} else {
				ps.attrs = append(ps.attrs, psAttr{path: filepath.Join(dir, f), def: i})
			}
		}
		sort.Slice(ps.attrs, func(i, j int) bool { return ps.attrs[i].def < ps.attrs[j].def })
		supplies = append(supplies, ps)
	}
	c.supplies = supplies
	switch {
	case len(supplies) == 0 && ignored > 0:
		c.noData = fmt.Errorf("powersupplyclass: all %d power supplies under %s are ignored by %s: %w",
			ignored, c.classDir, c.o.supplies.describe("powersupply_ignored_supplies"), collector.ErrNoData)
	case len(supplies) == 0:
		c.noData = fmt.Errorf("no power supplies under %s: the firmware shows the kernel no AC adapter, battery, "+
			"UPS or PSU (normal on most servers and VMs): %w", c.classDir, collector.ErrNoData)
	default:
		c.noData = nil
	}
	return nil
}

// parseInt64 parses a signed decimal integer without allocating.
func parseInt64(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := hostfs.ParseUint(b)
	if !ok || u > 1<<63 || (!neg && u == 1<<63) {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}
