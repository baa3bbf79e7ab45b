package tui

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// seeded is feed with the graphs seeded from the fake history, as after
// the first second of a real session.
func seeded(t testing.TB, src *fakeSource, profile colorprofile.Profile, w, h int) *Model {
	t.Helper()
	m := feed(t, src, profile, w, h)
	if msg, ok := m.seedHost(m.payload)().(seedMsg); ok {
		m.onSeed(msg)
	}
	for _, r := range m.payload.Runs {
		if cmd := m.seedRun(r, m.payload.Host.Time); cmd != nil {
			if msg, ok := cmd().(seedMsg); ok {
				m.onSeed(msg)
			}
		}
	}
	m.Update(procsMsg{list: src.procs, gen: m.procGen})
	return m
}

// nextPayload is p one second later, with GPU 0's power changed: what the
// next tick of a steady machine looks like.
func nextPayload(t testing.TB, p *ui.Payload, i int) *ui.Payload {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q ui.Payload
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	q.Host.Time = p.Host.Time.Add(time.Duration(i) * time.Second)
	w := 600 + float64(i%50)
	q.Host.GPUs[0].PowerWatts = &w
	return &q
}

// BenchmarkView is a full frame at 120×40 (and the heaviest panel at
// 200×60) from the fixture, with seeded graphs and colour: what each
// change costs to draw.
func BenchmarkView(b *testing.B) {
	src := newFake(b)
	for _, p := range []struct {
		name string
		key  string
		w, h int
	}{
		{"overview", "1", 120, 40}, {"gpus", "2", 120, 40}, {"cpu", "3", 120, 40},
		{"processes", "7", 120, 40}, {"runs", "8", 120, 40}, {"gpus_200x60", "2", 200, 60},
	} {
		b.Run(p.name, func(b *testing.B) {
			m := seeded(b, src, colorprofile.ANSI256, p.w, p.h)
			m.Update(keyMsg(p.key))
			m.Update(procsMsg{list: src.procs, gen: m.procGen})
			b.ReportAllocs()
			for b.Loop() {
				m.dirty = true
				_ = m.screen()
			}
		})
	}
}

// BenchmarkUpdateSnapshot is one tick: a new snapshot taken in and the
// overview drawn at 120×40 — the UI's whole per-second work besides
// decoding (BenchmarkDecodeSnapshot).
func BenchmarkUpdateSnapshot(b *testing.B) {
	src := newFake(b)
	m := seeded(b, src, colorprofile.ANSI256, 120, 40)
	payloads := make([]*ui.Payload, 64)
	for i := range payloads {
		payloads[i] = nextPayload(b, m.payload, i+1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := *payloads[i%len(payloads)]
		h := *p.Host
		h.Time = h.Time.Add(time.Duration(i) * 64 * time.Second) // always newer
		p.Host = &h
		m.Update(eventMsg(Event{Payload: &p}))
		_ = m.screen()
		i++
	}
}

// BenchmarkDecodeSnapshot decodes the fixture's server-sent event data
// (the 8-GPU snapshot the agent sends each second).
func BenchmarkDecodeSnapshot(b *testing.B) {
	data, err := json.Marshal(loadPayload(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var p ui.Payload
		if err := json.Unmarshal(data, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOnlyChangedLinesRewritten: the next tick rewrites what changed, not
// the screen: no erase-screen sequence, and far fewer bytes than the first
// frame (Bubble Tea's renderer writes only changed cells; the UI keeps
// lines stable by not redrawing what did not change).
func TestOnlyChangedLinesRewritten(t *testing.T) {
	src := newFake(t)
	m := New(Options{Source: src, Profile: colorprofile.ANSI256, Location: time.UTC, ProcessRefresh: time.Hour})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
	keys(tm, "4") // disks at 80×24: numbers only, no graph scrolls by
	out := tm.Output()
	var first bytes.Buffer
	teatest.WaitFor(t, out, func(b []byte) bool {
		first.Write(b)
		return strings.Contains(first.String(), "BLOCK DEVICES")
	}, teatest.WithDuration(5*time.Second))
	time.Sleep(100 * time.Millisecond) // let the renderer flush
	_, _ = io.Copy(&first, out)

	next := nextPayload(t, currentPayload(tm), 1)
	next.Host.Disks[0].ReadBytesPerSecond = 123e6
	tm.Send(eventMsg(Event{Payload: next}))
	// The renderer writes only the cells that changed (a few of "117M/s"),
	// so the text need not appear whole: wait until the model has the
	// value, then take what the next frames wrote.
	await(t, tm, "the new value", func(m *Model) bool { return strings.Contains(m.screen(), "117M/s") })
	time.Sleep(300 * time.Millisecond) // let the renderer flush (20 frames a second)
	var second bytes.Buffer
	_, _ = io.Copy(&second, out)
	if second.Len() == 0 {
		t.Fatal("the next tick wrote nothing")
	}

	if bytes.Contains(second.Bytes(), []byte("\x1b[2J")) {
		t.Error("the second frame erases the screen")
	}
	if strings.Contains(second.String(), "FILESYSTEMS") || strings.Contains(second.String(), "nvme0n1") {
		t.Errorf("unchanged lines were rewritten: %q", second.String())
	}
	if second.Len()*5 > first.Len() {
		t.Errorf("the second frame wrote %d bytes, the first %d: more than a fifth", second.Len(), first.Len())
	}
	t.Logf("first frame %d bytes, next tick %d bytes", first.Len(), second.Len())
}

// currentPayload reads the model's payload inside Update.
func currentPayload(tm *teatest.TestModel) *ui.Payload {
	ch := make(chan *ui.Payload, 1)
	tm.Send(inspectMsg(func(m *Model) { ch <- m.payload }))
	return <-ch
}

// The model is a tea.Model.
var _ tea.Model = (*Model)(nil)
