package network

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

const conntrackHeader = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"

func TestParseConntrackStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ok      bool
		want    [8]uint64 // found invalid ignore insert insert_failed drop early_drop search_restart
		wantErr string
	}{
		{
			name: "two CPUs",
			in: conntrackHeader +
				"00000733  00000000 0000000c 00000000 00000136 00000001 00000000 00000000 00000002 00000000 00000003 00000004 00000004  00000000 00000000 00000000 00000005\n" +
				"00000733  00000000 0000000d 00000000 00000137 00000001 00000000 00000000 00000002 00000001 00000003 00000004 00000004  00000000 00000000 00000000 00000005\n",
			ok:   true,
			want: [8]uint64{25, 621, 2, 4, 1, 6, 8, 10},
		},
		{
			name: "old kernel without search_restart",
			in:   "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete\n00000001 00000000 00000002 00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n",
			ok:   true,
			want: [8]uint64{2, 3},
		},
		{name: "empty", in: "", ok: false},
		{name: "bad header", in: "found invalid\n1 2\n", wantErr: `/proc/net/stat/nf_conntrack:1: expected a header line starting with "entries" (line: "found invalid")`},
		{name: "short line", in: conntrackHeader + "00000733 00000000\n", wantErr: `/proc/net/stat/nf_conntrack:2: expected 17 columns as in the header, got 2 (line: "00000733 00000000")`},
		{name: "bad hex", in: conntrackHeader + "00000733  00000000 0000000x 00000000 00000136 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000004  00000000 00000000 00000000 00000000\n", wantErr: `/proc/net/stat/nf_conntrack:2: found: "0000000x" is not a hexadecimal number (line: "00000733  00000000 0000000x 00000000 00000136 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000004  0...")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConntrack(hostfs.Roots{})
			ok, err := c.parseStat("/proc/net/stat/nf_conntrack", []byte(tt.in))
			if tt.wantErr != "" {
				wantParseErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && c.sums != tt.want {
				t.Errorf("sums %v, want %v", c.sums, tt.want)
			}
		})
	}
}

func TestConntrackCollect(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{}, "conntrack"))
	r.shape(t, "node_nf_conntrack_entries", collector.Gauge)
	r.shape(t, "node_nf_conntrack_entries_limit", collector.Gauge)
	r.want(t, "node_nf_conntrack_entries", 1843)
	r.want(t, "node_nf_conntrack_entries_limit", 262144)
	r.want(t, "node_nf_conntrack_stat_found", 12+13+14+15)
	r.want(t, "node_nf_conntrack_stat_invalid", 310+311+312+313)
	r.want(t, "node_nf_conntrack_stat_insert_failed", 2)
	r.want(t, "node_nf_conntrack_stat_search_restart", 0+7+14+21)
	r.want(t, "node_nf_conntrack_stat_early_drop", 0)
}

func TestConntrackFiles(t *testing.T) {
	proc := t.TempDir()
	dir := filepath.Join(proc, "sys", "net", "netfilter")
	c := newByName(t, hostfs.Roots{Proc: proc}, Config{}, "conntrack")
	if _, err := collector.CollectOnce(t.Context(), c); !errorsIsNoData(err) {
		t.Fatalf("no conntrack: err = %v, want ErrNoData", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, v string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nf_conntrack_count", "12\n")
	write("nf_conntrack_max", "65536\n")
	r := collectOnce(t, c) // no /proc/net/stat/nf_conntrack: entries only
	r.want(t, "node_nf_conntrack_entries", 12)
	r.want(t, "node_nf_conntrack_entries_limit", 65536)
	if len(r) != 2 {
		t.Errorf("%d families, want 2", len(r))
	}
	write("nf_conntrack_max", "lots\n")
	_, err := collector.CollectOnce(t.Context(), c)
	wantParseErr(t, err, filepath.Join(dir, "nf_conntrack_max")+`:1: expected an unsigned integer (line: "lots")`)
}
