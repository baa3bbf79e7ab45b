package ruleslint

import (
	"os"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// lintSeeds are expressions of the lint tests: each lint, with and
// without a correction, and nested.
var lintSeeds = []string{
	`rate(training_loss[5m]) > 0`,
	`sum by (gpu) (rate(DCGM_FI_DEV_GPU_TEMP[5m])) > 0`,
	`rate({__name__="training_loss",run="a"}[5m])`,
	`rate(max(training_loss)[10m:1m])`,
	`resets(training_loss[1h]) > 3`,
	`deriv(batches_processed_total[5m]) == 0`,
	`predict_linear(node_cpu_seconds_total[1h], 3600)`,
	`DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE * 100 > 90`,
	`100 * (DCGM_FI_DEV_FB_USED / on(gpu) DCGM_FI_DEV_FB_FREE)`,
	`histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`,
	`rate(rpc_duration_seconds{quantile="0.9"}[5m]) + increase(om_requests_total[1m])`,
	`irate(weird[1m]) / node_filesystem_avail_bytes`,
	`sum(`,
}

// FuzzLintExpr checks LintExpr on any expression: positions are inside
// the expression, a correction parses and is a fixed point (linting it
// finds nothing more to correct).
func FuzzLintExpr(f *testing.F) {
	for _, s := range lintSeeds {
		f.Add(s)
	}
	types := testTypes()
	f.Fuzz(func(t *testing.T, expr string) {
		fs, err := LintExpr(expr, types)
		if err != nil {
			if err.Error() == "" || fs != nil {
				t.Fatalf("error %q with %d findings", err, len(fs))
			}
			return
		}
		lines := strings.Count(expr, "\n") + 1
		for _, fd := range fs {
			checkFinding(t, expr, lines, fd)
			if !fd.Lint || fd.Expr != expr {
				t.Fatalf("lint finding not marked as one: %+v", fd)
			}
			if fd.Corrected != "" {
				checkCorrected(t, expr, fd.Corrected, types)
			}
		}
	})
}

// checkFinding checks what holds for every finding.
func checkFinding(t *testing.T, src string, lines int, fd Finding) {
	t.Helper()
	if fd.Message == "" || fd.Check == "" {
		t.Fatalf("finding without a message or check: %+v", fd)
	}
	if fd.Severity != Error && fd.Severity != Warning {
		t.Fatalf("severity %d", fd.Severity)
	}
	if fd.Line < 0 || fd.Line > lines || fd.Column < 0 || (fd.Column > 0 && fd.Line == 0) {
		t.Fatalf("position %d:%d outside %d lines: %+v\n%s", fd.Line, fd.Column, lines, fd, src)
	}
	if strings.ContainsAny(fd.Message, "\n") {
		t.Fatalf("message on more than one line: %q", fd.Message)
	}
}

// checkCorrected checks that a correction parses and needs no further
// correction.
func checkCorrected(t *testing.T, expr, corrected string, types TypeSource) {
	t.Helper()
	again, err := LintExpr(corrected, types)
	if err != nil {
		t.Fatalf("%q corrected to %q, which does not parse: %v", expr, corrected, err)
	}
	for _, fd := range again {
		if fd.Corrected != "" {
			t.Fatalf("%q corrected to %q, which is corrected again to %q (%s)", expr, corrected, fd.Corrected, fd.Message)
		}
	}
}

// FuzzCheckBytes checks CheckBytes on any rule file: findings are placed
// on lines of the file, explain themselves, come sorted by line, and every
// correction parses and needs no further correction.
func FuzzCheckBytes(f *testing.F) {
	for _, p := range []string{"testdata/corrected.rules.yml", "../../rules/trainwatch.rules.yml", "../ruletest/testdata/bad.rules.yml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, e := range lintSeeds {
		f.Add([]byte("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: " + e + "\n        for: 5m\n"))
	}
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: |\n          rate(\n            training_loss[5m])\n      - record: r\n        expr: |\n          rate(\n            training_loss[5m])\n"))
	f.Add([]byte("groups:\n- name: g\n  labels: {a: '{{'}\n  rules:\n  - alert: B\n    expr: up\n    annotations: {s: '{{ $value'}\n---\nx: 1\n"))
	f.Add([]byte("groups:\n  - name: g\n  - name: g\n    rules: [{record: 'a b', expr: up, for: 1m}]\n"))
	types := Layered{testTypes(), Types{"x": collector.Counter}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep := CheckBytes("f.yml", data, types)
		if rep.File != "f.yml" || rep.Rules < 0 {
			t.Fatalf("report %q, %d rules", rep.File, rep.Rules)
		}
		lines := strings.Count(string(data), "\n") + 1
		for i, fd := range rep.Findings {
			checkFinding(t, string(data), lines, fd)
			if i > 0 && fd.Line < rep.Findings[i-1].Line {
				t.Fatalf("findings not sorted by line: %d after %d", fd.Line, rep.Findings[i-1].Line)
			}
			if fd.Corrected != "" {
				if fd.Expr == "" {
					t.Fatalf("a correction without the expression: %+v", fd)
				}
				checkCorrected(t, fd.Expr, fd.Corrected, types)
			}
		}
	})
}

// FuzzParseMetadata checks ParseMetadata on any /api/v1/metadata answer:
// a refusal says why, and every type it returns is one the linter uses.
func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(metadataBody))
	f.Add([]byte(`{"status":"error","error":"boom"}`))
	f.Add([]byte(`{"status":"success","data":{"a":[],"b":null,"c":[{"type":"gaugehistogram"}]}}`))
	f.Add([]byte(`{"status":"success","data":{"a":[{"type":"counter"}]}} trailing`))
	f.Fuzz(func(t *testing.T, body []byte) {
		types, err := ParseMetadata(strings.NewReader(string(body)))
		if err != nil {
			if types != nil || !strings.HasPrefix(err.Error(), "metadata: ") {
				t.Fatalf("error %q, types %v", err, types)
			}
			return
		}
		for name, typ := range types {
			switch typ {
			case collector.Counter, collector.Gauge, collector.Histogram, collector.Summary:
			default:
				t.Fatalf("%q has type %v", name, typ)
			}
			if got, ok := types.Type(name); !ok || got != typ {
				t.Fatalf("Type(%q) = %v, %v; want %v", name, got, ok, typ)
			}
		}
	})
}
