// Command histfloor is the floor of keeping history and evaluating rules
// with the components trainwatch's design prescribes (docs/architecture.md):
// Prometheus' own TSDB and rule manager, used as directly as a Go program
// can, with no collection, no metric model of ours and no HTTP. The
// overhead harness (bench/overhead) runs it next to `trainwatch serve` and
// compares their CPU time and memory: what trainwatch's history and rules
// cost beyond this is ours to cut; what this costs, no agent built on
// Prometheus' TSDB can avoid.
//
// It opens a data directory that `trainwatch fill-history` wrote (the
// series the agent collects on this machine, with as much history as the
// harness asked for), with the TSDB options trainwatch's store uses. Every
// -interval (default 1 s) it appends one sample to each of those series in
// one appender, reusing the series references Append returned the tick
// before (the fastest use of the API), and commits: the head append, the
// write-ahead log record and the chunk cutting a 1 s agent has to pay.
// Counters grow by the rate they had in the directory's last minute and
// gauges wander by as much as they moved in it; series that did not move
// stay constant. With -rules it also
// evaluates those Prometheus rule files with Prometheus' rule manager and
// PromQL engine over the same TSDB, every -eval-interval (default 15 s,
// trainwatch's default), writing the recording rules' results back.
//
// It runs until SIGINT or SIGTERM, or for -duration, then prints what it
// appended on standard error.
//
//	trainwatch fill-history --demo --data-dir /tmp/h --duration 2m
//	go build -o /tmp/histfloor ./bench/overhead/histfloor
//	/tmp/histfloor -data-dir /tmp/h -rules rules/trainwatch.rules.yml -duration 1m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/trainwatch/trainwatch/internal/store"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "histfloor:", err)
		os.Exit(1)
	}
}

// series is one series the floor appends to each tick.
type series struct {
	lset    labels.Labels
	ref     storage.SeriesRef
	v, step float64
	counter bool
}

func run(args []string) error {
	fs := flag.NewFlagSet("histfloor", flag.ContinueOnError)
	dir := fs.String("data-dir", "", "TSDB directory written by `trainwatch fill-history` (required)")
	interval := fs.Duration("interval", time.Second, "time between two appends")
	ruleFiles := fs.String("rules", "", "comma-separated Prometheus rule files to evaluate (none: history only)")
	evalInterval := fs.Duration("eval-interval", 15*time.Second, "rule evaluation interval")
	duration := fs.Duration("duration", 0, "stop after this long (0: at SIGINT or SIGTERM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-data-dir is required: a directory written by `trainwatch fill-history --data-dir DIR`")
	}
	if *interval <= 0 || *evalInterval <= 0 {
		return errors.New("-interval and -eval-interval must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// The TSDB options trainwatch's store opens its directory with.
	db, err := tsdb.Open(*dir, logger, nil, store.TSDBOptions(store.Options{}), nil)
	if err != nil {
		return fmt.Errorf("opening the TSDB in %s: %w", *dir, err)
	}
	defer db.Close()

	all, err := load(ctx, db)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("%s holds no series from its last minute: fill it with `trainwatch fill-history --data-dir %s` first", *dir, *dir)
	}

	if *ruleFiles != "" {
		engine := promql.NewEngine(promql.EngineOpts{
			Logger: logger, MaxSamples: 50_000_000, Timeout: 2 * time.Minute,
			LookbackDelta: 5 * time.Minute, EnableAtModifier: true, EnableNegativeOffset: true,
		})
		mgr := rules.NewManager(&rules.ManagerOptions{
			NameValidationScheme: model.UTF8Validation,
			QueryFunc:            rules.EngineQueryFunc(engine, db),
			NotifyFunc:           func(context.Context, string, ...*rules.Alert) {},
			Context:              ctx,
			AppendableV2:         db,
			Queryable:            db,
			Logger:               logger,
		})
		if err := mgr.Update(*evalInterval, strings.Split(*ruleFiles, ","), labels.EmptyLabels(), "", nil); err != nil {
			return fmt.Errorf("loading rules: %w", err)
		}
		go mgr.Run()
		defer mgr.Stop()
	}

	rng := rand.New(rand.NewPCG(1, 2))
	ticker := time.NewTicker(*interval)
	defer ticker.Stop()
	ticks, failed := 0, 0
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "histfloor: %d ticks of %d series (%d appends failed)\n", ticks, len(all), failed)
			return nil
		case now := <-ticker.C:
			failed += tick(ctx, db, all, now.UnixMilli(), rng)
			ticks++
		}
	}
}

// load reads every series with a sample in the head's last minute and its
// latest value, and how much it moved over that minute.
func load(ctx context.Context, db *tsdb.DB) ([]series, error) {
	maxt := db.Head().MaxTime()
	q, err := db.Querier(maxt-time.Minute.Milliseconds(), maxt)
	if err != nil {
		return nil, fmt.Errorf("querying the head: %w", err)
	}
	defer q.Close()
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var out []series
	for set.Next() {
		s := set.At()
		it := s.Iterator(nil)
		first, last, n := math.NaN(), math.NaN(), 0
		for it.Next() != 0 {
			_, v := it.At()
			if n == 0 {
				first = v
			}
			last, n = v, n+1
		}
		if n == 0 || math.IsNaN(last) {
			continue
		}
		name := s.Labels().Get(model.MetricNameLabel)
		step := 0.0
		if n > 1 {
			step = (last - first) / float64(n-1)
		}
		out = append(out, series{lset: s.Labels(), v: last, step: step,
			counter: strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_count") ||
				strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_bucket")})
	}
	return out, set.Err()
}

// tick appends one sample per series at t in one transaction and returns
// how many appends failed.
func tick(ctx context.Context, db *tsdb.DB, all []series, t int64, rng *rand.Rand) int {
	app := db.Appender(ctx)
	failed := 0
	for i := range all {
		s := &all[i]
		switch {
		case s.step == 0:
		case s.counter:
			s.v += max(0, s.step*(0.8+0.4*rng.Float64()))
		default:
			s.v += s.step * (2*rng.Float64() - 1)
		}
		ref, err := app.Append(s.ref, s.lset, t, s.v)
		if err != nil {
			failed++
			continue
		}
		s.ref = ref
	}
	if err := app.Commit(); err != nil {
		fmt.Fprintln(os.Stderr, "histfloor: commit:", err)
	}
	return failed
}
