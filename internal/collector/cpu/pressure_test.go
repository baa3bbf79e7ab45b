package cpu

import (
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

func TestParsePressure(t *testing.T) {
	const file = "/proc/pressure/io"
	tests := []struct {
		name    string
		in      string
		want    psiTotals
		wantErr string
	}{
		{
			name: "some and full",
			in:   "some avg10=0.41 avg60=0.77 avg300=0.52 total=731455120\nfull avg10=0.35 avg60=0.66 avg300=0.44 total=612093001\n",
			want: psiTotals{some: 731455120, full: 612093001, hasSome: true, hasFull: true},
		},
		{
			name: "irq: full only",
			in:   "full avg10=0.02 avg60=0.01 avg300=0.01 total=10384921\n",
			want: psiTotals{full: 10384921, hasFull: true},
		},
		{
			name: "blank lines and no trailing newline",
			in:   "\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=7",
			want: psiTotals{some: 7, hasSome: true},
		},
		{
			name:    "unknown line",
			in:      "some avg10=0.00 total=1\nhalf avg10=0.00 total=2\n",
			wantErr: `/proc/pressure/io:2: expected a line starting with "some" or "full", got "half" (line: "half avg10=0.00 total=2")`,
		},
		{
			name:    "total missing",
			in:      "some avg10=0.00 avg60=0.00 avg300=0.00\n",
			wantErr: `/proc/pressure/io:1: missing total= (line: "some avg10=0.00 avg60=0.00 avg300=0.00")`,
		},
		{
			name:    "total not a number",
			in:      "full avg10=0.00 total=-5\n",
			wantErr: `/proc/pressure/io:1: total: "-5" is not an unsigned integer (line: "full avg10=0.00 total=-5")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePressure(file, []byte(tt.in))
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPressureCollector(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("host"), Config{}, "pressure"))
	want := []struct {
		name string
		v    float64
	}{
		{"node_pressure_cpu_waiting_seconds_total", 1893.527361},
		{"node_pressure_io_waiting_seconds_total", 731.45512},
		{"node_pressure_io_stalled_seconds_total", 612.093001},
		{"node_pressure_memory_waiting_seconds_total", 4.129876},
		{"node_pressure_memory_stalled_seconds_total", 3.088121},
		{"node_pressure_irq_stalled_seconds_total", 10.384921},
	}
	if len(fams) != len(want) {
		t.Fatalf("families = %s", names(fams))
	}
	for i, w := range want {
		f := fams[i]
		if f.Desc.Name != w.name || f.Desc.Type != collector.Counter || f.Samples[0].Value != w.v {
			t.Errorf("family %d = %s %v %v, want %s %v", i, f.Desc.Name, f.Desc.Type, f.Samples[0].Value, w.name, w.v)
		}
	}
	if h := fams[0].Desc.Help; h != "Total time in seconds that processes have waited for CPU time" {
		t.Errorf("help = %q", h)
	}
}

func TestPressureCollectorOldKernel(t *testing.T) {
	// No irq file, and a cpu file without the full line (kernels < 5.13).
	fams := collectOK(t, newByName(t, fixtureRoots("variant"), Config{}, "pressure"))
	if got, want := names(fams), "node_pressure_cpu_waiting_seconds_total(1) node_pressure_io_waiting_seconds_total(1) "+
		"node_pressure_io_stalled_seconds_total(1) node_pressure_memory_waiting_seconds_total(1) "+
		"node_pressure_memory_stalled_seconds_total(1)"; got != want {
		t.Fatalf("families = %s\nwant       %s", got, want)
	}
	if got := value(t, fams, "node_pressure_cpu_waiting_seconds_total"); got != 2.5 {
		t.Errorf("cpu = %v", got)
	}
}

func TestPressureCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), Config{}, "pressure"))
	wantErr(t, err, `testdata/broken/proc/pressure/cpu:1: total: "abc" is not an unsigned integer (line: "some avg10=0.00 avg60=0.00 avg300=0.00 total=abc")`)

	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("none"), Config{}, "pressure"))
	wantNoData(t, err)
	wantErr(t, err, "no testdata/none/proc/pressure (kernel without CONFIG_PSI, or older than 4.20): no data on this machine")
}

func TestPressureLive(t *testing.T) {
	roots := liveRoots(t, "proc", "pressure/cpu")
	fams, err := collector.CollectOnce(t.Context(), newByName(t, roots, Config{}, "pressure"))
	if err != nil {
		t.Skipf("pressure stall information not usable here: %v", err)
	}
	if v := value(t, fams, "node_pressure_cpu_waiting_seconds_total"); v < 0 {
		t.Errorf("cpu waiting = %v", v)
	}
	if v := value(t, fams, "node_pressure_io_stalled_seconds_total"); v > value(t, fams, "node_pressure_io_waiting_seconds_total") {
		t.Errorf("io stalled %v > io waiting", v)
	}
}

func BenchmarkCollectPressure(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "pressure/cpu"), Config{}, "pressure"))
}
