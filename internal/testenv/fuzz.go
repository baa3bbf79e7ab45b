package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// AddSeedFiles adds the content of every file the glob patterns match to
// f's seed corpus; directories are skipped. A pattern that matches no file
// fails the test: a fixture that moved would otherwise leave the fuzz
// target without its seeds unnoticed.
func AddSeedFiles(f *testing.F, patterns ...string) {
	f.Helper()
	for _, pattern := range patterns {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatalf("seed files %q: %v", pattern, err)
		}
		n := 0
		for _, p := range paths {
			if st, err := os.Stat(p); err != nil || st.IsDir() {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatalf("seed file: %v", err)
			}
			f.Add(b)
			n++
		}
		if n == 0 {
			f.Fatalf("seed files %q: no file matches", pattern)
		}
	}
}
