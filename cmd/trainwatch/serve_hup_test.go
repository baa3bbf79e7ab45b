package main

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestServeSurvivesSIGHUP: SIGHUP (systemctl reload) reloads rules, and an
// agent with no history, so no rules, must not die of it; SIGTERM then
// stops it with status 0.
func TestServeSurvivesSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	bin := buildBinary(t)
	for _, args := range [][]string{{"--no-history"}, {}} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--data-dir", t.TempDir(), "--log.level", "warn"}, args...)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			ready := func() bool {
				resp, err := http.Get("http://" + addr + "/-/ready")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			}
			deadline := time.Now().Add(30 * time.Second)
			for !ready() {
				if time.Now().After(deadline) {
					t.Fatal("the agent never became ready")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				t.Fatalf("the agent exited on SIGHUP: %v", err)
			case <-time.After(500 * time.Millisecond):
			}
			if !ready() {
				t.Fatal("the agent does not answer after SIGHUP")
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("SIGTERM: %v, want exit status 0", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the agent did not stop on SIGTERM")
			}
		})
	}
}
