package memory

import (
	"context"
	"errors"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector/collectortest"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseVmstat(t *testing.T) {
	type line struct {
		key string
		v   float64
	}
	tests := []struct {
		name    string
		in      string
		want    []line
		wantErr string
	}{
		{
			name: "normal",
			in:   "nr_free_pages 953901\npgfault 19283746501\n",
			want: []line{{"nr_free_pages", 953901}, {"pgfault", 19283746501}},
		},
		{
			name: "negative value, blank line, no final newline",
			in:   "nr_zone_write_pending -3\n\noom_kill 3",
			want: []line{{"nr_zone_write_pending", -3}, {"oom_kill", 3}},
		},
		{
			name:    "empty",
			in:      "\n",
			wantErr: `/proc/vmstat:1: no statistics in file (line: "")`,
		},
		{
			name:    "missing value",
			in:      "pgfault 1\npgmajfault\n",
			wantErr: `/proc/vmstat:2: expected "name value", got 1 fields (line: "pgmajfault")`,
		},
		{
			name:    "extra field",
			in:      "pgfault 1 2\n",
			wantErr: `/proc/vmstat:1: expected "name value", got 3 fields (line: "pgfault 1 2")`,
		},
		{
			name:    "not a number",
			in:      "pgfault many\n",
			wantErr: `/proc/vmstat:1: value "many" of pgfault is not a number (line: "pgfault many")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseVmstat("/proc/vmstat", []byte(tt.in), nil, nil)
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
				if string(got[i].Key) != w.key || got[i].Value != w.v {
					t.Errorf("line %d = {%s %v}, want %v", i, got[i].Key, got[i].Value, w)
				}
			}
		})
	}
}

func names(fams []*collector.Family) []string {
	var out []string
	for _, f := range fams {
		out = append(out, f.Desc.Name)
	}
	sort.Strings(out)
	return out
}

func TestVmstatCollect(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want map[string]float64
	}{
		{
			name: "default fields",
			want: map[string]float64{
				"node_vmstat_oom_kill":   3,
				"node_vmstat_pgfault":    19283746501,
				"node_vmstat_pgmajfault": 446162,
				"node_vmstat_pgpgin":     8223581396,
				"node_vmstat_pgpgout":    1931298764,
				"node_vmstat_pswpin":     12043,
				"node_vmstat_pswpout":    79122,
			},
		},
		{
			name: "custom fields",
			cfg:  Config{VMStatFields: `^(workingset_refault_file|nr_dirty)$`},
			want: map[string]float64{
				"node_vmstat_nr_dirty":                1203,
				"node_vmstat_workingset_refault_file": 59069789,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollectors(t, hostfs.Roots{Proc: "testdata/proc"}, tt.cfg)["vmstat"]
			for tick := 0; tick < 2; tick++ {
				fams, err := collector.CollectOnce(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				var wantNames []string
				for n := range tt.want {
					wantNames = append(wantNames, n)
				}
				sort.Strings(wantNames)
				if got := names(fams); strings.Join(got, ",") != strings.Join(wantNames, ",") {
					t.Fatalf("families = %v, want %v", got, wantNames)
				}
				for n, want := range tt.want {
					if got := value(t, fams, n); got != want {
						t.Errorf("%s = %v, want %v", n, got, want)
					}
				}
				f := fams[0]
				field := strings.TrimPrefix(f.Desc.Name, "node_vmstat_")
				if f.Desc.Type != collector.Untyped || f.Desc.Help != "/proc/vmstat information field "+field+"." {
					t.Errorf("desc = %+v, want untyped with node_exporter's help", f.Desc)
				}
			}
		})
	}
}

func TestNewConfigErrors(t *testing.T) {
	_, err := New(hostfs.Roots{}, Config{VMStatFields: "("})
	want := "memory config: vmstat_fields \"(\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing closing ): `(`"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestVmstatErrors(t *testing.T) {
	dir := t.TempDir()
	c := newCollectors(t, hostfs.Roots{Proc: dir}, Config{})["vmstat"]
	if _, err := collector.CollectOnce(context.Background(), c); !errors.Is(err, collector.ErrNoData) {
		t.Errorf("missing file: err = %v, want ErrNoData", err)
	}
}

// TestVmstatLive runs the collector on this machine and checks pgfault
// against /proc/vmstat (it only grows).
func TestVmstatLive(t *testing.T) {
	c := newCollectors(t, hostfs.DefaultRoots(), Config{})["vmstat"]
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		if errors.Is(err, collector.ErrNoData) {
			t.Skip("no /proc/vmstat")
		}
		t.Fatal(err)
	}
	raw, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		t.Fatal(err)
	}
	var after float64
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "pgfault" {
			after, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	got := value(t, fams, "node_vmstat_pgfault")
	if got <= 0 || got > after {
		t.Errorf("pgfault = %v, want in (0, %v]", got, after)
	}
	for _, f := range fams {
		if !regexp.MustCompile(DefaultVMStatFields).MatchString(strings.TrimPrefix(f.Desc.Name, "node_vmstat_")) {
			t.Errorf("%s does not match the default field pattern", f.Desc.Name)
		}
	}
}

func BenchmarkCollectVmstat(b *testing.B) {
	roots := hostfs.DefaultRoots()
	if _, err := os.Stat("/proc/vmstat"); err != nil {
		roots = hostfs.Roots{Proc: "testdata/proc"}
	}
	c := newCollectors(b, roots, Config{})["vmstat"]
	b.ReportAllocs()
	for b.Loop() {
		e := collector.NewEmitter()
		if err := c.Collect(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}
