package runs

import (
	"math"
	"strings"

	"github.com/trainwatch/trainwatch/internal/push"
)

// pushID makes a run id from a pushed run or job name: characters an id
// cannot hold become '-'.
func pushID(name string) string {
	id := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			return c
		}
		return '-'
	}, name)
	id = strings.TrimLeft(id, "-._")
	if len(id) > 128 {
		id = id[:128]
	}
	return id
}

// ObservePush updates runs from an accepted Pushgateway push (its values
// are already stored by the gateway): the grouping key's run label, or else
// its job, names the run. batches_processed_total (or a step gauge) gives
// the step, current_epoch the epoch, and every single-valued family its
// latest value. DELETE finishes the run; a group that expired (no push for
// the TTL, without a DELETE) marks it failed.
func (r *Registry) ObservePush(ev push.Event) {
	id := pushID(ev.Run())
	if ValidID(id) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rr, ok := r.runs[id]
	switch ev.Method {
	case push.MethodDelete, push.MethodExpire:
		if !ok || rr.End != nil {
			return
		}
		t := ev.Time
		rr.End = &t
		rr.Status = StatusFinished
		if ev.Method == push.MethodExpire {
			rr.Status = StatusFailed
		}
		r.dirty = true
		return
	}
	if !ok {
		rr = r.newRun(id, "push", ev.Time)
		if name := ev.Run(); name != id {
			rr.Name = name
		}
		r.runs[id] = rr
		r.trimLocked()
	}
	e := Entry{Step: -1, Epoch: math.NaN(), Values: map[string]float64{}}
	ev.Samples(func(s *push.Sample) {
		switch s.Name {
		case "batches_processed_total", "step", "global_step", "current_step":
			if s.Value >= 0 && !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
				e.Step = int64(s.Value)
			}
		case "current_epoch", "epoch":
			if s.Value >= 0 && !math.IsInf(s.Value, 0) {
				e.Epoch = s.Value
			}
		case "push_time_seconds", "push_failure_time_seconds":
		default:
			e.Values[s.Name] = s.Value
		}
		rr.names[s.Name] = struct{}{}
	})
	ms := ev.Time.UnixMilli()
	if ms > rr.lastMs {
		rr.lastMs = ms
	}
	r.observe(rr, ms, e)
	if rr.End != nil { // pushed again after it ended: running again
		rr.End, rr.ExitCode = nil, nil
	}
	rr.Status = StatusRunning
	rr.Series = len(rr.names)
	r.dirty = true
}
