package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/deploy/systemd"
	"github.com/trainwatch/trainwatch/internal/config"
)

// installOptions are install-service's flags.
type installOptions struct {
	unitDir string
	binary  string // empty: the running executable
	config  string
	listen  string
	dryRun  bool
	noStart bool
}

// installEnv is what install-service asks of the machine; tests replace
// it.
type installEnv struct {
	euid int
	// systemdRunDir exists when the machine was booted with systemd
	// (sd_booted(3): /run/systemd/system).
	systemdRunDir string
	executable    func() (string, error)
	// systemctl runs systemctl with args and returns its combined output.
	systemctl func(ctx context.Context, args ...string) ([]byte, error)
}

// hostInstallEnv is installEnv for this machine.
func hostInstallEnv() installEnv {
	return installEnv{
		euid:          os.Geteuid(),
		systemdRunDir: "/run/systemd/system",
		executable:    os.Executable,
		systemctl: func(ctx context.Context, args ...string) ([]byte, error) {
			path, err := exec.LookPath("systemctl")
			if err != nil {
				return nil, fmt.Errorf("systemctl not found: %w", err)
			}
			return exec.CommandContext(ctx, path, args...).CombinedOutput()
		},
	}
}

func newInstallServiceCmd() *cobra.Command {
	var o installOptions
	cmd := &cobra.Command{
		Use:   "install-service",
		Short: "Install the agent as a hardened systemd service (trainwatch.service)",
		Long: `Write trainwatch.service, a hardened systemd unit that runs "trainwatch serve" as
an unprivileged dynamic user with its history in /var/lib/trainwatch, into --unit-dir,
then run "systemctl daemon-reload" and "systemctl enable --now trainwatch.service"
(unless --no-start). ExecStart= runs --binary (default: this executable), with
--config and --listen when given. Needs root, except with --dry-run, which prints the
unit instead, or --no-start into a directory you can write. The unit is
deploy/systemd/trainwatch.service; its comments explain each hardening setting.`,
		Example: `  sudo trainwatch install-service --listen :9835
  sudo trainwatch install-service --binary /usr/local/bin/trainwatch --config /etc/trainwatch/trainwatch.yml
  trainwatch install-service --dry-run`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return installService(cmd.Context(), o, hostInstallEnv(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.unitDir, "unit-dir", "/etc/systemd/system", "directory to write "+systemd.UnitName+" into")
	cmd.Flags().StringVar(&o.binary, "binary", "", "trainwatch binary the service runs (default: this executable)")
	cmd.Flags().StringVar(&o.config, "config", "", "configuration file the service reads (serve --config)")
	cmd.Flags().StringVar(&o.listen, "listen", "", "address the service listens on (serve --listen; default 127.0.0.1:9835, :9835 for a remote Prometheus)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the unit and change nothing")
	cmd.Flags().BoolVar(&o.noStart, "no-start", false, "only write the unit: no systemctl daemon-reload, enable or start")
	return cmd
}

// installService renders the unit for o and writes, enables and starts it,
// or prints it with o.dryRun.
func installService(ctx context.Context, o installOptions, env installEnv, out io.Writer) error {
	bin, err := serviceBinary(o, env)
	if err != nil {
		return err
	}
	cfgPath := ""
	if o.config != "" {
		if cfgPath, err = filepath.Abs(o.config); err != nil {
			return usagef("--config %s: %v", o.config, err)
		}
		// The file is checked first: what is wrong inside it matters
		// wherever it is.
		var c config.Config
		if !o.dryRun {
			if c, err = config.Load(cfgPath); err != nil {
				return usageError{fmt.Errorf("--config: %w", err)}
			}
		}
		if err := outsidePrivateTmp("--config", cfgPath); err != nil {
			return err
		}
		if !o.dryRun && c.DataDir != config.DefaultDataDir() && c.DataDir != systemd.DataDir {
			fmt.Fprintf(out, "note: data_dir %s in %s is overridden by the unit's --data-dir %s (the only directory the service may write)\n",
				c.DataDir, cfgPath, systemd.DataDir)
		}
	}
	unit, err := systemd.Render(systemd.Options{Binary: bin, Config: cfgPath, Listen: o.listen})
	if err != nil {
		return usageError{err}
	}
	if o.dryRun {
		_, err := io.WriteString(out, unit)
		return err
	}
	if !o.noStart {
		// Checked before anything is written, so that a failure leaves
		// the machine as it was.
		if env.euid != 0 {
			return fmt.Errorf("enabling and starting %s needs root: run it with sudo, or pass --no-start to only write the unit (or --dry-run to print it)", systemd.UnitName)
		}
		if fi, err := os.Stat(env.systemdRunDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("this machine is not running systemd (%s is missing), so nothing was installed: run \"trainwatch serve\" another way, or pass --no-start to only write the unit", env.systemdRunDir)
		}
	}
	path := filepath.Join(o.unitDir, systemd.UnitName)
	_, statErr := os.Stat(path)
	existed := statErr == nil
	changed, err := writeUnit(path, unit)
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(out, "wrote %s (ExecStart=%s)\n", path, execStartOf(unit))
	} else {
		fmt.Fprintf(out, "%s is up to date\n", path)
	}
	if o.noStart {
		fmt.Fprintf(out, "not started (--no-start); to start it: systemctl daemon-reload && systemctl enable --now %s\n", systemd.UnitName)
		return nil
	}
	steps := [][]string{{"daemon-reload"}, {"enable", "--now", systemd.UnitName}}
	if changed && existed {
		// enable --now leaves a service that already runs alone; restart
		// it (if it runs) so that the updated unit takes effect.
		steps = append(steps, []string{"try-restart", systemd.UnitName})
	}
	for _, args := range steps {
		if b, err := env.systemctl(ctx, args...); err != nil {
			return fmt.Errorf("systemctl %s: %w\n%s(see: systemctl status %s; journalctl -u %s)",
				strings.Join(args, " "), err, indentOutput(b), systemd.UnitName, strings.TrimSuffix(systemd.UnitName, ".service"))
		}
	}
	fmt.Fprintf(out, "%s is enabled and started: systemctl status %s; journalctl -u %s -f\n",
		systemd.UnitName, systemd.UnitName, strings.TrimSuffix(systemd.UnitName, ".service"))
	return nil
}

// serviceBinary returns the absolute path of the binary the service runs,
// checked to be usable by it.
func serviceBinary(o installOptions, env installEnv) (string, error) {
	bin := o.binary
	flag := "--binary"
	if bin == "" {
		exe, err := env.executable()
		if err != nil {
			return "", fmt.Errorf("find this executable (pass --binary): %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		bin, flag = exe, "this executable"
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return "", usagef("%s %s: %v", flag, o.binary, err)
	}
	if err := outsidePrivateTmp(flag, bin); err != nil {
		return "", err
	}
	if o.dryRun {
		return bin, nil // the unit may be meant for another machine
	}
	fi, err := os.Stat(bin)
	switch {
	case err != nil:
		return "", usagef("%s: %v", flag, err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return "", usagef("%s %s: not an executable file", flag, bin)
	}
	return bin, nil
}

// outsidePrivateTmp rejects a path that PrivateTmp=yes hides from the
// service: a binary or configuration file under /tmp or /var/tmp is not
// found when the service starts (`go run` builds its binary under /tmp).
func outsidePrivateTmp(what, path string) error {
	for _, d := range []string{"/tmp", "/var/tmp"} {
		if path != d && !strings.HasPrefix(path, d+"/") {
			continue
		}
		fix := "install -m 0755 " + path + " /usr/local/bin/trainwatch and pass --binary /usr/local/bin/trainwatch"
		if what == "--config" {
			fix = "move it, e.g. to /etc/trainwatch/, and pass that path"
		}
		return usagef("%s %s is under %s, which the service does not see (PrivateTmp=yes): %s", what, path, d, fix)
	}
	return nil
}

// writeUnit writes unit to path (mode 0644) through a temporary file and
// a rename, and reports whether the file changed.
func writeUnit(path, unit string) (changed bool, err error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, []byte(unit)) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false, fmt.Errorf("unit directory %s does not exist (pass --unit-dir)", dir)
	}
	f, err := os.CreateTemp(dir, "."+systemd.UnitName+".*")
	if err != nil {
		return false, writeUnitError(path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.WriteString(unit); err != nil {
		return false, writeUnitError(path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return false, writeUnitError(path, err)
	}
	if err = f.Sync(); err != nil {
		return false, writeUnitError(path, err)
	}
	if err = f.Close(); err != nil {
		return false, writeUnitError(path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return false, writeUnitError(path, err)
	}
	return true, nil
}

func writeUnitError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("write %s: %w (run as root, e.g. sudo trainwatch install-service, or --dry-run to print the unit)", path, err)
	}
	return fmt.Errorf("write %s: %w", path, err)
}

// execStartOf returns the value of the unit's ExecStart= line.
func execStartOf(unit string) string {
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			return v
		}
	}
	return ""
}

// indentOutput indents a command's output for an error message.
func indentOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
