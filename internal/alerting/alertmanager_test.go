package alerting

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// startAlertmanager starts Debian's Alertmanager on a free port, routing
// every alert (grouped by alertname) to a webhook, and returns its URL.
// It is stopped when the test ends.
func startAlertmanager(t *testing.T, webhookURL string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "alertmanager.yml", fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, webhookURL))
	return testenv.StartAlertmanager(t, cfg)
}

// amAlert is an alert as Alertmanager's /api/v2/alerts lists it.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func getAMAlerts(t *testing.T, base string) []amAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeAM records what is POSTed to PREFIX/api/v2/alerts, and the basic
// authentication it came with.
type fakeAM struct {
	*httptest.Server
	mu     sync.Mutex
	posts  [][]map[string]any
	user   string
	passwd string
}

func newFakeAM(t *testing.T, prefix string) *fakeAM {
	f := &fakeAM{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != prefix+"/api/v2/alerts" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var alerts []map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.posts = append(f.posts, alerts)
		f.user, f.passwd, _ = r.BasicAuth()
	}))
	t.Cleanup(f.Close)
	return f
}

// TestAlertmanagerEndToEnd: an alert created by a NaN training loss reaches
// a real Alertmanager (and a second, fake one behind a path prefix with
// basic authentication), whose webhook forwards it; clearing the condition
// forwards the resolution.
func TestAlertmanagerEndToEnd(t *testing.T) {
	hook := newHookServer(t)
	am := startAlertmanager(t, hook.URL+"/forwarded")
	fake := newFakeAM(t, "/am")
	fakeURL, _ := url.Parse(fake.URL)
	fakeURL.User = url.UserPassword("agent", "pw")
	fakeURL.Path = "/am"

	e := newEnv(t, "")
	path := writeFile(t, t.TempDir(), "rules.yml", nanRule)
	cfg := fastConfig(path)
	cfg.ExternalLabels = map[string]string{"cluster": "lab"}
	cfg.Alertmanagers = []AlertmanagerConfig{{URL: am}, {URL: fakeURL.String()}}
	m := e.start(t, Options{Config: cfg, ExternalURL: "http://agent.example:9835"})

	waitFor(t, 5*time.Second, "both Alertmanagers in use", func() bool { return len(m.Alertmanagers()) == 2 })
	var amURLs []string
	for _, u := range m.Alertmanagers() {
		amURLs = append(amURLs, u.String())
	}
	slices.Sort(amURLs)
	if want := []string{am + "/api/v2/alerts", fake.URL + "/am/api/v2/alerts"}; !slices.Equal(amURLs, slices.Sorted(slices.Values(want))) {
		t.Errorf("Alertmanagers() %v, want %v", amURLs, want)
	}

	e.add(t, "training_loss", math.NaN(), time.Now(), "run", "a")
	gen := "http://agent.example:9835/api/v1/query?query=" + url.QueryEscape("training_loss != training_loss")
	wantLabels := map[string]string{"alertname": "TrainingLossNaN", "cluster": "lab", "instance": testInstance, "job": "trainwatch", "run": "a", "severity": "critical"}
	var listed amAlert
	waitFor(t, 10*time.Second, "the alert in Alertmanager's /api/v2/alerts", func() bool {
		for _, a := range getAMAlerts(t, am) {
			if a.Labels["alertname"] == "TrainingLossNaN" && a.Status.State == "active" {
				listed = a
				return true
			}
		}
		return false
	})
	if !mapsEqual(listed.Labels, wantLabels) || listed.Annotations["summary"] != "training loss of a is NaN" || listed.GeneratorURL != gen {
		t.Errorf("Alertmanager lists %+v", listed)
	}
	if want := fingerprint(labels.FromMap(wantLabels)).String(); listed.Fingerprint != want {
		t.Errorf("Alertmanager's fingerprint %s, ours %s", listed.Fingerprint, want)
	}

	waitFor(t, 10*time.Second, "Alertmanager's webhook", func() bool { return hook.count() >= 1 })
	fired := hook.messages(t)[0]
	if fired.Status != "firing" || fired.Receiver != "hook" || fired.GroupKey != `{}:{alertname="TrainingLossNaN"}` ||
		len(fired.Alerts) != 1 || !mapsEqual(fired.Alerts[0].Labels, wantLabels) || fired.Alerts[0].GeneratorURL != gen {
		t.Errorf("Alertmanager forwarded %+v", fired)
	}
	checkWebhookParity(t, hook)

	fake.mu.Lock()
	posts, user, pw := len(fake.posts), fake.user, fake.passwd
	var first map[string]any
	if posts > 0 && len(fake.posts[0]) > 0 {
		first = fake.posts[0][0]
	}
	fake.mu.Unlock()
	if posts == 0 || user != "agent" || pw != "pw" {
		t.Errorf("second Alertmanager: %d posts, basic auth %q:%q", posts, user, pw)
	}
	if first != nil {
		if ls, _ := first["labels"].(map[string]any); ls["cluster"] != "lab" || first["endsAt"] == nil {
			t.Errorf("second Alertmanager got %v", first)
		}
	}

	e.add(t, "training_loss", 0.5, time.Now(), "run", "a")
	waitFor(t, 10*time.Second, "the resolution through Alertmanager's webhook", func() bool {
		msgs := hook.messages(t)
		last := msgs[len(msgs)-1]
		return last.Status == "resolved" && len(last.Alerts) == 1 && !last.Alerts[0].EndsAt.IsZero()
	})
	waitFor(t, 5*time.Second, "the alert to leave Alertmanager's active alerts", func() bool {
		for _, a := range getAMAlerts(t, am) {
			if a.Labels["alertname"] == "TrainingLossNaN" && a.Status.State == "active" && (a.EndsAt.IsZero() || a.EndsAt.After(time.Now())) {
				return false
			}
		}
		return true
	})
	c := collect(t, m)
	if n := c["trainwatch_notifications_sent_total"][am+"/api/v2/alerts"]; n < 2 {
		t.Errorf("trainwatch_notifications_sent_total for the Alertmanager %v, want >= 2 (firing and resolved): %v", n, c["trainwatch_notifications_sent_total"])
	}
	if n := c["trainwatch_notifications_failed_total"][am+"/api/v2/alerts"]; n != 0 {
		t.Errorf("trainwatch_notifications_failed_total %v", n)
	}
}

// checkWebhookParity compares the JSON keys of Alertmanager's webhook with
// those of the built-in webhook receiver.
func checkWebhookParity(t *testing.T, hook *hookServer) {
	t.Helper()
	hook.mu.Lock()
	raw := hook.bodies[0]
	hook.mu.Unlock()
	var theirs map[string]any
	if err := json.Unmarshal(raw, &theirs); err != nil {
		t.Fatal(err)
	}
	a := mkAlert("X")
	ours, err := json.Marshal(toWebhook(newMessage("hook", "{}:{}", labels.EmptyLabels(), "", []*alert{a}, time.Now())))
	if err != nil {
		t.Fatal(err)
	}
	var mine map[string]any
	if err := json.Unmarshal(ours, &mine); err != nil {
		t.Fatal(err)
	}
	if k1, k2 := keys(theirs), keys(mine); !slices.Equal(k1, k2) {
		t.Errorf("webhook keys: Alertmanager %v, ours %v", k1, k2)
	}
	ta := theirs["alerts"].([]any)[0].(map[string]any)
	ma := mine["alerts"].([]any)[0].(map[string]any)
	if k1, k2 := keys(ta), keys(ma); !slices.Equal(k1, k2) {
		t.Errorf("webhook alert keys: Alertmanager %v, ours %v", k1, k2)
	}
	// A firing alert's endsAt, as Alertmanager writes it.
	if ta["endsAt"] != ma["endsAt"] {
		t.Errorf("firing endsAt: Alertmanager %v, ours %v", ta["endsAt"], ma["endsAt"])
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestAlertmanagerDown: a failing Alertmanager is counted in the
// self-metrics and logged once, not at every send.
func TestAlertmanagerDown(t *testing.T) {
	var mu sync.Mutex
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	e := newEnv(t, "")
	cfg := fastConfig(writeFile(t, t.TempDir(), "rules.yml", nanRule))
	cfg.Alertmanagers = []AlertmanagerConfig{{URL: srv.URL}}
	logger, logs := logBuffer()
	m := e.start(t, Options{Config: cfg, Logger: logger, ResendDelay: 100 * time.Millisecond})
	e.add(t, "training_loss", math.NaN(), time.Now(), "run", "a")
	waitFor(t, 10*time.Second, "three failed sends", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return posts >= 3
	})
	ep := srv.URL + "/api/v2/alerts"
	waitFor(t, 5*time.Second, "the failures in the self-metrics", func() bool {
		c := collect(t, m)
		return c["trainwatch_notifications_failed_total"][ep] >= 3 && c["trainwatch_notifications_dropped_total"][ep] >= 3 && c["trainwatch_notifications_sent_total"][ep] == 0
	})
	if n := logs.Count("Error sending alerts"); n != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", n, logs)
	}
}
