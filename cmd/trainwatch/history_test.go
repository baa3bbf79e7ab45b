package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/remotewrite"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// apiGet fetches a Prometheus API path from the agent and decodes the
// envelope.
func apiGet(t *testing.T, base, path string) (int, map[string]any) {
	t.Helper()
	resp, body := get(t, base+path, nil)
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("%s: %v: %s", path, err, body)
	}
	return resp.StatusCode, env
}

// TestServeWritesHistory: a live agent stores its ticks with job and
// instance labels and answers the Prometheus API from them: up, the
// collectors' metadata, build info, retention from the flags, label names
// and the TSDB self-metrics.
func TestServeWritesHistory(t *testing.T) {
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.Storage.RetentionTime = model.Duration(36 * time.Hour)
	cfg.DataDir = t.TempDir()
	base := startAgent(t, cfg)
	host, _ := os.Hostname()
	port := base[strings.LastIndex(base, ":")+1:]

	deadline := time.Now().Add(10 * time.Second)
	var n float64
	for time.Now().Before(deadline) && n < 3 {
		_, env := apiGet(t, base, `/api/v1/query?query=count_over_time(up{job="trainwatch"}[1m])`)
		res := env["data"].(map[string]any)["result"].([]any)
		if len(res) == 1 {
			m := res[0].(map[string]any)
			if got := m["metric"].(map[string]any)["instance"]; got != host+":"+port {
				t.Fatalf("instance label %v, want %s:%s", got, host, port)
			}
			v := m["value"].([]any)[1].(string)
			if err := json.Unmarshal([]byte(v), &n); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n < 3 {
		t.Fatalf("fewer than 3 ticks of up in history after 10 s (%v)", n)
	}

	for _, c := range []struct {
		path, want string
	}{
		{"/api/v1/metadata?metric=node_load1", `"node_load1":[{"help":"1m load average.","type":"gauge","unit":""}]`},
		{"/api/v1/metadata?metric=node_cpu_seconds_total", `"type":"counter"`},
		{"/api/v1/status/buildinfo", `"version":"3.`},
		{"/api/v1/status/runtimeinfo", `"storageRetention":"1d12h"`},
		{"/api/v1/labels", `"instance"`},
		{"/api/v1/label/__name__/values", `"trainwatch_tsdb_samples_appended_total"`},
		{"/api/v1/query?query=trainwatch_tsdb_head_series>0", `"trainwatch_tsdb_head_series"`},
		{"/api/v1/series?match[]=scrape_duration_seconds", `"job":"trainwatch"`},
	} {
		resp, body := get(t, base+c.path, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s = %d %.300s; want 200 containing %s", c.path, resp.StatusCode, body, c.want)
		}
	}
	code, env := apiGet(t, base, "/api/v1/query?query=sum(")
	if code != http.StatusBadRequest || env["errorType"] != "bad_data" {
		t.Errorf("malformed PromQL: %d %v, want 400 bad_data", code, env)
	}
}

// TestServeNoHistory: with --no-history there is no TSDB and no query API,
// and nothing is written to the data directory.
func TestServeNoHistory(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Disable = true
	cfg.DataDir = t.TempDir()
	base := startAgent(t, cfg)
	resp, _ := get(t, base+"/api/v1/query?query=up", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/api/v1/query without history = %d, want 404", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/api/v1/snapshot", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/api/v1/snapshot = %d, want 200", resp.StatusCode)
	}
	if ents, _ := os.ReadDir(cfg.DataDir); len(ents) != 0 {
		t.Errorf("data directory written without history: %v", ents)
	}
}

// TestServeRemoteWrite: an agent configured with remote_write sends its
// history to a real Prometheus receiver, with the external labels, and
// reports the queue in its self-metrics.
func TestServeRemoteWrite(t *testing.T) {
	prom := testenv.StartPrometheusWith(t, testenv.PrometheusOptions{Flags: []string{"--web.enable-remote-write-receiver"}})
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.RemoteWrite = []remotewrite.Config{{
		Name:           "central",
		URL:            prom.URL + "/api/v1/write",
		ExternalLabels: map[string]string{"cluster": "lab"},
	}}
	base := startAgent(t, cfg)
	prom.WaitForSeries(t, `count_over_time(node_load1{job="trainwatch", cluster="lab"}[1m]) >= 3`, 30*time.Second)
	if _, err := os.Stat(cfg.DataDir + "/remote_write/central"); err != nil {
		t.Errorf("queue directory: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, base+"/metrics", nil)
		if strings.Contains(string(body), `trainwatch_remote_write_samples_total{outcome="sent",remote="central"}`) &&
			!strings.Contains(string(body), `trainwatch_remote_write_samples_total{outcome="sent",remote="central"} 0`+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sent samples in the agent's self-metrics:\n%s", grepLines(string(body), "trainwatch_remote_write"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRemoteWriteNeedsHistory: remote_write with --no-history is refused
// with a message saying why.
func TestRemoteWriteNeedsHistory(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/c.yml"
	if err := os.WriteFile(path, []byte("storage: {disable: true}\nremote_write:\n  - url: http://127.0.0.1:9/api/v1/write\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"serve", "--config", path, "--data-dir", dir}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "remote_write: needs history") {
		t.Errorf("exit %d, stderr %q; want 2 and a message that remote_write needs history", code, stderr.String())
	}
}
