package metricsdoc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/agent"
	"github.com/trainwatch/trainwatch/internal/alerting"
	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/collector/network"
	"github.com/trainwatch/trainwatch/internal/gpu/amdgpu"
	"github.com/trainwatch/trainwatch/internal/hostfs"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/promapi"
	"github.com/trainwatch/trainwatch/internal/push"
	"github.com/trainwatch/trainwatch/internal/remotewrite"
	"github.com/trainwatch/trainwatch/internal/runs"
	"github.com/trainwatch/trainwatch/internal/store"
	"github.com/trainwatch/trainwatch/internal/web"
	rulepack "github.com/trainwatch/trainwatch/rules"
)

// epoch is the fixed time the simulated sources run at.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// gatherer holds what the sources share during one Gather.
type gatherer struct {
	root string // repository root
	tmp  string // scratch directory, removed after Gather

	// demoNVML names the families the NVML backend emits on the demo's
	// simulated server, which a --demo agent serves.
	demoNVML map[string]bool
}

// sourcedFamily is a family and the source that emitted it.
type sourcedFamily struct {
	source string
	fam    *collector.Family
}

// source runs one part of the agent and returns what it emitted.
type source struct {
	name string
	run  func(ctx context.Context, g *gatherer) ([]sourcedFamily, error)
}

// sources lists every part of the agent that emits metrics, in the order
// they run.
func sources() []source {
	return []source{
		{"host", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.host(ctx) }},
		{"gpu (NVML)", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.nvml(ctx) }},
		{"amdgpu", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.amd(ctx) }},
		{"process and jobs", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.processes(ctx) }},
		{"runs, push, tsdb, alerting", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.history(ctx) }},
		{"remote_write", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.remoteWrite(ctx) }},
		{"runner and self", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.self(ctx) }},
		{"http", func(ctx context.Context, g *gatherer) ([]sourcedFamily, error) { return g.http(ctx) }},
	}
}

// tag marks every family as emitted by source.
func tag(source string, fams []*collector.Family) []sourcedFamily {
	out := make([]sourcedFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, sourcedFamily{source, f})
	}
	return out
}

// collectOnce runs c once; a source that does not exist on the fixture
// (collector.ErrNoData) is not an error.
func collectOnce(ctx context.Context, c collector.Collector) ([]*collector.Family, error) {
	fams, err := collector.CollectOnce(ctx, c)
	if err != nil && !errors.Is(err, collector.ErrNoData) {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return fams, nil
}

// host runs every host collector on internal/collector/host/testdata/root
// with every outside input (statfs, the clock, adjtimex, uname's machine)
// made deterministic, as the host package's golden test does. tcpstat,
// which needs a live netlink socket, is listed by hand (static).
func (g *gatherer) host(ctx context.Context) ([]sourcedFamily, error) {
	root := filepath.Join(g.root, "internal", "collector", "host", "testdata")
	sys, err := extractTar(filepath.Join(root, "root-sys.tar"), filepath.Join(g.tmp, "host"))
	if err != nil {
		return nil, err
	}
	var cfg host.Config
	cfg.Roots = hostfs.Roots{
		Proc:   filepath.Join(root, "root", "proc"),
		Sys:    filepath.Join(sys, "sys"),
		RootFS: filepath.Join(root, "root", "rootfs"),
		Dev:    filepath.Join(root, "root", "dev"),
		Run:    filepath.Join(root, "root", "run"),
	}
	cfg.Disable = []string{"tcpstat"}
	cfg.System.Machine = "x86_64"
	cfg.System.Now = func() time.Time { return epoch }
	cfg.System.Adjtimex = func(tx *syscall.Timex) (int, error) {
		*tx = syscall.Timex{Offset: 1500, Maxerror: 16000, Esterror: 1000, Constant: 7, Precision: 1, Tick: 10000, Status: 0x2001}
		return 0, nil
	}
	cfg.Filesystem.Statfs = func(_ string, st *unix.Statfs_t) error {
		*st = unix.Statfs_t{Bsize: 4096, Frsize: 4096, Blocks: 1 << 20, Bfree: 1 << 19, Bavail: 1 << 18, Files: 1 << 16, Ffree: 1 << 15}
		return nil
	}
	cs, err := host.Collectors(cfg)
	if err != nil {
		return nil, err
	}
	var out []sourcedFamily
	for _, c := range cs {
		fams, err := collectOnce(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, tag(c.Name(), fams)...)
	}
	return out, checkTCPStat(ctx)
}

// checkTCPStat compares static()'s tcpstat entry with what tcpstat emits
// on this machine's kernel, when netlink answers here.
func checkTCPStat(ctx context.Context) error {
	cs, err := network.New(hostfs.DefaultRoots(), network.Config{})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Name() != "tcpstat" {
			continue
		}
		fams, err := collector.CollectOnce(ctx, c)
		if err != nil {
			return nil // no netlink here: the live test checks it
		}
		for _, f := range fams {
			got := describe(c.Name(), f.Desc)
			for _, want := range static() {
				if want.Name == got.Name && (want.Type != got.Type || want.Help != got.Help || !slices.Equal(want.Labels, got.Labels)) {
					return fmt.Errorf("static(): %s is listed as a %s with labels %v and help %q, but tcpstat emits a %s with labels %v and help %q",
						want.Name, want.Type, want.Labels, want.Help, got.Type, got.Labels, got.Help)
				}
			}
		}
	}
	return nil
}

// amd runs the amdgpu collector on both machines of its fixture, twice a
// process scan apart: per-process utilisation needs two scans.
func (g *gatherer) amd(ctx context.Context) ([]sourcedFamily, error) {
	dir, err := extractTar(filepath.Join(g.root, "internal", "gpu", "amdgpu", "testdata", "fixtures.tar"), filepath.Join(g.tmp, "amdgpu"))
	if err != nil {
		return nil, err
	}
	var cs []collector.Collector
	for _, machine := range []string{"mi300x", "radeon"} {
		m := filepath.Join(dir, machine)
		roots := hostfs.Roots{Sys: filepath.Join(m, "sys"), Proc: filepath.Join(m, "proc"), RootFS: filepath.Join(m, "rootfs")}
		c, err := amdgpu.New(roots, amdgpu.Config{Hostname: "docs", ProcessInterval: amdScan})
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	var out []sourcedFamily
	for pass := range 2 {
		if pass > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(amdScan + amdScan/10):
			}
		}
		for _, c := range cs {
			fams, err := collectOnce(ctx, c)
			if err != nil {
				return nil, err
			}
			out = append(out, tag(srcAMD, fams)...)
		}
	}
	return out, nil
}

// amdScan is the shortest process scan interval amdgpu accepts.
const amdScan = time.Second

// processes runs the process collector on the process fixture and the
// jobs deriver on its table, with the fixture's training script (PID 200,
// python3 train.py) holding GPU memory.
func (g *gatherer) processes(ctx context.Context) ([]sourcedFamily, error) {
	dir := filepath.Join(g.root, "internal", "process", "testdata")
	s := process.NewScanner(hostfs.Roots{Proc: filepath.Join(dir, "proc"), RootFS: filepath.Join(dir, "rootfs")}, nil)
	defer s.Close()
	pc, err := process.NewCollector(s, process.Config{})
	if err != nil {
		return nil, err
	}
	fams, err := collectOnce(ctx, pc)
	if err != nil {
		return nil, err
	}
	out := tag(srcProcess, fams)
	gpuMem := collector.NewDesc("trainwatch_gpu_process_memory_bytes", "", collector.Gauge, "gpu", "UUID", "pid")
	snap := &collector.Snapshot{Time: epoch, Families: []*collector.Family{{
		Desc:    gpuMem,
		Samples: []collector.Sample{{LabelValues: []string{"0", "GPU-docs", "200"}, Value: 40 << 30}},
	}}}
	e := collector.NewEmitter()
	jobs.NewDeriver(s, jobs.Options{}).Derive(snap, e)
	if len(e.Families()) == 0 {
		return nil, errors.New("jobs: the deriver found no job on the process fixture")
	}
	return append(out, tag(srcJobs, e.Families())...), nil
}

// history opens the TSDB in the scratch directory and runs what is built
// on it: a training run created, logged and finished through the runs
// registry, a Pushgateway push (which makes a run too), the TSDB's own
// metrics and the rules engine with the built-in rule pack and a webhook
// receiver.
func (g *gatherer) history(ctx context.Context) ([]sourcedFamily, error) {
	logger := slog.New(slog.DiscardHandler)
	db, err := store.Open(store.Options{Dir: filepath.Join(g.tmp, "data"), Instance: "docs:9835", Logger: logger})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	now := epoch
	clock := func() time.Time { return now }
	reg, err := runs.Open(runs.Options{Host: "docs", Instance: "docs:9835", Append: db.Append, Now: clock, Logger: logger})
	if err != nil {
		return nil, err
	}
	if _, _, err := reg.Create(runs.CreateRequest{ID: "docs-run", Name: "docs run", TotalSteps: 1000}); err != nil {
		return nil, err
	}
	for step := int64(1); step <= 3; step++ {
		now = now.Add(time.Second)
		e := runs.Entry{Step: step * 10, Epoch: math.NaN(), Values: map[string]float64{"loss": 2 / float64(step)}, TimeMs: now.UnixMilli()}
		if _, err := reg.Log(ctx, "docs-run", []runs.Entry{e}); err != nil {
			return nil, err
		}
	}
	if _, _, err := reg.Create(runs.CreateRequest{ID: "docs-ended", Name: "an ended run"}); err != nil {
		return nil, err
	}
	if _, err := reg.Finish("docs-ended", runs.StatusFinished, nil); err != nil {
		return nil, err
	}

	gw := push.New(push.Options{Append: db.Append, OnPush: reg.ObservePush, Now: clock, Logger: logger})
	req := httptest.NewRequestWithContext(ctx, http.MethodPut, "/metrics/job/docs-pushed-run",
		strings.NewReader("# TYPE docs_pushed_loss gauge\ndocs_pushed_loss 0.5\n"))
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		return nil, fmt.Errorf("push: %d %s", rec.Code, rec.Body)
	}
	var out []sourcedFamily
	for _, f := range gw.Families() {
		if f.Desc.Name != "docs_pushed_loss" { // what was pushed is the user's
			out = append(out, sourcedFamily{srcPush, f})
		}
	}

	api, err := promapi.New(promapi.Options{Store: db, Logger: logger})
	if err != nil {
		return nil, err
	}
	am, err := alerting.New(alerting.Options{
		Config: alerting.Config{Receivers: []alerting.ReceiverConfig{
			{Name: "ops", Webhook: &alerting.WebhookConfig{URL: "http://127.0.0.1:9/hook"}},
		}},
		Store: db, Engine: api.Engine(), BuiltinFS: rulepack.FS, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	if err := am.Load(); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		source string
		c      collector.Collector
	}{{srcRuns, reg.Collector()}, {srcPush, gw}, {srcTSDB, db.Collector()}, {srcAlerting, am.Collector()}} {
		fams, err := collectOnce(ctx, c.c)
		if err != nil {
			return nil, err
		}
		out = append(out, tag(c.source, fams)...)
	}
	return out, nil
}

// remoteWrite opens a remote write queue (nothing is sent: the sender is
// never started).
func (g *gatherer) remoteWrite(ctx context.Context) ([]sourcedFamily, error) {
	w, err := remotewrite.Open(remotewrite.Config{Name: "central", URL: "http://127.0.0.1:9/api/v1/write"},
		filepath.Join(g.tmp, "remote_write", "central"), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer w.Close()
	fams, err := collectOnce(ctx, w)
	if err != nil {
		return nil, err
	}
	return tag(srcRemoteWrite, fams), nil
}

// self runs the agent's own process and Go runtime collector, and one
// Runner tick for the Runner's per-collector self-metrics.
func (g *gatherer) self(ctx context.Context) ([]sourcedFamily, error) {
	sc, err := agent.NewSelfCollector()
	if err != nil {
		return nil, err
	}
	fams, err := collectOnce(ctx, sc)
	if err != nil {
		return nil, err
	}
	out := tag(srcSelf, fams)
	r, err := collector.NewRunner(collector.RunnerOptions{}, emptyCollector{})
	if err != nil {
		return nil, err
	}
	snap := r.Tick(ctx)
	return append(out, tag(srcRunner, snap.Families)...), nil
}

// emptyCollector emits nothing: the Runner's self-metrics alone.
type emptyCollector struct{}

func (emptyCollector) Name() string                                      { return "docs" }
func (emptyCollector) Collect(context.Context, *collector.Emitter) error { return nil }

// http serves one request through the agent's HTTP handler, for the
// request duration histogram.
func (g *gatherer) http(ctx context.Context) ([]sourcedFamily, error) {
	rm := web.NewRequestMetrics()
	srv := web.New(noState{}, web.Options{Requests: rm})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/-/healthy", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("http: GET /-/healthy answered %d", rec.Code)
	}
	fams, err := collectOnce(ctx, rm)
	if err != nil {
		return nil, err
	}
	return tag(srcHTTP, fams), nil
}

// noState is an agent that has not collected yet.
type noState struct{}

func (noState) Latest() *agent.State { return nil }
func (noState) Ready() bool          { return false }
