package runs

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/trainwatch/trainwatch/internal/collector/collectortest"
	"github.com/trainwatch/trainwatch/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	st  *store.Store
	reg *Registry
	clk *clock
	dir string
}

func newEnv(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(store.Options{Dir: filepath.Join(dir, "tsdb"), Instance: "box:9835"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Now().Add(-time.Hour).Truncate(time.Second)}
	e := &env{st: st, clk: clk, dir: dir}
	e.reg = e.open(t, mutate)
	return e
}

func (e *env) open(t *testing.T, mutate func(*Options)) *Registry {
	t.Helper()
	o := Options{
		Dir: filepath.Join(e.dir, "runs"), Host: "box", Instance: "box:9835", Append: e.st.Append, Now: e.clk.Now,
		Reserved: func(n string) bool { return strings.HasPrefix(n, "node_") || n == "up" },
	}
	if mutate != nil {
		mutate(&o)
	}
	r, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// series reads one stored series of run id.
func (e *env) series(t *testing.T, name, id string) []float64 {
	t.Helper()
	q, err := e.st.Queryable().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil,
		labels.MustNewMatcher(labels.MatchEqual, "__name__", name), labels.MustNewMatcher(labels.MatchEqual, "run", id))
	var out []float64
	for ss.Next() {
		if got := ss.At().Labels().String(); got != `{__name__="`+name+`", instance="box:9835", job="trainwatch", run="`+id+`"}` {
			t.Errorf("labels %s", got)
		}
		it := ss.At().Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			_, v := it.At()
			out = append(out, v)
		}
	}
	return out
}

func steps(start int64, n int, at time.Time, every time.Duration, loss func(i int) float64) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Step: start + int64(i), Epoch: math.NaN(), TimeMs: at.Add(time.Duration(i) * every).UnixMilli(),
			Values: map[string]float64{"loss": loss(i), "lr": 1e-3}}
	}
	return out
}

func TestLogStoresEveryStep(t *testing.T) {
	e := newEnv(t, nil)
	run, created, err := e.reg.Create(CreateRequest{Name: "resnet 50", Config: json.RawMessage(`{"batch_size": 256}`), TotalSteps: 1000, Command: "python train.py"})
	if err != nil || !created {
		t.Fatalf("Create = %v, %v", created, err)
	}
	if !strings.HasPrefix(run.ID, "resnet-50-") || run.Status != StatusRunning || run.Host != "box" {
		t.Errorf("run = %+v", run)
	}
	at := e.clk.Now()
	entries := steps(1, 100, at, 100*time.Millisecond, func(i int) float64 { return 2 / float64(i+1) })
	entries[50].Values["loss"] = math.NaN()
	entries[51].Values["loss"] = math.Inf(1)
	e.clk.Add(10 * time.Second)
	n, err := e.reg.Log(context.Background(), run.ID, entries)
	if err != nil || n != 300 {
		t.Fatalf("Log = %d, %v; want 300 samples", n, err)
	}
	loss := e.series(t, "training_loss", run.ID)
	if len(loss) != 100 || loss[0] != 2 || !math.IsNaN(loss[50]) || !math.IsInf(loss[51], 1) {
		t.Errorf("training_loss has %d points: %v", len(loss), loss[:3])
	}
	if got := e.series(t, "batches_processed_total", run.ID); len(got) != 100 || got[99] != 100 {
		t.Errorf("batches_processed_total = %v", got)
	}
	if got := e.series(t, "learning_rate", run.ID); len(got) != 100 {
		t.Errorf("learning_rate has %d points", len(got))
	}
	v, _ := e.reg.Get(run.ID)
	if v.Step != 100 || v.Progress == nil || *v.Progress != 0.1 || math.Abs(v.StepsPerSec-10) > 0.01 || v.ETASeconds == nil || math.Abs(*v.ETASeconds-90) > 0.1 {
		t.Errorf("view = step %d progress %v steps/s %v eta %v", v.Step, v.Progress, v.StepsPerSec, v.ETASeconds)
	}
	if v.Series != 3 || float64(v.Metrics["learning_rate"]) != 1e-3 {
		t.Errorf("series %d metrics %v", v.Series, v.Metrics)
	}
	b, err := json.Marshal(v)
	if err != nil || !strings.Contains(string(b), `"epoch":"NaN"`) {
		t.Errorf("JSON of a run = %s, %v", b, err)
	}
}

func TestLogRefusals(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxSeriesPerRun = 5 })
	ctx := context.Background()
	ok := []Entry{{Step: 1, Epoch: math.NaN(), Values: map[string]float64{"loss": 1}}}
	if _, err := e.reg.Log(ctx, "r1", ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		id      string
		entries []Entry
		code    int
		msg     string
	}{
		{"bad id", "has space", ok, 400, `run id "has space"`},
		{"reserved name", "r1", []Entry{{Step: 2, Epoch: math.NaN(), Values: map[string]float64{"node_load1": 1}}}, 400, `key "node_load1" would be stored as "node_load1"`},
		{"future", "r1", []Entry{{Step: 2, Epoch: math.NaN(), TimeMs: e.clk.Now().Add(time.Hour).UnixMilli(), Values: map[string]float64{"loss": 1}}}, 400, "is in the future"},
		{"too many series", "r1", []Entry{{Step: 2, Epoch: math.NaN(), Values: map[string]float64{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}}}, 422, `run "r1" would have 7 series; the limit is 5`},
		{"key too long", "r1", []Entry{{Step: 2, Epoch: math.NaN(), Values: map[string]float64{strings.Repeat("k", MaxKeyLength+1): 1}}}, 400, "is 1025 bytes; keys are metric names, at most 1024 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.reg.Log(ctx, c.id, c.entries)
			var le *LogError
			if !errors.As(err, &le) || le.Code != c.code || !strings.Contains(le.Msg, c.msg) {
				t.Fatalf("err = %v, want %d %q", err, c.code, c.msg)
			}
		})
	}
	// Nothing of the refused requests was stored.
	if got := e.series(t, "training_loss", "r1"); len(got) != 1 {
		t.Errorf("training_loss after refusals = %v, want the one accepted value", got)
	}
	if got := e.series(t, "a", "r1"); len(got) != 0 {
		t.Errorf("series of a refused request stored: %v", got)
	}
}

func TestOutOfOrderTimesKeptInOrder(t *testing.T) {
	e := newEnv(t, nil)
	at := e.clk.Now()
	entries := []Entry{
		{Step: 1, Epoch: math.NaN(), TimeMs: at.UnixMilli(), Values: map[string]float64{"loss": 3}},
		{Step: 2, Epoch: math.NaN(), TimeMs: at.UnixMilli(), Values: map[string]float64{"loss": 2}},
		{Step: 3, Epoch: math.NaN(), TimeMs: at.Add(-time.Second).UnixMilli(), Values: map[string]float64{"loss": 1}},
	}
	if _, err := e.reg.Log(context.Background(), "r", entries); err != nil {
		t.Fatal(err)
	}
	if got := e.series(t, "training_loss", "r"); len(got) != 3 || got[2] != 1 {
		t.Errorf("training_loss = %v, want all three in order", got)
	}
}

func TestStalled(t *testing.T) {
	e := newEnv(t, nil)
	// 30 s per step: stalled after max(5 min, 10 × 30 s) = 5 min.
	at := e.clk.Now().Add(-2 * time.Minute)
	if _, err := e.reg.Log(context.Background(), "slow", steps(0, 5, at, 30*time.Second, func(int) float64 { return 1 })); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(2 * time.Minute) // 2 min after the last step
	if v, _ := e.reg.Get("slow"); v.Status != StatusRunning {
		t.Errorf("status after 2 min = %s, want running", v.Status)
	}
	e.clk.Add(4 * time.Minute) // 6 min after the last step > max(5m, 10 × 30 s)
	if v, _ := e.reg.Get("slow"); v.Status != StatusStalled {
		t.Errorf("status after 6 min = %s, want stalled", v.Status)
	}
	// A run with 2-minute steps is not stalled 6 minutes after its last
	// step (10 × 2 m = 20 m).
	at = e.clk.Now().Add(-4 * time.Minute)
	if _, err := e.reg.Log(context.Background(), "big", steps(0, 3, at, 2*time.Minute, func(int) float64 { return 1 })); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(6 * time.Minute)
	if v, _ := e.reg.Get("big"); v.Status != StatusRunning {
		t.Errorf("slow-step run status = %s, want running", v.Status)
	}
	// Progress resumes: running again.
	if _, err := e.reg.Log(context.Background(), "slow", steps(5, 1, e.clk.Now(), 0, func(int) float64 { return 1 })); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.reg.Get("slow"); v.Status != StatusRunning {
		t.Errorf("status after a new step = %s, want running", v.Status)
	}
	if got := e.reg.List(StatusStalled); len(got) != 0 {
		t.Errorf("stalled runs = %v", got)
	}
}

func TestRunsSurviveRestart(t *testing.T) {
	e := newEnv(t, nil)
	run, _, err := e.reg.Create(CreateRequest{ID: "gpt-small", Name: "GPT small", Config: json.RawMessage(`{"lr": 0.001}`), TotalEpochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	ents := steps(1, 3, e.clk.Now(), time.Second, func(int) float64 { return math.NaN() })
	ents[2].Epoch = 1.5
	if _, err := e.reg.Log(context.Background(), run.ID, ents); err != nil {
		t.Fatal(err)
	}
	code := 0
	if _, err := e.reg.Finish(run.ID, StatusFailed, &code); err != nil {
		t.Fatal(err)
	}
	re := e.open(t, nil)
	got, ok := re.Get("gpt-small")
	if !ok || got.Name != "GPT small" || got.Status != StatusFailed || got.Step != 3 || got.Epoch != 1.5 || string(got.Config) != `{"lr":0.001}` ||
		got.End == nil || got.ExitCode == nil || !math.IsNaN(float64(got.Metrics["training_loss"])) || got.Series != 4 {
		t.Errorf("after reopen: %+v", got)
	}
	if got.Progress == nil || *got.Progress != 0.5 {
		t.Errorf("progress from epochs = %v, want 0.5", got.Progress)
	}
	// Resuming an ended run runs it again and keeps its series count.
	again, created, err := re.Create(CreateRequest{ID: "gpt-small"})
	if err != nil || created || again.Status != StatusRunning || again.End != nil {
		t.Errorf("resume = %+v %v %v", again, created, err)
	}
}

func TestDamagedRunsFile(t *testing.T) {
	e := newEnv(t, nil)
	if _, _, err := e.reg.Create(CreateRequest{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(e.dir, "runs", "runs.json")
	if err := os.WriteFile(file, []byte(`{"runs": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	re := e.open(t, func(o *Options) { o.Logger = newTextLogger(&buf) })
	if len(re.List("")) != 0 || !strings.Contains(buf.String(), "runs file is damaged") {
		t.Errorf("damaged file: runs %v, log %q", re.List(""), buf.String())
	}
	matches, _ := filepath.Glob(file + ".damaged-*")
	if len(matches) != 1 {
		t.Errorf("damaged file not kept aside: %v", matches)
	}
}

func TestCollector(t *testing.T) {
	e := newEnv(t, nil)
	run, _, _ := e.reg.Create(CreateRequest{ID: "c1", Name: "cifar", TotalSteps: 10})
	if _, err := e.reg.Log(context.Background(), run.ID, steps(1, 5, e.clk.Now(), time.Second, func(int) float64 { return 1 })); err != nil {
		t.Fatal(err)
	}
	fams := collectortest.CollectOK(t, e.reg.Collector())
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"trainwatch_run_info", []string{"run", "c1", "name", "cifar", "host", "box", "source", "api", "status", "running"}, 1},
		{"trainwatch_run_status", []string{"run", "c1", "status", "running"}, 1},
		{"trainwatch_run_status", []string{"run", "c1", "status", "stalled"}, 0},
		{"trainwatch_run_step", []string{"run", "c1"}, 5},
		{"trainwatch_run_progress_ratio", []string{"run", "c1"}, 0.5},
		{"trainwatch_run_steps_per_second", []string{"run", "c1"}, 1},
		{"trainwatch_run_eta_seconds", []string{"run", "c1"}, 5},
		{"trainwatch_run_series", []string{"run", "c1"}, 3},
	} {
		if got := collectortest.Value(t, fams, c.name, c.labels...); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// An hour after it ended, a run has no tick series any more.
	if _, err := e.reg.Finish("c1", "", nil); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(61 * time.Minute)
	if fams := collectortest.CollectOK(t, e.reg.Collector()); collectortest.Family(fams, "trainwatch_run_info") != nil {
		t.Error("a run ended an hour ago still has tick series")
	}
}

func TestHTTP(t *testing.T) {
	e := newEnv(t, nil)
	mux := http.NewServeMux()
	for _, r := range e.reg.Routes() {
		mux.HandleFunc(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, m := do("POST", "/api/v1/runs", `{"id": "h1", "name": "bert", "config": {"lr": 5e-5}, "total_steps": 4}`)
	if code != 201 || m["id"] != "h1" || m["status"] != "running" {
		t.Fatalf("create = %d %v", code, m)
	}
	if code, _ := do("POST", "/api/v1/runs", `{"id": "h1"}`); code != 200 {
		t.Errorf("create existing = %d, want 200", code)
	}
	code, m = do("POST", "/api/v1/runs/h1/log", "{\"step\": 1, \"loss\": NaN}\n{\"step\": 2, \"loss\": 0.5, \"epoch\": 1}\n")
	if code != 200 || m["accepted"] != 2.0 || m["samples"] != 5.0 {
		t.Fatalf("log = %d %v", code, m)
	}
	code, m = do("GET", "/api/v1/runs/h1", "")
	if code != 200 || m["step"] != 2.0 || m["metrics"].(map[string]any)["training_loss"] != 0.5 || m["progress"] != 0.5 {
		t.Errorf("get = %d %v", code, m)
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/api/v1/runs/h1/log", `{"loss": "low"}`, 400, `line 1: key "loss": "low" is not a number`},
		{"POST", "/api/v1/runs/h1/log", ``, 400, "empty body"},
		{"POST", "/api/v1/runs/bad%20id/log", `{"loss": 1}`, 400, `run id "bad id"`},
		{"POST", "/api/v1/runs", `{"nme": "typo"}`, 400, `unknown field "nme"`},
		{"POST", "/api/v1/runs", `{"config": {bad}}`, 400, "body:"},
		{"POST", "/api/v1/runs/h1/finish", `{"status": "done"}`, 400, `status "done": want "finished" or "failed"`},
		{"POST", "/api/v1/runs/nope/finish", `{}`, 404, `no run "nope"`},
		{"GET", "/api/v1/runs/nope", ``, 404, `no run "nope"`},
		{"GET", "/api/v1/runs?status=weird", ``, 400, `status "weird"`},
		{"POST", "/api/v1/runs/h1/log", strings.Repeat(" ", MaxLogBody+1), 413, "body larger than"},
		{"POST", "/api/v1/runs", `{"name": "` + strings.Repeat("n", MaxFieldLength+1) + `"}`, 400, "name: 4097 bytes; at most 4096"},
		{"POST", "/api/v1/runs", `{"host": "` + strings.Repeat("h", MaxFieldLength+1) + `"}`, 400, "host: 4097 bytes; at most 4096"},
		{"POST", "/api/v1/runs", `{"command": "` + strings.Repeat("c", MaxCommandLength+1) + `"}`, 400, "command: 65537 bytes; at most 65536"},
		{"POST", "/api/v1/runs", `{"tags": [` + strings.Repeat(`"t",`, MaxTags) + `"t"]}`, 400, "tags: 65 tags; at most 64"},
		{"POST", "/api/v1/runs", `{"tags": ["` + strings.Repeat("t", MaxFieldLength+1) + `"]}`, 400, "tags[0]: 4097 bytes; at most 4096"},
	} {
		code, m := do(c.method, c.path, c.body)
		if code != c.code || !strings.Contains(m["error"].(string), c.msg) {
			t.Errorf("%s %s = %d %v, want %d %q", c.method, c.path, code, m, c.code, c.msg)
		}
	}
	if code, m := do("POST", "/api/v1/runs/h1/finish", `{"status": "finished"}`); code != 200 || m["status"] != "finished" {
		t.Errorf("finish = %d %v", code, m)
	}
	code, m = do("GET", "/api/v1/runs?status=finished", "")
	if runs := m["runs"].([]any); code != 200 || len(runs) != 1 {
		t.Errorf("list finished = %d %v", code, m)
	}
	// The refused requests left the accepted data alone.
	if got := e.series(t, "training_loss", "h1"); len(got) != 2 || !math.IsNaN(got[0]) || got[1] != 0.5 {
		t.Errorf("training_loss = %v", got)
	}
}
