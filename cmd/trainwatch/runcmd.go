package main

import (
	"bytes"
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

	"github.com/trainwatch/trainwatch/internal/logparse"
	"github.com/trainwatch/trainwatch/internal/runs"
)

const (
	defaultAgentURL = "http://127.0.0.1:9835"
	runHTTPTimeout  = time.Second
	runLogInterval  = 500 * time.Millisecond
	runQueueLen     = 4096
	runMaxLine      = 64 << 10
)

// exitCodeError carries the exit code of the command that "trainwatch run"
// ran; run() exits with it (without printing it).
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("command exited with code %d", e.code) }

func newRunCmd() *cobra.Command {
	var (
		name    string
		agent   string
		regexes []string
	)
	c := &cobra.Command{
		Use:   "run [--name NAME] [--url URL] [--regex RE]... -- CMD [ARGS...]",
		Short: "Run a training command and report its progress to the agent",
		Long: `run starts CMD with its input and output passed through, reads the metrics it
prints (tqdm bars, Hugging Face dicts, JSON and key=value lines, --regex) and logs
them as a run to the agent at --url. The run is finished with the command's exit
status, and run exits with the command's exit code. When no agent answers, the
command runs as usual.`,
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
			if agent == "" {
				agent = os.Getenv("TRAINWATCH_URL")
			}
			if agent == "" {
				agent = defaultAgentURL
			}
			if name == "" {
				name = runNameOf(args)
			}
			r := &runner{
				name:   name,
				url:    strings.TrimRight(agent, "/"),
				args:   args,
				parser: parser,
				stdin:  cmd.InOrStdin(),
				stdout: cmd.OutOrStdout(),
				stderr: cmd.ErrOrStderr(),
			}
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
	name, url string
	args      []string
	parser    *logparse.Parser
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer

	id      string
	client  *http.Client
	agentUp bool // registration succeeded
	queue   chan runs.Entry
	warned  sync.Once

	mu       sync.Mutex
	dropped  int
	entries  int
	steps    int // entries with a step
	lastStep int64
	lastLoss float64
	bestLoss float64
	haveLoss bool
}

func (r *runner) warn(format string, args ...any) {
	r.warned.Do(func() {
		fmt.Fprintf(r.stderr, "trainwatch: warning: "+format+"; the command runs without monitoring\n", args...)
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
	start := time.Now()
	r.id = newRunID(r.name, start)
	r.client = &http.Client{Timeout: runHTTPTimeout}
	r.queue = make(chan runs.Entry, runQueueLen)
	r.lastStep = -1

	cwd, _ := os.Getwd()
	cfg, _ := json.Marshal(map[string]any{"cwd": cwd, "argv": r.args})
	body, _ := json.Marshal(runs.CreateRequest{ID: r.id, Name: r.name, Command: shellJoin(r.args), Config: cfg})
	if err := r.post("/api/v1/runs", "application/json", body); err != nil {
		r.warn("no agent at %s (%v)", r.url, err)
	} else {
		r.agentUp = true
	}

	cmd := exec.Command(r.args[0], r.args[1:]...)
	cmd.Stdin = r.stdin
	cmd.Stdout = &lineTee{out: r.stdout, r: r}
	cmd.Stderr = &lineTee{out: r.stderr, r: r}
	cmd.Env = append(os.Environ(), "TRAINWATCH_URL="+r.url, "TRAINWATCH_RUN="+r.id)
	cmd.WaitDelay = time.Second // a background grandchild holding the pipes open

	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigc)
	if err := cmd.Start(); err != nil {
		r.finish(127)
		r.report(start, 127, err)
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
	fwdDone := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigc:
				_ = cmd.Process.Signal(s)
			case <-fwdDone:
				return
			}
		}
	}()

	sendDone := make(chan struct{})
	stopSend := make(chan struct{})
	go r.sender(stopSend, sendDone)

	werr := cmd.Wait()
	close(fwdDone)
	code := 0
	if werr != nil {
		var ee *exec.ExitError
		switch {
		case errors.As(werr, &ee):
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		case errors.Is(werr, exec.ErrWaitDelay):
			code = cmd.ProcessState.ExitCode()
		default:
			code = 1
		}
	}
	// flush the splitters' partial last lines
	cmd.Stdout.(*lineTee).flush()
	cmd.Stderr.(*lineTee).flush()
	close(stopSend)
	<-sendDone
	r.finish(code)
	r.report(start, code, nil)
	return code, nil
}

// sender posts queued entries every runLogInterval, and the rest when stop
// closes.
func (r *runner) sender(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(runLogInterval)
	defer t.Stop()
	var batch []runs.Entry
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
		if err := r.post("/api/v1/runs/"+r.id+"/log", "application/x-ndjson", encodeEntries(batch)); err != nil {
			fmt.Fprintf(r.stderr, "trainwatch: warning: logging %d entries of run %s: %v\n", len(batch), r.id, err)
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

func (r *runner) report(start time.Time, code int, startErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.stderr
	status := "finished"
	if startErr != nil {
		status = "failed to start: " + startErr.Error()
	} else if code != 0 {
		status = "failed"
		if code > 128 && code < 128+65 {
			status += fmt.Sprintf(" (%v)", syscall.Signal(code-128))
		}
	}
	fmt.Fprintf(w, "trainwatch: run %s %s in %s, exit code %d\n", r.id, status, time.Since(start).Round(time.Millisecond), code)
	if r.steps > 0 {
		fmt.Fprintf(w, "trainwatch:   steps: %d seen, last step %d\n", r.steps, r.lastStep)
	} else {
		fmt.Fprintf(w, "trainwatch:   steps: none seen (%d metric lines)\n", r.entries)
	}
	if r.haveLoss {
		fmt.Fprintf(w, "trainwatch:   loss: last %g, best %g\n", r.lastLoss, r.bestLoss)
	}
	if r.dropped > 0 {
		fmt.Fprintf(w, "trainwatch:   %d metric lines dropped (agent too slow)\n", r.dropped)
	}
	if !r.agentUp {
		fmt.Fprintf(w, "trainwatch:   not recorded: no agent at %s\n", r.url)
	}
}

// observe records a parsed entry and queues it without blocking.
func (r *runner) observe(e runs.Entry) {
	r.mu.Lock()
	r.entries++
	if e.Step >= 0 {
		r.steps++
		r.lastStep = e.Step
	}
	for _, k := range []string{"loss", "train_loss", "training_loss", "train/loss"} {
		if v, ok := e.Values[k]; ok {
			r.lastLoss = v
			if !r.haveLoss || v < r.bestLoss || math.IsNaN(r.bestLoss) {
				r.bestLoss = v
			}
			r.haveLoss = true
			break
		}
	}
	r.mu.Unlock()
	select {
	case r.queue <- e:
	default:
		r.mu.Lock()
		r.dropped++
		r.mu.Unlock()
	}
}

// lineTee copies bytes to out as they come and feeds complete lines (ended by
// \n or \r) to the parser.
type lineTee struct {
	out  io.Writer
	r    *runner
	line []byte
	long bool // the current line passed runMaxLine: skip it
}

func (t *lineTee) Write(p []byte) (int, error) {
	n, err := t.out.Write(p)
	if err != nil {
		// Our output is gone (closed pipe): keep the child going, keep parsing.
		n = len(p)
	}
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			t.add(p)
			break
		}
		t.add(p[:i])
		t.end()
		p = p[i+1:]
	}
	return n, nil
}

func (t *lineTee) add(b []byte) {
	if t.long {
		return
	}
	if len(t.line)+len(b) > runMaxLine {
		t.long = true
		t.line = t.line[:0]
		return
	}
	t.line = append(t.line, b...)
}

func (t *lineTee) end() {
	if !t.long && len(t.line) > 0 {
		if e, ok := t.r.parser.Line(string(t.line), time.Now()); ok {
			t.r.observe(e)
		}
	}
	t.line = t.line[:0]
	t.long = false
}

func (t *lineTee) flush() { t.end() }

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
