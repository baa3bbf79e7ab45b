package agent

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
)

// selfCollector reports the agent's own process_* and go_* metrics, as every
// Prometheus exporter does, through client_golang's collectors.
type selfCollector struct {
	reg *prometheus.Registry
}

// NewSelfCollector returns the collector of the agent's own process and Go
// runtime metrics.
func NewSelfCollector() (collector.Collector, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("register process collector: %w", err)
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("register go collector: %w", err)
	}
	return &selfCollector{reg: reg}, nil
}

func (c *selfCollector) Name() string { return "self" }

func (c *selfCollector) Collect(_ context.Context, e *collector.Emitter) error {
	mfs, err := c.reg.Gather()
	if err != nil {
		return fmt.Errorf("gather own metrics: %w", err)
	}
	for _, f := range exposition.FromDTO(mfs) {
		for _, s := range f.Samples {
			e.EmitSample(f.Desc, s)
		}
	}
	return nil
}
