package rules

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/trainwatch/trainwatch/internal/ruletest"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// testFiles returns the promtool unit test files of the pack.
func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("tests", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no test files in rules/tests")
	}
	return files
}

// loadPack parses the embedded rule files as Prometheus does.
func loadPack(t *testing.T) map[string]*rulefmt.RuleGroups {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	out := map[string]*rulefmt.RuleGroups{}
	for _, name := range Files() {
		b, err := FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		rgs, errs := rulefmt.Parse(b, false, model.UTF8Validation, p, nil)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs)
		}
		out[name] = rgs
	}
	return out
}

func TestFiles(t *testing.T) {
	disk, err := filepath.Glob("*.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := Files(); !slices.Equal(got, disk) || len(got) == 0 {
		t.Fatalf("Files() = %v; rule files on disk: %v", got, disk)
	}
}

// TestPromtoolCheckRules runs the real promtool (Debian's 2.42 in CI) over
// the pack: it must accept every rule, so that the pack works in older
// Prometheus servers too.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool")
	args := append([]string{"check", "rules"}, Files()...)
	cmd := exec.Command(promtool, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// TestPromtoolTestRules runs the pack's unit tests with the real promtool.
func TestPromtoolTestRules(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool")
	for _, f := range testFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules %s: %v\n%s", f, err, out)
			}
		})
	}
}

// TestRuleTests runs the same unit tests in process, with the Prometheus
// rules package and PromQL engine the agent links.
func TestRuleTests(t *testing.T) {
	for _, f := range testFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			fails, err := ruletest.Run(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range fails {
				t.Error(fl)
			}
		})
	}
}

// TestCoverage requires, for every alert of the pack, a test that expects
// it to fire and one that expects it not to, and no test of an alert the
// pack does not have.
func TestCoverage(t *testing.T) {
	type cover struct{ firing, quiet int }
	covered := map[string]*cover{}
	for _, rgs := range loadPack(t) {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					covered[r.Alert] = &cover{}
				}
			}
		}
	}
	for _, f := range testFiles(t) {
		tf, err := ruletest.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range tf.Tests {
			for _, at := range tg.AlertRuleTests {
				c := covered[at.Alertname]
				if c == nil {
					t.Errorf("%s: test of unknown alert %s", f, at.Alertname)
					continue
				}
				if len(at.ExpAlerts) > 0 {
					c.firing++
				} else {
					c.quiet++
				}
			}
		}
	}
	for name, c := range covered {
		if c.firing == 0 || c.quiet == 0 {
			t.Errorf("alert %s: %d firing and %d non-firing cases; want at least one of each", name, c.firing, c.quiet)
		}
	}
}

// TestRuleConventions checks what every alert of the pack promises: a
// severity of warning or critical, a summary and a description, and
// CamelCase names unique across the pack.
func TestRuleConventions(t *testing.T) {
	seen := map[string]bool{}
	camel := regexp.MustCompile(`^[A-Z][A-Za-z0-9]+$`)
	for file, rgs := range loadPack(t) {
		for _, g := range rgs.Groups {
			if !strings.HasPrefix(g.Name, "trainwatch-") {
				t.Errorf("%s: group %q: want a trainwatch- prefix", file, g.Name)
			}
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				switch {
				case seen[r.Alert]:
					t.Errorf("alert %s defined twice", r.Alert)
				case !camel.MatchString(r.Alert):
					t.Errorf("alert %s: want a CamelCase name", r.Alert)
				}
				seen[r.Alert] = true
				if s := r.Labels["severity"]; s != "warning" && s != "critical" {
					t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, s)
				}
				for _, a := range []string{"summary", "description"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("alert %s: no %s annotation", r.Alert, a)
					}
				}
				if len(r.Annotations) != 2 {
					t.Errorf("alert %s: annotations %v, want summary and description only", r.Alert, r.Annotations)
				}
			}
		}
	}
}

// TestMetricNamesExist checks that every metric the pack selects is one
// the agent documents (docs/*.md) or one the pack records: a misspelt name
// would make an alert silently never fire.
func TestMetricNamesExist(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	text := all.String()
	p := parser.NewParser(parser.Options{})
	pack := loadPack(t)
	recorded := map[string]bool{}
	for _, rgs := range pack {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				recorded[r.Record] = r.Record != ""
			}
		}
	}
	for _, rgs := range pack {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				expr, err := p.ParseExpr(r.Expr)
				if err != nil {
					t.Fatalf("%s: %v", r.Alert, err)
				}
				parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
					vs, ok := n.(*parser.VectorSelector)
					if !ok {
						return nil
					}
					if !recorded[vs.Name] && !documented(text, vs.Name) {
						t.Errorf("rule %s%s selects %s, which no page of docs/ names and no rule records", r.Alert, r.Record, vs.Name)
					}
					return nil
				})
			}
		}
	}
}

// documented reports whether name appears in the docs as a whole word,
// or through a table's shorthand of a shared prefix (`DCGM_FI_DEV_FB_TOTAL`,
// `_FB_FREE`, `_FB_USED`).
func documented(text, name string) bool {
	if regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(text) {
		return true
	}
	for i := strings.Index(name[1:], "_") + 1; i > 0 && i < len(name); {
		if strings.Contains(text, "`"+name[i:]+"`") && strings.Contains(text, "`"+name[:i]) {
			return true
		}
		j := strings.Index(name[i+1:], "_")
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// TestReadmeListsAlerts keeps rules/README.md's table in step with the pack.
func TestReadmeListsAlerts(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, rgs := range loadPack(t) {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" && !strings.Contains(string(b), "| "+r.Alert+" |") {
					t.Errorf("README.md does not list alert %s", r.Alert)
				}
			}
		}
	}
}
