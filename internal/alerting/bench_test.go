package alerting

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/trainwatch/trainwatch/internal/store"
)

// fillRealistic writes an hour of an 8-GPU training server's series, every
// 15s, ending 5s ago: 8 GPUs x 8 DCGM fields, 32 CPUs x 8 modes, memory,
// filesystems, network, load and training metrics (about 350 series,
// 85,000 samples). GPU 3 runs hot. It returns the last sample's time.
func fillRealistic(t testing.TB, e *env) time.Time {
	t.Helper()
	const step = 15 * time.Second
	end := time.Now().Add(-5 * time.Second).Truncate(time.Second)
	start := end.Add(-time.Hour)
	base := []string{"job", store.DefaultJob, "instance", testInstance}
	series := func(name string, extra ...string) labels.Labels {
		return labels.FromStrings(append(append([]string{model.MetricNameLabel, name}, base...), extra...)...)
	}
	var batch []store.Appended
	n := 0
	for ts := start; !ts.After(end); ts = ts.Add(step) {
		batch = batch[:0]
		i := float64(n)
		add := func(ls labels.Labels, v float64) {
			batch = append(batch, store.Appended{Labels: ls, T: ts.UnixMilli(), V: v})
		}
		for g := range 8 {
			gl := []string{"gpu", strconv.Itoa(g), "UUID", fmt.Sprintf("GPU-%08d", g), "modelName", "NVIDIA H200"}
			temp := 70 + 5*math.Sin(i/20+float64(g))
			if g == 3 {
				temp = 88
			}
			add(series("DCGM_FI_DEV_GPU_TEMP", gl...), temp)
			add(series("DCGM_FI_DEV_GPU_UTIL", gl...), 90+5*math.Sin(i/7+float64(g)))
			add(series("DCGM_FI_DEV_POWER_USAGE", gl...), 600+40*math.Sin(i/9))
			add(series("DCGM_FI_DEV_FB_USED", gl...), 120000+float64(g))
			add(series("DCGM_FI_DEV_FB_FREE", gl...), 20000)
			add(series("DCGM_FI_DEV_XID_ERRORS", gl...), 0)
			add(series("DCGM_FI_DEV_SM_CLOCK", gl...), 1980)
			add(series("DCGM_FI_DEV_MEM_COPY_UTIL", gl...), 40)
		}
		for c := range 32 {
			for mi, mode := range []string{"idle", "user", "system", "iowait", "irq", "softirq", "nice", "steal"} {
				add(series("node_cpu_seconds_total", "cpu", strconv.Itoa(c), "mode", mode), i*15*[]float64{0.3, 0.6, 0.05, 0.02, 0.01, 0.01, 0, 0.01}[mi])
			}
		}
		add(series("node_memory_MemAvailable_bytes"), 1.5e12-i*1e8)
		add(series("node_memory_MemTotal_bytes"), 2e12)
		for fi, mp := range []string{"/", "/data", "/scratch", "/home"} {
			fl := []string{"mountpoint", mp, "device", "/dev/nvme" + strconv.Itoa(fi), "fstype", "ext4"}
			add(series("node_filesystem_avail_bytes", fl...), 1e12-i*1e9*float64(fi))
			add(series("node_filesystem_size_bytes", fl...), 4e12)
		}
		for _, dev := range []string{"eth0", "ib0", "ib1", "lo"} {
			add(series("node_network_receive_bytes_total", "device", dev), i*15*1e9)
		}
		add(series("node_load1"), 24)
		add(series("training_loss", "run", "llama-8b"), 2.5-i/400)
		add(series("training_samples_total", "run", "llama-8b"), i*15*512)
		add(series("up"), 1)
		if err := e.st.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return end
}

// BenchmarkEvaluate measures one evaluation of a group of 30 rules (15
// recording, 15 alerting) over an hour of an 8-GPU server's data, results
// written into the store as in production.
func BenchmarkEvaluate(b *testing.B) {
	e := newEnv(b, "")
	end := fillRealistic(b, e)
	m := e.build(b, Options{Config: fastConfig("testdata/bench/rules.yml")})
	groups, errs := m.rules.LoadGroups(15*time.Second, m.extLabels, "", nil, false, "testdata/bench/rules.yml")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	g := groups[rules.GroupKey("testdata/bench/rules.yml", "bench")]
	if g == nil || len(g.Rules()) != 30 {
		b.Fatalf("groups %v", groups)
	}
	ctx := context.Background()
	ts := end.Add(time.Second)
	g.Eval(ctx, ts)
	for _, r := range g.Rules() {
		if r.LastError() != nil {
			b.Fatalf("rule %s: %v", r.Name(), r.LastError())
		}
	}
	if n := g.AlertingRules()[0].ActiveAlertsCount(); n != 1 {
		b.Fatalf("GPUTooHot has %d alerts, want 1 (GPU 3)", n)
	}
	for b.Loop() {
		ts = ts.Add(time.Millisecond)
		g.Eval(ctx, ts)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/eval")
}

// TestBenchmarkRulesHealthy runs the benchmark's group once, so that
// `go test` proves the benchmark's rules and data stay valid.
func TestBenchmarkRulesHealthy(t *testing.T) {
	e := newEnv(t, "")
	end := fillRealistic(t, e)
	m := e.build(t, Options{Config: fastConfig("testdata/bench/rules.yml")})
	groups, errs := m.rules.LoadGroups(15*time.Second, m.extLabels, "", nil, false, "testdata/bench/rules.yml")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g := groups[rules.GroupKey("testdata/bench/rules.yml", "bench")]
	g.Eval(context.Background(), end.Add(time.Second))
	recorded := 0
	for _, r := range g.Rules() {
		if r.LastError() != nil {
			t.Errorf("rule %s: %v", r.Name(), r.LastError())
		}
		if _, ok := r.(*rules.RecordingRule); ok {
			recorded++
		}
	}
	if recorded != 15 || len(g.AlertingRules()) != 15 {
		t.Errorf("%d recording and %d alerting rules, want 15 and 15", recorded, len(g.AlertingRules()))
	}
	if got := e.querySeries(t, "gpu:DCGM_FI_DEV_GPU_UTIL:avg5m"); len(got) != 8 {
		t.Errorf("recording rule wrote %d series, want 8", len(got))
	}
}
