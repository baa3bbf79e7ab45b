package remotewrite

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/bytesize"
)

// Defaults of a remote's settings, applied by SetDefaults to the fields left
// empty (zero).
const (
	DefaultTimeout           = 30 * time.Second
	DefaultMaxSamplesPerSend = 5000
	DefaultMinBackoff        = 30 * time.Millisecond
	DefaultMaxBackoff        = 5 * time.Second
	DefaultMaxBytes          = bytesize.Size(1 << 30)
	// MinMaxBytes is the smallest queue.max_bytes accepted.
	MinMaxBytes = bytesize.Size(1 << 20)
)

// Config is one entry of the remote_write list of the agent's configuration
// file: where to send the samples, how to authenticate, and the durable
// queue's limits.
type Config struct {
	// Name identifies the remote in logs, in the remote label of the
	// self-metrics and, by convention, in the queue directory
	// (DATA_DIR/remote_write/NAME). Default: derived from the URL's host.
	Name string `yaml:"name"`
	// URL is the receiver's remote write endpoint, e.g.
	// http://prometheus:9090/api/v1/write. Required.
	URL string `yaml:"url"`
	// ExternalLabels are added to every series that does not already have a
	// label of that name (Prometheus' semantics).
	ExternalLabels map[string]string `yaml:"external_labels"`
	// Headers are extra HTTP headers sent with every request (e.g.
	// X-Scope-OrgID for Mimir). Headers that the protocol sets itself are
	// refused.
	Headers map[string]string `yaml:"headers"`
	// BasicAuth, when set, sends HTTP basic authentication.
	BasicAuth *BasicAuth `yaml:"basic_auth"`
	// BearerToken is sent as "Authorization: Bearer <token>".
	BearerToken promconfig.Secret `yaml:"bearer_token"`
	// BearerTokenFile is read before every request, so a rotated token is
	// picked up without a restart.
	BearerTokenFile string `yaml:"bearer_token_file"`
	// Timeout is the deadline of one request. Default 30s.
	Timeout model.Duration `yaml:"timeout"`
	// Queue configures batching, retries and the on-disk queue.
	Queue QueueConfig `yaml:"queue"`
}

// BasicAuth is HTTP basic authentication: a username with either a
// password or a file holding it.
type BasicAuth struct {
	// Username is required.
	Username string `yaml:"username"`
	// Password is the password itself.
	Password promconfig.Secret `yaml:"password"`
	// PasswordFile is read before every request (trailing newline removed).
	PasswordFile string `yaml:"password_file"`
}

// QueueConfig configures batching, retries and the on-disk queue.
type QueueConfig struct {
	// MaxSamplesPerSend is the most samples in one request. Default 5000.
	MaxSamplesPerSend int `yaml:"max_samples_per_send"`
	// MinBackoff is the first retry's delay after a failed send; it doubles
	// on every failure up to MaxBackoff. Default 30ms.
	MinBackoff model.Duration `yaml:"min_backoff"`
	// MaxBackoff caps the retry delay. Default 5s.
	MaxBackoff model.Duration `yaml:"max_backoff"`
	// MaxBytes caps the queue's size on disk. When a write makes the queue
	// larger, its oldest segments are deleted (and their samples counted as
	// dropped). Default 1GiB.
	MaxBytes bytesize.Size `yaml:"max_bytes"`
}

// FieldError is a configuration error in one field. Its Error method reads
// "field: message"; ValidateAll prefixes the field with remote_write[i].
type FieldError struct {
	// Field is the YAML path of the field within a remote, e.g. "url" or
	// "basic_auth.password".
	Field string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error returns "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// reservedHeaders are set by the protocol or by the HTTP client and may not
// be overridden by headers (the list Prometheus refuses, less the AWS ones).
var reservedHeaders = []string{
	"Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type",
	"User-Agent", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Www-Authenticate", "Accept-Encoding", "Upgrade", "Transfer-Encoding",
	"X-Prometheus-Remote-Write-Version", "X-Prometheus-Remote-Read-Version",
}

// SetDefaults fills the fields left empty with their defaults: the name
// (from the URL's host), the timeout and the queue's settings.
func (c *Config) SetDefaults() {
	if c.Name == "" {
		c.Name = nameFromURL(c.URL)
	}
	if c.Timeout == 0 {
		c.Timeout = model.Duration(DefaultTimeout)
	}
	q := &c.Queue
	if q.MaxSamplesPerSend == 0 {
		q.MaxSamplesPerSend = DefaultMaxSamplesPerSend
	}
	if q.MinBackoff == 0 {
		q.MinBackoff = model.Duration(DefaultMinBackoff)
	}
	if q.MaxBackoff == 0 {
		q.MaxBackoff = model.Duration(DefaultMaxBackoff)
	}
	if q.MaxBytes == 0 {
		q.MaxBytes = DefaultMaxBytes
	}
}

// nameFromURL derives a remote's default name from its URL: the host and
// port with every character that is not a letter, digit, '.', '_' or '-'
// replaced by '_'. It returns "" when the URL has no host.
func nameFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.Map(func(r rune) rune {
		if validNameRune(r) {
			return r
		}
		return '_'
	}, u.Host)
}

func validNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
}

// Validate checks one remote's settings. Zero values are accepted (they
// mean "default"), so Validate may run before or after SetDefaults. The
// error is a *FieldError naming the field and how to fix it.
func (c *Config) Validate() error {
	if c.URL == "" {
		return fieldErr("url", "required: set it to the receiver's remote write endpoint, e.g. http://prometheus:9090/api/v1/write")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fieldErr("url", "%q is not a valid URL (%v); want e.g. http://prometheus:9090/api/v1/write", c.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fieldErr("url", "%q is not an http or https URL; want e.g. http://prometheus:9090/api/v1/write", c.URL)
	}
	if u.Host == "" {
		return fieldErr("url", "%q has no host; want e.g. http://prometheus:9090/api/v1/write", c.URL)
	}
	if c.Name != "" {
		if c.Name == "." || c.Name == ".." || strings.IndexFunc(c.Name, func(r rune) bool { return !validNameRune(r) }) >= 0 {
			return fieldErr("name", "%q may only hold letters, digits, '.', '_' and '-' (it names the queue's directory), and may not be . or ..", c.Name)
		}
	}
	for _, name := range sortedKeys(c.ExternalLabels) {
		if !model.LegacyValidation.IsValidLabelName(name) {
			return fieldErr("external_labels", "%q is not a valid label name: use letters, digits and '_', not starting with a digit", name)
		}
		if strings.HasPrefix(name, "__") {
			return fieldErr("external_labels", "%q: label names starting with __ are reserved for internal use", name)
		}
		if c.ExternalLabels[name] == "" {
			return fieldErr("external_labels", "%q has an empty value, which Prometheus treats as no label: give it a value or remove it", name)
		}
	}
	for _, name := range sortedKeys(c.Headers) {
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			return fieldErr("headers", "%q is not a valid HTTP header name", name)
		}
		if i := slices.IndexFunc(reservedHeaders, func(h string) bool { return strings.EqualFold(h, name) }); i >= 0 {
			return fieldErr("headers", "%s is set by the remote write protocol and cannot be configured; for authentication use basic_auth, bearer_token or bearer_token_file", reservedHeaders[i])
		}
		if strings.ContainsAny(c.Headers[name], "\r\n") {
			return fieldErr("headers", "the value of %s contains a line break", name)
		}
	}
	if c.BearerToken != "" && c.BearerTokenFile != "" {
		return fieldErr("bearer_token", "bearer_token and bearer_token_file are both set: keep only one")
	}
	if b := c.BasicAuth; b != nil {
		if c.BearerToken != "" || c.BearerTokenFile != "" {
			return fieldErr("basic_auth", "basic_auth and a bearer token are both set: a request carries only one Authorization header, keep only one")
		}
		if b.Username == "" {
			return fieldErr("basic_auth.username", "required when basic_auth is set")
		}
		if b.Password != "" && b.PasswordFile != "" {
			return fieldErr("basic_auth.password", "password and password_file are both set: keep only one")
		}
	}
	if c.Timeout < 0 {
		return fieldErr("timeout", "%s is negative; want e.g. 30s", c.Timeout)
	}
	q := c.Queue
	if q.MaxSamplesPerSend < 0 {
		return fieldErr("queue.max_samples_per_send", "%d is negative; want e.g. %d", q.MaxSamplesPerSend, DefaultMaxSamplesPerSend)
	}
	if q.MinBackoff < 0 {
		return fieldErr("queue.min_backoff", "%s is negative; want e.g. 30ms", q.MinBackoff)
	}
	if q.MaxBackoff < 0 {
		return fieldErr("queue.max_backoff", "%s is negative; want e.g. 5s", q.MaxBackoff)
	}
	minB, maxB := q.MinBackoff, q.MaxBackoff
	if minB == 0 {
		minB = model.Duration(DefaultMinBackoff)
	}
	if maxB == 0 {
		maxB = model.Duration(DefaultMaxBackoff)
	}
	if minB > maxB {
		return fieldErr("queue.min_backoff", "%s is larger than queue.max_backoff (%s): raise max_backoff or lower min_backoff", minB, maxB)
	}
	if q.MaxBytes != 0 && q.MaxBytes < MinMaxBytes {
		return fieldErr("queue.max_bytes", "%s is too small: the queue needs at least %s", q.MaxBytes, MinMaxBytes)
	}
	return nil
}

// ValidateAll validates the remote_write list: every entry (errors read
// "remote_write[i].field: ...") and that the names, defaulted as
// SetDefaults would, are distinct, since each names a queue directory.
func ValidateAll(cfgs []Config) error {
	seen := make(map[string]int, len(cfgs))
	for i := range cfgs {
		c := cfgs[i]
		if err := c.Validate(); err != nil {
			return fmt.Errorf("remote_write[%d].%w", i, err)
		}
		c.SetDefaults()
		if j, ok := seen[c.Name]; ok {
			return fmt.Errorf("remote_write[%d].%w", i, fieldErr("name", "%q is already the name of remote_write[%d]; give each remote a distinct name (it names the queue directory and the remote label)", c.Name, j))
		}
		seen[c.Name] = i
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// readSecretFile reads a password or token file, trimming surrounding
// whitespace (a trailing newline is usual).
func readSecretFile(path, field string) (string, error) {
	b, err := readFileLimited(path, 64<<10)
	if err != nil {
		return "", fmt.Errorf("reading %s %s: %w", field, path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// authorization returns the Authorization header value for the request, or
// "" when the remote has no authentication. Files are read every time so
// that rotated secrets are picked up.
func (c *Config) authorization() (string, error) {
	switch {
	case c.BasicAuth != nil:
		pw := string(c.BasicAuth.Password)
		if c.BasicAuth.PasswordFile != "" {
			var err error
			if pw, err = readSecretFile(c.BasicAuth.PasswordFile, "basic_auth.password_file"); err != nil {
				return "", err
			}
		}
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(c.BasicAuth.Username, pw)
		return r.Header.Get("Authorization"), nil
	case c.BearerTokenFile != "":
		tok, err := readSecretFile(c.BearerTokenFile, "bearer_token_file")
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	case c.BearerToken != "":
		return "Bearer " + string(c.BearerToken), nil
	}
	return "", nil
}
