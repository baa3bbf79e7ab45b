package subquery

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

func TestCheckQuery(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, tc := range []struct {
		query string
		span  time.Duration
		want  string // "" when accepted
	}{
		{"up", 0, ""},
		{"rate(up[5m])", 0, ""},
		{"max_over_time(up[5m:])", 0, ""},
		{"count_over_time(up[1h:])", 0, ""},
		// 1e6 steps exactly is allowed; one more is not.
		{"count_over_time(up[1000000s:1s])", 0, ""},
		{"count_over_time(up[1000001s:1s])", 0, "would be evaluated at 1e+06 steps, more than the limit of 1000000"},
		{"count_over_time(up[100y:1ms])", 0, "subquery up[100y:1ms] would be evaluated at 3.15e+12 steps"},
		// A subquery without a step takes DefaultStep: 2 y / 1 m > 1e6.
		{"count_over_time(up[2y:])", 0, "subquery up[2y:] would be evaluated at 1.05e+06 steps"},
		// The inner subquery spans its range plus the outer one's.
		{"max_over_time(count_over_time(up[2d:1m])[700d:1d])", 0, "subquery up[2d:1m] would be evaluated at 1.01e+06 steps"},
		// A range query's span counts too.
		{"count_over_time(up[1d:1s])", 0, ""},
		{"count_over_time(up[1d:1s])", 1000000 * time.Second, "would be evaluated at 1.09e+06 steps"},
		// Not refused here: the caller's parser explains the error.
		{"count_over_time(up[1d:1ms]", 0, ""},
	} {
		err := CheckQuery(p, tc.query, tc.span)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s over %s: %v, want accepted", tc.query, tc.span, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s over %s: %v, want an error containing %q", tc.query, tc.span, err, tc.want)
		}
	}
}

func TestCheckRuleFile(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, tc := range []struct {
		name string
		file string
		want []string
	}{
		{"no subquery", "groups:\n  - name: a\n    rules:\n      - record: a:b\n        expr: sum(up)\n", nil},
		{"small subqueries", "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: max_over_time(up[1h:]) > 0\n", nil},
		{"two refused in two groups", "groups:\n  - name: a\n    rules:\n      - record: ok:x\n        expr: up\n      - alert: Huge\n        expr: |\n          count_over_time(up[100y:1ms]) > 0\n" +
			"  - name: b\n    rules:\n      - record: big:x\n        expr: 'count_over_time(up[2y:])'\n",
			[]string{`7:15: group "a", rule 2, "Huge": subquery up[100y:1ms] would be evaluated at 3.15e+12 steps`,
				`12:15: group "b", rule 1, "big:x": subquery up[2y:] would be evaluated at 1.05e+06 steps`}},
		{"not YAML: left to rulefmt", "groups: [: x", nil},
		{"expression that does not parse: left to rulefmt", "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up[5m:\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := CheckRuleFile(p, []byte(tc.file))
			if len(errs) != len(tc.want) {
				t.Fatalf("%d errors %v, want %d", len(errs), errs, len(tc.want))
			}
			for i, w := range tc.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, w) {
					t.Errorf("error %d: %q, want it to start with %q", i, got, w)
				}
			}
		})
	}
}

func TestNoStepInterval(t *testing.T) {
	if got := NoStepInterval(15_000); got != 60_000 {
		t.Fatalf("NoStepInterval = %d ms, want 60000 (Prometheus' default evaluation_interval)", got)
	}
}
