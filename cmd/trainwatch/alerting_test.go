package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/alerting"
	"github.com/trainwatch/trainwatch/internal/config"
)

// TestServeAlertsOnNaNLoss: a live agent with the built-in rule pack and a
// webhook receiver: a NaN loss logged through the runs API fires
// TrainingLossNaN (visible in /api/v1/alerts and delivered to the webhook
// in Alertmanager's JSON), and a finite loss resolves it. A broken rule file
// on POST /-/reload answers 500 with file:line and the rules keep running.
func TestServeAlertsOnNaNLoss(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &m) == nil {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	dir := t.TempDir()
	userRules := filepath.Join(dir, "user.rules.yml")
	if err := os.WriteFile(userRules, []byte("groups:\n  - name: user\n    rules:\n      - alert: Always\n        expr: vector(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Processes.Disable = true
	cfg.Alerting.EvaluationInterval = model.Duration(500 * time.Millisecond)
	cfg.Alerting.RuleFiles = []string{userRules}
	cfg.Alerting.Route.GroupWait = model.Duration(time.Millisecond)
	cfg.Alerting.Route.GroupInterval = model.Duration(500 * time.Millisecond)
	cfg.Alerting.Receivers = []alerting.ReceiverConfig{{Name: "hook", Webhook: &alerting.WebhookConfig{URL: hook.URL}}}
	base := startAgent(t, cfg)

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s did not happen within 20 s; webhook got %v", what, got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	delivered := func(status string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			if m["status"] != status {
				continue
			}
			for _, a := range m["alerts"].([]any) {
				if a.(map[string]any)["labels"].(map[string]any)["alertname"] == "TrainingLossNaN" {
					return true
				}
			}
		}
		return false
	}

	if code, body := post(t, base+"/api/v1/runs/nan-run/log", "application/json", `{"step": 1, "loss": NaN}`); code != 200 {
		t.Fatalf("log: %d %s", code, body)
	}
	waitFor("TrainingLossNaN firing at the webhook", func() bool { return delivered("firing") })
	_, b := get(t, base+"/api/v1/alerts", nil)
	if !strings.Contains(string(b), `"alertname":"TrainingLossNaN"`) || !strings.Contains(string(b), `"run":"nan-run"`) {
		t.Errorf("/api/v1/alerts: %s", b)
	}
	if code, body := post(t, base+"/api/v1/runs/nan-run/log", "application/json", `{"step": 2, "loss": 0.5}`); code != 200 {
		t.Fatalf("log: %d %s", code, body)
	}
	waitFor("TrainingLossNaN resolved at the webhook", func() bool { return delivered("resolved") })

	// A broken rule file: the reload fails with file:line, the rules keep running.
	if err := os.WriteFile(userRules, []byte("groups:\n  - name: user\n    rules:\n      - alert: Always\n        expr: vector(1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := post(t, base+"/-/reload", "text/plain", "")
	if code != http.StatusInternalServerError || !strings.Contains(body, "user.rules.yml:5") {
		t.Errorf("reload of a broken file = %d %s, want 500 naming user.rules.yml:5", code, body)
	}
	_, b = get(t, base+"/api/v1/rules", nil)
	if !strings.Contains(string(b), `"name":"Always"`) || !strings.Contains(string(b), `"name":"TrainingLossNaN"`) {
		t.Errorf("rules after a failed reload: %.400s", b)
	}
}
