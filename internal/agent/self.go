package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/exposition"
)

// selfRefresh is how often the agent's own metrics are gathered again;
// between two gatherings every tick emits the last values. Gathering
// (client_golang's process collector reads /proc/self/stat, limits and fd,
// and the Go collector reads runtime/metrics) took 1.3 ms, the largest
// single cost of a tick after the process scan; its values do not need a
// one-second resolution.
const selfRefresh = 10 * time.Second

// selfCollector reports the agent's own process_* and go_* metrics, as every
// Prometheus exporter does, through client_golang's collectors.
type selfCollector struct {
	g   prometheus.Gatherer
	now func() time.Time

	// mu guards the cache: a late tick's Collect may overlap the next.
	mu sync.Mutex
	// last is when fams were gathered.
	last time.Time
	fams []*collector.Family
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
	return &selfCollector{g: reg, now: time.Now}, nil
}

func (c *selfCollector) Name() string { return "self" }

// Collect emits the agent's own metrics, gathered at most every
// selfRefresh.
func (c *selfCollector) Collect(_ context.Context, e *collector.Emitter) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.fams == nil || now.Sub(c.last) >= selfRefresh || now.Before(c.last) {
		mfs, err := c.g.Gather()
		if err != nil {
			return fmt.Errorf("gather own metrics: %w", err)
		}
		c.fams, c.last = exposition.FromDTO(mfs), now
	}
	for _, f := range c.fams {
		for _, s := range f.Samples {
			e.EmitSample(f.Desc, s)
		}
	}
	return nil
}
