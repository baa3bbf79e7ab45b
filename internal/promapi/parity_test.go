package promapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// The parity data set: parityPoints samples every parityStep, the first at
// start+parityOffset. The odd offset keeps every sample off every range
// selector and lookback boundary (all query times below are whole seconds):
// Prometheus 3 made those windows left-open where 2.42 has them closed, and
// with no sample on a boundary both must agree.
const (
	parityStep   = 15 * time.Second
	parityPoints = 480 // 2 h
	parityOffset = 7301 * time.Millisecond
	// The network counter has no samples for i in [gapFrom, gapTo): 10
	// minutes, longer than the 5 m lookback.
	gapFrom, gapTo = 200, 240
	// The job gauge stops at earlyEnd, 30 minutes before the others.
	earlyEnd = 360
	// The user-mode counter of node2's cpu 1 resets at resetAt.
	resetAt = 300
)

// writeParityData writes the OpenMetrics file of the parity data set, each
// series' samples in time order as promtool needs them. Every value is an
// integer or a dyadic fraction, so that sums are exact whatever order an
// engine adds them in (see the aggregations in parityRequests).
func writeParityData(path string, start time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	ts := func(i int) string {
		ms := start.Add(parityOffset + time.Duration(i)*parityStep).UnixMilli()
		return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	}
	val := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	instances := []string{"node1:9100", "node2:9100"}
	modes := []string{"idle", "iowait", "system", "user"}
	buckets := []string{"0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"}

	fmt.Fprintln(w, "# HELP node_cpu_seconds Seconds the CPUs spent in each mode.")
	fmt.Fprintln(w, "# TYPE node_cpu_seconds counter")
	for ni, inst := range instances {
		for cpu := range 4 {
			for mi, mode := range modes {
				inc := 0.25 * float64(1+mi+cpu+ni)
				for i := range parityPoints {
					v := 100000*float64(cpu+1) + float64(i)*inc
					if ni == 1 && cpu == 1 && mode == "user" && i >= resetAt {
						v = float64(i-resetAt) * inc
					}
					fmt.Fprintf(w, "node_cpu_seconds_total{cpu=\"%d\",instance=%q,job=\"node\",mode=%q} %s %s\n", cpu, inst, mode, val(v), ts(i))
				}
			}
		}
	}

	fmt.Fprintln(w, "# HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.")
	fmt.Fprintln(w, "# TYPE node_memory_MemAvailable_bytes gauge")
	for ni, inst := range instances {
		for i := range parityPoints {
			v := float64(8<<30) + float64((i*37)%101*(ni+1))*(1<<20)
			fmt.Fprintf(w, "node_memory_MemAvailable_bytes{instance=%q,job=\"node\"} %s %s\n", inst, val(v), ts(i))
		}
	}
	fmt.Fprintln(w, "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.")
	fmt.Fprintln(w, "# TYPE node_memory_MemTotal_bytes gauge")
	for ni, inst := range instances {
		for i := range parityPoints {
			fmt.Fprintf(w, "node_memory_MemTotal_bytes{instance=%q,job=\"node\"} %s %s\n", inst, val(float64((16+16*ni)<<30)), ts(i))
		}
	}

	fmt.Fprintln(w, "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).")
	fmt.Fprintln(w, "# TYPE DCGM_FI_DEV_GPU_UTIL gauge")
	for gpu := range 4 {
		for i := range parityPoints {
			v := (i*7 + gpu*13) % 101
			fmt.Fprintf(w, "DCGM_FI_DEV_GPU_UTIL{Hostname=\"node1\",UUID=\"GPU-0000000%d-aaaa-bbbb-cccc-dddddddddddd\",gpu=\"%d\",instance=\"node1:9400\",job=\"dcgm\"} %d %s\n", gpu, gpu, v, ts(i))
		}
	}

	fmt.Fprintln(w, "# HELP http_request_duration_seconds Latency of HTTP requests.")
	fmt.Fprintln(w, "# TYPE http_request_duration_seconds histogram")
	for hi, handler := range []string{"/api", "/metrics"} {
		counts := make([]int, len(buckets))
		sum := 0.0
		for i := range parityPoints {
			cum := 0
			for b := range buckets {
				cum += (i + 3*b + hi) % 5
				counts[b] += cum
			}
			sum += 0.125 * float64(counts[len(counts)-1]%17)
			for b, le := range buckets {
				fmt.Fprintf(w, "http_request_duration_seconds_bucket{handler=%q,instance=\"node1:9100\",job=\"node\",le=%q} %d %s\n", handler, le, counts[b], ts(i))
			}
			fmt.Fprintf(w, "http_request_duration_seconds_sum{handler=%q,instance=\"node1:9100\",job=\"node\"} %s %s\n", handler, val(sum), ts(i))
			fmt.Fprintf(w, "http_request_duration_seconds_count{handler=%q,instance=\"node1:9100\",job=\"node\"} %d %s\n", handler, counts[len(counts)-1], ts(i))
		}
	}

	fmt.Fprintln(w, "# HELP node_network_receive_bytes Network device statistic receive_bytes.")
	fmt.Fprintln(w, "# TYPE node_network_receive_bytes counter")
	for ni, inst := range instances {
		for i := range parityPoints {
			if i >= gapFrom && i < gapTo {
				continue
			}
			fmt.Fprintf(w, "node_network_receive_bytes_total{device=\"eth0\",instance=%q,job=\"node\"} %d %s\n", inst, 1_000_000+i*4096*(ni+1), ts(i))
		}
	}

	fmt.Fprintln(w, "# HELP trainwatch_job_running 1 while the training job runs.")
	fmt.Fprintln(w, "# TYPE trainwatch_job_running gauge")
	for i := range earlyEnd {
		fmt.Fprintf(w, "trainwatch_job_running{instance=\"node1:9100\",job=\"node\",slurm_job=\"4242\"} 1 %s\n", ts(i))
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyDir copies the regular files and directories under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}

// parityRequest is one request sent to both servers.
type parityRequest struct {
	path    string
	params  url.Values
	methods []string // both GET and POST when nil, for the endpoints that take POST
	// ordered keeps the order of an instant vector's samples in the
	// comparison (sort, sort_desc); see sortVector.
	ordered bool
	// empty marks a successful request whose answer has no samples, series
	// or names; every other answer must have some, so that the comparison
	// compares data.
	empty bool
	// errSub, for an error answer, is text both servers' messages must
	// contain. Messages are otherwise not compared: Prometheus 3 rewords
	// some of them (see compareParity).
	errSub string
}

// TestPrometheusParity serves the same TSDB blocks from the Debian
// Prometheus (2.42) and from promapi (Prometheus 3.16's engine and handlers
// over the store), sends both the same list of API requests, and requires
// the same answers.
func TestPrometheusParity(t *testing.T) {
	t.Parallel()
	promtool := testenv.LookPath(t, "promtool")
	testenv.LookPath(t, "prometheus")

	// Whole seconds, 2 h of data ending about 10 minutes before now.
	end := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	start := end.Add(-parityPoints * parityStep)
	tmp := t.TempDir()
	om := filepath.Join(tmp, "data.om")
	if err := writeParityData(om, start); err != nil {
		t.Fatal(err)
	}
	blocks := filepath.Join(tmp, "blocks")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, blocks).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	dirA, dirB := filepath.Join(tmp, "prometheus"), filepath.Join(tmp, "agent")
	copyDir(t, blocks, dirA)
	copyDir(t, blocks, dirB)

	prom := testenv.StartPrometheusWith(t, testenv.PrometheusOptions{DataDir: dirA})
	st := openStore(t, dirB)
	_, agent := newAPI(t, Options{Store: st})

	requests := parityRequests(start, end)
	compared, direct := 0, 0
	for _, r := range requests {
		methods := r.methods
		if methods == nil {
			methods = []string{http.MethodGet, http.MethodPost}
		}
		for _, m := range methods {
			what := fmt.Sprintf("%s %s?%s", m, r.path, r.params.Encode())
			want := call(t, prom.URL, m, r.path, r.params, nil)
			got := call(t, agent.URL, m, r.path, r.params, nil)
			compareParity(t, what, r, want, got)
			compared++
			if m == http.MethodGet && want.str("status") == "success" && (r.path == "/api/v1/query" || r.path == "/api/v1/query_range") {
				compareEvalDir(t, what, dirB, r, want)
				direct++
			}
		}
	}
	if t.Failed() {
		t.Logf("parity: %d requests compared (and %d EvalDir queries), some differ (see above)", compared, direct)
		return
	}
	t.Logf("parity: %d requests compared, all equal; %d EvalDir queries equal Prometheus' data too", compared, direct)
}

// compareEvalDir evaluates a query request with EvalDir on the agent's data
// directory (open in the store) and compares the result with the data of
// Prometheus' answer want.
func compareEvalDir(t *testing.T, what, dir string, r parityRequest, want apiResponse) {
	t.Helper()
	var rg Range
	var err error
	if r.path == "/api/v1/query" {
		rg.End, err = parseParityTime(r.params.Get("time"))
	} else {
		rg.Start, err = parseParityTime(r.params.Get("start"))
		if err == nil {
			rg.End, err = parseParityTime(r.params.Get("end"))
		}
		if err == nil {
			rg.Step, err = parseParityStep(r.params.Get("step"))
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	data, err := EvalDir(context.Background(), dir, r.params.Get("query"), rg, nil)
	if err != nil {
		t.Errorf("EvalDir for %s: %v", what, err)
		return
	}
	got, err := decodeObject(data)
	if err != nil {
		t.Fatal(err)
	}
	w, g := map[string]any{"data": want.json["data"]}, map[string]any{"data": got}
	if !r.ordered {
		sortVector(w)
		sortVector(g)
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("EvalDir for %s differs:\n EvalDir: %s\n    prom: %s", what, data, want.body)
	}
}

// parseParityTime parses the Unix-second and RFC 3339 times of the requests.
func parseParityTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(f * 1000)), nil
	}
	return time.Parse(time.RFC3339, s)
}

// parseParityStep parses a step in seconds or as a Prometheus duration.
func parseParityStep(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}

// compareParity compares Prometheus' answer want with the agent's got.
func compareParity(t *testing.T, what string, r parityRequest, want, got apiResponse) {
	t.Helper()
	if want.code != got.code {
		t.Errorf("%s: status code %d, Prometheus %d\n agent: %s\n  prom: %s", what, got.code, want.code, got.body, want.body)
		return
	}
	if wc, gc := want.header.Get("Content-Type"), got.header.Get("Content-Type"); wc != gc {
		t.Errorf("%s: Content-Type %q, Prometheus %q", what, gc, wc)
	}
	w, g := normalize(want.json), normalize(got.json)
	if w["status"] == "error" {
		// Error messages are compared loosely, since 3.16 words some of
		// them differently from 2.42: "invalid time value for 'time'"
		// where 2.42 capitalises "Invalid"; "unknown position: parse
		// error: no expression found in input" where 2.42 says "1:1:";
		// and query_range's parse errors gain the `invalid parameter
		// "query": ` prefix that 2.42 gives only to /query's. Both must
		// contain r.errSub, and the texts are logged side by side.
		wm, gm := want.str("error"), got.str("error")
		if r.errSub == "" {
			t.Errorf("%s: error answer, but the request names no errSub (Prometheus: %q)", what, wm)
		}
		if !strings.Contains(wm, r.errSub) || !strings.Contains(gm, r.errSub) {
			t.Errorf("%s: error messages do not both contain %q:\n agent: %s\n  prom: %s", what, r.errSub, gm, wm)
		}
		if gm == "" {
			t.Errorf("%s: empty error message", what)
		}
		t.Logf("%s: %s\n  agent: %s\n   prom: %s", what, want.str("errorType"), gm, wm)
		delete(w, "error")
		delete(g, "error")
	}
	if w["status"] == "success" && isEmpty(w["data"]) != r.empty {
		t.Errorf("%s: empty answer is %v, want %v (is the data set or the request wrong?): %s", what, isEmpty(w["data"]), r.empty, want.body)
	}
	if !r.ordered {
		sortVector(w)
		sortVector(g)
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s differs:\n agent: %s\n  prom: %s", what, got.body, want.body)
	}
}

// isEmpty reports whether the data of a success answer holds nothing: an
// empty result, series list or name list.
func isEmpty(data any) bool {
	switch d := data.(type) {
	case []any:
		return len(d) == 0
	case map[string]any:
		switch r := d["result"].(type) {
		case []any:
			return len(r) == 0
		case nil:
			return true
		}
		return false // a scalar or string: [time, "value"]
	}
	return data == nil
}

// sortVector sorts the samples of an instant-vector result by their label
// sets. The API does not order instant vectors, and Prometheus itself
// returns some in map order (count_values, histogram_quantile and
// aggregations group their output in maps), so that two calls to the same
// server can list the same samples differently; the samples themselves are
// still compared exactly. Matrices (sorted by the engine), series and label
// lists keep their order, and so do the answers of sort and sort_desc
// (parityRequest.ordered).
func sortVector(m map[string]any) {
	data, _ := m["data"].(map[string]any)
	if data == nil || data["resultType"] != "vector" {
		return
	}
	result, _ := data["result"].([]any)
	key := func(v any) string {
		b, _ := json.Marshal(v.(map[string]any)["metric"]) // map keys sorted
		return string(b)
	}
	sort.SliceStable(result, func(i, j int) bool { return key(result[i]) < key(result[j]) })
}

// normalize drops the fields of an answer that parity does not compare:
// infos, the annotations of the info level that Prometheus 3 added
// (2.42 has none: its answers cannot carry them).
func normalize(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k == "infos" {
			continue
		}
		out[k] = v
	}
	return out
}

// parityRequests is the list of requests sent to both servers.
func parityRequests(start, end time.Time) []parityRequest {
	sec := func(d time.Duration) string { return strconv.FormatInt(start.Add(d).Unix(), 10) }
	rfc := func(d time.Duration) string { return start.Add(d).UTC().Format(time.RFC3339) }
	mid := sec(60 * time.Minute)
	gapMid := sec(gapFrom*parityStep + 5*parityStep + 3*time.Minute) // 3 min past the gap's 5-m lookback
	last := strconv.FormatInt(end.Unix(), 10)
	after := strconv.FormatInt(end.Add(3*time.Minute).Unix(), 10)
	beyond := strconv.FormatInt(end.Add(20*time.Minute).Unix(), 10)
	whole := [2]string{sec(0), last}

	instant := func(expr, at string) parityRequest {
		return parityRequest{path: "/api/v1/query", params: q("query", expr, "time", at)}
	}
	rng := func(expr, from, to, step string) parityRequest {
		return parityRequest{path: "/api/v1/query_range", params: q("query", expr, "start", from, "end", to, "step", step)}
	}
	none := func(r parityRequest) parityRequest { r.empty = true; return r }
	get := []string{http.MethodGet}

	reqs := []parityRequest{
		// Instant queries: selectors and raw range vectors.
		instant(`node_memory_MemAvailable_bytes`, mid),
		instant(`node_memory_MemAvailable_bytes{instance="node2:9100"}`, rfc(90*time.Minute)),
		instant(`node_cpu_seconds_total{mode=~"user|system",cpu!="0"}`, mid),
		instant(`{__name__=~"node_memory_.+"}`, mid),
		instant(`DCGM_FI_DEV_GPU_UTIL[1m]`, mid),
		instant(`http_request_duration_seconds_bucket{handler="/api"}[45s]`, mid),
		instant(`node_network_receive_bytes_total`, gapMid),
		none(instant(`trainwatch_job_running`, last)), // ended 30 m before
		instant(`trainwatch_job_running`, sec(earlyEnd*parityStep+2*time.Minute)),
		instant(`node_memory_MemAvailable_bytes`, after),
		none(instant(`node_memory_MemAvailable_bytes`, beyond)), // past the lookback
		// Counters.
		instant(`rate(node_cpu_seconds_total{mode="user"}[5m])`, mid),
		instant(`rate(node_cpu_seconds_total{mode="system",cpu="2"}[1m])`, rfc(100*time.Minute)),
		instant(`increase(node_cpu_seconds_total{mode="idle"}[5m])`, mid),
		instant(`increase(node_cpu_seconds_total{instance="node2:9100",cpu="1",mode="user"}[10m])`, sec(resetAt*parityStep+2*time.Minute)),
		instant(`irate(node_network_receive_bytes_total[1m])`, sec(90*time.Minute)),
		none(instant(`irate(node_network_receive_bytes_total[1m])`, gapMid)),
		instant(`rate(node_network_receive_bytes_total[10m])`, gapMid),
		instant(`resets(node_cpu_seconds_total{mode="user"}[30m])`, sec(resetAt*parityStep+10*time.Minute)),
		instant(`delta(DCGM_FI_DEV_GPU_UTIL[5m])`, mid),
		instant(`idelta(DCGM_FI_DEV_GPU_UTIL[5m])`, mid),
		instant(`predict_linear(node_memory_MemAvailable_bytes[10m], 3600)`, mid),
		// Aggregations. sum is only asked of values whose sums are exact
		// (integers and dyadic fractions), and avg only of two values:
		// Prometheus 3 adds with Kahan compensation and averages by
		// dividing the sum once, where 2.42 adds naively and keeps an
		// incremental mean (dividing by 1, 2, 3, ... as it goes), so over
		// inexact values, as sum by (instance) (rate(...)), or over three
		// GPUs, they differ in the last digit ("1.3333333333333333"
		// against 2.42's "1.3333333333333335"; "63.333333333333336"
		// against "63.33333333333333"). sum/count is exact in both.
		instant(`sum by (instance) (node_memory_MemAvailable_bytes)`, mid),
		instant(`sum without (cpu) (node_cpu_seconds_total)`, mid),
		instant(`avg by (cpu, mode) (node_cpu_seconds_total)`, mid),
		instant(`avg(DCGM_FI_DEV_GPU_UTIL{gpu=~"0|3"})`, mid),
		instant(`sum by (job) (DCGM_FI_DEV_GPU_UTIL) / count by (job) (DCGM_FI_DEV_GPU_UTIL)`, mid),
		instant(`max by (instance) (node_memory_MemAvailable_bytes) - min by (instance) (node_memory_MemAvailable_bytes)`, mid),
		instant(`count by (mode) (node_cpu_seconds_total)`, mid),
		instant(`topk(3, DCGM_FI_DEV_GPU_UTIL)`, mid),
		instant(`bottomk(1, DCGM_FI_DEV_GPU_UTIL)`, mid),
		instant(`count_values("util", DCGM_FI_DEV_GPU_UTIL)`, mid),
		instant(`quantile(0.5, DCGM_FI_DEV_GPU_UTIL)`, mid),
		// avg_over_time over more than two samples is left out: 2.42
		// computes an incremental mean (dividing by 1, 2, 3, ... as it
		// goes), which rounds (56.12499999999999 where the mean is exactly
		// 56.125); Prometheus 3 divides the sum once and is exact. With two
		// samples both are exact, and sum/count over any window is too.
		instant(`avg_over_time(DCGM_FI_DEV_GPU_UTIL[30s])`, mid),
		instant(`sum_over_time(DCGM_FI_DEV_GPU_UTIL[4m]) / count_over_time(DCGM_FI_DEV_GPU_UTIL[4m])`, mid),
		instant(`max_over_time(node_memory_MemAvailable_bytes[30m])`, mid),
		instant(`count_over_time(node_network_receive_bytes_total[30m])`, gapMid),
		instant(`last_over_time(trainwatch_job_running[1h])`, last),
		// Histograms.
		instant(`histogram_quantile(0.9, sum by (le) (http_request_duration_seconds_bucket))`, mid),
		instant(`histogram_quantile(0.5, http_request_duration_seconds_bucket)`, mid),
		instant(`http_request_duration_seconds_sum / http_request_duration_seconds_count`, mid),
		// Binary operations and vector matching.
		instant(`node_memory_MemAvailable_bytes / on(instance) node_memory_MemTotal_bytes`, mid),
		instant(`node_memory_MemAvailable_bytes / ignoring(job) node_memory_MemTotal_bytes * 64`, mid),
		instant(`node_cpu_seconds_total{mode="idle"} / on(instance, cpu) group_left sum by (instance, cpu) (node_cpu_seconds_total)`, mid),
		instant(`DCGM_FI_DEV_GPU_UTIL > 50`, mid),
		instant(`DCGM_FI_DEV_GPU_UTIL > bool 50`, mid),
		instant(`node_memory_MemAvailable_bytes and on(instance) node_memory_MemTotal_bytes > 20e9`, mid),
		instant(`node_memory_MemAvailable_bytes unless on(instance) node_memory_MemTotal_bytes > 20e9`, mid),
		// Offset and @.
		instant(`node_memory_MemAvailable_bytes offset 10m`, mid),
		instant(`increase(node_cpu_seconds_total{cpu="2"}[5m] offset 30m)`, mid),
		instant(`node_memory_MemAvailable_bytes offset -5m`, mid),
		instant(`DCGM_FI_DEV_GPU_UTIL @ `+sec(30*time.Minute), mid),
		instant(`DCGM_FI_DEV_GPU_UTIL @ `+sec(30*time.Minute)+` offset 1m`, last),
		// Functions.
		instant(`absent(nonexistent_metric{job="x"})`, mid),
		none(instant(`absent(node_memory_MemAvailable_bytes)`, mid)),
		instant(`absent_over_time(trainwatch_job_running[5m])`, last),
		instant(`label_replace(DCGM_FI_DEV_GPU_UTIL, "device", "nvidia$1", "gpu", "(.*)")`, mid),
		instant(`label_join(node_memory_MemTotal_bytes, "id", "/", "job", "instance")`, mid),
		{path: "/api/v1/query", params: q("query", `sort_desc(DCGM_FI_DEV_GPU_UTIL)`, "time", mid), ordered: true},
		{path: "/api/v1/query", params: q("query", `sort(node_memory_MemAvailable_bytes)`, "time", mid), ordered: true},
		{path: "/api/v1/query", params: q("query", `sort_desc(sum by (mode) (node_cpu_seconds_total))`, "time", mid), ordered: true},
		instant(`clamp_max(DCGM_FI_DEV_GPU_UTIL, 40)`, mid),
		instant(`stddev_over_time(DCGM_FI_DEV_GPU_UTIL[5m])`, mid),
		// holt_winters is left out: Prometheus 3 renamed it
		// double_exponential_smoothing, behind a feature flag.
		instant(`timestamp(node_memory_MemAvailable_bytes)`, mid),
		instant(`changes(trainwatch_job_running[10m])`, mid),
		instant(`deriv(node_memory_MemTotal_bytes[5m])`, mid),
		instant(`vector(1)`, mid),
		instant(`time()`, mid),
		instant(`scalar(sum(DCGM_FI_DEV_GPU_UTIL))`, mid),
		instant(`1 + 1`, mid),
		instant(`"trainwatch"`, mid),
		// A subquery evaluates its inner query at multiples of its step,
		// so at a whole-minute time [10m:1m] has a step exactly on its
		// left boundary, which 2.42 includes and Prometheus 3 (left-open)
		// does not: evaluate it 7 s past the minute.
		instant(`max_over_time(DCGM_FI_DEV_GPU_UTIL[10m:1m])`, sec(60*time.Minute+7*time.Second)),
		instant(`rate(node_cpu_seconds_total{cpu="0",mode="user"}[5m:30s])`, sec(60*time.Minute+7*time.Second)),
		// An empty result.
		none(instant(`nonexistent_metric`, mid)),
		none(instant(`DCGM_FI_DEV_GPU_UTIL{gpu="7"}`, mid)),
		none(instant(`node_memory_MemAvailable_bytes`, sec(-time.Hour))),

		// Range queries: the whole span, several steps, across the gap.
		rng(`DCGM_FI_DEV_GPU_UTIL`, whole[0], whole[1], "60"),
		rng(`node_memory_MemAvailable_bytes`, whole[0], whole[1], "5m"),
		rng(`sum by (instance) (node_memory_MemAvailable_bytes)`, rfc(0), rfc(2*time.Hour), "15s"),
		rng(`rate(node_cpu_seconds_total{mode="user"}[5m])`, whole[0], whole[1], "60s"),
		rng(`sum by (instance) (node_cpu_seconds_total)`, whole[0], whole[1], "60s"),
		rng(`sum(DCGM_FI_DEV_GPU_UTIL{gpu!="0"}) / count(DCGM_FI_DEV_GPU_UTIL{gpu!="0"})`, whole[0], whole[1], "60s"),
		rng(`avg by (mode) (node_cpu_seconds_total{cpu="3"})`, whole[0], whole[1], "5m"),
		rng(`increase(node_cpu_seconds_total{cpu="1"}[5m])`, sec(resetAt*parityStep-10*time.Minute), sec(resetAt*parityStep+10*time.Minute), "15s"),
		rng(`node_network_receive_bytes_total`, sec(gapFrom*parityStep-5*time.Minute), sec(gapTo*parityStep+5*time.Minute), "15s"),
		rng(`irate(node_network_receive_bytes_total[1m])`, whole[0], whole[1], "1m"),
		rng(`trainwatch_job_running`, sec(80*time.Minute), strconv.FormatInt(end.Add(10*time.Minute).Unix(), 10), "30s"),
		rng(`histogram_quantile(0.99, sum by (le, handler) (increase(http_request_duration_seconds_bucket[5m])))`, whole[0], whole[1], "5m"),
		rng(`sum_over_time(DCGM_FI_DEV_GPU_UTIL[4m]) / count_over_time(DCGM_FI_DEV_GPU_UTIL[4m])`, whole[0], whole[1], "2m"),
		rng(`avg_over_time(DCGM_FI_DEV_GPU_UTIL[30s])`, whole[0], whole[1], "2m"),
		rng(`node_memory_MemAvailable_bytes @ end()`, sec(10*time.Minute), sec(20*time.Minute), "1m"),
		rng(`DCGM_FI_DEV_GPU_UTIL @ start()`, sec(10*time.Minute), sec(20*time.Minute), "1m"),
		rng(`time()`, sec(0), sec(10*time.Minute), "1m"),
		rng(`vector(2)`, sec(0), sec(3*time.Minute), "1m"),
		rng(`count by (instance) (node_cpu_seconds_total)`, whole[0], whole[1], "10m"),
		none(rng(`nonexistent_metric`, whole[0], whole[1], "1m")),
		none(rng(`node_memory_MemAvailable_bytes`, sec(-3*time.Hour), sec(-2*time.Hour), "5m")),
		// Neither server scrapes: no up series.
		none(rng(`up`, whole[0], whole[1], "10m")),

		// Series.
		{path: "/api/v1/series", params: q("match[]", "DCGM_FI_DEV_GPU_UTIL")},
		{path: "/api/v1/series", params: q("match[]", `node_cpu_seconds_total{cpu="0"}`, "match[]", "node_memory_MemTotal_bytes")},
		{path: "/api/v1/series", params: q("match[]", `{job="node"}`, "start", sec(0), "end", last)},
		{path: "/api/v1/series", params: q("match[]", "trainwatch_job_running", "start", sec(80*time.Minute), "end", last)},
		{path: "/api/v1/series", params: q("match[]", "trainwatch_job_running", "start", last, "end", last), empty: true},
		{path: "/api/v1/series", params: q("match[]", `{__name__=~"http_.+",le="+Inf"}`, "start", rfc(10*time.Minute), "end", rfc(20*time.Minute))},
		{path: "/api/v1/series", params: q("match[]", "nonexistent_metric"), empty: true},
		// Labels.
		{path: "/api/v1/labels"},
		{path: "/api/v1/labels", params: q("start", sec(0), "end", last)},
		{path: "/api/v1/labels", params: q("match[]", "DCGM_FI_DEV_GPU_UTIL")},
		{path: "/api/v1/labels", params: q("match[]", "http_request_duration_seconds_bucket", "match[]", "trainwatch_job_running", "start", sec(0), "end", last)},
		{path: "/api/v1/label/__name__/values", methods: get},
		{path: "/api/v1/label/__name__/values", params: q("start", sec(0), "end", last), methods: get},
		{path: "/api/v1/label/__name__/values", params: q("match[]", `{job="dcgm"}`), methods: get},
		{path: "/api/v1/label/instance/values", methods: get},
		{path: "/api/v1/label/mode/values", params: q("match[]", `node_cpu_seconds_total{cpu="3"}`), methods: get},
		{path: "/api/v1/label/le/values", params: q("start", sec(0), "end", sec(time.Hour)), methods: get},
		{path: "/api/v1/label/nonexistent/values", methods: get, empty: true},

		// Errors.
		{path: "/api/v1/query", params: q("query", "sum(", "time", mid), errSub: "parse error"},
		{path: "/api/v1/query", params: q("query", `rate(node_cpu_seconds_total)`, "time", mid), errSub: "expected type range vector"},
		{path: "/api/v1/query", params: q("query", "nosuchfunction(up)", "time", mid), errSub: `unknown function with name "nosuchfunction"`},
		{path: "/api/v1/query", params: q("query", "up", "time", "yesterday"), errSub: `invalid parameter "time"`},
		{path: "/api/v1/query", params: q("time", mid), errSub: "no expression found in input"},
		{path: "/api/v1/query", params: q("query", "up", "time", mid, "timeout", "soon"), errSub: `invalid parameter "timeout"`},
		{path: "/api/v1/query_range", params: q("query", "up", "start", last, "end", sec(0), "step", "60"), errSub: "end timestamp must not be before start time"},
		{path: "/api/v1/query_range", params: q("query", "up", "start", sec(0), "end", last, "step", "0"), errSub: "zero or negative query resolution step widths are not accepted"},
		{path: "/api/v1/query_range", params: q("query", "up", "start", sec(0), "end", last, "step", "-15"), errSub: "zero or negative query resolution step widths are not accepted"},
		{path: "/api/v1/query_range", params: q("query", "up", "start", sec(0), "end", last, "step", "sometimes"), errSub: `invalid parameter "step"`},
		{path: "/api/v1/query_range", params: q("query", "up", "start", sec(0), "end", sec(48*time.Hour), "step", "15"), errSub: "exceeded maximum resolution of 11,000 points per timeseries"},
		{path: "/api/v1/query_range", params: q("query", "up", "start", "never", "end", last, "step", "15"), errSub: `invalid parameter "start"`},
		{path: "/api/v1/query_range", params: q("query", "up", "end", last, "step", "15"), errSub: `invalid parameter "start"`},
		{path: "/api/v1/query_range", params: q("query", "up{", "start", sec(0), "end", last, "step", "15"), errSub: "parse error"},
		{path: "/api/v1/series", errSub: "no match[] parameter provided"},
		{path: "/api/v1/series", params: q("match[]", "up{"), errSub: "parse error"},
		{path: "/api/v1/series", params: q("match[]", "sum(up)"), errSub: "invalid parameter"},
		{path: "/api/v1/series", params: q("match[]", "up", "start", "whenever"), errSub: `invalid parameter "start"`},
		{path: "/api/v1/labels", params: q("match[]", `{job=~"node`), errSub: "parse error"},
		{path: "/api/v1/label/job/values", params: q("match[]", "rate("), methods: get, errSub: "parse error"},
		{path: "/api/v1/label/job/values", params: q("end", "whenever"), methods: get, errSub: `invalid parameter "end"`},
		// The admin API is off in both.
		{path: "/api/v1/admin/tsdb/snapshot", methods: []string{http.MethodPost}, errSub: "admin APIs disabled"},
		{path: "/api/v1/admin/tsdb/delete_series", params: q("match[]", "up"), methods: []string{http.MethodPost}, errSub: "admin APIs disabled"},
	}
	return reqs
}
