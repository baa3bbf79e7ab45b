package ruleslint

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// at is the position and check of a finding, for comparisons.
type at struct {
	line     int
	severity Severity
	check    string
}

func positions(fs []Finding) []at {
	out := make([]at, 0, len(fs))
	for _, f := range fs {
		out = append(out, at{f.Line, f.Severity, f.Check})
	}
	return out
}

func TestRulesCheckBytes(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		rules int
		want  []at
		// msg is a substring of the first finding's message.
		msg string
	}{
		{
			name: "syntax error in a plain scalar",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
      - alert: B
        expr: sum(rate(x[5m]) by (job)
`,
			rules: 2,
			want:  []at{{7, Error, CheckSyntax}},
			msg:   `alert "B": could not parse expression: unexpected <by> in aggregation`,
		},
		{
			name: "subquery with too many steps",
			yaml: `groups:
  - name: g
    rules:
      - record: ok:sq
        expr: max_over_time(up[1h:])
      - alert: Huge
        expr: count_over_time(up[100y:1ms]) > 0
`,
			rules: 2,
			want:  []at{{7, Error, CheckSubquery}},
			msg:   `alert "Huge": subquery up[100y:1ms] would be evaluated at 3.15e+12 steps, more than the limit of 1000000`,
		},
		{
			name: "syntax error on the third line of a literal block",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: |
          sum by (job) (
            rate(x[5m])
            +* 2
          ) > 0
`,
			rules: 1,
			want:  []at{{8, Error, CheckSyntax}},
		},
		{
			name: "syntax error on the second line of a folded block",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: >
          sum(x)
          > > 1
`,
			rules: 1,
			want:  []at{{7, Error, CheckSyntax}},
		},
		{
			name: "syntax error on the continuation of a plain scalar",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: sum(x)
          > > 1
`,
			rules: 1,
			want:  []at{{6, Error, CheckSyntax}},
		},
		{
			name: "template errors at their annotation and label",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        labels:
          team: "{{ .Labels.team }"
        annotations:
          summary: ok
          description: "{{ $labels.instance "
`,
			rules: 1,
			want:  []at{{7, Error, CheckTemplate}, {10, Error, CheckTemplate}},
		},
		{
			name: "for and annotations on a recording rule",
			yaml: `groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        for: 5m
`,
			rules: 1,
			want:  []at{{4, Error, CheckRule}},
			msg:   `record "job:up:sum": invalid field 'for' in recording rule`,
		},
		{
			name: "neither alert nor record",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
      - expr: up
`,
			rules: 2,
			want:  []at{{6, Error, CheckRule}},
			msg:   `rule 2 of group "g": one of 'record' or 'alert' must be set`,
		},
		{
			name: "duplicate rules across groups warn",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        labels: {severity: page}
      - alert: A
        expr: up == 0
        labels: {severity: ticket}
  - name: h
    rules:
      - alert: A
        expr: up == 0
        labels: {severity: page}
`,
			rules: 3,
			want:  []at{{12, Warning, CheckDuplicate}},
			msg:   `same name and labels as the rule at line 4`,
		},
		{
			name:  "yaml syntax error",
			yaml:  "groups:\n  - name: g\n    rules: [\n",
			rules: 0,
			want:  []at{{3, Error, CheckYAML}},
		},
		{
			name: "unknown field",
			yaml: `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        severity: page
`,
			rules: 0,
			want:  []at{{6, Error, CheckYAML}},
			msg:   "field severity not found",
		},
		{
			name: "repeated and empty group names",
			yaml: `groups:
  - name: g
    rules: []
  - name: ""
    rules: []
  - name: g
    rules: []
`,
			want: []at{{4, Error, CheckGroup}, {6, Error, CheckGroup}},
		},
		{
			name:  "a second document",
			yaml:  "groups: []\n---\ngroups: []\n",
			want:  []at{{2, Warning, CheckDocuments}},
			rules: 0,
		},
		{
			name: "empty file",
			yaml: "",
		},
		{
			name: "lints in a literal block, at their lines",
			yaml: `groups:
  - name: g
    rules:
      - alert: GPUMemory
        expr: |
          DCGM_FI_DEV_FB_USED
            / DCGM_FI_DEV_FB_FREE * 100 > 90
      - alert: Loss
        expr: |
          sum by (run) (
            rate(training_loss[5m])
          ) > 0
`,
			rules: 2,
			want:  []at{{6, Error, CheckUsedOverFree}, {11, Error, CheckCounterFuncOnGauge}},
			msg:   `alert "GPUMemory": DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE divides used by free`,
		},
		{
			name: "a lint in a quoted scalar",
			yaml: `groups:
  - name: g
    rules:
      - alert: Loss
        expr: "rate(training_loss[5m]) > 0"
`,
			rules: 1,
			want:  []at{{5, Error, CheckCounterFuncOnGauge}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := CheckBytes("f.yml", []byte(tc.yaml), testTypes())
			if rep.File != "f.yml" || rep.Rules != tc.rules {
				t.Errorf("report for %s with %d rules, want f.yml, %d", rep.File, rep.Rules, tc.rules)
			}
			got := positions(rep.Findings)
			if len(got) != len(tc.want) {
				t.Fatalf("findings %+v\nwant %+v", rep.Findings, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("finding %d at %+v, want %+v: %s", i, got[i], tc.want[i], rep.Findings[i].Message)
				}
			}
			if tc.msg != "" && !strings.Contains(rep.Findings[0].Message, tc.msg) {
				t.Errorf("message %q, want it to contain %q", rep.Findings[0].Message, tc.msg)
			}
			if n := rep.Count(Error) + rep.Count(Warning); n != len(rep.Findings) {
				t.Errorf("Count: %d, want %d", n, len(rep.Findings))
			}
		})
	}
}

// TestCheckCorrections: a lint finding carries the rule's expression and
// its correction, and Group and Rule name the rule.
func TestRulesCheckCorrections(t *testing.T) {
	rep := CheckBytes("f.yml", []byte(`groups:
  - name: training
    rules:
      - alert: TrainingLossIncreasing
        expr: rate(training_loss[5m]) > 0
        for: 10m
`), testTypes())
	if len(rep.Findings) != 1 {
		t.Fatalf("got %+v", rep.Findings)
	}
	f := rep.Findings[0]
	want := Finding{Line: 5, Column: 15, Severity: Error, Check: CheckCounterFuncOnGauge, Lint: true,
		Group: "training", Rule: "TrainingLossIncreasing", Expr: "rate(training_loss[5m]) > 0", Corrected: "deriv(training_loss[5m]) > 0"}
	f.Message = ""
	if f != want {
		t.Fatalf("got  %+v\nwant %+v", f, want)
	}
	if m := rep.Findings[0].Message; !strings.Contains(m, "every decrease of a gauge is read as a counter reset") {
		t.Errorf("message %q does not explain why", m)
	}
}

func TestRulesCheckFile(t *testing.T) {
	rep, err := Check(filepath.Join("testdata", "corrected.rules.yml"), testTypes())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rules != 7 || len(rep.Findings) != 0 {
		t.Fatalf("corrected rules: %d rules, findings %+v; want 7 rules, none", rep.Rules, rep.Findings)
	}
	_, err = Check(filepath.Join("testdata", "missing.yml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}
