package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// The machine's description and the /proc reads are bench/internal/machine's,
// shared with bench/overhead.

// goBuild builds ./cmd/trainwatch into out, -trimpath as the tests and the
// release build it (so the build cache is shared).
func goBuild(ctx context.Context, out string) error {
	root, err := machine.ModuleRoot()
	if err != nil {
		return err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", out, "./cmd/trainwatch")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/trainwatch: %w\n%s", err, b)
	}
	return nil
}

// childAttr puts the agent in its own process group (a Ctrl-C on the
// terminal reaches only the harness, which then stops it) and has the
// kernel kill it should the harness die without cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// agent is a started `trainwatch serve`.
type agent struct {
	cmd     *exec.Cmd
	pid     int
	base    string // http://127.0.0.1:PORT
	dataDir string
	args    []string
	logPath string
	done    chan struct{} // closed once Wait returned
	waitErr error
}

// startAgent starts bin serve on a free loopback port with a fresh data
// directory under dir.
// A blockDuration above 0 is passed as --storage.tsdb.block-duration.
func startAgent(bin, dir, logLevel string, blockDuration time.Duration) (*agent, error) {
	port, err := machine.FreePort()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"serve", "--listen", listen, "--data-dir", filepath.Join(dir, "data"),
		"--interval", "1s", "--demo", "--web.enable-pprof", "--log.level", logLevel}
	if blockDuration > 0 {
		args = append(args, "--storage.tsdb.block-duration", blockDuration.String())
	}
	logPath := filepath.Join(dir, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	a := &agent{cmd: cmd, pid: cmd.Process.Pid, base: "http://" + listen, dataDir: filepath.Join(dir, "data"), args: args, logPath: logPath, done: make(chan struct{})}
	go func() {
		a.waitErr = cmd.Wait()
		logf.Close()
		close(a.done)
	}()
	return a, nil
}

// exited reports whether the agent has exited.
func (a *agent) exited() bool { return machine.Closed(a.done) }

// logTail returns the last lines of the agent's output, for errors.
func (a *agent) logTail() string { return machine.LogTail(a.logPath, 12) }

// waitReady waits until /-/ready answers 200 (after the first tick).
func (a *agent) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		if a.exited() {
			return fmt.Errorf("trainwatch exited before it was ready (%v):\n%s", a.waitErr, a.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("trainwatch not ready after %s:\n%s", limit, a.logTail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/-/ready", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := machine.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills
// the agent. It returns how the agent ended.
func (a *agent) stop(grace time.Duration) string {
	if a.exited() {
		return fmt.Sprintf("had exited already: %v", a.waitErr)
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
		if a.waitErr != nil {
			return fmt.Sprintf("exited after SIGTERM with %v", a.waitErr)
		}
		return "exited cleanly (status 0) after SIGTERM"
	case <-time.After(grace):
		_ = a.cmd.Process.Kill()
		<-a.done
		return fmt.Sprintf("did not exit within %s of SIGTERM: killed", grace)
	}
}
