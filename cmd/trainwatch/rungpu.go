package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/jobs"
)

// GPU series "trainwatch run" reads: dcgm-exporter's names, as the NVML
// collector writes them.
const (
	famGPUUtil   = "DCGM_FI_DEV_GPU_UTIL"
	famGPUFBUsed = "DCGM_FI_DEV_FB_USED" // MiB
	famGPUPower  = "DCGM_FI_DEV_POWER_USAGE"
	famGPUEnergy = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" // mJ
	famGPUProc   = "trainwatch_gpu_process_memory_bytes"
	mib          = 1 << 20
)

// localGPUs reads the GPUs in this process (no agent answers): the GPU
// collectors of the agent, run every tick of the tracker. The collectors
// are built at the first sample, so that loading NVML does not delay the
// command.
type localGPUs struct {
	cfg     config.Config
	logger  *slog.Logger
	once    sync.Once
	runner  *collector.Runner
	release func()
	initErr error
}

func newLocalGPUs(cfg config.Config) *localGPUs {
	return &localGPUs{cfg: cfg, logger: slog.New(slog.DiscardHandler), release: func() {}}
}

func (l *localGPUs) init() {
	cs, release, err := gpuCollectors(l.cfg, l.logger)
	l.release = release
	if err != nil {
		l.initErr = fmt.Errorf("GPU collectors: %w", err)
		return
	}
	l.runner, l.initErr = collector.NewRunner(collector.RunnerOptions{Timeout: l.cfg.EffectiveTimeout(), Logger: l.logger}, cs...)
}

func (l *localGPUs) close() { l.release() }

func (l *localGPUs) sample(ctx context.Context, at time.Time, pids map[int]bool) (map[gpuID]float64, map[gpuID]gpuPoint, map[gpuID]string, error) {
	l.once.Do(l.init)
	if l.initErr != nil {
		return nil, nil, nil, l.initErr
	}
	snap := l.runner.Tick(ctx)
	uses, points, models := gpuFiguresFromSnapshot(snap, at, pids)
	return uses, points, models, nil
}

// gpuFiguresFromSnapshot reads one collector snapshot: the GPU memory of
// the processes pids by GPU, and every GPU's device figures at at.
func gpuFiguresFromSnapshot(snap *collector.Snapshot, at time.Time, pids map[int]bool) (map[gpuID]float64, map[gpuID]gpuPoint, map[gpuID]string) {
	uses := map[gpuID]float64{}
	for pid, us := range jobs.GPUUseFromSnapshot(snap) {
		if !pids[pid] {
			continue
		}
		for _, u := range us {
			uses[gpuID{u.GPU, u.UUID}] += float64(u.MemoryBytes)
		}
	}
	points := map[gpuID]gpuPoint{}
	models := map[gpuID]string{}
	set := func(name string, f func(p *gpuPoint, v float64)) {
		fam := snap.Family(name)
		if fam == nil {
			return
		}
		for i, s := range fam.Samples {
			id := gpuID{fam.Label(i, "gpu"), fam.Label(i, "UUID")}
			p, ok := points[id]
			if !ok {
				p = nanPoint(at)
			}
			f(&p, s.Value)
			points[id] = p
			if m := fam.Label(i, "modelName"); m != "" {
				models[id] = m
			}
		}
	}
	set(famGPUUtil, func(p *gpuPoint, v float64) { p.Util, p.UtilMax = v, v })
	set(famGPUFBUsed, func(p *gpuPoint, v float64) { p.Mem, p.MemMax = v*mib, v*mib })
	set(famGPUPower, func(p *gpuPoint, v float64) { p.Power = v })
	set(famGPUEnergy, func(p *gpuPoint, v float64) { p.EnergyMillijoule = v })
	return uses, points, models
}

// promClient asks the agent's Prometheus API.
type promClient struct {
	base   string
	client *http.Client
}

// promSeries is one series of a query's result.
type promSeries struct {
	Metric map[string]string
	Points []promPoint
}

type promPoint struct {
	T time.Time
	V float64
}

// query evaluates expr at at (now when zero).
func (c *promClient) query(ctx context.Context, expr string, at time.Time) ([]promSeries, error) {
	form := url.Values{"query": {expr}}
	if !at.IsZero() {
		form.Set("time", promTime(at))
	}
	return c.do(ctx, "/api/v1/query", form)
}

// queryRange evaluates expr from start to end every step.
func (c *promClient) queryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]promSeries, error) {
	form := url.Values{"query": {expr}, "start": {promTime(start)}, "end": {promTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	return c.do(ctx, "/api/v1/query_range", form)
}

func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

func (c *promClient) do(ctx context.Context, path string, form url.Values) ([]promSeries, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the agent at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s: %w", path, err)
	}
	var env struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%s answered %s: %w", path, resp.Status, err)
	}
	if env.Status != "success" {
		return nil, fmt.Errorf("%s %q: %s", path, form.Get("query"), env.Error)
	}
	out := make([]promSeries, 0, len(env.Data.Result))
	for _, r := range env.Data.Result {
		s := promSeries{Metric: r.Metric}
		if r.Value != nil {
			r.Values = append(r.Values, r.Value)
		}
		for _, v := range r.Values {
			if p, ok := promPointOf(v); ok {
				s.Points = append(s.Points, p)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// promPointOf decodes [unix seconds, "value"].
func promPointOf(v []any) (promPoint, bool) {
	if len(v) != 2 {
		return promPoint{}, false
	}
	ts, ok1 := v[0].(float64)
	vs, ok2 := v[1].(string)
	if !ok1 || !ok2 {
		return promPoint{}, false
	}
	f, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return promPoint{}, false
	}
	return promPoint{T: time.UnixMilli(int64(math.Round(ts * 1000))), V: f}, true
}

// agentGPUs reads which GPUs the run's processes use from the agent's
// per-process GPU series; the device figures come from its history at the
// end (agentGPUFigures).
type agentGPUs struct{ c *promClient }

func (a agentGPUs) close() {}

func (a agentGPUs) sample(ctx context.Context, _ time.Time, pids map[int]bool) (map[gpuID]float64, map[gpuID]gpuPoint, map[gpuID]string, error) {
	if len(pids) == 0 {
		return nil, nil, nil, nil
	}
	res, err := a.c.query(ctx, famGPUProc, time.Time{})
	if err != nil {
		return nil, nil, nil, err
	}
	uses := map[gpuID]float64{}
	for _, s := range res {
		pid, err := strconv.Atoi(s.Metric["pid"])
		if err != nil || !pids[pid] || len(s.Points) == 0 {
			continue
		}
		uses[gpuID{s.Metric["gpu"], s.Metric["UUID"]}] += s.Points[0].V
	}
	return uses, nil, nil, nil
}

// historyStep is the resolution at which the run's window is read back
// from the agent: 1 s, or coarser so that a long run is at most 2000
// points a series.
func historyStep(d time.Duration) time.Duration {
	s := time.Duration(math.Ceil(d.Seconds()/2000)) * time.Second
	return max(s, time.Second)
}

// gpuSelector is the label matcher for the GPUs ids: by UUID, or by index
// for GPUs without one.
func gpuSelector(ids []gpuID) string {
	var uuids, idx []string
	for _, id := range ids {
		if id.UUID != "" {
			uuids = append(uuids, regexp.QuoteMeta(id.UUID))
		} else {
			idx = append(idx, regexp.QuoteMeta(id.Index))
		}
	}
	sort.Strings(uuids)
	sort.Strings(idx)
	if len(uuids) > 0 {
		return `{UUID=~` + strconv.Quote(strings.Join(uuids, "|")) + `}`
	}
	return `{gpu=~` + strconv.Quote(strings.Join(idx, "|")) + `}`
}

// agentGPUFigures reads the device figures of the GPUs the run used from
// the agent's history over [start, end] and accumulates them over the spans
// the run used each.
func agentGPUFigures(ctx context.Context, c *promClient, spans map[gpuID]*useSpans, start, end time.Time) (map[gpuID]*gpuAcc, map[gpuID]string, error) {
	ids := make([]gpuID, 0, len(spans))
	for id := range spans {
		ids = append(ids, id)
	}
	accs := map[gpuID]*gpuAcc{}
	models := map[gpuID]string{}
	if len(ids) == 0 {
		return accs, models, nil
	}
	step := historyStep(end.Sub(start))
	// Points at end and every step before it, back to start or just
	// before.
	from := end.Add(-step * time.Duration(math.Ceil(float64(end.Sub(start))/float64(step))))
	sel := gpuSelector(ids)
	win := "[" + strconv.Itoa(int(step.Seconds())) + "s]"
	byUUID := map[string]gpuID{}
	byIndex := map[string]gpuID{}
	for _, id := range ids {
		if id.UUID != "" {
			byUUID[id.UUID] = id
		} else {
			byIndex[id.Index] = id
		}
	}
	points := map[gpuID]map[int64]*gpuPoint{}
	queries := []struct {
		expr string
		set  func(p *gpuPoint, v float64)
	}{
		{famGPUUtil + sel, func(p *gpuPoint, v float64) { p.Util = v }},
		{"max_over_time(" + famGPUUtil + sel + win + ")", func(p *gpuPoint, v float64) { p.UtilMax = v }},
		{famGPUFBUsed + sel, func(p *gpuPoint, v float64) { p.Mem = v * mib }},
		{"max_over_time(" + famGPUFBUsed + sel + win + ")", func(p *gpuPoint, v float64) { p.MemMax = v * mib }},
		{famGPUPower + sel, func(p *gpuPoint, v float64) { p.Power = v }},
		{famGPUEnergy + sel, func(p *gpuPoint, v float64) { p.EnergyMillijoule = v }},
	}
	for _, q := range queries {
		res, err := c.queryRange(ctx, q.expr, from, end, step)
		if err != nil {
			return nil, nil, err
		}
		for _, s := range res {
			id, ok := byUUID[s.Metric["UUID"]]
			if !ok {
				if id, ok = byIndex[s.Metric["gpu"]]; !ok {
					continue
				}
			}
			if m := s.Metric["modelName"]; m != "" {
				models[id] = m
			}
			if points[id] == nil {
				points[id] = map[int64]*gpuPoint{}
			}
			for _, pt := range s.Points {
				p := points[id][pt.T.UnixMilli()]
				if p == nil {
					np := nanPoint(pt.T)
					p = &np
					points[id][pt.T.UnixMilli()] = p
				}
				q.set(p, pt.V)
			}
		}
	}
	for _, id := range ids {
		a := newGPUAcc(underutilPercent)
		ps := make([]*gpuPoint, 0, len(points[id]))
		for _, p := range points[id] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].T.Before(ps[j].T) })
		energy := make([]energyPoint, 0, len(ps))
		for _, p := range ps {
			a.add(*p, spans[id].contains(p.T))
			energy = append(energy, energyPoint{p.T, p.EnergyMillijoule})
		}
		// The history's points and the spans' samples are not taken at
		// the same times: the energy is interpolated over the spans.
		a.energyKWh = nil
		if kwh, ok := energyOver(energy, spans[id].spans, step); ok {
			a.energyKWh = &kwh
		}
		accs[id] = a
	}
	return accs, models, nil
}

// agentAlerts reads the alerts that fired during [start, end].
func agentAlerts(ctx context.Context, c *promClient, start, end time.Time) ([]reportAlert, error) {
	step := historyStep(end.Sub(start))
	res, err := c.queryRange(ctx, `ALERTS{alertstate="firing"}`, start, end, step)
	if err != nil {
		return nil, err
	}
	series := make([]alertSeries, 0, len(res))
	for _, s := range res {
		a := alertSeries{Labels: s.Metric}
		for _, p := range s.Points {
			a.Times = append(a.Times, p.T)
		}
		series = append(series, a)
	}
	return collapseAlerts(series, step), nil
}
