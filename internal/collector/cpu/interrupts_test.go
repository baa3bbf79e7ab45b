package cpu

import (
	"reflect"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

type irqLine struct {
	name, info, devices string
	values              []uint64
}

func scanAll(file, in string) ([]irqLine, error) {
	var s irqScanner
	var out []irqLine
	err := s.scan(file, []byte(in), func(name []byte, desc [][]byte, values []uint64) error {
		info, devices := irqLabels(name, desc)
		out = append(out, irqLine{string(name), info, devices, append([]uint64(nil), values...)})
		return nil
	})
	return out, err
}

func TestScanInterrupts(t *testing.T) {
	const file = "/proc/interrupts"
	tests := []struct {
		name    string
		in      string
		want    []irqLine
		wantErr string
	}{
		{
			name: "x86",
			in: "           CPU0       CPU1       \n" +
				"  0:         44          0  IR-IO-APIC    2-edge      timer\n" +
				" 25:     383211          1  IR-PCI-MSIX-0000:01:00.0    1-edge      nvme0q1\n" +
				" NMI:        12         11   Non-maskable interrupts\n" +
				" ERR:          0\n" +
				" MIS:          0\n",
			want: []irqLine{
				{"0", "IR-IO-APIC", "2-edge timer", []uint64{44, 0}},
				{"25", "IR-PCI-MSIX-0000:01:00.0", "1-edge nvme0q1", []uint64{383211, 1}},
				{"NMI", "Non-maskable interrupts", "", []uint64{12, 11}},
			},
		},
		{
			name: "arm64, name glued to the counts",
			in: "           CPU0       CPU1       \n" +
				" 11:     123456     234567     GICv3  27 Level     arch_timer\n" +
				"IPI0:29553 25643       Rescheduling interrupts\n",
			want: []irqLine{
				{"11", "GICv3", "27 Level arch_timer", []uint64{123456, 234567}},
				{"IPI0", "Rescheduling interrupts", "", []uint64{29553, 25643}},
			},
		},
		{
			name: "line without colon is skipped",
			in:   "  CPU0\n garbage\n  1:  7  chip  x\n",
			want: []irqLine{{"1", "chip", "x", []uint64{7}}},
		},
		{
			name:    "empty file",
			in:      "",
			wantErr: `/proc/interrupts:1: empty file; expected a header of CPU columns (line: "")`,
		},
		{
			name:    "blank header",
			in:      "   \n  0: 1 chip x\n",
			wantErr: `/proc/interrupts:1: expected a header of CPU columns (line: "   ")`,
		},
		{
			name:    "bad count",
			in:      "  CPU0  CPU1\n  0:  5  x  IO-APIC  2-edge  timer\n",
			wantErr: `/proc/interrupts:2: CPU column 1: "x" is not an unsigned integer (line: "  0:  5  x  IO-APIC  2-edge  timer")`,
		},
		{
			name:    "description where a count should be",
			in:      "  CPU0  CPU1  CPU2\n LOC:  5  6  Local timer interrupts\n",
			wantErr: `/proc/interrupts:2: CPU column 2: "Local" is not an unsigned integer (line: " LOC:  5  6  Local timer interrupts")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanAll(file, tt.in)
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestInterruptsCollector(t *testing.T) {
	c := newByName(t, fixtureRoots("host"), Config{}, "interrupts")
	fams := collectOK(t, c)
	// 13 numbered and 17 named lines with 4 CPUs; ERR and MIS are skipped.
	if got := count(fams, "node_interrupts_total"); got != 30*4 {
		t.Fatalf("series = %d, want %d", got, 30*4)
	}
	f := family(fams, "node_interrupts_total")
	if strings.Join(f.Desc.LabelNames, ",") != "cpu,type,info,devices" || f.Desc.Help != "Interrupt details." {
		t.Fatalf("desc = %+v", f.Desc)
	}
	checks := []struct {
		labels []string
		want   float64
	}{
		{[]string{"cpu", "1", "type", "26", "info", "IR-PCI-MSIX-0000:01:00.0", "devices", "2-edge nvme0q2"}, 401877},
		{[]string{"cpu", "0", "type", "49", "info", "IR-PCI-MSI-0000:81:00.0", "devices", "0-edge nvidia"}, 9982331},
		{[]string{"cpu", "3", "type", "LOC", "info", "Local timer interrupts", "devices", ""}, 25930004},
		{[]string{"cpu", "2", "type", "0", "info", "IR-IO-APIC", "devices", "2-edge timer"}, 0},
	}
	for _, ck := range checks {
		if got := value(t, fams, "node_interrupts_total", ck.labels...); got != ck.want {
			t.Errorf("%v = %v, want %v", ck.labels, got, ck.want)
		}
	}
	again := collectOK(t, c)
	if &family(again, "node_interrupts_total").Samples[5].LabelValues[0] != &f.Samples[5].LabelValues[0] {
		t.Error("label values were rebuilt on the second tick")
	}
}

func TestInterruptsCollectorFilters(t *testing.T) {
	cfg := Config{InterruptsNameInclude: "mlx5|nvme", InterruptsNameExclude: "nvme0q0$", InterruptsDropZeros: true}
	fams := collectOK(t, newByName(t, fixtureRoots("host"), cfg, "interrupts"))
	// nvme0q1..4 and 4 mlx5 vectors, each non-zero on exactly one CPU.
	if got := count(fams, "node_interrupts_total"); got != 8 {
		t.Fatalf("series = %d, want 8", got)
	}
	if got := value(t, fams, "node_interrupts_total", "cpu", "2", "type", "41", "info", "IR-PCI-MSIX-0000:41:00.0", "devices", "2-edge mlx5_comp1@pci:0000:41:00.0"); got != 2198765 {
		t.Errorf("mlx5_comp1 = %v", got)
	}
}

func TestInterruptsCollectorArm64(t *testing.T) {
	fams := collectOK(t, newByName(t, fixtureRoots("variant"), Config{}, "interrupts"))
	if got := count(fams, "node_interrupts_total"); got != 10 {
		t.Fatalf("series = %d, want 10", got)
	}
	if got := value(t, fams, "node_interrupts_total", "cpu", "0", "type", "47", "info", "ITS-MSI", "devices", "524288 Edge nvme0q0"); got != 2048 {
		t.Errorf("nvme = %v", got)
	}
}

func TestInterruptsConfigErrors(t *testing.T) {
	_, err := New(fixtureRoots("host"), Config{InterruptsNameExclude: "nvme("})
	wantErr(t, err, "cpu.interrupts_name_exclude: \"nvme(\" is not a valid regular expression (Go RE2 syntax, matched against \"name;info;devices\" of a /proc/interrupts line): error parsing regexp: missing closing ): `nvme(`")
	_, err = New(fixtureRoots("host"), Config{InterruptsNameInclude: "*"})
	if err == nil || !strings.HasPrefix(err.Error(), "cpu.interrupts_name_include: \"*\" is not a valid regular expression") {
		t.Fatalf("err = %v", err)
	}
}

func TestInterruptsCollectorErrors(t *testing.T) {
	_, err := collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("broken"), Config{}, "interrupts"))
	wantErr(t, err, `testdata/broken/proc/interrupts:2: CPU column 1: "x" is not an unsigned integer (line: "  0:          5          x  IO-APIC   2-edge      timer")`)

	_, err = collector.CollectOnce(t.Context(), newByName(t, fixtureRoots("none"), Config{}, "interrupts"))
	wantErr(t, err, "read interrupts: open testdata/none/proc/interrupts: no such file or directory")
}

func TestInterruptsLive(t *testing.T) {
	roots := liveRoots(t, "proc", "interrupts")
	fams := collectOK(t, newByName(t, roots, Config{}, "interrupts"))
	f := family(fams, "node_interrupts_total")
	if f == nil || len(f.Samples) == 0 {
		t.Fatal("no interrupts")
	}
	total := 0.0
	for _, s := range f.Samples {
		total += s.Value
	}
	if total <= 0 {
		t.Errorf("no interrupt was ever serviced?")
	}
}

func BenchmarkCollectInterrupts(b *testing.B) {
	benchCollect(b, newByName(b, benchRoots("proc", "interrupts"), Config{}, "interrupts"))
}
