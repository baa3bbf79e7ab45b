package cpu

import (
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func TestStatCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), Config{}, "stat"))
	want := []struct {
		name string
		typ  string
		v    float64
	}{
		{"node_intr_total", "counter", 1284306143},
		{"node_context_switches_total", "counter", 2345678901},
		{"node_forks_total", "counter", 4587312},
		{"node_boot_time_seconds", "gauge", 1767225600},
		{"node_procs_running", "gauge", 3},
		{"node_procs_blocked", "gauge", 1},
	}
	if len(fams) != len(want) {
		t.Fatalf("families = %s", names(fams))
	}
	for i, w := range want {
		f := fams[i]
		if f.Desc.Name != w.name || f.Desc.Type.String() != w.typ || len(f.Samples) != 1 || f.Samples[0].Value != w.v {
			t.Errorf("family %d = %s %s %+v, want %s %s %v", i, f.Desc.Name, f.Desc.Type, f.Samples, w.name, w.typ, w.v)
		}
	}
}

func TestStatCollectorPartialFile(t *testing.T) {
	// The offline fixture's /proc/stat has CPU lines only.
	fams := collectOK(t, newByName(t, fixtureRoots("offline"), Config{}, "stat"))
	if len(fams) != 0 {
		t.Fatalf("families = %s, want none", names(fams))
	}
}

func TestStatCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), Config{}, "stat"))
	wantErr(t, err, `testdata/broken/proc/stat:2: cpu0 column 2: "x" is not an unsigned integer (line: "cpu0 1 x 3 4")`)
}
