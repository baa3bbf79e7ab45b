package tui

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/trainwatch/trainwatch/internal/summary"
	"github.com/trainwatch/trainwatch/internal/ui"
)

// loadPayload reads the fixture snapshot: an 8-GPU training node (one GPU
// throttled, one with XIDs, one lost), 32 cores, three runs, two alerts.
func loadPayload(t testing.TB) *ui.Payload {
	t.Helper()
	b, err := os.ReadFile("testdata/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var p ui.Payload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// loadProcesses reads the fixture process list (a torchrun job with six
// ranks and their workers, a notebook holding GPU memory, a container).
func loadProcesses(t testing.TB) *ui.ProcessList {
	t.Helper()
	b, err := os.ReadFile("testdata/processes.json")
	if err != nil {
		t.Fatal(err)
	}
	var l ui.ProcessList
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return &l
}

// sentSignal is a signal the fake source was asked to send.
type sentSignal struct {
	pid int
	sig syscall.Signal
}

// fakeSource serves fixed data: its stream sends the events given, then
// waits; its history is synthetic and deterministic.
type fakeSource struct {
	label     string
	events    []Event
	procs     *ui.ProcessList
	procErr   error
	info      Info
	noHistory bool
	signalErr error
	canSignal error

	mu      sync.Mutex
	signals []sentSignal
}

func newFake(t testing.TB) *fakeSource {
	return &fakeSource{
		label:  "agent http://127.0.0.1:9835",
		events: []Event{{Payload: loadPayload(t)}},
		procs:  loadProcesses(t),
		info:   Info{Interval: time.Second, History: true, Runs: true, Alerting: true, Processes: true, Version: "test"},
	}
}

func (f *fakeSource) Label() string { return f.label }

func (f *fakeSource) Stream(ctx context.Context, events chan<- Event) {
	for _, ev := range f.events {
		if !send(ctx, events, ev) {
			return
		}
	}
	<-ctx.Done()
}

func (f *fakeSource) Info(context.Context) (Info, error) { return f.info, nil }

func (f *fakeSource) Processes(context.Context) (*ui.ProcessList, error) {
	if f.procErr != nil {
		return nil, f.procErr
	}
	return f.procs, nil
}

// QueryRange answers every seed query with deterministic waves: one series
// per GPU, disk or interface of the fixture, and falling loss curves.
func (f *fakeSource) QueryRange(_ context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	if f.noHistory {
		return nil, ErrNoHistory
	}
	n := int(end.Sub(start)/step) + 1
	wave := func(base, amp, phase float64) []Point {
		pts := make([]Point, n)
		for i := range pts {
			pts[i] = Point{T: start.Add(time.Duration(i) * step).UnixMilli(), V: base + amp*math.Sin(float64(i)/9+phase)}
		}
		return pts
	}
	var out []Series
	label := func(k string, vs ...string) {
		for i, v := range vs {
			base, amp := 50.0, 40.0
			switch {
			case strings.Contains(expr, "TEMP"):
				base, amp = 60, 10
			case strings.Contains(expr, "POWER"):
				base, amp = 500, 150
			case strings.Contains(expr, "rate("):
				base, amp = 2e8, 1.9e8
			}
			out = append(out, Series{Labels: map[string]string{k: v}, Points: wave(base, amp, float64(i))})
		}
	}
	switch {
	case strings.Contains(expr, "training_loss"):
		pts := make([]Point, n)
		for i := range pts {
			x := float64(i) / float64(n)
			v := 0.9 + 1.7*math.Exp(-4*x) + 0.03*math.Sin(float64(i))
			if strings.Contains(expr, "resnet") && i > n-5 {
				v = math.NaN()
			}
			pts[i] = Point{T: start.Add(time.Duration(i) * step).UnixMilli(), V: v}
		}
		out = append(out, Series{Labels: map[string]string{"__name__": "training_loss"}, Points: pts})
	case strings.Contains(expr, "trainwatch_gpu_"):
	case strings.Contains(expr, "DCGM"):
		label("gpu", "0", "1", "2", "3", "4", "5", "6")
	case strings.Contains(expr, "node_disk"):
		label("device", "md0", "nvme0n1")
	case strings.Contains(expr, "node_network"):
		label("device", "eth0", "ib0", "lo")
	default:
		out = append(out, Series{Labels: map[string]string{}, Points: wave(45, 30, 0)})
	}
	return out, nil
}

func (f *fakeSource) CanSignal() error { return f.canSignal }

func (f *fakeSource) Signal(pid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, sentSignal{pid, sig})
	return f.signalErr
}

func (f *fakeSource) sent() []sentSignal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentSignal(nil), f.signals...)
}

// testModel runs the UI over src in a teatest program of w × h cells, in
// UTC and without colour.
func testModel(t *testing.T, src Source, w, h int) (*teatest.TestModel, *Model) {
	t.Helper()
	m := New(Options{Source: src, Profile: colorprofile.ASCII, Location: time.UTC, ProcessRefresh: time.Hour})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	t.Cleanup(func() {
		_ = tm.Quit()
		m.Close()
	})
	return tm, m
}

// await waits until cond holds for the model, checking inside Update.
func await(t *testing.T, tm *teatest.TestModel, what string, cond func(m *Model) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ch := make(chan bool, 1)
		tm.Send(inspectMsg(func(m *Model) { ch <- cond(m) }))
		select {
		case ok := <-ch:
			if ok {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the program stopped answering while waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// seededReady: the fixture arrived and the graphs were seeded.
func seededReady(m *Model) bool {
	if m.payload == nil || m.hist.series[keyCPU] == nil || m.hist.series[keyCPU].n < historyLen/2 {
		return false
	}
	for _, r := range m.payload.Runs {
		if c := m.hist.runs[r.ID]; c == nil || len(c.v) < 10 {
			return false
		}
	}
	return true
}

// keys sends each key: a single character, or a name ("enter", "esc",
// "down", "tab").
func keys(tm *teatest.TestModel, ks ...string) {
	for _, k := range ks {
		tm.Send(keyMsg(k))
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	codes := map[string]rune{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "down": tea.KeyDown, "up": tea.KeyUp,
		"tab": tea.KeyTab, "right": tea.KeyRight, "left": tea.KeyLeft, "backspace": tea.KeyBackspace,
		"end": tea.KeyEnd, "pgdown": tea.KeyPgDown, "space": tea.KeySpace,
	}
	if c, ok := codes[k]; ok {
		return tea.KeyPressMsg{Code: c}
	}
	if k == "ctrl+c" {
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// finalView quits the program and returns its last frame.
func finalView(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
	m, ok := fm.(*Model)
	if !ok {
		t.Fatalf("final model is %T", fm)
	}
	return m.screen()
}

// checkFrame fails when a frame is not exactly h lines of at most w cells,
// or when a line holds a control character other than the styles' own
// SGR sequences.
func checkFrame(t *testing.T, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != h {
		t.Errorf("frame has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := width(l); n > w {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i+1, n, w, l)
		}
		if bare := sgr.ReplaceAllString(l, ""); strings.ContainsFunc(bare, isControl) {
			t.Errorf("line %d holds a control character: %q", i+1, l)
		}
	}
}

var errTest = errors.New("connection refused")

// collectorStatus is a collector whose source is absent on the machine.
func collectorStatus(name, msg string) summary.CollectorStatus {
	return summary.CollectorStatus{Name: name, Error: msg, NoData: true}
}
