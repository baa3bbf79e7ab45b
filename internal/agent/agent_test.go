package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/trainwatch/trainwatch/internal/collector"
)

type counter struct {
	desc *collector.Desc
	n    float64
}

func (c *counter) Name() string { return "counter" }
func (c *counter) Collect(_ context.Context, e *collector.Emitter) error {
	c.n++
	e.Emit(c.desc, c.n)
	return nil
}

type recordingSink struct {
	mu    sync.Mutex
	times []time.Time
}

func (s *recordingSink) Consume(_ context.Context, snap *collector.Snapshot) {
	s.mu.Lock()
	s.times = append(s.times, snap.Time)
	s.mu.Unlock()
}

func TestRunPublishesEveryTick(t *testing.T) {
	c := &counter{desc: collector.NewDesc("ticks", "Ticks.", collector.Counter)}
	r, err := collector.NewRunner(collector.RunnerOptions{}, c)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	a := New(r, 100*time.Millisecond, nil, sink)
	if a.Ready() || a.Latest() != nil {
		t.Fatal("ready before the first tick")
	}
	updates, cancelSub := a.Subscribe()
	defer cancelSub()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	var last *State
	for i := 0; i < 3; i++ {
		select {
		case last = <-updates:
		case <-time.After(5 * time.Second):
			t.Fatal("no update from the loop")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !a.Ready() || last.Prev == nil || !last.Prev.Time.Before(last.Snapshot.Time) {
		t.Fatalf("state lacks an earlier snapshot for rates: %+v", last)
	}
	if v := last.Snapshot.Family("ticks").Samples[0].Value; v < 3 {
		t.Fatalf("ticks = %v after three updates", v)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.times) < 3 {
		t.Fatalf("sink saw %d snapshots, want >= 3", len(sink.times))
	}
}

func TestSelfCollector(t *testing.T) {
	c, err := NewSelfCollector()
	if err != nil {
		t.Fatal(err)
	}
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]collector.ValueType{
		"process_resident_memory_bytes": collector.Gauge,
		"process_cpu_seconds_total":     collector.Counter,
		"go_goroutines":                 collector.Gauge,
		"go_gc_duration_seconds":        collector.Summary,
	}
	for _, f := range fams {
		if tp, ok := want[f.Desc.Name]; ok {
			if f.Desc.Type != tp {
				t.Errorf("%s is %s, want %s", f.Desc.Name, f.Desc.Type, tp)
			}
			delete(want, f.Desc.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing self-metrics: %v", want)
	}
}

// countingGatherer counts its Gather calls and reports the count as a gauge.
type countingGatherer struct{ n int }

func (g *countingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.n++
	name, help, v := "go_goroutines", "Number of goroutines.", float64(g.n)
	typ := dto.MetricType_GAUGE
	return []*dto.MetricFamily{{Name: &name, Help: &help, Type: &typ, Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}}, nil
}

// TestSelfCollectorRefresh: the agent's own metrics are gathered again
// only every selfRefresh; the ticks between emit the last values, so the
// families never go missing from a snapshot.
func TestSelfCollectorRefresh(t *testing.T) {
	g := &countingGatherer{}
	now := time.Unix(1000, 0)
	c := &selfCollector{g: g, now: func() time.Time { return now }}
	tests := []struct {
		advance time.Duration
		want    float64 // the value emitted: which gathering it came from
	}{
		{0, 1},
		{time.Second, 1},
		{selfRefresh - time.Second - time.Nanosecond, 1},
		{time.Nanosecond, 2}, // selfRefresh after the first
		{3 * time.Second, 2},
		{-time.Hour, 3}, // the clock went back: gather again
	}
	for i, tt := range tests {
		now = now.Add(tt.advance)
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if len(fams) != 1 || len(fams[0].Samples) != 1 || fams[0].Samples[0].Value != tt.want {
			t.Errorf("tick %d: got %+v, want go_goroutines %v", i, fams, tt.want)
		}
	}
}
