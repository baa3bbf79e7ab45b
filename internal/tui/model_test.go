package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// feed builds a model over src and gives it the messages a program would:
// a size, the source's first event, and (for the processes panel) the
// process list. No program runs: Update and View are called directly.
func feed(t testing.TB, src *fakeSource, profile colorprofile.Profile, w, h int) *Model {
	t.Helper()
	m := New(Options{Source: src, Profile: profile, Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(eventMsg(src.events[0]))
	m.Update(infoMsg{src.info})
	return m
}

// TestFramesFitEverySize renders every panel and overlay at sizes from
// tiny to huge, in colour: every frame is exactly the terminal's height
// and no line is wider than its width (nothing wraps or overflows).
func TestFramesFitEverySize(t *testing.T) {
	src := newFake(t)
	sizes := [][2]int{{20, 5}, {39, 9}, {40, 10}, {60, 15}, {80, 24}, {81, 25}, {99, 29}, {100, 30}, {120, 40}, {159, 44}, {160, 45}, {200, 60}, {250, 80}, {320, 100}}
	for _, sz := range sizes {
		w, h := sz[0], sz[1]
		m := feed(t, src, colorprofile.ANSI256, w, h)
		m.Update(procsMsg{list: src.procs, gen: m.procGen})
		for p := range numPanels {
			m.setPanel(p)
			if p == panelProcesses {
				m.Update(procsMsg{list: src.procs, gen: m.procGen})
			}
			checkFrame(t, m.screen(), w, h)
			for _, mode := range []string{"help", "tree", "dialog"} {
				switch mode {
				case "help":
					m.help = true
				case "tree":
					m.pv.tree = true
					m.pv.invalidate()
				case "dialog":
					if p == panelProcesses {
						m.openDialog()
					}
				}
				m.dirty = true
				checkFrame(t, m.screen(), w, h)
				m.help, m.dialog, m.pv.tree = false, nil, false
				m.pv.invalidate()
			}
		}
	}
}

// sgr matches a Select Graphic Rendition sequence: colour, bold, reverse.
var sgr = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// TestNoColor: with NO_COLOR set (even where colour is forced) the
// profile is colorprofile.ASCII and the program writes no SGR sequence at all;
// without it, colour is used.
func TestNoColor(t *testing.T) {
	t.Setenv("CLICOLOR_FORCE", "1") // a buffer is not a terminal
	cases := []struct {
		name      string
		noColor   string
		flag      bool
		wantColor bool
	}{
		{"forced colour", "", false, true},
		{"NO_COLOR", "1", false, false},
		{"--no-color", "", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", c.noColor)
			var buf bytes.Buffer
			profile := ColorProfile(&buf, c.flag)
			if (profile != colorprofile.ASCII) != c.wantColor {
				t.Fatalf("profile %v, want colour %v", profile, c.wantColor)
			}
			src := newFake(t)
			m := New(Options{Source: src, Profile: profile, Location: time.UTC, ProcessRefresh: time.Hour})
			tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
			defer m.Close()
			await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
			keys(tm, "7")
			await(t, tm, "the process list", func(m *Model) bool { return m.procs != nil })
			keys(tm, "?", "?", "2", "9", "q")
			tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
			out, err := io.ReadAll(tm.FinalOutput(t))
			if err != nil {
				t.Fatal(err)
			}
			got := sgr.FindAll(out, -1)
			if c.wantColor && len(got) == 0 {
				t.Error("no colour in the output")
			}
			if !c.wantColor && len(got) > 0 {
				t.Errorf("%d SGR sequences in the output with no colour, e.g. %q", len(got), got[0])
			}
		})
	}
}

// TestResize: a new size re-renders the frame at that size.
func TestResize(t *testing.T) {
	src := newFake(t)
	tm, _ := testModel(t, src, 200, 60)
	await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {60, 20}, {200, 60}} {
		tm.Send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		var frame string
		await(t, tm, "the new size", func(m *Model) bool {
			frame = m.screen()
			return m.width == sz[0]
		})
		checkFrame(t, frame, sz[0], sz[1])
	}
}

// TestSignalFlow: k asks, y sends the chosen signal through the source,
// the answer is shown; a source that may not signal says why.
func TestSignalFlow(t *testing.T) {
	t.Run("confirmed KILL", func(t *testing.T) {
		src := newFake(t)
		tm, _ := testModel(t, src, 120, 40)
		await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
		keys(tm, "7")
		await(t, tm, "the process list", func(m *Model) bool { return m.procs != nil })
		keys(tm, "down", "down", "k", "right", "y")
		await(t, tm, "the signal's result", func(m *Model) bool { return strings.HasPrefix(m.status, "Sent") })
		got := src.sent()
		if len(got) != 1 || got[0].pid != 4103 || got[0].sig != syscall.SIGKILL {
			t.Errorf("signals sent: %+v, want SIGKILL to 4103", got)
		}
		frame := finalView(t, tm)
		if !strings.Contains(frame, "Sent SIGKILL to PID 4103") {
			t.Errorf("no confirmation in the footer:\n%s", frame)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		src := newFake(t)
		tm, _ := testModel(t, src, 120, 40)
		await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
		keys(tm, "7")
		await(t, tm, "the process list", func(m *Model) bool { return m.procs != nil })
		keys(tm, "k", "n")
		await(t, tm, "the dialog to close", func(m *Model) bool { return m.dialog == nil && m.status != "" })
		if got := src.sent(); len(got) != 0 {
			t.Errorf("signals sent after N: %+v", got)
		}
	})
	t.Run("failed", func(t *testing.T) {
		src := newFake(t)
		src.signalErr = fmt.Errorf("PID 4101: no such process (it has exited): %w", syscall.ESRCH)
		tm, _ := testModel(t, src, 120, 40)
		await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
		keys(tm, "7")
		await(t, tm, "the process list", func(m *Model) bool { return m.procs != nil })
		keys(tm, "k", "y")
		await(t, tm, "the error", func(m *Model) bool { return m.statusBad && strings.Contains(m.status, "no such process") })
	})
	t.Run("remote agent", func(t *testing.T) {
		src := newFake(t)
		src.canSignal = fmt.Errorf("the agent at http://gpu-box:9835 may be another machine")
		tm, _ := testModel(t, src, 120, 40)
		await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
		keys(tm, "7")
		await(t, tm, "the process list", func(m *Model) bool { return m.procs != nil })
		keys(tm, "k")
		frame := finalView(t, tm)
		if !strings.Contains(frame, "Cannot send signals: the agent at http://gpu-box:9835 may be another machine") {
			t.Errorf("no explanation:\n%s", frame)
		}
	})
}

// TestProcessRefreshOnlyWhileVisible: the process list is fetched when its
// panel opens and every ProcessRefresh while it stays open, never after.
func TestProcessRefreshOnlyWhileVisible(t *testing.T) {
	src := &countingSource{fakeSource: newFake(t)}
	m := New(Options{Source: src, Profile: colorprofile.ASCII, Location: time.UTC, ProcessRefresh: 20 * time.Millisecond})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	await(t, tm, "the fixture", func(m *Model) bool { return m.payload != nil })
	time.Sleep(100 * time.Millisecond)
	if n := src.count(); n != 0 {
		t.Fatalf("%d process fetches before the panel was opened", n)
	}
	keys(tm, "7")
	time.Sleep(200 * time.Millisecond)
	open := src.count()
	if open < 3 {
		t.Errorf("%d fetches in 200 ms with the panel open, want about 10", open)
	}
	keys(tm, "1")
	time.Sleep(60 * time.Millisecond) // a fetch in flight may finish
	closed := src.count()
	time.Sleep(200 * time.Millisecond)
	if n := src.count(); n != closed {
		t.Errorf("%d fetches after the panel was closed", n-closed)
	}
}

// countingSource counts process fetches.
type countingSource struct {
	*fakeSource
	mu      sync.Mutex
	fetches int
}

func (c *countingSource) Processes(ctx context.Context) (*ui.ProcessList, error) {
	c.mu.Lock()
	c.fetches++
	c.mu.Unlock()
	return c.fakeSource.Processes(ctx)
}

func (c *countingSource) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}
