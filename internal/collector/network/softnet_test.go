package network

import (
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

func TestParseSoftnet(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []softnetCPU
		wantErr string
	}{
		{
			name: "linux 6 (15 columns, CPU id)",
			in: "0000000d 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000003 00000004 00000005 00000006 00000000 00000000 00000000\n" +
				"0000086f 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000003 00000000 00000000\n",
			want: []softnetCPU{
				{cpu: 0, processed: 13, dropped: 1, squeezed: 2, collision: 3, receivedRPS: 4, flowLimit: 5, backlog: 6},
				{cpu: 3, processed: 0x86f},
			},
		},
		{
			name: "linux 4 (11 columns, CPU by line)",
			in:   "ffffffff 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000003\n00000010 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n",
			want: []softnetCPU{
				{cpu: 0, processed: 0xffffffff, squeezed: 1, receivedRPS: 2, flowLimit: 3},
				{cpu: 1, processed: 16},
			},
		},
		{
			name: "linux 2.6.23 (9 columns)",
			in:   "00000010 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000007\n",
			want: []softnetCPU{{cpu: 0, processed: 16, dropped: 1, squeezed: 2, collision: 7}},
		},
		{name: "empty", in: "", want: nil},
		{name: "short", in: "00000010 00000001\n", wantErr: `/proc/net/softnet_stat:1: expected at least 9 columns, got 2 (line: "00000010 00000001")`},
		{name: "bad hex", in: "0000001g 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000007\n", wantErr: `/proc/net/softnet_stat:1: column 1: "0000001g" is not a hexadecimal number (line: "0000001g 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000007")`},
		{name: "huge CPU id", in: "0 0 0 0 0 0 0 0 0 0 0 0 ffffffff\n", wantErr: `/proc/net/softnet_stat:1: CPU id 4294967295 out of range (line: "0 0 0 0 0 0 0 0 0 0 0 0 ffffffff")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSoftnet(hostfs.Roots{})
			err := c.parse("/proc/net/softnet_stat", []byte(tt.in))
			if tt.wantErr != "" {
				wantParseErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.cpus) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", c.cpus, tt.want)
			}
			for i := range tt.want {
				if c.cpus[i] != tt.want[i] {
					t.Errorf("cpu line %d: got %+v, want %+v", i, c.cpus[i], tt.want[i])
				}
			}
		})
	}
}

func TestSoftnetCollect(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{}, "softnet"))
	for _, n := range []string{"processed_total", "dropped_total", "times_squeezed_total", "cpu_collision_total", "received_rps_total", "flow_limit_count_total"} {
		r.shape(t, "node_softnet_"+n, collector.Counter, "cpu")
	}
	r.shape(t, "node_softnet_backlog_len", collector.Gauge, "cpu")
	if n := len(r["node_softnet_processed_total"].Samples); n != 4 {
		t.Errorf("%d CPUs, want 4", n)
	}
	r.want(t, "node_softnet_processed_total", 0x0502e0cc, "0")
	r.want(t, "node_softnet_dropped_total", 2, "0")
	r.want(t, "node_softnet_times_squeezed_total", 0x233, "0")
	r.want(t, "node_softnet_received_rps_total", 0x1099, "0")
	r.want(t, "node_softnet_flow_limit_count_total", 0, "0")
	r.want(t, "node_softnet_backlog_len", 1, "0")
	r.want(t, "node_softnet_dropped_total", 3, "1")
	r.want(t, "node_softnet_backlog_len", 2, "2")
	r.want(t, "node_softnet_processed_total", 0x011901bb, "3")
}
