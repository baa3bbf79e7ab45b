package main

import (
	"math"
	"testing"
)

func TestDemoRunEntry(t *testing.T) {
	tests := []struct {
		name string
		step int64
		want func(t *testing.T, vals map[string]float64)
	}{
		{"warm-up: small learning rate, high loss", 50, func(t *testing.T, v map[string]float64) {
			if v["learning_rate"] > 0.5e-4 || v["loss"] < 2 {
				t.Errorf("lr %g, loss %g", v["learning_rate"], v["loss"])
			}
			if _, ok := v["val_loss"]; ok {
				t.Error("validation loss off the evaluation steps")
			}
		}},
		{"evaluation step", 1000, func(t *testing.T, v map[string]float64) {
			if _, ok := v["val_loss"]; !ok {
				t.Error("no validation loss every 500 steps")
			}
		}},
		{"late: loss near its floor, schedule decayed", 19000, func(t *testing.T, v map[string]float64) {
			if v["loss"] > 1.0 || v["learning_rate"] > 1e-5 {
				t.Errorf("lr %g, loss %g", v["learning_rate"], v["loss"])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := demoRunEntry(tc.step)
			if e.Step != tc.step || math.IsNaN(e.Epoch) {
				t.Errorf("step %d epoch %v", e.Step, e.Epoch)
			}
			tc.want(t, e.Values)
		})
	}
}
