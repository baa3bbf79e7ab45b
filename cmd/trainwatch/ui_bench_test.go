package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/config"
)

// BenchmarkDashboardEvent is the dashboard's cost per tick while any tab is
// open: the summary, runs and alerts of a --demo tick (8 GPUs, this host's
// processes) encoded as one server-sent event, shared by every tab.
func BenchmarkDashboardEvent(b *testing.B) {
	cfg := config.Default()
	cfg.Demo = true
	cfg.Interval = model.Duration(time.Second)
	logger := slog.New(slog.DiscardHandler)
	r, scanner, release, err := buildRunner(cfg, true, logger)
	defer release()
	if err != nil {
		b.Fatal(err)
	}
	a := agent.New(r, time.Second, logger)
	dash, err := newDashboard(cfg, a, "bench:9835", nil, nil, nil, scanner, logger)
	if err != nil {
		b.Fatal(err)
	}
	a.TickOnce(context.Background())
	time.Sleep(time.Second)
	st := a.TickOnce(context.Background())
	b.ReportAllocs()
	var size int
	for b.Loop() {
		// A new tick each time: nothing cached.
		fresh := *st
		snap := *st.Snapshot
		fresh.Snapshot = &snap
		size = len(dash.Event(&fresh))
	}
	b.ReportMetric(float64(size), "bytes/event")
}
