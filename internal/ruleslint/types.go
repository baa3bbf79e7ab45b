package ruleslint

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// TypeSource tells the Prometheus type of a metric family by its name, as an
// exporter declares it (# TYPE) or /api/v1/metadata reports it. It answers
// for family names: a histogram "h" rather than its series "h_bucket"; the
// linter applies the _bucket, _sum, _count and _total conventions itself.
type TypeSource interface {
	// Type returns the family's type, or false when the source does not
	// know the name.
	Type(metricName string) (collector.ValueType, bool)
}

// Types is a TypeSource backed by a map from family name to type.
type Types map[string]collector.ValueType

// Type implements TypeSource.
func (t Types) Type(name string) (collector.ValueType, bool) {
	v, ok := t[name]
	return v, ok
}

// Layered asks each source in turn and returns the first answer: put the
// most authoritative source first.
type Layered []TypeSource

// Type implements TypeSource.
func (l Layered) Type(name string) (collector.ValueType, bool) {
	for _, s := range l {
		if s == nil {
			continue
		}
		if t, ok := s.Type(name); ok {
			return t, true
		}
	}
	return 0, false
}

// seriesType is what the linter needs to know about the series a selector
// selects: whether their values are a counter's or a gauge's, and a short
// explanation for the message ("a gauge", "a counter (bucket of histogram
// h)").
type seriesType struct {
	kind collector.ValueType // Counter or Gauge
	what string
}

// resolve returns the kind of the series named name under the Prometheus
// naming conventions, or false when it is unknown, untyped or neither a
// counter's nor a gauge's (a native histogram).
//
//   - a counter or gauge family's series have its name (a counter's usually
//     ending in _total; OpenMetrics metadata names the family without it);
//   - a histogram h has the counters h_bucket, h_sum and h_count (a native
//     histogram's series are named h and are left alone);
//   - a summary s has the counters s_sum and s_count, and its quantiles, the
//     series named s, are gauges.
func resolve(ts TypeSource, name string) (seriesType, bool) {
	if ts == nil || name == "" {
		return seriesType{}, false
	}
	if t, ok := ts.Type(name); ok {
		switch t {
		case collector.Counter:
			return seriesType{collector.Counter, "a counter"}, true
		case collector.Gauge:
			return seriesType{collector.Gauge, "a gauge"}, true
		case collector.Summary:
			return seriesType{collector.Gauge, "the quantiles of a summary, which are gauges"}, true
		}
		return seriesType{}, false
	}
	for _, sfx := range []string{"_bucket", "_sum", "_count", "_total"} {
		base, ok := strings.CutSuffix(name, sfx)
		if !ok || base == "" {
			continue
		}
		t, ok := ts.Type(base)
		if !ok {
			continue
		}
		switch {
		case sfx == "_bucket" && t == collector.Histogram:
			return seriesType{collector.Counter, "a counter (a bucket of histogram " + base + ")"}, true
		case (sfx == "_sum" || sfx == "_count") && t == collector.Histogram:
			return seriesType{collector.Counter, "a counter (the " + sfx[1:] + " of histogram " + base + ")"}, true
		case (sfx == "_sum" || sfx == "_count") && t == collector.Summary:
			return seriesType{collector.Counter, "a counter (the " + sfx[1:] + " of summary " + base + ")"}, true
		case sfx == "_total" && t == collector.Counter:
			return seriesType{collector.Counter, "a counter"}, true
		}
	}
	return seriesType{}, false
}

// metadataResponse is the body of Prometheus' /api/v1/metadata.
type metadataResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   map[string][]struct {
		Type string `json:"type"`
	} `json:"data"`
}

// ParseMetadata reads the JSON body of a Prometheus-compatible
// /api/v1/metadata answer. A family listed with conflicting types (two
// targets that disagree) and the types the linter cannot use (unknown,
// gaugehistogram) are left out.
func ParseMetadata(r io.Reader) (Types, error) {
	var resp metadataResponse
	if err := json.NewDecoder(r).Decode(&resp); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("metadata: status %q: %s", resp.Status, resp.Error)
	}
	out := make(Types, len(resp.Data))
	for name, entries := range resp.Data {
		var (
			t      collector.ValueType
			known  bool
			clash  bool
			usable = true
		)
		for _, e := range entries {
			et, ok := metadataType(e.Type)
			if !ok {
				usable = false
				continue
			}
			if known && et != t {
				clash = true
			}
			t, known = et, true
		}
		if known && usable && !clash {
			out[name] = t
		}
	}
	return out, nil
}

// metadataType maps a metadata type name onto the agent's types.
func metadataType(s string) (collector.ValueType, bool) {
	switch s {
	case "counter":
		return collector.Counter, true
	case "gauge", "info", "stateset":
		return collector.Gauge, true
	case "histogram":
		return collector.Histogram, true
	case "summary":
		return collector.Summary, true
	}
	return 0, false
}

// MetadataURL returns the /api/v1/metadata URL of a Prometheus-compatible
// server given either its base URL (http://host:9090, or a trainwatch
// agent's http://127.0.0.1:9835) or the full metadata URL.
func MetadataURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("metadata URL %q: want http(s)://HOST[:PORT][/PATH]", raw)
	}
	if !strings.HasSuffix(u.Path, "/api/v1/metadata") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/metadata"
	}
	return u.String(), nil
}

// FetchMetadata asks a Prometheus-compatible server (Prometheus, a
// trainwatch agent) for the types of the metrics it knows; rawURL is as
// MetadataURL takes it.
func FetchMetadata(ctx context.Context, client *http.Client, rawURL string) (Types, error) {
	u, err := MetadataURL(rawURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("metadata: GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	t, err := ParseMetadata(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return t, nil
}
