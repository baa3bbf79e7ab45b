package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// asFile returns the *os.File behind r or w, if any.
func asFile(x any) *os.File {
	f, _ := x.(*os.File)
	return f
}

// isForeground reports whether this process's group is the foreground
// process group of the terminal f: the group the terminal sends SIGINT
// (Ctrl-C) and SIGQUIT (Ctrl-\) to.
func isForeground(f *os.File) bool {
	pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// signalMode says how the command is connected, which decides the signals
// "trainwatch run" forwards to it.
type signalMode int

const (
	// sigPipes: pipes, and no terminal of ours sends the command signals
	// (stdin is not a terminal, or we run in the background): everything
	// we receive is forwarded.
	sigPipes signalMode = iota
	// sigPipesForeground: pipes, with a terminal on stdin whose foreground
	// group we are in. The command is in our process group, so the
	// terminal's Ctrl-C and Ctrl-\ reach it directly; forwarding
	// SIGINT/SIGQUIT would deliver them twice.
	sigPipesForeground
	// sigPTY: the command has a terminal of its own (a new session). Our
	// terminal is in raw mode, so Ctrl-C reaches the command as a byte
	// through its pseudo-terminal, never as a signal to us; a signal we
	// receive was sent to us (kill, a scheduler, a hang-up) and is
	// forwarded to the command's process group.
	sigPTY
)

// forwardSignal reports whether sig, received by "trainwatch run", is
// passed on to the command in mode m.
func forwardSignal(m signalMode, sig os.Signal) bool {
	switch sig {
	case syscall.SIGINT, syscall.SIGQUIT:
		return m != sigPipesForeground
	case syscall.SIGTERM, syscall.SIGHUP:
		return true
	}
	return false
}

// rawTerminal puts the terminal f in raw mode for input (no echo, no line
// editing, no signals from Ctrl-C/Ctrl-\/Ctrl-Z: those bytes go to the
// command's own terminal) and returns what restores it. Output processing
// is kept, so that our own messages still end their lines properly. The
// restore func may be called more than once.
func rawTerminal(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}, fmt.Errorf("read the terminal's settings: %w", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return func() {}, fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) })
	}, nil
}

// ptySession is a command running on a pseudo-terminal of its own.
type ptySession struct {
	ptmx    *os.File
	restore func()
	// out copies the command's terminal output.
	out *fdCopier
	// stop ends the input copy and the window-size updates; inDone closes
	// when the input copy ended.
	stop     chan struct{}
	inDone   chan struct{}
	stopOnce sync.Once
	winch    chan os.Signal
}

// startPTY starts cmd with a new pseudo-terminal as its stdout (and as its
// stdin and stderr where ours are terminals), copying what it writes to
// out, and our terminal's keys to it (in raw mode, when we are in its
// foreground); stdin that is not a terminal is given to the command
// unchanged. stdout is our terminal: its size is the
// command's, now and on every SIGWINCH. errOut takes the command's stderr
// when ours is not a terminal.
func startPTY(cmd *exec.Cmd, stdin io.Reader, stdout, stderr *os.File, out *lineTee, errOut io.Writer) (*ptySession, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open a pseudo-terminal (use --no-pty to run the command on pipes): %w", err)
	}
	defer tty.Close()
	if ws, err := pty.GetsizeFull(stdout); err == nil {
		_ = pty.Setsize(ptmx, ws)
	}
	s := &ptySession{ptmx: ptmx, restore: func() {}, stop: make(chan struct{}), inDone: make(chan struct{})}

	inFile := asFile(stdin)
	inTerm := isTerminal(inFile)
	// Started in the background (`trainwatch run ... &`), we must not
	// touch the terminal (changing its settings would stop us with
	// SIGTTOU) nor read it (the keys are the shell's): the command gets a
	// terminal on which no key arrives.
	keys := inTerm && isForeground(inFile)
	cmd.Stdout = tty
	ctty := 1
	if inTerm {
		cmd.Stdin = tty
		ctty = 0
	} else {
		cmd.Stdin = stdin
	}
	if isTerminal(stderr) {
		cmd.Stderr = tty
	} else {
		cmd.Stderr = errOut
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: ctty}

	if keys {
		restore, err := rawTerminal(inFile)
		if err != nil {
			_ = ptmx.Close()
			return nil, err
		}
		s.restore = restore
	}
	if err := cmd.Start(); err != nil {
		s.restore()
		_ = ptmx.Close()
		return nil, err
	}

	// Fd puts the terminal in blocking mode, for the copier's plain reads.
	out.batch = true
	s.out = startCopier(int(ptmx.Fd()), true, panicRestorer{out, s})
	if keys {
		go s.copyInput(inFile)
	} else {
		close(s.inDone)
	}
	s.winch = make(chan os.Signal, 1)
	signal.Notify(s.winch, syscall.SIGWINCH)
	go func() {
		for {
			select {
			case <-s.winch:
				if ws, err := pty.GetsizeFull(stdout); err == nil {
					_ = pty.Setsize(ptmx, ws)
				}
			case <-s.stop:
				return
			}
		}
	}()
	return s, nil
}

// restoreOnPanic restores the terminal before a panic in a goroutine of
// the session ends the process.
func (s *ptySession) restoreOnPanic() {
	if p := recover(); p != nil {
		s.restore()
		panic(p)
	}
}

// panicRestorer is the session's output writer: a panic while writing (in
// the copier's goroutine) restores our terminal first.
type panicRestorer struct {
	w io.Writer
	s *ptySession
}

func (p panicRestorer) Write(b []byte) (int, error) {
	defer p.s.restoreOnPanic()
	return p.w.Write(b)
}

func (p panicRestorer) idle() {
	defer p.s.restoreOnPanic()
	if d, ok := p.w.(idler); ok {
		d.idle()
	}
}

// copyInput copies our terminal's input to the command's terminal until
// the session stops. It waits for input with poll(2) and a timeout, so
// that no key typed after the command ended is swallowed.
func (s *ptySession) copyInput(in *os.File) {
	defer close(s.inDone)
	defer s.restoreOnPanic()
	fd := int(in.Fd())
	buf := make([]byte, 4096)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, err := unix.Poll(fds, 100)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if n == 0 {
			continue
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 && fds[0].Revents&unix.POLLIN == 0 {
			return
		}
		m, err := unix.Read(fd, buf)
		if m > 0 {
			if _, werr := s.ptmx.Write(buf[:m]); werr != nil {
				return
			}
		}
		if err != nil && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) {
			return
		}
		if m == 0 && err == nil {
			return // end of input
		}
	}
}

// finish waits (up to linger) for the command's output to be copied once
// it has exited, stops the session and restores our terminal. A process
// that outlives the command and keeps its terminal open is cut off after
// linger.
func (s *ptySession) finish(linger time.Duration) {
	s.out.finish(linger)
	s.stopOnce.Do(func() {
		close(s.stop)
		signal.Stop(s.winch)
		<-s.inDone
		_ = s.ptmx.Close()
	})
	s.restore()
}
