package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/logparse"
	"github.com/trainwatch/trainwatch/internal/runs"
)

const (
	defaultAgentURL = "http://127.0.0.1:9835"
	runHTTPTimeout  = time.Second
	runLogInterval  = 500 * time.Millisecond
	runQueueLen     = 4096
	runMaxLine      = 64 << 10
	// runSampleInterval is how often the process tree and its GPUs are
	// sampled.
	runSampleInterval = 2 * time.Second
	// runPTYLinger is how long the output of the command's terminal is
	// still copied after it exited (a background process holding it open
	// is cut off then).
	runPTYLinger = time.Second
	// runReportTimeout bounds the queries for the report.
	runReportTimeout = 10 * time.Second
)

// exitCodeError carries the exit code of the command that "trainwatch run"
// ran; run() exits with it (without printing it).
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("command exited with code %d", e.code) }

func newRunCmd() *cobra.Command {
	var (
		name       string
		agent      string
		regexes    []string
		noPTY      bool
		watchDirs  []string
		noWatch    bool
		reportPath string
	)
	c := &cobra.Command{
		Use:   "run [--name NAME] [--url URL] [--regex RE]... [--watch DIR]... [--no-watch] [--no-pty] [--report FILE] -- CMD [ARGS...]",
		Short: "Run a training command and report its progress to the agent",
		Long: `run starts CMD with its input and output passed through (on a pseudo-terminal of
its own when stdout is a terminal, so that progress bars render), reads the
metrics it prints (tqdm and Lightning bars, Hugging Face dicts, JSON and
key=value lines, --regex) and the metrics file it writes under --watch
(Lightning metrics.csv, Hugging Face trainer_state.json, TensorBoard event
files), and logs them as a run to the agent at --url. It forwards signals,
follows the command's process tree and the GPUs it uses, finishes the run with
the command's exit status, prints a report (duration, GPU-hours, energy, GPU
utilisation and memory, CPU, loss, throughput, alerts) and exits with the
command's exit code. When no agent answers, the command runs as usual and the
report's figures are sampled in this process.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("run: no command given; use: trainwatch run [flags] -- CMD [ARGS...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			parser, err := logparse.New(logparse.Options{Regexes: regexes})
			if err != nil {
				return usagef("--regex: %v", err)
			}
			if noWatch && len(watchDirs) > 0 {
				return usagef("--watch and --no-watch: give one or the other")
			}
			if agent == "" {
				agent = os.Getenv("TRAINWATCH_URL")
			}
			if agent == "" {
				agent = defaultAgentURL
			}
			if name == "" {
				name = runNameOf(args)
			}
			if !noWatch && len(watchDirs) == 0 {
				cwd, err := os.Getwd()
				if err != nil {
					return fmt.Errorf("find the working directory to watch (give --watch DIR, or --no-watch): %w", err)
				}
				watchDirs = []string{cwd}
			}
			if reportPath != "" {
				if fi, err := os.Stat(filepath.Dir(reportPath)); err != nil || !fi.IsDir() {
					return usagef("--report %s: there is no directory %s to write it in", reportPath, filepath.Dir(reportPath))
				}
			}
			r := newCmdRunner(name, strings.TrimRight(agent, "/"), args, parser)
			r.stdin, r.stdout, r.stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			r.noPTY = noPTY
			r.watchDirs = watchDirs
			r.reportPath = reportPath
			code, err := r.run()
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCodeError{code}
			}
			return nil
		},
	}
	c.Flags().SetInterspersed(false) // flags after CMD are CMD's
	c.Flags().StringVar(&name, "name", "", "run name (default: the command's name)")
	c.Flags().StringVar(&agent, "url", "", "agent URL (default: $TRAINWATCH_URL or "+defaultAgentURL+")")
	c.Flags().StringArrayVar(&regexes, "regex", nil, "regular expression with named groups for metric lines (repeatable)")
	c.Flags().BoolVar(&noPTY, "no-pty", false, "run the command on pipes even when stdout is a terminal")
	c.Flags().StringArrayVar(&watchDirs, "watch", nil, "directory to find the metrics file in: metrics.csv, trainer_state.json, TensorBoard events (repeatable; default: the working directory)")
	c.Flags().BoolVar(&noWatch, "no-watch", false, "read no metrics files")
	c.Flags().StringVar(&reportPath, "report", "", "write the end-of-run report as JSON to FILE")
	return c
}

// runNameOf names a run after its command: the script for interpreters.
func runNameOf(args []string) string {
	base := filepath.Base(args[0])
	if strings.HasPrefix(base, "python") || base == "torchrun" || base == "accelerate" || base == "deepspeed" {
		for _, a := range args[1:] {
			if strings.HasSuffix(a, ".py") {
				return strings.TrimSuffix(filepath.Base(a), ".py")
			}
		}
	}
	return base
}

// newRunID makes a valid run id from a name: name-YYYYMMDD-HHMMSS-xxxx.
func newRunID(name string, now time.Time) string {
	var b strings.Builder
	for _, c := range name {
		if c == '.' || c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), "._-")
	if len(s) > 80 {
		s = s[:80]
	}
	if s == "" {
		s = "run"
	}
	var rnd [2]byte
	_, _ = rand.Read(rnd[:])
	return s + "-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(rnd[:])
}

// runner is one "trainwatch run".
type runner struct {
	name, url  string
	args       []string
	parser     *logparse.Parser
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
	noPTY      bool
	watchDirs  []string
	reportPath string
	// interval is how often the tree and GPUs are sampled.
	interval time.Duration
	// localCfg configures the GPU collectors read in-process when no agent
	// answers.
	localCfg config.Config
	// extraPIDs are counted as the run's processes (tests: the demo's GPU
	// processes).
	extraPIDs []int

	id      string
	client  *http.Client
	prom    *promClient
	agentUp bool // registration succeeded
	queue   chan runs.Entry
	warned  sync.Once
	start   time.Time

	mu         sync.Mutex
	dropped    int
	steps      *stepAcc
	loss       lossAcc
	fileChosen bool  // a metrics file is read: output lines give progress only
	totalSteps int64 // registered with the agent
}

func newCmdRunner(name, url string, args []string, parser *logparse.Parser) *runner {
	cfg := config.Default()
	cfg.Processes.Disable = true
	return &runner{
		name: name, url: url, args: args, parser: parser,
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		interval: runSampleInterval,
		localCfg: cfg,
	}
}

// warn prints the first warning about the agent, and only that one.
func (r *runner) warn(format string, args ...any) {
	r.warned.Do(func() {
		fmt.Fprintf(r.stderr, "trainwatch: warning: "+format+"\n", args...)
	})
}

func (r *runner) post(path string, ctype string, body []byte) error {
	resp, err := r.client.Post(r.url+path, ctype, bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// run runs the command and returns its exit code.
func (r *runner) run() (int, error) {
	r.start = time.Now()
	start := r.start
	r.id = newRunID(r.name, start)
	r.client = &http.Client{Timeout: runHTTPTimeout}
	r.prom = &promClient{base: r.url, client: &http.Client{Timeout: runReportTimeout}}
	r.queue = make(chan runs.Entry, runQueueLen)
	r.steps = newStepAcc()

	cwd, _ := os.Getwd()
	cfg, _ := json.Marshal(map[string]any{"cwd": cwd, "argv": r.args})
	body, _ := json.Marshal(runs.CreateRequest{ID: r.id, Name: r.name, Command: shellJoin(r.args), Config: cfg})
	if err := r.post("/api/v1/runs", "application/json", body); err != nil {
		r.warn("no agent at %s (%v); the command runs unrecorded, with its figures sampled here", r.url, err)
	} else {
		r.agentUp = true
	}

	lp := newLineParser(r.parser, func(e runs.Entry) { r.observe(e, false) })
	var tees []*lineTee
	newTee := func(w io.Writer) *lineTee {
		t := newLineTee(w, lp)
		tees = append(tees, t)
		return t
	}

	cmd := exec.Command(r.args[0], r.args[1:]...)
	cmd.Env = append(os.Environ(), "TRAINWATCH_URL="+r.url, "TRAINWATCH_RUN="+r.id)
	cmd.WaitDelay = time.Second // a background grandchild holding stdin's pipe open

	usePTY := !r.noPTY && isTerminal(asFile(r.stdout))
	mode := sigPipes
	switch in := asFile(r.stdin); {
	case usePTY:
		mode = sigPTY
	case isTerminal(in) && isForeground(in):
		mode = sigPipesForeground
	}

	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigc)

	var sess *ptySession
	var streams []outStream
	var err error
	if usePTY {
		sess, err = startPTY(cmd, r.stdin, asFile(r.stdout), asFile(r.stderr), newTee(r.stdout), newTee(r.stderr))
		if sess != nil {
			defer sess.restore() // on every way out, panics included
		}
	} else {
		streams, err = startPipes(cmd, r.stdin, r.stdout, r.stderr, newTee)
	}
	var gpus gpuSampler
	if r.agentUp {
		gpus = agentGPUs{c: r.prom}
	} else {
		gpus = newLocalGPUs(r.localCfg)
	}
	tr := newTracker(r.interval, gpus)
	tr.extra = r.extraPIDs
	if err != nil {
		lp.close()
		tr.stop(time.Now())
		r.finish(127)
		rep := r.newReport(start, time.Now(), 127, err)
		r.output(rep)
		return 127, nil
	}
	if r.agentUp {
		// The child's PID lets the agent find the run's process tree,
		// job and GPUs.
		body, _ := json.Marshal(runs.CreateRequest{ID: r.id, PID: cmd.Process.Pid})
		if err := r.post("/api/v1/runs", "application/json", body); err != nil {
			r.warn("could not tell the agent the command's PID (%v)", err)
		}
	}
	tr.start(cmd.Process.Pid)

	fwdDone := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigc:
				if !forwardSignal(mode, s) {
					continue
				}
				if mode == sigPTY {
					// The command leads its own session and group.
					_ = syscall.Kill(-cmd.Process.Pid, s.(syscall.Signal))
				} else {
					_ = cmd.Process.Signal(s)
				}
			case <-fwdDone:
				return
			}
		}
	}()

	sendDone := make(chan struct{})
	stopSend := make(chan struct{})
	go r.sender(stopSend, sendDone)

	var watchStop, watchDone chan struct{}
	var watch *fileWatch
	if len(r.watchDirs) > 0 {
		watch = newFileWatch(r.watchDirs, start, func(format string, args ...any) {
			fmt.Fprintf(r.stderr, format, args...)
		})
		watchStop, watchDone = make(chan struct{}), make(chan struct{})
		go r.watchLoop(watch, watchStop, watchDone)
	}

	werr := cmd.Wait()
	end := time.Now()
	close(fwdDone)
	if sess != nil {
		sess.finish(runPTYLinger)
	}
	for _, s := range streams {
		s.finish(runPTYLinger)
	}
	code := exitCode(cmd, werr)
	// the partial last lines, then what is queued
	for _, t := range tees {
		t.flush()
	}
	lp.close()
	if watch != nil {
		close(watchStop)
		<-watchDone
	}
	tr.stop(end)
	close(stopSend)
	<-sendDone
	r.finish(code)

	rep := r.newReport(start, end, code, nil)
	rep.Steps.UnparsedLines = lp.skipped.Load()
	if watch != nil && watch.chosen != nil {
		rep.MetricsFile = &reportFile{Path: watch.chosen.Path, Format: watch.chosen.Format.String()}
	}
	r.addTree(rep, cmd, tr, end.Sub(start))
	r.addGPUs(rep, tr, start, end)
	r.output(rep)
	return code, nil
}

// outStream is how one output stream of the command reaches its
// destination and the parser: a pipe of ours, or the destination file
// itself, read back.
type outStream interface {
	// finish ends the stream once the command exited, waiting up to
	// linger for what it still has.
	finish(linger time.Duration)
}

// tailStream adapts a fileTail to outStream.
type tailStream struct{ *fileTail }

func (t tailStream) finish(time.Duration) { t.fileTail.finish() }

// startPipes starts cmd without a terminal: stdin as it is; stdout and
// stderr each on a pipe of ours, copied to the destination and parsed, or,
// when the destination is a regular file, given to the command directly
// and read back for the parser (and when it is /dev/null, an in-memory
// file instead, read back and freed: see fileTail). newTee makes the line splitter of a stream
// writing to its argument.
func startPipes(cmd *exec.Cmd, stdin io.Reader, stdout, stderr io.Writer, newTee func(io.Writer) *lineTee) ([]outStream, error) {
	cmd.Stdin = stdin
	type plan struct {
		pipe *outPipe
		tail *fileTail
		dst  io.Writer
	}
	var plans []*plan
	abandon := func() {
		for _, p := range plans {
			if p.pipe != nil {
				p.pipe.abandon()
			}
			if p.tail != nil {
				_ = p.tail.f.Close()
			}
		}
	}
	connect := func(dst io.Writer, tailed *fileTail) (*os.File, *plan, error) {
		if f := asFile(dst); f != nil {
			if tailed != nil && sameFile(f, asFile(stdout)) {
				if tailed.memory {
					return tailed.f, nil, nil // 2>&1 to /dev/null
				}
				return f, nil, nil // 2>&1: the stdout tail reads it
			}
			if t, ok := newFileTail(f); ok {
				return f, &plan{tail: t}, nil
			}
			if isDevNull(f) {
				t, err := newMemoryTail()
				if err != nil {
					return nil, nil, err
				}
				return t.f, &plan{tail: t}, nil
			}
		}
		p, err := newOutPipe()
		if err != nil {
			return nil, nil, err
		}
		return p.w, &plan{pipe: p, dst: dst}, nil
	}
	outF, outPlan, err := connect(stdout, nil)
	if err != nil {
		return nil, err
	}
	plans = append(plans, outPlan)
	errF, errPlan, err := connect(stderr, outPlan.tail)
	if err != nil {
		abandon()
		return nil, err
	}
	if errPlan != nil {
		plans = append(plans, errPlan)
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	if err := cmd.Start(); err != nil {
		abandon()
		return nil, err
	}
	var streams []outStream
	for _, p := range plans {
		if p.pipe != nil {
			p.pipe.start(newTee(p.dst))
			streams = append(streams, p.pipe)
		} else {
			p.tail.start(newTee(io.Discard))
			streams = append(streams, tailStream{p.tail})
		}
	}
	return streams, nil
}

// exitCode is the command's exit code, 128+N when signal N killed it.
func exitCode(cmd *exec.Cmd, werr error) int {
	if werr == nil {
		return 0
	}
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	case errors.Is(werr, exec.ErrWaitDelay) && cmd.ProcessState != nil:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return cmd.ProcessState.ExitCode()
	}
	return 1
}

// watchLoop polls the metrics files every watchInterval, and a last time
// (walking the directories again) when stop closes.
func (r *runner) watchLoop(w *fileWatch, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.pollFiles(w)
		case <-stop:
			w.rescan()
			r.pollFiles(w)
			return
		}
	}
}

// pollFiles logs the new entries of the run's metrics file, and registers
// the Trainer's max_steps as the run's total.
func (r *runner) pollFiles(w *fileWatch) {
	entries, maxSteps, epochs := w.poll()
	if w.chosen != nil {
		r.mu.Lock()
		r.fileChosen = true
		r.mu.Unlock()
	}
	now := time.Now()
	for _, e := range entries {
		r.observe(fixTime(e, r.start, now), true)
	}
	r.mu.Lock()
	grow := maxSteps > r.totalSteps
	if grow {
		r.totalSteps = maxSteps
		if r.steps.total < maxSteps {
			r.steps.total = maxSteps
		}
	}
	r.mu.Unlock()
	if grow && r.agentUp {
		body, _ := json.Marshal(runs.CreateRequest{ID: r.id, TotalSteps: maxSteps, TotalEpochs: epochs})
		if err := r.post("/api/v1/runs", "application/json", body); err != nil {
			fmt.Fprintf(r.stderr, "trainwatch: warning: telling the agent the run's total steps: %v\n", err)
		}
	}
}

// sender posts queued entries every runLogInterval, and the rest when stop
// closes.
func (r *runner) sender(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(runLogInterval)
	defer t.Stop()
	var batch []runs.Entry
	failing := false // said once until logging works again
	flush := func() {
	drain:
		for {
			select {
			case e := <-r.queue:
				batch = append(batch, e)
			default:
				break drain
			}
		}
		if len(batch) == 0 || !r.agentUp {
			batch = batch[:0]
			return
		}
		err := r.post("/api/v1/runs/"+r.id+"/log", "application/x-ndjson", encodeEntries(batch))
		switch {
		case err != nil && !failing:
			fmt.Fprintf(r.stderr, "trainwatch: warning: logging %d entries of run %s: %v (said once until it works again)\n", len(batch), r.id, err)
			failing = true
		case err == nil && failing:
			fmt.Fprintf(r.stderr, "trainwatch: logging to %s works again\n", r.url)
			failing = false
		}
		batch = batch[:0]
	}
	for {
		select {
		case <-t.C:
			flush()
		case <-stop:
			flush()
			return
		}
	}
}

func (r *runner) finish(code int) {
	if !r.agentUp {
		return
	}
	body := []byte(`{"status":"finished","exit_code":0}`)
	if code != 0 {
		body = []byte(`{"status":"failed","exit_code":` + strconv.Itoa(code) + `}`)
	}
	if err := r.post("/api/v1/runs/"+r.id+"/finish", "application/json", body); err != nil {
		fmt.Fprintf(r.stderr, "trainwatch: warning: finishing run %s: %v\n", r.id, err)
	}
}

// newReport starts the report with what the runner knows itself.
func (r *runner) newReport(start, end time.Time, code int, startErr error) *runReport {
	host, _ := os.Hostname()
	rep := &runReport{
		Run: r.id, Name: r.name, Command: shellJoin(r.args), Host: host,
		Recorded: r.agentUp, Agent: r.url, Figures: "sampled",
		SampleInterval:  r.interval.Seconds(),
		Start:           start.UTC(),
		End:             end.UTC(),
		DurationSeconds: round3(end.Sub(start).Seconds()),
		Status:          "finished",
		ExitCode:        code,
		GPUs:            []reportGPU{},
		Notes:           []string{},
	}
	rep.Underutil.ThresholdPercent = underutilPercent
	if r.agentUp {
		rep.Figures = "agent"
	}
	switch {
	case startErr != nil:
		rep.Status, rep.StartError = "not_started", startErr.Error()
	case code != 0:
		rep.Status = "failed"
		if code > 128 && code < 128+65 {
			rep.Signal = unix.SignalName(syscall.Signal(code - 128))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps
	rep.Steps = reportSteps{Entries: s.entries, WithStep: s.withStep, Dropped: r.dropped}
	if s.withStep > 0 {
		rep.Steps.Last = ptr(s.lastStep)
	}
	if s.total > 0 {
		rep.Steps.Total = ptr(s.total)
	}
	rep.Steps.StepsPerSecond = finitePtr(round3(s.stepsPerSecond()))
	rep.Steps.SamplesPerSecond = finitePtr(s.samplesPS)
	rep.Steps.TokensPerSecond = finitePtr(s.tokensPS)
	rep.Loss = r.loss.report()
	if !r.agentUp {
		rep.Notes = append(rep.Notes, fmt.Sprintf("not recorded as history: no agent at %s; the figures were sampled in this process every %s", r.url, r.interval))
	}
	return rep
}

// addTree fills the CPU and memory of the command's process tree.
func (r *runner) addTree(rep *runReport, cmd *exec.Cmd, tr *tracker, d time.Duration) {
	var rusageCPU float64
	var maxRSS int64
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rusageCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
			maxRSS = ru.Maxrss * 1024 // KiB on Linux
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	secs, mean := cpuFigures(rusageCPU, tr.tree.cpuSeconds(), d)
	rep.CPU = reportCPU{Seconds: secs, MeanPercent: mean, MaxProcesses: tr.tree.maxProcs, Samples: tr.tree.samples}
	if peak := max(tr.tree.peakRSS, maxRSS); peak > 0 {
		rep.CPU.PeakRSSBytes = ptr(peak)
	}
}

// addGPUs fills the GPU figures and the alerts: from the agent's history,
// or from the samples taken in-process.
func (r *runner) addGPUs(rep *runReport, tr *tracker, start, end time.Time) {
	tr.mu.Lock()
	spans := make(map[gpuID]*useSpans, len(tr.spans))
	for id, s := range tr.spans {
		if s.duration() > 0 || len(s.spans) > 0 {
			spans[id] = s
		}
	}
	accs, models, gpuErr := tr.accs, tr.models, tr.gpuErr
	tr.mu.Unlock()
	if gpuErr != nil {
		rep.Notes = append(rep.Notes, "GPUs not read: "+gpuErr.Error())
	}
	if !r.agentUp {
		rep.setGPUs(gpuReport(spans, accs, models))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), runReportTimeout)
	defer cancel()
	aaccs, amodels, err := agentGPUFigures(ctx, r.prom, spans, start, end)
	if err != nil {
		rep.Notes = append(rep.Notes, "GPU figures not read from the agent's history: "+err.Error())
		aaccs = nil
	}
	for id, m := range models {
		if amodels != nil && amodels[id] == "" {
			amodels[id] = m
		}
	}
	rep.setGPUs(gpuReport(spans, aaccs, amodels))
	alerts, err := agentAlerts(ctx, r.prom, start, end)
	if err != nil {
		rep.Notes = append(rep.Notes, "alerts not read from the agent: "+err.Error())
		return
	}
	rep.Alerts = &alerts
}

// output prints the report and writes --report.
func (r *runner) output(rep *runReport) {
	rep.writeText(r.stderr)
	if r.reportPath == "" {
		return
	}
	if err := rep.writeJSON(r.reportPath); err != nil {
		fmt.Fprintf(r.stderr, "trainwatch: warning: %v\n", err)
	}
}

// progressOnly keeps the step, epoch and progress values (total_steps,
// steps_per_second) of e: what an output line still logs when a metrics
// file gives the run's metrics. ok is false when nothing is left.
func progressOnly(e runs.Entry) (runs.Entry, bool) {
	v := map[string]float64{}
	for k, x := range e.Values {
		switch k {
		case "total_steps", "steps_per_second":
			v[k] = x
		}
	}
	e.Values = v
	return e, e.Step >= 0 || !math.IsNaN(e.Epoch) || len(v) > 0
}

// observe records an entry (from the output, or fromFile) and queues it
// without blocking.
func (r *runner) observe(e runs.Entry, fromFile bool) {
	r.mu.Lock()
	if !fromFile && r.fileChosen {
		var ok bool
		if e, ok = progressOnly(e); !ok {
			r.mu.Unlock()
			return
		}
	}
	t := time.Now()
	if e.TimeMs > 0 {
		t = time.UnixMilli(e.TimeMs)
	}
	r.steps.add(e, t)
	r.loss.add(e)
	if len(r.queue) == cap(r.queue) {
		r.dropped++
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	// The parser's keys point into the output block: copy them, so that
	// queued entries do not hold whole blocks.
	vals := make(map[string]float64, len(e.Values))
	for k, v := range e.Values {
		vals[strings.Clone(k)] = v
	}
	e.Values = vals
	select {
	case r.queue <- e:
	default:
		r.mu.Lock()
		r.dropped++
		r.mu.Unlock()
	}
}

// encodeEntries writes entries as NDJSON for POST /api/v1/runs/{id}/log;
// NaN and ±Inf as strings.
func encodeEntries(es []runs.Entry) []byte {
	var b bytes.Buffer
	num := func(f float64) string {
		switch {
		case math.IsNaN(f):
			return `"NaN"`
		case math.IsInf(f, 1):
			return `"+Inf"`
		case math.IsInf(f, -1):
			return `"-Inf"`
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	for _, e := range es {
		b.WriteByte('{')
		sep := ""
		if e.TimeMs > 0 {
			b.WriteString(`"time":` + strconv.FormatFloat(float64(e.TimeMs)/1000, 'f', 3, 64))
			sep = ","
		}
		if e.Step >= 0 {
			b.WriteString(sep + `"step":` + strconv.FormatInt(e.Step, 10))
			sep = ","
		}
		if !math.IsNaN(e.Epoch) && !math.IsInf(e.Epoch, 0) && e.Epoch >= 0 {
			b.WriteString(sep + `"epoch":` + num(e.Epoch))
			sep = ","
		}
		for k, v := range e.Values {
			switch k {
			case "step", "global_step", "epoch", "time", "timestamp", "_time":
				continue
			}
			kb, _ := json.Marshal(k)
			b.WriteString(sep)
			b.Write(kb)
			b.WriteString(":" + num(v))
			sep = ","
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// shellJoin quotes args for display.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(c rune) bool {
			return !(c == '/' || c == '.' || c == '_' || c == '-' || c == '=' || c == ':' || c == ',' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		}) < 0 {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
