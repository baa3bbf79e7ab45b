package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// startAgent runs `serve` in-process on a free loopback port and returns its
// base URL once it is ready. It stops when the test ends.
func startAgent(t *testing.T, cfg config.Config) string {
	t.Helper()
	a := startAgentStoppable(t, cfg)
	t.Cleanup(a.stop)
	return a.base
}

// runningAgent is an in-process agent that a test can stop early.
type runningAgent struct {
	base string
	stop func()
}

// startAgentStoppable is startAgent whose stop the caller runs (at most
// once; it also runs when the test ends).
func startAgentStoppable(t *testing.T, cfg config.Config) *runningAgent {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.DataDir == config.Default().DataDir {
		cfg.DataDir = t.TempDir() // never the user's history
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), func(a net.Addr) { addrc <- a })
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v on shutdown", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("serve did not shut down within 10s")
			}
		})
	}
	t.Cleanup(stop)
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("serve failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen within 10s")
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &runningAgent{base: base, stop: stop}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("agent never became ready")
	return nil
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func parseText(t *testing.T, body []byte) map[string]*familyValues {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := make(map[string]*familyValues)
	for name, mf := range mfs {
		fv := &familyValues{}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			fv.series = append(fv.series, series{labels, v})
		}
		out[name] = fv
	}
	return out
}

type series struct {
	labels map[string]string
	value  float64
}

type familyValues struct{ series []series }

func (f *familyValues) find(match map[string]string) (float64, bool) {
	if f == nil {
		return 0, false
	}
outer:
	for _, s := range f.series {
		for k, v := range match {
			if s.labels[k] != v {
				continue outer
			}
		}
		return s.value, true
	}
	return 0, false
}

// procCPUs counts cpuN lines in /proc/stat.
func procCPUs(t *testing.T) int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	return len(regexp.MustCompile(`(?m)^cpu\d+ `).FindAll(b, -1))
}

func memTotalBytes(t *testing.T) float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "MemTotal:") {
			kb, err := strconv.ParseFloat(strings.Fields(sc.Text())[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}

func TestServeLiveMachine(t *testing.T) {
	cfg := config.Default()
	// A collector's deadline is a share of the interval: at 200 ms, a
	// collector of the first tick slowed by the race detector on a busy
	// CI machine missed it, and its success series read 0.
	cfg.Interval = model.Duration(time.Second)
	base := startAgent(t, cfg)

	resp, body := get(t, base+"/metrics", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	fams := parseText(t, body)

	// CPU count matches.
	cpus := map[string]bool{}
	for _, s := range fams["node_cpu_seconds_total"].series {
		cpus[s.labels["cpu"]] = true
	}
	if want := procCPUs(t); len(cpus) != want {
		t.Errorf("node_cpu_seconds_total has %d CPUs, /proc/stat has %d", len(cpus), want)
	}
	// MemTotal matches /proc/meminfo.
	if v, ok := fams["node_memory_MemTotal_bytes"].find(nil); !ok || v != memTotalBytes(t) {
		t.Errorf("node_memory_MemTotal_bytes = %v, want %v", v, memTotalBytes(t))
	}
	avail, _ := fams["node_memory_MemAvailable_bytes"].find(nil)
	if avail <= 0 || avail > memTotalBytes(t) {
		t.Errorf("MemAvailable %v not in (0, MemTotal]", avail)
	}
	// The root filesystem is present with a sane size.
	size, ok := fams["node_filesystem_size_bytes"].find(map[string]string{"mountpoint": "/"})
	if !ok || size <= 0 {
		t.Errorf("root filesystem size = %v, %v", size, ok)
	}
	if av, _ := fams["node_filesystem_avail_bytes"].find(map[string]string{"mountpoint": "/"}); av > size {
		t.Errorf("root avail %v > size %v", av, size)
	}
	// Loopback is present.
	if _, ok := fams["node_network_receive_bytes_total"].find(map[string]string{"device": "lo"}); !ok {
		t.Error("no node_network_receive_bytes_total{device=\"lo\"}")
	}
	if l, ok := fams["node_load1"].find(nil); !ok || l < 0 {
		t.Errorf("node_load1 = %v, %v", l, ok)
	}
	if _, ok := fams["node_uname_info"].find(nil); !ok {
		t.Error("no node_uname_info")
	}
	if v, ok := fams["trainwatch_collector_success"].find(map[string]string{"collector": "meminfo"}); !ok || v != 1 {
		t.Errorf("meminfo collector success = %v, %v", v, ok)
	}
	if _, ok := fams["process_resident_memory_bytes"].find(nil); !ok {
		t.Error("no process_resident_memory_bytes self-metric")
	}
	if _, ok := fams["go_goroutines"].find(nil); !ok {
		t.Error("no go_goroutines self-metric")
	}

	// promtool agrees the exposition is clean.
	if problems := testenv.PromtoolCheckMetrics(t, body); len(problems) > 0 {
		t.Errorf("promtool check metrics:\n%s", strings.Join(problems, "\n"))
	}
}

func TestServeNegotiatesAndCompresses(t *testing.T) {
	cfg := config.Default()
	base := startAgent(t, cfg)

	resp, body := get(t, base+"/metrics", map[string]string{"Accept": "application/openmetrics-text;version=1.0.0"})
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") {
		t.Fatalf("OpenMetrics not negotiated: %q", resp.Header.Get("Content-Type"))
	}
	if !bytes.HasSuffix(body, []byte("# EOF\n")) {
		t.Fatal("OpenMetrics body does not end with # EOF")
	}
	resp, body = get(t, base+"/metrics", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("gzip not applied")
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte("node_memory_MemTotal_bytes")) {
		t.Fatal("gzip body lacks node_memory_MemTotal_bytes")
	}

	resp, body = get(t, base+"/api/v1/snapshot", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/api/v1/snapshot: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("snapshot is not JSON: %v", err)
	}
	if _, ok := doc["memory"]; !ok {
		t.Fatalf("snapshot lacks memory: %s", body)
	}
	resp, _ = get(t, base+"/-/healthy", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/-/healthy: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/metrics", nil)
	pr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	if pr.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /metrics: %d, want 405", pr.StatusCode)
	}
}

func TestDemoIsMarkedEverywhere(t *testing.T) {
	cfg := config.Default()
	cfg.Demo = true
	base := startAgent(t, cfg)
	_, body := get(t, base+"/metrics", nil)
	fams := parseText(t, body)
	if v, ok := fams["trainwatch_demo"].find(nil); !ok || v != 1 {
		t.Fatal("no trainwatch_demo 1 in /metrics")
	}
	if n := len(fams["DCGM_FI_DEV_GPU_UTIL"].series); n != 8 {
		t.Fatalf("%d simulated GPUs, want 8", n)
	}
	// The dashboard draws its banner from its config (TestDashboardInBrowser
	// sees it on the page).
	_, uicfg := get(t, base+"/api/ui/config", nil)
	if !strings.Contains(string(uicfg), `"demo":true`) {
		t.Errorf("dashboard config lacks demo: true: %s", uicfg)
	}
	out, errOut, code := runCLI(t, context.Background(), "summary", "--url", base, "--color", "never")
	if code != 0 || !strings.HasPrefix(out, "DEMO MODE") {
		t.Errorf("summary of a demo agent does not start with the banner (exit %d, %s):\n%s", code, errOut, out)
	}
	_, snap := get(t, base+"/api/v1/snapshot", nil)
	if !strings.Contains(string(snap), `"demo":true`) {
		t.Error("snapshot JSON lacks demo: true")
	}
	// The simulated training run, marked as simulated.
	_, run := get(t, base+"/api/v1/runs/"+demoRunID, nil)
	if !strings.Contains(string(run), "(simulated)") || !strings.Contains(string(run), `"demo"`) {
		t.Errorf("demo run: %s", run)
	}
}

// TestServeRequestDurationHistogram: the agent's own request durations are
// on /metrics, with history and without (the two ways serve builds its
// collectors), once a tick has passed after the requests.
func TestServeRequestDurationHistogram(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noHistory bool
	}{
		{"history", false},
		{"no-history", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Interval = model.Duration(200 * time.Millisecond)
			cfg.Storage.Disable = tc.noHistory
			base := startAgent(t, cfg)
			get(t, base+"/-/healthy", nil)
			var count uint64
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, body := get(t, base+"/metrics", nil)
				mf := parseFamilies(t, body)["trainwatch_http_request_duration_seconds"]
				count = 0
				healthy := false
				for _, m := range mf.GetMetric() {
					labels := map[string]string{}
					for _, lp := range m.GetLabel() {
						labels[lp.GetName()] = lp.GetValue()
					}
					switch {
					case labels["handler"] == "/metrics" && labels["code"] == "200":
						count = m.GetHistogram().GetSampleCount()
					case labels["handler"] == "/-/healthy" && labels["code"] == "200":
						healthy = true
					}
				}
				if count >= 2 && healthy {
					if mf.GetType().String() != "HISTOGRAM" {
						t.Errorf("type %s", mf.GetType())
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 10 s of scrapes: /metrics 200 counted %d times, /-/healthy 200 seen: %v", count, healthy)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
