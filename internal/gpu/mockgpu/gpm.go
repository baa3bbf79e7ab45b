//go:build cgo

package mockgpu

import (
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// gpmSample is a mock GPM sample: the State of one GPU (or one of its GPU
// instances) at the time it was taken.
type gpmSample struct {
	f *filler

	mu    sync.Mutex
	index int // GPU index, -1 until taken
	gi    int // GPU instance ID, -1 for the whole GPU
	at    time.Time
	state State
	freed bool
}

func (s *gpmSample) Free() nvml.Return {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	s.freed = true
	return nvml.SUCCESS
}

func (s *gpmSample) Get(dev nvml.Device) nvml.Return {
	return s.f.gpmSampleGet(s.f.index(dev), -1, s)
}

func (s *gpmSample) MigGet(dev nvml.Device, gi int) nvml.Return {
	return s.f.gpmSampleGet(s.f.index(dev), gi, s)
}

func (f *filler) gpmSupport(i int) (nvml.GpmSupport, nvml.Return) {
	if i < 0 {
		return nvml.GpmSupport{}, nvml.ERROR_INVALID_ARGUMENT
	}
	st, ret := f.state(i, "GpmQueryDeviceSupport")
	if ret != nvml.SUCCESS {
		return nvml.GpmSupport{}, ret
	}
	sup := nvml.GpmSupport{Version: nvml.GPM_SUPPORT_VERSION}
	if st.GPMSupported {
		sup.IsSupportedDevice = 1
	}
	return sup, ret
}

func (f *filler) gpmSampleGet(i, gi int, sample nvml.GpmSample) nvml.Return {
	s, ok := sample.(*gpmSample)
	if !ok || i < 0 {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	method := "GpmSampleGet"
	if gi >= 0 {
		method = "GpmMigSampleGet"
	}
	st, ret := f.state(i, method)
	if ret != nvml.SUCCESS {
		return ret
	}
	if !st.GPMSupported {
		return nvml.ERROR_NOT_SUPPORTED
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	s.index, s.gi, s.at, s.state = i, gi, f.now(), st
	return nvml.SUCCESS
}

func (s *gpmSample) snapshot() (index, gi int, at time.Time, st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index, s.gi, s.at, s.state
}

// gpmMetricsGet answers GpmMetricsGet from the two samples: percentages from
// the later sample's State, PCIe and NVLink rates in MiB/s as NVML reports
// them.
func (f *filler) gpmMetricsGet(m *nvml.GpmMetricsGetType) nvml.Return {
	if m == nil || m.NumMetrics > uint32(len(m.Metrics)) {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	s1, ok1 := m.Sample1.(*gpmSample)
	s2, ok2 := m.Sample2.(*gpmSample)
	if !ok1 || !ok2 {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	i1, gi1, at1, st1 := s1.snapshot()
	i2, gi2, at2, st2 := s2.snapshot()
	if i1 < 0 || i1 != i2 || gi1 != gi2 {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	if _, ret := f.state(i2, "GpmMetricsGet"); ret != nvml.SUCCESS {
		return ret
	}
	secs := at2.Sub(at1).Seconds()
	linkRate := func(get func(l NVLink) uint64) float64 {
		if secs <= 0 {
			return 0
		}
		var a, b uint64
		for _, l := range st1.NVLinks {
			a += get(l)
		}
		for _, l := range st2.NVLinks {
			b += get(l)
		}
		if b < a {
			return 0
		}
		return float64(b-a) / secs / (1 << 20)
	}
	m.Version = nvml.GPM_METRICS_GET_VERSION
	for k := uint32(0); k < m.NumMetrics; k++ {
		mt := &m.Metrics[k]
		mt.NvmlReturn = uint32(nvml.SUCCESS)
		switch nvml.GpmMetricId(mt.MetricId) {
		case nvml.GPM_METRIC_GRAPHICS_UTIL:
			mt.Value = st2.GraphicsActive
		case nvml.GPM_METRIC_SM_UTIL:
			mt.Value = st2.SMActive
		case nvml.GPM_METRIC_SM_OCCUPANCY:
			mt.Value = st2.SMOccupancy
		case nvml.GPM_METRIC_ANY_TENSOR_UTIL:
			mt.Value = st2.TensorActive
		case nvml.GPM_METRIC_DRAM_BW_UTIL:
			mt.Value = st2.DRAMActive
		case nvml.GPM_METRIC_FP64_UTIL:
			mt.Value = st2.FP64Active
		case nvml.GPM_METRIC_FP32_UTIL:
			mt.Value = st2.FP32Active
		case nvml.GPM_METRIC_FP16_UTIL:
			mt.Value = st2.FP16Active
		case nvml.GPM_METRIC_PCIE_TX_PER_SEC:
			mt.Value = float64(st2.PCIeTxKBps) * 1000 / (1 << 20)
		case nvml.GPM_METRIC_PCIE_RX_PER_SEC:
			mt.Value = float64(st2.PCIeRxKBps) * 1000 / (1 << 20)
		case nvml.GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC:
			mt.Value = linkRate(func(l NVLink) uint64 { return l.TxBytes })
		case nvml.GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC:
			mt.Value = linkRate(func(l NVLink) uint64 { return l.RxBytes })
		default:
			mt.Value = 0
			mt.NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
		}
	}
	return nvml.SUCCESS
}
