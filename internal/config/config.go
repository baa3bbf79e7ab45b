// Package config loads and validates trainwatch's YAML configuration file.
// Command-line flags given explicitly override the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/trainwatch/trainwatch/internal/alerting"
	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/collector/host"
	"github.com/trainwatch/trainwatch/internal/gpu/amdgpu"
	"github.com/trainwatch/trainwatch/internal/gpu/nvmlgpu"
	"github.com/trainwatch/trainwatch/internal/jobs"
	"github.com/trainwatch/trainwatch/internal/process"
	"github.com/trainwatch/trainwatch/internal/remotewrite"
	"github.com/trainwatch/trainwatch/internal/ui"
)

// DefaultListen is the agent's default address: loopback only, so nothing
// is exposed until the user decides to.
const DefaultListen = "127.0.0.1:9835"

// Config is the whole configuration file.
type Config struct {
	// Listen is the HTTP address of `serve`.
	Listen string `yaml:"listen"`
	// DataDir holds history and state.
	DataDir string `yaml:"data_dir"`
	// Interval between collection ticks.
	Interval model.Duration `yaml:"interval"`
	// CollectorTimeout is each collector's deadline within a tick.
	CollectorTimeout model.Duration `yaml:"collector_timeout"`
	// Host configures the host collectors.
	Host host.Config `yaml:"host"`
	// GPU configures the GPU backends.
	GPU GPU `yaml:"gpu"`
	// Processes configures per-process collection, process groups
	// (process-exporter compatible) and training-job attribution.
	Processes Processes `yaml:"processes"`
	// Storage configures the embedded history (TSDB).
	Storage Storage `yaml:"storage"`
	// Query bounds the PromQL HTTP API.
	Query Query `yaml:"query"`
	// Alerting runs Prometheus rule files (and the built-in pack) over the
	// history and delivers alerts (Alertmanager, e-mail, webhook, Slack).
	Alerting alerting.Config `yaml:"alerting"`
	// Push configures the Pushgateway-compatible endpoints.
	Push Push `yaml:"push"`
	// RemoteWrite sends every stored sample to Prometheus-compatible
	// receivers (remote_write 1.0), each through its own disk queue.
	RemoteWrite []remotewrite.Config `yaml:"remote_write"`
	// UI configures the web dashboard (its fleet view).
	UI ui.Config `yaml:"ui"`
	// Web secures and bounds the HTTP server: TLS and basic auth (an
	// exporter-toolkit web configuration file), request limits.
	Web Web `yaml:"web"`
	// Runs bounds the training-run API.
	Runs Runs `yaml:"runs"`
	// Pprof serves Go's profiler at /debug/pprof/ (serve --web.enable-pprof).
	Pprof bool `yaml:"pprof"`
	// Demo replaces the GPU backends with a simulated 8 × H200 training
	// server (serve --demo), clearly marked as such.
	Demo bool `yaml:"demo"`
}

// Processes configures the process collector and job attribution.
type Processes struct {
	process.Config `yaml:",inline"`
	// Disable turns per-process collection, groups and jobs off.
	Disable bool `yaml:"disable"`
	// Jobs configures training-job attribution.
	Jobs jobs.Options `yaml:"jobs"`
}

// Storage configures the embedded TSDB under DataDir.
type Storage struct {
	// Disable turns history off: no TSDB, no query API, no remote write.
	Disable bool `yaml:"disable"`
	// RetentionTime is how long samples are kept (default 15d).
	RetentionTime model.Duration `yaml:"retention_time"`
	// RetentionSize caps the bytes the blocks take, e.g. "10GB" (base 2,
	// as Prometheus' --storage.tsdb.retention.size); empty: no cap.
	RetentionSize bytesize.Size `yaml:"retention_size"`
	// Instance is the instance label of stored series; default
	// HOSTNAME:PORT, as a Prometheus scraping this agent would set.
	Instance string `yaml:"instance"`
	// Job is the job label of stored series; default "trainwatch".
	Job string `yaml:"job"`
	// BlockDuration is the range of the blocks the TSDB head is compacted
	// into; 0: Prometheus' 2 h. Not in the file: a test knob, set by
	// serve's hidden --storage.tsdb.block-duration (Prometheus hides its
	// --storage.tsdb.min-block-duration for the same use).
	BlockDuration time.Duration `yaml:"-"`
}

// Push configures the Pushgateway-compatible endpoints (/metrics/job/...).
type Push struct {
	// TTL removes a group this long after its last push (default 24h; a
	// finished run should delete its group, as delete_from_gateway does).
	TTL model.Duration `yaml:"ttl"`
	// MaxBodyBytes bounds a push body, also after gzip (default 16MiB).
	MaxBodyBytes bytesize.Size `yaml:"max_body_bytes"`
	// MaxSeriesPerGroup bounds one group (default 10000).
	MaxSeriesPerGroup int `yaml:"max_series_per_group"`
	// MaxGroups bounds the groups (default 10000).
	MaxGroups int `yaml:"max_groups"`
	// AllowTimestamps accepts samples with timestamps (the Pushgateway
	// refuses them, and so does the agent by default).
	AllowTimestamps bool `yaml:"allow_timestamps"`
	// MaxLabelsPerSeries bounds the labels of one pushed series, its name
	// and the grouping key's labels included (default 64).
	MaxLabelsPerSeries int `yaml:"max_labels_per_series"`
	// MaxLabelNameLength bounds a label name and a metric name, in bytes
	// (default 1024).
	MaxLabelNameLength int `yaml:"max_label_name_length"`
	// MaxLabelValueLength bounds a label value, in bytes (default 4096).
	MaxLabelValueLength int `yaml:"max_label_value_length"`
}

// Web configures the security and limits of `serve`'s HTTP server.
type Web struct {
	// ConfigFile is a web configuration file in the format of Prometheus'
	// exporter-toolkit (tls_server_config, basic_auth_users,
	// http_server_config), as node_exporter's --web.config.file. It is
	// re-read on every request and TLS connection. Empty: plain HTTP
	// without authentication.
	ConfigFile string `yaml:"config_file"`
	// MaxRequestsInFlight bounds the requests served at once (429 beyond;
	// default 256). The health endpoints and the dashboard's event
	// streams (bounded on their own) do not count.
	MaxRequestsInFlight int `yaml:"max_requests_in_flight"`
	// MaxBodyBytes bounds a request body on the endpoints without a limit
	// of their own (413 beyond; default 1MiB). Pushes (push.max_body_bytes)
	// and the runs API (16MiB) have theirs.
	MaxBodyBytes bytesize.Size `yaml:"max_body_bytes"`
}

// Runs bounds the training-run API (/api/v1/runs).
type Runs struct {
	// MaxSeriesPerRun bounds the distinct series one run may log (422
	// beyond; default 1000).
	MaxSeriesPerRun int `yaml:"max_series_per_run"`
}

// Query bounds the PromQL HTTP API.
type Query struct {
	// Timeout bounds one query's evaluation (default 2m).
	Timeout model.Duration `yaml:"timeout"`
	// MaxSamples bounds the samples one query may load (default 50,000,000).
	MaxSamples int `yaml:"max_samples"`
	// MaxConcurrency bounds the queries evaluated at once (default 20).
	MaxConcurrency int `yaml:"max_concurrency"`
}

// DefaultProcessInterval is how often all processes are scanned: one scan
// reads four files per process (~60 µs each on a 2-core VM), so on a
// training server with thousands of processes every second would cost a
// tenth of a core.
const DefaultProcessInterval = 5 * time.Second

// GPU configures the GPU backends.
type GPU struct {
	// NVML is the NVIDIA backend.
	NVML nvmlgpu.Config `yaml:"nvml"`
	// AMD is the amdgpu sysfs backend.
	AMD amdgpu.Config `yaml:"amd"`
	// Disable lists GPU backends not to run: "nvml", "amd".
	Disable []string `yaml:"disable"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Listen:           DefaultListen,
		DataDir:          DefaultDataDir(),
		Interval:         model.Duration(time.Second),
		CollectorTimeout: model.Duration(0),
		Processes:        Processes{Config: process.Config{Interval: DefaultProcessInterval}},
		Alerting:         alerting.DefaultConfig(),
	}
}

// DefaultDataDir is /var/lib/trainwatch for root and
// $XDG_DATA_HOME/trainwatch (or ~/.local/share/trainwatch) for other users.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/trainwatch"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "trainwatch")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "trainwatch")
	}
	return "trainwatch-data"
}

// Load reads a configuration file over the defaults. Unknown keys are
// errors, so a typo never silently falls back to a default.
func Load(path string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config file %s: %w (see docs/configuration.md for the keys)", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks values that YAML types cannot.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port, e.g. 127.0.0.1:9835 or :9835: %w", c.Listen, err)
	}
	if err := c.UI.Fleet.Validate(); err != nil {
		return err
	}
	if time.Duration(c.Interval) < 100*time.Millisecond {
		return fmt.Errorf("interval %s: must be at least 100ms", c.Interval)
	}
	if c.CollectorTimeout != 0 && time.Duration(c.CollectorTimeout) < 10*time.Millisecond {
		return fmt.Errorf("collector_timeout %s: must be at least 10ms (or 0 for the default, 80%% of the interval up to 5s)", c.CollectorTimeout)
	}
	for _, d := range c.GPU.Disable {
		if d != "nvml" && d != "amd" {
			return fmt.Errorf("gpu.disable: unknown backend %q; known backends: nvml, amd", d)
		}
	}
	if c.DataDir == "" {
		return errors.New("data_dir: must not be empty")
	}
	if c.Storage.RetentionTime < 0 || (c.Storage.RetentionTime != 0 && time.Duration(c.Storage.RetentionTime) < time.Minute) {
		return fmt.Errorf("storage.retention_time %s: must be at least 1m (or 0 for the default, 15d)", c.Storage.RetentionTime)
	}
	if err := remotewrite.ValidateAll(c.RemoteWrite); err != nil {
		return err
	}
	if err := c.Alerting.Validate(); err != nil {
		return err
	}
	if c.Storage.Disable && (len(c.Alerting.RuleFiles) > 0 || len(c.Alerting.Alertmanagers) > 0 || len(c.Alerting.Receivers) > 0) {
		return errors.New("alerting: rules run over the history, but storage.disable is true (or --no-history was given)")
	}
	if len(c.RemoteWrite) > 0 && c.Storage.Disable {
		return errors.New("remote_write: needs history, but storage.disable is true (or --no-history was given); remote write sends what the history stores")
	}
	if c.Push.TTL < 0 || c.Push.MaxBodyBytes < 0 || c.Push.MaxSeriesPerGroup < 0 || c.Push.MaxGroups < 0 ||
		c.Push.MaxLabelsPerSeries < 0 || c.Push.MaxLabelNameLength < 0 || c.Push.MaxLabelValueLength < 0 {
		return errors.New("push: ttl, max_body_bytes, max_series_per_group, max_groups, max_labels_per_series, max_label_name_length and max_label_value_length must not be negative (0 means the default)")
	}
	if c.Web.MaxRequestsInFlight < 0 || c.Web.MaxBodyBytes < 0 {
		return errors.New("web: max_requests_in_flight and max_body_bytes must not be negative (0 means the default)")
	}
	if c.Runs.MaxSeriesPerRun < 0 {
		return errors.New("runs: max_series_per_run must not be negative (0 means the default)")
	}
	if c.Query.Timeout < 0 || c.Query.MaxSamples < 0 || c.Query.MaxConcurrency < 0 {
		return errors.New("query: timeout, max_samples and max_concurrency must not be negative (0 means the default)")
	}
	return nil
}

// EffectiveTimeout is the collector deadline: the configured one, or 80% of
// the interval capped at 5s.
func (c *Config) EffectiveTimeout() time.Duration {
	if c.CollectorTimeout != 0 {
		return time.Duration(c.CollectorTimeout)
	}
	t := time.Duration(c.Interval) * 8 / 10
	if t > 5*time.Second {
		t = 5 * time.Second
	}
	return t
}
