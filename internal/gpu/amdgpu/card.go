package amdgpu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// card is one GPU bound to amdgpu, as found at discovery.
type card struct {
	index   int
	name    string // "card1"
	dir     string // .../class/drm/card1/device
	pciAddr string // "0000:05:00.0"

	labels []string // gpuLabels' values
	info   []string // trainwatch_gpu_info's values

	// Totals and maximum link, read at discovery; ok false when absent.
	vramTotal, gttTotal value
	maxGen, maxWidth    value
	// runtimeStatus is the power/runtime_status path.
	runtimeStatus string

	// The attributes read every tick; nil when the GPU has none.
	busy, memBusy        *attr
	vramUsed, gttUsed    *attr
	temps                []*attr
	power, powerCap      *attr
	sclk, mclk           *attr
	fan                  *attr
	linkSpeed, linkWidth *attr

	// Labels of the link series: which="current" and which="max".
	curLabels, maxLabels []string
}

type value struct {
	v  float64
	ok bool
}

// attr is a changing attribute read every tick.
type attr struct {
	path   string
	scale  float64  // the value read is multiplied by it
	labels []string // the series' label values
	gen    bool     // a link speed string, converted to a PCIe generation
}

// listCards returns the names of /sys/class/drm's primary nodes (card0,
// card1, ...), sorted by number; connectors (card0-DP-1) and render nodes
// are left out.
func listCards(names []string) []string {
	var out []string
	for _, n := range names {
		num, ok := strings.CutPrefix(n, "card")
		if !ok || num == "" {
			continue
		}
		if _, err := strconv.Atoi(num); err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i][4:])
		b, _ := strconv.Atoi(out[j][4:])
		return a < b
	})
	return out
}

// uevent is what a PCI device's uevent file says.
type uevent struct {
	driver, pciID, slot string
}

// parseUevent reads KEY=VALUE lines; other lines are ignored.
func parseUevent(b []byte) uevent {
	var u uevent
	l := hostfs.NewLines("", b)
	for l.Next() {
		k, v, ok := bytes.Cut(l.Bytes(), []byte("="))
		if !ok {
			continue
		}
		switch string(k) {
		case "DRIVER":
			u.driver = string(v)
		case "PCI_ID":
			u.pciID = string(v)
		case "PCI_SLOT_NAME":
			u.slot = string(v)
		}
	}
	return u
}

// parseLinkGen turns a PCI link speed attribute ("16.0 GT/s PCIe", older
// kernels "8 GT/s", "2.5 GT/s") into a PCIe generation.
func parseLinkGen(file string, b []byte) (float64, error) {
	t := bytes.TrimSpace(b)
	num, _, ok := bytes.Cut(t, []byte(" GT/s"))
	if ok {
		switch string(num) {
		case "2.5":
			return 1, nil
		case "5", "5.0":
			return 2, nil
		case "8", "8.0":
			return 3, nil
		case "16", "16.0":
			return 4, nil
		case "32", "32.0":
			return 5, nil
		case "64", "64.0":
			return 6, nil
		case "128", "128.0":
			return 7, nil
		}
	}
	return 0, &hostfs.ParseError{File: file, Line: 1, Text: string(t), Msg: "expected a PCIe link speed such as \"16.0 GT/s PCIe\""}
}

// parseNumber reads a sysfs attribute holding one decimal number.
func parseNumber(file string, b []byte) (float64, error) {
	t := bytes.TrimSpace(b)
	v, ok := hostfs.ParseFloat(t)
	if !ok {
		return 0, &hostfs.ParseError{File: file, Line: 1, Text: string(t), Msg: "expected a number"}
	}
	return v, nil
}

// unsupported reports whether a read error at discovery means the
// attribute is not there for this GPU (absent, or the driver says it is
// not supported) rather than failing right now.
func unsupported(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENODATA)
}

// noAMDReason is the ErrNoData reason when no card is bound to amdgpu.
const noAMDReason = "amdgpu: no GPU bound to the amdgpu driver under %s (%s): %w"

// discover lists the DRM cards and keeps those bound to amdgpu.
func (c *amdCollector) discover() error {
	classDir := c.roots.SysPath("class", "drm")
	names, err := c.roots.ReadDirNames(classDir)
	if err != nil {
		if hostfs.IsNotExist(err) {
			c.cards, c.byPCI = nil, nil
			c.noData = fmt.Errorf(noAMDReason, classDir, "no DRM devices: no GPU driver is loaded", collector.ErrNoData)
			return nil
		}
		return fmt.Errorf("amdgpu: list DRM cards: %w", err)
	}
	if b, err := c.readFile(c.roots.SysPath("module", "amdgpu", "version")); err == nil {
		c.driverVersion = string(bytes.TrimSpace(b))
	}
	var cards []*card
	var others []string
	for _, n := range listCards(names) {
		cd, driver := c.discoverCard(filepath.Join(classDir, n), n)
		if cd == nil {
			if driver == "" {
				driver = "no driver"
			}
			others = append(others, n+": "+driver)
			continue
		}
		cards = append(cards, cd)
	}
	c.cards = cards
	c.byPCI = make(map[string]*card, len(cards))
	for _, cd := range cards {
		c.byPCI[cd.pciAddr] = cd
	}
	switch {
	case len(cards) > 0:
		c.noData = nil
	case len(others) == 0:
		c.noData = fmt.Errorf(noAMDReason, classDir, "no DRM cards", collector.ErrNoData)
	default:
		c.noData = fmt.Errorf(noAMDReason, classDir, "cards found: "+strings.Join(others, ", "), collector.ErrNoData)
	}
	return nil
}

// driverOf returns the driver a DRM card's device is bound to: uevent's
// DRIVER, else the basename of the device/driver link.
func (c *amdCollector) driverOf(dev string) (uevent, string) {
	var u uevent
	if b, err := c.readFile(filepath.Join(dev, "uevent")); err == nil {
		u = parseUevent(b)
	}
	if u.driver != "" {
		return u, u.driver
	}
	link := filepath.Join(dev, "driver")
	if c.roots.Trace != nil {
		c.roots.Note("readlink:" + link)
	}
	if t, err := os.Readlink(link); err == nil {
		return u, filepath.Base(t)
	}
	return u, ""
}

// discoverCard reads one card's identity and finds its attributes; nil
// when the card is not driven by amdgpu.
func (c *amdCollector) discoverCard(cardDir, name string) (*card, string) {
	dev := filepath.Join(cardDir, "device")
	u, driver := c.driverOf(dev)
	if driver != "amdgpu" {
		return nil, driver
	}
	index, _ := strconv.Atoi(name[len("card"):])
	cd := &card{index: index, name: name, dir: dev, pciAddr: u.slot}
	if cd.pciAddr == "" {
		if c.roots.Trace != nil {
			c.roots.Note("readlink:" + dev)
		}
		if t, err := os.Readlink(dev); err == nil {
			cd.pciAddr = filepath.Base(t)
		}
	}
	read := func(file string) string {
		b, err := c.readFile(filepath.Join(dev, file))
		if err != nil {
			return ""
		}
		return string(bytes.TrimSpace(b))
	}
	uuid := read("unique_id")
	if uuid == "" {
		uuid = cd.pciAddr
	}
	pciID := strings.ToLower(u.pciID)
	model := read("product_name")
	if model == "" {
		model = "AMD GPU " + pciID
	}
	cd.labels = []string{strconv.Itoa(index), uuid, cd.pciAddr, name, model, c.cfg.Hostname}
	cd.info = append(append([]string(nil), cd.labels...),
		"amd", model, "amdgpu", c.driverVersion, read("vbios_version"), read("serial_number"), pciID)

	cd.vramTotal = c.readValue(filepath.Join(dev, "mem_info_vram_total"), false)
	cd.gttTotal = c.readValue(filepath.Join(dev, "mem_info_gtt_total"), false)
	cd.maxGen = c.readValue(filepath.Join(dev, "max_link_speed"), true)
	cd.maxWidth = c.readValue(filepath.Join(dev, "max_link_width"), false)
	cd.runtimeStatus = filepath.Join(dev, "power", "runtime_status")

	cd.busy = c.probe(dev, "gpu_busy_percent", 1, cd.labels)
	cd.memBusy = c.probe(dev, "mem_busy_percent", 1, cd.labels)
	cd.vramUsed = c.probe(dev, "mem_info_vram_used", 1, cd.labels)
	cd.gttUsed = c.probe(dev, "mem_info_gtt_used", 1, cd.labels)
	cd.curLabels = withLabel(cd.labels, "current")
	cd.maxLabels = withLabel(cd.labels, "max")
	if cd.linkSpeed = c.probe(dev, "current_link_speed", 1, cd.curLabels); cd.linkSpeed != nil {
		cd.linkSpeed.gen = true
	}
	cd.linkWidth = c.probe(dev, "current_link_width", 1, cd.curLabels)
	c.discoverHwmon(cd)
	return cd, driver
}

// withLabel returns labels with one more value, in a new slice.
func withLabel(labels []string, v string) []string {
	return append(append(make([]string, 0, len(labels)+1), labels...), v)
}

// readValue reads an attribute at discovery.
func (c *amdCollector) readValue(path string, gen bool) value {
	b, err := c.readFile(path)
	if err != nil {
		return value{}
	}
	var v float64
	if gen {
		v, err = parseLinkGen(path, b)
	} else {
		v, err = parseNumber(path, b)
	}
	return value{v: v, ok: err == nil}
}

// probe returns an attribute read every tick, or nil when the file is not
// there or the driver does not support it on this GPU.
func (c *amdCollector) probe(dir, file string, scale float64, labels []string) *attr {
	path := filepath.Join(dir, file)
	if _, err := c.readFile(path); err != nil && unsupported(err) {
		return nil
	}
	return &attr{path: path, scale: scale, labels: labels}
}

// hwmonTempNames are amdgpu's temperature channels when their label files
// are missing (docs.kernel.org/gpu/amdgpu/thermal.html).
var hwmonTempNames = map[string]string{"1": "edge", "2": "junction", "3": "mem"}

// discoverHwmon finds the card's amdgpu hwmon directory and its sensors.
func (c *amdCollector) discoverHwmon(cd *card) {
	hwDir := filepath.Join(cd.dir, "hwmon")
	names, err := c.roots.ReadDirNames(hwDir)
	if err != nil {
		return
	}
	sort.Strings(names)
	for _, n := range names {
		if !strings.HasPrefix(n, "hwmon") {
			continue
		}
		dir := filepath.Join(hwDir, n)
		files, err := c.roots.ReadDirNames(dir)
		if err != nil {
			continue
		}
		sort.Strings(files)
		have := make(map[string]bool, len(files))
		for _, f := range files {
			have[f] = true
		}
		label := func(f string) string {
			if !have[f] {
				return ""
			}
			b, err := c.readFile(filepath.Join(dir, f))
			if err != nil {
				return ""
			}
			return string(bytes.TrimSpace(b))
		}
		for _, f := range files {
			num, ok := strings.CutPrefix(f, "temp")
			if !ok {
				continue
			}
			num, ok = strings.CutSuffix(num, "_input")
			if !ok {
				continue
			}
			sensor := label("temp" + num + "_label")
			if sensor == "" {
				sensor = hwmonTempNames[num]
			}
			if sensor == "" {
				sensor = "temp" + num
			}
			if a := c.probe(dir, f, 0.001, withLabel(cd.labels, sensor)); a != nil {
				cd.temps = append(cd.temps, a)
			}
		}
		// power1_average is the driver's averaged package power; newer
		// kernels and some GPUs (MI300) have only power1_input.
		for _, f := range []string{"power1_average", "power1_input"} {
			if have[f] {
				if cd.power = c.probe(dir, f, 1e-6, cd.labels); cd.power != nil {
					break
				}
			}
		}
		if have["power1_cap"] {
			cd.powerCap = c.probe(dir, "power1_cap", 1e-6, cd.labels)
		}
		for _, num := range []string{"1", "2"} {
			f := "freq" + num + "_input"
			if !have[f] {
				continue
			}
			clock := ""
			switch label("freq" + num + "_label") {
			case "sclk":
				clock = "sm"
			case "mclk":
				clock = "memory"
			default:
				clock = map[string]string{"1": "sm", "2": "memory"}[num]
			}
			a := c.probe(dir, f, 1, withLabel(cd.labels, clock))
			if clock == "sm" {
				cd.sclk = a
			} else {
				cd.mclk = a
			}
		}
		if have["fan1_input"] {
			cd.fan = c.probe(dir, "fan1_input", 1, cd.labels)
		}
		return // amdgpu registers one hwmon device per GPU
	}
}

// collectCard reads and emits one card's series.
func (c *amdCollector) collectCard(cd *card, e *collector.Emitter) {
	d := &c.d
	e.Emit(d.info, 1, cd.info...)
	if cd.vramTotal.ok {
		e.Emit(d.memTotal, cd.vramTotal.v, cd.labels...)
	}
	if cd.gttTotal.ok {
		e.Emit(d.gttTotal, cd.gttTotal.v, cd.labels...)
	}
	if cd.maxGen.ok {
		e.Emit(d.linkGen, cd.maxGen.v, cd.maxLabels...)
	}
	if cd.maxWidth.ok {
		e.Emit(d.linkWidth, cd.maxWidth.v, cd.maxLabels...)
	}

	// A runtime-suspended GPU (a laptop's or a workstation's idle dGPU)
	// is not woken up: older kernels resume the device for every read.
	if b, err := c.readFile(cd.runtimeStatus); err == nil && string(bytes.TrimSpace(b)) == "suspended" {
		e.Emit(d.up, 1, cd.labels...)
		return
	}

	ok, failed := 0, 0
	one := func(a *attr, desc *collector.Desc) {
		if a == nil {
			return
		}
		b, err := c.readFile(a.path)
		if err != nil {
			failed++
			if gone(err) {
				c.rediscover = true
			}
			return
		}
		var v float64
		if a.gen {
			v, err = parseLinkGen(a.path, b)
		} else {
			v, err = parseNumber(a.path, b)
		}
		ok++
		if err != nil {
			// A malformed value is skipped, as node_exporter skips one;
			// the other series of the GPU are still good.
			return
		}
		e.Emit(desc, v*a.scale, a.labels...)
	}
	one(cd.busy, d.util)
	one(cd.memBusy, d.memUtil)
	one(cd.vramUsed, d.memUsed)
	one(cd.gttUsed, d.gttUsed)
	for _, a := range cd.temps {
		one(a, d.temp)
	}
	one(cd.power, d.power)
	one(cd.powerCap, d.powerLimit)
	one(cd.sclk, d.clock)
	one(cd.mclk, d.clock)
	one(cd.fan, d.fan)
	one(cd.linkSpeed, d.linkGen)
	one(cd.linkWidth, d.linkWidth)
	up := 1.0
	if ok == 0 && failed > 0 {
		up = 0
	}
	e.Emit(d.up, up, cd.labels...)
}
