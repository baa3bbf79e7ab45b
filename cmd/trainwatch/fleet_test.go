package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
	"github.com/trainwatch/trainwatch/internal/ui"
)

// TestFleetView: a real Prometheus scrapes a --demo agent; a second agent,
// configured with that Prometheus as its fleet server, lists the first as
// a host, streams its snapshots (its eight simulated GPUs) and forwards
// read-only queries, and refuses anything else.
func TestFleetView(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two agents and Prometheus")
	}
	demo := config.Default()
	demo.Demo = true
	demo.Interval = model.Duration(time.Second)
	demoBase := startAgent(t, demo)
	target := strings.TrimPrefix(demoBase, "http://")
	prom := testenv.StartPrometheus(t, "trainwatch", time.Second, target)
	prom.WaitForSeries(t, `DCGM_FI_DEV_GPU_UTIL{instance="`+target+`"}`, 30*time.Second)
	time.Sleep(2 * time.Second) // two scrapes, for rates

	central := config.Default()
	central.Interval = model.Duration(time.Second)
	central.UI.Fleet = ui.Fleet{URL: prom.URL, Refresh: model.Duration(time.Second)}
	base := startAgent(t, central)

	var cfg ui.Info
	getJSON(t, base+"/api/ui/config", &cfg)
	if !cfg.Fleet.Enabled || cfg.Fleet.URL != prom.URL {
		t.Errorf("config.fleet = %+v", cfg.Fleet)
	}

	var hosts struct {
		Hosts []ui.Host `json:"hosts"`
	}
	getJSON(t, base+"/api/ui/fleet/hosts", &hosts)
	found := false
	for _, h := range hosts.Hosts {
		if h.Instance == target && h.Up && h.Job == "trainwatch" {
			found = true
		}
	}
	if !found {
		t.Fatalf("hosts %+v: %s missing", hosts.Hosts, target)
	}

	// The demo host's snapshot, read from Prometheus.
	p := firstFleetSnapshot(t, base+"/api/ui/events?instance="+url.QueryEscape(target))
	if p.Instance != target || len(p.Host.GPUs) != 8 || p.Host.GPUs[0].UtilizationPercent == nil {
		t.Fatalf("fleet snapshot: instance %q, %d GPUs", p.Instance, len(p.Host.GPUs))
	}
	if !p.Host.Demo || p.Host.CPU.Count == 0 || p.Host.Memory.TotalBytes == 0 {
		t.Errorf("fleet snapshot host: demo %v, %d CPUs, %d bytes of memory", p.Host.Demo, p.Host.CPU.Count, p.Host.Memory.TotalBytes)
	}

	// In the browser: the host picker lists the demo host, and picking it
	// shows its eight GPUs on this agent's dashboard.
	t.Run("browser", func(t *testing.T) {
		b := newBrowser(t)
		b.openPage(t, base, "overview", "overview")
		opts, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#host-picker option")).map(o => o.value)`))
		if err != nil || !slices.Contains(opts, target) {
			t.Fatalf("host picker options %v (%v), want %s among them", opts, err, target)
		}
		b.openPage(t, base, "overview?host="+url.QueryEscape(target), "overview")
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-live$="-power"][data-live^="gpu-"]').length`))
			if err != nil {
				t.Fatal(err)
			}
			if n == 8 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d GPU cards for the fleet host, want 8", n)
			}
			time.Sleep(200 * time.Millisecond)
		}
		b.charts(t, 2, "cpu")
		b.screenshot(t, "fleet")
		if errs := b.takeErrors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	// Read-only queries are forwarded; nothing else is.
	q := url.Values{"query": {`DCGM_FI_DEV_GPU_UTIL{instance="` + target + `"}`}, "start": {strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}, "end": {strconv.FormatInt(time.Now().Unix(), 10)}, "step": {"1"}}
	var qr struct {
		Status string `json:"status"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	getJSON(t, base+"/api/ui/fleet/api/v1/query_range?"+q.Encode(), &qr)
	if qr.Status != "success" || len(qr.Data.Result) != 8 {
		t.Errorf("forwarded query_range: %s, %d series", qr.Status, len(qr.Data.Result))
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/api/ui/fleet/api/v1/admin/tsdb/delete_series?match[]=up", http.StatusForbidden},
		{"PUT", "/api/ui/fleet/api/v1/query?query=up", http.StatusMethodNotAllowed},
		{"GET", "/api/ui/fleet/api/v1/status/config", http.StatusForbidden},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || !strings.Contains(string(b), "error") {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, b, c.want)
		}
	}

	// A host the fleet server does not know gets a problem event, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/ui/events?instance=nowhere:1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: problem" {
			sc.Scan()
			if !strings.Contains(sc.Text(), "no recent series") {
				t.Errorf("problem: %s", sc.Text())
			}
			return
		}
	}
	t.Errorf("no problem event for an unknown host: %v", sc.Err())
}

func firstFleetSnapshot(t *testing.T, u string) ui.Payload {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			event = strings.TrimPrefix(line, "event: ")
			continue
		}
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		if event != "snapshot" {
			t.Fatalf("%s: %s", event, line)
		}
		var p ui.Payload
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Fatalf("no snapshot event: %v", sc.Err())
	return ui.Payload{}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
}
