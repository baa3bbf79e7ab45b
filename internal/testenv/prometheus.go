package testenv

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Prometheus is a real Prometheus server started for a test.
type Prometheus struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string

	t    testing.TB
	bin  string
	args []string
	log  string
	cmd  *exec.Cmd
	logf *os.File
}

// FreePort returns a free TCP port on the loopback interface.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartPrometheus starts the Debian prometheus binary scraping the given
// host:port targets every interval under job name job, and waits until it
// is ready. It is stopped when the test ends.
func StartPrometheus(t testing.TB, job string, interval time.Duration, targets ...string) *Prometheus {
	t.Helper()
	var quoted []string
	for _, tg := range targets {
		quoted = append(quoted, fmt.Sprintf("%q", tg))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: %q
    scrape_interval: %s
    static_configs:
      - targets: [%s]
`, interval, interval, job, interval, strings.Join(quoted, ", "))
	return StartPrometheusWith(t, PrometheusOptions{Config: cfg})
}

// PrometheusOptions configures StartPrometheusWith.
type PrometheusOptions struct {
	// Config is the prometheus.yml text; empty means an empty configuration.
	Config string
	// DataDir is --storage.tsdb.path; empty means a fresh temporary one.
	DataDir string
	// Flags are extra command-line flags, such as
	// --web.enable-remote-write-receiver.
	Flags []string
}

// StartPrometheusWith starts the Debian prometheus binary with the given
// configuration, data directory and flags on a free loopback port, and waits
// until it is ready. It is stopped when the test ends; Stop and Start restart
// it on the same port and data directory.
func StartPrometheusWith(t testing.TB, o PrometheusOptions) *Prometheus {
	t.Helper()
	return StartPrometheusListening(t, o, "127.0.0.1")
}

// Start starts a stopped Prometheus again and waits until it is ready.
func (p *Prometheus) Start() {
	p.t.Helper()
	if p.cmd != nil {
		return
	}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatal(err)
	}
	p.cmd, p.logf = cmd, logf
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(p.log)
	p.t.Fatalf("prometheus not ready within 60s:\n%s", b)
}

// Stop stops Prometheus (SIGTERM, so it shuts down cleanly) and waits for it.
func (p *Prometheus) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.logf.Close()
	p.cmd, p.logf = nil, nil
}

// Log returns what Prometheus has logged so far.
func (p *Prometheus) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// QueryResult is the data of an instant query.
type QueryResult struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

// Query runs an instant PromQL query and returns its result, or an error
// carrying Prometheus' own message.
func (p *Prometheus) Query(expr string) (*QueryResult, error) {
	resp, err := http.PostForm(p.URL+"/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string      `json:"status"`
		Error  string      `json:"error"`
		Data   QueryResult `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode answer to %q: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, body.Error)
	}
	return &body.Data, nil
}

// WaitForSeries waits until expr returns at least one series.
func (p *Prometheus) WaitForSeries(t testing.TB, expr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if r, err := p.Query(expr); err == nil && len(r.Result) > 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no series for %s within %s", expr, within)
}
