package rules

import (
	"compress/gzip"
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"

	"github.com/trainwatch/trainwatch/internal/ruletest"
)

// benchSeries is one series of the benchmark's history: a counter grows
// by rate per second, a gauge wobbles around base, a series with fn takes
// its values from it.
type benchSeries struct {
	lset    labels.Labels
	counter bool
	base    float64
	rate    float64
	fn      func(unix float64, t int) float64
	ref     storage.SeriesRef
}

// value returns the series' value t seconds into the history, at the Unix
// time unix.
func (s *benchSeries) value(unix float64, t int, seed int) float64 {
	var v float64
	switch {
	case s.fn != nil:
		return s.fn(unix, t)
	case s.counter:
		v = s.base + s.rate*float64(t)
	case s.base == 0 || s.base == 1:
		return s.base // flags and zeros stay as they are
	default:
		v = s.base * (1 + 0.01*math.Sin(float64(t)/7+float64(seed)))
	}
	// Whole numbers (bytes, counts, °C, %) stay whole; seconds and ratios
	// keep two decimals, as /proc's clock ticks do.
	if s.base == math.Trunc(s.base) {
		return math.Round(v)
	}
	return math.Round(v*100) / 100
}

// now is the value of timestamp gauges: the time of the sample.
func now(unix float64, _ int) float64 { return unix }

// demoSeries reads testdata/demo-metrics.txt.gz, one /metrics page of
// `trainwatch serve --demo` on a 2-vCPU VM (its real host series and 8
// simulated H200 GPUs), and labels each series as the agent stores it
// (job, instance; a job label becomes exported_job).
func demoSeries(tb testing.TB, instance string) []*benchSeries {
	f, err := os.Open(filepath.Join("testdata", "demo-metrics.txt.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(zr)
	if err != nil {
		tb.Fatal(err)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*benchSeries
	for _, n := range names {
		mf := fams[n]
		for _, m := range mf.GetMetric() {
			lb := labels.NewBuilder(labels.FromStrings("__name__", n, "job", "trainwatch", "instance", instance))
			for _, lp := range m.GetLabel() {
				name := lp.GetName()
				if name == "job" || name == "instance" {
					name = "exported_" + name
				}
				lb.Set(name, lp.GetValue())
			}
			s := &benchSeries{lset: lb.Labels()}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				// Counters keep their average rate since boot (4 h before
				// the capture); error counters at 0 stay at 0.
				s.counter, s.base = true, m.GetCounter().GetValue()
				s.rate = s.base / (4 * 3600)
			case dto.MetricType_GAUGE:
				s.base = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				s.base = m.GetUntyped().GetValue()
			default:
				continue // summaries and histograms: no rule reads them
			}
			if strings.HasSuffix(n, "_timestamp_seconds") || n == "node_time_seconds" {
				s.fn = now
			}
			out = append(out, s)
		}
	}
	return out
}

// runSeries are a running training run and its job: the logged values,
// the agent's run series and the job's series.
func runSeries(instance string) []*benchSeries {
	base := []string{"job", "trainwatch", "instance", instance}
	run := func(name string, kv ...string) labels.Labels {
		return labels.FromStrings(append(append([]string{"__name__", name, "run", "llama-70b-sft"}, base...), kv...)...)
	}
	job := func(name string) labels.Labels {
		return labels.FromStrings(append([]string{"__name__", name, "exported_job", "2211-1764350000"}, base...)...)
	}
	var out []*benchSeries
	add := func(l labels.Labels, base float64) { out = append(out, &benchSeries{lset: l, base: base}) }
	// The loss falls by a tenth over the hour, with noise.
	out = append(out, &benchSeries{lset: run("training_loss"), fn: func(_ float64, t int) float64 {
		return 1.8*(1-0.1*float64(t)/3600) + 0.02*math.Sin(float64(t)/3)
	}})
	add(run("validation_loss"), 1.9)
	add(run("learning_rate"), 3e-4)
	add(run("batch_processing_time"), 0.41)
	out = append(out, &benchSeries{lset: run("batches_processed_total"), counter: true, base: 52000, rate: 2.4})
	for _, s := range []string{"running", "stalled", "finished", "failed"} {
		v := 0.0
		if s == "running" {
			v = 1
		}
		add(run("trainwatch_run_status", "status", s), v)
	}
	add(run("trainwatch_run_info", "name", "llama-70b-sft", "host", "gpu-node-1", "source", "api", "status", "running"), 1)
	out = append(out, &benchSeries{lset: run("trainwatch_run_last_step_timestamp_seconds"), fn: now})
	add(run("trainwatch_run_steps_per_second"), 2.4)
	add(run("trainwatch_run_progress_ratio"), 0.52)
	add(run("trainwatch_run_eta_seconds"), 20000)
	add(job("trainwatch_job_cpu_percent"), 900)
	add(job("trainwatch_job_ranks"), 8)
	add(job("trainwatch_job_workers"), 16)
	add(job("trainwatch_job_processes"), 26)
	add(job("trainwatch_job_resident_memory_bytes"), 180e9)
	add(job("trainwatch_job_gpu_memory_bytes"), 900e9)
	return out
}

// BenchmarkEvaluatePack evaluates every group of the built-in pack once,
// over an hour of one agent's history at its 1 s tick: this machine's host
// series and 8 GPUs (demo mode), a running training run logging every
// second, and its job; the pack has been evaluated every 15 s (the agent's
// default) over that hour. Budget: 5 ms per evaluation of the whole pack.
//
// healthy has the GPUs in use at 96 %, so that no alert fires; demo keeps
// the demo's 60-75 %, so that GPUUtilizationLowDuringTraining fires on 7
// GPUs (each firing alert costs the expansion of its annotations). With
// -v it logs each rule's evaluation time. host is this VM as it is: its
// host, process and agent series, no GPU and no run.
func BenchmarkEvaluatePack(b *testing.B) {
	for _, bc := range []struct {
		name   string
		util   float64 // utilisation of the GPUs in use; 0: as in the demo
		hostVM bool    // only this machine's own series: no GPUs, no run
	}{{"healthy", 96, false}, {"demo", 0, false}, {"host", 0, true}} {
		b.Run(bc.name, func(b *testing.B) { benchmarkPack(b, bc.util, bc.hostVM) })
	}
}

func benchmarkPack(b *testing.B, util float64, hostVM bool) {
	const instance = "gpu-node-1:9835"
	series := append(demoSeries(b, instance), runSeries(instance)...)
	if hostVM {
		kept := series[:0]
		for _, s := range series {
			n := s.lset.Get("__name__")
			if strings.HasPrefix(n, "DCGM_") || strings.HasPrefix(n, "trainwatch_gpu_") || strings.HasPrefix(n, "trainwatch_run_") ||
				strings.HasPrefix(n, "trainwatch_job_") || s.lset.Has("run") || strings.HasPrefix(n, "trainwatch_process_gpu") {
				continue
			}
			kept = append(kept, s)
		}
		series = kept
	}
	for _, s := range series {
		if util > 0 && s.lset.Get("__name__") == "DCGM_FI_DEV_GPU_UTIL" && s.base > 10 {
			s.base = util
		}
	}

	st, err := ruletest.NewStorage()
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	end := time.Unix(1764350000, 0)
	start := end.Add(-time.Hour)
	for t := 0; t <= 3600; t++ {
		ts := start.Add(time.Duration(t) * time.Second)
		app := st.AppenderV2(ctx)
		for i, s := range series {
			if s.ref, err = app.Append(s.ref, s.lset, 0, ts.UnixMilli(), s.value(float64(ts.Unix()), t, i), nil, nil, storage.AOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	ev, err := ruletest.NewEvaluator(st, ruletest.EvalOptions{FS: FS}, Files()...)
	if err != nil {
		b.Fatal(err)
	}
	// The agent has been evaluating the pack every 15 s for the hour:
	// recorded series and alert states have their history.
	for ts := start.Add(15 * time.Second); ts.Before(end); ts = ts.Add(15 * time.Second) {
		if errs := ev.Eval(ctx, ts); len(errs) > 0 {
			b.Fatalf("evaluating the pack: %v", errs)
		}
	}

	cpu0 := cpuTime(b)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		if errs := ev.Eval(ctx, end); len(errs) > 0 {
			b.Fatalf("evaluating the pack: %v", errs)
		}
		n++
	}
	b.StopTimer()
	// CPU time per evaluation, which waiting for a busy machine's CPUs
	// does not inflate (ns/op does).
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(n)/1e6, "cpu-ms/op")

	rules, firing := 0, 0
	for _, g := range ev.Groups() {
		for _, r := range g.Rules() {
			rules++
			active := 0
			if ar, ok := r.(*prules.AlertingRule); ok {
				active = len(ar.ActiveAlerts())
				firing += active
			}
			if testing.Verbose() {
				b.Logf("%-48s %9v %d", r.Name(), r.GetEvaluationDuration(), active)
			}
		}
	}
	b.ReportMetric(float64(len(series)), "series")
	b.ReportMetric(float64(rules), "rules")
	b.ReportMetric(float64(firing), "alerts")
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
