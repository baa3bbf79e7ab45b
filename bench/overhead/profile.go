package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// profile runs `trainwatch serve --demo --web.enable-pprof` (history on,
// scraped every second) with the first -procs count of extra processes,
// takes a CPU profile over the window, then heap and allocation profiles,
// and writes them with `go tool pprof -top` of each into dir.
func profile(ctx context.Context, o options, dir string) error {
	logf := func(format string, a ...any) {
		fmt.Fprintf(o.Log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("profile directory: %w", err)
	}
	root, err := machine.ModuleRoot()
	if err != nil {
		return err
	}
	bin := o.Trainwatch
	if bin == "" {
		bin = filepath.Join(dir, "trainwatch")
		logf("building ./cmd/trainwatch")
		if err := goBuild(ctx, root, "./cmd/trainwatch", bin); err != nil {
			return err
		}
	}
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		return fmt.Errorf("the extra processes need sleep: %w", err)
	}
	own := &owner{log: o.Log}
	defer own.cleanup()
	if len(o.Procs) > 0 && o.Procs[0] > 0 {
		logf("starting %d extra processes", o.Procs[0])
		if err := own.spawnSleepers(ctx, sleepBin, o.Procs[0]); err != nil {
			return err
		}
	}
	spec := &targetSpec{
		key: "tw-demo", name: "trainwatch serve --demo", bin: bin,
		args: func(port int, d string) []string {
			return []string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port), "--data-dir", filepath.Join(d, "data"),
				"--interval", "1s", "--demo", "--web.enable-pprof", "--log.level", "warn"}
		},
		readyPath: "/-/ready", metricsPath: "/metrics", readyTimeout: 2 * time.Minute, stopGrace: 20 * time.Second,
	}
	tmp, err := os.MkdirTemp("", "trainwatch-profile-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	p, err := own.start(spec, tmp)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, p); err != nil {
		return err
	}
	sctx, stopScrapes := context.WithCancel(ctx)
	defer stopScrapes()
	s := &pacedScraper{url: p.url("/metrics"), client: newClient(1)}
	go s.run(sctx, o.Scrape)
	logf("warming up %s", o.Warmup)
	if err := machine.Sleep(ctx, o.Warmup); err != nil {
		return err
	}
	client := &http.Client{Timeout: o.Window + time.Minute}
	fetch := func(path, file string) error {
		b, _, _, err := get(ctx, client, p.url(path))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, file), b, 0o644)
	}
	before, _, _, err := treeTicks([]*process{p})
	if err != nil {
		return err
	}
	t0 := time.Now()
	logf("CPU profile over %s", o.Window)
	if err := fetch("/debug/pprof/profile?seconds="+strconv.Itoa(int(o.Window.Seconds())), "cpu.pprof"); err != nil {
		return err
	}
	after, _, _, err := treeTicks([]*process{p})
	if err != nil {
		return err
	}
	cpu := float64(after[p]-before[p]) / clockTicks
	wall := time.Since(t0).Seconds()
	for _, f := range [][2]string{{"/debug/pprof/heap?gc=1", "heap.pprof"}, {"/debug/pprof/allocs", "allocs.pprof"}} {
		if err := fetch(f[0], f[1]); err != nil {
			return err
		}
	}
	m, err := machine.ReadMem(p.pid)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("trainwatch serve --demo, %d extra processes: %.3f CPU s over %.1f s (%.2f %% of one core, with the profiler on); RSS %s MiB, peak %s MiB, anonymous %s MiB\n",
		o.Procs[0], cpu, wall, cpu/wall*100, mib(m.RSS), mib(m.HWM), mib(m.Anon))
	fmt.Print(summary)
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(summary), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	for _, t := range []struct {
		file, out string
		flags     []string
	}{
		{"cpu.pprof", "cpu-top.txt", nil},
		{"cpu.pprof", "cpu-top-cum.txt", []string{"-cum"}},
		{"heap.pprof", "heap-top.txt", nil},
		{"allocs.pprof", "allocs-top-cum.txt", []string{"-cum", "-sample_index=alloc_space"}},
	} {
		args := append([]string{"tool", "pprof", "-top", "-nodecount=40"}, t.flags...)
		b, err := exec.CommandContext(ctx, goBin, append(args, filepath.Join(dir, t.file))...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w\n%s", t.file, err, b)
		}
		if err := os.WriteFile(filepath.Join(dir, t.out), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", t.out, err)
		}
		fmt.Printf("\n== %s ==\n%s", t.out, b)
	}
	return nil
}
