// Package systemd holds trainwatch's hardened systemd unit
// (trainwatch.service, usable as it is with the binary at
// /usr/local/bin/trainwatch) and renders it for `trainwatch install-service`
// with another binary path and serve flags.
package systemd

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// UnitName is the unit's file name.
const UnitName = "trainwatch.service"

// DataDir is the agent's data directory in the unit: its StateDirectory.
const DataDir = "/var/lib/trainwatch"

// unit is trainwatch.service as shipped.
//
//go:embed trainwatch.service
var unit string

// Unit returns trainwatch.service as shipped.
func Unit() string { return unit }

// Options are what Render writes into the unit's ExecStart= line.
type Options struct {
	// Binary is the absolute path of the trainwatch binary; empty keeps the
	// shipped /usr/local/bin/trainwatch.
	Binary string
	// Config, when not empty, is the absolute path of a configuration file
	// passed as serve --config.
	Config string
	// Listen, when not empty, is passed as serve --listen (host:port).
	Listen string
}

// Render returns the unit with its ExecStart= line rewritten for o: the
// binary, then the shipped arguments (serve --data-dir /var/lib/trainwatch),
// then --config and --listen when set, each quoted for systemd. All other
// lines are the shipped ones.
func Render(o Options) (string, error) {
	lines := strings.SplitAfter(unit, "\n")
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "ExecStart=") {
			if at >= 0 {
				return "", errors.New("trainwatch.service has more than one ExecStart= line")
			}
			at = i
		}
	}
	if at < 0 {
		return "", errors.New("trainwatch.service has no ExecStart= line")
	}
	shipped := strings.Fields(strings.TrimPrefix(strings.TrimSuffix(lines[at], "\n"), "ExecStart="))
	if len(shipped) < 2 {
		return "", fmt.Errorf("trainwatch.service: ExecStart= %q has no arguments", lines[at])
	}
	args := append([]string(nil), shipped...)
	if o.Binary != "" {
		if !filepath.IsAbs(o.Binary) {
			return "", fmt.Errorf("binary %q: must be an absolute path", o.Binary)
		}
		args[0] = o.Binary
	}
	if o.Config != "" {
		if !filepath.IsAbs(o.Config) {
			return "", fmt.Errorf("config %q: must be an absolute path", o.Config)
		}
		args = append(args, "--config", o.Config)
	}
	if o.Listen != "" {
		if _, _, err := net.SplitHostPort(o.Listen); err != nil {
			return "", fmt.Errorf("listen %q: want host:port (%w)", o.Listen, err)
		}
		args = append(args, "--listen", o.Listen)
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		q, err := Quote(a)
		if i == 0 {
			q, err = quoteExecutable(a)
		}
		if err != nil {
			return "", err
		}
		quoted[i] = q
	}
	lines[at] = "ExecStart=" + strings.Join(quoted, " ") + "\n"
	return strings.Join(lines, ""), nil
}

// Quote returns s as one argument of a systemd command line
// (systemd.service(5), "Command lines"): "%" (specifiers) and "$"
// (environment variables) are doubled, and a word with white space, quotes,
// backslashes or a semicolon, or an empty one, is double-quoted with C
// escapes. Control characters other than tab (a newline would end the
// line) are an error.
func Quote(s string) (string, error) { return quote(s, true) }

// quoteExecutable is Quote for the executable of a command line: systemd
// expands no environment variables there (so "$" stays as it is) and
// refuses quotes, backslashes and tabs in it.
func quoteExecutable(path string) (string, error) {
	if strings.ContainsAny(path, "\"'\\\t") {
		return "", fmt.Errorf("binary %q: systemd does not run an executable whose path has quotes, backslashes or tabs; move it", path)
	}
	return quote(path, false)
}

func quote(s string, dollar bool) (string, error) {
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return "", fmt.Errorf("%q: control characters cannot be written into a unit file", s)
		}
	}
	s = strings.ReplaceAll(s, "%", "%%")
	if dollar {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s, nil
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, nil
}
