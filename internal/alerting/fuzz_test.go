package alerting

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/trainwatch/trainwatch/internal/testenv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/trainwatch/trainwatch/internal/ruleslint"
)

// FuzzRuleFile loads any rule file as the rule manager does. Every
// problem is a located *RuleFileError naming the file, reported once, at
// a line the file has; an accepted file's expressions all parse; and
// ruleslint (trainwatch rules check) refuses exactly the files the agent
// refuses.
func FuzzRuleFile(f *testing.F) {
	testenv.AddSeedFiles(f,
		"testdata/builtin/gpu.yaml", "testdata/builtin/training.yml", "testdata/bench/rules.yml",
		"../../rules/trainwatch.rules.yml", "../ruleslint/testdata/corrected.rules.yml")
	for _, s := range []string{
		"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: sum(\n",
		"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: \"up\n",
		"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        fro: 5m\n",
		"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        annotations:\n          summary: '{{ $labels.instance'\n",
		"groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n",
		"groups:\n  - name: a\n    interval: x\n    rules:\n      - record: 'a b'\n        expr: up\n        for: 5m\n",
		"groups: [{name: b, rules: [{record: a:b, expr: vector(2), labels: {x: '{{'}}]}]}\n---\ngroups: []\n",
		"groups:\n  - name: u\n    rules:\n      - alert: Ü\n        expr: '{\"my.metric\"} > 1'\n        keep_firing_for: 1m\n",
		"",
		"groups: 3\n",
	} {
		f.Add([]byte(s))
	}
	p := parser.NewParser(parser.Options{})
	l := groupLoader{parser: p, logger: slog.New(slog.DiscardHandler)}
	const file = BuiltinPrefix + "f.yml"
	f.Fuzz(func(t *testing.T, data []byte) {
		l.builtin = fstest.MapFS{"f.yml": {Data: data}}
		rgs, errs := l.Load(file, false, model.UTF8Validation)
		lines := strings.Count(string(data), "\n") + 1
		seen := map[string]bool{}
		for _, err := range errs {
			var fe *RuleFileError
			if !errors.As(err, &fe) {
				t.Fatalf("%v (%T) is not a *RuleFileError", err, err)
			}
			if fe.File != file || fe.Msg == "" || !strings.HasPrefix(fe.Error(), file+":") {
				t.Fatalf("badly located: %+v", fe)
			}
			if fe.Line < 0 || fe.Line > lines || fe.Column < 0 || (fe.Column > 0 && fe.Line == 0) {
				t.Fatalf("position %d:%d in a file of %d lines: %v", fe.Line, fe.Column, lines, fe)
			}
			if seen[fe.Error()] {
				t.Fatalf("reported twice: %v", fe)
			}
			seen[fe.Error()] = true
		}
		if (rgs == nil) == (len(errs) == 0) {
			t.Fatalf("groups %v with %d errors", rgs != nil, len(errs))
		}
		if len(errs) > 0 {
			le := &LoadError{Errs: errs}
			if got := strings.Count(le.Error(), "\n"); got < len(errs) {
				t.Fatalf("LoadError lists %d lines for %d problems", got, len(errs))
			}
		} else {
			for _, g := range rgs.Groups {
				for _, r := range g.Rules {
					if _, err := l.Parse(r.Expr); err != nil {
						t.Fatalf("accepted rule %q%q: expression %q does not parse: %v", r.Alert, r.Record, r.Expr, err)
					}
				}
			}
		}

		rep := ruleslint.CheckBytes("f.yml", data, nil)
		var lintErrs []string
		for _, fd := range rep.Findings {
			if fd.Severity == ruleslint.Error && !fd.Lint {
				lintErrs = append(lintErrs, fd.Message)
			}
		}
		if (len(lintErrs) > 0) != (len(errs) > 0) {
			t.Fatalf("the agent and ruleslint disagree:\nagent: %v\nruleslint: %q", errs, lintErrs)
		}
	})
}
