package promapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/store"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// limitsTicks and limitsSeries size the data of the limit tests: 4 GPU
// series every 15 s for 200 ticks (50 minutes), 800 samples in all.
const (
	limitsTicks  = 200
	limitsSeries = 4
)

// gpuFamilies returns tick i's GPU utilisation family.
func gpuFamilies(i int) []*collector.Family {
	var samples []gaugeSample
	for g := range limitsSeries {
		samples = append(samples, gaugeSample{labels: []string{strconv.Itoa(g), fmt.Sprintf("GPU-%d", g)}, value: float64((i + g) % 100)})
	}
	return []*collector.Family{family("DCGM_FI_DEV_GPU_UTIL", collector.Gauge, []string{"gpu", "UUID"}, samples...)}
}

// limitsStore opens a store holding limitsTicks ticks of gpuFamilies ending
// now, and returns it with the time of its last tick.
func limitsStore(t *testing.T) (*store.Store, time.Time) {
	t.Helper()
	st := openStore(t, "")
	last := time.Now().Truncate(time.Second)
	first := last.Add(-(limitsTicks - 1) * 15 * time.Second)
	consumeTicks(t, st, first, 15*time.Second, limitsTicks, gpuFamilies)
	return st, last
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestMalformedQuery(t *testing.T) {
	t.Parallel()
	st, last := limitsStore(t)
	_, srv := newAPI(t, Options{Store: st})
	tests := []struct {
		path, query, want string
	}{
		{"/api/v1/query", "sum(", `invalid parameter "query": 1:5: parse error: unclosed left parenthesis`},
		{"/api/v1/query", "DCGM_FI_DEV_GPU_UTIL{gpu=}", `invalid parameter "query": 1:26: parse error: unexpected "}" in label matching, expected string`},
		{"/api/v1/query", "rate(DCGM_FI_DEV_GPU_UTIL)", `expected type range vector in call to function "rate", got instant vector`},
		{"/api/v1/query", "nosuch(DCGM_FI_DEV_GPU_UTIL)", `unknown function with name "nosuch"`},
		{"/api/v1/query", "", "no expression found in input"},
		{"/api/v1/query_range", "1 +", "parse error"},
	}
	for _, tc := range tests {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			p := url.Values{"query": {tc.query}, "time": {unix(last)}, "start": {unix(last.Add(-time.Hour))}, "end": {unix(last)}, "step": {"60"}}
			r := call(t, srv.URL, m, tc.path, p, nil)
			wantError(t, m+" "+tc.path+" "+tc.query, r, http.StatusBadRequest, "bad_data", tc.want)
			if len(r.json) != 3 {
				t.Errorf("%s %q: error envelope has fields %v, want status, errorType, error", m, tc.query, r.json)
			}
		}
	}
}

func TestMaxSamples(t *testing.T) {
	t.Parallel()
	st, last := limitsStore(t)
	_, srv := newAPI(t, Options{Store: st, MaxSamples: 100})
	at := unix(last)
	tests := []struct {
		name, path string
		params     url.Values
		ok         bool
	}{
		// 4 series x 20 samples = 80: under the limit.
		{"range selector under the limit", "/api/v1/query", q("query", "DCGM_FI_DEV_GPU_UTIL[5m]", "time", at), true},
		// 4 series x 40 samples = 160.
		{"range selector over the limit", "/api/v1/query", q("query", "DCGM_FI_DEV_GPU_UTIL[10m]", "time", at), false},
		{"function over the limit", "/api/v1/query", q("query", "max_over_time(DCGM_FI_DEV_GPU_UTIL[30m])", "time", at), false},
		// A range query holds every step's samples: 4 x 61 steps.
		{"range query over the limit", "/api/v1/query_range", q("query", "DCGM_FI_DEV_GPU_UTIL", "start", unix(last.Add(-time.Hour)), "end", at, "step", "60"), false},
		{"range query under the limit", "/api/v1/query_range", q("query", "DCGM_FI_DEV_GPU_UTIL", "start", unix(last.Add(-10*time.Minute)), "end", at, "step", "60"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv.URL, http.MethodPost, tc.path, tc.params, nil)
			if tc.ok {
				wantSuccess(t, tc.name, r)
				return
			}
			wantError(t, tc.name, r, http.StatusUnprocessableEntity, "execution", "query processing would load too many samples into memory in ")
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	st, last := limitsStore(t)
	_, srv := newAPI(t, Options{Store: st, Timeout: time.Nanosecond})
	for _, tc := range []struct {
		path   string
		params url.Values
	}{
		{"/api/v1/query", q("query", "max_over_time(DCGM_FI_DEV_GPU_UTIL[1h])", "time", unix(last))},
		{"/api/v1/query_range", q("query", "DCGM_FI_DEV_GPU_UTIL", "start", unix(last.Add(-time.Hour)), "end", unix(last), "step", "15")},
	} {
		r := call(t, srv.URL, http.MethodGet, tc.path, tc.params, nil)
		// Prometheus' handler answers an engine timeout with 503 and
		// errorType timeout.
		wantError(t, tc.path, r, http.StatusServiceUnavailable, "timeout", "query timed out in ")
	}
	// Calls that evaluate nothing are not bound by the query timeout.
	wantSuccess(t, "labels", call(t, srv.URL, http.MethodGet, "/api/v1/labels", nil, nil))
}

// TestMaxConcurrent fills the only query slot, as a running query would,
// and checks that the next query waits, then is refused with 429, that
// calls that evaluate nothing still answer, and that the slot serves again
// once freed.
func TestMaxConcurrent(t *testing.T) {
	t.Parallel()
	st, last := limitsStore(t)
	a, srv := newAPI(t, Options{Store: st, MaxConcurrent: 1})
	if cap(a.slots) != 1 {
		t.Fatalf("%d slots, want 1", cap(a.slots))
	}
	query := q("query", "DCGM_FI_DEV_GPU_UTIL", "time", unix(last))

	// Queries run one after another release their slot.
	for i := range 5 {
		wantSuccess(t, fmt.Sprintf("query %d", i), call(t, srv.URL, http.MethodGet, "/api/v1/query", query, nil))
	}
	if n := len(a.slots); n != 0 {
		t.Fatalf("%d slots held after the queries finished", n)
	}

	a.slots <- struct{}{} // a query in flight
	// Every call that evaluates a query or walks the index waits for the
	// slot, then is refused (all at once, so that the waits overlap).
	limitedCalls := []struct {
		method, path string
		params       url.Values
	}{
		{http.MethodGet, "/api/v1/query", query},
		{http.MethodPost, "/api/v1/query_range", q("query", "DCGM_FI_DEV_GPU_UTIL", "start", unix(last.Add(-time.Hour)), "end", unix(last), "step", "60")},
		{http.MethodGet, "/api/v1/series", q("match[]", "DCGM_FI_DEV_GPU_UTIL")},
		{http.MethodGet, "/api/v1/labels", nil},
		{http.MethodGet, "/api/v1/label/gpu/values", nil},
		{http.MethodGet, "/api/v1/query_exemplars", q("query", "DCGM_FI_DEV_GPU_UTIL")},
	}
	type answer struct {
		r      apiResponse
		err    error
		waited time.Duration
	}
	results := make([]chan answer, len(limitedCalls))
	for i, tc := range limitedCalls {
		results[i] = make(chan answer, 1)
		go func() {
			begin := time.Now()
			r, err := send(srv.URL, tc.method, tc.path, tc.params, nil)
			results[i] <- answer{r, err, time.Since(begin)}
		}()
	}
	for i, tc := range limitedCalls {
		res := <-results[i]
		if res.err != nil {
			t.Fatal(res.err)
		}
		wantError(t, tc.path, res.r, http.StatusTooManyRequests, "unavailable", "too many concurrent queries: 1 are running (query.max_concurrency)")
		if res.waited < concurrencyWait-100*time.Millisecond {
			t.Errorf("%s refused after %s, want a wait of %s for a slot", tc.path, res.waited, concurrencyWait)
		}
	}
	// Calls that evaluate nothing do not take a slot.
	for _, p := range []string{"/api/v1/status/buildinfo", "/api/v1/metadata", "/api/v1/status/runtimeinfo", "/api/v1/rules"} {
		wantSuccess(t, p+" while the slot is taken", call(t, srv.URL, http.MethodGet, p, nil, nil))
	}
	// A client that gives up while waiting frees nothing and gets nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	begin := time.Now()
	a.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/query?"+query.Encode(), nil))
	if d := time.Since(begin); d > time.Second {
		t.Errorf("a canceled request waited %s for a slot", d)
	}
	if len(a.slots) != 1 {
		t.Fatalf("the canceled request changed the slots: %d held, want 1", len(a.slots))
	}

	// A query waiting for the slot gets it when the running one ends.
	done := make(chan answer, 1)
	go func() {
		r, err := send(srv.URL, http.MethodGet, "/api/v1/query", query, nil)
		done <- answer{r: r, err: err}
	}()
	time.Sleep(300 * time.Millisecond)
	<-a.slots // the running query ends
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	data := wantSuccess(t, "the waiting query", res.r)
	if n := len(data.(map[string]any)["result"].([]any)); n != limitsSeries {
		t.Errorf("the waiting query returned %d series, want %d", n, limitsSeries)
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	md := []Metadata{
		{Name: "DCGM_FI_DEV_GPU_UTIL", Type: model.MetricTypeGauge, Help: "GPU utilization (in %)."},
		{Name: "node_cpu_seconds_total", Type: model.MetricTypeCounter, Help: "Seconds the CPUs spent in each mode.", Unit: "seconds"},
		{Name: "trainwatch_tick_duration_seconds", Type: model.MetricTypeHistogram, Help: "Tick duration."},
		{Name: "trainwatch_tick_duration_seconds", Type: model.MetricTypeHistogram, Help: "Tick duration, second source."},
	}
	_, srv := newAPI(t, Options{Store: st, Metadata: func() []Metadata { return md }})
	entry := func(typ, help, unit string) map[string]any {
		return map[string]any{"type": typ, "help": help, "unit": unit}
	}
	gpu := []any{entry("gauge", "GPU utilization (in %).", "")}
	cpu := []any{entry("counter", "Seconds the CPUs spent in each mode.", "seconds")}
	tick1 := entry("histogram", "Tick duration.", "")
	tick2 := entry("histogram", "Tick duration, second source.", "")
	tests := []struct {
		name   string
		params url.Values
		want   map[string]any
		count  int // with limit: how many families, any of them
	}{
		{name: "all", want: map[string]any{"DCGM_FI_DEV_GPU_UTIL": gpu, "node_cpu_seconds_total": cpu, "trainwatch_tick_duration_seconds": []any{tick1, tick2}}},
		{name: "metric", params: q("metric", "node_cpu_seconds_total"), want: map[string]any{"node_cpu_seconds_total": cpu}},
		{name: "unknown metric", params: q("metric", "nonexistent"), want: map[string]any{}},
		{name: "limit_per_metric", params: q("limit_per_metric", "1"), want: map[string]any{"DCGM_FI_DEV_GPU_UTIL": gpu, "node_cpu_seconds_total": cpu, "trainwatch_tick_duration_seconds": []any{tick1}}},
		{name: "metric and limit_per_metric", params: q("metric", "trainwatch_tick_duration_seconds", "limit_per_metric", "1"), want: map[string]any{"trainwatch_tick_duration_seconds": []any{tick1}}},
		{name: "limit 0", params: q("limit", "0"), want: map[string]any{}},
		{name: "negative limit is none", params: q("limit", "-1"), count: 3},
		{name: "limit 2", params: q("limit", "2"), count: 2},
	}
	all := map[string]any{"DCGM_FI_DEV_GPU_UTIL": gpu, "node_cpu_seconds_total": cpu, "trainwatch_tick_duration_seconds": []any{tick1, tick2}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				r := call(t, srv.URL, m, "/api/v1/metadata", tc.params, nil)
				data, ok := wantSuccess(t, tc.name, r).(map[string]any)
				if !ok {
					t.Fatalf("%s: data is not an object: %s", m, r.body)
				}
				if tc.want != nil {
					if !reflect.DeepEqual(data, tc.want) {
						t.Errorf("%s: data = %v, want %v", m, data, tc.want)
					}
					continue
				}
				if len(data) != tc.count {
					t.Errorf("%s: %d families, want %d: %s", m, len(data), tc.count, r.body)
				}
				for name, v := range data {
					if !reflect.DeepEqual(v, all[name]) {
						t.Errorf("%s: %s = %v, want %v", m, name, v, all[name])
					}
				}
			}
		})
	}
	for _, p := range []string{"limit", "limit_per_metric"} {
		r := call(t, srv.URL, http.MethodGet, "/api/v1/metadata", q(p, "ten"), nil)
		wantError(t, p+"=ten", r, http.StatusBadRequest, "bad_data", p+" must be a number")
	}
	r := call(t, srv.URL, http.MethodDelete, "/api/v1/metadata", nil, nil)
	wantError(t, "DELETE", r, http.StatusMethodNotAllowed, "bad_data", "use GET or POST")

	// Without Options.Metadata the list is empty, not null.
	_, bare := newAPI(t, Options{Store: st})
	r = call(t, bare.URL, http.MethodGet, "/api/v1/metadata", nil, nil)
	if data := wantSuccess(t, "no metadata", r); !reflect.DeepEqual(data, map[string]any{}) {
		t.Errorf("no metadata: data = %v, want {}", data)
	}
}

func TestBuildInfo(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	_, srv := newAPI(t, Options{Store: st, Version: "1.2.3", Revision: "abc123", BuildDate: "20260101-00:00:00"})
	data := wantSuccess(t, "buildinfo", call(t, srv.URL, http.MethodGet, "/api/v1/status/buildinfo", nil, nil))
	// A test binary's build information lists no modules, so EngineVersion
	// falls back to "3.0.0" here; TestBuildInfoBinary checks a real binary.
	want := map[string]any{
		"version":   EngineVersion(),
		"revision":  "abc123",
		"branch":    "trainwatch-1.2.3",
		"buildUser": "",
		"buildDate": "20260101-00:00:00",
		"goVersion": runtime.Version(),
	}
	if !reflect.DeepEqual(data, want) {
		t.Errorf("buildinfo = %v, want %v", data, want)
	}
}

// TestBuildInfoBinary builds a real binary (testdata/buildinfo) that serves
// /api/v1/status/buildinfo, and checks that it reports the Prometheus
// release of the linked prometheus module (v0.316.0: 3.16.0), which Grafana
// reads to decide what it may ask.
func TestBuildInfoBinary(t *testing.T) {
	t.Parallel()
	goBin := testenv.LookPath(t, "go")
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Version}}", "github.com/prometheus/prometheus").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/prometheus/prometheus: %v", err)
	}
	module := strings.TrimSpace(string(out))
	wantVersion := moduleToRelease(module)
	if wantVersion == "3.0.0" && !strings.HasPrefix(module, "v0.300.") {
		t.Fatalf("go.mod's prometheus module %s maps to no release", module)
	}
	bin := filepath.Join(t.TempDir(), "buildinfo")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race") // reuses the packages this test was built from
	}
	if out, err := exec.Command(goBin, append(args, "./testdata/buildinfo")...).CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/buildinfo: %v\n%s", err, out)
	}
	out, err = exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running testdata/buildinfo: %v", err)
	}
	var body struct {
		Status string
		Data   map[string]string
	}
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatalf("buildinfo answer %s: %v", out, err)
	}
	if body.Status != "success" || body.Data["version"] != wantVersion || body.Data["branch"] != "trainwatch-test" {
		t.Errorf("buildinfo = %s, want version %s and branch trainwatch-test", out, wantVersion)
	}
	t.Logf("prometheus module %s: buildinfo version %s", module, body.Data["version"])
}

func TestModuleToRelease(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"v0.316.0", "3.16.0"},
		{"v0.300.0", "3.0.0"},
		{"v0.301.2", "3.1.2"},
		{"v0.310.11", "3.10.11"},
		{"0.316.0", "3.16.0"},
		{"v0.316.0-rc.1", "3.16.0"},
		{"v0.316.1-0.20260101120000-0123456789ab", "3.16.1"},
		{"v0.316.0+incompatible", "3.16.0"},
		{"v0.400.0", "4.0.0"},
		// Not a v0.MMP.x version of a 3.x or later release: the fallback.
		{"v0.55.0", "3.0.0"},
		{"v1.2.3", "3.0.0"},
		{"v0.316", "3.0.0"},
		{"v0.x.0", "3.0.0"},
		{"(devel)", "3.0.0"},
		{"", "3.0.0"},
	}
	for _, tc := range tests {
		if got := moduleToRelease(tc.in); got != tc.want {
			t.Errorf("moduleToRelease(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNoCORS checks that no origin is allowed: the API answers a browser's
// cross-origin request without Access-Control-Allow-Origin.
func TestNoCORS(t *testing.T) {
	t.Parallel()
	st, last := limitsStore(t)
	_, srv := newAPI(t, Options{Store: st})
	for _, origin := range []string{"https://grafana.example.com", "http://localhost:3000", "null", "*"} {
		h := http.Header{"Origin": {origin}}
		for _, tc := range []struct {
			method, path string
			params       url.Values
		}{
			{http.MethodGet, "/api/v1/query", q("query", "DCGM_FI_DEV_GPU_UTIL", "time", unix(last))},
			{http.MethodPost, "/api/v1/query", q("query", "DCGM_FI_DEV_GPU_UTIL", "time", unix(last))},
			{http.MethodGet, "/api/v1/status/buildinfo", nil},
			{http.MethodGet, "/api/v1/metadata", nil},
			{http.MethodGet, "/api/v1/query", q("query", "sum(")},
		} {
			r := call(t, srv.URL, tc.method, tc.path, tc.params, h)
			if v := r.header.Values("Access-Control-Allow-Origin"); len(v) > 0 {
				t.Errorf("Origin %s: %s %s answered Access-Control-Allow-Origin %q", origin, tc.method, tc.path, v)
			}
		}
		// A preflight request.
		req, err := http.NewRequest(http.MethodOptions, srv.URL+"/api/v1/query", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Values("Access-Control-Allow-Origin"); len(v) > 0 {
			t.Errorf("Origin %s: preflight answered Access-Control-Allow-Origin %q", origin, v)
		}
	}
}

// TestAdminRefused checks that the TSDB admin calls, which would delete
// data or fill the disk, are answer as Prometheus refuses them without
// --web.enable-admin-api.
func TestAdminRefused(t *testing.T) {
	t.Parallel()
	st, last := limitsStore(t)
	_, srv := newAPI(t, Options{Store: st})
	for _, tc := range []struct {
		method, path string
		params       url.Values
	}{
		{http.MethodPost, "/api/v1/admin/tsdb/snapshot", nil},
		{http.MethodPut, "/api/v1/admin/tsdb/snapshot", q("skip_head", "true")},
		{http.MethodPost, "/api/v1/admin/tsdb/delete_series", q("match[]", "DCGM_FI_DEV_GPU_UTIL")},
		{http.MethodPut, "/api/v1/admin/tsdb/delete_series", q("match[]", `{__name__=~".+"}`)},
		{http.MethodPost, "/api/v1/admin/tsdb/clean_tombstones", nil},
	} {
		r := call(t, srv.URL, tc.method, tc.path, tc.params, nil)
		wantError(t, tc.method+" "+tc.path, r, http.StatusInternalServerError, "unavailable", "admin APIs disabled")
	}
	if _, err := os.Stat(filepath.Join(st.Dir(), "snapshots")); !os.IsNotExist(err) {
		t.Errorf("a snapshot directory exists: %v", err)
	}
	// Nothing was deleted.
	data := wantSuccess(t, "query", call(t, srv.URL, http.MethodGet, "/api/v1/query", q("query", "count(DCGM_FI_DEV_GPU_UTIL)", "time", unix(last)), nil))
	if got := fmt.Sprint(data.(map[string]any)["result"]); !strings.Contains(got, " 4]") {
		t.Errorf("count after the delete calls = %s, want 4", got)
	}
}

// TestOtherEndpoints calls the endpoints a Prometheus client (Grafana, the
// Prometheus UI, promtool) may call besides queries, and checks each answers
// success in Prometheus' shape.
func TestOtherEndpoints(t *testing.T) {
	t.Parallel()
	st, last := limitsStore(t)
	flags := map[string]string{"query.timeout": "2m", "storage.tsdb.retention.time": "15d"}
	_, srv := newAPI(t, Options{Store: st, Flags: flags, ListenAddress: "node1:9400"})
	from, to := unix(last.Add(-time.Hour)), unix(last)
	tests := []struct {
		path   string
		params url.Values
		check  func(t *testing.T, data any)
	}{
		{"/api/v1/query_exemplars", q("query", "DCGM_FI_DEV_GPU_UTIL", "start", from, "end", to), func(t *testing.T, data any) {
			if !reflect.DeepEqual(data, []any{}) {
				t.Errorf("exemplars = %v, want []", data)
			}
		}},
		{"/api/v1/rules", nil, func(t *testing.T, data any) {
			if !reflect.DeepEqual(data, map[string]any{"groups": []any{}}) {
				t.Errorf("rules = %v, want no groups", data)
			}
		}},
		{"/api/v1/rules", q("type", "alert"), func(t *testing.T, data any) {
			if !reflect.DeepEqual(data, map[string]any{"groups": []any{}}) {
				t.Errorf("rules = %v, want no groups", data)
			}
		}},
		{"/api/v1/alerts", nil, func(t *testing.T, data any) {
			if !reflect.DeepEqual(data, map[string]any{"alerts": []any{}}) {
				t.Errorf("alerts = %v, want none", data)
			}
		}},
		{"/api/v1/notifications", nil, func(t *testing.T, data any) {
			if !reflect.DeepEqual(data, []any{}) {
				t.Errorf("notifications = %v, want []", data)
			}
		}},
		{"/api/v1/features", nil, func(t *testing.T, data any) {
			m, ok := data.(map[string]any)
			if !ok || len(m) == 0 {
				t.Errorf("features = %v, want the PromQL features", data)
			}
		}},
		{"/api/v1/targets", nil, func(t *testing.T, data any) {
			m := data.(map[string]any)
			if !reflect.DeepEqual(m["activeTargets"], []any{}) || !reflect.DeepEqual(m["droppedTargets"], []any{}) {
				t.Errorf("targets = %v, want none", data)
			}
		}},
		{"/api/v1/targets/metadata", q("match_target", `{job="trainwatch"}`), func(t *testing.T, data any) {
			if !reflect.DeepEqual(data, []any{}) {
				t.Errorf("targets/metadata = %v, want []", data)
			}
		}},
		{"/api/v1/scrape_pools", nil, func(t *testing.T, data any) {
			if !reflect.DeepEqual(data, map[string]any{"scrapePools": []any{}}) {
				t.Errorf("scrape_pools = %v, want none", data)
			}
		}},
		{"/api/v1/alertmanagers", nil, func(t *testing.T, data any) {
			m := data.(map[string]any)
			if !reflect.DeepEqual(m["activeAlertmanagers"], []any{}) {
				t.Errorf("alertmanagers = %v, want none", data)
			}
		}},
		{"/api/v1/status/runtimeinfo", nil, func(t *testing.T, data any) {
			m := data.(map[string]any)
			if m["storageRetention"] != "15d" || m["reloadConfigSuccess"] != true {
				t.Errorf("runtimeinfo = %v, want storageRetention 15d and reloadConfigSuccess", data)
			}
			if n, err := m["GOMAXPROCS"].(json.Number).Int64(); err != nil || n != int64(runtime.GOMAXPROCS(0)) {
				t.Errorf("runtimeinfo GOMAXPROCS = %v, want %d", m["GOMAXPROCS"], runtime.GOMAXPROCS(0))
			}
			if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["startTime"])); err != nil {
				t.Errorf("runtimeinfo startTime %v: %v", m["startTime"], err)
			}
		}},
		{"/api/v1/status/tsdb", nil, func(t *testing.T, data any) {
			head := data.(map[string]any)["headStats"].(map[string]any)
			series := wantSuccess(t, "series", call(t, srv.URL, http.MethodGet, "/api/v1/series", q("match[]", `{__name__=~".+"}`), nil)).([]any)
			if len(series) <= limitsSeries || head["numSeries"] != json.Number(strconv.Itoa(len(series))) {
				t.Errorf("status/tsdb headStats = %v, want numSeries %d (the store's series)", head, len(series))
			}
			want := map[string]any{"name": "DCGM_FI_DEV_GPU_UTIL", "value": json.Number(strconv.Itoa(limitsSeries))}
			byName, _ := data.(map[string]any)["seriesCountByMetricName"].([]any)
			found := false
			for _, e := range byName {
				found = found || reflect.DeepEqual(e, want)
			}
			if !found {
				t.Errorf("status/tsdb seriesCountByMetricName = %v, want %v among them", byName, want)
			}
		}},
		{"/api/v1/status/tsdb/blocks", nil, nil},
		{"/api/v1/status/walreplay", nil, nil},
		{"/api/v1/status/config", nil, func(t *testing.T, data any) {
			if y, _ := data.(map[string]any)["yaml"].(string); !strings.Contains(y, "global:") {
				t.Errorf("status/config yaml = %q, want a configuration", y)
			}
		}},
		{"/api/v1/status/flags", nil, func(t *testing.T, data any) {
			want := map[string]any{}
			for k, v := range flags {
				want[k] = v
			}
			if !reflect.DeepEqual(data, want) {
				t.Errorf("flags = %v, want %v", data, want)
			}
		}},
		{"/api/v1/format_query", q("query", "sum by(gpu)(rate(DCGM_FI_DEV_GPU_UTIL[5m]))"), func(t *testing.T, data any) {
			if data != "sum by (gpu) (rate(DCGM_FI_DEV_GPU_UTIL[5m]))" {
				t.Errorf("format_query = %q", data)
			}
		}},
		{"/api/v1/parse_query", q("query", "sum(DCGM_FI_DEV_GPU_UTIL)"), func(t *testing.T, data any) {
			m := data.(map[string]any)
			if m["type"] != "aggregation" || m["op"] != "sum" {
				t.Errorf("parse_query = %v, want a sum aggregation", data)
			}
		}},
	}
	// Without Options.Flags the flags are an empty object, as Prometheus
	// never answers null.
	_, bare := newAPI(t, Options{Store: st})
	if data := wantSuccess(t, "flags", call(t, bare.URL, http.MethodGet, "/api/v1/status/flags", nil, nil)); !reflect.DeepEqual(data, map[string]any{}) {
		t.Errorf("flags without Options.Flags = %v, want {}", data)
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.path, "/api/v1/"), func(t *testing.T) {
			methods := []string{http.MethodGet}
			switch tc.path {
			case "/api/v1/query_exemplars", "/api/v1/format_query", "/api/v1/parse_query":
				methods = append(methods, http.MethodPost)
			}
			for _, m := range methods {
				data := wantSuccess(t, m+" "+tc.path, call(t, srv.URL, m, tc.path, tc.params, nil))
				if tc.check != nil {
					tc.check(t, data)
				}
			}
		})
	}
}

// TestRouterErrorsAreJSON: a method an endpoint does not take (405), a
// path under /api/v1 with no endpoint (404) and a handler's plain-text 404
// answer Prometheus' JSON error envelope, not plain text (FuzzAPIParams
// found the 405: every client of the API parses the body as JSON). The
// Allow header of a 405 is kept, and the endpoints' own answers pass
// through unchanged.
func TestRouterErrorsAreJSON(t *testing.T) {
	t.Parallel()
	st, _ := limitsStore(t)
	_, srv := newAPI(t, Options{Store: st})
	for _, tc := range []struct {
		method, path string
		code         int
		errorType    string
		substr       string
		allow        string
	}{
		{http.MethodPost, "/api/v1/label/job/values", http.StatusMethodNotAllowed, "bad_data", "method not allowed: POST /api/v1/label/job/values takes only GET", "GET"},
		{http.MethodDelete, "/api/v1/query", http.StatusMethodNotAllowed, "bad_data", "method not allowed: DELETE /api/v1/query takes only", "POST"},
		{http.MethodPut, "/api/v1/status/buildinfo", http.StatusMethodNotAllowed, "bad_data", "method not allowed", "GET"},
		{http.MethodGet, "/api/v1/nosuch", http.StatusNotFound, "not_found", "404 page not found: no endpoint of the agent serves GET /api/v1/nosuch", ""},
		{http.MethodPost, "/api/v1/label/job/values/extra", http.StatusNotFound, "not_found", "page not found", ""},
		{http.MethodGet, "/api/v1/", http.StatusNotFound, "not_found", "page not found", ""},
		// A handler's own plain-text 404 keeps its message.
		{http.MethodPost, "/api/v1/write", http.StatusNotFound, "not_found", "remote write receiver needs to be enabled", ""},
		// Prometheus' own errors are unchanged.
		{http.MethodGet, "/api/v1/query", http.StatusBadRequest, "bad_data", "invalid parameter \"query\"", ""},
		{http.MethodPost, "/api/v1/admin/tsdb/snapshot", http.StatusInternalServerError, "unavailable", "admin APIs disabled", ""},
	} {
		what := tc.method + " " + tc.path
		r := call(t, srv.URL, tc.method, tc.path, nil, nil)
		wantError(t, what, r, tc.code, tc.errorType, tc.substr)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", what, ct)
		}
		if tc.allow != "" && !strings.Contains(r.header.Get("Allow"), tc.allow) {
			t.Errorf("%s: Allow %q, want it to name %s", what, r.header.Get("Allow"), tc.allow)
		}
	}
	// A success passes through.
	wantSuccess(t, "GET labels", call(t, srv.URL, http.MethodGet, "/api/v1/labels", nil, nil))
}
