package cpu

import (
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector/collectortest"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func TestParseLoadavg(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    [3]float64
		wantErr string
	}{
		{name: "normal", in: "0.52 0.58 0.59 1/351 12345\n", want: [3]float64{0.52, 0.58, 0.59}},
		{name: "integers", in: "1 2 3 1/1 1", want: [3]float64{1, 2, 3}},
		{name: "empty", in: "", wantErr: "/proc/loadavg:1: empty file; expected three load averages (line: \"\")"},
		{name: "short", in: "0.1 0.2\n", wantErr: "/proc/loadavg:1: expected at least 3 fields, got 2 (line: \"0.1 0.2\")"},
		{name: "garbage", in: "0.1 x 0.3 1/1 1\n", wantErr: "/proc/loadavg:1: field 2: \"x\" is not a number (line: \"0.1 x 0.3 1/1 1\")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLoadavg("/proc/loadavg", []byte(tt.in))
			if tt.wantErr != "" {
				collectortest.WantParseError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadavgCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), Config{}, "loadavg"))
	want := []struct {
		name string
		v    float64
	}{{"node_load1", 3.84}, {"node_load5", 3.52}, {"node_load15", 3.31}}
	if len(fams) != 3 {
		t.Fatalf("families = %s", names(fams))
	}
	for i, w := range want {
		if fams[i].Desc.Name != w.name || fams[i].Samples[0].Value != w.v {
			t.Errorf("family %d = %s %v, want %s %v", i, fams[i].Desc.Name, fams[i].Samples[0].Value, w.name, w.v)
		}
	}
}

func TestLoadavgCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), Config{}, "loadavg"))
	wantErr(t, err, `testdata/broken/proc/loadavg:1: field 2: "x" is not a number (line: "0.1 x 0.3 1/1 1")`)
}

func TestLoadavgLive(t *testing.T) {
	roots := liveRoots(t, "proc", "loadavg")
	fams := collectOK(t, newByName(t, roots, Config{}, "loadavg"))
	for _, f := range fams {
		if v := f.Samples[0].Value; v < 0 || v > 1e6 {
			t.Errorf("%s = %v", f.Desc.Name, v)
		}
	}
}

func BenchmarkCollectLoadavg(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "loadavg"), Config{}, "loadavg"))
}
