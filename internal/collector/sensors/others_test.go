package sensors

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "bad include", cfg: Config{ChipInclude: "core(temp"},
			want: "chip_include \"core(temp\" is not a valid regular expression (Go RE2 syntax): error parsing regexp: missing closing ): `core(temp`"},
		{name: "bad sensor exclude", cfg: Config{SensorExclude: "*"},
			want: "sensor_exclude \"*\" is not a valid regular expression (Go RE2 syntax): error parsing regexp: missing argument to repetition operator: `*`"},
		{name: "both", cfg: Config{ChipInclude: "a", ChipExclude: "b"},
			want: "chip_include and chip_exclude are mutually exclusive; set only one of them"},
		{name: "bad supply regexp", cfg: Config{PowerSupplyIgnored: "["},
			want: "powersupply_ignored_supplies_exclude \"[\" is not a valid regular expression (Go RE2 syntax): error parsing regexp: missing closing ]: `[`"},
		{name: "negative interval", cfg: Config{ThresholdInterval: -time.Second},
			want: "threshold_interval is -1s; it must be positive (for example 1m), or 0 for the default of 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(hostfs.Roots{}, tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	cs, err := New(fixtureRoots(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name())
	}
	if got := strings.Join(names, ","); got != "hwmon,thermal_zone,powersupplyclass,rapl" {
		t.Fatalf("collectors = %s", got)
	}
	o := mustOptions(t, Config{})
	if o.thresholdIntv != time.Minute || o.discoverIntv != time.Minute {
		t.Fatalf("default intervals = %s, %s; want 1m", o.thresholdIntv, o.discoverIntv)
	}
}

// TestNoData checks every collector's reason on a machine without the
// class directory, and with an empty one.
func TestNoData(t *testing.T) {
	tests := []struct {
		collector, class, missing, empty string
	}{
		{"thermal_zone", "thermal",
			"no thermal zones or cooling devices under SYS/class/thermal: the kernel exposes no thermal drivers (on a VM this is normal; on bare metal load e.g. x86_pkg_temp_thermal, intel_powerclamp or the ACPI thermal driver): no data on this machine",
			"no thermal zones or cooling devices under SYS/class/thermal: the kernel exposes no thermal drivers (on a VM this is normal; on bare metal load e.g. x86_pkg_temp_thermal, intel_powerclamp or the ACPI thermal driver): no data on this machine"},
		{"powersupplyclass", "power_supply",
			"no power supplies: SYS/class/power_supply does not exist (the kernel has no power_supply class): no data on this machine",
			"no power supplies under SYS/class/power_supply: the firmware shows the kernel no AC adapter, battery, UPS or PSU (normal on most servers and VMs): no data on this machine"},
		{"rapl", "powercap",
			"no RAPL energy counters under SYS/class/powercap: the CPU has no RAPL or the intel_rapl_msr driver is not loaded (VMs do not expose RAPL; on bare metal run modprobe intel_rapl_msr): no data on this machine",
			"no RAPL energy counters under SYS/class/powercap: the CPU has no RAPL or the intel_rapl_msr driver is not loaded (VMs do not expose RAPL; on bare metal run modprobe intel_rapl_msr): no data on this machine"},
	}
	for _, tt := range tests {
		for _, variant := range []string{"missing", "empty"} {
			t.Run(tt.collector+"/"+variant, func(t *testing.T) {
				sys := t.TempDir()
				want := tt.missing
				if variant == "empty" {
					want = tt.empty
					if err := os.MkdirAll(filepath.Join(sys, "class", tt.class), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				want = strings.ReplaceAll(want, "SYS", sys)
				cs, err := New(hostfs.Roots{Sys: sys}, Config{})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cs {
					if c.Name() != tt.collector {
						continue
					}
					_, err := collector.CollectOnce(context.Background(), c)
					if !errors.Is(err, collector.ErrNoData) || err.Error() != want {
						t.Fatalf("err = %v\nwant  %s", err, want)
					}
				}
			})
		}
	}
}

func TestThermalMalformed(t *testing.T) {
	roots := copyFixture(t)
	writeFile(t, filepath.Join(roots.Sys, "class", "thermal", "thermal_zone0", "temp"), "hot\n")
	c := newThermal(roots, mustOptions(t, Config{}))
	_, err := collector.CollectOnce(context.Background(), c)
	// The error names the file read: the zone's real directory.
	want := "thermal_zone: " + filepath.Join(roots.Sys, "devices", "virtual", "thermal", "thermal_zone0", "temp") + `:1: expected an integer (line: "hot")`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

func TestThermalUnreadableZoneSkipped(t *testing.T) {
	roots := copyFixture(t)
	if err := os.Remove(filepath.Join(roots.Sys, "class", "thermal", "thermal_zone0", "temp")); err != nil {
		t.Fatal(err)
	}
	out := collectText(t, newThermal(roots, mustOptions(t, Config{})))
	if strings.Contains(out, `zone="0"`) || !strings.Contains(out, `node_thermal_zone_temp{type="acpitz",zone="1"} 27.8`) {
		t.Fatalf("want zone 0 skipped and zone 1 kept:\n%s", out)
	}
}

func TestPowerSupplyIgnored(t *testing.T) {
	c := newPowerSupply(fixtureRoots(), mustOptions(t, Config{PowerSupplyIgnored: "^BAT"}))
	out := collectText(t, c)
	if strings.Contains(out, "BAT0") || !strings.Contains(out, `node_power_supply_online{power_supply="AC"} 1`) {
		t.Fatalf("want BAT0 ignored and AC kept:\n%s", out)
	}
	c = newPowerSupply(fixtureRoots(), mustOptions(t, Config{PowerSupplyIgnored: "."}))
	_, err := collector.CollectOnce(context.Background(), c)
	want := `powersupplyclass: all 2 power supplies under testdata/sys/class/power_supply are ignored by powersupply_ignored_supplies_exclude ".": no data on this machine`
	if !errors.Is(err, collector.ErrNoData) || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

func TestPowerSupplyMalformed(t *testing.T) {
	roots := copyFixture(t)
	path := filepath.Join(roots.Sys, "class", "power_supply", "AC", "online")
	writeFile(t, path, "yes\n")
	_, err := collector.CollectOnce(context.Background(), newPowerSupply(roots, mustOptions(t, Config{})))
	want := "powersupplyclass: " + filepath.Join(roots.Sys, "devices", "platform", "ACPI0003_00", "power_supply", "AC", "online") +
		`:1: expected an integer (line: "yes")`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

// TestPowerSupplyInfoChanges checks that a changed status gives a new info
// series and leaves the samples already emitted alone.
func TestPowerSupplyInfoChanges(t *testing.T) {
	roots := copyFixture(t)
	c := newPowerSupply(roots, mustOptions(t, Config{}))
	first, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(roots.Sys, "class", "power_supply", "BAT0", "status"), "Charging\n")
	second := collectText(t, c)
	if !strings.Contains(second, `status="Charging"`) {
		t.Fatalf("the new status is missing:\n%s", second)
	}
	for _, f := range first {
		if f.Desc.Name != "node_power_supply_info" {
			continue
		}
		for i := range f.Samples {
			if s := f.Label(i, "status"); s == "Charging" {
				t.Fatal("a sample of the first tick changed")
			}
		}
	}
}

func TestParseInt64(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"12100000", 12100000, true},
		{"-1", -1, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"1.5", 0, false},
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt64([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInt64(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRaplIndexAndName(t *testing.T) {
	uses := map[string]int{}
	tests := []struct {
		in        string
		wantIndex int
		wantName  string
	}{
		{"package-0", 0, "package"},
		{"core", 0, "core"},
		{"dram", 0, "dram"},
		{"package-1", 1, "package"},
		{"core", 1, "core"},
		{"psys", 0, "psys"},
		{"package-x", 0, "package-x"},
		{"a-b-1", 0, "a-b-1"},
	}
	for _, tt := range tests {
		i, n := raplIndexAndName(uses, tt.in)
		uses[n] = i + 1
		if i != tt.wantIndex || n != tt.wantName {
			t.Errorf("raplIndexAndName(%q) = %d, %q; want %d, %q", tt.in, i, n, tt.wantIndex, tt.wantName)
		}
	}
}

func TestSanitizeMetricName(t *testing.T) {
	re := regexp.MustCompile(`_*[^0-9A-Za-z_]+_*`)
	tests := []struct{ in, want string }{
		{"package", "package"},
		{"package-0", "package_0"},
		{"a__-__b", "a_b"},
		{"a-_-b", "a__b"},
		{"x.y.z", "x_y_z"},
		{"__ok__", "__ok__"},
		{"émoji", "_moji"},
		{"-", "_"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := sanitizeMetricName(tt.in); got != tt.want {
			t.Errorf("sanitizeMetricName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if ref := re.ReplaceAllString(tt.in, "_"); ref != tt.want {
			t.Errorf("node_exporter's SanitizeMetricName(%q) = %q; the test expects %q", tt.in, ref, tt.want)
		}
	}
}

func TestNumbered(t *testing.T) {
	tests := []struct {
		in, prefix, want string
		ok               bool
	}{
		{"thermal_zone0", "thermal_zone", "0", true},
		{"thermal_zone12", "thermal_zone", "12", true},
		{"thermal_zone", "thermal_zone", "", false},
		{"thermal_zonex", "thermal_zone", "", false},
		{"cooling_device3", "thermal_zone", "", false},
	}
	for _, tt := range tests {
		got, ok := numbered(tt.in, tt.prefix)
		if got != tt.want || ok != tt.ok {
			t.Errorf("numbered(%q, %q) = %q, %v; want %q, %v", tt.in, tt.prefix, got, ok, tt.want, tt.ok)
		}
	}
	names := []string{"thermal_zone10", "cooling_device1", "thermal_zone2", "thermal_zone1", "cooling_device0"}
	sortNumbered(names)
	if got := strings.Join(names, " "); got != "cooling_device0 cooling_device1 thermal_zone1 thermal_zone2 thermal_zone10" {
		t.Fatalf("sortNumbered = %s", got)
	}
}

// TestRaplRealNames runs over a tree with the kernel's real zone names
// (with ':', which the committed fixtures cannot hold).
func TestRaplRealNames(t *testing.T) {
	sys := t.TempDir()
	for _, z := range []struct{ dir, name, energy string }{
		{"intel-rapl:0", "package-0", "1000000"},
		{"intel-rapl:0:0", "core", "2500000"},
		{"intel-rapl:1", "package-1", "3000000"},
	} {
		dir := filepath.Join(sys, "class", "powercap", z.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "name"), z.name+"\n")
		writeFile(t, filepath.Join(dir, "energy_uj"), z.energy+"\n")
		writeFile(t, filepath.Join(dir, "max_energy_range_uj"), "262143328850\n")
	}
	if err := os.MkdirAll(filepath.Join(sys, "class", "powercap", "intel-rapl"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, `# HELP node_rapl_core_joules_total Current RAPL core value in joules
# TYPE node_rapl_core_joules_total counter
node_rapl_core_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0:0"} 2.5
# HELP node_rapl_package_joules_total Current RAPL package value in joules
# TYPE node_rapl_package_joules_total counter
node_rapl_package_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0"} 1
node_rapl_package_joules_total{index="1",path="/sys/class/powercap/intel-rapl:1"} 3
`},
		{Config{RaplZoneLabel: true}, `# HELP node_rapl_joules_total Current RAPL value in joules
# TYPE node_rapl_joules_total counter
node_rapl_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0",rapl_zone="package"} 1
node_rapl_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0:0",rapl_zone="core"} 2.5
node_rapl_joules_total{index="1",path="/sys/class/powercap/intel-rapl:1",rapl_zone="package"} 3
`},
	} {
		got := collectText(t, newRapl(hostfs.Roots{Sys: sys}, mustOptions(t, tt.cfg)))
		if got != tt.want {
			t.Errorf("RaplZoneLabel=%v:\n%s\nwant:\n%s", tt.cfg.RaplZoneLabel, got, tt.want)
		}
	}
}

func TestRaplNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file; the permission case needs an unprivileged user")
	}
	roots := copyFixture(t)
	path := filepath.Join(roots.Sys, "class", "powercap", "intel-rapl_0", "energy_uj")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := collector.CollectOnce(context.Background(), newRapl(roots, mustOptions(t, Config{})))
	if !errors.Is(err, collector.ErrNoData) || !strings.Contains(err.Error(), "readable only by root") {
		t.Fatalf("err = %v, want ErrNoData saying the counters are root-only", err)
	}
}
