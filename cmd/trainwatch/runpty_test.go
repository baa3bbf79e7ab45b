package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// terminalRun is "trainwatch run" started by a test on a terminal of the
// test's (the way a shell starts it): the test types on term and reads
// what trainwatch writes to it.
type terminalRun struct {
	cmd  *exec.Cmd
	term *os.File // the test's side (pty master)
	tty  *os.File // trainwatch's terminal, kept open to check its settings
	out  *syncBuffer
	orig *unix.Termios
}

// startOnTerminal starts bin with args on a new terminal of rows×cols, as
// the leader of its session with the terminal as its controlling one.
func startOnTerminal(t *testing.T, bin string, rows, cols uint16, args ...string) *terminalRun {
	t.Helper()
	term, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := pty.Setsize(term, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	orig, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &terminalRun{cmd: cmd, term: term, tty: tty, out: &syncBuffer{}, orig: orig}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := term.Read(buf)
			_, _ = r.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = tty.Close()
		_ = term.Close()
	})
	return r
}

func (r *terminalRun) typeIn(t *testing.T, s string) {
	t.Helper()
	if _, err := r.term.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// wait waits for trainwatch to exit and returns its exit code.
func (r *terminalRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("trainwatch did not exit within %s; terminal shows:\n%s", d, r.out.String())
		return -1
	}
}

// restored checks that trainwatch left its terminal's settings as it found
// them.
func (r *terminalRun) restored(t *testing.T) {
	t.Helper()
	now, err := unix.IoctlGetTermios(int(r.tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if now.Iflag != r.orig.Iflag || now.Oflag != r.orig.Oflag || now.Lflag != r.orig.Lflag || now.Cflag != r.orig.Cflag {
		t.Errorf("terminal settings not restored: %+v, was %+v", now, r.orig)
	}
}

// runBinary builds trainwatch for the tests that run it on a terminal.
func runBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "trainwatch")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRunPTY runs trainwatch on a terminal of the test's.
//
// Ctrl-C typed on the terminal reaches the command exactly once. With a
// pseudo-terminal (the default when stdout is a terminal), trainwatch's
// terminal is raw and the key goes through the command's own terminal;
// with --no-pty the terminal signals the foreground group, the command
// included, and trainwatch must not forward it again. Either way the
// command dies of SIGINT and trainwatch exits 130, its terminal restored.
//
// On a pseudo-terminal the command's stdin, stdout and stderr are terminals
// of the size of ours, typed lines reach it, a resize of our terminal
// reaches it (SIGWINCH), and our terminal is restored after.
func TestRunPTY(t *testing.T) {
	python := testenv.LookPath(t, "python3")
	bin := runBinary(t)
	signals, err := filepath.Abs("testdata/python/run_signals.py")
	if err != nil {
		t.Fatal(err)
	}
	tty, err := filepath.Abs("testdata/python/run_tty.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		seen  string
	}{
		{"ctrl-c pty", nil, "tty"},
		{"ctrl-c no-pty", []string{"--no-pty"}, "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"run", "--url", "http://127.0.0.1:1", "--no-watch"}, tc.flags...)
			r := startOnTerminal(t, bin, 30, 100, append(args, "--", python, signals, "SIGINT")...)
			waitFor(t, r.out, "ready", 15*time.Second)
			if !strings.Contains(r.out.String(), "\n"+tc.seen+"\r") {
				t.Errorf("the command's stdout should be a %s:\n%s", tc.seen, r.out.String())
			}
			r.typeIn(t, "\x03")
			if code := r.wait(t, 20*time.Second); code != 130 {
				t.Errorf("exit %d, want 130:\n%s", code, r.out.String())
			}
			waitFor(t, r.out, "exit code 130", 5*time.Second)
			if !strings.Contains(r.out.String(), "SIGINT x1") {
				t.Errorf("Ctrl-C not delivered exactly once:\n%s", r.out.String())
			}
			r.restored(t)
		})
	}
	t.Run("background", func(t *testing.T) {
		t.Parallel()
		// A shell with job control starts trainwatch in the background:
		// trainwatch must neither be stopped (SIGTTOU) nor take the
		// terminal's settings or keys.
		script := python + ` -c 'import sys; print("child isatty", sys.stdin.isatty(), sys.stdout.isatty())'`
		r := startOnTerminal(t, "sh", 30, 100, "-m", "-c", bin+` run --url http://127.0.0.1:1 --no-watch -- `+script+` & wait $!; echo "status $?"`)
		if code := r.wait(t, 30*time.Second); code != 0 {
			t.Errorf("exit %d:\n%s", code, r.out.String())
		}
		waitFor(t, r.out, "status 0", 5*time.Second)
		if !strings.Contains(r.out.String(), "child isatty True True") {
			t.Errorf("the command should have a terminal:\n%s", r.out.String())
		}
		r.restored(t)
	})
	t.Run("terminal", func(t *testing.T) {
		t.Parallel()
		r := startOnTerminal(t, bin, 30, 100, "run", "--url", "http://127.0.0.1:1", "--no-watch", "--", python, tty)
		waitFor(t, r.out, "ready", 15*time.Second)
		if !strings.Contains(r.out.String(), "isatty 111 size 100x30") {
			t.Errorf("want a 100x30 terminal on stdin, stdout and stderr:\n%s", r.out.String())
		}
		r.typeIn(t, "hello\r")
		waitFor(t, r.out, "echo hello", 10*time.Second)
		if err := pty.Setsize(r.term, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, r.out, "winch 120x40", 10*time.Second)
		r.typeIn(t, "quit\r")
		if code := r.wait(t, 20*time.Second); code != 0 {
			t.Errorf("exit %d:\n%s", code, r.out.String())
		}
		waitFor(t, r.out, "bye", 5*time.Second)
		r.restored(t)
	})
}

// TestRunForwardSignal: which signals trainwatch passes on, by how the
// command is connected.
func TestRunForwardSignal(t *testing.T) {
	for _, tc := range []struct {
		mode signalMode
		sig  syscall.Signal
		want bool
	}{
		{sigPipes, syscall.SIGINT, true},
		{sigPipes, syscall.SIGQUIT, true},
		{sigPipes, syscall.SIGTERM, true},
		{sigPipes, syscall.SIGHUP, true},
		{sigPipesForeground, syscall.SIGINT, false},
		{sigPipesForeground, syscall.SIGQUIT, false},
		{sigPipesForeground, syscall.SIGTERM, true},
		{sigPipesForeground, syscall.SIGHUP, true},
		{sigPTY, syscall.SIGINT, true},
		{sigPTY, syscall.SIGQUIT, true},
		{sigPTY, syscall.SIGTERM, true},
		{sigPTY, syscall.SIGHUP, true},
		{sigPTY, syscall.SIGWINCH, false},
	} {
		if got := forwardSignal(tc.mode, tc.sig); got != tc.want {
			t.Errorf("forwardSignal(%d, %v) = %v, want %v", tc.mode, tc.sig, got, tc.want)
		}
	}
}
