package sensors

import (
	"errors"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// isSensorType reports whether t is one of the attribute file prefixes
// node_exporter's hwmon collector reads; files of other types (name,
// uevent, ...) are ignored.
func isSensorType(t string) bool {
	switch t {
	case "vrm", "beep_enable", "update_interval", "in", "cpu", "fan",
		"pwm", "temp", "curr", "power", "energy", "humidity",
		"intrusion", "freq":
		return true
	}
	return false
}

// parseSensorFilename splits a hwmon attribute file name into
// <type><num>_<property>, with the result of node_exporter's expression
// ^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$ under
// leftmost-first matching: "temp1_crit_alarm" is ("temp", 1,
// "crit_alarm"), "pwm2" is ("pwm", 2, ""), "beep_enable" is
// ("beep_enable", 0, ""). ok is false when the name does not match or the
// number does not fit an int.
func parseSensorFilename(name string) (typ string, num int, prop string, ok bool) {
	m := 0 // length of the longest prefix without digits
	for m < len(name) && (name[m] < '0' || name[m] > '9') {
		m++
	}
	if m == 0 {
		return "", 0, "", false
	}
	if m == len(name) {
		return name, 0, "", true
	}
	// The type stops at a digit: the id takes the whole run of digits,
	// which must end the name or be followed by "_" and a property.
	d := m
	for d < len(name) && name[d] >= '0' && name[d] <= '9' {
		d++
	}
	if d == len(name) || (name[d] == '_' && d+1 < len(name)) {
		n, err := strconv.Atoi(name[m:d])
		if err != nil {
			return "", 0, "", false
		}
		if d < len(name) {
			prop = name[d+1:]
		}
		return name[:m], n, prop, true
	}
	// Otherwise a shorter type with no id must be followed by "_" and a
	// property; the expression prefers the longest such type.
	for k := m - 1; k >= 1; k-- {
		if name[k] == '_' && k+1 < len(name) {
			return name[:k], 0, name[k+1:], true
		}
	}
	return "", 0, "", false
}

// cleanName lowers s, replaces every character outside [a-z0-9:_] with "_"
// and trims leading and trailing "_", as node_exporter's cleanMetricName.
func cleanName(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == ':' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return strings.Trim(b.String(), "_")
}

// errNoChipLabel says that a hwmon directory gives nothing to name it by.
var errNoChipLabel = errors.New("no device link, name file or usable directory name to derive a chip label from")

// chipLabel derives the chip label of a hwmon directory as node_exporter
// does, in this order of preference:
//  1. the resolved "device" link (devicePath, "" when there is none):
//     "<parent directory>_<device directory>", each cleaned, for example
//     /sys/devices/platform/coretemp.0 gives "platform_coretemp_0";
//  2. the cleaned content of the "name" file (nameFile, "" when unreadable);
//  3. the cleaned last element of the hwmon directory's real path (realDir).
func chipLabel(devicePath, nameFile, realDir string) (string, error) {
	if devicePath != "" {
		prefix, dev := splitPath(devicePath)
		_, parent := splitPath(strings.TrimRight(prefix, "/"))
		cleanDev, cleanParent := cleanName(dev), cleanName(parent)
		if cleanDev != "" && cleanParent != "" {
			return cleanParent + "_" + cleanDev, nil
		}
		if cleanDev != "" {
			return cleanDev, nil
		}
	}
	if n := cleanName(nameFile); n != "" {
		return n, nil
	}
	_, last := splitPath(realDir)
	if n := cleanName(last); n != "" {
		return n, nil
	}
	return "", errNoChipLabel
}

// splitPath splits p after its last "/", as path.Split.
func splitPath(p string) (dir, file string) {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}

// conv is how a raw attribute value becomes a sample value.
type conv uint8

const (
	convRaw   conv = iota // as read
	convMilli             // value * 0.001 (millidegrees, millivolts, milliamperes, milliseconds)
	convMicro             // value / 1e6 (microwatts, microjoules, micro-ratio)
	convIsOne             // 1 when the file holds exactly "1", else 0
)

// attrSpec is the metric one hwmon attribute file becomes.
type attrSpec struct {
	name string
	help string
	typ  collector.ValueType
	conv conv
	// labelAsSensor: the sample's sensor label is the cleaned sensor label
	// instead of the sensor (node_hwmon_freq_freq_mhz); without a label the
	// attribute is not emitted.
	labelAsSensor bool
}

// hwmonAttrSpec returns the metric that attribute element of a sensor of
// sensorType becomes, with node_exporter's names, help texts, units and
// types; hasBare says whether the sensor also has an attribute without an
// element (for example both "fan1" and "fan1_input"). ok is false for
// attributes that are not emitted (the label, extra elements of
// beep_enable, vrm and update_interval).
func hwmonAttrSpec(sensorType, element string, hasBare bool) (attrSpec, bool) {
	switch sensorType {
	case "beep_enable":
		return attrSpec{name: "node_hwmon_beep_enabled", help: "Hardware beep enabled", typ: collector.Gauge, conv: convIsOne}, element == ""
	case "vrm":
		return attrSpec{name: "node_hwmon_voltage_regulator_version", help: "Hardware voltage regulator", typ: collector.Gauge}, element == ""
	case "update_interval":
		return attrSpec{name: "node_hwmon_update_interval_seconds", help: "Hardware monitor update interval", typ: collector.Gauge, conv: convMilli}, element == ""
	}
	if element == "label" {
		return attrSpec{}, false
	}
	name := "node_hwmon_" + sensorType
	if element == "input" {
		if hasBare {
			name += "_input"
		}
	} else if element != "" {
		name += "_" + cleanName(element)
	}
	s := attrSpec{name: name, typ: collector.Gauge}
	switch {
	case element == "fault" || element == "alarm":
		s.help = "Hardware sensor " + element + " status (" + sensorType + ")"
	case element == "beep":
		s.name += "_enabled"
		s.help = "Hardware monitor sensor has beeping enabled"
	case sensorType == "in" || sensorType == "cpu":
		s.name += "_volts"
		s.help = "Hardware monitor for voltage (" + element + ")"
		s.conv = convMilli
	case sensorType == "temp" && element != "type":
		el := element
		if el == "" {
			el = "input"
		}
		s.name += "_celsius"
		s.help = "Hardware monitor for temperature (" + el + ")"
		s.conv = convMilli
	case sensorType == "curr":
		s.name += "_amps"
		s.help = "Hardware monitor for current (" + element + ")"
		s.conv = convMilli
	case sensorType == "energy":
		s.name += "_joule_total"
		s.help = "Hardware monitor for joules used so far (" + element + ")"
		s.typ = collector.Counter
		s.conv = convMicro
	case sensorType == "power" && element == "accuracy":
		s.help = "Hardware monitor power meter accuracy, as a ratio"
		s.conv = convMicro
	case sensorType == "power" && (element == "average_interval" || element == "average_interval_min" || element == "average_interval_max"):
		s.name += "_seconds"
		s.help = "Hardware monitor power usage update interval (" + element + ")"
		s.conv = convMilli
	case sensorType == "power":
		s.name += "_watt"
		s.help = "Hardware monitor for power usage in watts (" + element + ")"
		s.conv = convMicro
	case sensorType == "humidity":
		s.help = "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (" + element + ")"
		s.conv = convMicro
	case sensorType == "fan" && (element == "input" || element == "min" || element == "max" || element == "target"):
		s.name += "_rpm"
		s.help = "Hardware monitor for fan revolutions per minute (" + element + ")"
	case sensorType == "freq" && element == "input":
		s.name += "_freq_mhz"
		s.help = "Hardware monitor for GPU frequency in MHz"
		s.conv = convMicro
		s.labelAsSensor = true
	default:
		s.help = "Hardware monitor " + sensorType + " element " + element
	}
	return s, true
}

// fastElement reports whether an attribute changes by itself and is read
// every tick (measured values, alarms, faults, fan targets and PWM duty
// cycles). The others (thresholds, hysteresis, offsets, types, settings)
// are cached and re-read every ThresholdInterval, since on some chips
// (NVMe) each threshold read costs an admin command to the device.
func fastElement(sensorType, element string) bool {
	switch sensorType {
	case "beep_enable", "vrm", "update_interval":
		return false
	}
	switch element {
	case "", "input", "average", "highest", "lowest", "input_highest", "input_lowest",
		"average_highest", "average_lowest", "fault", "alarm", "target":
		return true
	}
	return strings.HasSuffix(element, "_alarm")
}
