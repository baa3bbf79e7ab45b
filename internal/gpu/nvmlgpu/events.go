//go:build cgo

package nvmlgpu

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// eventWaitMs is how long one EventSet.Wait blocks; it bounds how long
// Close waits for the reader.
const eventWaitMs = 1000

// eventReader counts XID events from an NVML event set, in a background
// goroutine started on the first successful Collect.
type eventReader struct {
	c  *Collector
	st *state

	stopCh chan struct{}
	doneCh chan struct{}

	mu     sync.Mutex
	counts map[xidKey]uint64
	last   []uint64
	set    nvml.EventSet
}

type xidKey struct {
	gpu int
	xid uint64
}

// xidSnapshot is the event counts at one tick.
type xidSnapshot struct {
	keys   []xidKey
	counts map[xidKey]uint64
	last   []uint64
}

func startEvents(c *Collector, st *state) *eventReader {
	er := &eventReader{c: c, st: st, stopCh: make(chan struct{}), doneCh: make(chan struct{}),
		counts: map[xidKey]uint64{}, last: make([]uint64, len(st.gpus))}
	go er.run()
	return er
}

// snapshot copies the counts, keys sorted.
func (er *eventReader) snapshot() *xidSnapshot {
	er.mu.Lock()
	defer er.mu.Unlock()
	s := &xidSnapshot{counts: make(map[xidKey]uint64, len(er.counts)), last: append([]uint64(nil), er.last...)}
	for k, v := range er.counts {
		s.keys = append(s.keys, k)
		s.counts[k] = v
	}
	sort.Slice(s.keys, func(a, b int) bool {
		if s.keys[a].gpu != s.keys[b].gpu {
			return s.keys[a].gpu < s.keys[b].gpu
		}
		return s.keys[a].xid < s.keys[b].xid
	})
	return s
}

// stop ends the reader and frees the event set; false if the reader did
// not stop within wait (its Wait call is stuck), in which case the set is
// not freed.
func (er *eventReader) stop(wait time.Duration) bool {
	close(er.stopCh)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-er.doneCh:
	case <-t.C:
		return false
	}
	er.mu.Lock()
	set := er.set
	er.set = nil
	er.mu.Unlock()
	if set != nil {
		set.Free()
	}
	return true
}

func (er *eventReader) stopped() bool {
	select {
	case <-er.stopCh:
		return true
	default:
		return false
	}
}

func (er *eventReader) run() {
	defer close(er.doneCh)
	log := er.c.cfg.Logger
	defer func() {
		if p := recover(); p != nil {
			log.Error("gpu: XID event reader panicked; XID events are no longer counted", "panic", fmt.Sprint(p))
		}
	}()
	set, ret := er.c.lib.EventSetCreate()
	if ret != nvml.SUCCESS {
		log.Warn("gpu: cannot create an NVML event set; XID events are not counted", "err", ret.Error())
		return
	}
	registered := 0
	for _, g := range er.st.gpus {
		g.mu.Lock()
		skip := g.dev == nil || g.lost
		g.mu.Unlock()
		if skip {
			continue
		}
		mask, ret := g.dev.GetSupportedEventTypes()
		if ret != nvml.SUCCESS || mask&nvml.EventTypeXidCriticalError == 0 {
			log.Info("gpu: GPU does not report XID events", "gpu", g.index, "err", ret.Error())
			continue
		}
		if ret := g.dev.RegisterEvents(nvml.EventTypeXidCriticalError, set); ret != nvml.SUCCESS {
			log.Warn("gpu: cannot register for XID events", "gpu", g.index, "err", ret.Error())
			continue
		}
		registered++
	}
	if registered == 0 {
		set.Free()
		return
	}
	er.mu.Lock()
	er.set = set
	er.mu.Unlock()

	failures := 0
	for !er.stopped() {
		data, ret := set.Wait(eventWaitMs)
		switch ret {
		case nvml.SUCCESS:
			failures = 0
			if data.EventType&nvml.EventTypeXidCriticalError != 0 {
				er.count(data)
			}
		case nvml.ERROR_TIMEOUT:
			failures = 0
		default:
			failures++
			if failures == 1 {
				log.Warn("gpu: waiting for NVML events failed; retrying", "err", ret.Error())
			}
			if ret == nvml.ERROR_UNINITIALIZED {
				return
			}
			// Back off so that a persistent error does not spin.
			select {
			case <-er.stopCh:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

func (er *eventReader) count(data nvml.EventData) {
	idx := -1
	for _, g := range er.st.gpus {
		if g.dev != nil && g.dev == data.Device {
			idx = g.index
			break
		}
	}
	if idx < 0 && data.Device != nil {
		if uuid, ret := data.Device.GetUUID(); ret == nvml.SUCCESS {
			for _, g := range er.st.gpus {
				if g.uuid == uuid {
					idx = g.index
				}
			}
		}
	}
	if idx < 0 {
		er.c.cfg.Logger.Warn("gpu: XID event from an unknown GPU", "xid", data.EventData)
		return
	}
	er.c.cfg.Logger.Warn("gpu: XID error", "gpu", idx, "uuid", er.st.gpus[idx].uuid, "xid", data.EventData,
		"meaning", xidMessage(data.EventData))
	er.mu.Lock()
	er.counts[xidKey{idx, data.EventData}]++
	er.last[idx] = data.EventData
	er.mu.Unlock()
}
