package network

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// nlmsg builds one netlink message, padded to 4 bytes.
func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	l := nlmsgHdrLen + len(payload)
	b := make([]byte, (l+3)&^3)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(l))
	ne.PutUint16(b[4:], typ)
	ne.PutUint32(b[8:], seq)
	copy(b[nlmsgHdrLen:], payload)
	return b
}

// diagMsg builds an inet_diag_msg payload.
func diagMsg(state uint8, rq, wq uint32) []byte {
	p := make([]byte, inetDiagMsgLen)
	p[0] = unix.AF_INET
	p[1] = state
	binary.NativeEndian.PutUint32(p[56:], rq)
	binary.NativeEndian.PutUint32(p[60:], wq)
	return p
}

func errPayload(errno int32) []byte {
	p := make([]byte, 4+nlmsgHdrLen)
	binary.NativeEndian.PutUint32(p, uint32(errno))
	return p
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestTCPCountsAdd(t *testing.T) {
	const seq = 7
	tests := []struct {
		name    string
		in      []byte
		done    bool
		states  map[int]uint64 // state number -> count
		rx, tx  uint64
		wantErr string
	}{
		{
			name: "sockets then done",
			in: cat(nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, diagMsg(1, 10, 20)), nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, diagMsg(1, 1, 2)),
				nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, diagMsg(10, 0, 128)), nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, diagMsg(6, 0, 0)),
				nlmsg(unix.NLMSG_DONE, seq, []byte{0, 0, 0, 0})),
			done:   true,
			states: map[int]uint64{1: 2, 10: 1, 6: 1},
			rx:     11, tx: 150,
		},
		{
			name:   "more to come",
			in:     nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, diagMsg(8, 3, 0)),
			states: map[int]uint64{8: 1},
			rx:     3,
		},
		{
			name:   "stale answer and unknown state are ignored",
			in:     cat(nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq-1, diagMsg(1, 0, 0)), nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, diagMsg(13, 5, 0))),
			states: map[int]uint64{},
			rx:     5,
		},
		{name: "empty done", in: nlmsg(unix.NLMSG_DONE, seq, nil), done: true, states: map[int]uint64{}},
		{name: "acknowledgement", in: nlmsg(unix.NLMSG_ERROR, seq, errPayload(0)), states: map[int]uint64{}},
		{name: "kernel error", in: nlmsg(unix.NLMSG_ERROR, seq, errPayload(-int32(unix.ENOENT))), wantErr: "no such file or directory"},
		{name: "error in done", in: nlmsg(unix.NLMSG_DONE, seq, errPayload(-int32(unix.EINTR))), wantErr: "interrupted system call"},
		{name: "truncated error", in: nlmsg(unix.NLMSG_ERROR, seq, []byte{1}), wantErr: "truncated netlink error message"},
		{name: "truncated header", in: make([]byte, 8), wantErr: "truncated netlink header (8 bytes)"},
		{name: "length too large", in: nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, diagMsg(1, 0, 0))[:40], wantErr: "netlink message length 88 out of range (40 bytes left)"},
		{name: "length too small", in: func() []byte { b := nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, nil); b[0] = 4; return b }(), wantErr: "netlink message length 4 out of range (16 bytes left)"},
		{name: "truncated inet_diag_msg", in: nlmsg(unix.SOCK_DIAG_BY_FAMILY, seq, make([]byte, 40)), wantErr: "truncated inet_diag_msg (40 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c tcpCounts
			done, err := c.add(tt.in, seq)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if done != tt.done {
				t.Errorf("done = %v, want %v", done, tt.done)
			}
			for i, n := range c.states {
				if n != tt.states[i+1] {
					t.Errorf("state %s: %d, want %d", tcpStateNames[i], n, tt.states[i+1])
				}
			}
			if c.rxQueued != tt.rx || c.txQueued != tt.tx {
				t.Errorf("queues rx %d tx %d, want %d %d", c.rxQueued, c.txQueued, tt.rx, tt.tx)
			}
		})
	}
}

// TestTCPStatLive counts this process's own sockets through sock_diag.
func TestTCPStatLive(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no IPv4 loopback: %v", err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	listeners := 1.0
	if ln6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		defer ln6.Close()
		listeners++
	}

	var noted []string
	roots := fixtureRoots()
	roots.Trace = func(p string) { noted = append(noted, p) }
	c := newByName(t, roots, Config{}, "tcpstat")
	fams, err := collector.CollectOnce(t.Context(), c)
	if err != nil {
		if errorsIsNoData(err) {
			t.Skipf("no sock_diag here: %v", err)
		}
		t.Fatal(err)
	}
	r := result{}
	for _, f := range fams {
		r[f.Desc.Name] = f
	}
	r.shape(t, "node_tcp_connection_states", collector.Gauge, "state")
	if n := len(r["node_tcp_connection_states"].Samples); n != tcpStates+2 {
		t.Errorf("%d samples, want %d (every state, zeros included, and two queue sums)", n, tcpStates+2)
	}
	for _, st := range append(tcpStateNames[:], "rx_queued_bytes", "tx_queued_bytes") {
		if _, ok := r.value("node_tcp_connection_states", st); !ok {
			t.Errorf("state %s missing", st)
		}
	}
	if v, _ := r.value("node_tcp_connection_states", "listen"); v < listeners {
		t.Errorf("listen = %v, want >= %v (the test's own listeners)", v, listeners)
	}
	if v, _ := r.value("node_tcp_connection_states", "established"); v < 2 {
		t.Errorf("established = %v, want >= 2 (the test's own connection, both ends)", v)
	}
	if len(noted) != 1 || noted[0] != "netlink:sock_diag" {
		t.Errorf("trace %q, want [netlink:sock_diag]", noted)
	}
}

func TestTCPStatExpiredDeadline(t *testing.T) {
	ctx, cancel := contextWithPastDeadline(t)
	defer cancel()
	c := newByName(t, fixtureRoots(), Config{}, "tcpstat")
	if _, err := collector.CollectOnce(ctx, c); err == nil {
		t.Fatal("no error with an expired deadline")
	}
}

// TestTCPStatIntervalConfig: tcpstat is a Scheduled collector, every 5 s by
// default, and a negative tcpstat_interval is refused with the fix.
func TestTCPStatIntervalConfig(t *testing.T) {
	_, err := New(fixtureRoots(), Config{TCPStatInterval: -time.Second})
	want := "network config: tcpstat_interval is -1s; it must be positive (for example 5s), or 0 for the default of 5s"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	for _, tt := range []struct {
		in, want time.Duration
	}{{0, 5 * time.Second}, {time.Second, time.Second}, {time.Minute, time.Minute}} {
		c := newByName(t, fixtureRoots(), Config{TCPStatInterval: tt.in}, "tcpstat")
		s, ok := c.(collector.Scheduled)
		if !ok {
			t.Fatal("tcpstat is not a collector.Scheduled")
		}
		if got := s.MinInterval(); got != tt.want {
			t.Errorf("tcpstat_interval %s: interval %s, want %s", tt.in, got, tt.want)
		}
	}
}
