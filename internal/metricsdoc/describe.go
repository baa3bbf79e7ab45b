package metricsdoc

import (
	"regexp"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// describe turns an emitted descriptor into a documented row.
func describe(source string, d *collector.Desc) Metric {
	return Metric{
		Name:   d.Name,
		Type:   d.Type.String(),
		Unit:   Unit(d.Name, d.Help),
		Labels: append([]string(nil), d.LabelNames...),
		Source: source,
		Compat: Compat(d.Name),
		Help:   strings.Join(strings.Fields(d.Help), " "),
	}
}

// unixTime is the unit of timestamps.
const unixTime = "seconds (Unix time)"

// nameUnits maps base-unit suffixes (after _total is removed) to units,
// longest first.
var nameUnits = []struct{ suffix, unit string }{
	{"_bytes_per_second", "bytes/s"},
	{"_per_second", "per second"},
	{"_timestamp_seconds", unixTime},
	{"_start_time_seconds", unixTime},
	{"_end_time_seconds", unixTime},
	{"_boot_time_seconds", unixTime},
	{"_last_gc_time_seconds", unixTime},
	{"push_time_seconds", unixTime},
	{"push_failure_time_seconds", unixTime},
	{"node_time_seconds", unixTime},
	{"_seconds", "seconds"},
	{"_bytes", "bytes"},
	{"_celsius", "°C"},
	{"_watts", "watts"},
	{"_joules", "joules"},
	{"_hertz", "hertz"},
	{"_volts", "volts"},
	{"_amps", "amperes"},
	{"_rpm", "rpm"},
	{"_ratio", "ratio"},
	{"_percent", "percent"},
	{"_bits", "bits"},
}

// helpUnitRE finds dcgm-exporter's "(in MHz)" style units in help texts.
var helpUnitRE = regexp.MustCompile(`\(in ([^;,)]+)`)

// helpUnits maps the units help texts give to the names used on the page.
var helpUnits = map[string]string{"C": "°C", "%": "percent", "W": "watts", "KB/s": "KB/s", "MB/s": "MB/s"}

// Unit returns the unit of a family's value: from the name's base-unit
// suffix (Prometheus' naming convention; _total is removed first), else
// from the help text ("(in MHz)", "in bytes per second", "Ratio of",
// "in Celsius"); "" for counts, states and info series.
func Unit(name, help string) string {
	base := strings.TrimSuffix(name, "_total")
	for _, u := range nameUnits {
		if strings.HasSuffix(base, u.suffix) {
			return u.unit
		}
	}
	if m := helpUnitRE.FindStringSubmatch(help); m != nil {
		u := strings.TrimSpace(m[1])
		if v, ok := helpUnits[u]; ok {
			return v
		}
		return u
	}
	lower := strings.ToLower(help)
	switch {
	case strings.Contains(lower, "in bytes per second"):
		return "bytes/s"
	case strings.HasPrefix(lower, "ratio of") || strings.HasPrefix(lower, "the ratio of"):
		return "ratio"
	case strings.Contains(lower, "in celsius"):
		return "°C"
	}
	return ""
}

// Compat says which widely used exporter emits the same name, type and
// labels, by the name's family.
func Compat(name string) string {
	switch {
	case strings.HasPrefix(name, "node_"):
		return "node_exporter"
	case strings.HasPrefix(name, "DCGM_"):
		return "dcgm-exporter " + name
	case strings.HasPrefix(name, "namedprocess_"):
		return "process-exporter"
	case strings.HasPrefix(name, "process_"), strings.HasPrefix(name, "go_"):
		return "client_golang (every Go exporter)"
	case name == "push_time_seconds", name == "push_failure_time_seconds":
		return "Pushgateway"
	}
	return "trainwatch only"
}
