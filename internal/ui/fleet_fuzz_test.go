package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// answerTransport answers every request with one body.
type answerTransport struct {
	code int
	body []byte
}

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: a.code, Status: http.StatusText(a.code), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r,
	}, nil
}

// fleetAnswerSeed is a central server's answer of the kind the fleet view
// reads, with a run, an alert, a failing collector, GPUs and odd values.
const fleetAnswerSeed = `{"status":"success","data":{"resultType":"vector","result":[
{"metric":{"__name__":"DCGM_FI_DEV_GPU_UTIL","gpu":"0","UUID":"GPU-a","instance":"h1:9835"},"value":[1800000000,"77"]},
{"metric":{"__name__":"DCGM_FI_DEV_GPU_TEMP","gpu":"0","UUID":"GPU-a","instance":"h1:9835"},"value":[1800000000,"NaN"]},
{"metric":{"__name__":"DCGM_FI_DEV_FB_USED","gpu":"0","UUID":"GPU-a","instance":"h1:9835"},"value":[1800000000,"+Inf"]},
{"metric":{"__name__":"trainwatch_collector_success","collector":"disk","instance":"h1:9835"},"value":[1800000000,"0"]},
{"metric":{"__name__":"trainwatch_run_info","run":"r1","name":"bert","status":"running","instance":"h1:9835"},"value":[1800000000,"1"]},
{"metric":{"__name__":"trainwatch_run_step","run":"r1","instance":"h1:9835"},"value":[1800000000,"120"]},
{"metric":{"__name__":"trainwatch_run_start_time_seconds","run":"r1","instance":"h1:9835"},"value":[1800000000,"1799999000"]},
{"metric":{"__name__":"trainwatch_run_end_time_seconds","run":"r1","instance":"h1:9835"},"value":[1800000000,"-Inf"]},
{"metric":{"__name__":"trainwatch_run_progress_ratio","run":"r1","instance":"h1:9835"},"value":[1800000000,"NaN"]},
{"metric":{"__name__":"training_loss","run":"r1","instance":"h1:9835"},"value":[1800000000,"0.5"]},
{"metric":{"__name__":"node_cpu_seconds_total","cpu":"0","mode":"idle","instance":"h1:9835"},"value":[1800000000,"1e300"]},
{"metric":{"__name__":"node_memory_MemTotal_bytes","instance":"h1:9835"},"value":[1800000000,"-1"]},
{"metric":{"__name__":"ALERTS","alertname":"GPUHot","alertstate":"firing","severity":"critical","instance":"h1:9835"},"value":[1800000000,"1"]}
]}}`

// FuzzFleetAnswer feeds any answer of the central server to the fleet
// view: query either fails with a message or returns samples, and the
// snapshot event made from two such answers always encodes as JSON (a
// host whose series hold NaN, ±Inf or absurd times must still show).
func FuzzFleetAnswer(f *testing.F) {
	f.Add(200, []byte(fleetAnswerSeed), []byte(fleetAnswerSeed))
	f.Add(200, []byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`), []byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	f.Add(503, []byte(`{"status":"error","errorType":"timeout","error":"query timed out"}`), []byte(`<html>bad gateway</html>`))
	f.Add(200, []byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"trainwatch_run_info","run":"x"},"value":[1,"1"]},{"metric":{"__name__":"trainwatch_run_start_time_seconds","run":"x"},"value":[1,"1e300"]}]}}`), []byte(`{}`))
	base, _ := url.Parse("http://prometheus:9090")
	f.Fuzz(func(t *testing.T, code int, prevBody, curBody []byte) {
		if code < 100 || code > 999 {
			code = 200
		}
		read := func(body []byte) *collector.Snapshot {
			fc := &fleetClient{base: base, display: base.String(), client: &http.Client{Transport: answerTransport{code, body}}}
			v, err := fc.query(t.Context(), hostSelector("h1:9835"), time.Unix(1_800_000_000, 0))
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				return nil
			}
			return snapshotFromVector(v, time.Unix(1_800_000_000, 0))
		}
		prev, cur := read(prevBody), read(curBody)
		if cur == nil {
			return
		}
		p := fleetPayload("h1:9835", prev, cur)
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("the snapshot event does not encode: %v", err)
		}
	})
}

// FuzzHostSelector checks that any ?instance= value a browser sends
// becomes a selector that matches exactly that instance: the value cannot
// end the string and add PromQL of its own.
func FuzzHostSelector(f *testing.F) {
	for _, s := range []string{"h1:9835", `a"}) or vector(1) #`, "\\\"", "\x00\xff\u2028", "é\U0001F600", `\x41`} {
		f.Add(s)
	}
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, instance string) {
		sel := hostSelector(instance)
		e, err := p.ParseExpr(sel)
		if err != nil {
			t.Fatalf("%q: selector %s does not parse: %v", instance, sel, err)
		}
		vs, ok := e.(*parser.VectorSelector)
		if !ok {
			t.Fatalf("%q: selector %s parses as a %T", instance, sel, e)
		}
		found := false
		for _, m := range vs.LabelMatchers {
			if m.Name == "instance" {
				if m.Type != labels.MatchEqual || m.Value != instance || found {
					t.Fatalf("%q: selector %s has matcher %s", instance, sel, m)
				}
				found = true
			}
		}
		if !found {
			t.Fatalf("%q: selector %s has no instance matcher", instance, sel)
		}
	})
}
