package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
)

func post(t *testing.T, u, ctype, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRunsLiveAgent: a run registered and logged through the JSON API of a
// live agent is listed, its values come back through /api/v1/query (NaN
// included), its tick series appear, and it survives an agent restart.
func TestRunsLiveAgent(t *testing.T) {
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.Processes.Disable = true
	base := startAgent(t, cfg)

	code, body := post(t, base+"/api/v1/runs", "application/json", `{"id": "mnist-1", "name": "mnist", "config": {"lr": 0.01}, "total_steps": 100}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var lines []string
	for i := 1; i <= 50; i++ {
		loss := "1.0"
		if i == 50 {
			loss = "NaN"
		}
		lines = append(lines, `{"step": `+itoa(i)+`, "loss": `+loss+`, "lr": 0.01, "epoch": 0}`)
	}
	if code, body := post(t, base+"/api/v1/runs/mnist-1/log", "application/x-ndjson", strings.Join(lines, "\n")); code != http.StatusOK {
		t.Fatalf("log: %d %s", code, body)
	}
	for expr, want := range map[string]string{
		`count_over_time(training_loss{run="mnist-1"}[10m])`:         "50",
		`training_loss{run="mnist-1"}`:                               "NaN",
		`max_over_time(batches_processed_total{run="mnist-1"}[10m])`: "50",
	} {
		if got := instantValue(t, base, expr); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for instantValue(t, base, `trainwatch_run_progress_ratio{run="mnist-1"}`) != "0.5" {
		if time.Now().After(deadline) {
			t.Fatal("trainwatch_run_progress_ratio never reached 0.5")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := post(t, base+"/api/v1/runs/mnist-1/finish", "application/json", `{"status": "finished"}`); code != 200 {
		t.Fatalf("finish: %d %s", code, body)
	}
	_, b := get(t, base+"/api/v1/runs", nil)
	var list struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal(b, &list); err != nil || len(list.Runs) != 1 || list.Runs[0]["status"] != "finished" || list.Runs[0]["step"] != 50.0 {
		t.Fatalf("runs: %s %v", b, err)
	}
	if _, err := os.Stat(cfg.DataDir + "/runs/runs.json"); err != nil {
		t.Errorf("runs not saved: %v", err)
	}
}

// TestRunsSurviveAgentRestart: a run and its history are there after the
// agent stops and starts again on the same data directory.
func TestRunsSurviveAgentRestart(t *testing.T) {
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.Processes.Disable = true
	first := startAgentStoppable(t, cfg)
	if code, body := post(t, first.base+"/api/v1/runs/keep/log", "application/json", `{"step": 7, "loss": 0.25}`); code != 200 {
		t.Fatalf("log: %d %s", code, body)
	}
	first.stop()
	base := startAgent(t, cfg)
	_, b := get(t, base+"/api/v1/runs/keep", nil)
	if !strings.Contains(string(b), `"step":7`) || !strings.Contains(string(b), `"training_loss":0.25`) {
		t.Errorf("run after restart: %s", b)
	}
	if got := instantValue(t, base, `count_over_time(training_loss{run="keep"}[10m])`); got != "1" {
		t.Errorf("history after restart: %s", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// instantValue runs an instant query against the agent and returns the
// single result's value, or "" when there is none.
func instantValue(t *testing.T, base, expr string) string {
	t.Helper()
	return instantValueAt(t, base, expr, time.Now())
}

// instantValueAt is instantValue evaluated at a given time.
func instantValueAt(t *testing.T, base, expr string, at time.Time) string {
	t.Helper()
	_, b := get(t, base+"/api/v1/query?query="+url.QueryEscape(expr)+"&time="+strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64), nil)
	var env struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: %v %s", expr, err, b)
	}
	if len(env.Data.Result) != 1 {
		return ""
	}
	s, _ := env.Data.Result[0].Value[1].(string)
	return s
}
