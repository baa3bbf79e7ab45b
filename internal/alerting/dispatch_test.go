package alerting

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// hookServer records the requests a receiver gets; it can fail the next
// requests on demand.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	times    []time.Time
	failNext int
	failCode int
	requests int
}

func newHookServer(t testing.TB) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if h.failNext > 0 {
			h.failNext--
			http.Error(w, "boom", h.failCode)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		h.bodies = append(h.bodies, b)
		h.times = append(h.times, time.Now())
	}))
	t.Cleanup(h.Close)
	return h
}

// fail makes the next n requests fail with code.
func (h *hookServer) fail(n, code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failNext, h.failCode = n, code
}

func (h *hookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func (h *hookServer) requestCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests
}

// messages decodes the webhook payloads received so far.
func (h *hookServer) messages(t testing.TB) []webhookMessage {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []webhookMessage
	for _, b := range h.bodies {
		var m webhookMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("payload %s: %v", b, err)
		}
		out = append(out, m)
	}
	return out
}

// testDispatcher runs a dispatcher with webhook receivers pointing at the
// given servers until the test ends.
func testDispatcher(t testing.TB, route routeOpts, logger *slog.Logger, sendResolved bool, servers ...*hookServer) *dispatcher {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var rs []*receiver
	for i, s := range servers {
		rs = append(rs, &receiver{
			name: "hook" + string(rune('0'+i)), kind: "webhook", sendResolved: sendResolved, logger: logger,
			integ: &webhook{url: s.URL, client: s.Client()},
		})
	}
	if route.groupBy == nil {
		route.groupBy = []string{model.AlertNameLabel}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := newDispatcher(ctx, route, rs, "http://agent.example:9835", 10*time.Millisecond, 40*time.Millisecond, logger)
	t.Cleanup(func() {
		cancel()
		d.wait()
	})
	return d
}

// mkAlert returns a firing alert (valid for an hour) with the given labels,
// starting now as the rules send it.
func mkAlert(name string, extra ...string) *alert {
	ls := labels.FromStrings(append([]string{"alertname", name}, extra...)...)
	return &alert{
		Labels:       ls,
		Annotations:  labels.FromStrings("summary", name+" is happening"),
		StartsAt:     time.Now(),
		EndsAt:       time.Now().Add(time.Hour),
		GeneratorURL: "http://agent.example:9835/api/v1/query?query=x",
		Value:        1,
		fp:           fingerprint(ls),
	}
}

// resolvedNow returns a copy of a that ended now.
func resolvedNow(a *alert) *alert {
	c := *a
	c.EndsAt = time.Now()
	return &c
}

func TestDispatcherGrouping(t *testing.T) {
	for _, tc := range []struct {
		name    string
		groupBy []string
		alerts  []*alert
		want    map[string]int // group key -> alerts in its one notification
	}{
		{
			name:   "same alertname: one notification",
			alerts: []*alert{mkAlert("A", "run", "a"), mkAlert("A", "run", "b")},
			want:   map[string]int{`{}:{alertname="A"}`: 2},
		},
		{
			name:   "other alertname: another notification",
			alerts: []*alert{mkAlert("A", "run", "a"), mkAlert("B", "run", "a"), mkAlert("A", "run", "b")},
			want:   map[string]int{`{}:{alertname="A"}`: 2, `{}:{alertname="B"}`: 1},
		},
		{
			name:    "group by job",
			groupBy: []string{"job"},
			alerts:  []*alert{mkAlert("A", "job", "train"), mkAlert("B", "job", "train"), mkAlert("C", "job", "eval")},
			want:    map[string]int{`{}:{job="train"}`: 2, `{}:{job="eval"}`: 1},
		},
		{
			name:    "group by every label",
			groupBy: []string{"..."},
			alerts:  []*alert{mkAlert("A", "run", "a"), mkAlert("A", "run", "b")},
			want:    map[string]int{`{}:{alertname="A", run="a"}`: 1, `{}:{alertname="A", run="b"}`: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook := newHookServer(t)
			route := routeOpts{groupBy: tc.groupBy, all: len(tc.groupBy) == 1 && tc.groupBy[0] == "...",
				wait: 100 * time.Millisecond, interval: 100 * time.Millisecond, repeat: time.Hour}
			d := testDispatcher(t, route, nil, true, hook)
			for _, a := range tc.alerts {
				d.add(a) // one by one, as the rules send them
			}
			waitFor(t, 3*time.Second, "the notifications", func() bool { return hook.count() >= len(tc.want) })
			time.Sleep(300 * time.Millisecond) // three group intervals: nothing more
			msgs := hook.messages(t)
			if len(msgs) != len(tc.want) {
				t.Fatalf("%d notifications, want %d: %+v", len(msgs), len(tc.want), msgs)
			}
			for _, m := range msgs {
				n, ok := tc.want[m.GroupKey]
				if !ok || len(m.Alerts) != n || m.Status != "firing" {
					t.Errorf("notification %s with %d alerts (%s); want %v", m.GroupKey, len(m.Alerts), m.Status, tc.want)
				}
			}
		})
	}
}

func TestDispatcherRepeatInterval(t *testing.T) {
	hook := newHookServer(t)
	d := testDispatcher(t, routeOpts{wait: 50 * time.Millisecond, interval: 100 * time.Millisecond, repeat: 500 * time.Millisecond}, nil, true, hook)
	d.add(mkAlert("A"))
	time.Sleep(1300 * time.Millisecond)
	hook.mu.Lock()
	times := append([]time.Time(nil), hook.times...)
	hook.mu.Unlock()
	// Sent at about 50ms, 550-650ms and 1050-1250ms: never at every group
	// interval, and again once the repeat interval passed.
	if len(times) < 2 || len(times) > 3 {
		t.Fatalf("%d notifications in 1.3s with repeat_interval 500ms, want 2 or 3", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 450*time.Millisecond {
			t.Errorf("notification %d came %s after the previous; repeat_interval is 500ms", i, gap)
		}
	}
}

func TestDispatcherResolved(t *testing.T) {
	for _, sendResolved := range []bool{true, false} {
		t.Run("send_resolved="+map[bool]string{true: "true", false: "false"}[sendResolved], func(t *testing.T) {
			hook := newHookServer(t)
			d := testDispatcher(t, routeOpts{wait: 50 * time.Millisecond, interval: 100 * time.Millisecond, repeat: time.Hour}, nil, sendResolved, hook)
			a, b := mkAlert("A", "run", "a"), mkAlert("A", "run", "b")
			d.add(a)
			waitFor(t, 3*time.Second, "the firing notification", func() bool { return hook.count() == 1 })
			// A new alert in the group comes with the next group interval.
			d.add(b)
			waitFor(t, 3*time.Second, "the notification of the second alert", func() bool { return hook.count() == 2 })
			if m := hook.messages(t)[1]; len(m.Alerts) != 2 || m.Status != "firing" {
				t.Fatalf("second notification: %+v", m)
			}
			d.add(resolvedNow(a))
			if sendResolved {
				waitFor(t, 3*time.Second, "the partial resolution", func() bool { return hook.count() == 3 })
				m := hook.messages(t)[2]
				if m.Status != "firing" || len(m.Alerts) != 2 || m.Alerts[0].Status != "firing" || m.Alerts[1].Status != "resolved" ||
					m.Alerts[1].Labels["run"] != "a" || m.Alerts[1].EndsAt.IsZero() || !m.Alerts[0].EndsAt.IsZero() {
					t.Fatalf("partial resolution: %+v", m)
				}
			}
			d.add(resolvedNow(b))
			want := 4
			if !sendResolved {
				want = 2
			}
			waitFor(t, 3*time.Second, "the group to be forgotten", func() bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				return len(d.groups) == 0
			})
			if sendResolved {
				if msgs := hook.messages(t); len(msgs) != want || msgs[3].Status != "resolved" || len(msgs[3].Alerts) != 1 {
					t.Fatalf("want a last, resolved notification; got %+v", msgs)
				}
			}
			// The rules resend resolved alerts for a while: no more messages.
			d.add(resolvedNow(a), resolvedNow(b))
			time.Sleep(300 * time.Millisecond)
			if n := hook.count(); n != want {
				t.Fatalf("%d notifications, want %d", n, want)
			}
		})
	}
}

func TestDispatcherRetry(t *testing.T) {
	logger, logs := logBuffer()
	hook := newHookServer(t)
	hook.fail(2, http.StatusServiceUnavailable)
	d := testDispatcher(t, routeOpts{wait: 50 * time.Millisecond, interval: time.Second, repeat: time.Hour}, logger, true, hook)
	d.add(mkAlert("A"))
	r := d.receivers[0]
	// The hook counts the delivery before the dispatcher has read the
	// answer: wait for the dispatcher's own accounting too.
	waitFor(t, 3*time.Second, "delivery after two failures", func() bool {
		return hook.count() == 1 && r.sent.Load() == 1 && logs.Count("notifications are delivered again") == 1
	})
	if r.sent.Load() != 1 || r.failed.Load() != 2 || r.dropped.Load() != 0 {
		t.Errorf("sent %d failed %d dropped %d, want 1 2 0", r.sent.Load(), r.failed.Load(), r.dropped.Load())
	}
	if n := logs.Count("sending notification failed"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "503 Service Unavailable: boom") || logs.Count("notifications are delivered again") != 1 {
		t.Errorf("log:\n%s", logs)
	}

	// A permanent error (4xx) is not retried within the flush, but the
	// next group interval tries again.
	hook2 := newHookServer(t)
	hook2.fail(1, http.StatusBadRequest)
	d2 := testDispatcher(t, routeOpts{wait: 50 * time.Millisecond, interval: 300 * time.Millisecond, repeat: time.Hour}, nil, true, hook2)
	d2.add(mkAlert("A"))
	waitFor(t, 3*time.Second, "the first attempt", func() bool { return hook2.requestCount() == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := hook2.requestCount(); n != 1 {
		t.Errorf("a 400 was retried at once (%d requests)", n)
	}
	r2 := d2.receivers[0]
	waitFor(t, 3*time.Second, "delivery at the next group interval", func() bool { return hook2.count() == 1 && r2.sent.Load() == 1 })
	if r2.failed.Load() != 1 || r2.dropped.Load() != 1 || r2.sent.Load() != 1 {
		t.Errorf("sent %d failed %d dropped %d, want 1 1 1", r2.sent.Load(), r2.failed.Load(), r2.dropped.Load())
	}
}

// TestDispatcherFailingReceiverIsolated: a receiver that keeps failing is
// retried every group interval without making the healthy one repeat.
func TestDispatcherFailingReceiverIsolated(t *testing.T) {
	good, bad := newHookServer(t), newHookServer(t)
	bad.fail(1<<30, http.StatusInternalServerError)
	d := testDispatcher(t, routeOpts{wait: 50 * time.Millisecond, interval: 200 * time.Millisecond, repeat: time.Hour}, nil, true, good, bad)
	d.add(mkAlert("A"))
	rb := d.receivers[1]
	waitFor(t, 5*time.Second, "the failing receiver retried over several group intervals", func() bool {
		return rb.dropped.Load() >= 2 && rb.failed.Load() >= 4
	})
	if n := good.count(); n != 1 {
		t.Errorf("the healthy receiver got %d notifications, want 1", n)
	}
	if rb.dropped.Load() < 2 || rb.failed.Load() < 4 || rb.sent.Load() != 0 {
		t.Errorf("failing receiver: sent %d failed %d dropped %d", rb.sent.Load(), rb.failed.Load(), rb.dropped.Load())
	}
}

// TestWebhookThroughRules sends alerts from real rules over a real store to
// a built-in webhook receiver, and checks every field of the payload.
func TestWebhookThroughRules(t *testing.T) {
	e := newEnv(t, "")
	hook := newHookServer(t)
	path := writeFile(t, t.TempDir(), "rules.yml", nanRule)
	cfg := fastConfig(path)
	cfg.ExternalLabels = map[string]string{"cluster": "lab"}
	cfg.Route.GroupWait = model.Duration(300 * time.Millisecond)
	cfg.Route.GroupInterval = model.Duration(300 * time.Millisecond)
	cfg.Receivers = []ReceiverConfig{{Name: "hook", Webhook: &WebhookConfig{URL: hook.URL}}}
	m := e.start(t, Options{Config: cfg, ExternalURL: "http://agent.example:9835/"})
	now := time.Now()
	e.add(t, "training_loss", math.NaN(), now, "run", "a")
	e.add(t, "training_loss", math.NaN(), now, "run", "b")
	waitFor(t, 5*time.Second, "the firing notification", func() bool { return hook.count() >= 1 })

	msg := hook.messages(t)[0]
	gen := "http://agent.example:9835/api/v1/query?query=" + url.QueryEscape("training_loss != training_loss")
	if msg.Version != "4" || msg.GroupKey != `{}:{alertname="TrainingLossNaN"}` || msg.Status != "firing" || msg.Receiver != "hook" ||
		msg.ExternalURL != "http://agent.example:9835" || msg.TruncatedAlerts != 0 {
		t.Errorf("envelope: %+v", msg)
	}
	if want := map[string]string{"alertname": "TrainingLossNaN"}; !mapsEqual(msg.GroupLabels, want) {
		t.Errorf("groupLabels %v", msg.GroupLabels)
	}
	wantCommon := map[string]string{"alertname": "TrainingLossNaN", "cluster": "lab", "instance": testInstance, "job": "trainwatch", "severity": "critical"}
	if !mapsEqual(msg.CommonLabels, wantCommon) {
		t.Errorf("commonLabels %v, want %v", msg.CommonLabels, wantCommon)
	}
	if len(msg.CommonAnnotations) != 0 {
		t.Errorf("commonAnnotations %v, want none (the summaries differ)", msg.CommonAnnotations)
	}
	if len(msg.Alerts) != 2 {
		t.Fatalf("%d alerts, want 2 in one notification", len(msg.Alerts))
	}
	for i, run := range []string{"a", "b"} {
		a := msg.Alerts[i]
		wantLabels := map[string]string{"alertname": "TrainingLossNaN", "cluster": "lab", "instance": testInstance, "job": "trainwatch", "severity": "critical", "run": run}
		if a.Status != "firing" || !mapsEqual(a.Labels, wantLabels) || a.Annotations["summary"] != "training loss of "+run+" is NaN" ||
			a.GeneratorURL != gen || !a.EndsAt.IsZero() || time.Since(a.StartsAt) > 10*time.Second || a.StartsAt.After(time.Now()) {
			t.Errorf("alert %d: %+v", i, a)
		}
		ls := model.LabelSet{"alertname": "TrainingLossNaN", "cluster": "lab", "instance": testInstance, "job": "trainwatch", "severity": "critical", "run": model.LabelValue(run)}
		if want := ls.Fingerprint().String(); a.Fingerprint != want || len(a.Fingerprint) != 16 {
			t.Errorf("alert %d fingerprint %q, want %q", i, a.Fingerprint, want)
		}
	}

	e.add(t, "training_loss", 0.5, time.Now(), "run", "a")
	e.add(t, "training_loss", 0.5, time.Now(), "run", "b")
	waitFor(t, 5*time.Second, "the resolution", func() bool {
		msgs := hook.messages(t)
		return msgs[len(msgs)-1].Status == "resolved"
	})
	msgs := hook.messages(t)
	last := msgs[len(msgs)-1]
	for _, a := range last.Alerts {
		if a.Status != "resolved" || a.EndsAt.IsZero() || a.EndsAt.Before(a.StartsAt) {
			t.Errorf("resolved alert: %+v", a)
		}
	}
	if c := collect(t, m); c["trainwatch_notifications_sent_total"]["hook"] != float64(len(msgs)) {
		t.Errorf("trainwatch_notifications_sent_total{receiver=hook} %v, want %d", c["trainwatch_notifications_sent_total"], len(msgs))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestSlack(t *testing.T) {
	for _, blocks := range []bool{false, true} {
		t.Run(map[bool]string{false: "text", true: "blocks"}[blocks], func(t *testing.T) {
			var mu sync.Mutex
			var got []slackMessage
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var m slackMessage
				if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				got = append(got, m)
				mu.Unlock()
				_, _ = io.WriteString(w, "ok")
			}))
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			r := &receiver{name: "chat", kind: "slack", sendResolved: true, logger: slog.New(slog.DiscardHandler),
				integ: &slack{url: srv.URL + "/services/T/B/SECRET", blocks: blocks, client: srv.Client()}}
			d := newDispatcher(ctx, routeOpts{groupBy: []string{"alertname"}, wait: 50 * time.Millisecond, interval: 100 * time.Millisecond, repeat: time.Hour},
				[]*receiver{r}, "", 10*time.Millisecond, 10*time.Millisecond, slog.New(slog.DiscardHandler))
			defer func() { cancel(); d.wait() }()
			a := mkAlert("GPUTooHot", "gpu", "0", "instance", "node1")
			a.Annotations = labels.FromStrings("summary", "GPU 0 <hot> & loud")
			a.Value = 93
			b := mkAlert("GPUTooHot", "gpu", "1", "instance", "node1")
			d.add(a, b)
			waitFor(t, 3*time.Second, "the Slack message", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
			d.add(resolvedNow(a))
			waitFor(t, 3*time.Second, "the second Slack message", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
			mu.Lock()
			defer mu.Unlock()
			text := got[0].Text
			for _, want := range []string{
				"*[FIRING:2] GPUTooHot (node1)*",
				"*Firing:*",
				"• *GPUTooHot*: GPU 0 &lt;hot&gt; &amp; loud",
				"gpu=0, instance=node1 · value 93 · since ",
				"• *GPUTooHot*: GPUTooHot is happening",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("text\n%s\nlacks %q", text, want)
				}
			}
			if !strings.Contains(got[1].Text, "*Resolved:*\n• *GPUTooHot*: GPU 0 &lt;hot&gt;") || !strings.Contains(got[1].Text, "resolved 20") {
				t.Errorf("second text:\n%s", got[1].Text)
			}
			if blocks != (len(got[0].Blocks) == 3) {
				t.Errorf("blocks: %+v", got[0].Blocks)
			}
		})
	}
}

// TestSlackURLNotLogged: the URL of an incoming webhook is a secret.
func TestSlackURLNotLogged(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/services/T/B/SECRET"
	srv.Close() // connection refused
	s := &slack{url: u, client: http.DefaultClient}
	err := s.send(context.Background(), newMessage("chat", "{}:{}", labels.EmptyLabels(), "", []*alert{mkAlert("A")}, time.Now()))
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error %v: want one without the URL", err)
	}
}

// TestDispatcherOldAlertFlushesAtOnce: an alert that started longer than
// group_wait ago is notified at once (as Alertmanager does), with the rest
// of its batch.
func TestDispatcherOldAlertFlushesAtOnce(t *testing.T) {
	hook := newHookServer(t)
	d := testDispatcher(t, routeOpts{wait: 10 * time.Second, interval: time.Hour, repeat: time.Hour}, nil, true, hook)
	a, b := mkAlert("A", "run", "a"), mkAlert("A", "run", "b")
	a.StartsAt = time.Now().Add(-time.Minute)
	d.add(a, b)
	waitFor(t, 3*time.Second, "the notification", func() bool { return hook.count() == 1 })
	if m := hook.messages(t)[0]; len(m.Alerts) != 2 {
		t.Errorf("%d alerts, want the whole batch", len(m.Alerts))
	}
}
