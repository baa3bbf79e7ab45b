package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUsageErrorsExitWithTwo(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown flag", []string{"serve", "--listn", ":1"}, "unknown flag: --listn"},
		{"bad duration", []string{"serve", "--interval", "fast"}, `invalid argument "fast" for "--interval"`},
		{"stray argument", []string{"summary", "extra"}, `unexpected argument "extra"`},
		{"unknown command", []string{"serv"}, `unknown command "serv"`},
		{"unknown config key", []string{"serve", "--config", "testdata/bad-key.yml"}, "field intervall not found"},
		{"interval too small", []string{"serve", "--config", "testdata/bad-interval.yml"}, "interval 10ms: must be at least 100ms"},
		{"unknown collector", []string{"serve", "--config", "testdata/bad-disable.yml"}, `unknown collector "cpuu"; known collectors:`},
		{"malformed yaml", []string{"serve", "--config", "testdata/bad-yaml.yml"}, "config file testdata/bad-yaml.yml: yaml:"},
		{"missing config", []string{"serve", "--config", "testdata/nope.yml"}, "read config file: open testdata/nope.yml: no such file or directory"},
		{"bad listen", []string{"serve", "--listen", "nocolon"}, `listen "nocolon": want host:port`},
		{"bad log level", []string{"version", "--log.level", "loud"}, `--log.level "loud"`},
		{"bad color", []string{"summary", "--color", "sometimes"}, `--color "sometimes": want auto, always or never`},
		{"bad retention size", []string{"serve", "--retention.size", "lots"}, `--retention.size: size "lots": want bytes or a number with a unit, such as 512MB`},
		{"bad retention time", []string{"serve", "--retention.time", "forever"}, `invalid argument "forever" for "--retention.time"`},
		{"retention too short", []string{"serve", "--retention.time", "10s"}, "storage.retention_time 10s: must be at least 1m"},
		{"negative query timeout", []string{"serve", "--query.timeout", "-1s"}, "query: timeout, max_samples and max_concurrency must not be negative"},
		{"data dir not writable", []string{"serve", "--data-dir", "/proc/trainwatch", "--listen", "127.0.0.1:0"}, "data directory /proc/trainwatch is not writable"},
		{"record bad interval", []string{"record", "--interval", "0s"}, "--interval 0s: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; stderr: %s", code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("stderr %q does not contain %q", errb.String(), tt.wantErr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "trainwatch dev (commit unknown") {
		t.Fatalf("version output %q", out.String())
	}
}
