package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// TestLiveJobAppearsAndVanishes spawns a small "training" tree (a python
// script that forks a worker; both busy), finds it as a job through the
// agent's /metrics, checks its grouping and attribution, kills it, and
// sees the job and its processes vanish cleanly.
func TestLiveJobAppearsAndVanishes(t *testing.T) {
	// Debian's python3 runs the script itself; a pyenv shim first on PATH
	// would run it as a child of a shell named python3.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = testenv.LookPath(t, "python3")
	}
	script := filepath.Join(t.TempDir(), "train.py")
	if err := os.WriteFile(script, []byte(`import os, time
end = time.time() + 60
if os.fork() == 0:
    while time.time() < end:
        pass
    os._exit(0)
while time.time() < end:
    pass
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	pid := strconv.Itoa(cmd.Process.Pid)

	cfg := config.Default()
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.Processes.Interval = 0
	cfg.Processes.Jobs.MinCPUPercent = 5
	base := startAgent(t, cfg)

	find := func() (job string, procs float64, found bool) {
		_, body := get(t, base+"/metrics", nil)
		fams := parseText(t, body)
		info := fams["trainwatch_job_info"]
		if info == nil {
			return "", 0, false
		}
		for _, s := range info.series {
			if s.labels["root_pid"] == pid {
				job = s.labels["job"]
				n, _ := fams["trainwatch_job_processes"].find(map[string]string{"job": job})
				return job, n, true
			}
		}
		return "", 0, false
	}
	var job string
	var procs float64
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var ok bool
		if job, procs, ok = find(); ok && procs == 2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if job == "" || procs != 2 {
		t.Fatalf("job rooted at pid %s not found with 2 processes (job %q, %v processes)", pid, job, procs)
	}
	_, body := get(t, base+"/metrics", nil)
	fams := parseText(t, body)
	for _, s := range fams["trainwatch_job_info"].series {
		if s.labels["job"] == job && s.labels["name"] != "train.py" {
			t.Errorf("job name %q, want train.py", s.labels["name"])
		}
	}
	if cpu, _ := fams["trainwatch_job_cpu_percent"].find(map[string]string{"job": job}); cpu < 20 {
		t.Errorf("job CPU %v%%, want the two busy loops", cpu)
	}
	if !strings.HasPrefix(job, pid+"-") {
		t.Errorf("job id %q does not start with the root pid", job)
	}

	// Kill the tree (the forked worker too) and watch it go.
	_ = exec.Command("pkill", "-KILL", "-P", pid).Run()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	killed = true
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, ok := find(); !ok {
			_, body := get(t, base+"/metrics", nil)
			if v, ok := parseText(t, body)["trainwatch_collector_success"].find(map[string]string{"collector": "process"}); !ok || v != 1 {
				t.Fatalf("process collector not healthy after the tree vanished: %v %v", v, ok)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("job still reported 10s after its processes were killed")
}
