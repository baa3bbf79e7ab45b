package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// browser is a headless Debian Chromium driven over the DevTools protocol,
// recording console errors, uncaught exceptions and bytes transferred.
type browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
	bytes  int64
}

// newBrowser starts Chromium (skipped when it is missing, failed under
// CI=true) with the flags a closed network needs.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := testenv.LookPath(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1366, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	// Listen starts the browser; chromedp enables the runtime, log and
	// network domains itself.
	if err := b.listen(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return b
}

// listen records the target's console errors, exceptions and transfer.
func (b *browser) listen(ctx context.Context) error {
	return chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console."+string(e.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.errors = append(b.errors, fmt.Sprintf("uncaught: %s at %s:%d", msg, d.URL, d.LineNumber+1))
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				b.errors = append(b.errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventLoadingFinished:
			b.bytes += int64(e.EncodedDataLength)
		case *network.EventDataReceived:
			// Streams (server-sent events) never finish loading.
		}
	})
}

// takeErrors returns and clears the recorded errors.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errors
	b.errors = nil
	return e
}

func (b *browser) transferred() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

// chartInfo is what the page reports of one chart.
type chartInfo struct {
	ID     string `json:"id"`
	Page   string `json:"page"`
	Points int    `json:"points"`
	Inked  int    `json:"inked"`
}

// chartsJS lists the current page's charts with their points and the
// number of painted pixels on their canvas.
const chartsJS = `(window.trainwatch.charts || []).map(c => {
  let inked = 0;
  try {
    const cv = c.chart.ctx.canvas, d = c.chart.ctx.getImageData(0, 0, cv.width, cv.height).data;
    for (let i = 3; i < d.length; i += 16) if (d[i] > 0) inked++;
  } catch (e) { inked = -1; }
  return {id: c.id, page: c.page, points: c.points(), inked: inked};
})`

// openPage navigates to route and waits until the page says it is ready.
func (b *browser) openPage(t *testing.T, base, route, page string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	sel := fmt.Sprintf(`#page[data-page=%q][data-ready="1"]`, page)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/"+route), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("page %s (#/%s) not ready: %v\nerrors: %v\nbody: %.2000s", page, route, err, b.takeErrors(), html)
	}
}

// charts waits until the page's charts with the given ids have at least
// minPoints points each and ink on their canvas.
func (b *browser) charts(t *testing.T, minPoints int, ids ...string) map[string]chartInfo {
	t.Helper()
	var got map[string]chartInfo
	deadline := time.Now().Add(15 * time.Second)
	for {
		cs, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]chartInfo](chartsJS))
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]chartInfo{}
		for _, c := range cs {
			got[c.ID] = c
		}
		missing := []string{}
		for _, id := range ids {
			if c, ok := got[id]; !ok || c.Points < minPoints || c.Inked == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("charts %v not drawn with ≥ %d points: %+v", missing, minPoints, cs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// screenshot saves the page as a PNG test artefact, under
// $TRAINWATCH_ARTIFACTS (default: the system's temporary directory).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("TRAINWATCH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "trainwatch-artifacts")
	}
	dir = filepath.Join(dir, "ui")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// postJSON posts body to the agent and fails the test on a non-2xx answer.
func postJSON(t *testing.T, url, ctype, body string) {
	t.Helper()
	resp, err := http.Post(url, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %s %s", url, resp.Status, b.String())
	}
}

// pushRun registers a run and logs steps spread over the last minute with
// a falling loss (validation loss every 10 steps), as a training script's
// client would.
func pushRun(t *testing.T, base, id string, steps int, scale float64) {
	t.Helper()
	postJSON(t, base+"/api/v1/runs", "application/json", fmt.Sprintf(`{"id":%q,"name":%q,"total_steps":%d}`, id, id, 20*steps))
	var lines strings.Builder
	now := float64(time.Now().UnixMilli()) / 1000
	for i := 1; i <= steps; i++ {
		at := now - float64(steps-i)
		loss := scale * (2.5*math.Exp(-float64(i)/20) + 0.1)
		fmt.Fprintf(&lines, `{"time":%.3f,"step":%d,"loss":%.4f,"lr":%g,"samples_per_second":%d`, at, i*10, loss, 1e-3*(1-float64(i)/float64(2*steps)), 500+i)
		if i%10 == 0 {
			fmt.Fprintf(&lines, `,"val_loss":%.4f`, loss*1.1)
		}
		lines.WriteString("}\n")
	}
	postJSON(t, base+"/api/v1/runs/"+id+"/log", "application/x-ndjson", lines.String())
}

// TestDashboardInBrowser drives every page of the dashboard in Chromium
// against a live --demo agent.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent and a browser")
	}
	b := newBrowser(t)
	cfg := config.Default()
	cfg.Demo = true
	cfg.Interval = model.Duration(time.Second)
	base := startAgent(t, cfg)
	pushRun(t, base, "bert-base", 60, 1)
	pushRun(t, base, "bert-large", 60, 0.8)
	time.Sleep(3 * time.Second) // a few ticks of history for the sparklines

	t.Run("first load", func(t *testing.T) {
		before := b.transferred()
		b.openPage(t, base, "overview", "overview")
		b.charts(t, 1, "cpu")
		firstChart, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`window.trainwatch.firstChartMs`))
		if err != nil {
			t.Fatal(err)
		}
		kb := float64(b.transferred()-before) / 1024
		// Bytes are deterministic: this is a budget the test can hold.
		if kb > 300 {
			t.Errorf("first load transferred %.0f KB; the budget is 300 KB", kb)
		}
		t.Logf("first load: %.1f KB transferred; first chart drawn %.0f ms after navigation", kb, firstChart)
	})

	pages := []struct {
		route, page string
		charts      []string
		minPoints   int
	}{
		{"overview", "overview", []string{"cpu", "mem", "spark-gpu-0-util"}, 2},
		{"gpu/0", "gpu", []string{"gpu-util", "gpu-mem", "gpu-temp", "gpu-power"}, 2},
		{"processes", "processes", nil, 0},
		{"runs", "runs", nil, 0},
		{"runs/bert-base", "run", []string{"run-loss"}, 50},
		{"compare/bert-base/bert-large", "compare", nil, 0},
		{"alerts", "alerts", nil, 0},
		{"query", "query", nil, 0},
	}
	for _, p := range pages {
		t.Run(p.page, func(t *testing.T) {
			b.openPage(t, base, p.route, p.page)
			if len(p.charts) > 0 {
				b.charts(t, p.minPoints, p.charts...)
			}
			switch p.page {
			case "overview":
				// Live values change within 3 s (the demo's power draw moves
				// every tick).
				sel := `[data-live="gpu-0-power"]`
				first := b.text(t, sel)
				deadline := time.Now().Add(3 * time.Second)
				for b.text(t, sel) == first {
					if time.Now().After(deadline) {
						t.Fatalf("%s stayed %q for 3 s", sel, first)
					}
					time.Sleep(100 * time.Millisecond)
				}
				if s := b.text(t, "body"); !strings.Contains(s, "DEMO") {
					t.Errorf("no DEMO banner on a --demo agent")
				}
			case "processes":
				const countRows = `document.querySelectorAll("#proc-table tbody tr").length`
				rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](countRows))
				if err != nil {
					t.Fatal(err)
				}
				if rows < 5 {
					t.Fatalf("%d process rows", rows)
				}
				// Filtering by the agent's own command leaves few rows.
				if err := chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS("#proc-filter"), "trainwatch")); err != nil {
					t.Fatal(err)
				}
				time.Sleep(500 * time.Millisecond)
				after, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](countRows))
				if after >= rows {
					t.Errorf("filter did not narrow the table: %d → %d rows", rows, after)
				}
			case "runs":
				for _, id := range []string{"bert-base", "bert-large"} {
					n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('[data-run=%q]').length`, id)))
					if n == 0 {
						t.Errorf("run %s not listed", id)
					}
				}
			case "compare":
				cs, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]chartInfo](chartsJS))
				drawn := 0
				for _, c := range cs {
					if c.Points >= 100 { // two runs × 60 steps
						drawn++
					}
				}
				if drawn == 0 {
					t.Errorf("no chart overlays both runs' curves: %+v", cs)
				}
			case "query":
				err := chromedp.Do(b.ctx,
					chromedp.SetValue(chromedp.CSS("#query-expr"), `rate(node_cpu_seconds_total{mode="user"}[30s])`),
					chromedp.Click(chromedp.CSS("#query-run")))
				if err != nil {
					t.Fatal(err)
				}
				b.charts(t, 2, "query-chart")
			}
			b.screenshot(t, p.page)
			if errs := b.takeErrors(); len(errs) > 0 {
				t.Errorf("console errors on %s:\n%s", p.route, strings.Join(errs, "\n"))
			}
		})
	}
}

// TestDashboardShowsWhatIsMissing: on this machine (no GPU driver) a
// plain agent's overview says that no GPU backend works, instead of
// empty GPU charts; with --no-history charts say history is off.
func TestDashboardShowsWhatIsMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent and a browser")
	}
	b := newBrowser(t)
	cfg := config.Default()
	cfg.Interval = model.Duration(time.Second)
	cfg.GPU.Disable = []string{"nvml", "amd"}
	cfg.Storage.Disable = true
	base := startAgent(t, cfg)
	b.openPage(t, base, "overview", "overview")
	problems := b.text(t, "#problems")
	if !strings.Contains(problems, "No GPU backend") {
		t.Errorf("#problems = %q, want it to say no GPU backend works", problems)
	}
	body := b.text(t, "body")
	if !strings.Contains(body, "History is off") {
		t.Errorf("with --no-history the page does not say history is off")
	}
	b.screenshot(t, "missing")
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
