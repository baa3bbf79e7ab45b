package demo

import "sync"

// acc holds a GPU's integrated quantities at the start of a tick: the
// cumulative counters, and the lagged power that sets the temperature.
type acc struct {
	energy     uint64 // mJ
	nvTx, nvRx uint64 // NVLink bytes, all links
	violNs     uint64 // time spent power-capped
	ecc        uint64 // corrected ECC errors since driver load
	filt       float64
}

// step advances a by one whole tick with readings v.
func (a acc) step(v tickVals) acc {
	a.energy += uint64(v.powerMW) // mW × 1 s = mJ
	a.nvTx += v.nvTx
	a.nvRx += v.nvRx
	if v.throttled {
		a.violNs += 1e9
	}
	a.ecc += v.eccNew
	a.filt += thermalAlpha * (float64(v.powerMW)/1000 - a.filt)
	return a
}

// partial advances a by frac nanoseconds (< 1 s) into a tick with readings
// v, so that energy is exactly the integral of the reported power.
func (a acc) partial(v tickVals, frac uint64) acc {
	if frac == 0 {
		return a
	}
	a.energy += uint64(v.powerMW) * frac / 1e9
	a.nvTx += mulFrac(v.nvTx, frac, 1e9)
	a.nvRx += mulFrac(v.nvRx, frac, 1e9)
	if v.throttled {
		a.violNs += frac
	}
	return a
}

// max returns the larger of each counter of a and b, and a's filt.
func (a acc) max(b acc) acc {
	a.energy = max(a.energy, b.energy)
	a.nvTx = max(a.nvTx, b.nvTx)
	a.nvRx = max(a.nvRx, b.nvRx)
	a.violNs = max(a.violNs, b.violNs)
	a.ecc = max(a.ecc, b.ecc)
	return a
}

// Checkpoint spacing: one every minute for the most recent keepMinutes, and
// one every hour for ever (a few kilobytes a day).
const (
	minuteTicks = 60
	hourTicks   = 3600
	keepMinutes = 240
)

// series integrates one GPU's readings tick by tick from tick 0. Every path
// to a tick steps the same sequence from the same checkpoints, so the
// result does not depend on the order of calls.
type series struct {
	mu      sync.Mutex
	hourly  []acc // hourly[j] is the state at tick j·hourTicks
	minute  []acc // minute[j] is the state at tick (minBase+j)·minuteTicks
	minBase int64
	// cur caches the state at tick curK, the last one asked for.
	cur  acc
	curK int64
	// last holds the counters last returned, so that they never go back.
	last acc
}

func (s *series) init(a0 acc) {
	s.hourly = []acc{a0}
	s.minute = []acc{a0}
	s.cur, s.last = a0, a0
}

// at returns GPU i's counters frac ns into tick k, where it reads v, never
// below those returned before, and the lagged power at the tick's start.
func (s *series) at(t *Telemetry, i int, k int64, frac uint64, v tickVals) (acc, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accAt(t, i, k)
	c := a.partial(v, frac).max(s.last)
	s.last = c
	return c, a.filt
}

// accAt returns the state at the start of tick k. s.mu must be held.
func (s *series) accAt(t *Telemetry, i int, k int64) acc {
	m := k / minuteTicks
	// Extend the minute checkpoints up to m.
	for top := s.minBase + int64(len(s.minute)) - 1; top < m; top++ {
		a := s.minute[len(s.minute)-1]
		for j := top * minuteTicks; j < (top+1)*minuteTicks; j++ {
			a = a.step(t.tick(i, j))
		}
		s.minute = append(s.minute, a)
		if (top+1)*minuteTicks%hourTicks == 0 {
			s.hourly = append(s.hourly, a)
		}
	}
	if n := len(s.minute); n > 2*keepMinutes {
		drop := n - keepMinutes
		s.minute = append(s.minute[:0:0], s.minute[drop:]...)
		s.minBase += int64(drop)
	}

	var a acc
	var from int64
	switch {
	case s.curK <= k && s.curK >= m*minuteTicks:
		a, from = s.cur, s.curK
	case m >= s.minBase:
		a, from = s.minute[m-s.minBase], m*minuteTicks
	default:
		h := k / hourTicks
		a, from = s.hourly[h], h*hourTicks
	}
	for j := from; j < k; j++ {
		a = a.step(t.tick(i, j))
	}
	s.cur, s.curK = a, k
	return a
}
