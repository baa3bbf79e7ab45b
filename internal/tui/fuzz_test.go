package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// streamTransport answers the event stream request with a fixed body.
type streamTransport struct{ body []byte }

func (s streamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(s.body)), Request: r,
	}, nil
}

// FuzzAgentStream reads any event stream as `trainwatch top` reads a
// (possibly remote, possibly other-version) agent's, with any process
// list, and draws every panel of what it delivered at a fuzzed terminal
// size: nothing panics, and every frame fits the terminal and holds no
// control character but the UI's own colours.
func FuzzAgentStream(f *testing.F) {
	snap, err := os.ReadFile("testdata/snapshot.json")
	if err != nil {
		f.Fatal(err)
	}
	procs, err := os.ReadFile("testdata/processes.json")
	if err != nil {
		f.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, snap); err != nil {
		f.Fatal(err)
	}
	event := func(data []byte) []byte {
		return append(append([]byte("retry: 5000\n\n: keep-alive\nevent: snapshot\ndata: "), data...), "\n\n"...)
	}
	f.Add(event(compact.Bytes()), procs, uint8(120), uint8(40))
	f.Add(event(compact.Bytes()), []byte(`{"processes":[]}`), uint8(80), uint8(24))
	f.Add([]byte("event: snapshot\ndata: {\"host\":{\"time\":\"2026-11-28T12:00:00Z\",\"cpu\":{\"utilization_percent\":-50}},\"runs\":[{\"id\":\"r\",\"name\":\"\\u001b[2J\",\"progress\":7,\"steps_per_second\":-1e308}]}\n\n"),
		[]byte(`{"processes":[{"pid":-1,"ppid":-1,"name":"a\u0000b","cpu_percent":1e308,"memory_bytes":-5}]}`), uint8(30), uint8(6))
	f.Add([]byte("event: snapshot\ndata: {\"host\":null}\n\n"), []byte(`null`), uint8(200), uint8(60))
	f.Add([]byte("event: problem\ndata: {\"error\":\"x\"}\n\nevent: snapshot\ndata: {\n\n"), []byte(`{`), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, stream, procJSON []byte, w, h uint8) {
		width, height := 20+int(w)%200, 5+int(h)%60
		a, err := NewAgentSource("http://127.0.0.1:9835")
		if err != nil {
			t.Fatal(err)
		}
		a.stream = &http.Client{Transport: streamTransport{stream}}
		events := make(chan Event, 1024)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err = a.readStream(ctx, events)
		if err == nil || err.Error() == "" {
			t.Fatalf("a stream that ended returned %v", err)
		}
		close(events)

		m := New(Options{Source: a, Profile: colorprofile.ANSI256, Location: time.UTC, ProcessRefresh: time.Hour})
		defer m.cancel()
		m.Update(tea.WindowSizeMsg{Width: width, Height: height})
		n := 0
		for ev := range events {
			if ev.Payload == nil || ev.Payload.Host == nil {
				t.Fatalf("event without a snapshot: %+v", ev)
			}
			if n++; n > 3 {
				break
			}
			m.Update(eventMsg(ev))
		}
		var list ui.ProcessList
		if json.Unmarshal(procJSON, &list) == nil {
			m.Update(procsMsg{list: &list, gen: m.procGen})
		}
		for p := panelOverview; p < numPanels; p++ {
			m.panel = p
			m.pv.invalidate()
			checkFrame(t, m.screen(), width, height)
		}
	})
}
