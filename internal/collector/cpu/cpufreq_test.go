package cpu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func TestCPUFreqCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), Config{}, "cpufreq"))
	want := "node_cpu_frequency_hertz(4) node_cpu_frequency_min_hertz(4) node_cpu_frequency_max_hertz(4) " +
		"node_cpu_scaling_frequency_hertz(4) node_cpu_scaling_frequency_min_hertz(4) " +
		"node_cpu_scaling_frequency_max_hertz(4) node_cpu_scaling_governor(8)"
	if got := names(fams); got != want {
		t.Fatalf("families = %s\nwant       %s", got, want)
	}
	checks := []struct {
		name, cpu string
		want      float64
	}{
		{"node_cpu_frequency_hertz", "0", 2894112000},
		{"node_cpu_frequency_hertz", "3", 3698551000},
		{"node_cpu_frequency_min_hertz", "1", 1.5e9},
		{"node_cpu_frequency_max_hertz", "2", 3.7e9},
		{"node_cpu_scaling_frequency_hertz", "1", 3011204000},
		{"node_cpu_scaling_frequency_min_hertz", "2", 1.5e9},
		{"node_cpu_scaling_frequency_max_hertz", "3", 3.7e9},
	}
	for _, ck := range checks {
		if got := value(t, fams, ck.name, "cpu", ck.cpu); got != ck.want {
			t.Errorf("%s{cpu=%s} = %v, want %v", ck.name, ck.cpu, got, ck.want)
		}
	}
	if got := value(t, fams, "node_cpu_scaling_governor", "cpu", "2", "governor", "performance"); got != 1 {
		t.Errorf("performance = %v, want 1", got)
	}
	if got := value(t, fams, "node_cpu_scaling_governor", "cpu", "2", "governor", "powersave"); got != 0 {
		t.Errorf("powersave = %v, want 0", got)
	}
	if h := family(fams, "node_cpu_scaling_frequency_hertz").Desc.Help; h != "Current scaled CPU thread frequency in hertz." {
		t.Errorf("help = %q", h)
	}
}

func TestCPUFreqCollectorVariant(t *testing.T) {
	// cpu0 has cpuinfo_avg_freq and four governors; cpu1 has only the
	// scaling attributes and no governor files.
	fams := collectOK(t, newByName(t, fixtureRoots("variant"), Config{}, "cpufreq"))
	want := "node_cpu_frequency_avg_hertz(1) node_cpu_frequency_min_hertz(1) node_cpu_frequency_max_hertz(1) " +
		"node_cpu_scaling_frequency_hertz(2) node_cpu_scaling_frequency_min_hertz(2) " +
		"node_cpu_scaling_frequency_max_hertz(2) node_cpu_scaling_governor(4)"
	if got := names(fams); got != want {
		t.Fatalf("families = %s\nwant       %s", got, want)
	}
	if got := value(t, fams, "node_cpu_frequency_avg_hertz", "cpu", "0"); got != 1.996e9 {
		t.Errorf("avg = %v", got)
	}
	f := family(fams, "node_cpu_scaling_governor")
	var active []string
	for i, s := range f.Samples {
		if s.Value == 1 {
			active = append(active, f.Label(i, "governor"))
		}
	}
	if len(active) != 1 || active[0] != "schedutil" {
		t.Errorf("active governors = %v, want [schedutil]", active)
	}
}

func TestCPUFreqCollectorSkipsOfflineCPUs(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("offline"), Config{}, "cpufreq"))
	if got, want := names(fams), "node_cpu_scaling_frequency_hertz(2)"; got != want {
		t.Fatalf("families = %s, want %s", got, want)
	}
	if got := value(t, fams, "node_cpu_scaling_frequency_hertz", "cpu", "1"); got != 2400001000 {
		t.Errorf("cpu1 = %v", got)
	}
}

func TestCPUFreqCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), Config{}, "cpufreq"))
	wantErr(t, err, `testdata/broken/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq:1: expected a frequency in kHz (line: "fast")`)

	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("none"), Config{}, "cpufreq"))
	wantNoData(t, err)
	wantErr(t, err, "testdata/none/sys/devices/system/cpu does not exist: no data on this machine")

	// CPUs but no cpufreq directories (a VM): no data.
	roots := fixtureRoots("host")
	roots.Sys = t.TempDir()
	if err := os.MkdirAll(filepath.Join(roots.Sys, "devices/system/cpu/cpu0"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = collector.CollectOnce(t.Context(), newByName(t, roots, Config{}, "cpufreq"))
	wantNoData(t, err)
}

func TestCPUFreqCollectorStopsAtDeadline(t *testing.T) {
	c := newByName(t, fixtureRoots("host"), Config{}, "cpufreq")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := collector.CollectOnce(ctx, c)
	wantErr(t, err, "cpufreq: stopped after 0 CPUs: context canceled")
}

func TestCPUFreqLive(t *testing.T) {
	roots := liveRoots(t, "sys", "devices/system/cpu/cpu0/cpufreq")
	fams := collectOK(t, newByName(t, roots, Config{}, "cpufreq"))
	f := family(fams, "node_cpu_scaling_frequency_hertz")
	if f == nil || len(f.Samples) == 0 {
		t.Fatalf("no scaling frequency: %s", names(fams))
	}
	for _, s := range f.Samples {
		if s.Value < 1e7 || s.Value > 1e11 {
			t.Errorf("cpu %s scaling frequency %v Hz is not plausible", s.LabelValues[0], s.Value)
		}
	}
}

func BenchmarkCollectCPUFreq(b *testing.B) {
	roots := benchRoots("sys", "devices/system/cpu/cpu0/cpufreq")
	benchCollect(b, newByName(b, roots, Config{}, "cpufreq"))
}

func TestCPUFreqCollectorSkipsCPUsWithoutCpufreq(t *testing.T) {
	roots := fixtureRoots("offline")
	probes := 0
	roots.Trace = func(p string) {
		if strings.Contains(p, "/cpu3/cpufreq/") {
			probes++
		}
	}
	c := newByName(t, roots, Config{}, "cpufreq")
	collectOK(t, c)
	first := probes
	if first == 0 {
		t.Fatal("cpu3 was never probed")
	}
	for i := 0; i < freqRecheck; i++ {
		collectOK(t, c)
	}
	if probes != first {
		t.Fatalf("cpu3 probed %d more times within %d collections", probes-first, freqRecheck)
	}
	collectOK(t, c)
	if probes != 2*first {
		t.Fatalf("cpu3 not probed again after %d collections", freqRecheck)
	}
}
