package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// uiClient is one dashboard tab, as internal/ui/static's JavaScript drives
// it: the event stream held open, and every few seconds the next page with
// the requests that page makes when it opens. Every Reload the tab is
// reloaded: the stream and every connection are closed and opened anew.
type uiClient struct {
	id     int
	base   string
	o      options
	st     *stats
	tr     *http.Transport
	client *http.Client // page requests
	stream *http.Client // the event stream: no timeout
	rng    *rand.Rand   // used by the page loop only

	mu       sync.Mutex
	instance string
	runs     []streamRun // the latest event's runs
}

// streamRun is what the client reads of a run in an event.
type streamRun struct {
	ID     string     `json:"id"`
	Status string     `json:"status"`
	Start  time.Time  `json:"start"`
	End    *time.Time `json:"end"`
	Step   int64      `json:"step"`
}

func newUIClient(id int, base string, o options, st *stats) *uiClient {
	// A browser keeps at most 6 connections per host.
	tr := &http.Transport{MaxConnsPerHost: 6, MaxIdleConnsPerHost: 6, IdleConnTimeout: 90 * time.Second}
	return &uiClient{
		id: id, base: base, o: o, st: st, tr: tr,
		client: &http.Client{Timeout: 60 * time.Second, Transport: tr},
		stream: &http.Client{Transport: tr},
		rng:    rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano()))),
	}
}

// loop opens the tab and reloads it every Reload (the first reload of
// client i after (i+1)/n of it, so that the clients' reloads are spread)
// until ctx ends; then it closes every connection.
func (c *uiClient) loop(ctx context.Context) {
	defer c.tr.CloseIdleConnections()
	life := c.o.Reload * time.Duration(c.id+1) / time.Duration(max(1, c.o.Clients))
	for ctx.Err() == nil {
		tab, cancel := context.WithTimeout(ctx, life)
		c.openTab(tab)
		cancel()
		c.tr.CloseIdleConnections()
		life = c.o.Reload
	}
}

// openTab loads the page, holds the stream and views pages until ctx ends.
func (c *uiClient) openTab(ctx context.Context) {
	c.loadStatic(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.streamLoop(ctx) })
	for k := c.id; ; k++ {
		c.view(ctx, k)
		wait := c.o.PageMin
		if c.o.PageMax > c.o.PageMin {
			wait += time.Duration(c.rng.Int64N(int64(c.o.PageMax - c.o.PageMin)))
		}
		if machine.Sleep(ctx, wait) != nil {
			break
		}
	}
	wg.Wait()
}

// assetRe finds what index.html links: scripts, styles, module preloads.
var assetRe = regexp.MustCompile(`(?:src|href)="([^"#:]+)"`)

// loadStatic fetches index.html, everything it links, and the dashboard's
// configuration (which gives the instance every history query carries).
func (c *uiClient) loadStatic(ctx context.Context) {
	b, err := do(ctx, c.client, http.MethodGet, c.base+"/", "", nil, http.StatusOK)
	c.st.done(ctx, kindStatic, err)
	if err == nil {
		var wg sync.WaitGroup
		for _, m := range assetRe.FindAllSubmatch(b, -1) {
			wg.Go(func() {
				_, err := do(ctx, c.client, http.MethodGet, c.base+"/"+string(m[1]), "", nil, http.StatusOK)
				c.st.done(ctx, kindStatic, err)
			})
		}
		wg.Wait()
	}
	b, err = do(ctx, c.client, http.MethodGet, c.base+"/api/ui/config", "", nil, http.StatusOK)
	if err == nil {
		var cfg struct {
			Instance string `json:"instance"`
			History  bool   `json:"history"`
		}
		if err = json.Unmarshal(b, &cfg); err == nil && (cfg.Instance == "" || !cfg.History) {
			err = fmt.Errorf("GET /api/ui/config: no instance or history off: %s", truncate(b, 200))
		}
		if err == nil {
			c.mu.Lock()
			c.instance = cfg.Instance
			c.mu.Unlock()
		}
	}
	c.st.done(ctx, kindPage, err)
}

// streamLoop holds the event stream open, reconnecting after 2 s (the
// retry the agent asks for) when it drops, until ctx ends.
func (c *uiClient) streamLoop(ctx context.Context) {
	for ctx.Err() == nil {
		err := c.streamOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		c.st.drops.Add(1)
		c.st.done(ctx, kindStream, fmt.Errorf("event stream ended: %w", err))
		if machine.Sleep(ctx, 2*time.Second) != nil {
			return
		}
	}
}

// streamOnce connects to /api/ui/events and reads events until the stream
// ends or ctx does.
func (c *uiClient) streamOnce(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/ui/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := c.stream.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("GET /api/ui/events: %s: %s", resp.Status, truncate(b, 300))
	}
	c.st.connects.Add(1)
	c.st.done(ctx, kindStream, nil)
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	last := time.Now()
	var event string
	var data []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if event != "" || data != nil {
				c.dispatch(ctx, event, data)
				if event == "snapshot" {
					c.st.gap(time.Since(last))
					last = time.Now()
				}
			}
			event, data = "", nil
		case line[0] == ':': // a keep-alive comment
		case bytes.HasPrefix(line, []byte("event:")):
			event = strings.TrimSpace(string(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(line[len("data:"):], []byte(" "))...)
		}
	}
}

// dispatch handles one event: a snapshot must decode, with the runs the
// pages use; a problem is a failure.
func (c *uiClient) dispatch(ctx context.Context, event string, data []byte) {
	switch event {
	case "snapshot":
		var ev struct {
			Instance string          `json:"instance"`
			Host     json.RawMessage `json:"host"`
			Runs     []streamRun     `json:"runs"`
		}
		if err := json.Unmarshal(data, &ev); err != nil || len(ev.Host) < 2 {
			c.st.done(ctx, kindStream, fmt.Errorf("snapshot event: not the document the dashboard reads (%v): %s", err, truncate(data, 200)))
			return
		}
		c.st.events.Add(1)
		c.mu.Lock()
		c.runs = ev.Runs
		c.mu.Unlock()
	case "problem":
		c.st.done(ctx, kindStream, fmt.Errorf("problem event: %s", truncate(data, 300)))
	}
}

// ---- pages ----

// numPages is len(pages).
const numPages = 5

// pages are the dashboard's pages a client cycles through.
var pages = [numPages]struct {
	name string
	view func(c *uiClient, ctx context.Context, k int)
}{
	{"overview", (*uiClient).overview},
	{"gpu", (*uiClient).gpu},
	{"runs", (*uiClient).runsPage},
	{"alerts", (*uiClient).alerts},
	{"processes", (*uiClient).processes},
}

// view opens page k (mod the pages); its requests go out at once, as the
// browser sends them.
func (c *uiClient) view(ctx context.Context, k int) {
	pages[k%len(pages)].view(c, ctx, k)
}

// state returns the instance and the latest runs.
func (c *uiClient) state() (string, []streamRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instance, c.runs
}

// all runs fs concurrently and waits for them.
func all(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(f)
	}
	wg.Wait()
}

// get sends GET path?q, counts it and returns the body.
func (c *uiClient) get(ctx context.Context, path string, q url.Values) []byte {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	b, err := do(ctx, c.client, http.MethodGet, u, "", nil, http.StatusOK)
	c.st.done(ctx, kindPage, err)
	return b
}

func secs(t float64) string { return strconv.FormatFloat(t, 'f', 3, 64) }

func nowSec() float64 { return float64(time.Now().UnixMilli()) / 1000 }

// queryRange is core.js's promRange.
func (c *uiClient) queryRange(ctx context.Context, expr string, start, end float64, step int) {
	c.get(ctx, "/api/v1/query_range", url.Values{"query": {expr}, "start": {secs(start)}, "end": {secs(end)}, "step": {strconv.Itoa(step)}})
}

// query is core.js's promQuery.
func (c *uiClient) query(ctx context.Context, expr string, t float64) {
	c.get(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {secs(t)}})
}

// stepFor is core.js's stepFor at a 1 s interval: whole seconds giving
// about n points over rng seconds.
func stepFor(rng float64, n int) int {
	return max(1, int(math.Ceil(rng/float64(n))))
}

// esc escapes a PromQL string literal's content, as core.js's esc.
func esc(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// reEsc is core.js's reEsc: s as a regular expression matching itself.
func reEsc(s string) string { return regexp.QuoteMeta(s) }

// gpuRows are overview.js's GPU_ROWS metrics (the cards' sparklines).
var gpuRows = []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP",
	"DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK"}

// gpuDefs are gpu.js's DEFS metrics (the GPU page's charts).
var gpuDefs = []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP",
	"DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_POWER_MGMT_LIMIT", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK",
	"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE"}

// overview is overview.js: the GPU cards' sparklines, the CPU and memory
// charts, the active runs' loss sparklines. It does not poll (the stream
// carries the live values); the harness adds the /api/v1/snapshot read
// that `trainwatch top` and `trainwatch summary --url` make.
func (c *uiClient) overview(ctx context.Context, _ int) {
	inst, runs := c.state()
	I := `instance="` + esc(inst) + `"`
	rng := c.o.Range.Seconds()
	now := nowSec()
	spark, big := stepFor(rng, 150), stepFor(rng, 600)
	w := max(big, 4)
	cpu := fmt.Sprintf(`label_replace(100 * (1 - sum(rate(node_cpu_seconds_total{%s,mode=~"idle|iowait"}[%ds])) / sum(rate(node_cpu_seconds_total{%s}[%ds]))), "w", "cpu", "", "")`, I, w, I, w)
	mem := fmt.Sprintf(`label_replace(100 * (1 - node_memory_MemAvailable_bytes{%s} / node_memory_MemTotal_bytes{%s}), "w", "mem", "", "")`, I, I)
	swap := fmt.Sprintf(`label_replace(100 * (1 - node_memory_SwapFree_bytes{%s} / node_memory_SwapTotal_bytes{%s}) and node_memory_SwapTotal_bytes{%s} > 0, "w", "swap", "", "")`, I, I, I)
	fs := []func(){
		func() {
			c.queryRange(ctx, `{__name__=~"`+strings.Join(gpuRows, "|")+`",`+I+`}`, now-rng, now, spark)
		},
		func() { c.queryRange(ctx, cpu+" or "+mem+" or "+swap, now-rng, now, big) },
		func() { c.get(ctx, "/api/v1/snapshot", nil) },
	}
	var ids []string
	start := math.Inf(1)
	for _, r := range runs {
		if r.Status == "running" || r.Status == "stalled" {
			ids = append(ids, strings.ReplaceAll(reEsc(r.ID), `\`, `\\`))
			start = math.Min(start, float64(r.Start.UnixMilli())/1000)
		}
	}
	if len(ids) > 0 {
		fs = append(fs, func() {
			c.queryRange(ctx, `training_loss{`+I+`,run=~"`+strings.Join(ids, "|")+`"}`, start, now, stepFor(now-start, 150))
		})
	}
	all(fs...)
}

// gpu is gpu.js: GPU k mod 8's charts, throttle reasons and XID events.
func (c *uiClient) gpu(ctx context.Context, k int) {
	inst, _ := c.state()
	I := `instance="` + esc(inst) + `"`
	G := `gpu="` + strconv.Itoa(k%8) + `"`
	rng := c.o.Range.Seconds()
	now := nowSec()
	step := stepFor(rng, 500)
	all(
		func() {
			c.queryRange(ctx, `{__name__=~"`+strings.Join(gpuDefs, "|")+`",`+G+","+I+"}", now-rng, now, step)
		},
		func() { c.queryRange(ctx, "trainwatch_gpu_clock_event_active{"+G+","+I+"}", now-rng, now, step) },
		func() { c.queryRange(ctx, "trainwatch_gpu_xid_events_total{"+G+","+I+"}", now-rng, now, step) },
	)
}

// runsPage is runs.js: the list (api/v1/runs), then one run's page: its
// series (runSeries), the alerts during it (alertIntervals) and the
// process table. Even views open the newest run, odd ones a random one.
func (c *uiClient) runsPage(ctx context.Context, k int) {
	b := c.get(ctx, "/api/v1/runs", nil)
	var list struct {
		Runs []streamRun `json:"runs"`
	}
	if err := json.Unmarshal(b, &list); err != nil || len(list.Runs) == 0 {
		if ctx.Err() == nil && b != nil {
			c.st.done(ctx, kindPage, fmt.Errorf("GET /api/v1/runs: no runs in %s", truncate(b, 200)))
		}
		return
	}
	r := list.Runs[0]
	if (k/numPages)%2 == 1 {
		r = list.Runs[c.rng.IntN(len(list.Runs))]
	}
	inst, _ := c.state()
	I := `instance="` + esc(inst) + `"`
	start := float64(r.Start.UnixMilli()) / 1000
	end := nowSec()
	if r.End != nil {
		end = float64(r.End.UnixMilli()) / 1000
	}
	dur := math.Max(1, end-start)
	m := `{run="` + esc(r.ID) + `",` + I + `}`
	all(
		func() {
			if dur <= 3600 && r.Step <= 20000 {
				c.query(ctx, m+"["+strconv.Itoa(int(math.Ceil(dur+3600)))+"s]", end+1)
			} else {
				c.queryRange(ctx, m, start, end, max(1, int(math.Ceil(dur/1500))))
			}
		},
		func() { c.alertIntervals(ctx, inst, start, end) },
		func() { c.get(ctx, "/api/ui/processes", nil) },
	)
}

// alertIntervals is alerts.js's: ALERTS{alertstate="firing"} over the
// window.
func (c *uiClient) alertIntervals(ctx context.Context, inst string, start, end float64) {
	c.queryRange(ctx, `ALERTS{alertstate="firing",instance=~"`+esc(reEsc(inst))+`|"}`, start, end, stepFor(end-start, 1000))
}

// alerts is alerts.js: the alerts, the rules, those resolved in the range.
func (c *uiClient) alerts(ctx context.Context, _ int) {
	inst, _ := c.state()
	now := nowSec()
	all(
		func() { c.get(ctx, "/api/v1/alerts", nil) },
		func() { c.get(ctx, "/api/v1/rules", nil) },
		func() { c.alertIntervals(ctx, inst, now-c.o.Range.Seconds(), now) },
	)
}

// processes is processes.js: the full process table (the page re-reads it
// every 5 s while visible, about as often as a client views a page).
func (c *uiClient) processes(ctx context.Context, _ int) {
	b := c.get(ctx, "/api/ui/processes", nil)
	if b == nil {
		return
	}
	var p struct {
		Processes []json.RawMessage `json:"processes"`
	}
	if err := json.Unmarshal(b, &p); err != nil || len(p.Processes) == 0 {
		c.st.done(ctx, kindPage, errors.New("GET /api/ui/processes: no processes in "+truncate(b, 200)))
	}
}
