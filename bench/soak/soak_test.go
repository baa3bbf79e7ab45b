package main

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSoakShort runs the soak's load through the same code for 45 s, with
// the dashboard clients reloading every 10 s (15 or more streams opened
// and closed) and a new run every 15 s, and checks what must hold even in
// a short run: no request failed, every stream got events, and once the
// load has stopped and its connections are closed the agent's goroutines
// and open files are back within a few of their level before the clients
// connected — a goroutine leaked per stream, connection or run fails it.
// It asserts no timings and no memory figures (those need the long run:
// go run ./bench/soak).
func TestSoakShort(t *testing.T) {
	o := defaultOptions()
	o.Duration = 45 * time.Second
	o.Sample = 5 * time.Second
	o.Reload = 10 * time.Second
	o.RunEvery = 15 * time.Second
	o.PageMin, o.PageMax = 2*time.Second, 4*time.Second
	o.Profiles = t.TempDir()
	o.Command = "go test ./bench/soak -run TestSoakShort"
	o.Log = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res, err := soak(ctx, o)
	if res != nil && len(res.Samples) > 0 {
		t.Logf("report:\n%s", res.markdown())
	}
	if err != nil {
		t.Fatalf("soak: %v", err)
	}
	c := res.Counts
	if c.FailedTotal > 0 {
		for _, f := range c.Failures {
			t.Errorf("failed: t=%s %s: %s", f.At.Round(time.Millisecond), f.Kind, f.What)
		}
		t.Errorf("%d requests failed", c.FailedTotal)
	}
	for _, k := range []string{kindPush, kindRunLog, kindRunCtl, kindPage, kindStatic, kindStream} {
		if c.OK[k] == 0 {
			t.Errorf("no %s request succeeded", k)
		}
	}
	// Each client reloads at least 3 times in 45 s (the first after 1/3,
	// 2/3 or all of -reload).
	if want := int64(o.Clients * 4); c.Connects < want {
		t.Errorf("%d streams opened, want at least %d (the clients reload every %s)", c.Connects, want, o.Reload)
	}
	if c.Events < c.Connects {
		t.Errorf("%d snapshot events on %d streams: every stream gets one at once", c.Events, c.Connects)
	}
	if c.RunsMade < 3 || c.RunsEnded < 3 {
		t.Errorf("%d runs registered, %d finished; want 3 or more of each (one every %s, and the warm-up's)", c.RunsMade, c.RunsEnded, o.RunEvery)
	}
	if res.After.Goroutines > res.Before.Goroutines+goroutineSlack {
		var grew []string
		for _, d := range res.Diff {
			grew = append(grew, d.Stack)
		}
		t.Errorf("goroutines: %d after the load, %d before it (slack %d); stacks that grew:\n%s",
			res.After.Goroutines, res.Before.Goroutines, goroutineSlack, strings.Join(grew, "\n"))
	}
	if res.After.FDs > res.Before.FDs+fdSlack {
		t.Errorf("open files: %d after the load, %d before it (slack %d)", res.After.FDs, res.Before.FDs, fdSlack)
	}
	if !keptOK(res.After.KeptFDs, res.After.HostProcs) || res.After.KeptFDs == 0 {
		t.Errorf("the process scanner keeps %d /proc descriptors for %d processes on the host; want some, and at most 2 each (slack %d)",
			res.After.KeptFDs, res.After.HostProcs, keptSlack)
	}
	if !strings.HasPrefix(res.Stopped, "exited cleanly") {
		t.Errorf("trainwatch %s", res.Stopped)
	}
}

// testWriter sends the harness's progress lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestSlope(t *testing.T) {
	xs := []float64{0, 0.1, 0.2, 0.3, 0.4}
	ys := []float64{100, 101, 102, 103, 104}
	if s := slope(xs, ys); math.Abs(s-10) > 1e-9 {
		t.Errorf("slope %g, want 10", s)
	}
	if s := slope([]float64{1}, []float64{1}); !math.IsNaN(s) {
		t.Errorf("one point: slope %g, want NaN", s)
	}
}

func TestStackDiff(t *testing.T) {
	before := "goroutine profile: total 3\n" +
		"2 @ 0x1 0x2\n#\t0x1\truntime.gopark+0x10\t/x.go:1\n#\t0x2\tnet/http.(*conn).serve+0x20\t/y.go:2\n\n" +
		"1 @ 0x3\n#\t0x3\tmain.tick+0x5\t/z.go:3\n\n"
	after := "goroutine profile: total 7\n" +
		"5 @ 0x1 0x2\n#\t0x1\truntime.gopark+0x10\t/x.go:1\n#\t0x2\tnet/http.(*conn).serve+0x20\t/y.go:2\n\n" +
		"1 @ 0x3\n#\t0x3\tmain.tick+0x5\t/z.go:3\n\n" +
		"1 @ 0x4\n#\t0x4\tmain.leak+0x5\t/z.go:9\n\n"
	if n, err := profileTotal([]byte(after)); err != nil || n != 7 {
		t.Fatalf("total %d, %v", n, err)
	}
	d := diffStacks([]byte(before), []byte(after))
	if len(d) != 2 || d[0].Stack != "runtime.gopark ← net/http.(*conn).serve" || d[0].Before != 2 || d[0].After != 5 || d[1].Stack != "main.leak" {
		t.Fatalf("diff %+v", d)
	}
	if s := shortStack(d[0].Stack, 3); s != "net/http.(*conn).serve" {
		t.Errorf("short stack %q", s)
	}
}

func TestParseMetrics(t *testing.T) {
	body := "# TYPE go_goroutines gauge\ngo_goroutines 37\ngo_goroutines_x 1\nfoo{a=\"b\"} 2\ngo_threads 9 1700000000000\n"
	m, err := parseMetrics([]byte(body), []string{"go_goroutines", "go_threads"})
	if err != nil || m["go_goroutines"] != 37 || m["go_threads"] != 9 {
		t.Fatalf("got %v, %v", m, err)
	}
	if _, err := parseMetrics([]byte(body), []string{"go_memstats_heap_inuse_bytes"}); err == nil {
		t.Error("a missing series: no error")
	}
}

func TestVerdict(t *testing.T) {
	r := &result{Options: defaultOptions(), Stopped: "exited cleanly (status 0) after SIGTERM"}
	r.Before, r.After = level{Goroutines: 40, FDs: 14}, level{Goroutines: 41, FDs: 14}
	for i := 0; i <= 180; i++ {
		// RSS 100 MiB, +2 MiB per hour; goroutines and fds flat
		r.Samples = append(r.Samples, sample{At: time.Duration(i) * 10 * time.Second,
			RSS: int64((100 + 2*float64(i)/360) * 1024), Anon: 50 << 10, File: 50 << 10,
			Goroutines: 60 + i%3, FDs: 20, HeadSeries: 4000, HeadChunks: 1 << 20, WAL: 1 << 20})
	}
	if v := r.verdict(); !v.OK {
		t.Fatalf("flat run judged not flat: %v", v.Why)
	}
	variant := func(f func(i int, s *sample)) *result {
		c := *r
		c.Samples = append([]sample(nil), r.Samples...)
		for i := range c.Samples {
			f(i, &c.Samples[i])
		}
		return &c
	}
	leak := variant(func(i int, s *sample) { s.Goroutines += i / 6 }) // one more a minute
	leak.After.Goroutines = 70
	if v := leak.verdict(); v.OK || len(v.Why) != 2 {
		t.Errorf("a goroutine a minute: verdict %+v, want two reasons", v)
	}
	if v := variant(func(i int, s *sample) { s.Anon += int64(i) * 1024 * 20 / 360 }).verdict(); v.OK {
		t.Error("RssAnon +20 MiB/h with a constant head judged flat")
	}
	// 1,000 head series more per hour at 8 KiB each: +7.8 MiB/h, the head's.
	head := variant(func(i int, s *sample) {
		s.HeadSeries += float64(i) * 1000 / 360
		s.Anon += int64(float64(i) * 1000 / 360 * headSeriesKiB)
	})
	if v := head.verdict(); !v.OK {
		t.Errorf("RssAnon growing with the head judged not flat: %v", v.Why)
	}
	if v := variant(func(i int, s *sample) { s.File += int64(i) * 1024 / 10 }).verdict(); v.OK {
		t.Error("RssFile +18 MiB with 1 MiB of chunks_head judged flat")
	}
	if md := r.markdown(); !strings.Contains(md, "**flat**") {
		t.Errorf("report of a flat run:\n%s", md)
	}
}

func TestSplitKept(t *testing.T) {
	files := []string{"/proc/123/stat", "/proc/123/schedstat", "/proc/self/stat", "/proc/123/status",
		"/proc/4/stat/x", "socket", "/data/wal/00000001", "/proc/77/schedstat"}
	others, kept := splitKept(files)
	want := []string{"/proc/self/stat", "/proc/123/status", "/proc/4/stat/x", "socket", "/data/wal/00000001"}
	if kept != 3 || !slices.Equal(others, want) {
		t.Errorf("splitKept = %q, %d; want %q, 3", others, kept, want)
	}
	for _, tc := range []struct {
		kept, procs int
		ok          bool
	}{{0, 70, true}, {140, 70, true}, {140 + keptSlack, 70, true}, {141 + keptSlack, 70, false}} {
		if got := keptOK(tc.kept, tc.procs); got != tc.ok {
			t.Errorf("keptOK(%d, %d) = %v, want %v", tc.kept, tc.procs, got, tc.ok)
		}
	}
}
