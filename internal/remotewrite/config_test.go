package remotewrite

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

func TestValidate(t *testing.T) {
	ok := func(c *Config) {}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // "" for valid
	}{
		{"valid", ok, ""},
		{"no url", func(c *Config) { c.URL = "" }, "url: required"},
		{"ftp url", func(c *Config) { c.URL = "ftp://x" }, `url: "ftp://x" is not an http or https URL`},
		{"no scheme", func(c *Config) { c.URL = "prometheus:9090/api/v1/write" }, "is not an http or https URL"},
		{"no host", func(c *Config) { c.URL = "http:///api/v1/write" }, "has no host"},
		{"bad url", func(c *Config) { c.URL = "http://[::1" }, "is not a valid URL"},
		{"bad name", func(c *Config) { c.Name = "a/b" }, `name: "a/b" may only hold`},
		{"dot name", func(c *Config) { c.Name = ".." }, `name: ".." may only hold`},
		{"bad external label", func(c *Config) { c.ExternalLabels = map[string]string{"1x": "v"} }, `external_labels: "1x" is not a valid label name`},
		{"reserved external label", func(c *Config) { c.ExternalLabels = map[string]string{"__x": "v"} }, "reserved"},
		{"empty external label", func(c *Config) { c.ExternalLabels = map[string]string{"cluster": ""} }, "empty value"},
		{"reserved header", func(c *Config) { c.Headers = map[string]string{"content-type": "x"} }, "headers: Content-Type is set by the remote write protocol"},
		{"authorization header", func(c *Config) { c.Headers = map[string]string{"Authorization": "x"} }, "use basic_auth, bearer_token or bearer_token_file"},
		{"tenant header ok", func(c *Config) { c.Headers = map[string]string{"X-Scope-OrgID": "t1"} }, ""},
		{"bad header name", func(c *Config) { c.Headers = map[string]string{"a b": "x"} }, "not a valid HTTP header name"},
		{"header value newline", func(c *Config) { c.Headers = map[string]string{"X-A": "a\nb"} }, "line break"},
		{"bearer both", func(c *Config) { c.BearerToken, c.BearerTokenFile = "t", "/f" }, "bearer_token: bearer_token and bearer_token_file are both set"},
		{"basic and bearer", func(c *Config) { c.BasicAuth, c.BearerToken = &BasicAuth{Username: "u"}, "t" }, "basic_auth: basic_auth and a bearer token are both set"},
		{"basic no user", func(c *Config) { c.BasicAuth = &BasicAuth{Password: "p"} }, "basic_auth.username: required"},
		{"password both", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "u", Password: "p", PasswordFile: "/f"} }, "basic_auth.password: password and password_file are both set"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout:"},
		{"negative max samples", func(c *Config) { c.Queue.MaxSamplesPerSend = -1 }, "queue.max_samples_per_send: -1 is negative"},
		{"min over max backoff", func(c *Config) { c.Queue.MinBackoff = model.Duration(10 * time.Second) }, "queue.min_backoff: 10s is larger than queue.max_backoff (5s)"},
		{"tiny max bytes", func(c *Config) { c.Queue.MaxBytes = 1000 }, "queue.max_bytes: 1000B is too small"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{URL: "http://prometheus:9090/api/v1/write"}
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			var fe *FieldError
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FieldError", err)
			}
		})
	}
}

func TestValidateAll(t *testing.T) {
	tests := []struct {
		name string
		cfgs []Config
		want string
	}{
		{"ok", []Config{{URL: "http://a:9090/api/v1/write"}, {URL: "http://b:9090/api/v1/write"}}, ""},
		{"index in message", []Config{{URL: "http://a/"}, {URL: "ftp://x"}}, `remote_write[1].url: "ftp://x" is not an http or https URL`},
		{"duplicate defaulted names", []Config{{URL: "http://a:9090/x"}, {URL: "http://a:9090/y"}}, `remote_write[1].name: "a_9090" is already the name of remote_write[0]`},
		{"explicit names resolve it", []Config{{URL: "http://a:9090/x", Name: "x"}, {URL: "http://a:9090/y", Name: "y"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateAll(tt.cfgs)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error()[:len(tt.want)] != tt.want {
				t.Fatalf("got %v, want %q...", err, tt.want)
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	c := Config{URL: "https://mimir.example.com/api/v1/push", Queue: QueueConfig{MaxSamplesPerSend: 100}}
	c.SetDefaults()
	if c.Name != "mimir.example.com" || c.Timeout != model.Duration(DefaultTimeout) ||
		c.Queue.MaxSamplesPerSend != 100 || c.Queue.MinBackoff != model.Duration(DefaultMinBackoff) ||
		c.Queue.MaxBackoff != model.Duration(DefaultMaxBackoff) || c.Queue.MaxBytes != DefaultMaxBytes {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

// TestYAML decodes a full entry strictly, as the agent's config loader
// does: every field has a yaml tag, sizes take units, secrets stay secret
// when the configuration is printed.
func TestYAML(t *testing.T) {
	const doc = `
- name: mimir
  url: https://mimir:9009/api/v1/push
  external_labels: {cluster: gpu-a}
  headers: {X-Scope-OrgID: team1}
  basic_auth: {username: u, password: hunter2}
  timeout: 10s
  queue:
    max_samples_per_send: 2000
    min_backoff: 50ms
    max_backoff: 10s
    max_bytes: 512MiB
- url: http://prom:9090/api/v1/write
  bearer_token_file: /run/secrets/token
  queue: {max_bytes: 2000000}
`
	var cfgs []Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfgs); err != nil {
		t.Fatal(err)
	}
	if err := ValidateAll(cfgs); err != nil {
		t.Fatal(err)
	}
	c := cfgs[0]
	if c.Name != "mimir" || c.ExternalLabels["cluster"] != "gpu-a" || c.Headers["X-Scope-OrgID"] != "team1" ||
		c.BasicAuth.Password != "hunter2" || c.Timeout != model.Duration(10*time.Second) ||
		c.Queue.MaxSamplesPerSend != 2000 || c.Queue.MaxBytes != 512<<20 {
		t.Errorf("decoded %+v", c)
	}
	if cfgs[1].Queue.MaxBytes != 2000000 || cfgs[1].BearerTokenFile != "/run/secrets/token" {
		t.Errorf("decoded %+v", cfgs[1])
	}
	out, err := yaml.Marshal(cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "max_bytes: 512MiB") {
		t.Errorf("marshalled config:\n%s", out)
	}
	var bad []Config
	dec = yaml.NewDecoder(strings.NewReader("- url: http://x/\n  queue: {max_bytes: lots}\n"))
	if err := dec.Decode(&bad); err == nil || !strings.Contains(err.Error(), `size "lots": want bytes or a number with a unit`) {
		t.Errorf("bad size: got %v", err)
	}
}
