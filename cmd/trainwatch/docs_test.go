package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/config"
)

// TestDocumentedConfigurationLoads keeps docs/configuration.md true: its
// full example must load, and build every host collector.
func TestDocumentedConfigurationLoads(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no yaml block in docs/configuration.md")
	}
	p := filepath.Join(t.TempDir(), "trainwatch.yml")
	if err := os.WriteFile(p, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("documented configuration does not load: %v", err)
	}
	cs, err := host.Collectors(cfg.Host)
	if err != nil {
		t.Fatalf("documented configuration does not build the collectors: %v", err)
	}
	// Every collector the doc lists under `disable` exists, and vice versa.
	var listed []string
	inList := false
	for _, line := range strings.Split(string(m[1]), "\n") {
		switch {
		case strings.Contains(line, "# Collectors not to run"):
			inList = true
		case inList && strings.HasPrefix(line, "  # "):
			listed = append(listed, strings.Fields(strings.TrimPrefix(line, "  # "))...)
		default:
			inList = false
		}
	}
	names := map[string]bool{}
	for _, c := range cs {
		names[c.Name()] = true
	}
	for _, n := range listed {
		if !names[n] {
			t.Errorf("docs/configuration.md lists collector %q, which does not exist", n)
		}
		delete(names, n)
	}
	for n := range names {
		t.Errorf("collector %q is not listed in docs/configuration.md", n)
	}
}

// TestProcessesDocExampleLoads keeps docs/processes.md's example true.
func TestProcessesDocExampleLoads(t *testing.T) {
	doc, err := os.ReadFile("../../docs/processes.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(processes:.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no processes: yaml example in docs/processes.md")
	}
	p := filepath.Join(t.TempDir(), "trainwatch.yml")
	if err := os.WriteFile(p, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("docs/processes.md example does not load: %v", err)
	}
	if len(cfg.Processes.Groups) != 2 {
		t.Fatalf("example has %d matchers, want 2", len(cfg.Processes.Groups))
	}
	if _, release, err := newRunner(cfg, false, nil); err != nil {
		t.Fatalf("example does not build the collectors: %v", err)
	} else {
		release()
	}
}
