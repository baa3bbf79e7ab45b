package promapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// grafanaTicks of data, 15 s apart, ending at the last tick.
const grafanaTicks = 40

// grafanaFamilies is tick i of the Grafana test's data: 4 GPUs'
// utilisation and 2 CPUs' counters in 2 modes.
func grafanaFamilies(i int) []*collector.Family {
	var gpus, cpus []gaugeSample
	for g := range 4 {
		gpus = append(gpus, gaugeSample{labels: []string{strconv.Itoa(g), fmt.Sprintf("GPU-%d", g)}, value: gpuUtil(i, g)})
	}
	for c := range 2 {
		for _, m := range []string{"idle", "user"} {
			cpus = append(cpus, gaugeSample{labels: []string{strconv.Itoa(c), m}, value: cpuSeconds(i, c)})
		}
	}
	return []*collector.Family{
		family("DCGM_FI_DEV_GPU_UTIL", collector.Gauge, []string{"gpu", "UUID"}, gpus...),
		family("node_cpu_seconds_total", collector.Counter, []string{"cpu", "mode"}, cpus...),
	}
}

func gpuUtil(i, g int) float64    { return float64((i*3 + g*10) % 100) }
func cpuSeconds(i, c int) float64 { return 1000 + float64(i)*0.5*float64(c+1) }

// TestGrafanaDataSource sends the requests Grafana's Prometheus data source
// makes when it is added (Save & test), when its query editor lists
// metrics and labels, when a panel runs, and when the alerting UI lists
// rules, as Grafana sends them (POST forms for queries, Unix-second times,
// its headers), and checks each answer has Prometheus' shape and the
// store's data.
func TestGrafanaDataSource(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	last := time.Now().Truncate(15 * time.Second)
	first := last.Add(-(grafanaTicks - 1) * 15 * time.Second)
	consumeTicks(t, st, first, 15*time.Second, grafanaTicks, grafanaFamilies)
	var md []Metadata
	for _, f := range grafanaFamilies(0) {
		typ := model.MetricTypeGauge
		if f.Desc.Type == collector.Counter {
			typ = model.MetricTypeCounter
		}
		md = append(md, Metadata{Name: f.Desc.Name, Type: typ, Help: f.Desc.Help})
	}
	_, srv := newAPI(t, Options{Store: st, Metadata: func() []Metadata { return md }})

	header := http.Header{
		"User-Agent":       {"Grafana/11.3.0"},
		"Accept":           {"application/json, text/plain, */*"},
		"X-Grafana-Org-Id": {"1"},
	}
	start, end := unix(last.Add(-6*time.Hour)), unix(last)
	grafana := func(method, path string, params url.Values) any {
		t.Helper()
		return wantSuccess(t, method+" "+path, call(t, srv.URL, method, path, params, header))
	}

	// Save & test: the backend's health check runs 1+1 now, then the
	// front end reads the build information to learn the Prometheus
	// version and so which API features it may use.
	t.Run("save and test", func(t *testing.T) {
		data := grafana(http.MethodPost, "/api/v1/query", q("query", "1+1", "time", strconv.FormatInt(time.Now().Unix(), 10))).(map[string]any)
		if data["resultType"] != "scalar" {
			t.Fatalf("1+1: resultType %v, want scalar", data["resultType"])
		}
		if v := data["result"].([]any)[1]; v != "2" {
			t.Errorf("1+1 = %v, want \"2\"", v)
		}
		bi := grafana(http.MethodGet, "/api/v1/status/buildinfo", nil).(map[string]any)
		m := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(fmt.Sprint(bi["version"]))
		if m == nil {
			t.Fatalf("buildinfo version %v is not a semantic version", bi["version"])
		}
		if major, _ := strconv.Atoi(m[1]); major < 3 || bi["version"] != EngineVersion() {
			t.Errorf("buildinfo version %v, want EngineVersion() %s, 3 or later", bi["version"], EngineVersion())
		}
	})

	t.Run("metrics browser", func(t *testing.T) {
		labels := toStrings(t, grafana(http.MethodGet, "/api/v1/labels", q("start", start, "end", end)))
		for _, want := range []string{"UUID", "__name__", "cpu", "gpu", "instance", "job", "mode"} {
			if !slices.Contains(labels, want) {
				t.Errorf("labels %v lack %s", labels, want)
			}
		}
		if !slices.IsSorted(labels) {
			t.Errorf("labels %v are not sorted", labels)
		}
		names := toStrings(t, grafana(http.MethodGet, "/api/v1/label/__name__/values", q("start", start, "end", end)))
		for _, want := range []string{"DCGM_FI_DEV_GPU_UTIL", "node_cpu_seconds_total", "up"} {
			if !slices.Contains(names, want) {
				t.Errorf("metric names %v lack %s", names, want)
			}
		}
		// Newer Grafana versions ask for label values with a limit.
		limited := toStrings(t, grafana(http.MethodGet, "/api/v1/label/__name__/values", q("start", start, "end", end, "limit", "2")))
		if len(limited) != 2 {
			t.Errorf("metric names with limit 2: %v", limited)
		}
		gpus := toStrings(t, grafana(http.MethodGet, "/api/v1/label/gpu/values", q("match[]", "DCGM_FI_DEV_GPU_UTIL", "start", start, "end", end)))
		if !reflect.DeepEqual(gpus, []string{"0", "1", "2", "3"}) {
			t.Errorf("gpu values %v, want 0..3", gpus)
		}
		modes := toStrings(t, grafana(http.MethodGet, "/api/v1/label/mode/values", q("match[]", `node_cpu_seconds_total{cpu="1"}`, "start", start, "end", end)))
		if !reflect.DeepEqual(modes, []string{"idle", "user"}) {
			t.Errorf("mode values %v, want idle, user", modes)
		}
		labelsOf := toStrings(t, grafana(http.MethodPost, "/api/v1/labels", q("match[]", "DCGM_FI_DEV_GPU_UTIL", "start", start, "end", end)))
		if !reflect.DeepEqual(labelsOf, []string{"UUID", "__name__", "gpu", "instance", "job"}) {
			t.Errorf("labels of DCGM_FI_DEV_GPU_UTIL: %v", labelsOf)
		}
		series := grafana(http.MethodGet, "/api/v1/series", q("match[]", `DCGM_FI_DEV_GPU_UTIL{gpu=~"1|2"}`, "start", start, "end", end)).([]any)
		want := []any{
			map[string]any{"__name__": "DCGM_FI_DEV_GPU_UTIL", "UUID": "GPU-1", "gpu": "1", "instance": testInstance, "job": "trainwatch"},
			map[string]any{"__name__": "DCGM_FI_DEV_GPU_UTIL", "UUID": "GPU-2", "gpu": "2", "instance": testInstance, "job": "trainwatch"},
		}
		if !reflect.DeepEqual(series, want) {
			t.Errorf("series = %v, want %v", series, want)
		}
		meta := grafana(http.MethodGet, "/api/v1/metadata", nil).(map[string]any)
		wantMeta := map[string]any{
			"DCGM_FI_DEV_GPU_UTIL":   []any{map[string]any{"type": "gauge", "help": "DCGM_FI_DEV_GPU_UTIL help.", "unit": ""}},
			"node_cpu_seconds_total": []any{map[string]any{"type": "counter", "help": "node_cpu_seconds_total help.", "unit": ""}},
		}
		if !reflect.DeepEqual(meta, wantMeta) {
			t.Errorf("metadata = %v, want %v", meta, wantMeta)
		}
		one := grafana(http.MethodGet, "/api/v1/metadata", q("metric", "node_cpu_seconds_total")).(map[string]any)
		if len(one) != 1 || one["node_cpu_seconds_total"] == nil {
			t.Errorf("metadata of node_cpu_seconds_total = %v", one)
		}
	})

	t.Run("panel", func(t *testing.T) {
		// A time-series panel over the last 5 minutes, step 15 s, aligned
		// to the step as Grafana aligns it.
		from := last.Add(-5 * time.Minute)
		data := grafana(http.MethodPost, "/api/v1/query_range", q(
			"query", `sum by (gpu) (DCGM_FI_DEV_GPU_UTIL)`,
			"start", unix(from), "end", unix(last), "step", "15")).(map[string]any)
		if data["resultType"] != "matrix" {
			t.Fatalf("resultType %v, want matrix", data["resultType"])
		}
		result := data["result"].([]any)
		if len(result) != 4 {
			t.Fatalf("%d series, want 4", len(result))
		}
		for g, s := range result {
			s := s.(map[string]any)
			if !reflect.DeepEqual(s["metric"], map[string]any{"gpu": strconv.Itoa(g)}) {
				t.Errorf("series %d: metric %v", g, s["metric"])
			}
			values := s["values"].([]any)
			if len(values) != 21 {
				t.Fatalf("gpu %d: %d points, want 21", g, len(values))
			}
			for k, p := range values {
				p := p.([]any)
				at := from.Add(time.Duration(k) * 15 * time.Second)
				i := grafanaTicks - 1 - int(last.Sub(at)/(15*time.Second))
				if p[0] != json.Number(unix(at)) || p[1] != strconv.FormatFloat(gpuUtil(i, g), 'f', -1, 64) {
					t.Errorf("gpu %d point %d = %v, want [%s %v]", g, k, p, unix(at), gpuUtil(i, g))
				}
			}
		}
		// A stat panel: an instant query.
		data = grafana(http.MethodPost, "/api/v1/query", q("query", `rate(node_cpu_seconds_total{mode="user"}[1m])`, "time", unix(last))).(map[string]any)
		result = data["result"].([]any)
		if data["resultType"] != "vector" || len(result) != 2 {
			t.Fatalf("rate: %v", data)
		}
		for _, s := range result {
			s := s.(map[string]any)
			c, _ := strconv.Atoi(s["metric"].(map[string]any)["cpu"].(string))
			v, _ := strconv.ParseFloat(s["value"].([]any)[1].(string), 64)
			if want := 0.5 * float64(c+1) / 15; math.Abs(v-want) > 1e-12 {
				t.Errorf("rate of cpu %d = %v, want %v", c, v, want)
			}
		}
		// Exemplars for the same panel: none are stored, and the answer is an
		// empty list (GET and POST).
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			ex := grafana(m, "/api/v1/query_exemplars", q("query", `sum by (gpu) (DCGM_FI_DEV_GPU_UTIL)`, "start", unix(from), "end", unix(last)))
			if !reflect.DeepEqual(ex, []any{}) {
				t.Errorf("%s exemplars = %v, want []", m, ex)
			}
		}
	})

	t.Run("alerting", func(t *testing.T) {
		rules := grafana(http.MethodGet, "/api/v1/rules", nil)
		if !reflect.DeepEqual(rules, map[string]any{"groups": []any{}}) {
			t.Errorf("rules = %v, want no groups", rules)
		}
		alerts := grafana(http.MethodGet, "/api/v1/alerts", nil)
		if !reflect.DeepEqual(alerts, map[string]any{"alerts": []any{}}) {
			t.Errorf("alerts = %v, want none", alerts)
		}
	})
}

// toStrings converts a JSON list of strings.
func toStrings(t *testing.T, data any) []string {
	t.Helper()
	list, ok := data.([]any)
	if !ok {
		t.Fatalf("data %v is not a list", data)
	}
	out := make([]string, len(list))
	for i, v := range list {
		if out[i], ok = v.(string); !ok {
			t.Fatalf("data %v is not a list of strings", data)
		}
	}
	return out
}
