package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:9100" || cfg.DataDir != "/srv/trainwatch" || time.Duration(cfg.Interval) != 5*time.Second {
		t.Errorf("top-level keys not applied: %+v", cfg)
	}
	if cfg.EffectiveTimeout() != 2*time.Second {
		t.Errorf("timeout = %s", cfg.EffectiveTimeout())
	}
	if cfg.Host.Roots.Proc != "/host/proc" || cfg.Host.Roots.RootFS != "/host" || len(cfg.Host.Disable) != 2 {
		t.Errorf("host section not applied: %+v", cfg.Host)
	}
	if cfg.Host.Filesystem.MountTimeout != 3*time.Second {
		t.Errorf("filesystem.mount_timeout = %s", cfg.Host.Filesystem.MountTimeout)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "intervall: 1s\n", "field intervall not found in type config.Config"},
		{"unknown nested key", "host:\n  rootz: {}\n", "field rootz not found"},
		{"bad duration", "interval: soon\n", `not a valid duration string: "soon"`},
		{"too fast", "interval: 50ms\n", "interval 50ms: must be at least 100ms"},
		{"bad listen", "listen: localhost\n", `listen "localhost": want host:port`},
		{"bad timeout", "collector_timeout: 1ms\n", "collector_timeout 1ms: must be at least 10ms"},
		{"empty data dir", "data_dir: \"\"\n", "data_dir: must not be empty"},
		{"not yaml", "listen: [\n", "yaml:"},
		{"web typo", "web:\n  config_fil: web.yml\n", "field config_fil not found"},
		{"negative in-flight", "web:\n  max_requests_in_flight: -1\n", "web: max_requests_in_flight and max_body_bytes must not be negative"},
		{"negative body", "web:\n  max_body_bytes: -1\n", `size "-1": must not be negative`},
		{"negative labels", "push:\n  max_labels_per_series: -1\n", "max_labels_per_series, max_label_name_length and max_label_value_length must not be negative"},
		{"negative run series", "runs:\n  max_series_per_run: -5\n", "runs: max_series_per_run must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want it to name %s and contain %q", err, p, tt.want)
			}
		})
	}
}

// TestWebSection: the web section's keys load as written.
func TestWebSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yml")
	y := "web:\n  config_file: /etc/trainwatch/web.yml\n  max_requests_in_flight: 32\n  max_body_bytes: 2MiB\nruns:\n  max_series_per_run: 50\n" +
		"push:\n  max_labels_per_series: 10\n  max_label_name_length: 100\n  max_label_value_length: 200\n"
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Web.ConfigFile != "/etc/trainwatch/web.yml" || cfg.Web.MaxRequestsInFlight != 32 || cfg.Web.MaxBodyBytes != 2<<20 || cfg.Runs.MaxSeriesPerRun != 50 ||
		cfg.Push.MaxLabelsPerSeries != 10 || cfg.Push.MaxLabelNameLength != 100 || cfg.Push.MaxLabelValueLength != 200 {
		t.Errorf("web, runs, push limits not applied: %+v %+v %+v", cfg.Web, cfg.Runs, cfg.Push)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.yml")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen || time.Duration(cfg.Interval) != time.Second {
		t.Fatalf("empty file did not give defaults: %+v", cfg)
	}
}

func TestEffectiveTimeout(t *testing.T) {
	tests := []struct {
		interval, timeout, want time.Duration
	}{
		{time.Second, 0, 800 * time.Millisecond},
		{time.Minute, 0, 5 * time.Second},
		{time.Second, 300 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		c := Default()
		c.Interval = modelDuration(tt.interval)
		c.CollectorTimeout = modelDuration(tt.timeout)
		if got := c.EffectiveTimeout(); got != tt.want {
			t.Errorf("interval %s timeout %s: got %s, want %s", tt.interval, tt.timeout, got, tt.want)
		}
	}
}

func modelDuration(d time.Duration) model.Duration { return model.Duration(d) }
