package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/logparse"
	"github.com/trainwatch/trainwatch/internal/runs"
)

// The output path of "trainwatch run": the command's bytes are written to
// our own stdout/stderr as they come, in the writer's goroutine, and only
// then handed, as blocks of whole lines, to one parsing goroutine. Parsing
// is never on the path of the output: it runs on an OS thread of the
// lowest priority (nice 19), so that it takes only CPU time the command
// does not want, within parseBudget; when it falls behind (a command
// printing tens of MB/s of metric lines), the oldest waiting blocks are
// left unparsed and counted rather than slowing the command down.
const (
	// teeBlockSize is the size of the blocks handed to the parser: writes
	// are cut at line ends into blocks of at most this (a longer line
	// makes a longer block).
	teeBlockSize = 64 << 10
	// teeQueueBlocks bounds the blocks waiting for the parser, so that at
	// most teeQueueBlocks × teeBlockSize bytes of output are held, and
	// parsed at the end.
	teeQueueBlocks = 16
	// parseBudget is the parsing time allowed per parseWindow: a tenth
	// of a core, some 70,000 metric lines a second, far more than training
	// prints. Beyond it, output goes through unparsed (and counted) until
	// the next window; the last output of the command is parsed
	// regardless, so the last values are not lost.
	parseBudget = 10 * time.Millisecond
	parseWindow = 100 * time.Millisecond
)

// lineParser parses blocks of whole lines on its own goroutine and hands
// the entries found to observe.
type lineParser struct {
	parser  *logparse.Parser
	observe func(runs.Entry)
	now     func() time.Time

	blocks  chan []byte
	free    chan []byte
	done    chan struct{}
	closing sync.Once
	// final is set once the command exited: the last blocks are parsed
	// whatever the budget.
	final atomic.Bool
	// skipped counts the lines left unparsed because the parser was behind.
	skipped atomic.Int64
	// parsed counts the lines parsed.
	parsed atomic.Int64
}

// newLineParser starts the parsing goroutine; close stops it after the
// queued blocks are parsed.
func newLineParser(p *logparse.Parser, observe func(runs.Entry)) *lineParser {
	lp := &lineParser{
		parser:  p,
		observe: observe,
		now:     time.Now,
		blocks:  make(chan []byte, teeQueueBlocks),
		free:    make(chan []byte, teeQueueBlocks+4),
		done:    make(chan struct{}),
	}
	go lp.loop()
	return lp
}

// close parses what is queued and waits for the goroutine to end.
func (lp *lineParser) close() {
	lp.closing.Do(func() {
		lp.final.Store(true)
		close(lp.blocks)
	})
	<-lp.done
}

func (lp *lineParser) loop() {
	defer close(lp.done)
	// The thread is never unlocked: it ends with the goroutine, its
	// priority with it.
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
	var window time.Time
	var used time.Duration
	for b := range lp.blocks {
		if now := lp.now(); now.Sub(window) >= parseWindow {
			window, used = now, 0
		}
		// Once the command exited, the last two blocks are parsed whatever
		// the budget: they hold the last values.
		if used < parseBudget || lp.final.Load() && len(lp.blocks) < 2 {
			// The budget counts this thread's CPU time, not wall time: a
			// nice-19 thread waiting for a busy CPU is not parsing.
			start := threadCPU()
			lp.parseBlock(b)
			used += threadCPU() - start
		} else {
			lp.skipped.Add(int64(countLineEnds(b)))
		}
		select {
		case lp.free <- b[:0]:
		default:
		}
	}
}

// parseBlock parses each line of b (lines end at \n or \r; empty ones are
// skipped). The block becomes one string, so that a line costs no
// allocation unless it holds metrics.
func (lp *lineParser) parseBlock(b []byte) {
	s := string(b)
	now := lp.now()
	n := int64(0)
	for len(s) > 0 {
		i := indexLineEnd(s)
		var line string
		if i < 0 {
			line, s = s, ""
		} else {
			line, s = s[:i], s[i+1:]
		}
		if len(line) == 0 {
			continue
		}
		n++
		if e, ok := lp.parser.Line(line, now); ok {
			lp.observe(e)
		}
	}
	lp.parsed.Add(n)
}

// indexLineEnd returns the index of the first \n or \r in s, or -1.
func indexLineEnd(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// getBlock returns an empty block with room for n bytes.
func (lp *lineParser) getBlock(n int) []byte {
	select {
	case b := <-lp.free:
		if cap(b) >= n {
			return b
		}
	default:
	}
	return make([]byte, 0, max(n, teeBlockSize))
}

// submit queues a block of whole lines. When the parser is behind, the
// oldest waiting block is dropped (its lines counted as skipped): the
// latest output says the most about the run.
func (lp *lineParser) submit(b []byte) {
	for {
		select {
		case lp.blocks <- b:
			return
		default:
		}
		select {
		case old := <-lp.blocks:
			lp.skipped.Add(int64(countLineEnds(old)))
			select {
			case lp.free <- old[:0]:
			default:
			}
		default:
		}
	}
}

// threadCPU is the CPU time the calling OS thread has used (the parser's
// goroutine is locked to its thread).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func countLineEnds(b []byte) int {
	return bytes.Count(b, []byte{'\n'}) + bytes.Count(b, []byte{'\r'})
}

// lineTee is the io.Writer given for one output stream of the command: it
// writes to out first, then queues the whole lines for the lineParser. A
// line longer than runMaxLine is not parsed. It is used from one goroutine
// at a time.
type lineTee struct {
	out io.Writer
	lp  *lineParser
	// carry is the start of a line whose end has not come yet.
	carry []byte
	// long is set while the current line is past runMaxLine: the rest of
	// it, up to its end, is not parsed.
	long bool
	// outGone is set once out failed: the command goes on, unseen.
	outGone bool
	// batch: lines gather in pending until it is a block's worth or idle
	// is called (by an fdCopier, when the command's output pauses), so
	// that small writes (a terminal hands out 4 KiB at most) do not wake
	// the parser each. Without batch, each write's lines go at once.
	batch   bool
	pending []byte
}

func newLineTee(out io.Writer, lp *lineParser) *lineTee {
	return &lineTee{out: out, lp: lp}
}

// idler is a writer told when the output pauses.
type idler interface{ idle() }

// idle hands the lines gathered so far to the parser.
func (t *lineTee) idle() {
	if len(t.pending) > 0 {
		t.lp.submit(t.pending)
	}
	t.pending = nil
}

// Write passes p through and queues its complete lines. It never fails: a
// closed stdout must not kill the command (the lines are still parsed).
func (t *lineTee) Write(p []byte) (int, error) {
	if !t.outGone {
		if _, err := t.out.Write(p); err != nil {
			t.outGone = true
		}
	}
	t.feed(p)
	return len(p), nil
}

// feed queues the complete lines of p (with the carried start of the first).
func (t *lineTee) feed(p []byte) {
	last := lastLineEnd(p)
	if last < 0 {
		t.addCarry(p)
		return
	}
	whole := p[:last+1]
	if t.long {
		// The end of a long line: skip up to it.
		i := bytes.IndexAny(whole, "\r\n")
		whole = whole[i+1:]
		t.long = false
	}
	for len(t.carry)+len(whole) > teeBlockSize && len(t.carry) < teeBlockSize {
		cut := lastLineEnd(whole[:min(teeBlockSize-len(t.carry), len(whole))])
		if cut < 0 {
			break // a line longer than a block: one longer block
		}
		t.queue(whole[:cut+1])
		whole = whole[cut+1:]
	}
	t.queue(whole)
	t.addCarry(p[last+1:])
}

// queue hands carry+whole to the parser (or to pending) and empties
// carry.
func (t *lineTee) queue(whole []byte) {
	if len(t.carry)+len(whole) == 0 {
		return
	}
	if t.batch {
		if t.pending == nil {
			t.pending = t.lp.getBlock(teeBlockSize)
		}
		t.pending = append(t.pending, t.carry...)
		t.pending = append(t.pending, whole...)
		t.carry = t.carry[:0]
		if len(t.pending) >= teeBlockSize {
			t.idle()
		}
		return
	}
	b := t.lp.getBlock(len(t.carry) + len(whole))
	b = append(b, t.carry...)
	b = append(b, whole...)
	t.carry = t.carry[:0]
	if len(b) > 0 {
		t.lp.submit(b)
	}
}

// addCarry keeps the unfinished line b, unless it grows past runMaxLine.
func (t *lineTee) addCarry(b []byte) {
	if t.long || len(b) == 0 {
		return
	}
	if len(t.carry)+len(b) > runMaxLine {
		t.long = true
		t.carry = t.carry[:0]
		return
	}
	t.carry = append(t.carry, b...)
}

// flush queues the unfinished last line, once the command has exited.
func (t *lineTee) flush() {
	if !t.long && len(t.carry) > 0 {
		t.queue(nil)
	}
	t.carry, t.long = t.carry[:0], false
	t.idle()
}

// lastLineEnd returns the index of the last \n or \r in p, or -1.
func lastLineEnd(p []byte) int {
	for i := len(p) - 1; i >= 0; i-- {
		if c := p[i]; c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

const (
	// pipeSize is the size asked for the command's output pipes (Linux
	// allows unprivileged processes up to /proc/sys/fs/pipe-max-size, 1 MiB
	// by default); the default 64 KiB is kept when refused.
	pipeSize = 1 << 20
	// copyReadSize is the most one read takes.
	copyReadSize = 256 << 10
	// copyCoalesce is how long a copier waits once it has read all there
	// was, so that output gathers in the pipe or terminal: a command
	// printing fast then wakes us a few hundred times a second, not at
	// each of its writes. Output is delayed by at most this much.
	copyCoalesce = 2 * time.Millisecond
	// copyPollMs is how often a copier waiting for output checks whether
	// it was stopped.
	copyPollMs = 100
)

// fdCopier copies what is read from a file descriptor to a writer. It reads
// with plain blocking system calls on an OS thread of its own, never
// through the Go runtime's poller: on a command printing megabytes a
// second, the runtime's park/wake-up cycle per read cost several times the
// copy itself. The descriptor is not closed here.
type fdCopier struct {
	fd int
	// tty: fd is a terminal's master side, which hands out at most
	// ttyReadMax bytes a read, filled from the kernel's buffer
	// asynchronously.
	tty  bool
	stop atomic.Bool
	done chan struct{}
}

// ttyReadMax is the most a read of a terminal returns (N_TTY_BUF_SIZE).
const ttyReadMax = 4096

// startCopier copies fd to dst until the end of the file, an error, or
// finish.
func startCopier(fd int, tty bool, dst io.Writer) *fdCopier {
	c := &fdCopier{fd: fd, tty: tty, done: make(chan struct{})}
	go c.loop(dst)
	return c
}

func (c *fdCopier) loop(dst io.Writer) {
	defer close(c.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, copyReadSize)
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
	pause := unix.NsecToTimespec(copyCoalesce.Nanoseconds())
	idle := func() {}
	if d, ok := dst.(idler); ok {
		idle = d.idle
	}
	for !c.stop.Load() {
		n, err := unix.Poll(fds, copyPollMs)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n <= 0 {
			idle()
			continue
		}
		m, err := unix.Read(c.fd, buf)
		if m > 0 {
			_, _ = dst.Write(buf[:m])
		}
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case err != nil || m == 0:
			return // the end (EIO: every holder of a terminal closed it)
		}
		if m == len(buf) || c.tty && m >= ttyReadMax {
			continue // more is waiting
		}
		// Nothing more right now: let output gather.
		if n, _ := unix.Poll(fds, 0); n <= 0 {
			idle()
			_ = unix.Nanosleep(&pause, nil)
		}
	}
}

// finish waits up to linger for the copy to reach the end once the command
// exited (a background process that inherited the pipe or terminal and
// keeps it open is cut off then), and stops it.
func (c *fdCopier) finish(linger time.Duration) {
	select {
	case <-c.done:
	case <-time.After(linger):
	}
	c.stop.Store(true)
	<-c.done
}

// outPipe is one output stream of the command, on a pipe of our own.
type outPipe struct {
	r int      // our end
	w *os.File // the command's end, closed here once it started
	c *fdCopier
}

// newOutPipe makes the pipe; start begins copying it.
func newOutPipe() (*outPipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("make a pipe for the command's output: %w", err)
	}
	_, _ = unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize)
	return &outPipe{r: fds[0], w: os.NewFile(uintptr(fds[1]), "|1")}, nil
}

// start closes our copy of the command's end and copies the pipe to dst.
func (p *outPipe) start(dst *lineTee) {
	_ = p.w.Close()
	dst.batch = true
	p.c = startCopier(p.r, false, dst)
}

// abandon closes both ends when the command did not start.
func (p *outPipe) abandon() {
	_ = p.w.Close()
	_ = unix.Close(p.r)
}

// finish ends the copy (see fdCopier.finish) and closes the pipe.
func (p *outPipe) finish(linger time.Duration) {
	p.c.finish(linger)
	_ = unix.Close(p.r)
}

// A fileTail reads what was added to the file every tailFast while the
// command writes, every tailInterval while it does not: what is left to
// read when the command exits, which it waits for, is then at most
// tailFast's worth of output (a 200 ms period left up to 19 MB to read at
// the end of a run printing 95 MB/s, 10–50 ms more run time).
const (
	tailFast     = 20 * time.Millisecond
	tailInterval = 200 * time.Millisecond
)

// fileTail reads back, for the parser, what the command writes to a
// regular file that it was given as its stdout (or stderr) directly: with
// output to a file (`> train.log`, nohup, a batch scheduler), there is then
// no pipe between the command and its file at all, and the command runs
// exactly as fast as without trainwatch. Reading starts at the file's size
// when the command starts; a file that shrinks (truncated by a log rotator)
// is read again from its start.
//
// Output to /dev/null goes the same way, to a file in memory (memfd)
// instead of a pipe: a pipe costs the writer a wake-up of the reader and
// a stall whenever it is full (+16 % to +55 % of the run time of a command
// printing 50 MB, more than `| cat`), a file costs it a copy. What was
// read is freed at once (a hole punched), so the file holds at most what
// the command writes in a tailFast; once the command has exited, the
// file is emptied and sealed, so that a process left behind that still
// writes to it gets EPERM rather than filling memory.
type fileTail struct {
	f   *os.File
	off int64
	// memory is set for the in-memory file that stands for /dev/null.
	memory bool
	// freed is where the hole punched so far ends.
	freed int64
	stop  chan struct{}
	done  chan struct{}
}

// newFileTail opens out again for reading, if it is a regular file.
func newFileTail(out *os.File) (*fileTail, bool) {
	fi, err := out.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	f, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(out.Fd())))
	if err != nil {
		return nil, false
	}
	return &fileTail{f: f, off: fi.Size(), stop: make(chan struct{}), done: make(chan struct{})}, true
}

// isDevNull reports whether f is /dev/null (the character device 1:3).
func isDevNull(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(uint64(st.Rdev)) == 1 && unix.Minor(uint64(st.Rdev)) == 3
}

// newMemoryTail makes the in-memory file that the command writes to in
// place of /dev/null; the command is given f itself.
func newMemoryTail() (*fileTail, error) {
	fd, err := unix.MemfdCreate("trainwatch-run-output", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("make an in-memory file for the command's output: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:trainwatch-run-output")
	return &fileTail{f: f, memory: true, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// start reads the file every tailFast or tailInterval into dst until finish.
func (t *fileTail) start(dst io.Writer) {
	go func() {
		defer close(t.done)
		buf := make([]byte, copyReadSize)
		timer := time.NewTimer(tailInterval)
		defer timer.Stop()
		for {
			wait := tailInterval
			if t.readNew(buf, dst) {
				wait = tailFast
			}
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-t.stop:
				t.readNew(buf, dst)
				return
			}
		}
	}()
}

// readNew hands dst what was written since the last read, frees it from
// an in-memory file, and reports whether there was anything.
func (t *fileTail) readNew(buf []byte, dst io.Writer) bool {
	start := t.off
	if fi, err := t.f.Stat(); err == nil && fi.Size() < t.off {
		t.off = 0
	}
	for {
		n, err := t.f.ReadAt(buf, t.off)
		if n > 0 {
			_, _ = dst.Write(buf[:n])
			t.off += int64(n)
		}
		if err != nil || n < len(buf) {
			break
		}
	}
	if end := t.off &^ (pageSize - 1); t.memory && end > t.freed {
		if err := unix.Fallocate(int(t.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, t.freed, end-t.freed); err == nil {
			t.freed = end
		}
	}
	return t.off != start
}

// pageSize is the unit holes are punched in.
const pageSize = 4096

// finish reads what the command wrote last and closes the file; an
// in-memory one is emptied and sealed against writes first.
func (t *fileTail) finish() {
	close(t.stop)
	<-t.done
	if t.memory {
		fd := int(t.f.Fd())
		_ = unix.Ftruncate(fd, 0)
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
	}
	_ = t.f.Close()
}

// sameFile reports whether a and b are the same file (2>&1).
func sameFile(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	fa, errA := a.Stat()
	fb, errB := b.Stat()
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
