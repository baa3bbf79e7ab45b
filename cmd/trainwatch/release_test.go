package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

const releaseScript = "../../scripts/release.sh"

// TestRelease: scripts/release.sh, which `make release` runs for amd64 and
// arm64, builds this machine's architecture with the version, commit and
// date it is given, which `trainwatch version` prints; SHA256SUMS matches
// the binary; the build is -trimpath, with cgo (NVML) when a C compiler is
// here.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release binary")
	}
	bash := testenv.LookPath(t, "bash")
	testenv.LookPath(t, "sha256sum")
	out := t.TempDir()
	cmd := exec.Command(bash, releaseScript, "--arch", runtime.GOARCH, "--out", out,
		"--version", "v1.2.3-test.4", "--commit", "0123456789abcdef0123456789abcdef01234567", "--date", "2026-01-02T03:04:05Z")
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("release.sh: %v\n%s", err, log)
	}
	bin := filepath.Join(out, "trainwatch-linux-"+runtime.GOARCH)
	got, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, got)
	}
	want := "trainwatch v1.2.3-test.4 (commit 0123456789abcdef0123456789abcdef01234567, built 2026-01-02T03:04:05Z, " +
		runtime.Version() + ", linux/" + runtime.GOARCH + ")\n"
	if string(got) != want {
		t.Errorf("version printed %q, want %q", got, want)
	}

	// SHA256SUMS lists exactly the binary built, with its digest.
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if wantSums := hex.EncodeToString(sum[:]) + "  trainwatch-linux-" + runtime.GOARCH + "\n"; string(sums) != wantSums {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", sums, wantSums)
	}

	// How it was built: Go records the settings in the binary.
	info, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, info)
	}
	settings := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(info)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "build" {
			if k, v, ok := strings.Cut(f[1], "="); ok {
				settings[k] = v
			}
		}
	}
	wantCgo := "0"
	if cc, err := exec.Command("go", "env", "CC").Output(); err == nil {
		if _, err := exec.LookPath(strings.Fields(string(cc) + " gcc")[0]); err == nil {
			wantCgo = "1"
		}
	}
	if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != wantCgo {
		t.Errorf("build settings -trimpath=%q CGO_ENABLED=%q, want true and %s:\n%s", settings["-trimpath"], settings["CGO_ENABLED"], wantCgo, info)
	}
	if !strings.Contains(string(log), "cgo=") || !strings.Contains(string(log), "version v1.2.3-test.4, commit 0123456789abcdef0123456789abcdef01234567") {
		t.Errorf("release.sh output:\n%s", log)
	}
}

// TestReleaseLdflags: the default version is `git describe --tags --always
// --dirty`, the commit HEAD's, and the date SOURCE_DATE_EPOCH's when set;
// `make build` uses these flags too.
func TestReleaseLdflags(t *testing.T) {
	bash := testenv.LookPath(t, "bash")
	cmd := exec.Command(bash, releaseScript, "--print-ldflags")
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1767322800")
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("release.sh --print-ldflags: %v\n%s", err, got)
	}
	version, commit := "dev", "unknown"
	if b, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(b))
	}
	want := "-s -w -X main.version=" + version + " -X main.commit=" + commit + " -X main.date=2026-01-02T03:00:00Z\n"
	if string(got) != want {
		t.Errorf("ldflags %q, want %q", got, want)
	}
}

// TestReleaseUsageErrors: release.sh refuses bad arguments before it builds
// anything.
func TestReleaseUsageErrors(t *testing.T) {
	bash := testenv.LookPath(t, "bash")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown argument", []string{"--fast"}, "unknown argument --fast"},
		{"bad cgo", []string{"--cgo", "maybe"}, "--cgo maybe: want auto, on or off"},
		{"bad arch", []string{"--arch", "mips", "--out", "OUT"}, "--arch mips: want amd64 or arm64"},
		{"space in version", []string{"--version", "v1 beta", "--print-ldflags"}, "without spaces, quotes or backslashes"},
		{"quote in commit", []string{"--commit", `a"b`, "--print-ldflags"}, "without spaces, quotes or backslashes"},
		{"missing value", []string{"--out"}, "--out needs a value"},
	}
	if _, err := exec.LookPath("aarch64-linux-gnu-gcc"); err != nil && runtime.GOARCH == "amd64" {
		tests = append(tests, struct {
			name    string
			args    []string
			wantErr string
		}{"cgo on without a cross compiler", []string{"--arch", "arm64", "--cgo", "on", "--out", "OUT"}, "no C compiler aarch64-linux-gnu-gcc for linux/arm64"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			args := []string{releaseScript}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "OUT", out))
			}
			b, err := exec.Command(bash, args...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(b), tt.wantErr) {
				t.Fatalf("release.sh %s: %v\n%s\nwant exit 2 and %q", strings.Join(tt.args, " "), err, b, tt.wantErr)
			}
			if ents, _ := os.ReadDir(out); len(ents) > 0 {
				t.Errorf("%d files written", len(ents))
			}
		})
	}
}
