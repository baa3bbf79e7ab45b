package main

import (
	"bytes"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/metricsdoc"
)

// demoSources are the sources of docs/metrics.md that a --demo agent runs
// on any machine: their documented families, but the conditional ones,
// must all be on its /metrics. Host collectors are left out (what they
// emit depends on the machine's kernel and hardware; the generator runs
// them on the fixture tree), and so are amdgpu and remote write (not in a
// demo agent).
func demoSources() []string {
	return []string{"gpu (NVML)", "process", "jobs", "runs", "push", "runner", "self", "http", "tsdb", "alerting", "demo"}
}

// TestMetricsDocMatchesDemoAgent checks docs/metrics.md against a live
// --demo agent: every family on /metrics is documented with its type and
// label names, and every unconditional family of the sources a demo agent
// runs is on /metrics.
func TestMetricsDocMatchesDemoAgent(t *testing.T) {
	doc, err := os.ReadFile("../../" + metricsdoc.DocPath)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := metricsdoc.ParseDoc(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", metricsdoc.DocPath, err)
	}
	want := map[string]string{} // name -> source
	for _, m := range ref.Metrics {
		if slices.Contains(demoSources(), m.Source) && ref.When(m.Name, m.Source) == "" {
			want[m.Name] = m.Source
		}
	}
	if len(want) < 100 {
		t.Fatalf("only %d families expected from a demo agent; is %s complete?", len(want), metricsdoc.DocPath)
	}

	cfg := config.Default()
	cfg.Demo = true
	base := startAgent(t, cfg)
	// The demo run logs a step every tick, the process collector scans
	// every 5 s, GPU rates need two ticks: wait until everything expected
	// is there, or say what is missing.
	deadline := time.Now().Add(60 * time.Second)
	var fams map[string]*dto.MetricFamily
	var missing []string
	for {
		_, body := get(t, base+"/metrics", nil)
		fams = parseFamilies(t, body)
		missing = missing[:0]
		for name := range want {
			if fams[name] == nil {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 && hasSeries(fams["trainwatch_run_info"], "run", demoRunID) && fams["DCGM_FI_DEV_GPU_UTIL"] != nil {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !hasSeries(fams["trainwatch_run_info"], "run", demoRunID) {
		t.Errorf("the demo run %s never appeared on /metrics", demoRunID)
	}
	sort.Strings(missing)
	for _, name := range missing {
		t.Errorf("%s (source %s) is documented in %s but a --demo agent did not emit it within 60s; if it needs a condition, say so in internal/metricsdoc conditionals() and run %s",
			name, want[name], metricsdoc.DocPath, metricsdoc.Command)
	}

	names := make([]string, 0, len(fams))
	for name := range fams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		mf := fams[name]
		if err := ref.Check(name, strings.ToLower(mf.GetType().String()), labelNames(mf)); err != nil {
			t.Errorf("/metrics of a --demo agent: %v; regenerate the page with %s (a family from a source the generator does not run yet needs that source in internal/metricsdoc)", err, metricsdoc.Command)
		}
	}
	t.Logf("%d families on /metrics, %d documented rows, %d expected from the demo's sources", len(fams), len(ref.Metrics), len(want))
}

// parseFamilies parses a text exposition, keeping types and help.
func parseFamilies(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// labelNames returns the label names a family's series carry.
func labelNames(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if !slices.Contains(out, lp.GetName()) {
				out = append(out, lp.GetName())
			}
		}
	}
	return out
}

// hasSeries reports whether mf has a series whose label name is value.
func hasSeries(mf *dto.MetricFamily, name, value string) bool {
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name && lp.GetValue() == value {
				return true
			}
		}
	}
	return false
}
