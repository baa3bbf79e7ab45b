package sensors

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func TestParseSensorFilename(t *testing.T) {
	tests := []struct {
		in   string
		typ  string
		num  int
		prop string
		ok   bool
	}{
		{in: "temp1_input", typ: "temp", num: 1, prop: "input", ok: true},
		{in: "temp1_crit_alarm", typ: "temp", num: 1, prop: "crit_alarm", ok: true},
		{in: "temp12_max_hyst", typ: "temp", num: 12, prop: "max_hyst", ok: true},
		{in: "in0_input", typ: "in", num: 0, prop: "input", ok: true},
		{in: "pwm2", typ: "pwm", num: 2, ok: true},
		{in: "fan1_input", typ: "fan", num: 1, prop: "input", ok: true},
		{in: "intrusion0_alarm", typ: "intrusion", num: 0, prop: "alarm", ok: true},
		{in: "power1_average_interval", typ: "power", num: 1, prop: "average_interval", ok: true},
		{in: "temp01_input", typ: "temp", num: 1, prop: "input", ok: true},
		{in: "beep_enable", typ: "beep_enable", ok: true},
		{in: "update_interval", typ: "update_interval", ok: true},
		{in: "name", typ: "name", ok: true},
		{in: "power", typ: "power", ok: true},
		{in: "power_state", typ: "power_state", ok: true},
		{in: "current_link_speed", typ: "current_link_speed", ok: true},
		// The number must end the name or be followed by "_" and more.
		{in: "d3cold_allowed", ok: false},
		{in: "temp1_", ok: false},
		{in: "temp1x", ok: false},
		{in: "1temp", ok: false},
		{in: "", ok: false},
		// When the longest type fails, a shorter one followed by "_" wins.
		{in: "fan_x3y", typ: "fan", prop: "x3y", ok: true},
		{in: "a_b_1x", typ: "a_b", prop: "1x", ok: true},
		{in: "temp_1", typ: "temp_", num: 1, ok: true},
		// An id too large for an int.
		{in: "temp99999999999999999999_input", ok: false},
	}
	for _, tt := range tests {
		typ, num, prop, ok := parseSensorFilename(tt.in)
		if typ != tt.typ || num != tt.num || prop != tt.prop || ok != tt.ok {
			t.Errorf("parseSensorFilename(%q) = %q, %d, %q, %v; want %q, %d, %q, %v",
				tt.in, typ, num, prop, ok, tt.typ, tt.num, tt.prop, tt.ok)
		}
	}
}

// TestParseSensorFilenameMatchesRegexp checks the parser against
// node_exporter's expression on every short name over a small alphabet.
func TestParseSensorFilenameMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$`)
	alphabet := []string{"a", "_", "1", "0", "t"}
	var names []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		names = append(names, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+c, n-1)
		}
	}
	gen("", 6)
	for _, n := range names {
		var want struct {
			typ, prop string
			num       int
			ok        bool
		}
		if m := re.FindStringSubmatch(n); m != nil {
			want.ok, want.typ, want.prop = true, m[1], m[4]
			if m[2] != "" {
				v, err := strconv.Atoi(m[2])
				want.num, want.ok = v, err == nil
			}
			if !want.ok {
				want.typ, want.prop, want.num = "", "", 0
			}
		}
		typ, num, prop, ok := parseSensorFilename(n)
		if typ != want.typ || num != want.num || prop != want.prop || ok != want.ok {
			t.Errorf("parseSensorFilename(%q) = %q, %d, %q, %v; the expression gives %q, %d, %q, %v",
				n, typ, num, prop, ok, want.typ, want.num, want.prop, want.ok)
		}
	}
}

func TestCleanName(t *testing.T) {
	re := regexp.MustCompile("[^a-z0-9:_]")
	reference := func(s string) string {
		return strings.Trim(re.ReplaceAllLiteralString(strings.ToLower(s), "_"), "_")
	}
	tests := []struct{ in, want string }{
		{"coretemp\n", "coretemp"},
		{"Package id 0", "package_id_0"},
		{"coretemp.0", "coretemp_0"},
		{"0000:00:18.3", "0000:00:18_3"},
		{"pci0000:00", "pci0000:00"},
		{"ucsi-source-psy-USBC000:001", "ucsi_source_psy_usbc000:001"},
		{"__x__", "x"},
		{"Température", "temp_rature"},
		{"a\xffb", "a_b"},
		{"", ""},
		{"...", ""},
	}
	for _, tt := range tests {
		if got := cleanName(tt.in); got != tt.want {
			t.Errorf("cleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if ref := reference(tt.in); ref != tt.want {
			t.Errorf("node_exporter's cleanMetricName(%q) = %q; the test expects %q", tt.in, ref, tt.want)
		}
	}
}

func TestChipLabel(t *testing.T) {
	tests := []struct {
		name                       string
		devicePath, nameFile, real string
		want                       string
		wantErr                    bool
	}{
		{name: "platform device", devicePath: "/sys/devices/platform/coretemp.0", nameFile: "coretemp\n", want: "platform_coretemp_0"},
		{name: "pci device keeps colons", devicePath: "/sys/devices/pci0000:00/0000:00:18.3", nameFile: "k10temp\n", want: "pci0000:00_0000:00:18_3"},
		{name: "nvme controller", devicePath: "/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0", want: "nvme_nvme0"},
		{name: "thermal zone", devicePath: "/sys/devices/virtual/thermal/thermal_zone0", nameFile: "acpitz\n", want: "thermal_thermal_zone0"},
		{name: "i2c device", devicePath: "/sys/devices/platform/i2c_designware.0/i2c-1/1-0040", want: "i2c_1_1_0040"},
		{name: "relative fixture path", devicePath: "testdata/sys/devices/platform/nct6775.656", want: "platform_nct6775_656"},
		{name: "device at the root", devicePath: "/nct6775.656", want: "nct6775_656"},
		{name: "parent cleans to nothing", devicePath: "/sys/devices/.../dev0", want: "dev0"},
		{name: "device cleans to nothing, name used", devicePath: "/sys/devices/platform/...", nameFile: "dell_smm\n", want: "dell_smm"},
		{name: "no device, name file", nameFile: "Dell-SMM\n", want: "dell_smm"},
		{name: "no device, empty name, directory", nameFile: "\n", real: "/sys/devices/virtual/hwmon/hwmon4", want: "hwmon4"},
		{name: "nothing usable", nameFile: "", real: "/", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chipLabel(tt.devicePath, tt.nameFile, tt.real)
			if tt.wantErr {
				if err == nil || err.Error() != "no device link, name file or usable directory name to derive a chip label from" {
					t.Fatalf("chipLabel = %q, %v; want errNoChipLabel", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("chipLabel = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestHwmonAttrSpec(t *testing.T) {
	g, c := collector.Gauge, collector.Counter
	tests := []struct {
		typ, el string
		bare    bool
		want    attrSpec
		ok      bool
	}{
		{"temp", "input", false, attrSpec{"node_hwmon_temp_celsius", "Hardware monitor for temperature (input)", g, convMilli, false}, true},
		{"temp", "", false, attrSpec{"node_hwmon_temp_celsius", "Hardware monitor for temperature (input)", g, convMilli, false}, true},
		{"temp", "input", true, attrSpec{"node_hwmon_temp_input_celsius", "Hardware monitor for temperature (input)", g, convMilli, false}, true},
		{"temp", "max", false, attrSpec{"node_hwmon_temp_max_celsius", "Hardware monitor for temperature (max)", g, convMilli, false}, true},
		{"temp", "crit", false, attrSpec{"node_hwmon_temp_crit_celsius", "Hardware monitor for temperature (crit)", g, convMilli, false}, true},
		{"temp", "crit_alarm", false, attrSpec{"node_hwmon_temp_crit_alarm_celsius", "Hardware monitor for temperature (crit_alarm)", g, convMilli, false}, true},
		{"temp", "crit_hyst", false, attrSpec{"node_hwmon_temp_crit_hyst_celsius", "Hardware monitor for temperature (crit_hyst)", g, convMilli, false}, true},
		{"temp", "alarm", false, attrSpec{"node_hwmon_temp_alarm", "Hardware sensor alarm status (temp)", g, convRaw, false}, true},
		{"temp", "fault", false, attrSpec{"node_hwmon_temp_fault", "Hardware sensor fault status (temp)", g, convRaw, false}, true},
		{"temp", "beep", false, attrSpec{"node_hwmon_temp_beep_enabled", "Hardware monitor sensor has beeping enabled", g, convRaw, false}, true},
		{"temp", "type", false, attrSpec{"node_hwmon_temp_type", "Hardware monitor temp element type", g, convRaw, false}, true},
		{"temp", "label", false, attrSpec{}, false},
		{"in", "input", false, attrSpec{"node_hwmon_in_volts", "Hardware monitor for voltage (input)", g, convMilli, false}, true},
		{"in", "min", false, attrSpec{"node_hwmon_in_min_volts", "Hardware monitor for voltage (min)", g, convMilli, false}, true},
		{"cpu", "vid", false, attrSpec{"node_hwmon_cpu_vid_volts", "Hardware monitor for voltage (vid)", g, convMilli, false}, true},
		{"curr", "input", false, attrSpec{"node_hwmon_curr_amps", "Hardware monitor for current (input)", g, convMilli, false}, true},
		{"curr", "max", false, attrSpec{"node_hwmon_curr_max_amps", "Hardware monitor for current (max)", g, convMilli, false}, true},
		{"energy", "input", false, attrSpec{"node_hwmon_energy_joule_total", "Hardware monitor for joules used so far (input)", c, convMicro, false}, true},
		{"power", "average", false, attrSpec{"node_hwmon_power_average_watt", "Hardware monitor for power usage in watts (average)", g, convMicro, false}, true},
		{"power", "input", false, attrSpec{"node_hwmon_power_watt", "Hardware monitor for power usage in watts (input)", g, convMicro, false}, true},
		{"power", "accuracy", false, attrSpec{"node_hwmon_power_accuracy", "Hardware monitor power meter accuracy, as a ratio", g, convMicro, false}, true},
		{"power", "average_interval", false, attrSpec{"node_hwmon_power_average_interval_seconds", "Hardware monitor power usage update interval (average_interval)", g, convMilli, false}, true},
		{"power", "average_interval_max", false, attrSpec{"node_hwmon_power_average_interval_max_seconds", "Hardware monitor power usage update interval (average_interval_max)", g, convMilli, false}, true},
		{"humidity", "input", false, attrSpec{"node_hwmon_humidity", "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (input)", g, convMicro, false}, true},
		{"fan", "input", false, attrSpec{"node_hwmon_fan_rpm", "Hardware monitor for fan revolutions per minute (input)", g, convRaw, false}, true},
		{"fan", "min", false, attrSpec{"node_hwmon_fan_min_rpm", "Hardware monitor for fan revolutions per minute (min)", g, convRaw, false}, true},
		{"fan", "target", false, attrSpec{"node_hwmon_fan_target_rpm", "Hardware monitor for fan revolutions per minute (target)", g, convRaw, false}, true},
		{"fan", "alarm", false, attrSpec{"node_hwmon_fan_alarm", "Hardware sensor alarm status (fan)", g, convRaw, false}, true},
		{"fan", "pulses", false, attrSpec{"node_hwmon_fan_pulses", "Hardware monitor fan element pulses", g, convRaw, false}, true},
		{"pwm", "", false, attrSpec{"node_hwmon_pwm", "Hardware monitor pwm element ", g, convRaw, false}, true},
		{"pwm", "enable", false, attrSpec{"node_hwmon_pwm_enable", "Hardware monitor pwm element enable", g, convRaw, false}, true},
		{"intrusion", "alarm", false, attrSpec{"node_hwmon_intrusion_alarm", "Hardware sensor alarm status (intrusion)", g, convRaw, false}, true},
		{"freq", "input", false, attrSpec{"node_hwmon_freq_freq_mhz", "Hardware monitor for GPU frequency in MHz", g, convMicro, true}, true},
		{"beep_enable", "", false, attrSpec{"node_hwmon_beep_enabled", "Hardware beep enabled", g, convIsOne, false}, true},
		{"beep_enable", "x", false, attrSpec{"node_hwmon_beep_enabled", "Hardware beep enabled", g, convIsOne, false}, false},
		{"vrm", "", false, attrSpec{"node_hwmon_voltage_regulator_version", "Hardware voltage regulator", g, convRaw, false}, true},
		{"update_interval", "", false, attrSpec{"node_hwmon_update_interval_seconds", "Hardware monitor update interval", g, convMilli, false}, true},
		{"temp", "Odd-Element", false, attrSpec{"node_hwmon_temp_odd_element_celsius", "Hardware monitor for temperature (Odd-Element)", g, convMilli, false}, true},
	}
	for _, tt := range tests {
		got, ok := hwmonAttrSpec(tt.typ, tt.el, tt.bare)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("hwmonAttrSpec(%q, %q, %v) = %+v, %v; want %+v, %v", tt.typ, tt.el, tt.bare, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFastElement(t *testing.T) {
	tests := []struct {
		typ, el string
		want    bool
	}{
		{"temp", "input", true},
		{"temp", "", true},
		{"temp", "alarm", true},
		{"temp", "crit_alarm", true},
		{"temp", "fault", true},
		{"power", "average", true},
		{"power", "input_highest", true},
		{"fan", "target", true},
		{"pwm", "", true},
		{"temp", "max", false},
		{"temp", "min", false},
		{"temp", "crit", false},
		{"temp", "crit_hyst", false},
		{"temp", "type", false},
		{"temp", "offset", false},
		{"fan", "min", false},
		{"fan", "pulses", false},
		{"pwm", "enable", false},
		{"power", "cap", false},
		{"beep_enable", "", false},
		{"update_interval", "", false},
		{"vrm", "", false},
	}
	for _, tt := range tests {
		if got := fastElement(tt.typ, tt.el); got != tt.want {
			t.Errorf("fastElement(%q, %q) = %v, want %v", tt.typ, tt.el, got, tt.want)
		}
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		cv     conv
		in     string
		want   float64
		wantOK bool
	}{
		{convMilli, "84850\n", 84.85000000000001, true}, // as node_exporter: 84850 * 0.001
		{convMilli, "-5150\n", -5.15, true},
		{convMicro, "30112500\n", 30.1125, true},
		{convRaw, "1250\n", 1250, true},
		{convRaw, "1.5\n", 1.5, true},
		{convIsOne, "1\n", 1, true},
		{convIsOne, "0\n", 0, true},
		{convIsOne, "yes\n", 0, true},
		{convRaw, " 12\n", 0, false}, // node_exporter trims only newlines
		{convRaw, "\n", 0, false},
		{convRaw, "N/A\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := convert(tt.cv, []byte(tt.in))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("convert(%d, %q) = %v, %v; want %v, %v", tt.cv, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
