package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/summary"
)

// Config is the `ui:` section of the configuration file.
type Config struct {
	// Fleet shows every host of a central Prometheus-compatible server
	// (Prometheus, or one that agents remote_write to) in the dashboard.
	Fleet Fleet `yaml:"fleet"`
}

// Fleet configures the fleet view.
type Fleet struct {
	// URL is the central server's base URL (its API is URL/api/v1/).
	URL string `yaml:"url"`
	// Refresh is how often a watched fleet host is re-read (default: the
	// collection interval, at least 5s).
	Refresh model.Duration `yaml:"refresh"`
	// HTTPClientConfig is Prometheus' client configuration: basic_auth,
	// authorization, bearer_token_file, tls_config, proxy_url.
	HTTPClientConfig promconfig.HTTPClientConfig `yaml:",inline"`
}

// Validate checks the fleet configuration.
func (f *Fleet) Validate() error {
	if f.URL == "" {
		return nil
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("ui.fleet.url %q: want an http:// or https:// URL of a Prometheus-compatible server, e.g. http://prometheus:9090", f.URL)
	}
	if u.User != nil {
		return fmt.Errorf("ui.fleet.url %q: put credentials in ui.fleet.basic_auth, not in the URL", f.URL)
	}
	if f.Refresh < 0 {
		return fmt.Errorf("ui.fleet.refresh %s: must not be negative", f.Refresh)
	}
	if err := f.HTTPClientConfig.Validate(); err != nil {
		return fmt.Errorf("ui.fleet: %w", err)
	}
	return nil
}

// fleetClient reads the central server.
type fleetClient struct {
	base    *url.URL
	display string
	client  *http.Client
	refresh time.Duration
	proxy   *httputil.ReverseProxy
}

func newFleetClient(f Fleet, interval time.Duration) (*fleetClient, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	base, _ := url.Parse(strings.TrimRight(f.URL, "/"))
	client, err := promconfig.NewClientFromConfig(f.HTTPClientConfig, "trainwatch-fleet")
	if err != nil {
		return nil, fmt.Errorf("ui.fleet: %w", err)
	}
	client.Timeout = 30 * time.Second
	refresh := time.Duration(f.Refresh)
	if refresh == 0 {
		refresh = max(interval, 5*time.Second)
	}
	fc := &fleetClient{base: base, display: base.String(), client: client, refresh: refresh}
	fc.proxy = &httputil.ReverseProxy{
		Transport: client.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			rest := strings.TrimPrefix(pr.In.URL.Path, "/api/ui/fleet")
			pr.Out.URL.Scheme, pr.Out.URL.Host = base.Scheme, base.Host
			pr.Out.URL.Path = base.Path + rest
			pr.Out.URL.RawPath = ""
			pr.Out.Host = base.Host
			// The browser's credentials for this agent are not the
			// central server's.
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del("Authorization")
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "the fleet server "+base.String()+" did not answer: "+err.Error())
		},
	}
	return fc, nil
}

// fleetReadPaths are the read-only endpoints the dashboard may ask the
// central server through the agent.
var fleetReadPaths = []string{"query", "query_range", "series", "labels", "label/", "metadata", "alerts", "rules", "query_exemplars", "status/buildinfo"}

func (u *UI) handleFleetAPI(w http.ResponseWriter, r *http.Request) {
	if u.fleet == nil {
		writeError(w, http.StatusNotFound, "no fleet server is configured (ui.fleet.url in the configuration)")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "the fleet API is read-only: GET or POST queries only")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/api/ui/fleet/api/v1/")
	allowed := false
	for _, p := range fleetReadPaths {
		if rest == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(rest, p)) {
			allowed = true
		}
	}
	if !allowed {
		writeError(w, http.StatusForbidden, fmt.Sprintf("/api/v1/%s is not forwarded to the fleet server; only %s", rest, strings.Join(fleetReadPaths, ", ")))
		return
	}
	u.fleet.proxy.ServeHTTP(w, r)
}

// apiResponse is Prometheus' JSON envelope.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// query runs an instant query on the central server.
func (fc *fleetClient) query(ctx context.Context, expr string, at time.Time) (model.Vector, error) {
	form := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fc.base.String()+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("fleet query: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := fc.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the fleet server %s did not answer: %w", fc.display, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the fleet server's answer: %w", err)
	}
	var ar apiResponse
	if err := json.Unmarshal(body, &ar); err != nil {
		return nil, fmt.Errorf("the fleet server %s answered %s, not Prometheus' API: %.200s", fc.display, resp.Status, body)
	}
	if ar.Status != "success" {
		return nil, fmt.Errorf("the fleet server %s: %s: %s", fc.display, ar.ErrorType, ar.Error)
	}
	var qd struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(ar.Data, &qd); err != nil {
		return nil, fmt.Errorf("decoding the fleet server's answer: %w", err)
	}
	if qd.ResultType != "vector" {
		return nil, fmt.Errorf("the fleet server answered a %s, want a vector", qd.ResultType)
	}
	var v model.Vector
	if err := json.Unmarshal(qd.Result, &v); err != nil {
		return nil, fmt.Errorf("decoding the fleet server's answer: %w", err)
	}
	return v, nil
}

// Host is one host of the fleet.
type Host struct {
	Instance string `json:"instance"`
	Job      string `json:"job"`
	Up       bool   `json:"up"`
	// Self is true for this agent.
	Self bool `json:"self"`
}

func (u *UI) handleFleetHosts(w http.ResponseWriter, r *http.Request) {
	if u.fleet == nil {
		writeError(w, http.StatusNotFound, "no fleet server is configured (ui.fleet.url in the configuration)")
		return
	}
	v, err := u.fleet.query(r.Context(), "max by (instance, job) (up)", time.Now())
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	hosts := []Host{}
	for _, s := range v {
		inst := string(s.Metric["instance"])
		hosts = append(hosts, Host{Instance: inst, Job: string(s.Metric["job"]), Up: s.Value == 1, Self: inst == u.opts.Instance})
	}
	sort.Slice(hosts, func(i, j int) bool {
		if hosts[i].Instance != hosts[j].Instance {
			return hosts[i].Instance < hosts[j].Instance
		}
		return hosts[i].Job < hosts[j].Job
	})
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "hosts": hosts})
}

// hostSelector is every series the dashboard summarises for one fleet
// host.
func hostSelector(instance string) string {
	return `{instance=` + strconv.Quote(instance) + `,__name__=~"node_.+|DCGM_.+|trainwatch_.+|training_loss|validation_loss|learning_rate|ALERTS"}`
}

// fleetEvents streams one fleet host's snapshots, read from the central
// server every refresh period.
func (u *UI) fleetEvents(w http.ResponseWriter, r *http.Request, instance string) {
	if u.fleet == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("instance %q is not this agent (%s), and no fleet server is configured (ui.fleet.url)", instance, u.opts.Instance))
		return
	}
	if !u.acquireStream(w) {
		return
	}
	defer u.releaseStream()
	rc := sse(w)
	if err := send(w, rc, []byte("retry: 5000\n\n")); err != nil {
		return
	}
	ctx := r.Context()
	sel := hostSelector(instance)
	var prev *collector.Snapshot
	read := func(at time.Time) *collector.Snapshot {
		v, err := u.fleet.query(ctx, sel, at)
		if err != nil {
			if ctx.Err() == nil {
				_ = send(w, rc, encodeEvent("problem", map[string]string{"error": err.Error()}))
			}
			return nil
		}
		if len(v) == 0 {
			_ = send(w, rc, encodeEvent("problem", map[string]string{"error": fmt.Sprintf("the fleet server %s has no recent series for instance %q", u.fleet.display, instance)}))
			return nil
		}
		return snapshotFromVector(v, at)
	}
	now := time.Now()
	prev = read(now.Add(-u.fleet.refresh))
	tick := time.NewTicker(u.fleet.refresh)
	defer tick.Stop()
	for at := now; ; {
		if cur := read(at); cur != nil {
			if err := send(w, rc, encodeEvent("snapshot", fleetPayload(instance, prev, cur))); err != nil {
				return
			}
			prev = cur
		}
		select {
		case <-ctx.Done():
			return
		case <-u.closing:
			return
		case at = <-tick.C:
		}
	}
}

// fleetPayload is a fleet host's event: the summary of its series, and
// its runs and alerts as their series show them.
func fleetPayload(instance string, prev, cur *collector.Snapshot) Payload {
	h := summary.Compute(prev, cur)
	return Payload{Instance: instance, Host: h, Runs: runsFromSeries(cur, h.Jobs), Alerts: alertsFromSeries(cur)}
}

// snapshotFromVector turns an instant query's result into a snapshot, one
// family per metric name, so that the summary reads a fleet host's series
// as it reads this agent's own.
func snapshotFromVector(v model.Vector, at time.Time) *collector.Snapshot {
	byName := map[string][]*model.Sample{}
	for _, s := range v {
		name := string(s.Metric[model.MetricNameLabel])
		byName[name] = append(byName[name], s)
	}
	snap := &collector.Snapshot{Time: at}
	for name, ss := range byName {
		seen := map[string]bool{}
		var labelNames []string
		for _, s := range ss {
			for ln := range s.Metric {
				if ln != model.MetricNameLabel && !seen[string(ln)] {
					seen[string(ln)] = true
					labelNames = append(labelNames, string(ln))
				}
			}
		}
		sort.Strings(labelNames)
		f := &collector.Family{Desc: collector.NewDesc(name, "", collector.Gauge, labelNames...)}
		for _, s := range ss {
			lv := make([]string, len(labelNames))
			for i, ln := range labelNames {
				lv[i] = string(s.Metric[model.LabelName(ln)])
			}
			f.Samples = append(f.Samples, collector.Sample{LabelValues: lv, Value: float64(s.Value)})
		}
		snap.Families = append(snap.Families, f)
	}
	sort.Slice(snap.Families, func(i, j int) bool { return snap.Families[i].Desc.Name < snap.Families[j].Desc.Name })
	if f := snap.Family("trainwatch_collector_success"); f != nil {
		for i, s := range f.Samples {
			st := collector.CollectorStatus{Name: f.Label(i, "collector"), Success: s.Value == 1}
			if !st.Success {
				st.Error = "failing on that host (trainwatch_collector_success is 0); its log says why"
			}
			snap.Collectors = append(snap.Collectors, st)
		}
	}
	return snap
}

// runsFromSeries lists a fleet host's runs from its trainwatch_run_*
// series.
func runsFromSeries(s *collector.Snapshot, js []summary.Job) []RunView {
	out := []RunView{}
	info := s.Family("trainwatch_run_info")
	if info == nil {
		return out
	}
	byRun := func(name string) map[string]float64 {
		m := map[string]float64{}
		if f := s.Family(name); f != nil {
			for i, smp := range f.Samples {
				m[f.Label(i, "run")] = smp.Value
			}
		}
		return m
	}
	step, progress, eta := byRun("trainwatch_run_step"), byRun("trainwatch_run_progress_ratio"), byRun("trainwatch_run_eta_seconds")
	sps, start, end := byRun("trainwatch_run_steps_per_second"), byRun("trainwatch_run_start_time_seconds"), byRun("trainwatch_run_end_time_seconds")
	loss, vloss := byRun("training_loss"), byRun("validation_loss")
	// A value that is not a finite number (or not a time JSON can write)
	// is left out: the host's series are not ours to trust.
	finite := func(m map[string]float64, id string) (float64, bool) {
		v, ok := m[id]
		return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	for i := range info.Samples {
		id := info.Label(i, "run")
		r := runs.Run{ID: id, Name: info.Label(i, "name"), Host: info.Label(i, "host"), Source: info.Label(i, "source"),
			Status: info.Label(i, "status"), Metrics: map[string]runs.Float{}}
		if v, ok := finite(step, id); ok && v >= 0 && v <= 1<<53 {
			r.Step = int64(v)
		}
		if v, ok := finite(sps, id); ok {
			r.StepsPerSec = v
		}
		if v, ok := start[id]; ok {
			if t, ok := unixTime(v); ok {
				r.Start = t
			}
		}
		if v, ok := end[id]; ok {
			if t, ok := unixTime(v); ok {
				r.End = &t
			}
		}
		if v, ok := finite(progress, id); ok {
			r.Progress = &v
		}
		if v, ok := finite(eta, id); ok {
			r.ETASeconds = &v
		}
		if v, ok := loss[id]; ok {
			r.Metrics["training_loss"] = runs.Float(v)
		}
		if v, ok := vloss[id]; ok {
			r.Metrics["validation_loss"] = runs.Float(v)
		}
		out = append(out, RunView{Run: r, GPUs: []string{}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out
}

// unixTime turns Unix seconds into a time; ok is false unless the time is
// one JSON can write (years 0000 to 9999).
func unixTime(v float64) (time.Time, bool) {
	if !(v >= -62167219200 && v < 253402300800) { // NaN fails too
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// alertsFromSeries lists a fleet host's alerts from its ALERTS series
// (their annotations are not in the series).
func alertsFromSeries(s *collector.Snapshot) []Alert {
	out := []Alert{}
	f := s.Family("ALERTS")
	if f == nil {
		return out
	}
	for _, smp := range f.Samples {
		labels := map[string]string{}
		for j, n := range f.Desc.LabelNames {
			if v := smp.LabelValues[j]; v != "" {
				labels[n] = v
			}
		}
		out = append(out, Alert{Name: labels["alertname"], State: labels["alertstate"], Severity: labels["severity"],
			Labels: labels, Value: runs.Float(smp.Value),
			Summary: "(from the fleet server's ALERTS series; open that host's agent for the description)"})
	}
	sortAlerts(out)
	return out
}
