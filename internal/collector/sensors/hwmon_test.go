package sensors

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestHwmonNoData(t *testing.T) {
	missing := t.TempDir()
	empty := t.TempDir()
	if err := os.MkdirAll(filepath.Join(empty, "class", "hwmon"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, sys := range map[string]string{"missing": missing, "empty": empty} {
		t.Run(name, func(t *testing.T) {
			c := newHwmon(hostfs.Roots{Sys: sys}, mustOptions(t, Config{}))
			_, err := collector.CollectOnce(context.Background(), c)
			if !errors.Is(err, collector.ErrNoData) {
				t.Fatalf("err = %v, want ErrNoData", err)
			}
			want := "no hwmon chips under " + filepath.Join(sys, "class", "hwmon") +
				": the kernel exposes no sensor drivers (on a VM this is normal; on bare metal load the drivers, " +
				"e.g. coretemp, k10temp, nct6775, and run sensors-detect from lm-sensors to find the others): no data on this machine"
			if err.Error() != want {
				t.Fatalf("err = %q\nwant  %q", err, want)
			}
		})
	}
}

func TestHwmonChipFilter(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantChips []string
		wantErr   string
	}{
		{name: "include", cfg: Config{ChipInclude: "coretemp|nvme"}, wantChips: []string{"nvme_nvme0", "platform_coretemp_0"}},
		{name: "exclude", cfg: Config{ChipExclude: "^(i2c|pci|hwmon|thermal)"}, wantChips: []string{"nvme_nvme0", "platform_coretemp_0", "platform_nct6775_656"}},
		{name: "exclude all", cfg: Config{ChipExclude: "."},
			wantErr: `hwmon: all 9 chips under testdata/sys/class/hwmon are excluded by chip_exclude ".": no data on this machine`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newHwmon(fixtureRoots(), mustOptions(t, tt.cfg))
			fams, err := collector.CollectOnce(context.Background(), c)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, collector.ErrNoData) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, f := range fams {
				for i := range f.Samples {
					got[f.Label(i, "chip")] = true
				}
			}
			if len(got) != len(tt.wantChips) {
				t.Fatalf("chips = %v, want %v", got, tt.wantChips)
			}
			for _, ch := range tt.wantChips {
				if !got[ch] {
					t.Fatalf("chips = %v, want %v", got, tt.wantChips)
				}
			}
		})
	}
}

func TestHwmonSensorFilter(t *testing.T) {
	c := newHwmon(fixtureRoots(), mustOptions(t, Config{SensorExclude: `^platform_coretemp_0;temp[23]$|^nvme_nvme0;temp[23]$`}))
	out := collectText(t, c)
	for _, gone := range []string{`chip="platform_coretemp_0",sensor="temp2"`, `chip="nvme_nvme0",sensor="temp3"`, `label="Core 0"`} {
		if strings.Contains(out, gone) {
			t.Errorf("output has %s, which the sensor filter excludes", gone)
		}
	}
	for _, kept := range []string{`node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} 45`, `node_hwmon_temp_celsius{chip="nvme_nvme0",sensor="temp1"} 37.85`} {
		if !strings.Contains(out, kept) {
			t.Errorf("output lacks %s", kept)
		}
	}
}

// TestHwmonThresholdCache checks that thresholds and labels are read at
// discovery and then only every ThresholdInterval, while inputs are read
// every tick.
func TestHwmonThresholdCache(t *testing.T) {
	roots := copyFixture(t)
	counter := &traceCounter{suffixes: []string{"_max", "_min", "_crit", "_crit_hyst", "_label"}}
	roots.Trace = counter.trace
	clk := newFakeClock()
	c := newHwmon(roots, mustOptions(t, Config{ThresholdInterval: 30 * time.Second, DiscoveryInterval: time.Hour}))
	c.now = clk.now
	nvme := filepath.Join(roots.Sys, "class", "hwmon", "hwmon2")

	out := collectText(t, c)
	if counter.n == 0 {
		t.Fatal("the first tick read no thresholds or labels")
	}
	if !strings.Contains(out, `node_hwmon_temp_max_celsius{chip="nvme_nvme0",sensor="temp1"} 82.85000000000001`) {
		t.Fatalf("no NVMe threshold in the first tick:\n%s", out)
	}

	writeFile(t, filepath.Join(nvme, "temp1_input"), "40850\n")
	writeFile(t, filepath.Join(nvme, "temp1_max"), "90850\n")
	writeFile(t, filepath.Join(nvme, "temp1_label"), "Drive\n")
	counter.n = 0
	clk.advance(10 * time.Second)
	out = collectText(t, c)
	if counter.n != 0 {
		t.Fatalf("a tick within ThresholdInterval read %d threshold or label files", counter.n)
	}
	for _, want := range []string{
		`node_hwmon_temp_celsius{chip="nvme_nvme0",sensor="temp1"} 40.85`,                 // input: fresh
		`node_hwmon_temp_max_celsius{chip="nvme_nvme0",sensor="temp1"} 82.85000000000001`, // threshold: cached
		`node_hwmon_sensor_label{chip="nvme_nvme0",label="Composite",sensor="temp1"} 1`,   // label: cached
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second tick lacks %s", want)
		}
	}

	clk.advance(30 * time.Second)
	out = collectText(t, c)
	if counter.n == 0 {
		t.Fatal("no threshold was read after ThresholdInterval")
	}
	for _, want := range []string{
		`node_hwmon_temp_max_celsius{chip="nvme_nvme0",sensor="temp1"} 90.85000000000001`,
		`node_hwmon_sensor_label{chip="nvme_nvme0",label="Drive",sensor="temp1"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tick after ThresholdInterval lacks %s:\n%s", want, out)
		}
	}
}

// TestHwmonRediscovery checks that chips are listed again only every
// DiscoveryInterval, and that rediscovery keeps cached thresholds.
func TestHwmonRediscovery(t *testing.T) {
	roots := copyFixture(t)
	counter := &traceCounter{suffixes: []string{"_max", "_min", "_crit", "_crit_hyst"}}
	roots.Trace = counter.trace
	clk := newFakeClock()
	c := newHwmon(roots, mustOptions(t, Config{ThresholdInterval: time.Hour, DiscoveryInterval: time.Minute}))
	c.now = clk.now
	collectText(t, c)

	// A new driver loads: hwmon9, with a name only.
	dir := filepath.Join(roots.Sys, "devices", "virtual", "hwmon", "hwmon9")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "name"), "drivetemp\n")
	writeFile(t, filepath.Join(dir, "temp1_input"), "33000\n")
	writeFile(t, filepath.Join(dir, "temp1_crit"), "60000\n")
	if err := os.Symlink("../../devices/virtual/hwmon/hwmon9", filepath.Join(roots.Sys, "class", "hwmon", "hwmon9")); err != nil {
		t.Fatal(err)
	}

	clk.advance(30 * time.Second)
	if out := collectText(t, c); strings.Contains(out, "drivetemp") {
		t.Fatal("a chip appeared before DiscoveryInterval")
	}
	counter.n = 0
	clk.advance(30 * time.Second)
	out := collectText(t, c)
	for _, want := range []string{
		`node_hwmon_chip_names{chip="drivetemp",chip_name="drivetemp"} 1`,
		`node_hwmon_temp_celsius{chip="drivetemp",sensor="temp1"} 33`,
		`node_hwmon_temp_crit_celsius{chip="drivetemp",sensor="temp1"} 60`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("after DiscoveryInterval the output lacks %s", want)
		}
	}
	if counter.n != 1 {
		t.Errorf("rediscovery read %d thresholds; want 1 (the new chip's), the others cached", counter.n)
	}
}

// TestHwmonUnreadable checks that a sensor that cannot be read now is
// skipped and comes back, as in node_exporter.
func TestHwmonUnreadable(t *testing.T) {
	roots := copyFixture(t)
	c := newHwmon(roots, mustOptions(t, Config{}))
	input := filepath.Join(roots.Sys, "class", "hwmon", "hwmon1", "temp2_input")
	writeFile(t, input, "garbage\n")
	if out := collectText(t, c); strings.Contains(out, `node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp2"}`) {
		t.Fatal("a malformed input was emitted")
	}
	writeFile(t, input, "42000\n")
	if out := collectText(t, c); !strings.Contains(out, `node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp2"} 42`) {
		t.Fatal("the input did not come back")
	}
}

// TestHwmonDuplicateChip checks that two hwmon directories of one device
// do not produce duplicate series.
func TestHwmonDuplicateChip(t *testing.T) {
	roots := copyFixture(t)
	dev := filepath.Join(roots.Sys, "devices", "platform", "coretemp.0", "hwmon", "hwmon9")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dev, "name"), "coretemp\n")
	writeFile(t, filepath.Join(dev, "temp1_input"), "99000\n")
	writeFile(t, filepath.Join(dev, "temp9_input"), "50000\n")
	if err := os.Symlink("../../../coretemp.0", filepath.Join(dev, "device")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../devices/platform/coretemp.0/hwmon/hwmon9", filepath.Join(roots.Sys, "class", "hwmon", "hwmon9")); err != nil {
		t.Fatal(err)
	}
	out := collectText(t, newHwmon(roots, mustOptions(t, Config{})))
	if n := strings.Count(out, `node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"}`); n != 1 {
		t.Fatalf("temp1 of platform_coretemp_0 appears %d times, want 1", n)
	}
	if !strings.Contains(out, `node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} 45`) {
		t.Fatal("the first directory's temp1 was not kept")
	}
	if !strings.Contains(out, `node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp9"} 50`) {
		t.Fatal("the second directory's other sensor was dropped")
	}
}
