package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
	"github.com/trainwatch/trainwatch/internal/web/webtest"
)

// securityCase is one refused or malformed request sent to a running
// agent, and the answer it must get. docs/security.md's table of
// endpoints and inputs is made from these cases.
type securityCase struct {
	endpoint string // the endpoint as the doc names it
	input    string // what is sent, in words (Markdown)
	method   string
	path     string
	header   map[string]string
	body     string
	size     int  // a body of this many bytes instead
	remote   bool // sent from this machine's non-loopback address
	agent    string
	want     int
	says     string // a part of the answer's body, shown in the doc
}

// Configuration of the agents the cases are sent to: small push, run and
// query limits so that crossing them costs little; pprof on.
const (
	agentMain    = "main"
	agentTimeout = "timeout" // query.timeout 1ns
)

func securityConfig(name string) config.Config {
	cfg := config.Default()
	cfg.Interval = model.Duration(500 * time.Millisecond)
	cfg.Pprof = true
	cfg.Push.MaxBodyBytes = bytesize.Size(64 << 10)
	cfg.Push.MaxSeriesPerGroup = 3
	cfg.Push.MaxGroups = 2
	cfg.Runs.MaxSeriesPerRun = 5
	cfg.Query.MaxSamples = 1000
	cfg.Web.MaxRequestsInFlight = 2
	if name == agentTimeout {
		cfg.Query.Timeout = model.Duration(time.Nanosecond)
	}
	return cfg
}

// securityCases lists every endpoint with the malformed and refused
// inputs tried on it.
func securityCases() []securityCase {
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	text := map[string]string{"Content-Type": "text/plain; version=0.0.4"}
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	rebind := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example:9835", "Host": "evil.example:9835"}
	labels := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `l%d="v",`, i)
		}
		return "m{" + strings.TrimSuffix(b.String(), ",") + "} 1\n"
	}
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.String()
	}
	return []securityCase{
		// Any endpoint.
		{endpoint: "any", input: "more than `web.max_requests_in_flight` requests at once", method: "GET", path: "/api/v1/snapshot", want: 429, says: "too many requests in flight"},
		{endpoint: "any", input: "request headers over 1 MiB", method: "GET", path: "/metrics", header: map[string]string{"X-Big": strings.Repeat("h", 1<<20+8<<10)}, want: 431, says: "Request Header Fields Too Large"},
		{endpoint: "any (not `/metrics/job/...` nor the runs API)", input: "a body over `web.max_body_bytes` (1 MiB)", method: "POST", path: "/api/v1/query", header: form, size: 1<<20 + 1, want: 413, says: "accepts at most 1048576 (web.max_body_bytes)"},
		{endpoint: "any", input: "`POST`/`PUT`/`DELETE` from a page of another site (`Sec-Fetch-Site: cross-site`)", method: "POST", path: "/api/v1/runs", header: cross, body: `{}`, want: 403, says: "cross-origin request refused"},
		{endpoint: "any", input: "a CORS preflight (`OPTIONS` with `Origin`); no answer has `Access-Control-*` headers", method: "OPTIONS", path: "/api/v1/query", header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, want: 204, says: ""},
		{endpoint: "unknown path", input: "`GET /nope`", method: "GET", path: "/nope", want: 404, says: "not found"},

		// Health and metrics.
		{endpoint: "`/-/healthy`", input: "`POST`", method: "POST", path: "/-/healthy", want: 405, says: "this endpoint only reads; use GET"},
		{endpoint: "`/-/ready`", input: "`POST`", method: "POST", path: "/-/ready", want: 405, says: "this endpoint only reads; use GET"},
		{endpoint: "`/metrics`", input: "`POST`", method: "POST", path: "/metrics", want: 405, says: "this endpoint only reads; use GET"},
		{endpoint: "`/metrics`", input: "a 2 MiB body on `GET`", method: "GET", path: "/metrics", size: 2 << 20, want: 413, says: "accepts at most 1048576"},
		{endpoint: "`/api/v1/snapshot`", input: "`POST`", method: "POST", path: "/api/v1/snapshot", want: 405, says: "this endpoint only reads; use GET"},

		// Reload.
		{endpoint: "`/-/reload`", input: "`GET`", method: "GET", path: "/-/reload", want: 405, says: "use POST (or PUT)"},
		{endpoint: "`/-/reload`", input: "`POST` from another machine", method: "POST", path: "/-/reload", remote: true, want: 403, says: "until authentication is configured"},
		{endpoint: "`/-/reload`", input: "`POST` from a DNS-rebinding page (`Origin` not loopback)", method: "POST", path: "/-/reload", header: rebind, want: 403, says: "is not loopback"},
		{endpoint: "`/-/reload`", input: "a 2 MiB body", method: "POST", path: "/-/reload", size: 2 << 20, want: 413, says: "accepts at most 1048576"},

		// The Prometheus API.
		{endpoint: "`/api/v1/query`", input: "no `query`", method: "GET", path: "/api/v1/query", want: 400, says: "bad_data"},
		{endpoint: "`/api/v1/query`", input: "`query=up{`", method: "GET", path: "/api/v1/query?query=up%7B", want: 400, says: "parse error"},
		{endpoint: "`/api/v1/query`", input: "`time=yesterday`", method: "GET", path: "/api/v1/query?query=up&time=yesterday", want: 400, says: `invalid parameter \"time\"`},
		{endpoint: "`/api/v1/query`", input: "a query loading more than `query.max_samples`", method: "GET", path: "/api/v1/query?query=" + url.QueryEscape(`{__name__=~".+"}`), want: 422, says: "too many samples"},
		{endpoint: "`/api/v1/query`", input: "a query running past `query.timeout`", method: "GET", path: "/api/v1/query?query=vector(1)", agent: agentTimeout, want: 503, says: "query timed out"},
		{endpoint: "`/api/v1/query_range`", input: "`end` before `start`", method: "GET", path: "/api/v1/query_range?query=up&start=100&end=50&step=1", want: 400, says: "end timestamp must not be before start time"},
		{endpoint: "`/api/v1/query_range`", input: "more than 11,000 points per series", method: "GET", path: "/api/v1/query_range?query=up&start=0&end=100000&step=1", want: 400, says: "exceeded maximum resolution of 11,000 points"},
		{endpoint: "`/api/v1/query_range`", input: "`step=0`", method: "GET", path: "/api/v1/query_range?query=up&start=0&end=100&step=0", want: 400, says: "zero or negative query resolution step"},
		{endpoint: "`/api/v1/series`", input: "no `match[]`", method: "GET", path: "/api/v1/series", want: 400, says: "no match[] parameter provided"},
		{endpoint: "`/api/v1/admin/tsdb/*`", input: "`POST delete_series`", method: "POST", path: "/api/v1/admin/tsdb/delete_series?match[]=up", want: 500, says: "admin APIs disabled"},
		{endpoint: "`/api/v1/write`", input: "a remote-write `POST`", method: "POST", path: "/api/v1/write", body: "x", want: 404, says: "remote write receiver needs to be enabled"},

		// Runs.
		{endpoint: "`POST /api/v1/runs`", input: "a body that is not JSON", method: "POST", path: "/api/v1/runs", body: "{", want: 400, says: "body:"},
		{endpoint: "`POST /api/v1/runs`", input: "an unknown field", method: "POST", path: "/api/v1/runs", body: `{"nme": "x"}`, want: 400, says: `unknown field \"nme\"`},
		{endpoint: "`POST /api/v1/runs`", input: "an id outside `[A-Za-z0-9._-]{1,128}`", method: "POST", path: "/api/v1/runs", body: `{"id": "a b"}`, want: 400, says: `run id \"a b\"`},
		{endpoint: "`POST /api/v1/runs`", input: "a name over 4096 bytes", method: "POST", path: "/api/v1/runs", body: `{"name": "` + strings.Repeat("n", 4097) + `"}`, want: 400, says: "name: 4097 bytes; at most 4096"},
		{endpoint: "`POST /api/v1/runs`", input: "more than 64 tags", method: "POST", path: "/api/v1/runs", body: `{"tags": [` + strings.TrimSuffix(strings.Repeat(`"t",`, 65), ",") + `]}`, want: 400, says: "tags: 65 tags; at most 64"},
		{endpoint: "`POST /api/v1/runs`", input: "a body over 16 MiB", method: "POST", path: "/api/v1/runs", size: 16<<20 + 1, want: 413, says: "body larger than 16777216 bytes"},
		{endpoint: "`POST /api/v1/runs`", input: "from another machine", method: "POST", path: "/api/v1/runs", body: `{}`, remote: true, want: 403, says: "until authentication is configured"},
		{endpoint: "`GET /api/v1/runs`", input: "`status=weird`", method: "GET", path: "/api/v1/runs?status=weird", want: 400, says: `status \"weird\"`},
		{endpoint: "`GET /api/v1/runs/{run}`", input: "an unknown run", method: "GET", path: "/api/v1/runs/nope", want: 404, says: `no run \"nope\"`},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "an empty body", method: "POST", path: "/api/v1/runs/r1/log", want: 400, says: "empty body"},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "a non-numeric value", method: "POST", path: "/api/v1/runs/r1/log", body: `{"loss": "low"}`, want: 400, says: `line 1: key \"loss\": \"low\" is not a number`},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "a fractional step", method: "POST", path: "/api/v1/runs/r1/log", body: `{"step": 1.5, "loss": 1}`, want: 400, says: `key \"step\": 1.5 is not a step number`},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "a `time` an hour ahead", method: "POST", path: "/api/v1/runs/r1/log", body: fmt.Sprintf(`{"time": %d, "loss": 1}`, time.Now().Add(time.Hour).Unix()), want: 400, says: "is in the future"},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "a key taking an agent name (`node_load1`)", method: "POST", path: "/api/v1/runs/r1/log", body: `{"node_load1": 1}`, want: 400, says: "a name the agent uses for its own metrics"},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "a key over 1024 bytes", method: "POST", path: "/api/v1/runs/r1/log", body: `{"` + strings.Repeat("k", 1025) + `": 1}`, want: 400, says: "keys are metric names, at most 1024 bytes"},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "more series than `runs.max_series_per_run`", method: "POST", path: "/api/v1/runs/r1/log", body: `{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1}`, want: 422, says: "the limit is 5 per run"},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "a bad run id in the path", method: "POST", path: "/api/v1/runs/a%20b/log", body: `{"loss": 1}`, want: 400, says: `run id \"a b\"`},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "a body over 16 MiB", method: "POST", path: "/api/v1/runs/r1/log", size: 16<<20 + 1, want: 413, says: "body larger than 16777216 bytes"},
		{endpoint: "`POST /api/v1/runs/{run}/log`", input: "from another machine", method: "POST", path: "/api/v1/runs/r1/log", body: `{"loss": 1}`, remote: true, want: 403, says: "until authentication is configured"},
		{endpoint: "`POST /api/v1/runs/{run}/finish`", input: "`status` neither finished nor failed", method: "POST", path: "/api/v1/runs/r1/finish", body: `{"status": "done"}`, want: 400, says: `status \"done\"`},
		{endpoint: "`POST /api/v1/runs/{run}/finish`", input: "an unknown run", method: "POST", path: "/api/v1/runs/nope/finish", body: `{}`, want: 404, says: `no run \"nope\"`},
		{endpoint: "`POST /api/v1/runs/{run}/finish`", input: "from another machine", method: "POST", path: "/api/v1/runs/r1/finish", body: `{}`, remote: true, want: 403, says: "until authentication is configured"},
		{endpoint: "`/api/v1/runs`", input: "`DELETE`", method: "DELETE", path: "/api/v1/runs", want: 405, says: "takes GET, HEAD, POST"},

		// Pushes.
		{endpoint: "`/metrics/job/...`", input: "`GET`", method: "GET", path: "/metrics/job/j", want: 405, says: "method GET is not allowed"},
		{endpoint: "`/metrics/job/...`", input: "a body that is not the text format", method: "PUT", path: "/metrics/job/j", header: text, body: "not a metric\n", want: 400, says: "text format 0.0.4 body"},
		{endpoint: "`/metrics/job/...`", input: "an agent metric name (`node_load1`)", method: "PUT", path: "/metrics/job/j", header: text, body: "node_load1 1\n", want: 400, says: "reserved for the agent's own metrics"},
		{endpoint: "`/metrics/job/...`", input: "a sample with a timestamp", method: "PUT", path: "/metrics/job/j", header: text, body: "m 1 1700000000000\n", want: 400, says: "timestamps are refused, as the Pushgateway refuses them"},
		{endpoint: "`/metrics/job/...`", input: "a series with more than `push.max_labels_per_series` (64) labels", method: "PUT", path: "/metrics/job/j", header: text, body: labels(64), want: 400, says: "the limit is 64 (push.max_labels_per_series)"},
		{endpoint: "`/metrics/job/...`", input: "a label value over `push.max_label_value_length` (4096 bytes)", method: "PUT", path: "/metrics/job/j", header: text, body: `m{l="` + strings.Repeat("v", 4097) + `"} 1` + "\n", want: 400, says: "the limit is 4096 (push.max_label_value_length)"},
		{endpoint: "`/metrics/job/...`", input: "a label name over `push.max_label_name_length` (1024 bytes)", method: "PUT", path: "/metrics/job/j", header: text, body: "m{" + strings.Repeat("n", 1025) + `="v"} 1` + "\n", want: 400, says: "the limit is 1024 (push.max_label_name_length)"},
		{endpoint: "`/metrics/job/...`", input: "a grouping-key value over 4096 bytes", method: "PUT", path: "/metrics/job/" + strings.Repeat("j", 4097), header: text, body: "m 1\n", want: 400, says: "grouping key: the value of label"},
		{endpoint: "`/metrics/job/...`", input: "more series than `push.max_series_per_group`", method: "PUT", path: "/metrics/job/g1", header: text, body: "a 1\nb 1\nc 1\nd 1\n", want: 400, says: "more than the limit of 3"},
		{endpoint: "`/metrics/job/...`", input: "more groups than `push.max_groups`", method: "PUT", path: "/metrics/job/g3", header: text, body: "m 1\n", want: 429, says: "already holds 2 groups, its limit"},
		{endpoint: "`/metrics/job/...`", input: "a body over `push.max_body_bytes`", method: "PUT", path: "/metrics/job/j", header: text, size: 64<<10 + 1, want: 413, says: "more than the limit of 65536 bytes"},
		{endpoint: "`/metrics/job/...`", input: "a gzip body inflating past `push.max_body_bytes`", method: "PUT", path: "/metrics/job/j", header: map[string]string{"Content-Encoding": "gzip"}, body: gz(strings.Repeat("#\n", 64<<10)), want: 413, says: "decompresses to more than the limit"},
		{endpoint: "`/metrics/job/...`", input: "a body that is not gzip with `Content-Encoding: gzip`", method: "PUT", path: "/metrics/job/j", header: map[string]string{"Content-Encoding": "gzip"}, body: "m 1\n", want: 400, says: "not valid gzip"},
		{endpoint: "`/metrics/job/...`", input: "`Content-Encoding: br`", method: "PUT", path: "/metrics/job/j", header: map[string]string{"Content-Encoding": "br"}, body: "m 1\n", want: 415, says: "is not supported"},
		{endpoint: "`/metrics/job/...`", input: "an odd number of path segments", method: "PUT", path: "/metrics/job/j/instance", body: "m 1\n", want: 400, says: "odd number of path components"},
		{endpoint: "`/metrics/job/...`", input: "`%2F` in the path", method: "PUT", path: "/metrics/job/a%2Fb", body: "m 1\n", want: 400, says: "contains %2F"},
		{endpoint: "`/metrics/job/...`", input: "a `DELETE` with a body", method: "DELETE", path: "/metrics/job/j", body: "m 1\n", want: 400, says: "must have an empty body"},
		{endpoint: "`/metrics/job/...`", input: "`PUT` from another machine", method: "PUT", path: "/metrics/job/j", header: text, body: "m 1\n", remote: true, want: 403, says: "until authentication is configured"},
		{endpoint: "`/api/v1/push/groups`", input: "`POST`", method: "POST", path: "/api/v1/push/groups", want: 405, says: "takes GET, HEAD"},

		// The dashboard.
		{endpoint: "`/` (dashboard files)", input: "`POST`", method: "POST", path: "/", want: 405, says: "read-only"},
		{endpoint: "`/api/ui/config`", input: "`POST`", method: "POST", path: "/api/ui/config", want: 405, says: "takes GET, HEAD"},
		{endpoint: "`/api/ui/events`", input: "`POST`", method: "POST", path: "/api/ui/events", want: 405, says: "takes GET, HEAD"},
		{endpoint: "`/api/ui/fleet/api/v1/...`", input: "a query without `ui.fleet.url`", method: "POST", path: "/api/ui/fleet/api/v1/query", header: form, body: "query=up", want: 404, says: "no fleet server is configured"},

		// Profiling.
		{endpoint: "`/debug/pprof/` (with `--web.enable-pprof`)", input: "`GET` from another machine", method: "GET", path: "/debug/pprof/", remote: true, want: 403, says: "until authentication is configured"},
	}
}

// TestSecurityTable sends every malformed or refused input of
// securityCases to real agents and checks each answer's status and
// message, that no answer carries CORS headers, and that
// docs/security.md's table says what the agents answered
// (UPDATE_GOLDEN=1 rewrites the table).
func TestSecurityTable(t *testing.T) {
	cases := securityCases()
	bases := map[string]string{agentMain: startAgent(t, securityConfig(agentMain)), agentTimeout: startAgent(t, securityConfig(agentTimeout))}
	local := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var remote *http.Client
	if ip, ok := webtest.FindNonLoopbackIP(); ok {
		if tr, err := webtest.TryRemoteTransport(ip, nil); err == nil {
			remote = &http.Client{Transport: tr}
		}
	}
	// Two groups, so that a third is past push.max_groups.
	for _, g := range []string{"g1", "g2"} {
		if code, _ := send(t, local, bases[agentMain], securityCase{method: "PUT", path: "/metrics/job/" + g, header: map[string]string{"Content-Type": "text/plain"}, body: "m 1\n"}); code != 200 {
			t.Fatalf("push to %s: %d", g, code)
		}
	}
	if code, _ := send(t, local, bases[agentMain], securityCase{method: "POST", path: "/api/v1/runs", body: `{"id": "r1"}`}); code != 201 {
		t.Fatalf("create run r1: %d", code)
	}
	for _, c := range cases {
		t.Run(c.endpoint+" "+c.input, func(t *testing.T) {
			base := bases[c.agent]
			if c.agent == "" {
				base = bases[agentMain]
			}
			client := local
			if c.remote {
				if remote == nil {
					t.Skip("this machine has no non-loopback address to send from")
				}
				client = remote
			}
			var release func()
			if c.want == 429 && strings.Contains(c.input, "max_requests_in_flight") {
				release = holdRequests(t, base, securityConfig(agentMain).Web.MaxRequestsInFlight)
				defer release()
			}
			code, body := send(t, client, base, c)
			if code != c.want || !strings.Contains(body, c.says) {
				t.Errorf("%s %s: %d %s\nwant %d with %q", c.method, abbreviate(c.path), code, abbreviate(body), c.want, c.says)
			}
			if release != nil {
				// The health endpoints still answer while the agent is full.
				if code, _ := send(t, local, base, securityCase{method: "GET", path: "/-/healthy"}); code != 200 {
					t.Errorf("/-/healthy while the agent is full: %d", code)
				}
			}
		})
	}
	testenv.Golden(t, "../../docs/security.md", []byte(withSecurityTable(t, "../../docs/security.md", cases)))
}

// send sends c to base and returns the status and body; it fails the test
// when an answer carries a CORS header or lacks nosniff.
func send(t *testing.T, client *http.Client, base string, c securityCase) (int, string) {
	t.Helper()
	var body io.Reader = strings.NewReader(c.body)
	if c.size > 0 {
		body = bytes.NewReader(bytes.Repeat([]byte(" "), c.size))
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, abbreviate(c.path), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("%s %s answered %s: %s", c.method, abbreviate(c.path), k, resp.Header.Get(k))
		}
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge && resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s %s: no X-Content-Type-Options: nosniff", c.method, abbreviate(c.path))
	}
	return resp.StatusCode, string(b)
}

func abbreviate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// holdRequests keeps n requests in flight (bodies that never finish
// arriving) until release is called.
func holdRequests(t *testing.T, base string, n int) (release func()) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /api/v1/runs HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)
		conns = append(conns, c)
	}
	// Wait until the agent holds them (a 429 for an ordinary request).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/runs")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
	}
}

const (
	tableBegin = "<!-- BEGIN generated by TestSecurityTable in cmd/trainwatch/security_test.go; UPDATE_GOLDEN=1 rewrites it -->"
	tableEnd   = "<!-- END generated table -->"
)

// withSecurityTable returns the doc at path with its generated table made
// from cases.
func withSecurityTable(t *testing.T, path string, cases []securityCase) string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(doc), tableBegin)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q", path, tableBegin, tableEnd)
	}
	var b strings.Builder
	b.WriteString(tableBegin + "\n\n| endpoint | input | answer | the answer says |\n|---|---|---|---|\n")
	for _, c := range cases {
		says := "—"
		if c.says != "" {
			says = "`" + strings.ReplaceAll(strings.ReplaceAll(c.says, `\"`, `"`), "|", `\|`) + "`"
		}
		from := ""
		if c.remote {
			from = " (from another machine)"
			if strings.Contains(c.input, "another machine") {
				from = ""
			}
		}
		fmt.Fprintf(&b, "| %s | %s%s | %d %s | %s |\n", c.endpoint, c.input, from, c.want, http.StatusText(c.want), says)
	}
	b.WriteString("\n" + tableEnd)
	return before + b.String() + after
}

// startSecureAgent runs `serve` in-process with a web configuration and
// waits until it is ready, asking with client (which must authenticate).
func startSecureAgent(t *testing.T, cfg config.Config, client *http.Client, scheme string, auth [2]string) string {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), func(a net.Addr) { addrc <- a })
	}()
	var once sync.Once
	t.Cleanup(func() {
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
	})
	var base string
	select {
	case a := <-addrc:
		base = scheme + "://" + a.String()
	case err := <-done:
		t.Fatalf("serve failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen within 10s")
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, base+"/-/ready", nil)
		req.SetBasicAuth(auth[0], auth[1])
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
	}
	t.Fatal("agent never became ready")
	return ""
}

// TestSecurityTLSAndBasicAuth runs the agent with TLS and basic auth from
// a web configuration file: every endpoint needs the password, HTTPS
// only, and an authenticated client on another machine may write.
func TestSecurityTLSAndBasicAuth(t *testing.T) {
	ca := webtest.NewCA(t)
	kp := ca.Server(t)
	cfg := config.Default()
	cfg.Web.ConfigFile = webtest.WriteFile(t, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  trainer: %s\n",
		kp.CertFile, kp.KeyFile, webtest.Bcrypt(t, "correct horse")))
	tc := &tls.Config{RootCAs: ca.Pool()}
	local := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	base := startSecureAgent(t, cfg, local, "https", [2]string{"trainer", "correct horse"})
	clients := map[string]*http.Client{"this machine": local}
	if ip, ok := webtest.FindNonLoopbackIP(); ok {
		if tr, err := webtest.TryRemoteTransport(ip, tc); err == nil {
			clients["another machine"] = &http.Client{Transport: tr}
		}
	}
	for from, client := range clients {
		for _, c := range []struct {
			name, method, path, body string
			user, pass               string
			want                     int
		}{
			{"health without credentials", "GET", "/-/healthy", "", "", "", 401},
			{"health", "GET", "/-/healthy", "", "trainer", "correct horse", 200},
			{"metrics without credentials", "GET", "/metrics", "", "", "", 401},
			{"metrics, wrong password", "GET", "/metrics", "", "trainer", "wrong", 401},
			{"metrics", "GET", "/metrics", "", "trainer", "correct horse", 200},
			{"query", "GET", "/api/v1/query?query=up", "", "trainer", "correct horse", 200},
			{"dashboard", "GET", "/", "", "trainer", "correct horse", 200},
			{"register a run without credentials", "POST", "/api/v1/runs", `{"id": "remote-1"}`, "", "", 401},
			{"register a run", "POST", "/api/v1/runs", `{"id": "remote-1"}`, "trainer", "correct horse", 0},
			{"log to it", "POST", "/api/v1/runs/remote-1/log", `{"step": 1, "loss": 0.5}`, "trainer", "correct horse", 200},
			{"push", "PUT", "/metrics/job/remote", "m 1\n", "trainer", "correct horse", 200},
			{"reload", "POST", "/-/reload", "", "trainer", "correct horse", 200},
		} {
			t.Run(from+": "+c.name, func(t *testing.T) {
				req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
				if c.user != "" {
					req.SetBasicAuth(c.user, c.pass)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := c.want
				if want == 0 { // created, or found from the other client's try
					want = resp.StatusCode
					if want != 200 && want != 201 {
						want = 201
					}
				}
				if resp.StatusCode != want {
					t.Errorf("%d, want %d: %s", resp.StatusCode, want, abbreviate(string(b)))
				}
			})
		}
	}
	// Plain HTTP to the HTTPS port.
	resp, err := http.Get(strings.Replace(base, "https://", "http://", 1) + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP: %d, want 400", resp.StatusCode)
	}
}

// TestSecurityBadWebConfig: a bad web configuration file stops `serve` at
// start-up with exit status 2 and says what was wrong and how to fix it.
func TestSecurityBadWebConfig(t *testing.T) {
	for _, c := range []struct {
		name, content string
		says          []string
	}{
		{"plain-text password", "basic_auth_users:\n  alice: hunter2\n", []string{"bcrypt", `htpasswd -nBC 10 "" | tr -d ':\n'`}},
		{"unknown key", "tls_config:\n  cert_file: x\n", []string{"tls_config", "tls_server_config"}},
		{"missing certificate", "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", []string{"missing.crt", "check the path"}},
		{"key without certificate", "tls_server_config:\n  key_file: x.key\n", []string{"missing one of cert or cert_file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := webtest.WriteFile(t, c.content)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, errOut, code := runCLI(t, ctx, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--web.config.file", path)
			if code != 2 {
				t.Fatalf("exit %d, want 2: %s", code, errOut)
			}
			for _, s := range append(c.says, path) {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q does not contain %q", errOut, s)
				}
			}
		})
	}
	// The file can also come from the configuration file.
	cfgPath := webtest.WriteFile(t, "web:\n  config_file: /nonexistent/web-config.yml\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, errOut, code := runCLI(t, ctx, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--config", cfgPath)
	if code != 2 || !strings.Contains(errOut, "/nonexistent/web-config.yml") {
		t.Errorf("web.config_file from --config: exit %d: %s", code, errOut)
	}
}
