package host

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

const (
	docPath   = "../../../docs/metrics.md"
	docBegin  = "<!-- BEGIN GENERATED: host metrics (go test ./internal/collector/host, UPDATE_DOCS=1 regenerates) -->"
	docEnd    = "<!-- END GENERATED: host metrics -->"
	tcpstatMd = "| `node_tcp_connection_states` | gauge | state | Number of connection states. |\n"
)

// metricsReference renders, per collector, every family it emits on the
// fixture tree (tcpstat, which needs a live kernel, is added by hand).
func metricsReference(t *testing.T) string {
	t.Helper()
	cs, err := Collectors(fixtureConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(docBegin + "\n")
	for _, c := range cs {
		fams, err := collector.CollectOnce(context.Background(), c)
		if err != nil && !strings.Contains(err.Error(), collector.ErrNoData.Error()) {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		sort.Slice(fams, func(i, j int) bool { return fams[i].Desc.Name < fams[j].Desc.Name })
		fmt.Fprintf(&b, "\n### `%s`\n\n| metric | type | labels | help |\n|---|---|---|---|\n", c.Name())
		for _, f := range fams {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Desc.Name, f.Desc.Type, strings.Join(f.Desc.LabelNames, ", "), strings.ReplaceAll(f.Desc.Help, "|", "\\|"))
		}
	}
	fmt.Fprintf(&b, "\n### `tcpstat`\n\n| metric | type | labels | help |\n|---|---|---|---|\n%s", tcpstatMd)
	b.WriteString("\n" + docEnd)
	return b.String()
}

// TestMetricsDocUpToDate keeps docs/metrics.md's reference true to what
// the collectors emit.
func TestMetricsDocUpToDate(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, docBegin), strings.Index(s, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-section markers", docPath)
	}
	want := metricsReference(t)
	if s[i:j+len(docEnd)] == want {
		return
	}
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.WriteFile(docPath, []byte(s[:i]+want+s[j+len(docEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s's metric reference is out of date; run UPDATE_DOCS=1 go test ./internal/collector/host -run TestMetricsDocUpToDate", docPath)
}
