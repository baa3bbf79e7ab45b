package runs

import (
	"context"
	"math"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// recentlyEnded is how long an ended run keeps its tick series, so that its
// last status is visible in history and to alert rules.
const recentlyEnded = time.Hour

// Collector emits the runs' state every tick: trainwatch_run_info,
// progress, throughput, ETA, step and the last step's time.
type Collector struct {
	r                                        *Registry
	info, status, start, end, step, lastStep *collector.Desc
	progress, eta, stepsPS, series           *collector.Desc
}

// Collector returns the registry's tick collector.
func (r *Registry) Collector() *Collector {
	return &Collector{
		r:        r,
		info:     collector.NewDesc("trainwatch_run_info", "A training run: its name, host, source and status (value 1).", collector.Gauge, "run", "name", "host", "source", "status"),
		status:   collector.NewDesc("trainwatch_run_status", "1 for the run's current status, 0 for the others.", collector.Gauge, "run", "status"),
		start:    collector.NewDesc("trainwatch_run_start_time_seconds", "When the run started (Unix time).", collector.Gauge, "run"),
		end:      collector.NewDesc("trainwatch_run_end_time_seconds", "When the run ended (Unix time); absent while it runs.", collector.Gauge, "run"),
		step:     collector.NewDesc("trainwatch_run_step", "The run's latest global step.", collector.Gauge, "run"),
		lastStep: collector.NewDesc("trainwatch_run_last_step_timestamp_seconds", "When the run's step last advanced (Unix time); no progress for long means a stalled or hung run.", collector.Gauge, "run"),
		progress: collector.NewDesc("trainwatch_run_progress_ratio", "Fraction of the run done (step/total_steps, or epoch/total_epochs), when the total is known.", collector.Gauge, "run"),
		eta:      collector.NewDesc("trainwatch_run_eta_seconds", "Estimated time to the last step at the current step rate.", collector.Gauge, "run"),
		stepsPS:  collector.NewDesc("trainwatch_run_steps_per_second", "Step rate over the run's recent steps.", collector.Gauge, "run"),
		series:   collector.NewDesc("trainwatch_run_series", "Distinct series the run has logged.", collector.Gauge, "run"),
	}
}

// Name implements collector.Collector.
func (c *Collector) Name() string { return "runs" }

// Collect implements collector.Collector: active runs, and runs that ended
// in the last hour.
func (c *Collector) Collect(_ context.Context, e *collector.Emitter) error {
	now := c.r.opts.Now()
	for _, v := range c.r.List("") {
		if v.End != nil && now.Sub(*v.End) > recentlyEnded {
			continue
		}
		e.Emit(c.info, 1, v.ID, v.Name, v.Host, v.Source, v.Status)
		for _, s := range []string{StatusRunning, StatusStalled, StatusFinished, StatusFailed} {
			val := 0.0
			if s == v.Status {
				val = 1
			}
			e.Emit(c.status, val, v.ID, s)
		}
		e.Emit(c.start, unix(v.Start), v.ID)
		if v.End != nil {
			e.Emit(c.end, unix(*v.End), v.ID)
		}
		e.Emit(c.step, float64(v.Step), v.ID)
		if v.LastStep != nil {
			e.Emit(c.lastStep, unix(*v.LastStep), v.ID)
		}
		if v.Progress != nil {
			e.Emit(c.progress, *v.Progress, v.ID)
		}
		if v.ETASeconds != nil && !math.IsInf(*v.ETASeconds, 0) {
			e.Emit(c.eta, *v.ETASeconds, v.ID)
		}
		e.Emit(c.stepsPS, v.StepsPerSec, v.ID)
		e.Emit(c.series, float64(v.Series), v.ID)
	}
	return nil
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
