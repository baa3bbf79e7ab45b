package alerting

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
rule_files: [/etc/trainwatch/rules/*.yml]
alertmanagers:
  - url: http://am1:9093
  - url: https://user:pw@am2.example/prefix
receivers:
  - name: ops-mail
    email:
      to: [a@example.com, "B <b@example.com>"]
      from: trainwatch@example.com
      smarthost: smtp.example.com:587
      username: trainwatch
      password_file: /etc/trainwatch/smtp-password
  - name: hook
    webhook: {url: "http://127.0.0.1:5001/"}
  - name: chat
    send_resolved: false
    slack: {url: "https://hooks.slack.com/services/T/B/X", blocks: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.builtinEnabled() {
		t.Error("builtin_rules should default to true")
	}
	if time.Duration(cfg.EvaluationInterval) != DefaultEvaluationInterval {
		t.Errorf("evaluation_interval = %s", cfg.EvaluationInterval)
	}
	r := cfg.Route
	if len(r.GroupBy) != 1 || r.GroupBy[0] != "alertname" || time.Duration(r.GroupWait) != 30*time.Second ||
		time.Duration(r.GroupInterval) != 5*time.Minute || time.Duration(r.RepeatInterval) != 4*time.Hour {
		t.Errorf("route defaults: %+v", r)
	}
	if !cfg.Receivers[0].sendResolved() || cfg.Receivers[2].sendResolved() {
		t.Error("send_resolved: default true, false when given")
	}
	if !cfg.Receivers[0].Email.requireTLS() {
		t.Error("require_tls should default to true")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "rule_file: [x]", "field rule_file not found"},
		{"unknown receiver key", "receivers: [{name: a, webhook: {url: 'http://x'}, slak: {}}]", "field slak not found"},
		{"interval too short", "evaluation_interval: 1ms", "alerting.evaluation_interval 1ms: must be at least 10ms"},
		{"empty rule file", "rule_files: ['']", "alerting.rule_files[0]: must not be empty"},
		{"bad external label", "external_labels: {'': x}", "alerting.external_labels"},
		{"alertmanager scheme", "alertmanagers: [{url: 'ftp://am:9093'}]", `alerting.alertmanagers[0].url "ftp://am:9093": scheme must be http or https`},
		{"alertmanager url password hidden", "alertmanagers: [{url: 'ftp://u:hunter2@am:9093'}]", `alerting.alertmanagers[0].url "ftp://u:xxxxx@am:9093": scheme must be http or https`},
		{"alertmanager no url", "alertmanagers: [{timeout: 5s}]", "alerting.alertmanagers[0].url \"\": required"},
		{"alertmanager negative timeout", "alertmanagers: [{url: 'http://am:9093', timeout: -5s}]", "not a valid duration"},
		{"group_by label", "route: {group_by: [job, '']}", `alerting.route.group_by[1]: "" is not a valid label name`},
		{"group_by all mixed", "route: {group_by: ['...', job]}", `alerting.route.group_by: "..." (group by every label) must be the only entry`},
		{"repeat shorter", "route: {group_interval: 10m, repeat_interval: 5m}", "alerting.route.repeat_interval 5m: must not be shorter than group_interval 10m"},
		{"receiver without name", "receivers: [{webhook: {url: 'http://x'}}]", "alerting.receivers[0].name: required"},
		{"receiver twice", "receivers: [{name: a, webhook: {url: 'http://x'}}, {name: a, webhook: {url: 'http://y'}}]", `alerting.receivers[1].name "a": already used by alerting.receivers[0]`},
		{"receiver without integration", "receivers: [{name: a}]", `alerting.receivers[0] ("a"): give exactly one of email, webhook and slack (found 0)`},
		{"receiver with two", "receivers: [{name: a, webhook: {url: 'http://x'}, slack: {url: 'http://y'}}]", "(found 2)"},
		{"webhook url", "receivers: [{name: a, webhook: {url: 'x'}}]", `alerting.receivers[0].webhook.url "x": scheme must be http or https`},
		{"slack url is secret", "receivers: [{name: a, slack: {url: 'mailto:token'}}]", "alerting.receivers[0].slack.url: scheme must be http or https"},
		{"email no to", "receivers: [{name: m, email: {from: a@b.c, smarthost: 'h:25'}}]", "alerting.receivers[0].email.to: at least one recipient is required"},
		{"email bad to", "receivers: [{name: m, email: {to: [nobody], from: a@b.c, smarthost: 'h:25'}}]", `alerting.receivers[0].email.to[0] "nobody": not an e-mail address`},
		{"email no from", "receivers: [{name: m, email: {to: [a@b.c], smarthost: 'h:25'}}]", "alerting.receivers[0].email.from: required"},
		{"email smarthost", "receivers: [{name: m, email: {to: [a@b.c], from: a@b.c, smarthost: smtp.example.com}}]", `alerting.receivers[0].email.smarthost "smtp.example.com": want host:port`},
		{"email two passwords", "receivers: [{name: m, email: {to: [a@b.c], from: a@b.c, smarthost: 'h:25', username: u, password: p, password_file: f}}]", "give password or password_file, not both"},
		{"email password without user", "receivers: [{name: m, email: {to: [a@b.c], from: a@b.c, smarthost: 'h:25', password: p}}]", "alerting.receivers[0].email.username: required when a password is given"},
		{"insecure auth off loopback", "receivers: [{name: m, email: {to: [a@b.c], from: a@b.c, smarthost: 'smtp.example.com:25', allow_insecure_auth: true}}]", "alerting.receivers[0].email.allow_insecure_auth: only allowed for a loopback smarthost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSecretsNotPrinted(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
receivers:
  - name: chat
    slack: {url: "https://hooks.slack.com/services/T/B/SECRET1"}
  - name: mail
    email: {to: [a@b.c], from: a@b.c, smarthost: "smtp.example.com:587", username: u, password: SECRET2}
`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yamlMarshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("secrets printed:\n%s", out)
	}
}

func yamlMarshal(v any) (string, error) {
	b, err := yaml.Marshal(v)
	return string(b), err
}
