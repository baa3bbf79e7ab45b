package main

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// The simulated training run of demo mode: the job on the demo's GPUs 0–5
// logging as a training script with trainwatch's client would.
const (
	demoRunID       = "demo-llama-8b-sft"
	demoRunSteps    = 20000
	demoStepsPerSec = 2.0
)

// demoRunEntry is the simulated run's log line for a step: a loss falling
// towards 0.9 with noise, a cosine learning-rate schedule after 500 warm-up
// steps, throughput, and a validation loss every 500 steps.
func demoRunEntry(step int64) runs.Entry {
	s := float64(step)
	noise := 0.04 * math.Sin(s*12.9898) * math.Cos(s*4.1414)
	loss := 0.9 + 1.7*math.Exp(-s/2500) + noise
	lr := 3e-4 * math.Min(1, s/500) * 0.5 * (1 + math.Cos(math.Pi*math.Min(1, s/demoRunSteps)))
	e := runs.Entry{Step: step, Epoch: s / 5000, Values: map[string]float64{
		"loss":               loss,
		"learning_rate":      lr,
		"samples_per_second": 96 + 6*math.Sin(s/37),
		"tokens_per_second":  (96 + 6*math.Sin(s/37)) * 4096,
		"grad_norm":          0.8 + 0.3*math.Abs(math.Sin(s/11)),
	}}
	if step%500 == 0 && step > 0 {
		e.Values["val_loss"] = 0.95 + 1.6*math.Exp(-s/2500)
	}
	return e
}

// runDemoTraining registers the demo's simulated run and logs its steps
// every interval until ctx ends. Its step follows the wall clock from the
// run's start, so it continues across restarts of the agent.
func runDemoTraining(ctx context.Context, reg *runs.Registry, interval time.Duration, logger *slog.Logger) {
	run, _, err := reg.Create(runs.CreateRequest{ID: demoRunID, Name: "llama-8b-sft (simulated)",
		Command: "torchrun --nproc-per-node 6 train.py --model llama-8b (simulated by --demo)",
		Tags:    []string{"demo"}, TotalSteps: demoRunSteps, TotalEpochs: demoRunSteps / 5000})
	if err != nil {
		logger.Error("demo run", "err", err)
		return
	}
	last := run.Step
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			step := min(int64(now.Sub(run.Start).Seconds()*demoStepsPerSec), demoRunSteps)
			if step <= last {
				if step == demoRunSteps {
					_, _ = reg.Finish(demoRunID, runs.StatusFinished, nil)
					return
				}
				continue
			}
			last = step
			e := demoRunEntry(step)
			e.TimeMs = now.UnixMilli()
			if _, err := reg.Log(ctx, demoRunID, []runs.Entry{e}); err != nil {
				logger.Warn("demo run", "err", err)
			}
		}
	}
}
