package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// runCheck runs "trainwatch check ARGS..." in-process, as run() does, with
// the check command added to the root when the root lacks it.
func runCheck(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	if c, _, err := root.Find([]string{"check"}); err != nil || c == root {
		root.AddCommand(newCheckCmd())
	}
	root.SetArgs(append([]string{"check"}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(&errOut, "trainwatch: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) || isCobraUsage(err) {
			return 2, out.String(), errOut.String()
		}
		return 1, out.String(), errOut.String()
	}
	return 0, out.String(), errOut.String()
}

// checkJSON runs check --json and decodes its report.
func checkJSON(t *testing.T, args ...string) (int, map[string]checkResultJSON) {
	t.Helper()
	code, out, errOut := runCheck(t, append(args, "--json")...)
	var rep struct {
		OK     bool              `json:"ok"`
		Checks []checkResultJSON `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode --json output: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if rep.OK != (code == 0) {
		t.Errorf("ok = %v with exit %d", rep.OK, code)
	}
	m := map[string]checkResultJSON{}
	for _, c := range rep.Checks {
		m[c.Name] = c
	}
	return code, m
}

type checkResultJSON struct {
	Name, Status, Detail, Hint string
}

func TestCheckDemoTable(t *testing.T) {
	dir := t.TempDir()
	// The demo's simulated training job holds GPU memory, so the GPU
	// memory threshold is lowered to let the checklist pass.
	code, out, errOut := runCheck(t, "--demo", "--dir", dir, "--min-gpu-free", "0%", "--min-mem", "1MB")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"CHECK", "STATUS", "DETAIL", "8 × NVIDIA H200", "driver 550.54.15, CUDA 12.4",
		"gpu-health", "gpu-processes", "gpu-memory", "disk", dir, "memory", "temperatures"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckDemoDefaultGPUMemoryFails(t *testing.T) {
	code, m := checkJSON(t, "--demo", "--dir", t.TempDir())
	if code != 1 || m["gpu-memory"].Status != "FAIL" || m["gpus"].Status != "PASS" {
		t.Fatalf("exit %d, gpus %+v, gpu-memory %+v; want exit 1, gpus PASS, gpu-memory FAIL", code, m["gpus"], m["gpu-memory"])
	}
	if m["gpu-processes"].Status != "WARN" || !strings.Contains(m["gpu-processes"].Detail, "pid ") {
		t.Errorf("gpu-processes = %+v, want WARN naming PIDs", m["gpu-processes"])
	}
}

func TestCheckDiskTooSmall(t *testing.T) {
	dir := t.TempDir()
	code, m := checkJSON(t, "--demo", "--dir", dir, "--min-gpu-free", "0%", "--min-disk", "1000TB")
	d := m["disk"]
	if code != 1 || d.Status != "FAIL" || !strings.Contains(d.Detail, dir) || !strings.Contains(d.Detail, "free of") || d.Hint == "" {
		t.Fatalf("exit %d, disk %+v; want exit 1, FAIL naming %s and its free space", code, d, dir)
	}
}

func TestCheckMissingDir(t *testing.T) {
	code, m := checkJSON(t, "--demo", "--min-gpu-free", "0%", "--dir", "/nonexistent/ckpt")
	d := m["disk"]
	if code != 1 || d.Status != "FAIL" || !strings.Contains(d.Detail, "/nonexistent/ckpt") || !strings.Contains(d.Detail, "no such file") {
		t.Fatalf("exit %d, disk %+v; want exit 1, FAIL naming the directory", code, d)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--min-disk", "lots"},
		{"--min-gpu-free", "150%"},
		{"--min-mem", "plenty"},
		{"--dir", ""},
		{"--url", "ftp://x"},
		{"--demo", "--url", "http://127.0.0.1:1"},
		{"extra"},
	} {
		code, _, errOut := runCheck(t, args...)
		if code != 2 || !strings.Contains(errOut, "trainwatch: ") {
			t.Errorf("check %v: exit %d, want 2\nstderr:\n%s", args, code, errOut)
		}
	}
}

// TestCheckNoGPU: on a machine without GPUs (as CI is) the gpus check
// FAILs with the reason, unless --no-gpu is given.
func TestCheckNoGPU(t *testing.T) {
	code, m := checkJSON(t, "--dir", t.TempDir(), "--min-mem", "1MB")
	if len(m) > 0 && m["gpus"].Status == "PASS" && !strings.Contains(m["gpus"].Detail, "--no-gpu") {
		t.Skip("this machine has a GPU")
	}
	if code != 1 || m["gpus"].Status != "FAIL" || m["gpus"].Detail == "no GPU found: " || m["gpus"].Hint == "" {
		t.Fatalf("exit %d, gpus %+v; want exit 1, FAIL with a reason", code, m["gpus"])
	}
	code, m = checkJSON(t, "--no-gpu", "--dir", t.TempDir(), "--min-mem", "1MB")
	if code != 0 || m["gpus"].Status != "PASS" {
		t.Fatalf("--no-gpu: exit %d, gpus %+v; want exit 0, PASS", code, m["gpus"])
	}
	// --strict fails on the WARNs a GPU-less VM has (no temperature sensors).
	if m["temperatures"].Status == "WARN" {
		if code, _, _ := runCheck(t, "--no-gpu", "--strict", "--dir", t.TempDir(), "--min-mem", "1MB"); code != 1 {
			t.Errorf("--strict with a WARN: exit %d, want 1", code)
		}
	}
}
