package memory

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector/collectortest"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseMeminfo(t *testing.T) {
	type line struct {
		key string
		v   float64
		kb  bool
	}
	tests := []struct {
		name    string
		in      string
		want    []line
		wantErr string
	}{
		{
			name: "kB and page counts",
			in:   "MemTotal:       65842340 kB\nActive(anon):   14210036 kB\nHugePages_Total:    1024\n",
			want: []line{{"MemTotal", 65842340, true}, {"Active(anon)", 14210036, true}, {"HugePages_Total", 1024, false}},
		},
		{
			name: "no trailing newline, blank line skipped",
			in:   "MemFree: 1 kB\n\nBuffers: 2 kB",
			want: []line{{"MemFree", 1, true}, {"Buffers", 2, true}},
		},
		{
			name:    "empty",
			in:      "",
			wantErr: `/proc/meminfo:1: no memory information in file (line: "")`,
		},
		{
			name:    "no colon",
			in:      "MemTotal: 1 kB\nMemFree 2 kB\n",
			wantErr: `/proc/meminfo:2: expected "Key: value [kB]" (line: "MemFree 2 kB")`,
		},
		{
			name:    "no value",
			in:      "MemTotal:\n",
			wantErr: `/proc/meminfo:1: expected a value and an optional kB unit after the colon, got 0 fields (line: "MemTotal:")`,
		},
		{
			name:    "too many fields",
			in:      "MemTotal: 1 kB extra\n",
			wantErr: `/proc/meminfo:1: expected a value and an optional kB unit after the colon, got 3 fields (line: "MemTotal: 1 kB extra")`,
		},
		{
			name:    "unknown unit",
			in:      "MemTotal: 1 MB\n",
			wantErr: `/proc/meminfo:1: unknown unit "MB"; expected kB (line: "MemTotal: 1 MB")`,
		},
		{
			name:    "not a number",
			in:      "MemTotal: 1 kB\nMemFree: -5 kB\n",
			wantErr: `/proc/meminfo:2: value "-5" is not an unsigned integer (line: "MemFree: -5 kB")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseMeminfo("/proc/meminfo", []byte(tt.in), nil, nil)
			if tt.wantErr != "" {
				collectortest.WantParseError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				if string(got[i].Key) != w.key || got[i].Value != w.v || got[i].KB != w.kb {
					t.Errorf("line %d = {%s %v %v}, want %v", i, got[i].Key, got[i].Value, got[i].KB, w)
				}
			}
		})
	}
}

func TestMeminfoMetricName(t *testing.T) {
	tests := []struct {
		key  string
		kb   bool
		want string
	}{
		{"MemTotal", true, "MemTotal_bytes"},
		{"Active(anon)", true, "Active_anon_bytes"},
		{"Inactive(file)", true, "Inactive_file_bytes"},
		{"HugePages_Total", false, "HugePages_Total"},
		{"Hugepagesize", true, "Hugepagesize_bytes"},
		{"NFS_Unstable", true, "NFS_Unstable_bytes"},
		{"Odd-Key.x", true, "Odd_Key_x_bytes"},
	}
	for _, tt := range tests {
		if got := meminfoMetricName(tt.key, tt.kb); got != tt.want {
			t.Errorf("meminfoMetricName(%q, %v) = %q, want %q", tt.key, tt.kb, got, tt.want)
		}
	}
}

// family returns the named family, or nil.
func family(fams []*collector.Family, name string) *collector.Family {
	for _, f := range fams {
		if f.Desc.Name == name {
			return f
		}
	}
	return nil
}

// value returns the only sample of the named unlabelled family.
func value(t *testing.T, fams []*collector.Family, name string) float64 {
	t.Helper()
	f := family(fams, name)
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	if len(f.Samples) != 1 {
		t.Fatalf("%s has %d samples, want 1", name, len(f.Samples))
	}
	return f.Samples[0].Value
}

func newCollectors(t testing.TB, roots hostfs.Roots, cfg Config) map[string]collector.Collector {
	t.Helper()
	cs, err := New(roots, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]collector.Collector)
	for _, c := range cs {
		m[c.Name()] = c
	}
	return m
}

func TestMeminfoCollect(t *testing.T) {
	c := newCollectors(t, hostfs.Roots{Proc: "testdata/proc", Sys: "testdata/sys"}, Config{})["meminfo"]
	for tick := 0; tick < 2; tick++ { // the second tick runs on the cached descriptors
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if len(fams) != 55 {
			t.Errorf("got %d families, want 55 (one per line of the fixture)", len(fams))
		}
		for name, want := range map[string]float64{
			"node_memory_MemTotal_bytes":          65842340 * 1024,
			"node_memory_MemAvailable_bytes":      41234512 * 1024,
			"node_memory_Active_anon_bytes":       14210036 * 1024,
			"node_memory_Inactive_file_bytes":     28696064 * 1024,
			"node_memory_VmallocTotal_bytes":      34359738367 * 1024,
			"node_memory_HugePages_Total":         1024,
			"node_memory_HugePages_Free":          896,
			"node_memory_HugePages_Rsvd":          32,
			"node_memory_HugePages_Surp":          0,
			"node_memory_Hugepagesize_bytes":      2048 * 1024,
			"node_memory_DirectMap1G_bytes":       44040192 * 1024,
			"node_memory_HardwareCorrupted_bytes": 0,
		} {
			if got := value(t, fams, name); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		f := family(fams, "node_memory_Active_anon_bytes")
		if f.Desc.Type != collector.Gauge || f.Desc.Help != "Memory information field Active_anon_bytes." || len(f.Desc.LabelNames) != 0 {
			t.Errorf("desc = %+v, want an unlabelled gauge with node_exporter's help", f.Desc)
		}
	}
}

func TestMeminfoErrors(t *testing.T) {
	dir := t.TempDir()
	c := newCollectors(t, hostfs.Roots{Proc: dir}, Config{})["meminfo"]
	_, err := collector.CollectOnce(context.Background(), c)
	if !errors.Is(err, collector.ErrNoData) {
		t.Errorf("missing file: err = %v, want ErrNoData", err)
	}
	if err := os.WriteFile(dir+"/meminfo", []byte("MemTotal: x kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = collector.CollectOnce(context.Background(), c)
	want := dir + `/meminfo:1: value "x" is not an unsigned integer (line: "MemTotal: x kB")`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// TestMeminfoLive runs the collector on this machine and checks MemTotal
// against /proc/meminfo.
func TestMeminfoLive(t *testing.T) {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skipf("no /proc/meminfo: %v", err)
	}
	var wantTotal float64
	lines := strings.Split(string(raw), "\n")
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			wantTotal = kb * 1024
		}
	}
	c := newCollectors(t, hostfs.DefaultRoots(), Config{})["meminfo"]
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, fams, "node_memory_MemTotal_bytes"); got != wantTotal || got <= 0 {
		t.Errorf("MemTotal = %v, want %v", got, wantTotal)
	}
	if free := value(t, fams, "node_memory_MemFree_bytes"); free <= 0 || free > wantTotal {
		t.Errorf("MemFree = %v, want in (0, MemTotal]", free)
	}
	nonEmpty := 0
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			nonEmpty++
		}
	}
	if len(fams) != nonEmpty { // one family per key; the keys do not change between reads
		t.Errorf("got %d families for %d lines", len(fams), nonEmpty)
	}
}

func BenchmarkCollectMeminfo(b *testing.B) {
	roots := hostfs.DefaultRoots()
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		roots = hostfs.Roots{Proc: "testdata/proc"}
	}
	c := newCollectors(b, roots, Config{})["meminfo"]
	b.ReportAllocs()
	for b.Loop() {
		e := collector.NewEmitter()
		if err := c.Collect(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}
