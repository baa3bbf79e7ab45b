package disk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector/collectortest"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseDiskstats(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // "major:minor name N stat1..statN"
		wantErr string
	}{
		{
			name: "kernel 5.5+ with flushes",
			in:   " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
			want: []string{"259:0 nvme0n1 17 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"},
		},
		{
			name: "kernel 4.18 with discards, and 4.17 without",
			in:   "8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n8 16 sdb 1 2 3 4 5 6 7 8 9 10 11",
			want: []string{"8:0 sda 15 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", "8:16 sdb 11 1 2 3 4 5 6 7 8 9 10 11"},
		},
		{
			name: "later kernels' extra columns are ignored, blank lines skipped",
			in:   "\n8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n",
			want: []string{"8:0 sda 17 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"},
		},
		{
			name: "empty file",
			in:   "",
			want: nil,
		},
		{
			name:    "too few fields",
			in:      "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1 sda1 1 2 3 4\n",
			wantErr: `/proc/diskstats:2: expected major, minor, device name and at least 11 statistics, got 7 fields (line: "8 1 sda1 1 2 3 4")`,
		},
		{
			name:    "bad major",
			in:      "x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n",
			wantErr: `/proc/diskstats:1: major number "x" is not an unsigned integer (line: "x 0 sda 1 2 3 4 5 6 7 8 9 10 11")`,
		},
		{
			name:    "bad minor",
			in:      "8 -1 sda 1 2 3 4 5 6 7 8 9 10 11\n",
			wantErr: `/proc/diskstats:1: minor number "-1" is not an unsigned integer (line: "8 -1 sda 1 2 3 4 5 6 7 8 9 10 11")`,
		},
		{
			name:    "bad statistic",
			in:      "8 0 sda 1 2 3 4 5 6 7 8 9 10 1.5\n",
			wantErr: `/proc/diskstats:1: statistic 11 of sda: "1.5" is not an unsigned integer (line: "8 0 sda 1 2 3 4 5 6 7 8 9 10 1.5")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseDiskstats("/proc/diskstats", []byte(tt.in), nil, nil)
			if tt.wantErr != "" {
				collectortest.WantParseError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range got {
				s := string(l.Major) + ":" + string(l.Minor) + " " + string(l.Name) + " " + itoa(uint64(l.N))
				for _, v := range l.Stats[:l.N] {
					s += " " + itoa(v)
				}
				lines = append(lines, s)
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		devices string // devices that pass the filter, of the fixture
		wantErr string
	}{
		{name: "default", devices: "dm-0 nvme0n1 nvme1n1 sda vda"},
		{name: "exclude", cfg: Config{DeviceExclude: `^(loop|dm-)`}, devices: "nvme0n1 nvme0n1p1 nvme0n1p2 nvme1n1 sda sda1 vda zram0"},
		{name: "include", cfg: Config{DeviceInclude: `^nvme\d+n\d+$`}, devices: "nvme0n1 nvme1n1"},
		{name: "both", cfg: Config{DeviceInclude: "a", DeviceExclude: "b"},
			wantErr: "disk config: device_include and device_exclude are mutually exclusive; set only one of them"},
		{name: "bad include", cfg: Config{DeviceInclude: "("},
			wantErr: "disk config: device_include \"(\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing closing ): `(`"},
		{name: "bad exclude", cfg: Config{DeviceExclude: "[z"},
			wantErr: "disk config: device_exclude \"[z\" is not a valid regular expression (RE2 syntax): error parsing regexp: missing closing ]: `[z`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := New(fixtureRoots(t), tt.cfg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fams, err := collector.CollectOnce(context.Background(), cs[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := devices(fams); got != tt.devices {
				t.Errorf("devices = %s, want %s", got, tt.devices)
			}
		})
	}
}

// fixtureSys unpacks testdata/sys.tar (sysfs paths contain ':', which Go
// module zips do not allow, so the tree is kept as an archive).
func fixtureSys(t testing.TB) string {
	t.Helper()
	return filepath.Join(collectortest.ExtractTar(t, "testdata/sys.tar"), "sys")
}

func fixtureRoots(t testing.TB) hostfs.Roots {
	t.Helper()
	return hostfs.Roots{Proc: "testdata/proc", Sys: fixtureSys(t)}
}

// family is collectortest.Family.
var family = collectortest.Family

// devices lists the device label values of node_disk_reads_completed_total.
func devices(fams []*collector.Family) string {
	f := family(fams, "node_disk_reads_completed_total")
	if f == nil {
		return ""
	}
	var out []string
	for i := range f.Samples {
		out = append(out, f.Label(i, "device"))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// sample returns the value of the named family for a device.
func sample(t *testing.T, fams []*collector.Family, name, device string) float64 {
	t.Helper()
	f := family(fams, name)
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	for i, s := range f.Samples {
		if f.Label(i, "device") == device {
			return s.Value
		}
	}
	t.Fatalf("%s has no sample for device %s", name, device)
	return 0
}

func TestDiskstatsCollect(t *testing.T) {
	cs, err := New(fixtureRoots(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if c.Name() != "diskstats" {
		t.Fatalf("name = %q", c.Name())
	}
	for tick := 0; tick < 2; tick++ { // the second tick uses the cached devices
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if len(fams) != 18 {
			t.Errorf("got %d families, want 18 (17 statistics and node_disk_info)", len(fams))
		}
		want := map[string]float64{
			"node_disk_reads_completed_total":             3482907,
			"node_disk_reads_merged_total":                112,
			"node_disk_read_bytes_total":                  1031254482 * 512,
			"node_disk_read_time_seconds_total":           1507.2640000000001, // 1507264 × (1/1000), as node_exporter
			"node_disk_writes_completed_total":            21874361,
			"node_disk_writes_merged_total":               5612009,
			"node_disk_written_bytes_total":               3392114570 * 512,
			"node_disk_write_time_seconds_total":          8035.887,
			"node_disk_io_now":                            3,
			"node_disk_io_time_seconds_total":             3061.944,
			"node_disk_io_time_weighted_seconds_total":    9557.213,
			"node_disk_discards_completed_total":          204871,
			"node_disk_discards_merged_total":             0,
			"node_disk_discarded_sectors_total":           1925173784, // sectors, not bytes, as node_exporter
			"node_disk_discard_time_seconds_total":        4.721,
			"node_disk_flush_requests_total":              1555,
			"node_disk_flush_requests_time_seconds_total": 1.944,
		}
		for name, v := range want {
			if got := sample(t, fams, name, "nvme0n1"); got != v {
				t.Errorf("%s{device=nvme0n1} = %v, want %v", name, got, v)
			}
			f := family(fams, name)
			wantType := collector.Counter
			if name == "node_disk_io_now" {
				wantType = collector.Gauge
			}
			if f.Desc.Type != wantType || strings.Join(f.Desc.LabelNames, ",") != "device" {
				t.Errorf("%s: type %v labels %v, want %v [device]", name, f.Desc.Type, f.Desc.LabelNames, wantType)
			}
		}
		if got := devices(fams); got != "dm-0 nvme0n1 nvme1n1 sda vda" {
			t.Errorf("devices = %s", got)
		}

		info := family(fams, "node_disk_info")
		if got := strings.Join(info.Desc.LabelNames, ","); got != "device,major,minor,path,wwn,model,serial,revision,rotational" {
			t.Errorf("node_disk_info labels = %s", got)
		}
		wantInfo := map[string]string{
			"nvme0n1": "nvme0n1|259|0|pci-0000:01:00.0-nvme-1|eui.36344830545123450025384500000001|SAMSUNG MZQL23T8HCLS-00A07|S64HNE0T512345|GDC5602Q|0",
			"nvme1n1": "nvme1n1|259|3|pci-0000:02:00.0-nvme-1|eui.36344830545678900025384500000001|SAMSUNG MZQL23T8HCLS-00A07|S64HNE0T567890|GDC5602Q|0",
			"sda":     "sda|8|0||0x5000c500d3a1b2c3|ST4000NM000A-2HZ|ZC1ABCDE|SN04|1",
			"vda":     "vda|252|0|pci-0000:00:05.0|||cloudinit-vol||1",
			"dm-0":    "dm-0|253|0||||||0",
		}
		if len(info.Samples) != len(wantInfo) {
			t.Errorf("node_disk_info has %d samples, want %d", len(info.Samples), len(wantInfo))
		}
		for _, s := range info.Samples {
			got := strings.Join(s.LabelValues, "|")
			if s.Value != 1 || got != wantInfo[s.LabelValues[0]] {
				t.Errorf("node_disk_info = %s (%v), want %s (1)", got, s.Value, wantInfo[s.LabelValues[0]])
			}
		}
	}
}

// TestDiskstatsDeviceChanges checks that a device that disappears is
// forgotten and one that appears has its sysfs attributes read.
func TestDiskstatsDeviceChanges(t *testing.T) {
	proc := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(proc, "diskstats"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	roots := hostfs.Roots{Proc: proc, Sys: fixtureSys(t)}
	cs, err := New(roots, Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0].(*diskstatsCollector)
	const nvme0 = " 259 0 nvme0n1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	const nvme1 = " 259 3 nvme1n1 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	const sda = " 8 0 sda 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	steps := []struct {
		file, devices string
	}{
		{nvme0 + nvme1, "nvme0n1 nvme1n1"},
		{nvme1, "nvme1n1"},
		{sda + nvme1 + nvme0, "nvme0n1 nvme1n1 sda"},
		{"", ""},
	}
	for i, st := range steps {
		write(st.file)
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := devices(fams); got != st.devices {
			t.Errorf("step %d: devices = %q, want %q", i, got, st.devices)
		}
		if n := len(strings.Fields(st.devices)); len(c.byName) != n {
			t.Errorf("step %d: %d devices remembered, want %d", i, len(c.byName), n)
		}
		if st.devices != "" && sample(t, fams, "node_disk_reads_completed_total", "nvme1n1") != 2 {
			t.Errorf("step %d: wrong value for nvme1n1", i)
		}
	}
}

func TestDiskstatsErrors(t *testing.T) {
	proc := t.TempDir()
	cs, err := New(hostfs.Roots{Proc: proc, Sys: fixtureSys(t)}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collector.CollectOnce(context.Background(), cs[0]); !errors.Is(err, collector.ErrNoData) {
		t.Errorf("missing file: err = %v, want ErrNoData", err)
	}
	if err := os.WriteFile(filepath.Join(proc, "diskstats"), []byte("8 0 sda 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = collector.CollectOnce(context.Background(), cs[0])
	want := proc + `/diskstats:1: expected major, minor, device name and at least 11 statistics, got 4 fields (line: "8 0 sda 1")`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestParseVPD80(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{append([]byte{0, 0x80, 0, 12}, "  ZC1ABCDE  "...), "ZC1ABCDE"},
		{append([]byte{0, 0x80, 0, 40}, "short"...), "short"}, // length past the end
		{[]byte{0, 0x83, 0, 4, 'a', 'b', 'c', 'd'}, ""},       // another page
		{[]byte{0, 0x80}, ""},
	}
	for _, tt := range tests {
		if got := parseVPD80(tt.in); got != tt.want {
			t.Errorf("parseVPD80(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNAAWWN(t *testing.T) {
	tests := map[string]string{
		"naa.5000C500D3A1B2C3":                 "0x5000c500d3a1b2c3",
		"naa.600508B1001C2D4E5F6A7B8C9D0E1F2A": "0x600508b1001c2d4e",
		"t10.ATA     ST4000NM000A-2HZ    ZC1A": "",
		"naa.123":                              "",
		"":                                     "",
	}
	for in, want := range tests {
		if got := naaWWN(in); got != want {
			t.Errorf("naaWWN(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDiskstatsLive runs the collector on this machine: every device of
// /proc/diskstats that the default filter keeps is reported, with info.
func TestDiskstatsLive(t *testing.T) {
	raw, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		t.Skipf("no /proc/diskstats: %v", err)
	}
	filter, err := newDeviceFilter(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) > 3 && !filter.ignored(f[2]) {
			want = append(want, f[2])
		}
	}
	sort.Strings(want)
	cs, err := New(hostfs.DefaultRoots(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := collector.CollectOnce(context.Background(), cs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := devices(fams); got != strings.Join(want, " ") {
		t.Errorf("devices = %q, want %q", got, strings.Join(want, " "))
	}
	if len(want) == 0 {
		return
	}
	info := family(fams, "node_disk_info")
	if info == nil || len(info.Samples) != len(want) {
		t.Fatalf("node_disk_info = %+v, want %d samples", info, len(want))
	}
	for i := range info.Samples {
		dev := info.Label(i, "device")
		majmin, err := os.ReadFile(filepath.Join("/sys/block", dev, "dev"))
		if err != nil {
			continue // not every device has a sysfs entry in a container
		}
		if got := info.Label(i, "major") + ":" + info.Label(i, "minor"); got != strings.TrimSpace(string(majmin)) {
			t.Errorf("%s: major:minor = %s, sysfs says %s", dev, got, majmin)
		}
		if r := info.Label(i, "rotational"); r != "0" && r != "1" {
			t.Errorf("%s: rotational = %q", dev, r)
		}
	}
}

func BenchmarkCollectDiskstats(b *testing.B) {
	roots := hostfs.DefaultRoots()
	if _, err := os.Stat("/proc/diskstats"); err != nil {
		roots = fixtureRoots(b)
	}
	cs, err := New(roots, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e := collector.NewEmitter()
		if err := cs[0].Collect(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}
