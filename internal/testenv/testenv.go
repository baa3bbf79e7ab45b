// Package testenv finds the outside programs that tests talk to (promtool,
// Prometheus, Chromium, tmux, Python). A missing program skips the test
// locally and fails it under CI=true, where .ci/run must have installed it.
// It also holds the small helpers tests share: golden files, a locked log
// buffer, fuzz seed files.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// LookPath returns the path of the named program, or skips the test (fails
// it under CI) when the program is not installed.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if InCI() {
		t.Fatalf("%s is not installed, and CI=true: .ci/run must install it (%v)", name, err)
	}
	t.Skipf("%s is not installed; skipping (this fails under CI=true)", name)
	return ""
}

// promtoolExceptions are lint findings that node_exporter's own metric
// check (checkmetrics.sh) also accepts, and process-exporter's names:
// trainwatch keeps its peers' names exactly, so that dashboards and rules
// work unchanged.
var promtoolExceptions = []*regexp.Regexp{
	regexp.MustCompile(`^node_netstat_\w+ metric names should be written in 'snake_case' not 'camelCase'$`),
	regexp.MustCompile(`^node_entropy_(available|pool_size)_bits use base unit "bytes" instead of "bits"$`),
	regexp.MustCompile(`^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$`),
	regexp.MustCompile(`^node_vmstat_\w+ metric names should be written in 'snake_case' not 'camelCase'$`),
	regexp.MustCompile(`^node_sockstat_\w+ metric names should be written in 'snake_case' not 'camelCase'$`),
	regexp.MustCompile(`^node_hwmon_\w+ metric names should be written in 'snake_case' not 'camelCase'$`),
	// process-exporter's own self-metrics are counters without _total.
	regexp.MustCompile(`^namedprocess_scrape_\w+ counter metrics should have "_total" suffix$`),
}

// PromtoolCheckMetrics runs `promtool check metrics` on an exposition and
// returns its findings, less node_exporter's accepted exceptions. It skips
// the test when promtool is missing (fails it under CI).
func PromtoolCheckMetrics(t testing.TB, exposition []byte) []string {
	t.Helper()
	promtool := LookPath(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || slices.ContainsFunc(promtoolExceptions, func(re *regexp.Regexp) bool { return re.MatchString(line) }) {
			continue
		}
		problems = append(problems, line)
	}
	if err != nil && len(problems) == 0 {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 { // 3: lint findings only
			problems = append(problems, fmt.Sprintf("promtool failed: %v", err))
		}
	}
	return problems
}
