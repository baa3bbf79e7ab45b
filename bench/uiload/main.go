// Command uiload measures the web dashboard's budgets against a running
// agent, in Debian's headless Chromium:
//
//   - first load: bytes transferred and the time from navigation to the
//     first chart drawn with data (window.trainwatch.firstChartMs), over
//     several loads, each in a fresh browser profile (cold cache);
//   - the agent's CPU (utime+stime of -pid, from /proc) per second over -d
//     with no dashboard open, then with -tabs overview tabs open and
//     updating live, and the difference in % of one core.
//
// It prints a markdown table and, with -out, writes it to a file.
//
//	trainwatch serve --demo --listen 127.0.0.1:9835 &
//	go run ./bench/uiload -url http://127.0.0.1:9835 -pid $! -tabs 3 -d 60s -out bench/results/ui-$(date +%F)-vm.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:9835", "agent base URL")
	pid := flag.Int("pid", 0, "the agent's PID (required for the CPU figures)")
	tabs := flag.Int("tabs", 3, "dashboard tabs to open for the CPU figure")
	dur := flag.Duration("d", 60*time.Second, "how long to measure CPU in each phase")
	loads := flag.Int("loads", 5, "cold first loads to time")
	chromium := flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
	out := flag.String("out", "", "also write the markdown table here")
	shot := flag.String("screenshot", "", "only save a PNG of the overview (1366×1000, after 5 s) to this file")
	flag.Parse()
	if *shot != "" {
		if err := screenshot(*url, *chromium, *shot); err != nil {
			fmt.Fprintln(os.Stderr, "uiload:", err)
			os.Exit(1)
		}
		return
	}
	if *pid == 0 {
		fmt.Fprintln(os.Stderr, "uiload: -pid (the agent's process id) is required")
		os.Exit(2)
	}
	if err := run(*url, *pid, *tabs, *dur, *loads, *chromium, *out); err != nil {
		fmt.Fprintln(os.Stderr, "uiload:", err)
		os.Exit(1)
	}
}

// newBrowser starts a headless Chromium with a fresh profile.
func newBrowser(chromium string) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "uiload-profile-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1366, 900),
		chromedp.UserDataDir(dir))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	return ctx, func() { cancel(); cancelA(); os.RemoveAll(dir) }, nil
}

// firstLoad opens the overview in a fresh browser and returns the bytes
// transferred until the first chart is drawn, and when that was.
func firstLoad(url, chromium string) (kb, ms float64, err error) {
	ctx, done, err := newBrowser(chromium)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	var mu sync.Mutex
	var bytes float64
	err = chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventLoadingFinished); ok {
			mu.Lock()
			bytes += e.EncodedDataLength
			mu.Unlock()
		}
	})
	if err != nil {
		return 0, 0, err
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(url+"/#/overview")); err != nil {
		return 0, 0, err
	}
	for {
		v, err := chromedp.Run(tctx, chromedp.Evaluate[*float64](`window.trainwatch && window.trainwatch.firstChartMs`))
		if err != nil {
			return 0, 0, err
		}
		if v != nil && *v > 0 {
			ms = *v
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the rest of the first load
	mu.Lock()
	defer mu.Unlock()
	return bytes / 1024, ms, nil
}

// screenshot saves the overview as the README shows it.
func screenshot(url, chromium, path string) error {
	ctx, done, err := newBrowser(chromium)
	if err != nil {
		return err
	}
	defer done()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(1366, 1000), chromedp.Navigate(url+"/#/overview"), chromedp.Sleep(5*time.Second)); err != nil {
		return err
	}
	png, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ
}

// cpuOver measures the process's CPU, in % of one core, over d.
func cpuOver(pid int, d time.Duration) (float64, error) {
	c0, err := cpuSeconds(pid)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	time.Sleep(d)
	c1, err := cpuSeconds(pid)
	if err != nil {
		return 0, err
	}
	return 100 * (c1 - c0) / time.Since(t0).Seconds(), nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func run(url string, pid, tabs int, d time.Duration, loads int, chromium, out string) error {
	var kbs, mss []float64
	for i := 0; i < loads; i++ {
		kb, ms, err := firstLoad(url, chromium)
		if err != nil {
			return fmt.Errorf("first load %d: %w", i+1, err)
		}
		kbs, mss = append(kbs, kb), append(mss, ms)
	}
	idle, err := cpuOver(pid, d)
	if err != nil {
		return fmt.Errorf("agent CPU: %w", err)
	}
	ctx, done, err := newBrowser(chromium)
	if err != nil {
		return err
	}
	defer done()
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/#/overview")); err != nil {
		return err
	}
	for i := 1; i < tabs; i++ {
		tctx, _ := chromedp.NewContext(ctx)
		if err := chromedp.Do(tctx, chromedp.Navigate(url+"/#/overview")); err != nil {
			return err
		}
	}
	time.Sleep(5 * time.Second) // the tabs' first loads are not the steady state
	withTabs, err := cpuOver(pid, d)
	if err != nil {
		return fmt.Errorf("agent CPU: %w", err)
	}
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "# Dashboard budgets, %s on %s (%d CPUs, %s)\n\n", time.Now().UTC().Format("2006-01-02"), host, runtime.NumCPU(), runtime.GOARCH)
	fmt.Fprintf(&b, "Command: `go run ./bench/uiload -url %s -pid PID -tabs %d -d %s -loads %d`\n\n", url, tabs, d, loads)
	fmt.Fprintf(&b, "| measure | value | budget |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| first load, transferred (median of %d cold loads) | %.1f KB (min %.1f, max %.1f) | ≤ 300 KB |\n", loads, median(kbs), minOf(kbs), maxOf(kbs))
	fmt.Fprintf(&b, "| first chart drawn after navigation (median of %d) | %.0f ms (min %.0f, max %.0f) | ≤ 1000 ms |\n", loads, median(mss), minOf(mss), maxOf(mss))
	fmt.Fprintf(&b, "| agent CPU, no dashboard open (%s) | %.2f %% of one core | |\n", d, idle)
	fmt.Fprintf(&b, "| agent CPU, %d overview tabs updating every tick (%s) | %.2f %% of one core | |\n", tabs, d, withTabs)
	fmt.Fprintf(&b, "| added by %d tabs | %.2f %% of one core | ≤ 1 %% |\n", tabs, withTabs-idle)
	fmt.Print(b.String())
	if out != "" {
		return os.WriteFile(out, []byte(b.String()), 0o644)
	}
	return nil
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
