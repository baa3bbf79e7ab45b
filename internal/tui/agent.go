package tui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/internal/ui"
)

// Reconnection backoff of the agent's event stream.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 10 * time.Second
	// streamIdle is how long a stream may stay silent before it is taken
	// for dead: the agent sends a comment every 15 s when idle.
	streamIdle = 45 * time.Second
	// maxEventBytes bounds one server-sent event.
	maxEventBytes = 64 << 20
)

// AgentSource reads a running agent: its event stream (GET
// /api/ui/events), its process list (GET /api/ui/processes), its history
// (GET /api/v1/query_range) and what it has (GET /api/ui/config).
type AgentSource struct {
	base   string
	host   string
	client *http.Client
	// stream has no overall timeout: a stream lasts as long as the UI.
	stream *http.Client
}

// NewAgentSource returns the source for the agent at base, e.g.
// "http://127.0.0.1:9835".
func NewAgentSource(base string) (*AgentSource, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an agent's base URL (want e.g. http://127.0.0.1:9835)", base)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       time.Minute,
	}
	return &AgentSource{
		base:   strings.TrimRight(u.String(), "/"),
		host:   u.Hostname(),
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		stream: &http.Client{Transport: tr},
	}, nil
}

// Label implements Source.
func (a *AgentSource) Label() string { return "agent " + a.base }

// URL is the agent's base URL.
func (a *AgentSource) URL() string { return a.base }

// Stream implements Source: it reads the event stream and reconnects with
// a growing backoff (0.5 s to 10 s) whenever it breaks.
func (a *AgentSource) Stream(ctx context.Context, events chan<- Event) {
	backoff := minBackoff
	for ctx.Err() == nil {
		delivered, err := a.readStream(ctx, events)
		if ctx.Err() != nil {
			return
		}
		if delivered {
			backoff = minBackoff
		}
		if err == nil {
			err = errors.New("the agent closed the stream")
		}
		if !send(ctx, events, Event{Err: err, Retry: backoff}) {
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// readStream reads one connection's events until it breaks; delivered is
// true when at least one snapshot came through.
func (a *AgentSource) readStream(ctx context.Context, events chan<- Event) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/ui/events", nil)
	if err != nil {
		return false, fmt.Errorf("build the stream request: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := a.stream.Do(req)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", a.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, responseError(resp)
	}
	// A watchdog ends a stream that went silent (a half-open connection).
	watchdog := time.AfterFunc(streamIdle, cancel)
	defer watchdog.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var name string
	var data bytes.Buffer
	for sc.Scan() {
		watchdog.Reset(streamIdle)
		line := sc.Bytes()
		switch {
		case len(line) == 0: // end of an event
			if name == "snapshot" && data.Len() > 0 {
				var p ui.Payload
				if err := json.Unmarshal(data.Bytes(), &p); err != nil {
					return delivered, fmt.Errorf("decode a snapshot event: %w", err)
				}
				if p.Host == nil {
					return delivered, errors.New("a snapshot event without a host")
				}
				if !send(ctx, events, Event{Payload: &p}) {
					return delivered, ctx.Err()
				}
				delivered = true
			}
			name = ""
			data.Reset()
		case line[0] == ':': // comment (keep-alive)
		case bytes.HasPrefix(line, []byte("event:")):
			name = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(line[len("data:"):], []byte(" ")))
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return delivered, fmt.Errorf("the stream from %s was silent for %s", a.base, streamIdle)
		}
		return delivered, fmt.Errorf("read the stream from %s: %w", a.base, unwrapURLError(err))
	}
	return delivered, fmt.Errorf("%s closed the stream", a.base)
}

// Info implements Source.
func (a *AgentSource) Info(ctx context.Context) (Info, error) {
	var c ui.Info
	if err := a.getJSON(ctx, "/api/ui/config", &c); err != nil {
		return Info{}, err
	}
	return Info{
		Interval: time.Duration(c.IntervalSeconds * float64(time.Second)),
		History:  c.History, Runs: c.Runs, Alerting: c.Alerting, Processes: c.Processes,
		Version: c.Version,
	}, nil
}

// Processes implements Source.
func (a *AgentSource) Processes(ctx context.Context) (*ui.ProcessList, error) {
	var l ui.ProcessList
	if err := a.getJSON(ctx, "/api/ui/processes", &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// QueryRange implements Source.
func (a *AgentSource) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	q := url.Values{}
	q.Set("query", expr)
	q.Set("start", strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64))
	q.Set("end", strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64))
	q.Set("step", strconv.FormatFloat(step.Seconds(), 'f', 3, 64))
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := a.getJSON(ctx, "/api/v1/query_range?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, resp.Error)
	}
	out := make([]Series, 0, len(resp.Data.Result))
	for _, r := range resp.Data.Result {
		s := Series{Labels: r.Metric, Points: make([]Point, 0, len(r.Values))}
		for _, v := range r.Values {
			t, ok := v[0].(float64)
			str, ok2 := v[1].(string)
			if !ok || !ok2 {
				continue
			}
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				continue
			}
			s.Points = append(s.Points, Point{T: int64(t * 1000), V: f})
		}
		out = append(out, s)
	}
	return out, nil
}

// CanSignal implements Source: only an agent on this machine's loopback
// lists this machine's processes.
func (a *AgentSource) CanSignal() error {
	if a.host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(a.host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("the agent at %s may be another machine: signals go only to processes of this machine (run trainwatch top on %s, or with a loopback --url)", a.base, a.host)
}

// Signal implements Source.
func (a *AgentSource) Signal(pid int, sig syscall.Signal) error {
	if err := a.CanSignal(); err != nil {
		return err
	}
	return kill(pid, sig)
}

// getJSON fetches path and decodes its JSON answer into v.
func (a *AgentSource) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return fmt.Errorf("build the request: %w", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("ask %s: %w", a.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxEventBytes)).Decode(v); err != nil {
		return fmt.Errorf("decode %s%s: %w", a.base, path, err)
	}
	return nil
}

// responseError describes a non-200 answer, with the agent's own error
// message when it gave one.
func responseError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if msg == "" {
		return fmt.Errorf("%s answered %s", resp.Request.URL.Redacted(), resp.Status)
	}
	return fmt.Errorf("%s answered %s: %s", resp.Request.URL.Redacted(), resp.Status, msg)
}

// unwrapURLError drops url.Error's "Get URL:" prefix, which the messages
// already say.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Probe reports whether a trainwatch agent answers at base within timeout.
func Probe(ctx context.Context, base string, timeout time.Duration) error {
	a, err := NewAgentSource(base)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = a.Info(ctx)
	return err
}
