package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trainwatch/trainwatch/bench/internal/machine"
)

// targetSpec describes one program the harness measures.
type targetSpec struct {
	key  string // short name, used in JSON and for -only
	name string // what the table says
	bin  string // the executable
	// args is the command line (without the executable) for a loopback
	// port and a private directory.
	args func(port int, dir string) []string
	env  []string
	// prepare writes what the program needs into its directory before it
	// starts (configuration, history); may be nil.
	prepare func(port int, dir string) error
	// readyPath answers 200 once the program is ready; "" means the
	// program is ready once it has run for a second (the floor).
	readyPath   string
	metricsPath string // what the scrapers and the latency phase ask for
	scrape      bool   // scraped every second, as Prometheus would
	latency     bool   // measured in the latency phase
	// histogram: the target serves trainwatch_http_request_duration_seconds
	// and /api/v1/snapshot (trainwatch), for server-side latencies.
	histogram    bool
	readyTimeout time.Duration
	stopGrace    time.Duration
}

// process is a started target.
type process struct {
	spec *targetSpec
	cmd  *exec.Cmd
	pid  int
	// start is the process's starttime: with pid, its identity, so that a
	// reused PID is never signalled.
	start uint64
	port  int
	dir   string
	logf  *os.File
	done  chan struct{} // closed once Wait returned

	mu      sync.Mutex
	members map[int]uint64 // every (pid, starttime) seen in its tree
}

// url returns the address of path on the target.
func (p *process) url(path string) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) + path
}

// exited reports whether the started process has exited.
func (p *process) exited() bool { return machine.Closed(p.done) }

// remember records the members of the process tree for the clean-up.
func (p *process) remember(tree []procStat) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range tree {
		p.members[st.pid] = st.start
	}
}

// logTail returns the last lines of the target's output, for errors.
func (p *process) logTail() string { return machine.LogTail(p.logf.Name(), 8) }

// owner keeps everything the harness started, so that all of it is
// stopped by PID: at the end of each phase, on errors and on Ctrl-C.
type owner struct {
	mu       sync.Mutex
	procs    []*process
	sleepers []*exec.Cmd
	log      io.Writer
}

// childAttr puts a child in its own process group (a Ctrl-C on the
// terminal reaches only the harness, which then stops it in order) and
// has the kernel kill it should the harness die without cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// start starts spec with its own port and directory.
func (o *owner) start(spec *targetSpec, dir string) (*process, error) {
	port, err := machine.FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", spec.key, err)
	}
	if spec.prepare != nil {
		if err := spec.prepare(port, dir); err != nil {
			return nil, fmt.Errorf("%s: prepare: %w", spec.key, err)
		}
	}
	logf, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.key, err)
	}
	cmd := exec.Command(spec.bin, spec.args(port, dir)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: start %s: %w", spec.key, spec.bin, err)
	}
	p := &process{spec: spec, cmd: cmd, pid: cmd.Process.Pid, port: port, dir: dir, logf: logf,
		done: make(chan struct{}), members: make(map[int]uint64)}
	o.mu.Lock()
	o.procs = append(o.procs, p)
	o.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if st, ok := readProcStat(p.pid); ok {
		p.start = st.start
		p.remember([]procStat{st})
	}
	return p, nil
}

// waitReady waits until p answers its ready path (or, without one, has
// run for a second), then checks that it listens on loopback only.
func waitReady(ctx context.Context, p *process) error {
	deadline := time.Now().Add(p.spec.readyTimeout)
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	ready := false
	for !ready {
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready: %s\n%s", p.spec.key, p.cmd.ProcessState, p.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s:\n%s", p.spec.key, p.spec.readyTimeout, p.logTail())
		}
		if p.spec.readyPath == "" {
			if err := machine.Sleep(ctx, time.Second); err != nil {
				return err
			}
			ready = !p.exited()
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url(p.spec.readyPath), nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
		if !ready {
			if err := machine.Sleep(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}
	t, err := readProcTable()
	if err != nil {
		return err
	}
	tree := t.tree(p.pid, p.start)
	p.remember(tree)
	pids := make([]int, len(tree))
	for i, st := range tree {
		pids[i] = st.pid
	}
	for _, s := range boundSockets(pids) {
		if !s.ip.IsLoopback() {
			return fmt.Errorf("%s listens on %s, which is not loopback: stopped", p.spec.key, s)
		}
	}
	return nil
}

// stop ends p: SIGTERM, then SIGKILL after its grace period, then any
// process of its tree still alive (plugins), each by PID and start time.
func (o *owner) stop(p *process) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.spec.stopGrace):
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				fmt.Fprintf(o.log, "warning: %s (pid %d) did not exit after SIGKILL\n", p.spec.key, p.pid)
			}
		}
	}
	p.mu.Lock()
	members := make(map[int]uint64, len(p.members))
	for pid, start := range p.members {
		if pid != p.pid {
			members[pid] = start
		}
	}
	p.mu.Unlock()
	alive := func() []int {
		var out []int
		for pid, start := range members {
			if st, ok := readProcStat(pid); ok && st.start == start && st.state != 'Z' {
				out = append(out, pid)
			}
		}
		return out
	}
	left := alive()
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	for deadline := time.Now().Add(3 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = alive() {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range left {
		fmt.Fprintf(o.log, "killing leftover pid %d of %s\n", pid, p.spec.key)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	p.logf.Close()
	o.mu.Lock()
	for i, q := range o.procs {
		if q == p {
			o.procs = append(o.procs[:i], o.procs[i+1:]...)
			break
		}
	}
	o.mu.Unlock()
}

// stopAll stops every started target, concurrently.
func (o *owner) stopAll() {
	o.mu.Lock()
	procs := append([]*process(nil), o.procs...)
	o.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { o.stop(p) })
	}
	wg.Wait()
}

// spawnSleepers starts n `sleep` processes and waits (bounded) until each
// has become sleep.
func (o *owner) spawnSleepers(ctx context.Context, sleepBin string, n int) error {
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		cmd := exec.Command(sleepBin, "86400")
		cmd.SysProcAttr = childAttr()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start sleeper %d of %d: %w", i+1, n, err)
		}
		o.mu.Lock()
		o.sleepers = append(o.sleepers, cmd)
		o.mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	o.mu.Lock()
	cmds := append([]*exec.Cmd(nil), o.sleepers...)
	o.mu.Unlock()
	for _, c := range cmds {
		for {
			st, ok := readProcStat(c.Process.Pid)
			if !ok || st.comm == "sleep" || time.Now().After(deadline) {
				break
			}
			if err := machine.Sleep(ctx, 20*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// killSleepers kills every sleeper by PID and reaps it.
func (o *owner) killSleepers() {
	o.mu.Lock()
	cmds := o.sleepers
	o.sleepers = nil
	o.mu.Unlock()
	for _, c := range cmds {
		_ = c.Process.Kill()
	}
	for _, c := range cmds {
		_ = c.Wait()
	}
}

// cleanup stops everything still running.
func (o *owner) cleanup() {
	o.stopAll()
	o.killSleepers()
}

// processExporterConfig groups every process by its command name, as
// process-exporter's documentation suggests for "all processes"; '.*'
// (not '.+') also matches kernel threads' empty command lines.
const processExporterConfig = `process_names:
  - name: "{{.Comm}}"
    cmdline:
    - '.*'
`

// netdataConfig is a netdata.conf that keeps netdata on loopback and its
// files under dir. Everything else (plugins, the dbengine, health, ML)
// stays at Debian's defaults.
func netdataConfig(port, statsdPort int, dir string) (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("current user: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\n\trun as user = %s\n\thostname = trainwatch-overhead\n", u.Username)
	fmt.Fprintf(&b, "[directories]\n\tconfig = /etc/netdata\n\tstock config = /usr/lib/netdata/conf.d\n")
	for _, d := range []string{"cache", "lib", "log", "run"} {
		fmt.Fprintf(&b, "\t%s = %s\n", d, filepath.Join(dir, d))
	}
	fmt.Fprintf(&b, "\thome = %s\n", dir)
	fmt.Fprintf(&b, "[logs]\n\tdebug log = %s\n\terror log = %s\n\taccess log = none\n",
		filepath.Join(dir, "log", "debug.log"), filepath.Join(dir, "log", "error.log"))
	fmt.Fprintf(&b, "[web]\n\tbind to = 127.0.0.1:%d\n", port)
	fmt.Fprintf(&b, "[registry]\n\tenabled = no\n")
	fmt.Fprintf(&b, "[statsd]\n\tbind to = udp:127.0.0.1 tcp:127.0.0.1\n\tdefault port = %d\n", statsdPort)
	return b.String(), nil
}
