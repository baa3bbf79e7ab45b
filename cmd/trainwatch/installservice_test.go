package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/deploy/systemd"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// TestInstallServiceDryRun: --dry-run prints the rendered unit and writes
// nothing, even where the binary does not exist.
func TestInstallServiceDryRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"install-service", "--dry-run", "--binary", "/usr/local/bin/trainwatch",
		"--config", "/etc/trainwatch/trainwatch.yml", "--listen", ":9835", "--unit-dir", "/nonexistent"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want, err := systemd.Render(systemd.Options{Binary: "/usr/local/bin/trainwatch", Config: "/etc/trainwatch/trainwatch.yml", Listen: ":9835"})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Fatalf("--dry-run printed:\n%s\nwant:\n%s", out.String(), want)
	}
	if !strings.Contains(out.String(), "\nExecStart=/usr/local/bin/trainwatch serve --data-dir /var/lib/trainwatch --config /etc/trainwatch/trainwatch.yml --listen :9835\n") {
		t.Errorf("ExecStart= line: %s", execStartOf(out.String()))
	}
}

// TestInstallServiceUsageErrors: what cannot work is refused with status 2
// before anything is written.
func TestInstallServiceUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"binary under /tmp", []string{"--binary", "/tmp/go-build1/exe/trainwatch"}, "/tmp/go-build1/exe/trainwatch is under /tmp, which the service does not see (PrivateTmp=yes)"},
		{"config under /var/tmp", []string{"--binary", "/bin/true", "--dry-run", "--config", "/var/tmp/tw.yml"}, "--config /var/tmp/tw.yml is under /var/tmp"},
		{"missing binary", []string{"--binary", "/nonexistent/trainwatch", "--no-start"}, "--binary: stat /nonexistent/trainwatch: no such file or directory"},
		{"binary not executable", []string{"--binary", "/etc/passwd", "--no-start"}, "--binary /etc/passwd: not an executable file"},
		{"bad config", []string{"--binary", "/bin/true", "--no-start", "--config", "testdata/bad-key.yml"}, "field intervall not found"},
		{"missing config", []string{"--binary", "/bin/true", "--no-start", "--config", "testdata/nope.yml"}, "no such file or directory"},
		{"bad listen", []string{"--binary", "/bin/true", "--no-start", "--listen", "9835"}, `listen "9835": want host:port`},
		{"argument", []string{"now"}, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"install-service", "--unit-dir", dir}, tt.args...)
			if code := run(context.Background(), args, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.wantErr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("%d files written", len(ents))
			}
		})
	}
}

// fakeSystemctl records systemctl calls and fails the one named fail.
type fakeSystemctl struct {
	calls [][]string
	fail  string
}

func (f *fakeSystemctl) run(_ context.Context, args ...string) ([]byte, error) {
	f.calls = append(f.calls, args)
	if f.fail != "" && args[0] == f.fail {
		return []byte("Failed to " + f.fail + ": Access denied\n"), errors.New("exit status 1")
	}
	return nil, nil
}

// TestInstallService runs install-service against a fake machine: who runs
// it, whether systemd runs, what systemctl answers.
func TestInstallService(t *testing.T) {
	enable := []string{"enable", "--now", "trainwatch.service"}
	restart := []string{"try-restart", "trainwatch.service"}
	tests := []struct {
		name      string
		opts      installOptions
		euid      int
		noSystemd bool
		existing  string // unit file already there ("same": the rendered one)
		fail      string // systemctl command that fails
		wantCalls [][]string
		wantErr   string
		wantOut   string
		wantUnit  bool
	}{
		{name: "install and start", euid: 0, wantCalls: [][]string{{"daemon-reload"}, enable},
			wantOut: "trainwatch.service is enabled and started", wantUnit: true},
		{name: "unchanged: no restart", euid: 0, existing: "same", wantCalls: [][]string{{"daemon-reload"}, enable},
			wantOut: "is up to date", wantUnit: true},
		{name: "update", euid: 0, existing: "[Unit]\n", wantCalls: [][]string{{"daemon-reload"}, enable, restart},
			wantOut: "wrote ", wantUnit: true},
		{name: "no-start as a user", opts: installOptions{noStart: true}, euid: 1000, noSystemd: true,
			wantOut: "not started (--no-start)", wantUnit: true},
		{name: "not root", euid: 1000, wantErr: "needs root: run it with sudo, or pass --no-start"},
		{name: "no systemd", euid: 0, noSystemd: true, wantErr: "this machine is not running systemd"},
		{name: "systemctl fails", euid: 0, fail: "enable", wantCalls: [][]string{{"daemon-reload"}, enable},
			wantErr: "systemctl enable --now trainwatch.service: exit status 1\n  Failed to enable: Access denied\n(see: systemctl status trainwatch.service; journalctl -u trainwatch)", wantUnit: true},
		{name: "no unit dir", opts: installOptions{unitDir: "/nonexistent/systemd"}, euid: 0,
			wantErr: "unit directory /nonexistent/systemd does not exist (pass --unit-dir)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			runDir := filepath.Join(dir, "run-systemd-system")
			if !tt.noSystemd {
				if err := os.Mkdir(runDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			unitDir := filepath.Join(dir, "units")
			if err := os.Mkdir(unitDir, 0o755); err != nil {
				t.Fatal(err)
			}
			o := tt.opts
			if o.unitDir == "" {
				o.unitDir = unitDir
			}
			o.binary = "/bin/true"
			want, err := systemd.Render(systemd.Options{Binary: "/bin/true"})
			if err != nil {
				t.Fatal(err)
			}
			unitPath := filepath.Join(unitDir, "trainwatch.service")
			switch tt.existing {
			case "":
			case "same":
				err = os.WriteFile(unitPath, []byte(want), 0o644)
			default:
				err = os.WriteFile(unitPath, []byte(tt.existing), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			sc := &fakeSystemctl{fail: tt.fail}
			env := installEnv{euid: tt.euid, systemdRunDir: runDir, executable: os.Executable, systemctl: sc.run}
			var out bytes.Buffer
			err = installService(context.Background(), o, env, &out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v; output: %s", err, out.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output %q does not contain %q", out.String(), tt.wantOut)
			}
			if !slices.EqualFunc(sc.calls, tt.wantCalls, slices.Equal) {
				t.Errorf("systemctl calls %q, want %q", sc.calls, tt.wantCalls)
			}
			got, rerr := os.ReadFile(unitPath)
			if tt.wantUnit {
				if rerr != nil || string(got) != want {
					t.Fatalf("unit file: %v\n%s", rerr, got)
				}
				if fi, _ := os.Stat(unitPath); fi.Mode().Perm() != 0o644 {
					t.Errorf("unit file mode %v, want 0644", fi.Mode().Perm())
				}
			} else if tt.existing == "" && rerr == nil {
				t.Errorf("unit written although %v", err)
			}
			if ents, _ := os.ReadDir(unitDir); len(ents) > 1 {
				t.Errorf("temporary files left in the unit directory: %v", ents)
			}
		})
	}
}

// TestInstallServiceDefaultBinary: without --binary the unit runs this
// executable, symbolic links resolved.
func TestInstallServiceDefaultBinary(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "trainwatch")
	if err := os.Symlink("/bin/true", link); err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	env := installEnv{executable: func() (string, error) { return link, nil }}
	var out bytes.Buffer
	if err := installService(context.Background(), installOptions{dryRun: true}, env, &out); err != nil {
		t.Fatal(err)
	}
	if got := execStartOf(out.String()); got != resolved+" serve --data-dir /var/lib/trainwatch" {
		t.Errorf("ExecStart=%s, want the resolved %s", got, resolved)
	}
}

// TestInstallServiceUnitVerifies: the unit install-service writes passes
// `systemd-analyze verify` with no warning (unknown keys, bad values,
// ExecStart= or ExecReload= not executable), also with a binary path that
// needs quoting, and systemd's offline security review rates it well.
// verify needs no running systemd (it works in a container, as root or
// not); it needs the binaries in ExecStart= and ExecReload= to exist.
func TestInstallServiceUnitVerifies(t *testing.T) {
	analyze := testenv.LookPath(t, "systemd-analyze")
	dir := t.TempDir()
	var out bytes.Buffer
	code := run(context.Background(), []string{"install-service", "--no-start", "--unit-dir", dir, "--binary", "/bin/true",
		"--listen", ":9835", "--config", "testdata/bad-interval.yml"}, &out, &out)
	if code != 2 {
		t.Fatalf("a bad --config was accepted (exit %d): %s", code, out.String())
	}
	out.Reset()
	code = run(context.Background(), []string{"install-service", "--no-start", "--unit-dir", dir, "--binary", "/bin/true",
		"--listen", ":9835"}, &out, &out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	written := filepath.Join(dir, "trainwatch.service")
	analyzeVerify(t, analyze, written)

	// A binary whose path needs quoting and escaping: verify says "is not
	// executable" if the ExecStart= word is not the path.
	odd := filepath.Join(dir, "my tools", "tw 100% $HOME")
	if err := os.MkdirAll(filepath.Dir(odd), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, b, 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := systemd.Render(systemd.Options{Binary: odd, Config: filepath.Join(dir, `a "b" 100% $HOME.yml`)})
	if err != nil {
		t.Fatal(err)
	}
	oddDir := filepath.Join(dir, "odd")
	if err := os.Mkdir(oddDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(oddDir, "trainwatch.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	analyzeVerify(t, analyze, filepath.Join(oddDir, "trainwatch.service"))

	// The exposure score (0 safest, 10 unsafe) stays low; --threshold is
	// in tenths.
	sec, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=40", "--no-pager", written).CombinedOutput()
	score := ""
	if i := strings.Index(string(sec), "Overall exposure level"); i >= 0 {
		score = strings.TrimSpace(string(sec[i:]))
	}
	if err != nil {
		t.Errorf("systemd-analyze security: %v: exposure above 4.0: %s\n%s", err, score, sec)
	}
	t.Log(score)
}

func analyzeVerify(t *testing.T, analyze, unit string) {
	t.Helper()
	b, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(b)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, b)
	}
}
