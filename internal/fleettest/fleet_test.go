package fleettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

const (
	// agentPort is the port every agent listens on, on 0.0.0.0 of its own
	// network namespace.
	agentPort = 9835
	// remoteName names each agent's remote_write queue and its
	// self-metrics' remote label.
	remoteName = "central"
	// alertName is the fleet rule of the pack (rules/trainwatch.rules.yml).
	alertName = "TrainwatchAgentDown"
	// nsPrefix starts the name of every network namespace the test makes.
	nsPrefix = "twfleet-"
	// evalInterval is the test Prometheus' rule evaluation interval.
	evalInterval = 5 * time.Second
)

// outageDuration is how long Prometheus stays down: 5 minutes (the issue's
// figure), or TRAINWATCH_FLEET_OUTAGE (a Go duration, e.g. 30s) outside CI,
// for iterating locally.
func outageDuration(t *testing.T) time.Duration {
	const def = 5 * time.Minute
	v := os.Getenv("TRAINWATCH_FLEET_OUTAGE")
	if v == "" {
		return def
	}
	if testenv.InCI() {
		t.Logf("TRAINWATCH_FLEET_OUTAGE=%s ignored under CI=true: the outage is %s", v, def)
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("TRAINWATCH_FLEET_OUTAGE=%q: want a Go duration such as 5m", v)
	}
	return d
}

// agent is one trainwatch serve running in a network namespace of its own.
type agent struct {
	name     string // a, b, c
	instance string // its instance label
	ns       string // network namespace
	hostIf   string // veth end in the root namespace
	nsIf     string // veth end in ns
	hostIP   string // address of hostIf: where the agent reaches Prometheus
	nsIP     string // address of nsIf: where the test reaches the agent
	dir      string
	logPath  string

	cmd    *exec.Cmd
	exited chan struct{}
}

// url is the agent's HTTP API as the root namespace reaches it.
func (a *agent) url() string { return fmt.Sprintf("http://%s:%d", a.nsIP, agentPort) }

// TestFleet is issue 13's fleet failure test: three agents in network
// namespaces (made here: ip netns, veth pairs) remote_write to one real
// Prometheus, which loads the shipped rule pack
// (deploy/prometheus/trainwatch.rules.yml, as prometheus-fleet.yml does).
//
//  1. All three agents' samples reach Prometheus.
//  2. Prometheus is stopped for 5 minutes (TRAINWATCH_FLEET_OUTAGE outside
//     CI) and started again on the same data directory and port. Once the
//     agents' queues have drained, every series each agent stored over the
//     whole test has as many samples in Prometheus as in the agent (none
//     lost, none duplicated), and three series of each agent are
//     identical sample by sample, across the outage.
//  3. One agent is killed (SIGKILL: no goodbye, no staleness marker); the
//     pack's TrainwatchAgentDown fires for that instance and for no other.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three agents and Prometheus through a 5-minute outage")
	}
	outage := outageDuration(t)
	if dl, ok := t.Deadline(); ok && time.Until(dl) < outage+15*time.Minute {
		// go test's default timeout (10 minutes) cannot hold it: skipped
		// there, as a missing tool is; CI runs the test suite's command
		// (scripts/test, -timeout 30m), where it must run.
		msg := fmt.Sprintf("an outage of %s does not fit in the test timeout; run go test with -timeout %s", outage, (outage + 20*time.Minute).Round(time.Minute))
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ipBin := testenv.LookPath(t, "ip")
	testenv.LookPath(t, "prometheus")
	if os.Geteuid() != 0 {
		if testenv.InCI() {
			t.Fatal("TestFleet needs root (ip netns add), and CI=true")
		}
		t.Skip("TestFleet needs root (ip netns add); skipping (this fails under CI=true)")
	}
	rulesPath, err := filepath.Abs(filepath.Join("..", "..", "deploy", "prometheus", "trainwatch.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rulesPath); err != nil {
		t.Fatal(err)
	}

	bin := buildAgent(t)
	sweepStaleNamespaces(t, ipBin)
	agents := makeNetwork(t, ipBin, []string{"a", "b", "c"})

	// Prometheus listens on every interface, so that each agent reaches it
	// at the root-side address of its own veth pair.
	promCfg := fmt.Sprintf(`global:
  evaluation_interval: %s
rule_files:
  - %q
`, evalInterval, rulesPath)
	prom := testenv.StartPrometheusListening(t, testenv.PrometheusOptions{
		Config: promCfg,
		Flags:  []string{"--web.enable-remote-write-receiver"},
	}, "0.0.0.0")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log:\n%s", tail(prom.Log(), 4000))
		}
	})

	testStart := time.Now()
	for _, a := range agents {
		startAgent(t, ipBin, bin, a, fmt.Sprintf("http://%s:%d/api/v1/write", a.hostIP, prom.Port()))
	}
	for _, a := range agents {
		waitReady(t, a, 2*time.Minute)
	}
	t.Logf("network: %s; three agents ready %s after start; Prometheus at %s",
		describeNetwork(agents), time.Since(testStart).Round(time.Millisecond), prom.URL)

	// Phase 1: every agent's samples reach Prometheus.
	waitUntil(t, 3*time.Minute, "all three agents' up in Prometheus (10 samples each)", func() (bool, string) {
		res, err := query(prom.URL, `count_over_time(up{job="trainwatch"}[1m])`, time.Time{})
		if err != nil {
			return false, err.Error()
		}
		got := map[string]float64{}
		for _, s := range res {
			got[s.Metric["instance"]] = s.value(t)
		}
		for _, a := range agents {
			if got[a.instance] < 10 {
				return false, fmt.Sprintf("up samples in the last minute: %v", got)
			}
		}
		return true, ""
	})
	t.Logf("phase 1: Prometheus has all three agents' samples %s after their start", time.Since(testStart).Round(time.Second))

	// Phase 2: Prometheus is down for the outage, then back.
	outageStart := time.Now()
	prom.Stop()
	t.Logf("phase 2: Prometheus stopped for %s", outage)
	for end := outageStart.Add(outage); time.Now().Before(end); {
		for _, a := range agents {
			select {
			case <-a.exited:
				t.Fatalf("agent %s exited during the outage:\n%s", a.name, tail(readFile(a.logPath), 3000))
			default:
			}
		}
		time.Sleep(min(10*time.Second, time.Until(end)))
	}
	for _, a := range agents {
		pending := agentValue(t, a, `trainwatch_remote_write_pending_samples{remote="`+remoteName+`"}`)
		failed := agentValue(t, a, `trainwatch_remote_write_failed_sends_total{remote="`+remoteName+`"}`)
		lag := agentValue(t, a, `trainwatch_remote_write_lag_seconds{remote="`+remoteName+`"}`)
		t.Logf("  agent %s after the outage: %.0f samples pending, %.0f failed sends, lag %.0f s", a.name, pending, failed, lag)
		if pending == 0 || failed == 0 || lag < outage.Seconds()/2 {
			t.Errorf("agent %s did not notice the outage: %.0f pending, %.0f failed sends, lag %.0f s", a.name, pending, failed, lag)
		}
	}
	prom.Start()
	restartedAt := time.Now()
	t.Logf("Prometheus started again after %s down", restartedAt.Sub(outageStart).Round(time.Second))

	// Drained: each agent's oldest unacknowledged sample is at most a few
	// ticks old. Meanwhile, TrainwatchAgentDown may go pending for an agent
	// whose backlog has not reached its last 2 minutes yet; it must not fire.
	drain := map[string]time.Duration{}
	seen := map[string]*alertSpan{} // instance -> TrainwatchAgentDown after the restart
	watch := func() {
		for inst, st := range alertStates(prom.URL) {
			sp := seen[inst]
			if sp == nil {
				sp = &alertSpan{first: time.Since(restartedAt)}
				seen[inst] = sp
			}
			sp.last = time.Since(restartedAt)
			sp.fired = sp.fired || st == "firing"
		}
	}
	waitUntil(t, 10*time.Minute, "the agents' queues drained", func() (bool, string) {
		watch()
		var behind []string
		for _, a := range agents {
			if _, ok := drain[a.name]; ok {
				continue
			}
			lag, err := agentQueryValue(a, `trainwatch_remote_write_lag_seconds{remote="`+remoteName+`"}`)
			if err == nil && lag < 5 {
				drain[a.name] = time.Since(restartedAt)
				continue
			}
			behind = append(behind, fmt.Sprintf("%s lag %.0f s (%v)", a.name, lag, err))
		}
		return len(behind) == 0, strings.Join(behind, ", ")
	})
	for _, a := range agents {
		t.Logf("  agent %s drained %s after Prometheus restarted", a.name, drain[a.name].Round(time.Second))
	}
	// A pending alert ends at the next evaluation that sees fresh up.
	waitUntil(t, 3*time.Minute, alertName+" resolved after the drain", func() (bool, string) {
		watch()
		st := alertStates(prom.URL)
		return len(st) == 0, fmt.Sprint(st)
	})
	if len(seen) == 0 {
		t.Logf("  after the restart %s was neither pending nor firing for any agent", alertName)
	}
	for _, a := range agents {
		sp := seen[a.instance]
		if sp == nil {
			continue
		}
		t.Logf("  after the restart %s was %s for %s from %s to %s after it (for: 2m in the rule)",
			alertName, map[bool]string{false: "pending", true: "FIRING"}[sp.fired], a.instance, sp.first.Round(time.Second), sp.last.Round(time.Second))
		if sp.fired {
			t.Errorf("%s fired for %s, which was up, while its backlog drained", alertName, a.instance)
		}
	}

	// Everything up to the cut has been acknowledged once an agent's lag,
	// read well after the cut, is a few seconds.
	cut := time.Now().Truncate(time.Second)
	time.Sleep(15 * time.Second)
	for _, a := range agents {
		waitUntil(t, 2*time.Minute, "agent "+a.name+" caught up past the cut", func() (bool, string) {
			lag, err := agentQueryValue(a, `trainwatch_remote_write_lag_seconds{remote="`+remoteName+`"}`)
			return err == nil && lag < 5, fmt.Sprintf("lag %.0f s (%v)", lag, err)
		})
	}
	window := int(math.Ceil(cut.Sub(testStart).Seconds())) + 60
	t.Logf("comparing every series of each agent over [%s, %s] (%d s; the outage was %s to %s)",
		cut.Add(-time.Duration(window)*time.Second).Format(time.TimeOnly), cut.Format(time.TimeOnly), window,
		outageStart.Format(time.TimeOnly), restartedAt.Format(time.TimeOnly))
	totalLost := 0
	for _, a := range agents {
		totalLost += compareAgent(t, prom.URL, a, cut, window, outageStart, restartedAt)
		sent := agentValue(t, a, `trainwatch_remote_write_samples_total{remote="`+remoteName+`",outcome="sent"}`)
		dropped := agentValue(t, a, `sum(trainwatch_remote_write_samples_total{remote="`+remoteName+`",outcome!="sent"})`)
		t.Logf("  agent %s: %.0f samples sent in all, %.0f dropped (4xx, queue full, disk)", a.name, sent, dropped)
		if dropped != 0 {
			t.Errorf("agent %s dropped %.0f samples", a.name, dropped)
		}
	}
	if refused := refusals(prom.Log()); refused != "" {
		t.Errorf("Prometheus refused remote-written samples:\n%s", refused)
	} else {
		t.Logf("Prometheus logged no refused sample (out of order, out of bounds, too old)")
	}
	t.Logf("phase 2 result: %d samples lost over the %s outage, across all three agents", totalLost, outage)

	// Phase 3: one agent is killed; the fleet rule fires for it alone.
	victim := agents[1]
	killedAt := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-victim.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("agent %s still running 30 s after SIGKILL", victim.name)
	}
	t.Logf("phase 3: agent %s (%s) killed with SIGKILL", victim.name, victim.instance)
	var pendingAt time.Duration
	var fired []alert
	waitUntil(t, 10*time.Minute, alertName+" firing for "+victim.instance, func() (bool, string) {
		as, err := alerts(prom.URL)
		if err != nil {
			return false, err.Error()
		}
		var mine []string
		for _, al := range as {
			if al.Labels["alertname"] != alertName {
				continue
			}
			mine = append(mine, al.Labels["instance"]+" "+al.State)
			if al.Labels["instance"] == victim.instance && pendingAt == 0 {
				pendingAt = time.Since(killedAt)
			}
		}
		for _, al := range as {
			if al.Labels["alertname"] == alertName && al.Labels["instance"] == victim.instance && al.State == "firing" {
				fired = as
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s: %v", alertName, mine)
	})
	firedAt := time.Since(killedAt)
	var firing []string
	for _, al := range fired {
		if al.Labels["alertname"] == alertName {
			firing = append(firing, al.Labels["instance"]+" "+al.State)
		}
	}
	t.Logf("  %s alerts when it fired: %v", alertName, firing)
	lastSample := lastSampleTime(t, prom.URL, `up{instance="`+victim.instance+`"}`)
	t.Logf("  %s for %s: seen pending %s and firing %s after the kill (the agent's last up sample in Prometheus: %s before the kill; rule: 2 minutes without up, for 2m, evaluated every %s)",
		alertName, victim.instance, pendingAt.Round(time.Second), firedAt.Round(time.Second), killedAt.Sub(lastSample).Round(time.Millisecond), evalInterval)
	for _, al := range fired {
		if al.Labels["alertname"] != alertName {
			continue
		}
		if al.Labels["instance"] != victim.instance {
			t.Errorf("%s is %s for %s, which is alive", alertName, al.State, al.Labels["instance"])
			continue
		}
		if al.Labels["severity"] != "critical" || al.Labels["job"] != "trainwatch" || !strings.Contains(al.Annotations["summary"], victim.instance) {
			t.Errorf("%s for %s: labels %v, annotations %v", alertName, victim.instance, al.Labels, al.Annotations)
		}
	}
	// The others still send: their up is fresh in Prometheus.
	for _, a := range agents {
		if a == victim {
			continue
		}
		age := time.Since(lastSampleTime(t, prom.URL, `up{instance="`+a.instance+`"}`))
		if age > time.Minute {
			t.Errorf("agent %s: its last up in Prometheus is %s old", a.name, age.Round(time.Second))
		}
	}
	t.Logf("total test time %s", time.Since(testStart).Round(time.Second))
}

// buildAgent builds the trainwatch binary as the release does (-trimpath).
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trainwatch")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/trainwatch")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// ip runs the ip command and fails the test when it fails.
func ip(t *testing.T, ipBin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sweepStaleNamespaces deletes this test's namespaces left over by a run
// that was killed before its cleanup (go test -timeout): those over two
// hours old, so that a concurrent run keeps its own.
func sweepStaleNamespaces(t *testing.T, ipBin string) {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), nsPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 2*time.Hour {
			out, err := exec.Command(ipBin, "netns", "delete", e.Name()).CombinedOutput()
			t.Logf("deleted the stale network namespace %s of an earlier run: %v %s", e.Name(), err, out)
		}
	}
}

// makeNetwork makes one network namespace per agent name, each with a veth
// pair to the root namespace on a /30 of its own in 10.213.R.0/24 (R
// random, unused on this machine), both ends and the namespace's loopback
// up. Everything is deleted when the test ends.
func makeNetwork(t *testing.T, ipBin string, names []string) []*agent {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	suffix := hex.EncodeToString(b)
	subnet := ""
	for range 100 {
		r := 1 + mrand.IntN(254)
		prefix := fmt.Sprintf("10.213.%d.", r)
		addrs, _ := exec.Command(ipBin, "-o", "-4", "addr", "show").CombinedOutput()
		routes, _ := exec.Command(ipBin, "-4", "route", "show", "table", "all").CombinedOutput()
		if !strings.Contains(string(addrs), prefix) && !strings.Contains(string(routes), prefix) &&
			!strings.Contains(string(routes), "10.213.0.0/16") && !strings.Contains(string(routes), "10.0.0.0/8") {
			subnet = prefix
			break
		}
	}
	if subnet == "" {
		t.Fatal("no free 10.213.R.0/24 on this machine")
	}
	var agents []*agent
	for i, name := range names {
		a := &agent{
			name:     name,
			instance: "fleet-" + name + ":" + strconv.Itoa(agentPort),
			ns:       fmt.Sprintf("%s%s-%s", nsPrefix, suffix, name),
			hostIf:   fmt.Sprintf("twf%s%sh", suffix, name),
			nsIf:     fmt.Sprintf("twf%s%sn", suffix, name),
			hostIP:   fmt.Sprintf("%s%d", subnet, 4*i+1),
			nsIP:     fmt.Sprintf("%s%d", subnet, 4*i+2),
			dir:      t.TempDir(),
		}
		ip(t, ipBin, "netns", "add", a.ns)
		t.Cleanup(func() {
			if out, err := exec.Command(ipBin, "netns", "delete", a.ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns delete %s: %v %s", a.ns, err, out)
			}
		})
		ip(t, ipBin, "link", "add", a.hostIf, "type", "veth", "peer", "name", a.nsIf)
		t.Cleanup(func() {
			// Deleting one end deletes the pair; the namespace's deletion
			// alone would too, but only once the kernel gets to it.
			if out, err := exec.Command(ipBin, "link", "delete", a.hostIf).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
				t.Errorf("ip link delete %s: %v %s", a.hostIf, err, out)
			}
		})
		ip(t, ipBin, "link", "set", a.nsIf, "netns", a.ns)
		ip(t, ipBin, "addr", "add", a.hostIP+"/30", "dev", a.hostIf)
		ip(t, ipBin, "link", "set", a.hostIf, "up")
		ip(t, ipBin, "-n", a.ns, "addr", "add", a.nsIP+"/30", "dev", a.nsIf)
		ip(t, ipBin, "-n", a.ns, "link", "set", a.nsIf, "up")
		ip(t, ipBin, "-n", a.ns, "link", "set", "lo", "up")
		agents = append(agents, a)
	}
	return agents
}

func describeNetwork(agents []*agent) string {
	var parts []string
	for _, a := range agents {
		parts = append(parts, fmt.Sprintf("%s: netns %s, %s=%s <-> %s=%s", a.name, a.ns, a.hostIf, a.hostIP, a.nsIf, a.nsIP))
	}
	return strings.Join(parts, "; ")
}

// startAgent starts `trainwatch serve --demo` in the agent's namespace,
// collecting every second, listening on 0.0.0.0:agentPort there, with a
// remote_write to writeURL. It is stopped (SIGTERM, then SIGKILL) when the
// test ends, and killed with the test binary.
func startAgent(t *testing.T, ipBin, bin string, a *agent, writeURL string) {
	t.Helper()
	cfg := fmt.Sprintf(`listen: 0.0.0.0:%d
data_dir: %q
interval: 1s
demo: true
storage:
  instance: %q
remote_write:
  - url: %q
    name: %s
    timeout: 10s
    queue:
      min_backoff: 100ms
      max_backoff: 2s
`, agentPort, filepath.Join(a.dir, "data"), a.instance, writeURL, remoteName)
	cfgPath := filepath.Join(a.dir, "trainwatch.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a.logPath = filepath.Join(a.dir, "agent.log")
	logf, err := os.Create(a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs the command in place: the process is trainwatch.
	cmd := exec.Command(ipBin, "netns", "exec", a.ns, bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	a.cmd, a.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-a.exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-a.exited
			}
		}
		if t.Failed() {
			t.Logf("agent %s log:\n%s", a.name, tail(readFile(a.logPath), 3000))
		}
	})
}

// waitReady waits for the agent's /-/ready over the veth pair.
func waitReady(t *testing.T, a *agent, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-a.exited:
			t.Fatalf("agent %s exited at start:\n%s", a.name, tail(readFile(a.logPath), 3000))
		default:
		}
		if resp, err := client.Get(a.url() + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("agent %s not ready at %s within %s:\n%s", a.name, a.url(), within, tail(readFile(a.logPath), 3000))
}

// waitUntil polls cond every second until it holds, failing the test after
// within with cond's last explanation.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, within, why)
		}
		time.Sleep(time.Second)
	}
}

var client = &http.Client{Timeout: 2 * time.Minute}

// series is one element of a Prometheus API query result.
type series struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

func (s series) value(t *testing.T) float64 {
	t.Helper()
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("value %v of %v: %v", s.Value, s.Metric, err)
	}
	return v
}

// query runs an instant query against a Prometheus API (Prometheus' or an
// agent's) at time at (now when zero).
func query(base, expr string, at time.Time) ([]series, error) {
	form := url.Values{"query": {expr}}
	if !at.IsZero() {
		form.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []series `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("%s: decode answer to %q (%s): %w", base, expr, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: query %q: %s", base, expr, body.Error)
	}
	return body.Data.Result, nil
}

// agentQueryValue returns the value of expr's single series on the agent.
func agentQueryValue(a *agent, expr string) (float64, error) {
	res, err := query(a.url(), expr, time.Time{})
	if err != nil {
		return math.NaN(), err
	}
	if len(res) != 1 {
		return math.NaN(), fmt.Errorf("%s: %d series, want 1", expr, len(res))
	}
	str, _ := res[0].Value[1].(string)
	return strconv.ParseFloat(str, 64)
}

func agentValue(t *testing.T, a *agent, expr string) float64 {
	t.Helper()
	v, err := agentQueryValue(a, expr)
	if err != nil {
		t.Fatalf("agent %s: %v", a.name, err)
	}
	return v
}

// lastSampleTime returns the time of the newest raw sample of sel, a
// single series, within the last 15 minutes on base.
func lastSampleTime(t *testing.T, base, sel string) time.Time {
	t.Helper()
	res, err := query(base, sel+"[15m]", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Values) == 0 {
		t.Fatalf("%s[15m]: %d series, want 1 with samples", sel, len(res))
	}
	ts, _ := res[0].Values[len(res[0].Values)-1][0].(float64)
	return time.UnixMilli(int64(math.Round(ts * 1000)))
}

// alertSpan is when an alert was seen after Prometheus restarted, and
// whether it fired.
type alertSpan struct {
	first, last time.Duration
	fired       bool
}

// alert is one element of /api/v1/alerts.
type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// alerts returns the alerts of Prometheus' own rules (pending and firing).
func alerts(base string) ([]alert, error) {
	resp, err := client.Get(base + "/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []alert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Data.Alerts, nil
}

// alertStates returns TrainwatchAgentDown's state per instance.
func alertStates(base string) map[string]string {
	as, err := alerts(base)
	if err != nil {
		return nil // Prometheus still starting
	}
	out := map[string]string{}
	for _, a := range as {
		if a.Labels["alertname"] == alertName {
			out[a.Labels["instance"]] = a.State
		}
	}
	return out
}

// metricNames returns the metric names of the agent's series over
// [end-window, end] on base, less what is not remote-written: rule outputs
// (ALERTS, ALERTS_FOR_STATE, recording rules' level:metric:operation
// names), which each side's rule manager writes into its own storage.
func metricNames(base, instance string, end time.Time, window int) ([]string, error) {
	form := url.Values{
		"match[]": {`{instance="` + instance + `"}`},
		"start":   {strconv.FormatInt(end.Unix()-int64(window), 10)},
		"end":     {strconv.FormatInt(end.Unix(), 10)},
	}
	resp, err := client.Get(base + "/api/v1/label/__name__/values?" + form.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: label values: %s", base, body.Error)
	}
	var names []string
	for _, n := range body.Data {
		if n == "ALERTS" || n == "ALERTS_FOR_STATE" || strings.Contains(n, ":") {
			continue
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// sampleCounts returns, per metric name, how many samples the instance's
// series of that name have over [at-window, at] on base. (One
// count_over_time over all names would fail: without their names, series
// of different metrics can have the same labels.)
func sampleCounts(base, instance string, names []string, at time.Time, window int) (map[string]int, error) {
	out := map[string]int{}
	for len(names) > 0 {
		batch := names[:min(40, len(names))]
		names = names[len(batch):]
		var parts []string
		for _, n := range batch {
			parts = append(parts, fmt.Sprintf(`label_replace(sum(count_over_time({__name__=%q,instance=%q}[%ds])), "name", %q, "", "")`, n, instance, window, n))
		}
		res, err := query(base, strings.Join(parts, " or "), at)
		if err != nil {
			return nil, err
		}
		for _, s := range res {
			str, _ := s.Value[1].(string)
			v, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, err
			}
			out[s.Metric["name"]] = int(v)
		}
	}
	return out, nil
}

// point is one raw sample as the API writes it.
type point struct{ t, v string }

// rawSamples returns the raw samples of sel over [at-window, at] on base,
// per series.
func rawSamples(base, sel string, at time.Time, window int) (map[string][]point, error) {
	res, err := query(base, fmt.Sprintf("%s[%ds]", sel, window), at)
	if err != nil {
		return nil, err
	}
	out := map[string][]point{}
	for _, s := range res {
		key := fmt.Sprint(s.Metric)
		for _, v := range s.Values {
			ts, _ := v[0].(float64)
			str, _ := v[1].(string)
			out[key] = append(out[key], point{strconv.FormatFloat(ts, 'f', 3, 64), str})
		}
	}
	return out, nil
}

// compareAgent compares what the agent stored with what Prometheus holds
// of it over [cut-window, cut]: every metric name's sample count, and three
// series sample by sample. It returns the samples missing from Prometheus.
func compareAgent(t *testing.T, promURL string, a *agent, cut time.Time, window int, outageStart, restartedAt time.Time) int {
	t.Helper()
	names, err := metricNames(a.url(), a.instance, cut, window)
	if err != nil {
		t.Fatalf("agent %s: %v", a.name, err)
	}
	promNames, err := metricNames(promURL, a.instance, cut, window)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, promNames) {
		var onlyAgent, onlyProm []string
		for _, n := range names {
			if !slices.Contains(promNames, n) {
				onlyAgent = append(onlyAgent, n)
			}
		}
		for _, n := range promNames {
			if !slices.Contains(names, n) {
				onlyProm = append(onlyProm, n)
			}
		}
		t.Errorf("agent %s: metric names only in the agent %v, only in Prometheus %v", a.name, onlyAgent, onlyProm)
	}
	mine, err := sampleCounts(a.url(), a.instance, names, cut, window)
	if err != nil {
		t.Fatalf("agent %s: %v", a.name, err)
	}
	theirs, err := sampleCounts(promURL, a.instance, names, cut, window)
	if err != nil {
		t.Fatal(err)
	}
	stored, received, lost, extra := 0, 0, 0, 0
	var diffs []string
	for _, n := range names {
		stored += mine[n]
		received += theirs[n]
		if d := mine[n] - theirs[n]; d != 0 {
			if d > 0 {
				lost += d
			} else {
				extra -= d
			}
			if len(diffs) < 20 {
				diffs = append(diffs, fmt.Sprintf("%s: agent %d, Prometheus %d", n, mine[n], theirs[n]))
			}
		}
	}
	t.Logf("  agent %s (%s): %d metric names, %d samples stored, %d in Prometheus: %d lost, %d extra",
		a.name, a.instance, len(names), stored, received, lost, extra)
	if lost != 0 || extra != 0 || stored == 0 {
		t.Errorf("agent %s: Prometheus does not hold exactly the agent's samples:\n%s", a.name, strings.Join(diffs, "\n"))
	}

	// Three series sample by sample (timestamp and value), across the
	// outage: the tick's own up, a host counter and a (simulated) GPU gauge.
	for _, sel := range []string{
		`up{instance="` + a.instance + `"}`,
		`node_cpu_seconds_total{instance="` + a.instance + `",cpu="0",mode="idle"}`,
		`DCGM_FI_DEV_GPU_TEMP{instance="` + a.instance + `",gpu="0"}`,
	} {
		want, err := rawSamples(a.url(), sel, cut, window)
		if err != nil {
			t.Fatalf("agent %s: %v", a.name, err)
		}
		got, err := rawSamples(promURL, sel, cut, window)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != 1 {
			t.Errorf("agent %s: %s: %d series in the agent, want 1", a.name, sel, len(want))
			continue
		}
		n, inOutage, same := 0, 0, true
		for key, pts := range want {
			n = len(pts)
			if !slices.Equal(pts, got[key]) {
				same = false
				t.Errorf("agent %s: %s: the agent has %d samples, Prometheus %d, not the same", a.name, key, len(pts), len(got[key]))
			}
			for _, p := range got[key] {
				ts, _ := strconv.ParseFloat(p.t, 64)
				if at := time.UnixMilli(int64(math.Round(ts * 1000))); at.After(outageStart) && at.Before(restartedAt) {
					inOutage++
				}
			}
		}
		if same {
			t.Logf("    %s: %d samples identical in the agent and Prometheus, %d of them stamped during the outage", sel, n, inOutage)
		}
		if inOutage < int((restartedAt.Sub(outageStart)).Seconds())/2 {
			t.Errorf("agent %s: %s: only %d samples in Prometheus stamped during the %s outage", a.name, sel, inOutage, restartedAt.Sub(outageStart).Round(time.Second))
		}
	}
	return lost
}

// refusals returns Prometheus' log lines about samples it refused.
func refusals(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ll := strings.ToLower(l)
		if strings.Contains(ll, "out of order") || strings.Contains(ll, "out of bounds") || strings.Contains(ll, "too old") ||
			strings.Contains(ll, "remote write") && strings.Contains(ll, "level=error") {
			out = append(out, l)
		}
	}
	return tail(strings.Join(out, "\n"), 3000)
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
