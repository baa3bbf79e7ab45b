package tui

import (
	"math"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// historyLen is how many samples each graph keeps: five minutes at the
// default 1 s interval, wider than any graph on a 250-column terminal.
const historyLen = 300

// runHistoryLen is how many points a run's loss sparkline keeps over the
// whole run: older points are averaged in pairs as the run goes on.
const runHistoryLen = 240

// ring is a fixed-size series of (time, value) samples in time order.
type ring struct {
	t     [historyLen]int64
	v     [historyLen]float64
	start int
	n     int
}

func (r *ring) at(i int) (int64, float64) {
	j := (r.start + i) % historyLen
	return r.t[j], r.v[j]
}

// add appends a sample newer than the last one; older ones are ignored.
func (r *ring) add(t int64, v float64) {
	if r.n > 0 {
		if lt, _ := r.at(r.n - 1); t <= lt {
			return
		}
	}
	if r.n < historyLen {
		j := (r.start + r.n) % historyLen
		r.t[j], r.v[j] = t, v
		r.n++
		return
	}
	r.t[r.start], r.v[r.start] = t, v
	r.start = (r.start + 1) % historyLen
}

// seed puts pts (in time order) before the samples the ring has: those
// older than its first sample are kept, as many as fit.
func (r *ring) seed(pts []Point) {
	var first int64 = math.MaxInt64
	if r.n > 0 {
		first, _ = r.at(0)
	}
	keep := make([]Point, 0, historyLen)
	for _, p := range pts {
		if p.T < first {
			keep = append(keep, p)
		}
	}
	for i := range r.n {
		t, v := r.at(i)
		keep = append(keep, Point{t, v})
	}
	if len(keep) > historyLen {
		keep = keep[len(keep)-historyLen:]
	}
	r.start, r.n = 0, len(keep)
	for i, p := range keep {
		r.t[i], r.v[i] = p.T, p.V
	}
}

// values appends the ring's values, oldest first, to dst.
func (r *ring) values(dst []float64) []float64 {
	for i := range r.n {
		_, v := r.at(i)
		dst = append(dst, v)
	}
	return dst
}

// compacting keeps a whole run's series in at most runHistoryLen points:
// when full, neighbours are averaged in pairs and each later point stands
// for twice as many samples.
type compacting struct {
	v      []float64
	stride int
	acc    float64
	accN   int
	last   int64
}

func (c *compacting) add(t int64, v float64) {
	if t <= c.last {
		return
	}
	c.last = t
	if c.stride == 0 {
		c.stride = 1
	}
	c.acc += v
	c.accN++
	if c.accN < c.stride {
		return
	}
	c.v = append(c.v, c.acc/float64(c.accN))
	c.acc, c.accN = 0, 0
	if len(c.v) >= runHistoryLen {
		half := c.v[:0]
		for i := 0; i+1 < len(c.v); i += 2 {
			half = append(half, (c.v[i]+c.v[i+1])/2)
		}
		c.v = half
		c.stride *= 2
	}
}

// seed replaces what c has with pts when they go further back.
func (c *compacting) seed(pts []Point) {
	if len(pts) == 0 {
		return
	}
	// Samples the stream brought while the query ran are dropped; the
	// stream's next ones follow the seed.
	fresh := compacting{}
	for _, p := range pts {
		fresh.add(p.T, p.V)
	}
	*c = fresh
}

// values appends c's values, oldest first, to dst (with the partial
// average of the newest samples).
func (c *compacting) values(dst []float64) []float64 {
	dst = append(dst, c.v...)
	if c.accN > 0 {
		dst = append(dst, c.acc/float64(c.accN))
	}
	return dst
}

// history keeps the recent values that graphs draw, by key: "gpu/0/util",
// "cpu", "net/eth0/rx", ... and each run's loss by run ID.
type history struct {
	series map[string]*ring
	runs   map[string]*compacting
}

func newHistory() *history {
	return &history{series: map[string]*ring{}, runs: map[string]*compacting{}}
}

func (h *history) ring(key string) *ring {
	r := h.series[key]
	if r == nil {
		r = &ring{}
		h.series[key] = r
	}
	return r
}

func (h *history) add(key string, t int64, v float64) { h.ring(key).add(t, v) }

// last is key's newest n values (fewer when it has fewer), oldest first.
func (h *history) last(key string, n int) []float64 {
	r := h.series[key]
	if r == nil || n <= 0 {
		return nil
	}
	k := min(n, r.n)
	out := make([]float64, k)
	for i := range k {
		_, out[i] = r.at(r.n - k + i)
	}
	return out
}

// runLoss appends run id's loss values to dst.
func (h *history) runLoss(id string, dst []float64) []float64 {
	if c := h.runs[id]; c != nil {
		return c.values(dst)
	}
	return dst
}

// Keys of the history.
func gpuKey(idx, what string) string { return "gpu/" + idx + "/" + what }
func netKey(dev, dir string) string  { return "net/" + dev + "/" + dir }
func diskKey(dev, dir string) string { return "disk/" + dev + "/" + dir }

const (
	keyCPU  = "cpu"
	keyMem  = "mem"
	keySwap = "swap"
)

// observe appends a snapshot's values.
func (h *history) observe(p *ui.Payload) {
	host := p.Host
	if host == nil {
		return
	}
	t := host.Time.UnixMilli()
	for i := range host.GPUs {
		g := &host.GPUs[i]
		if !g.Up {
			continue
		}
		for _, m := range [...]struct {
			what string
			v    *float64
		}{
			{"util", g.UtilizationPercent}, {"mem", g.MemoryUsedPercent},
			{"temp", g.TemperatureCelsius}, {"power", g.PowerWatts},
		} {
			if m.v != nil {
				h.add(gpuKey(g.Index, m.what), t, *m.v)
			}
		}
	}
	if host.CPU.RatesAvailable {
		h.add(keyCPU, t, host.CPU.BusyPercent)
	}
	if host.Memory.TotalBytes > 0 {
		h.add(keyMem, t, host.Memory.UsedPercent)
	}
	if host.Memory.SwapTotalBytes > 0 {
		h.add(keySwap, t, host.Memory.SwapUsedPercent)
	}
	for _, d := range host.Disks {
		if d.RatesAvailable {
			h.add(diskKey(d.Device, "r"), t, d.ReadBytesPerSecond)
			h.add(diskKey(d.Device, "w"), t, d.WriteBytesPerSecond)
		}
	}
	for _, n := range host.Network {
		if n.RatesAvailable {
			h.add(netKey(n.Device, "rx"), t, n.ReceiveBytesPerSecond)
			h.add(netKey(n.Device, "tx"), t, n.TransmitBytesPerSecond)
		}
	}
	for _, r := range p.Runs {
		loss, ok := r.Metrics["training_loss"]
		if !ok || r.LastLog == nil {
			continue
		}
		c := h.runs[r.ID]
		if c == nil {
			c = &compacting{}
			h.runs[r.ID] = c
		}
		c.add(r.LastLog.UnixMilli(), float64(loss))
	}
}
