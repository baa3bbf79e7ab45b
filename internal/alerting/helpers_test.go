package alerting

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/trainwatch/trainwatch/internal/promapi"
	"github.com/trainwatch/trainwatch/internal/store"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// testInstance is the instance label of the test stores' series.
const testInstance = "node1:9835"

// env is a real store with the query API over it.
type env struct {
	st  *store.Store
	api *promapi.API
	// m is set by start, for the API's /api/v1/rules and /api/v1/alerts.
	mu sync.Mutex
	m  *Manager
}

// newEnv opens a store in dir (a fresh temporary one when empty) and the
// query API over it.
func newEnv(t testing.TB, dir string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(store.Options{Dir: dir, Instance: testInstance})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &env{st: st}
	api, err := promapi.New(promapi.Options{
		Store: st,
		Rules: func(ctx context.Context) v1.RulesRetriever {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.m == nil {
				return noRules{}
			}
			return e.m.Retriever(ctx)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.api = api
	return e
}

// The Manager is what the query API wants.
var (
	_ v1.RulesRetriever        = (*Manager)(nil)
	_ v1.AlertmanagerRetriever = (*Manager)(nil)
)

// noRules answers the API before a Manager exists.
type noRules struct{}

func (noRules) RuleGroups() []*rules.Group           { return nil }
func (noRules) AlertingRules() []*rules.AlertingRule { return nil }

// add appends one sample of name{job, instance, extra...} at ts.
func (e *env) add(t testing.TB, name string, v float64, ts time.Time, extra ...string) {
	t.Helper()
	lset := labels.FromStrings(append([]string{model.MetricNameLabel, name, "job", store.DefaultJob, "instance", testInstance}, extra...)...)
	if err := e.st.Append(context.Background(), []store.Appended{{Labels: lset, T: ts.UnixMilli(), V: v}}); err != nil {
		t.Fatal(err)
	}
}

// start builds a Manager over the env, loads its rules, runs it and stops
// it when the test ends.
func (e *env) start(t testing.TB, o Options) *Manager {
	t.Helper()
	m := e.build(t, o)
	if err := m.Load(); err != nil {
		t.Fatal(err)
	}
	e.run(t, m)
	return m
}

// build builds a Manager over the env without loading or running it.
func (e *env) build(t testing.TB, o Options) *Manager {
	t.Helper()
	o.Store = e.st
	o.Engine = e.api.Engine()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.m = m
	e.mu.Unlock()
	t.Cleanup(m.Stop)
	return m
}

// run runs m in the background until the test ends.
func (e *env) run(t testing.TB, m *Manager) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Run(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		m.Stop()
		<-done
	})
}

// apiGet calls the query API and decodes its data.
func (e *env) apiGet(t testing.TB, path string, params url.Values, data any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path+"?"+params.Encode(), nil)
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if err := json.Unmarshal(body.Data, data); err != nil {
		t.Fatalf("GET %s: data %s: %v", path, body.Data, err)
	}
}

// querySeries runs an instant query now and returns the label sets found.
func (e *env) querySeries(t testing.TB, expr string) []map[string]string {
	t.Helper()
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	e.apiGet(t, "/api/v1/query", url.Values{"query": {expr}, "time": {strconvTime(time.Now())}}, &data)
	var out []map[string]string
	for _, r := range data.Result {
		out = append(out, r.Metric)
	}
	return out
}

func strconvTime(t time.Time) string {
	return model.TimeFromUnixNano(t.UnixNano()).String()
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond every 20ms until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", within, what)
}

// alertStates returns the states of the active alerts of the named rule.
func alertStates(m *Manager, name string) []rules.AlertState {
	var out []rules.AlertState
	for _, r := range m.AlertingRules() {
		if r.Name() != name {
			continue
		}
		r.ForEachActiveAlert(func(a *rules.Alert) { out = append(out, a.State) })
	}
	return out
}

// hasState reports whether the named rule has an alert in state s.
func hasState(m *Manager, name string, s rules.AlertState) bool {
	for _, st := range alertStates(m, name) {
		if st == s {
			return true
		}
	}
	return false
}

// fastConfig is a configuration that evaluates every 100ms.
func fastConfig(files ...string) Config {
	f := false
	c := DefaultConfig()
	c.BuiltinRules = &f
	c.RuleFiles = files
	c.EvaluationInterval = model.Duration(100 * time.Millisecond)
	return c
}

// logBuffer returns a logger writing into a concurrency-safe buffer.
func logBuffer() (*slog.Logger, *testenv.LogBuffer) {
	buf := &testenv.LogBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
