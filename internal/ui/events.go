package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/collector"
)

// heartbeat is how often an idle stream gets a comment line, so proxies
// and browsers keep it open.
const heartbeat = 15 * time.Second

// writeTimeout bounds one write to a stream: a browser that stopped
// reading is dropped rather than holding the agent's memory.
const writeTimeout = 10 * time.Second

// hub fans each tick's event out to the open streams. The event is built
// and encoded once per tick, and only while someone listens.
type hub struct {
	build func(*agent.State) Payload

	mu       sync.Mutex
	streams  map[chan []byte]struct{}
	lastSnap *collector.Snapshot
	last     []byte
}

func newHub(build func(*agent.State) Payload) *hub {
	return &hub{build: build, streams: map[chan []byte]struct{}{}}
}

// event returns st's encoded event, building it at most once per tick.
func (h *hub) event(st *agent.State) []byte {
	h.mu.Lock()
	if h.lastSnap == st.Snapshot && h.last != nil {
		ev := h.last
		h.mu.Unlock()
		return ev
	}
	h.mu.Unlock()
	ev := encodeEvent("snapshot", h.build(st))
	h.mu.Lock()
	if h.lastSnap == nil || !st.Snapshot.Time.Before(h.lastSnap.Time) {
		h.lastSnap, h.last = st.Snapshot, ev
	}
	h.mu.Unlock()
	return ev
}

// publish sends st's event to every stream; a stream that has not taken
// the previous event yet gets this one instead (browsers want the latest,
// not a backlog).
func (h *hub) publish(st *agent.State) {
	h.mu.Lock()
	n := len(h.streams)
	h.mu.Unlock()
	if n == 0 {
		return
	}
	ev := h.event(st)
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.streams {
		select {
		case ch <- ev:
		default:
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- ev:
			default:
			}
		}
	}
}

// join adds a stream.
func (h *hub) join() chan []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan []byte, 1)
	h.streams[ch] = struct{}{}
	return ch
}

func (h *hub) leave(ch chan []byte) {
	h.mu.Lock()
	delete(h.streams, ch)
	h.mu.Unlock()
}

// count is the number of open streams.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}

// Event returns the server-sent event every stream receives for st: its
// snapshot, runs and alerts, encoded once per tick.
func (u *UI) Event(st *agent.State) []byte { return u.hub.event(st) }

// encodeEvent is one server-sent event: its name and v as one data line.
func encodeEvent(name string, v any) []byte {
	var b bytes.Buffer
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteString("\ndata: ")
	if err := json.NewEncoder(&b).Encode(v); err != nil { // ends with '\n'
		b.Reset()
		fmt.Fprintf(&b, "event: problem\ndata: {\"error\":%q}\n", "encoding the snapshot: "+err.Error())
	}
	b.WriteString("\n")
	return b.Bytes()
}

// sse prepares w for a stream of events.
func sse(w http.ResponseWriter) *http.ResponseController {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return http.NewResponseController(w)
}

// send writes one event (or comment) and flushes it.
func send(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}

// handleEvents streams this agent's snapshots, or, with ?instance= naming
// another host of the fleet, that host's snapshots read from the central
// Prometheus.
func (u *UI) handleEvents(w http.ResponseWriter, r *http.Request) {
	if inst := r.URL.Query().Get("instance"); inst != "" && inst != u.opts.Instance {
		u.fleetEvents(w, r, inst)
		return
	}
	if !u.acquireStream(w) {
		return
	}
	defer u.releaseStream()
	ch := u.hub.join()
	defer u.hub.leave(ch)
	rc := sse(w)
	// A reconnecting browser waits 2 s, not its default 3 to 5.
	if err := send(w, rc, []byte("retry: 2000\n\n")); err != nil {
		return
	}
	if st := u.opts.States.Latest(); st != nil {
		if err := send(w, rc, u.hub.event(st)); err != nil {
			return
		}
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-u.closing:
			return
		case ev := <-ch:
			if err := send(w, rc, ev); err != nil {
				return
			}
		case <-beat.C:
			if err := send(w, rc, []byte(": keep-alive\n\n")); err != nil {
				return
			}
		}
	}
}

// acquireStream takes one of the MaxStreams stream slots, or answers 429.
func (u *UI) acquireStream(w http.ResponseWriter) bool {
	select {
	case u.slots <- struct{}{}:
		return true
	default:
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("%d dashboard streams are open already; close some dashboard tabs", u.opts.MaxStreams))
		return false
	}
}

func (u *UI) releaseStream() { <-u.slots }
