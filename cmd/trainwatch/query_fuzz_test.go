package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trainwatch/trainwatch/internal/promapi"
)

// FuzzQueryTable prints any API data object as `trainwatch query` prints
// an agent's (or any Prometheus-compatible server's) answer: it fails
// with a message or prints valid UTF-8 from valid UTF-8, never a control
// character a terminal would act on.
func FuzzQueryTable(f *testing.F) {
	files, err := filepath.Glob("testdata/query/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.Contains(p, "matrix"))
	}
	f.Add([]byte(`{"resultType":"matrix","result":[{"metric":{"__name__":"x"},"values":[[1,"NaN"],[2,"+Inf"],[3,"-Inf"],[4,"1e308"],[5,"-1e308"],[6,"x"],[7,7]]}]}`), true)
	f.Add([]byte(`{"resultType":"vector","result":[{"metric":{"__name__":"a\u001b[2Jb","l":"\u001b]0;t\u0007"},"value":[1,"\u001b[31m1"]},{"metric":{},"value":[1,2]}]}`), false)
	f.Add([]byte(`{"resultType":"string","result":[1,"\u001b[2J"]}`), false)
	end := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, matrix bool) {
		r := promapi.Range{End: end}
		if matrix {
			r = promapi.Range{Start: end.Add(-time.Hour), End: end, Step: 15 * time.Minute}
		}
		var out bytes.Buffer
		if err := printQueryTable(&out, data, r); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		s := out.String()
		if utf8.Valid(data) && !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 printed from valid input: %q", s)
		}
		for _, c := range s {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || (c >= 0x80 && c < 0xa0) {
				t.Fatalf("control character %U printed: %q", c, s)
			}
		}
	})
}
