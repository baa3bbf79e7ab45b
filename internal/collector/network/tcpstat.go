package network

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// Netlink sock_diag sizes and values (linux/sock_diag.h, linux/inet_diag.h).
const (
	nlmsgHdrLen     = 16
	inetDiagReqLen  = 56 // struct inet_diag_req_v2
	inetDiagMsgLen  = 72 // struct inet_diag_msg
	tcpfAll         = 0xFFF
	tcpStates       = 11 // TCP_ESTABLISHED (1) .. TCP_CLOSING (11)
	diagRecvBufSize = 64 << 10
)

// tcpStateNames are node_exporter's names of the TCP states 1..11.
var tcpStateNames = [tcpStates]string{
	"established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
	"close", "close_wait", "last_ack", "listen", "closing",
}

// tcpCounts is the result of a dump: sockets per state (index state-1) and
// the summed receive and send queues.
type tcpCounts struct {
	states   [tcpStates]uint64
	rxQueued uint64
	txQueued uint64
}

// tcpstatCollector counts TCP sockets by state for AF_INET and AF_INET6
// through a NETLINK_SOCK_DIAG dump (SOCK_DIAG_BY_FAMILY, inet_diag_req_v2,
// no extensions), as node_exporter's tcpstat collector. It never reads
// /proc/net/tcp, whose cost grows with the number of sockets much faster.
// The dump always describes the running kernel (the agent's network
// namespace), whatever the roots.
type tcpstatCollector struct {
	roots  hostfs.Roots
	buf    []byte
	req    [nlmsgHdrLen + inetDiagReqLen]byte
	seq    uint32
	counts tcpCounts
	desc   *collector.Desc
	labels [tcpStates + 2][]string
	every  time.Duration
}

// newTCPStat returns the collector, run every interval (0: every tick).
func newTCPStat(roots hostfs.Roots, every time.Duration) *tcpstatCollector {
	c := &tcpstatCollector{
		roots: roots,
		every: every,
		desc:  collector.NewDesc("node_tcp_connection_states", "Number of connection states.", collector.Gauge, "state"),
	}
	for i, n := range tcpStateNames {
		c.labels[i] = []string{n}
	}
	c.labels[tcpStates] = []string{"rx_queued_bytes"}
	c.labels[tcpStates+1] = []string{"tx_queued_bytes"}
	return c
}

func (c *tcpstatCollector) Name() string { return "tcpstat" }

// MinInterval makes the Runner dump the sockets only this often
// (collector.Scheduled); the ticks in between serve the last counts.
func (c *tcpstatCollector) MinInterval() time.Duration { return c.every }

func (c *tcpstatCollector) Collect(ctx context.Context, e *collector.Emitter) error {
	c.roots.Note("netlink:sock_diag")
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) {
			return fmt.Errorf("tcpstat: netlink sock_diag unavailable (%v): %w", err, collector.ErrNoData)
		}
		return fmt.Errorf("open netlink sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	if dl, ok := ctx.Deadline(); ok {
		d := time.Until(dl)
		if d <= 0 {
			return fmt.Errorf("tcpstat: %w", context.DeadlineExceeded)
		}
		tv := unix.NsecToTimeval(d.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("set netlink receive timeout: %w", err)
		}
	}
	if cap(c.buf) < diagRecvBufSize {
		c.buf = make([]byte, diagRecvBufSize)
	}
	c.counts = tcpCounts{}
	if err := c.dump(fd, unix.AF_INET); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("tcpstat: kernel has no TCP sock_diag (tcp_diag) support: %w", collector.ErrNoData)
		}
		return fmt.Errorf("dump IPv4 TCP sockets: %w", err)
	}
	if err := c.dump(fd, unix.AF_INET6); err != nil &&
		!errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Errorf("dump IPv6 TCP sockets: %w", err)
	}
	for i, n := range c.counts.states {
		e.Emit(c.desc, float64(n), c.labels[i]...)
	}
	e.Emit(c.desc, float64(c.counts.rxQueued), c.labels[tcpStates]...)
	e.Emit(c.desc, float64(c.counts.txQueued), c.labels[tcpStates+1]...)
	return nil
}

// dump sends one SOCK_DIAG_BY_FAMILY request for family and adds the
// answer to c.counts.
func (c *tcpstatCollector) dump(fd int, family uint8) error {
	c.seq++
	r := c.req[:]
	clear(r)
	ne := binary.NativeEndian
	ne.PutUint32(r[0:], uint32(len(r)))
	ne.PutUint16(r[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(r[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(r[8:], c.seq)
	r[nlmsgHdrLen] = family
	r[nlmsgHdrLen+1] = unix.IPPROTO_TCP
	ne.PutUint32(r[nlmsgHdrLen+4:], tcpfAll) // idiag_states; idiag_ext 0: no INET_DIAG_INFO
	for {
		_, err := unix.Write(fd, r)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		break
	}
	for {
		n, err := unix.Read(fd, c.buf[:cap(c.buf)])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return fmt.Errorf("receive: %w", context.DeadlineExceeded)
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		done, err := c.counts.add(c.buf[:n], c.seq)
		if err != nil || done {
			return err
		}
	}
}

// add counts the inet_diag_msg records of one netlink datagram answering
// request seq. It reports done at NLMSG_DONE and returns the kernel's error
// for NLMSG_ERROR.
func (t *tcpCounts) add(b []byte, seq uint32) (done bool, err error) {
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return false, fmt.Errorf("truncated netlink header (%d bytes)", len(b))
		}
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < nlmsgHdrLen || l > len(b) {
			return false, fmt.Errorf("netlink message length %d out of range (%d bytes left)", l, len(b))
		}
		msgSeq := ne.Uint32(b[8:])
		payload := b[nlmsgHdrLen:l]
		if next := (l + 3) &^ 3; next < len(b) {
			b = b[next:]
		} else {
			b = nil
		}
		if msgSeq != seq {
			continue // a late answer to an earlier request
		}
		switch typ {
		case unix.NLMSG_DONE:
			if len(payload) >= 4 {
				if errno := int32(ne.Uint32(payload)); errno < 0 {
					return true, unix.Errno(-errno)
				}
			}
			return true, nil
		case unix.NLMSG_ERROR:
			if len(payload) < 4 {
				return true, errors.New("truncated netlink error message")
			}
			if errno := int32(ne.Uint32(payload)); errno < 0 {
				return true, unix.Errno(-errno)
			}
			continue // an acknowledgement
		case unix.SOCK_DIAG_BY_FAMILY:
		default:
			continue
		}
		if len(payload) < inetDiagMsgLen {
			return false, fmt.Errorf("truncated inet_diag_msg (%d bytes)", len(payload))
		}
		if st := payload[1]; st >= 1 && st <= tcpStates {
			t.states[st-1]++
		}
		t.rxQueued += uint64(ne.Uint32(payload[56:]))
		t.txQueued += uint64(ne.Uint32(payload[60:]))
	}
	return false, nil
}
