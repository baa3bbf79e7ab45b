package main

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds trainwatch once for the process-level tests. It builds
// with -trimpath, as scripts/release.sh does, so that the release test's
// build finds every package compiled already (only the link differs).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trainwatch")
	out, err := exec.Command("go", "build", "-trimpath", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// waitExit waits for cmd and returns its exit code, failing after d.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		_ = cmd.Process.Kill()
		t.Fatalf("process did not exit within %s of the signal", d)
		return -1
	}
}

// TestSignalsStopCleanly runs the real binary: serve stops on SIGTERM and
// SIGINT with status 0; record stops on SIGINT after whole lines.
func TestSignalsStopCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("serve "+sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
			pipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 100)
			go func() {
				defer close(lines)
				for sc := bufio.NewScanner(pipe); sc.Scan(); {
					lines <- sc.Text()
				}
			}()
			// Wait until it says where it listens, then until it is ready.
			deadline := time.Now().Add(10 * time.Second)
			var addr string
			var log strings.Builder
			for addr == "" {
				select {
				case l := <-lines:
					log.WriteString(l + "\n")
					for _, f := range strings.Fields(l) {
						if strings.HasPrefix(f, "address=") {
							addr = strings.TrimPrefix(f, "address=")
						}
					}
				case <-time.After(time.Until(deadline)):
					_ = cmd.Process.Kill()
					t.Fatalf("serve never logged its address: %s", log.String())
				}
			}
			for time.Now().Before(deadline) {
				if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						break
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			stop := time.After(10 * time.Second)
		drain: // until stderr closes at exit
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						break drain
					}
					log.WriteString(l + "\n")
				case <-stop:
					_ = cmd.Process.Kill()
					t.Fatalf("serve still running 10s after %s: %s", sig, log.String())
				}
			}
			if code := waitExit(t, cmd, 10*time.Second); code != 0 {
				t.Fatalf("serve exited %d after %s: %s", code, sig, log.String())
			}
			if !strings.Contains(log.String(), "HTTP server stopped") {
				t.Errorf("no clean shutdown in the log: %s", log.String())
			}
		})
	}

	t.Run("record SIGINT", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "m.jsonl")
		cmd := exec.Command(bin, "record", "--interval", "200ms", "--output", out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := waitExit(t, cmd, 10*time.Second); code != 0 {
			t.Fatalf("record exited %d after SIGINT", code)
		}
		f, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(f) == 0 || f[len(f)-1] != '\n' {
			t.Fatal("record left a torn or empty file")
		}
		n := 0
		for sc := bufio.NewScanner(bytes.NewReader(f)); sc.Scan(); {
			n++
		}
		if n < 3 {
			t.Fatalf("%d lines in 2s at 200ms", n)
		}
	})
}
