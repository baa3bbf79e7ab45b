//go:build cgo

package nvmlgpu

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// gpmState keeps two GPM samples of one GPU (or GPU instance): each tick
// takes one, and the metrics cover the time since the previous tick's
// sample, so no tick sleeps between two samples.
type gpmState struct {
	s    [2]nvml.GpmSample
	cur  int
	have bool
	req  *nvml.GpmMetricsGetType
}

// newGPM allocates a sample pair, or returns nil when NVML cannot.
func (c *Collector) newGPM() *gpmState {
	a, ret := c.lib.GpmSampleAlloc()
	if ret != nvml.SUCCESS {
		return nil
	}
	b, ret := c.lib.GpmSampleAlloc()
	if ret != nvml.SUCCESS {
		a.Free()
		return nil
	}
	return &gpmState{s: [2]nvml.GpmSample{a, b}, req: &nvml.GpmMetricsGetType{}}
}

func (gs *gpmState) free() {
	for i, s := range gs.s {
		if s != nil {
			s.Free()
			gs.s[i] = nil
		}
	}
}

// gpmRead takes this tick's sample and, when the previous tick left one,
// emits the DCGM_FI_PROF_* values between the two: utilisations as ratios
// 0..1 (GPM gives percentages), PCIe and NVLink rates in bytes/s (GPM gives
// MiB/s).
func (r *reader) gpmRead(gs *gpmState, f field, get func(nvml.GpmSample) nvml.Return, labels []string) {
	if gs.s[0] == nil || !r.want(f) {
		return
	}
	if !r.ok(f, get(gs.s[gs.cur])) {
		gs.have = false
		return
	}
	if gs.have && r.want(fGPMMetrics) {
		req := gs.req
		req.NumMetrics = uint32(len(gpmMetrics))
		req.Sample1 = gs.s[1-gs.cur]
		req.Sample2 = gs.s[gs.cur]
		for k, id := range gpmMetrics {
			req.Metrics[k] = nvml.GpmMetric{MetricId: id}
		}
		if r.ok(fGPMMetrics, r.c.lib.GpmMetricsGet(req)) {
			for k, id := range gpmMetrics {
				m := &req.Metrics[k]
				if nvml.Return(m.NvmlReturn) != nvml.SUCCESS {
					continue
				}
				v := m.Value / 100
				switch id {
				case gpmPCIeTx, gpmPCIeRx, gpmNVLinkTx, gpmNVLinkRx:
					v = m.Value * mib
				}
				r.emitL(r.d.prof[id], v, labels)
			}
		}
	}
	gs.cur = 1 - gs.cur
	gs.have = true
}
