// Command pushload is a load generator for the agent's Pushgateway-compatible
// endpoint, run as a separate process: C concurrent clients each PUT a
// training-like group of S series (text format 0.0.4, as prometheus_client
// sends) to /metrics/job/load/run/rN as fast as the agent answers, for D,
// and print the samples per second the agent accepted.
//
//	go run ./bench/pushload -url http://127.0.0.1:9835 -c 4 -series 1000 -d 20s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:9835", "agent base URL")
	conc := flag.Int("c", 4, "concurrent clients (one group each)")
	series := flag.Int("series", 1000, "series per push")
	dur := flag.Duration("d", 20*time.Second, "how long to push")
	flag.Parse()
	if err := run(*url, *conc, *series, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "pushload:", err)
		os.Exit(1)
	}
}

// body builds one push of n series: a loss per layer and GPU, as a trainer
// exporting per-layer gradient norms would.
func body(n int, step int) []byte {
	var b bytes.Buffer
	b.WriteString("# HELP grad_norm Gradient norm per layer.\n# TYPE grad_norm gauge\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "grad_norm{gpu=\"%d\",layer=\"layer%04d\"} %g\n", i%8, i, float64(step)/float64(i+1))
	}
	return b.Bytes()
}

func run(url string, conc, series int, dur time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	var pushes, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for step := 0; ctx.Err() == nil; step++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/metrics/job/load/run/r%d", url, c), bytes.NewReader(body(series, step)))
				req.Header.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %s", resp.Status, msg))
					continue
				}
				pushes.Add(1)
			}
		}(c)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	n := pushes.Load()
	fmt.Printf("pushes %d (%d failed) of %d series in %.1fs: %.0f pushes/s, %.0f samples/s\n",
		n, failed.Load(), series, el, float64(n)/el, float64(n)*float64(series)/el)
	if e := firstErr.Load(); e != nil {
		fmt.Printf("first failure: %v\n", e)
	}
	if n == 0 {
		return fmt.Errorf("no push succeeded")
	}
	return nil
}
