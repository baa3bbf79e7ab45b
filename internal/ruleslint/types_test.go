package ruleslint

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

const metadataBody = `{"status":"success","data":{
 "node_cpu_seconds_total":[{"type":"counter","help":"h","unit":""}],
 "node_load1":[{"type":"gauge","help":"h","unit":""}],
 "http_request_duration_seconds":[{"type":"histogram","help":"h","unit":""}],
 "rpc_duration_seconds":[{"type":"summary","help":"h","unit":""}],
 "build_info":[{"type":"info","help":"h","unit":""}],
 "mystery":[{"type":"unknown","help":"h","unit":""}],
 "clash":[{"type":"counter","help":"h","unit":""},{"type":"gauge","help":"h","unit":""}],
 "agree":[{"type":"gauge","help":"a","unit":""},{"type":"gauge","help":"b","unit":""}]
}}`

func TestRulesParseMetadata(t *testing.T) {
	got, err := ParseMetadata(strings.NewReader(metadataBody))
	if err != nil {
		t.Fatal(err)
	}
	want := Types{
		"node_cpu_seconds_total":        collector.Counter,
		"node_load1":                    collector.Gauge,
		"http_request_duration_seconds": collector.Histogram,
		"rpc_duration_seconds":          collector.Summary,
		"build_info":                    collector.Gauge,
		"agree":                         collector.Gauge,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, bad := range []string{`{"status":"error","error":"boom"}`, `not json`} {
		if _, err := ParseMetadata(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseMetadata(%s): want an error", bad)
		}
	}
}

func TestRulesMetadataURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://prom:9090":                      "http://prom:9090/api/v1/metadata",
		"http://prom:9090/":                     "http://prom:9090/api/v1/metadata",
		"https://x/prometheus":                  "https://x/prometheus/api/v1/metadata",
		"http://127.0.0.1:9835/api/v1/metadata": "http://127.0.0.1:9835/api/v1/metadata",
	} {
		if got, err := MetadataURL(in); err != nil || got != want {
			t.Errorf("MetadataURL(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"prom:9090", "ftp://x", "http://", "::"} {
		if _, err := MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%s): want an error", bad)
		}
	}
}

func TestRulesFetchMetadata(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/metadata" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(metadataBody))
	}))
	defer srv.Close()
	types, err := FetchMetadata(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := types.Type("node_load1"); !ok || v != collector.Gauge {
		t.Fatalf("node_load1: %v %v", v, ok)
	}
	// The types drive the lint.
	fs, err := LintExpr(`rate(node_load1[5m])`, types)
	if err != nil || len(fs) != 1 || fs[0].Corrected != `deriv(node_load1[5m])` {
		t.Fatalf("lint with fetched types: %+v, %v", fs, err)
	}
	if _, err := FetchMetadata(context.Background(), srv.Client(), srv.URL+"/sub"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want a 404 error, got %v", err)
	}
}
