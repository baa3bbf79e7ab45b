package network

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

const udpHeader = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops             \n"

func TestParseUDPQueues(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		tx, rx  uint64
		wantErr string
	}{
		{
			name: "normal",
			in: udpHeader +
				"  123: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 20535 2 0000000000000000 0\n" +
				"  124: 0100007F:0035 00000000:0000 07 00000010:00000900 00:00000000 00000000   101        0 21877 2 0000000000000000 0\n" +
				"  125: 0100007F:0036 00000000:0000 07 00000001:000000FF 00:00000000 00000000   101        0 21878 2 0000000000000000 0\n",
			tx: 17, rx: 0x9ff,
		},
		{name: "no sockets", in: udpHeader},
		{name: "empty", in: "", wantErr: `/proc/net/udp:1: empty file; expected a header line (line: "")`},
		{name: "short line", in: udpHeader + "  1: 00000000:0044 00000000:0000 07\n", wantErr: `/proc/net/udp:2: expected at least 5 columns, got 4 (line: "  1: 00000000:0044 00000000:0000 07")`},
		{name: "no colon", in: udpHeader + "  1: 00000000:0044 00000000:0000 07 0000000000000000 00:00000000\n", wantErr: `/proc/net/udp:2: queues: expected "<tx>:<rx>", got "0000000000000000" (line: "  1: 00000000:0044 00000000:0000 07 0000000000000000 00:00000000")`},
		{name: "bad hex", in: udpHeader + "  1: 00000000:0044 00000000:0000 07 0000000Z:00000000 00:00000000\n", wantErr: `/proc/net/udp:2: queues: "0000000Z:00000000" is not two hexadecimal numbers (line: "  1: 00000000:0044 00000000:0000 07 0000000Z:00000000 00:00000000")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newUDPQueues(hostfs.Roots{})
			tx, rx, err := c.parse("/proc/net/udp", []byte(tt.in))
			if tt.wantErr != "" {
				wantParseErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tx != tt.tx || rx != tt.rx {
				t.Errorf("tx, rx = %d, %d; want %d, %d", tx, rx, tt.tx, tt.rx)
			}
		})
	}
}

func TestUDPQueuesCollect(t *testing.T) {
	r := collectOnce(t, newByName(t, fixtureRoots(), Config{}, "udp_queues"))
	r.shape(t, "node_udp_queues", collector.Gauge, "ip", "queue")
	r.want(t, "node_udp_queues", 1152, "v4", "tx")
	r.want(t, "node_udp_queues", 2304, "v4", "rx")
	r.want(t, "node_udp_queues", 0, "v6", "tx")
	r.want(t, "node_udp_queues", 768, "v6", "rx")
}

func TestUDPQueuesFiles(t *testing.T) {
	proc := t.TempDir()
	c := newByName(t, hostfs.Roots{Proc: proc}, Config{}, "udp_queues")
	if _, err := collector.CollectOnce(t.Context(), c); !errorsIsNoData(err) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
	if err := os.MkdirAll(filepath.Join(proc, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "net", "udp"), []byte(udpHeader), 0o644); err != nil {
		t.Fatal(err)
	}
	r := collectOnce(t, c) // IPv6 disabled: v4 only
	if n := len(r["node_udp_queues"].Samples); n != 2 {
		t.Errorf("%d samples, want 2", n)
	}
}
