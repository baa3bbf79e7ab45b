// Command runpass measures what `trainwatch run` adds to a command that
// prints a lot of output: the budget is at most 5 % more wall time
// for a command printing 50 MB of lines, against running it directly.
//
// It builds trainwatch (or takes -bin), writes a generator of training
// output (tqdm bars redrawn with \r, key=value lines, Hugging Face dicts and
// plain log lines), and times -n runs of each case, interleaved:
//
//   - python: a Python script printing -mb MB line by line with print(),
//     as a training script does;
//   - cat: cat of a -mb MB file of the same lines: a command that costs
//     almost nothing itself, so the figure is trainwatch's whole cost;
//
// each run directly and through `trainwatch run --no-pty`, with stdout to
// /dev/null (and the python case also to a file); as a reference, the
// python case through `| cat`, the cheapest passthrough there is: what
// any pipe costs on this machine; and, with -pty, the python case with
// stdout on a pseudo-terminal (read and discarded), directly and through
// `trainwatch run` (which then gives the command a terminal of its own),
// and as a reference through util-linux's `script`, which does the same.
//
// Python buffers its output in 8 KiB blocks on a pipe or file unless
// PYTHONUNBUFFERED is set (as many training containers do): then every
// print is a write. The generator runs with PYTHONUNBUFFERED removed, or
// set with -unbuffered. trainwatch
// runs with --no-watch and no agent (-url at a closed port), so that
// nothing but the output path and the in-process sampling is measured. It
// prints a markdown table of the medians (wall time, and CPU time of the
// whole process tree) and the ratios.
//
//	go run ./bench/runpass -mb 50 -n 7 -pty -out bench/results/runpass-$(date +%F)-vm.md
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// generator prints argv[1] bytes of training output with print().
const generator = `import sys
n = int(sys.argv[1])
total = 0
i = 0
while total < n:
    k = i % 4
    if k == 0:
        line = "\rEpoch 3:  45%%|####5     | %d/100000 [01:23<01:42,  5.37it/s, loss=0.%04d, lr=1e-4]" % (i, i % 10000)
        sys.stdout.write(line)
    elif k == 1:
        line = "step=%d loss=0.%04d lr=0.001 grad_norm=1.5" % (i, i % 10000)
        print(line)
    elif k == 2:
        line = "{'loss': 0.%04d, 'grad_norm': 1.23, 'learning_rate': 4.5e-05, 'epoch': 0.5}" % (i % 10000)
        print(line)
    else:
        line = "INFO 2026-11-28 12:34:56,789 trainer.py:123 step %d done, loading shards from /data/train" % i
        print(line)
    total += len(line) + 1
    i += 1
`

func main() {
	mb := flag.Int("mb", 50, "MB of output per run")
	n := flag.Int("n", 7, "runs of each case")
	bin := flag.String("bin", "", "trainwatch binary (default: build ./cmd/trainwatch)")
	python := flag.String("python", "python3", "Python interpreter")
	withPTY := flag.Bool("pty", false, "also time the python case on a pseudo-terminal")
	unbuffered := flag.Bool("unbuffered", false, "run Python with PYTHONUNBUFFERED=1 (a write per print)")
	out := flag.String("out", "", "also write the markdown table here")
	flag.Parse()
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PYTHONUNBUFFERED=") {
			env = append(env, e)
		}
	}
	if *unbuffered {
		env = append(env, "PYTHONUNBUFFERED=1")
	}
	if err := run(*mb, *n, *bin, *python, *withPTY, env, *out); err != nil {
		fmt.Fprintln(os.Stderr, "runpass:", err)
		os.Exit(1)
	}
}

// sample is one timed run.
type sample struct{ wall, cpu time.Duration }

// bench is one case: a command run directly and through trainwatch.
type bench struct {
	name            string
	direct, through []string
	onPTY           bool
	// toFile: stdout is this file (truncated at each run), not /dev/null.
	toFile            string
	directS, throughS []sample
}

func run(mb, n int, bin, python string, withPTY bool, env []string, outPath string) error {
	dir, err := os.MkdirTemp("", "runpass-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "trainwatch")
		fmt.Fprintln(os.Stderr, "runpass: building trainwatch")
		if b, err := exec.Command("go", "build", "-o", bin, "./cmd/trainwatch").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/trainwatch (run from the repository root): %v\n%s", err, b)
		}
	}
	gen := filepath.Join(dir, "gen.py")
	if err := os.WriteFile(gen, []byte(generator), 0o644); err != nil {
		return err
	}
	size := mb << 20
	data := filepath.Join(dir, "output.txt")
	if err := writeData(python, gen, size, data); err != nil {
		return err
	}
	tw := []string{bin, "run", "--no-pty", "--no-watch", "--url", "http://127.0.0.1:1", "--"}
	pyCmd := []string{python, gen, fmt.Sprint(size)}
	catCmd := []string{"cat", data}
	benches := []*bench{
		{name: "python print(), to /dev/null", direct: pyCmd, through: append(append([]string{}, tw...), pyCmd...)},
		{name: "python print(), to a file", direct: pyCmd, through: append(append([]string{}, tw...), pyCmd...),
			toFile: filepath.Join(dir, "stdout.txt")},
		{name: "reference: python print() \\| cat, to /dev/null", direct: pyCmd,
			through: []string{"sh", "-c", `"$0" "$1" "$2" | cat`, pyCmd[0], pyCmd[1], pyCmd[2]}},
		{name: "cat, to /dev/null", direct: catCmd, through: append(append([]string{}, tw...), catCmd...)},
	}
	if withPTY {
		twPTY := []string{bin, "run", "--no-watch", "--url", "http://127.0.0.1:1", "--"}
		benches = append(benches, &bench{name: "python print(), on a terminal", direct: pyCmd,
			through: append(append([]string{}, twPTY...), pyCmd...), onPTY: true})
		if script, err := exec.LookPath("script"); err == nil {
			benches = append(benches, &bench{name: "reference: python print() through `script`, on a terminal", direct: pyCmd,
				through: []string{script, "-qfc", strings.Join(pyCmd, " "), os.DevNull}, onPTY: true})
		}
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	// One warm-up of each, then n interleaved runs.
	for i := -1; i < n; i++ {
		for _, b := range benches {
			out := devnull
			if b.toFile != "" {
				f, err := os.Create(b.toFile)
				if err != nil {
					return err
				}
				out = f
			}
			d, err := timeRun(b.direct, env, out, b.onPTY, b.toFile != "")
			if err != nil {
				return fmt.Errorf("%s directly: %w", b.name, err)
			}
			if b.toFile != "" {
				if out, err = os.Create(b.toFile); err != nil {
					return err
				}
			}
			t, err := timeRun(b.through, env, out, b.onPTY, b.toFile != "")
			if err != nil {
				return fmt.Errorf("%s through trainwatch: %w", b.name, err)
			}
			if i >= 0 {
				b.directS = append(b.directS, d)
				b.throughS = append(b.throughS, t)
			}
		}
		fmt.Fprintf(os.Stderr, "runpass: round %d of %d\n", i+1, n)
	}
	var sb strings.Builder
	host, _ := os.Hostname()
	buffering := "Python buffered (8 KiB writes on pipes and files)"
	for _, e := range env {
		if e == "PYTHONUNBUFFERED=1" {
			buffering = "PYTHONUNBUFFERED=1 (a write per print)"
		}
	}
	fmt.Fprintf(&sb, "`trainwatch run` output passthrough, %d MB of output, median of %d runs, %s (%s, %d CPUs, %s)\n\n",
		mb, n, buffering, host, runtime.NumCPU(), time.Now().Format("2006-01-02"))
	sb.WriteString("| command | direct wall | through trainwatch wall | wall ratio | added | added, fastest runs | added, paired | direct CPU | through CPU |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, b := range benches {
		dw, tw := median(b.directS, wallOf), median(b.throughS, wallOf)
		dc, tc := median(b.directS, cpuOf), median(b.throughS, cpuOf)
		// The fastest run of each: on a shared machine, noise only adds
		// time, so the minimum is the least disturbed estimate.
		dmin, tmin := minimum(b.directS, wallOf), minimum(b.throughS, wallOf)
		fmt.Fprintf(&sb, "| %s | %s | %s | %.3f | %+.1f %% | %+.1f %% | %+.1f %% | %s | %s |\n", b.name, ms(dw), ms(tw),
			float64(tw)/float64(dw), 100*(float64(tw)/float64(dw)-1), 100*(float64(tmin)/float64(dmin)-1),
			100*(pairedRatio(b.directS, b.throughS)-1), ms(dc), ms(tc))
	}
	fmt.Print(sb.String())
	if outPath != "" {
		return os.WriteFile(outPath, []byte(sb.String()), 0o644)
	}
	return nil
}

// writeData writes the generator's output to path (the cat case's file).
func writeData(python, gen string, size int, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(python, gen, fmt.Sprint(size))
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("generate the output with %s: %w", python, err)
	}
	return f.Close()
}

// timeRun runs argv with stdout to devnull (or to a pseudo-terminal whose
// output is read and discarded) and returns its wall time and the CPU time
// of the process and the children it waited for. With closeOut, stdout is
// a file of the run's own, closed before the clock stops, as a shell's
// `CMD > FILE` closes it before the next command: on ext4, the last close
// of a file truncated and written again allocates its blocks (the
// auto_da_alloc heuristic, some 30–50 ms for 50 MB here). Run directly,
// this close pays it; through trainwatch, trainwatch's close of the file
// it read back does, and this one is then free. Timing only up to the
// command's exit would charge it to trainwatch alone.
func timeRun(argv, env []string, devnull *os.File, onPTY, closeOut bool) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stderr = io.Discard
	var term *os.File
	drained := make(chan struct{})
	if onPTY {
		ptmx, tty, err := pty.Open()
		if err != nil {
			return sample{}, err
		}
		_ = pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 200})
		term = ptmx
		cmd.Stdout = tty
		cmd.Stdin = tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		go func() {
			defer close(drained)
			_, _ = io.Copy(io.Discard, ptmx)
		}()
	} else {
		cmd.Stdout = devnull
		close(drained)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	if onPTY {
		// Our copy of the terminal: closed so that the read ends with the
		// command.
		_ = cmd.Stdout.(*os.File).Close()
	}
	err := cmd.Wait()
	if closeOut {
		_ = devnull.Close()
	}
	wall := time.Since(start)
	if term != nil {
		<-drained
		term.Close()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return sample{}, err
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return sample{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

func wallOf(s sample) time.Duration { return s.wall }
func cpuOf(s sample) time.Duration  { return s.cpu }

func median(ss []sample, f func(sample) time.Duration) time.Duration {
	v := make([]time.Duration, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

// pairedRatio is the median over rounds of through/direct wall time: each
// pair ran back to back, so a slow spell of the machine that lasts
// longer than a round cancels out of its ratio.
func pairedRatio(direct, through []sample) float64 {
	r := make([]float64, len(direct))
	for i := range direct {
		r[i] = float64(through[i].wall) / float64(direct[i].wall)
	}
	sort.Float64s(r)
	return r[len(r)/2]
}

// minimum is the least of f over ss.
func minimum(ss []sample, f func(sample) time.Duration) time.Duration {
	m := f(ss[0])
	for _, s := range ss[1:] {
		m = min(m, f(s))
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
