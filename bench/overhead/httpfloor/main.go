// Command httpfloor is the floor of serving /metrics: a Go net/http server
// that answers every request with one body made at start-up, so that a
// request costs only what the kernel, the Go runtime and net/http cost. The
// overhead harness (bench/overhead) measures its latency next to
// trainwatch's, on the same machine and in the same run: what trainwatch
// adds is the difference.
//
// The body is synthetic OpenMetrics text the size of trainwatch --demo's
// (-bytes, default 377,000: about 3,100 series with DCGM-style labels),
// compressed once at BestSpeed; a request that accepts gzip gets the
// compressed body, as a Prometheus scrape does. /-/ready answers 200.
//
//	go build -o /tmp/httpfloor ./bench/overhead/httpfloor && /tmp/httpfloor -listen 127.0.0.1:9999
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
)

func main() {
	fs := flag.NewFlagSet("httpfloor", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9999", "address to serve on")
	size := fs.Int("bytes", 377_000, "size of the uncompressed body")
	_ = fs.Parse(os.Args[1:])
	raw := body(*size)
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	const contentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		b := raw
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			b = gz.Bytes()
		}
		h.Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ready")
	})
	log.Printf("serving %d bytes (%d gzipped) on %s", len(raw), gz.Len(), *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}

// body returns about size bytes of OpenMetrics text: gauges of 8 GPUs with
// DCGM's labels, a PID and changing values, compressing about as well as
// trainwatch's body (10:1 at BestSpeed).
func body(size int) []byte {
	var b bytes.Buffer
	x := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { // xorshift: the same body every start
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	for f := 0; b.Len() < size; f++ {
		name := fmt.Sprintf("DCGM_FI_DEV_FIELD_%d", f)
		fmt.Fprintf(&b, "# HELP %s Field %d of every GPU.\n# TYPE %s gauge\n", name, f, name)
		for gpu := 0; gpu < 8 && b.Len() < size; gpu++ {
			fmt.Fprintf(&b, "%s{gpu=\"%d\",UUID=\"GPU-%08x-1c2d-4e5f-8a9b-%012x\",pci_bus_id=\"00000000:%02X:00.0\",device=\"nvidia%d\",modelName=\"NVIDIA H200\",Hostname=\"gpu-node-01\",pid=\"%d\"} %d.%06d\n",
				name, gpu, uint32(gpu)*0x1f3d5b79, uint64(gpu)*0x9b1c3e5f7, 0x18+gpu*0x10, gpu, next()%4000000, next()%100000, next()%1000000)
		}
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}
