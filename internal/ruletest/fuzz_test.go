package ruletest

import (
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

// FuzzParse checks Parse on any rule test file: a refusal says so, and an
// accepted file has its default intervals filled in and start times that
// are real dates.
func FuzzParse(f *testing.F) {
	testenv.AddSeedFiles(f, "testdata/*.yml", "testdata/bad/*.yml")
	for _, s := range []string{
		"tests:\n  - start_timestamp: 2026-11-28T12:00:00.5Z\n",
		"tests:\n  - start_timestamp: -1.5\n",
		"tests:\n  - start_timestamp: nan\n",
		"tests:\n  - start_timestamp: 1e300\n",
		"tests:\n  - start_timestamp: [1]\n",
		"evaluation_interval: -1m\ntests: [{interval: 0s}, {}]\n",
		"tests:\n  - external_labels: {a: b, a: c}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if file != nil || !strings.HasPrefix(err.Error(), "parsing rule test file: ") {
				t.Fatalf("file %v, error %q", file, err)
			}
			return
		}
		if file.EvaluationInterval <= 0 {
			t.Fatalf("evaluation interval %v", file.EvaluationInterval)
		}
		for i, tg := range file.Tests {
			if tg.Interval <= 0 {
				t.Fatalf("test %d: interval %v", i, tg.Interval)
			}
			if st := tg.StartTimestamp; !st.IsZero() && (st.Year() < 0 || st.Year() > 9999) {
				t.Fatalf("test %d: start_timestamp read as %v", i, st.Time)
			}
		}
	})
}
