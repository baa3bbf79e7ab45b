package main

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// The figures of the end-of-run report, computed from fixed inputs (the
// samples taken during the run, or the agent's history) by the pure types
// and functions of this file.

// underutilPercent: a GPU the run holds is under-utilised while its
// utilisation is below this.
const underutilPercent = 50

// gpuPoint is one reading of a GPU's device figures; NaN where unknown.
// From the agent's history, Util and Mem are the value at T and UtilMax
// and MemMax the highest since the previous point; sampled in-process,
// they are equal.
type gpuPoint struct {
	T                time.Time
	Util, UtilMax    float64 // percent
	Mem, MemMax      float64 // bytes in use on the device
	Power            float64 // watts
	EnergyMillijoule float64 // NVML's counter since the driver loaded
}

// nanPoint is a point at t with every figure unknown.
func nanPoint(t time.Time) gpuPoint {
	n := math.NaN()
	return gpuPoint{T: t, Util: n, UtilMax: n, Mem: n, MemMax: n, Power: n, EnergyMillijoule: n}
}

// gpuAcc accumulates a GPU's points, in time order, into the report's
// figures: the utilisation, memory and power of the points taken while the
// run used the GPU, and the energy counter's increase over the intervals
// that start at such a point.
type gpuAcc struct {
	threshold float64

	prev      gpuPoint
	prevInUse bool
	havePrev  bool

	utilSum, utilMax    float64
	utilN, under        int
	memSum, memMax      float64
	memN                int
	powerSum, powerMax  float64
	powerN              int
	energyMJ            float64
	energyN, energyGaps int
	// energyKWh, when set, is the energy energyOver found instead (the
	// points and the spans were not sampled together).
	energyKWh *float64
}

func newGPUAcc(threshold float64) *gpuAcc {
	return &gpuAcc{threshold: threshold, utilMax: math.NaN(), memMax: math.NaN(), powerMax: math.NaN()}
}

// add takes the next point; inUse says whether the run used the GPU at
// p.T.
func (a *gpuAcc) add(p gpuPoint, inUse bool) {
	if a.havePrev && a.prevInUse {
		e0, e1 := a.prev.EnergyMillijoule, p.EnergyMillijoule
		switch {
		case math.IsNaN(e0) || math.IsNaN(e1):
			a.energyGaps++
		case e1 >= e0:
			a.energyMJ += e1 - e0
			a.energyN++
		default: // the counter restarted (driver reload)
			a.energyMJ += e1
			a.energyN++
		}
	}
	if inUse {
		if !math.IsNaN(p.Util) {
			a.utilSum += p.Util
			a.utilN++
			if p.Util < a.threshold {
				a.under++
			}
		}
		a.utilMax = nanMax(a.utilMax, nanMax(p.UtilMax, p.Util))
		if !math.IsNaN(p.Mem) {
			a.memSum += p.Mem
			a.memN++
		}
		a.memMax = nanMax(a.memMax, nanMax(p.MemMax, p.Mem))
		if !math.IsNaN(p.Power) {
			a.powerSum += p.Power
			a.powerN++
			a.powerMax = nanMax(a.powerMax, p.Power)
		}
	}
	a.prev, a.prevInUse, a.havePrev = p, inUse, true
}

// nanMax is max ignoring NaN (NaN only when both are).
func nanMax(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return math.Max(a, b)
}

// figures returns the GPU's report entry (without its names) for a GPU
// the run used for inUse: the time under the threshold is inUse times the
// share of the points under it.
func (a *gpuAcc) figures(inUse time.Duration) reportGPU {
	g := reportGPU{InUseSeconds: round3(inUse.Seconds())}
	if a.utilN > 0 {
		g.UtilMean = ptr(round3(a.utilSum / float64(a.utilN)))
		g.UnderutilSeconds = round3(inUse.Seconds() * float64(a.under) / float64(a.utilN))
	}
	g.UtilMax = finitePtr(a.utilMax)
	if a.memN > 0 {
		g.MemMeanBytes = ptr(math.Round(a.memSum / float64(a.memN)))
	}
	g.MemMaxBytes = finitePtr(a.memMax)
	if a.powerN > 0 {
		g.PowerMeanWatts = ptr(round3(a.powerSum / float64(a.powerN)))
	}
	g.PowerMaxWatts = finitePtr(a.powerMax)
	switch {
	case a.energyKWh != nil:
		g.EnergyKWh = ptr(*a.energyKWh)
	case a.energyN > 0 && a.energyGaps == 0:
		g.EnergyKWh = ptr(a.energyMJ / 3.6e9) // mJ → kWh
	}
	return g
}

// energyPoint is a reading of a GPU's energy counter (mJ).
type energyPoint struct {
	T  time.Time
	MJ float64
}

// energyOver is the energy, in kWh, that the counter points (in time
// order) say the GPU used over the spans: the counter, made continuous
// across restarts and interpolated linearly between points, at each span's
// end less at its start. Up to maxExtra before the first point and after
// the last, the counter is extrapolated at the rate of the nearest
// interval; further out, it counts nothing. ok is false with fewer than
// two points or when no span overlaps them.
func energyOver(points []energyPoint, spans []useSpan, maxExtra time.Duration) (kwh float64, ok bool) {
	var ts []time.Time
	var cum []float64
	last := math.NaN()
	total := 0.0
	for _, p := range points {
		if math.IsNaN(p.MJ) {
			continue
		}
		switch {
		case math.IsNaN(last):
		case p.MJ >= last:
			total += p.MJ - last
		default: // the counter restarted
			total += p.MJ
		}
		last = p.MJ
		ts = append(ts, p.T)
		cum = append(cum, total)
	}
	if len(ts) < 2 {
		return 0, false
	}
	n := len(ts)
	// line is the counter at t on the line through points i and i+1.
	line := func(i int, t time.Time) float64 {
		d := ts[i+1].Sub(ts[i])
		if d <= 0 {
			return cum[i]
		}
		return cum[i] + float64(t.Sub(ts[i]))/float64(d)*(cum[i+1]-cum[i])
	}
	at := func(t time.Time) float64 {
		i := sort.Search(n, func(i int) bool { return ts[i].After(t) })
		switch {
		case i == 0:
			return line(0, maxTime(t, ts[0].Add(-maxExtra)))
		case i == n:
			return line(n-2, minTime(t, ts[n-1].Add(maxExtra)))
		}
		return line(i-1, t)
	}
	var mj float64
	for _, s := range spans {
		if s.To.Before(ts[0].Add(-maxExtra)) || s.From.After(ts[n-1].Add(maxExtra)) {
			continue
		}
		ok = true
		mj += at(s.To) - at(s.From)
	}
	return mj / 3.6e9, ok
}

// useSpans are the spans of time the run's processes used one GPU, built
// from samples in time order: a span runs from the first sample that saw
// the use to the first that did not (or the run's end).
type useSpans struct {
	spans  []useSpan
	open   bool
	maxMem float64
}

type useSpan struct{ From, To time.Time }

// maxUseSpans bounds the spans kept; beyond it the last one is extended.
const maxUseSpans = 4096

func (u *useSpans) add(t time.Time, inUse bool, mem float64) {
	switch {
	case inUse && u.open:
		u.spans[len(u.spans)-1].To = t
	case inUse && len(u.spans) >= maxUseSpans:
		u.spans[len(u.spans)-1].To = t
		u.open = true
	case inUse:
		u.spans = append(u.spans, useSpan{From: t, To: t})
		u.open = true
	case u.open:
		u.spans[len(u.spans)-1].To = t
		u.open = false
	}
	if inUse {
		u.maxMem = math.Max(u.maxMem, mem)
	}
}

// finish closes an open span at end, at most maxGap after its last sample.
func (u *useSpans) finish(end time.Time, maxGap time.Duration) {
	if u.open {
		s := &u.spans[len(u.spans)-1]
		s.To = minTime(end, s.To.Add(maxGap))
		u.open = false
	}
}

// duration is the time the spans cover.
func (u *useSpans) duration() time.Duration {
	var d time.Duration
	for _, s := range u.spans {
		d += s.To.Sub(s.From)
	}
	return d
}

// contains reports whether t falls in a span: From ≤ t < To, or t = From.
func (u *useSpans) contains(t time.Time) bool {
	i := sort.Search(len(u.spans), func(i int) bool { return u.spans[i].From.After(t) }) - 1
	if i < 0 {
		return false
	}
	s := u.spans[i]
	return t.Before(s.To) || t.Equal(s.From)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stepAcc follows the logged steps for the report: how many steps were
// made (a step that goes down, as Lightning's bar does at each epoch,
// restarts the count), when, and the last rates logged.
type stepAcc struct {
	entries, withStep int
	first, last       time.Time
	lastStep          int64
	advanced          float64
	total             int64
	samplesPS         float64
	tokensPS          float64
	stepsPS           float64
}

func newStepAcc() *stepAcc {
	return &stepAcc{lastStep: -1, samplesPS: math.NaN(), tokensPS: math.NaN(), stepsPS: math.NaN()}
}

// add takes one entry logged at t.
func (s *stepAcc) add(e runs.Entry, t time.Time) {
	s.entries++
	for k, v := range e.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		switch lowerKey(k) {
		case "samples_per_second", "train_samples_per_second", "samples_per_sec", "throughput":
			s.samplesPS = v
		case "tokens_per_second", "train_tokens_per_second", "tokens_per_sec":
			s.tokensPS = v
		case "steps_per_second", "train_steps_per_second":
			s.stepsPS = v
		case "total_steps":
			if v > 0 {
				s.total = int64(v)
			}
		}
	}
	if e.Step < 0 {
		return
	}
	s.withStep++
	switch {
	case s.lastStep < 0:
		s.first = t
	case e.Step >= s.lastStep:
		s.advanced += float64(e.Step - s.lastStep)
	default:
		s.advanced += float64(e.Step)
	}
	s.lastStep, s.last = e.Step, t
}

// stepsPerSecond is the steps made per second between the first and the
// last step logged; with fewer than two, the last rate logged (tqdm's it/s).
func (s *stepAcc) stepsPerSecond() float64 {
	if d := s.last.Sub(s.first).Seconds(); s.withStep >= 2 && d > 0 && s.advanced > 0 {
		return s.advanced / d
	}
	return s.stepsPS
}

// isTrainLossKey reports whether a logged key is the training loss: the
// keys the runs registry stores as training_loss, and Lightning's
// train_loss_step.
func isTrainLossKey(k string) bool {
	switch lowerKey(k) {
	case "loss", "train_loss", "training_loss", "train/loss", "train_loss_step", "loss/train":
		return true
	}
	return false
}

// lowerKey is k in lower case; it allocates only when k has capitals.
func lowerKey(k string) string {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(k)
		}
	}
	return k
}

// lossAcc keeps the final and best training loss. The best is the lowest
// finite one; a NaN or infinite final loss is reported as it is. Hugging
// Face's end-of-training summary (the entry with train_runtime) is not a
// step: its train_loss is the mean over the run.
type lossAcc struct {
	have                bool
	key                 string
	final, best         float64
	bestStep, finalStep int64
}

func (l *lossAcc) add(e runs.Entry) {
	if _, summary := e.Values["train_runtime"]; summary {
		return
	}
	for k, v := range e.Values {
		if !isTrainLossKey(k) {
			continue
		}
		if !l.have {
			l.best, l.bestStep = math.NaN(), -1
		}
		l.have, l.key, l.final, l.finalStep = true, k, v, e.Step
		if !math.IsNaN(v) && !math.IsInf(v, 0) && (math.IsNaN(l.best) || v < l.best) {
			l.best, l.bestStep = v, e.Step
		}
		return
	}
}

func (l *lossAcc) report() *reportLoss {
	if !l.have {
		return nil
	}
	r := &reportLoss{Key: l.key, Final: runs.Float(l.final)}
	if l.finalStep >= 0 {
		r.FinalStep = ptr(l.finalStep)
	}
	if !math.IsNaN(l.best) {
		r.Best = ptr(runs.Float(l.best))
		if l.bestStep >= 0 {
			r.BestStep = ptr(l.bestStep)
		}
	}
	return r
}

// alertSeries is one ALERTS{alertstate="firing"} series of the agent over
// the run: its labels and the times it was present.
type alertSeries struct {
	Labels map[string]string
	Times  []time.Time
}

// collapseAlerts turns the firing-alert series into the report's alerts:
// one per alert (rule and labels), with when it was first and last seen
// firing and for how long (points × step), sorted by first seen.
func collapseAlerts(series []alertSeries, step time.Duration) []reportAlert {
	out := make([]reportAlert, 0, len(series))
	for _, s := range series {
		if len(s.Times) == 0 {
			continue
		}
		labels := map[string]string{}
		for k, v := range s.Labels {
			switch k {
			case "__name__", "alertstate", "alertname", "severity":
				continue
			}
			labels[k] = v
		}
		ts := append([]time.Time(nil), s.Times...)
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		out = append(out, reportAlert{
			Name:      s.Labels["alertname"],
			Severity:  s.Labels["severity"],
			Labels:    labels,
			FirstSeen: ts[0].UTC(),
			LastSeen:  ts[len(ts)-1].UTC(),
			Seconds:   round3(float64(len(ts)) * step.Seconds()),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.Before(out[j].FirstSeen)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// cpuFigures: the mean CPU of the run, in percent of one core, is its CPU
// time over its duration. The CPU time is the larger of what the kernel
// counted for the command and the children it waited for (rusage), and the
// sum over the processes sampled (which also sees processes the command did
// not wait for, up to their last sample).
func cpuFigures(rusageSeconds, sampledSeconds float64, d time.Duration) (cpuSeconds float64, meanPercent *float64) {
	cpuSeconds = math.Max(rusageSeconds, sampledSeconds)
	if d <= 0 {
		return round3(cpuSeconds), nil
	}
	return round3(cpuSeconds), ptr(round3(100 * cpuSeconds / d.Seconds()))
}

// gpuHours sums the GPUs' time in use.
func gpuHours(gs []reportGPU) float64 {
	var s float64
	for _, g := range gs {
		s += g.InUseSeconds
	}
	return s / 3600
}

// totalEnergy sums the GPUs' energy; nil (unknown) when any is unknown or
// there are none.
func totalEnergy(gs []reportGPU) *float64 {
	if len(gs) == 0 {
		return nil
	}
	var s float64
	for _, g := range gs {
		if g.EnergyKWh == nil {
			return nil
		}
		s += *g.EnergyKWh
	}
	return &s
}

func ptr[T any](v T) *T { return &v }

// finitePtr is &v, or nil when v is NaN or infinite.
func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
