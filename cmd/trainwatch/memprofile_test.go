package main

import (
	"bufio"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHeapProfileWithPprof checks that serve --web.enable-pprof turns heap
// profiling back on after main turned it off: /debug/pprof/heap reports
// the runtime's default sampling rate (its header's heap/2*rate).
func TestHeapProfileWithPprof(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	bin := buildBinary(t)
	addr := freeLoopbackPort(t)
	cmd := exec.Command(bin, "serve", "--listen", addr, "--no-history", "--web.enable-pprof", "--log.level", "warn", "--data-dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
		if err == nil {
			line, _ := bufio.NewReader(resp.Body).ReadString('\n')
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if want := "@ heap/1048576"; !strings.Contains(line, want) {
					t.Fatalf("heap profile header %q lacks %q: sampling is not at the default rate", strings.TrimSpace(line), want)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heap profile within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
