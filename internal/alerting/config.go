package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Defaults of the configuration and of the rule engine.
const (
	// DefaultEvaluationInterval is how often rule groups are evaluated when
	// neither the configuration nor a group says.
	DefaultEvaluationInterval = 15 * time.Second
	// DefaultGroupWait is how long a new notification group waits for more
	// alerts before its first notification (Alertmanager's group_wait).
	DefaultGroupWait = 30 * time.Second
	// DefaultGroupInterval is how long a group waits before notifying about
	// changes after its first notification (Alertmanager's group_interval).
	DefaultGroupInterval = 5 * time.Minute
	// DefaultRepeatInterval is how long an unchanged firing group waits
	// before it is notified again (Alertmanager's repeat_interval).
	DefaultRepeatInterval = 4 * time.Hour
	// DefaultAlertmanagerTimeout bounds one request to an Alertmanager.
	DefaultAlertmanagerTimeout = 10 * time.Second
	// DefaultOutageTolerance, DefaultForGracePeriod and DefaultResendDelay
	// are Prometheus' defaults for --rules.alert.for-outage-tolerance,
	// --rules.alert.for-grace-period and --rules.alert.resend-delay.
	DefaultOutageTolerance = time.Hour
	DefaultForGracePeriod  = 10 * time.Minute
	DefaultResendDelay     = time.Minute

	// minEvaluationInterval is the shortest evaluation_interval accepted.
	minEvaluationInterval = 10 * time.Millisecond
	// groupByAll is the group_by value that groups by every label.
	groupByAll = "..."
)

// Config is the alerting section of the agent's configuration file
// (`alerting:`): which rules run, how often, and where their alerts go.
// Decode it strictly (yaml.v3 KnownFields), starting from DefaultConfig, and
// call Validate.
type Config struct {
	// RuleFiles are paths or globs of Prometheus rule files. A path without
	// glob characters must exist; a glob may match nothing.
	RuleFiles []string `yaml:"rule_files"`
	// BuiltinRules runs the rule pack shipped with trainwatch. Default true
	// (nil means true).
	BuiltinRules *bool `yaml:"builtin_rules"`
	// EvaluationInterval is how often rule groups without their own
	// interval are evaluated. Default 15s.
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	// ExternalLabels are added to every alert sent (to an Alertmanager or a
	// built-in receiver) that lacks a label of that name, and are available
	// to templates as $externalLabels.
	ExternalLabels map[string]string `yaml:"external_labels"`
	// Alertmanagers receive every alert (Alertmanager API v2).
	Alertmanagers []AlertmanagerConfig `yaml:"alertmanagers"`
	// Route groups alerts for the built-in receivers.
	Route Route `yaml:"route"`
	// Receivers are the built-in receivers; each notification group goes to
	// all of them.
	Receivers []ReceiverConfig `yaml:"receivers"`
}

// AlertmanagerConfig is one Alertmanager that receives the alerts.
type AlertmanagerConfig struct {
	// URL is the Alertmanager's base URL, e.g. http://alertmanager:9093 (a
	// path is its path prefix; user:password@ sends basic authentication).
	URL string `yaml:"url"`
	// Timeout bounds one request. Default 10s.
	Timeout model.Duration `yaml:"timeout"`
}

// Route says how alerts are grouped into notifications for the built-in
// receivers, with Alertmanager's semantics.
type Route struct {
	// GroupBy lists the labels whose values make a group; ["..."] groups by
	// every label (one notification per alert). Default [alertname].
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a new group waits before its first notification.
	// Default 30s.
	GroupWait model.Duration `yaml:"group_wait"`
	// GroupInterval is how long a group waits before notifying about new or
	// resolved alerts. Default 5m.
	GroupInterval model.Duration `yaml:"group_interval"`
	// RepeatInterval is how long an unchanged group waits before it is
	// notified again. Default 4h.
	RepeatInterval model.Duration `yaml:"repeat_interval"`
}

// ReceiverConfig is one built-in receiver: exactly one of Email, Webhook and
// Slack.
type ReceiverConfig struct {
	// Name identifies the receiver in logs, in the receiver label of the
	// self-metrics and in the webhook's receiver field. Required, unique.
	Name string `yaml:"name"`
	// SendResolved sends a message when a group's alerts resolve. Default
	// true (nil means true).
	SendResolved *bool          `yaml:"send_resolved"`
	Email        *EmailConfig   `yaml:"email"`
	Webhook      *WebhookConfig `yaml:"webhook"`
	Slack        *SlackConfig   `yaml:"slack"`
}

// EmailConfig sends plain-text e-mail over SMTP.
type EmailConfig struct {
	// To are the recipients' addresses. At least one.
	To []string `yaml:"to"`
	// From is the sender's address. Required.
	From string `yaml:"from"`
	// Smarthost is the SMTP server's host:port. Port 465 speaks TLS from the
	// start; any other port upgrades with STARTTLS when the server offers it.
	Smarthost string `yaml:"smarthost"`
	// Hello is the name sent with EHLO. Default: this host's name.
	Hello string `yaml:"hello"`
	// Username, with Password or PasswordFile, authenticates with AUTH PLAIN
	// or LOGIN (whichever the server offers). Credentials are only sent over
	// TLS, unless AllowInsecureAuth is set for a loopback smarthost.
	Username string            `yaml:"username"`
	Password promconfig.Secret `yaml:"password"`
	// PasswordFile is read before every message (trailing newline removed).
	PasswordFile string `yaml:"password_file"`
	// RequireTLS refuses to send when the server offers no STARTTLS. Default
	// true (nil means true).
	RequireTLS *bool `yaml:"require_tls"`
	// CAFile is a PEM file of the certificate authorities trusted for the
	// server's certificate, in addition to the system's.
	CAFile string `yaml:"ca_file"`
	// AllowInsecureAuth sends credentials over an unencrypted connection.
	// Only accepted for a loopback smarthost (a local relay).
	AllowInsecureAuth bool `yaml:"allow_insecure_auth"`
}

// WebhookConfig POSTs Alertmanager's webhook JSON (version 4).
type WebhookConfig struct {
	// URL is the endpoint (http or https). Required.
	URL string `yaml:"url"`
}

// SlackConfig posts to a Slack-compatible incoming webhook (Slack,
// Mattermost, Rocket.Chat).
type SlackConfig struct {
	// URL is the incoming webhook's URL. It is a secret: it is never
	// logged. Required.
	URL promconfig.Secret `yaml:"url"`
	// Blocks adds Block Kit sections (one per alert, at most 50 blocks) to
	// the text, for Slack itself.
	Blocks bool `yaml:"blocks"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	t := true
	return Config{
		BuiltinRules:       &t,
		EvaluationInterval: model.Duration(DefaultEvaluationInterval),
		Route: Route{
			GroupBy:        []string{model.AlertNameLabel},
			GroupWait:      model.Duration(DefaultGroupWait),
			GroupInterval:  model.Duration(DefaultGroupInterval),
			RepeatInterval: model.Duration(DefaultRepeatInterval),
		},
	}
}

// ParseConfig decodes the alerting section strictly (unknown keys are
// errors) over DefaultConfig and validates it.
func ParseConfig(b []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("alerting: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// builtinEnabled reports whether the built-in rule pack runs.
func (c *Config) builtinEnabled() bool { return c.BuiltinRules == nil || *c.BuiltinRules }

// withDefaults returns c with zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.EvaluationInterval == 0 {
		c.EvaluationInterval = d.EvaluationInterval
	}
	if len(c.Route.GroupBy) == 0 {
		c.Route.GroupBy = d.Route.GroupBy
	}
	if c.Route.GroupWait == 0 {
		// 0 is a legitimate group_wait only when given; the YAML cannot tell,
		// so a zero means the default. Use 1ms for "at once".
		c.Route.GroupWait = d.Route.GroupWait
	}
	if c.Route.GroupInterval == 0 {
		c.Route.GroupInterval = d.Route.GroupInterval
	}
	if c.Route.RepeatInterval == 0 {
		c.Route.RepeatInterval = d.Route.RepeatInterval
	}
	return c
}

// Validate checks the configuration and names the offending field
// (alerting.receivers[0].email.smarthost: ...).
func (c *Config) Validate() error {
	if c.EvaluationInterval < 0 || (c.EvaluationInterval != 0 && time.Duration(c.EvaluationInterval) < minEvaluationInterval) {
		return fmt.Errorf("alerting.evaluation_interval %s: must be at least %s (or 0 for the default, %s)",
			c.EvaluationInterval, minEvaluationInterval, model.Duration(DefaultEvaluationInterval))
	}
	for i, f := range c.RuleFiles {
		if strings.TrimSpace(f) == "" {
			return fmt.Errorf("alerting.rule_files[%d]: must not be empty", i)
		}
	}
	for k, v := range c.ExternalLabels {
		if !model.UTF8Validation.IsValidLabelName(k) || k == model.MetricNameLabel {
			return fmt.Errorf("alerting.external_labels: %q is not a valid label name", k)
		}
		if !model.LabelValue(v).IsValid() {
			return fmt.Errorf("alerting.external_labels.%s: %q is not valid UTF-8", k, v)
		}
	}
	for i, am := range c.Alertmanagers {
		field := fmt.Sprintf("alerting.alertmanagers[%d]", i)
		if err := validateHTTPURL(am.URL); err != nil {
			shown := am.URL
			if u, perr := url.Parse(am.URL); perr == nil {
				shown = u.Redacted() // no password in logs
			}
			return fmt.Errorf("%s.url %q: %w", field, shown, err)
		}
		if am.Timeout < 0 {
			return fmt.Errorf("%s.timeout %s: must not be negative (0 means the default, %s)", field, am.Timeout, model.Duration(DefaultAlertmanagerTimeout))
		}
	}
	if err := c.Route.validate(); err != nil {
		return err
	}
	names := map[string]int{}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		field := fmt.Sprintf("alerting.receivers[%d]", i)
		if r.Name == "" {
			return fmt.Errorf("%s.name: required (it names the receiver in logs and metrics)", field)
		}
		if j, dup := names[r.Name]; dup {
			return fmt.Errorf("%s.name %q: already used by alerting.receivers[%d]", field, r.Name, j)
		}
		names[r.Name] = i
		n := 0
		for _, set := range []bool{r.Email != nil, r.Webhook != nil, r.Slack != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s (%q): give exactly one of email, webhook and slack (found %d); use one receiver per destination", field, r.Name, n)
		}
		var err error
		switch {
		case r.Email != nil:
			err = r.Email.validate(field + ".email")
		case r.Webhook != nil:
			if verr := validateHTTPURL(r.Webhook.URL); verr != nil {
				err = fmt.Errorf("%s.webhook.url %q: %w", field, r.Webhook.URL, verr)
			}
		case r.Slack != nil:
			if verr := validateHTTPURL(string(r.Slack.URL)); verr != nil {
				// The URL is a secret: name the problem, not the URL.
				err = fmt.Errorf("%s.slack.url: %w", field, verr)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Route) validate() error {
	for i, l := range r.GroupBy {
		if l == groupByAll {
			if len(r.GroupBy) > 1 {
				return fmt.Errorf("alerting.route.group_by: %q (group by every label) must be the only entry", groupByAll)
			}
			continue
		}
		if !model.UTF8Validation.IsValidLabelName(l) {
			return fmt.Errorf("alerting.route.group_by[%d]: %q is not a valid label name", i, l)
		}
	}
	for _, d := range []struct {
		name string
		v    model.Duration
	}{{"group_wait", r.GroupWait}, {"group_interval", r.GroupInterval}, {"repeat_interval", r.RepeatInterval}} {
		if d.v < 0 {
			return fmt.Errorf("alerting.route.%s %s: must not be negative (0 means the default)", d.name, d.v)
		}
	}
	if r.GroupInterval != 0 && r.RepeatInterval != 0 && r.RepeatInterval < r.GroupInterval {
		return fmt.Errorf("alerting.route.repeat_interval %s: must not be shorter than group_interval %s", r.RepeatInterval, r.GroupInterval)
	}
	return nil
}

func (e *EmailConfig) validate(field string) error {
	if len(e.To) == 0 {
		return fmt.Errorf("%s.to: at least one recipient is required", field)
	}
	for i, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("%s.to[%d] %q: not an e-mail address: %w", field, i, to, err)
		}
	}
	if e.From == "" {
		return fmt.Errorf("%s.from: required", field)
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return fmt.Errorf("%s.from %q: not an e-mail address: %w", field, e.From, err)
	}
	host, port, err := net.SplitHostPort(e.Smarthost)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("%s.smarthost %q: want host:port, e.g. smtp.example.com:587", field, e.Smarthost)
	}
	if e.Password != "" && e.PasswordFile != "" {
		return fmt.Errorf("%s: give password or password_file, not both", field)
	}
	if (e.Password != "" || e.PasswordFile != "") && e.Username == "" {
		return fmt.Errorf("%s.username: required when a password is given", field)
	}
	if e.AllowInsecureAuth && !isLoopbackHost(host) {
		return fmt.Errorf("%s.allow_insecure_auth: only allowed for a loopback smarthost (localhost, 127.0.0.1, ::1), not %q: credentials must not cross a network unencrypted", field, host)
	}
	return nil
}

// requireTLS reports whether STARTTLS is mandatory (default true).
func (e *EmailConfig) requireTLS() bool { return e.RequireTLS == nil || *e.RequireTLS }

// sendResolved reports whether resolved notifications are sent (default true).
func (r *ReceiverConfig) sendResolved() bool { return r.SendResolved == nil || *r.SendResolved }

// validateHTTPURL checks an absolute http(s) URL with a host.
func validateHTTPURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the URL; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("not a URL: %w", ue.Err)
		}
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

// isLoopbackHost reports whether host names this machine's loopback.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
