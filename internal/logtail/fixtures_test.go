package logtail

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed fixtures are what the generator scripts in testdata/ write:
// run them into a temporary directory and compare byte for byte. Skipped
// without python3 (CI installs it).
func TestFixturesMatchGenerators(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			t.Skip("python3 not found; the fixtures are committed")
		}
	}
	tests := []struct {
		script string
		files  []string
	}{
		{"gen_csv.py", []string{"metrics-1.csv", "metrics-2.csv", "metrics-3.csv"}},
		{"gen_trainer_state.py", []string{
			"hf/checkpoint-500/trainer_state.json", "hf/checkpoint-1000/trainer_state.json",
			"hf/trainer_state.json", "hf/trainer_state-torn.json",
		}},
		{"gen_events.py", []string{tbTorch, tbTF2}},
	}
	for _, tc := range tests {
		t.Run(tc.script, func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(py, filepath.Join("testdata", tc.script), out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tc.script, err, msg)
			}
			for _, name := range tc.files {
				got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name)))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, fixture(t, name)) {
					t.Errorf("testdata/%s differs from what %s writes now; run it again", name, tc.script)
				}
			}
		})
	}
}
