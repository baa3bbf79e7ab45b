package runs

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/push"
)

func pushed(method, run string, at time.Time, vals map[string]float64) push.Event {
	ev := push.Event{Method: method, Group: labels.FromStrings("job", "train", "run", run), Time: at}
	for name, v := range vals {
		ev.Families = append(ev.Families, push.Family{Name: name, Type: collector.Gauge, Samples: []push.Sample{{
			Name: name, Labels: labels.FromStrings("__name__", name, "job", "train", "run", run), Value: v}}})
	}
	return ev
}

func TestObservePush(t *testing.T) {
	e := newEnv(t, nil)
	at := e.clk.Now()
	e.reg.ObservePush(pushed(push.MethodPut, "run 1", at, map[string]float64{"training_loss": 0.5, "batches_processed_total": 10, "current_epoch": 1}))
	e.reg.ObservePush(pushed(push.MethodPost, "run 1", at.Add(10*time.Second), map[string]float64{"training_loss": math.NaN(), "batches_processed_total": 20}))
	v, ok := e.reg.Get("run-1")
	if !ok || v.Source != "push" || v.Name != "run 1" || v.Step != 20 || v.Epoch != 1 || !math.IsNaN(float64(v.Metrics["training_loss"])) || v.Status != StatusRunning {
		t.Fatalf("run from pushes: %+v %v", v, ok)
	}
	if math.Abs(v.StepsPerSec-1) > 1e-9 {
		t.Errorf("steps/s = %v, want 1", v.StepsPerSec)
	}
	e.reg.ObservePush(push.Event{Method: push.MethodDelete, Group: labels.FromStrings("job", "train", "run", "run 1"), Time: at.Add(time.Minute)})
	if v, _ := e.reg.Get("run-1"); v.Status != StatusFinished || v.End == nil {
		t.Errorf("after DELETE: %s %v", v.Status, v.End)
	}
	// A group that expires without a DELETE: failed.
	e.reg.ObservePush(pushed(push.MethodPut, "crashy", at, map[string]float64{"training_loss": 1}))
	e.reg.ObservePush(push.Event{Method: push.MethodExpire, Group: labels.FromStrings("job", "train", "run", "crashy"), Time: at.Add(25 * time.Hour)})
	if v, _ := e.reg.Get("crashy"); v.Status != StatusFailed {
		t.Errorf("after expiry: %s", v.Status)
	}
	// A push without a run label names the run by its job.
	ev := pushed(push.MethodPut, "", at, map[string]float64{"training_loss": 2})
	ev.Group = labels.FromStrings("job", "mnist")
	e.reg.ObservePush(ev)
	if _, ok := e.reg.Get("mnist"); !ok {
		t.Error("no run named after the job")
	}
}
