package remotewrite

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/collectortest"
	"github.com/trainwatch/trainwatch/internal/exposition"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// TestSendExactlyOnce enqueues ticks while the sender runs: every sample
// arrives once, in order, with the external labels, in requests of at
// most max_samples_per_send samples (records are split when needed).
func TestSendExactlyOnce(t *testing.T) {
	tests := []struct {
		name      string
		series    int
		ticks     int
		maxPerReq int
		ext       map[string]string
	}{
		{"default batch", 20, 50, 0, nil},
		{"records split across requests", 10, 30, 7, nil},
		{"records merged into requests", 3, 100, 50, nil},
		{"external labels", 6, 10, 0, map[string]string{"cluster": "gpu-a", "job": "not-this"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, _ := newLogger(t)
			rcv := newReceiver(t, nil)
			cfg := testConfig(rcv.srv.URL)
			cfg.ExternalLabels = tt.ext
			cfg.Queue.MaxSamplesPerSend = tt.maxPerReq
			w, err := Open(cfg, t.TempDir(), logger)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			startRun(t, w)
			tk := newTicker(tt.series)
			for i := range tt.ticks {
				w.Enqueue(tk.tick(int64(1000 * (i + 1))))
				if i%7 == 0 {
					time.Sleep(time.Millisecond) // let some requests go out alone
				}
			}
			drained(t, w, 10*time.Second)
			if err := sameSamples(tk.want(tt.ext, 0), rcv.samples()); err != nil {
				t.Fatal(err)
			}
			st := w.Stats()
			n := uint64(tt.series * tt.ticks)
			if st.SamplesEnqueued != n || st.SamplesSent != n || st.PendingRecords != 0 || !st.OldestPending.IsZero() || st.LastSend.IsZero() {
				t.Errorf("stats %+v, want %d enqueued and sent", st, n)
			}
			if tt.maxPerReq > 0 && rcv.maxReq > tt.maxPerReq {
				t.Errorf("a request held %d samples, more than max_samples_per_send %d", rcv.maxReq, tt.maxPerReq)
			}
		})
	}
}

// TestRetryUntilReceiverIsBack makes the receiver fail for a while (503,
// then 429, then 502): nothing is lost or duplicated, failed attempts are
// counted, and the outage is logged once when it starts and once when it
// ends.
func TestRetryUntilReceiverIsBack(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	rcv := newReceiver(t, func(n int) int {
		if !down.Load() {
			return 204
		}
		return []int{503, 429, 502}[n%3]
	})
	logger, logs := newLogger(t)
	w, err := Open(testConfig(rcv.srv.URL), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	startRun(t, w)
	tk := newTicker(8)
	for i := range 20 {
		w.Enqueue(tk.tick(int64(i)))
	}
	waitFor(t, 5*time.Second, "10 failed sends", func() bool { return w.Stats().FailedSends >= 10 })
	if st := w.Stats(); st.PendingSamples != 160 || st.SamplesSent != 0 || st.OldestPending.IsZero() {
		t.Errorf("during the outage: %+v", st)
	}
	down.Store(false)
	for i := 20; i < 30; i++ {
		w.Enqueue(tk.tick(int64(i)))
	}
	drained(t, w, 5*time.Second)
	if err := sameSamples(tk.want(nil, 0), rcv.samples()); err != nil {
		t.Fatal(err)
	}
	l := logs.String()
	if strings.Count(l, "cannot send to the receiver") != 1 || strings.Count(l, "accepts samples again") != 1 {
		t.Errorf("want one outage start and one end in the log:\n%s", l)
	}
}

// TestRefused400IsDropped: a request refused with 400 is not retried; its
// samples are counted as dropped and later requests go through.
func TestRefused400IsDropped(t *testing.T) {
	rcv := newReceiver(t, func(n int) int {
		if n == 2 {
			return 400
		}
		return 200
	})
	logger, logs := newLogger(t)
	w, err := Open(testConfig(rcv.srv.URL), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	startRun(t, w)
	tk := newTicker(5)
	for i := range 3 {
		w.Enqueue(tk.tick(int64(i)))
		drained(t, w, 5*time.Second) // one request per tick
	}
	st := w.Stats()
	if st.SamplesDropped4xx != 5 || st.SamplesSent != 10 || st.FailedSends != 0 {
		t.Errorf("stats %+v, want 5 dropped and 10 sent", st)
	}
	want := tk.want(nil, 0)
	for k, v := range want {
		want[k] = []point{v[0], v[2]}
	}
	if err := sameSamples(want, rcv.samples()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "refused a request") {
		t.Errorf("refusal not logged:\n%s", logs)
	}
}

// TestRestartSendsUnsent closes the Writer while the receiver has taken
// only part of the queue (the cursor may stop mid-record), opens it again
// on the same directory, and checks that the rest is sent once.
func TestRestartSendsUnsent(t *testing.T) {
	const series, ticks = 6, 25
	tests := []struct {
		name      string
		maxPerReq int
		accepted  int // requests the first receiver takes
	}{
		{"mid-record", 7, 4},
		{"in the first record", 3, 1},
		{"on a record boundary", 6, 2},
		{"nothing sent", 5, 0},
		{"all sent", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The first receiver takes some requests, then fails; after
			// the restart a second one takes the rest. (Two receivers, so
			// that a request the first one is still handling when the
			// sender gives up cannot be accepted late.)
			rcv := newReceiver(t, func(n int) int {
				if n <= tt.accepted {
					return 200
				}
				return 503
			})
			rcv2 := newReceiver(t, nil)
			dir := t.TempDir()
			logger, _ := newLogger(t)
			cfg := testConfig(rcv.srv.URL)
			cfg.Queue.MaxSamplesPerSend = tt.maxPerReq
			w, err := Open(cfg, dir, logger)
			if err != nil {
				t.Fatal(err)
			}
			tk := newTicker(series)
			for i := range ticks {
				w.Enqueue(tk.tick(int64(1000 * (i + 1))))
			}
			stop := startRun(t, w)
			sentBefore := min(series*ticks, tt.accepted*cfg.Queue.MaxSamplesPerSend)
			if tt.maxPerReq == 0 {
				sentBefore = series * ticks
				drained(t, w, 5*time.Second)
			} else {
				waitFor(t, 5*time.Second, "the receiver to fail", func() bool { return w.Stats().FailedSends > 0 })
			}
			stop()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := rcv.total(); got != sentBefore {
				t.Fatalf("received %d samples before the restart, want %d", got, sentBefore)
			}

			cfg.URL = rcv2.srv.URL
			w, err = Open(cfg, dir, logger)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			pending := series*ticks - sentBefore
			wantRecords := ticks - sentBefore/series
			if st := w.Stats(); st.PendingSamples != int64(pending) || st.PendingRecords != int64(wantRecords) {
				t.Errorf("after reopening: %+v, want %d samples and %d records pending", st, pending, wantRecords)
			}
			if st := w.Stats(); pending > 0 && st.OldestPending.UnixMilli() != int64(1000*(sentBefore/series+1)) {
				t.Errorf("oldest pending sample at %d, want %d", st.OldestPending.UnixMilli(), 1000*(sentBefore/series+1))
			}
			startRun(t, w)
			w.Enqueue(tk.tick(1_000_000))
			drained(t, w, 5*time.Second)
			if err := sameSamples(tk.want(nil, 0), merge(rcv.samples(), rcv2.samples())); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAuthAndHeaders checks the Authorization header of each kind of
// credentials (files re-read on every request) and extra headers.
func TestAuthAndHeaders(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	tokFile := filepath.Join(dir, "tok")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokFile, []byte("tok-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"none", func(c *Config) {}, ""},
		{"basic", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "alice", Password: "s3cret"} }, basic},
		{"basic from file", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "alice", PasswordFile: pwFile} }, basic},
		{"bearer", func(c *Config) { c.BearerToken = "tok" }, "Bearer tok"},
		{"bearer from file", func(c *Config) { c.BearerTokenFile = tokFile }, "Bearer tok-from-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, nil)
			cfg := testConfig(rcv.srv.URL)
			cfg.Headers = map[string]string{"X-Scope-OrgID": "team1"}
			tt.modify(&cfg)
			w, err := Open(cfg, t.TempDir(), nil, WithVersion("1.2.3"))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			startRun(t, w)
			w.Enqueue(newTicker(1).tick(1))
			drained(t, w, 5*time.Second)
			rcv.mu.Lock()
			h := rcv.hdrs
			rcv.mu.Unlock()
			if h.Get("Authorization") != tt.want || h.Get("X-Scope-OrgID") != "team1" || h.Get("User-Agent") != "trainwatch/1.2.3" {
				t.Errorf("headers %v", h)
			}
		})
	}
	cfg := testConfig("http://127.0.0.1:1/")
	cfg.BearerTokenFile = filepath.Join(dir, "missing")
	if _, err := Open(cfg, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "bearer_token_file") {
		t.Errorf("missing token file: got %v", err)
	}
}

// TestOpenErrors checks invalid configurations and a queue directory held
// by another Writer.
func TestOpenErrors(t *testing.T) {
	if _, err := Open(Config{URL: "ftp://x"}, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "not an http or https URL") {
		t.Errorf("bad URL: got %v", err)
	}
	dir := t.TempDir()
	w, err := Open(testConfig("http://127.0.0.1:1/"), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Open(testConfig("http://127.0.0.1:1/"), dir, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second Open of one directory: got %v", err)
	}
}

// TestCloseStopsRun: Close returns while Run is blocked retrying, and Run
// returns too; Enqueue after Close is ignored.
func TestCloseStopsRun(t *testing.T) {
	rcv := newReceiver(t, func(int) int { return 503 })
	w, err := Open(testConfig(rcv.srv.URL), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.Run(context.Background()); close(done) }()
	w.Enqueue(newTicker(2).tick(1))
	waitFor(t, 5*time.Second, "a failed send", func() bool { return w.Stats().FailedSends > 0 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	w.Enqueue(newTicker(2).tick(2))
	if st := w.Stats(); st.SamplesEnqueued != 2 {
		t.Errorf("Enqueue after Close counted: %+v", st)
	}
}

// TestCollect checks the self-metrics' values and that promtool accepts
// them.
func TestCollect(t *testing.T) {
	rcv := newReceiver(t, nil)
	w, err := Open(testConfig(rcv.srv.URL), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var c collector.Collector = w
	if c.Name() != "remote_write_test" {
		t.Errorf("Name() = %q", c.Name())
	}
	w.Enqueue(newTicker(4).tick(time.Now().Add(-time.Minute).UnixMilli()))
	fams := collectortest.CollectOK(t, w)
	if v := collectortest.Value(t, fams, "trainwatch_remote_write_pending_samples", "remote", "test"); v != 4 {
		t.Errorf("pending samples %v, want 4", v)
	}
	if v := collectortest.Value(t, fams, "trainwatch_remote_write_lag_seconds", "remote", "test"); v < 59 || v > 120 {
		t.Errorf("lag %v, want about 60", v)
	}
	startRun(t, w)
	drained(t, w, 5*time.Second)
	fams = collectortest.CollectOK(t, w)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"trainwatch_remote_write_samples_total", []string{"remote", "test", "outcome", "sent"}, 4},
		{"trainwatch_remote_write_samples_total", []string{"remote", "test", "outcome", "dropped_4xx"}, 0},
		{"trainwatch_remote_write_samples_total", []string{"remote", "test", "outcome", "dropped_full"}, 0},
		{"trainwatch_remote_write_enqueued_samples_total", []string{"remote", "test"}, 4},
		{"trainwatch_remote_write_failed_sends_total", []string{"remote", "test"}, 0},
		{"trainwatch_remote_write_pending_samples", []string{"remote", "test"}, 0},
		{"trainwatch_remote_write_lag_seconds", []string{"remote", "test"}, 0},
	} {
		if v := collectortest.Value(t, fams, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if v := collectortest.Value(t, fams, "trainwatch_remote_write_last_send_timestamp_seconds", "remote", "test"); time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("last send %v", v)
	}
	text, err := exposition.Text(fams)
	if err != nil {
		t.Fatal(err)
	}
	if problems := testenv.PromtoolCheckMetrics(t, text); len(problems) > 0 {
		t.Errorf("promtool check metrics:\n%s\n%s", strings.Join(problems, "\n"), text)
	}
}
