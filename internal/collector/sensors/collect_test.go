package sensors

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// TestCollectFixture checks every collector's full output over the fixture
// tree against testdata/golden/<collector>.txt.
func TestCollectFixture(t *testing.T) {
	cs, err := New(fixtureRoots(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		t.Run(c.Name(), func(t *testing.T) {
			checkGolden(t, c.Name(), collectText(t, c))
		})
	}
}

// TestGoldenTreeCoversDashboard checks that the fixtures this package adds
// to the project-wide golden tree (../host/testdata/root/sys) give every
// name of Grafana dashboard 1860 that these collectors own.
func TestGoldenTreeCoversDashboard(t *testing.T) {
	cs, err := New(hostfs.Roots{Sys: filepath.Join("..", "host", "testdata", "root", "sys")}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, c := range cs {
		out.WriteString(collectText(t, c))
	}
	for _, name := range []string{
		"node_cooling_device_cur_state", "node_cooling_device_max_state",
		"node_hwmon_chip_names", "node_hwmon_fan_min_rpm", "node_hwmon_fan_rpm",
		"node_hwmon_temp_celsius", "node_hwmon_temp_crit_alarm_celsius", "node_hwmon_temp_crit_celsius",
		"node_hwmon_temp_crit_hyst_celsius", "node_hwmon_temp_max_celsius", "node_power_supply_online",
	} {
		if !strings.Contains(out.String(), "\n"+name+"{") {
			t.Errorf("the golden tree gives no %s", name)
		}
	}
}
