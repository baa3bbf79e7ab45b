package ruletest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

// File is a rule unit test file in promtool's format
// (prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules).
type File struct {
	// RuleFiles are the rule files under test, as written: relative paths
	// are relative to the test file, and globs are allowed.
	RuleFiles []string `yaml:"rule_files"`
	// EvaluationInterval is the step at which the rules are evaluated
	// (default 1m).
	EvaluationInterval model.Duration `yaml:"evaluation_interval,omitempty"`
	// GroupEvalOrder lists group names that are evaluated in this order,
	// after the groups it does not name.
	GroupEvalOrder []string `yaml:"group_eval_order,omitempty"`
	// Tests are the test groups, each with its own series.
	Tests []TestGroup `yaml:"tests"`
	// FuzzyCompare makes PromQL expression values equal when they differ by
	// one unit in the last place.
	FuzzyCompare bool `yaml:"fuzzy_compare,omitempty"`
}

// TestGroup is input series and the alerts and expression values expected
// from them.
type TestGroup struct {
	// Name names the group in failures; unnamed groups are "#N" (from 0).
	Name string `yaml:"name,omitempty"`
	// Interval is the step between the values of the input series
	// (default: the file's evaluation interval).
	Interval model.Duration `yaml:"interval,omitempty"`
	// InputSeries are the series, in promtool's expanding notation.
	InputSeries []InputSeries `yaml:"input_series"`
	// AlertRuleTests are the firing alerts expected at given times.
	AlertRuleTests []AlertTest `yaml:"alert_rule_test,omitempty"`
	// PromQLExprTests are expression values expected at given times.
	PromQLExprTests []ExprTest `yaml:"promql_expr_test,omitempty"`
	// ExternalLabels are the $externalLabels of the templates.
	ExternalLabels labels.Labels `yaml:"external_labels,omitempty"`
	// ExternalURL is the $externalURL of the templates.
	ExternalURL string `yaml:"external_url,omitempty"`
	// StartTimestamp is the time of the first value and evaluation: RFC 3339
	// or Unix seconds (default: the Unix epoch).
	StartTimestamp Timestamp `yaml:"start_timestamp,omitempty"`
}

// InputSeries is one series: `metric{label="value"}` and values such as
// `1+2x10 _ stale 5x3`.
type InputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// AlertTest is the alerts expected to fire for one alert name at one time.
// No ExpAlerts means that none fires.
type AlertTest struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []ExpAlert     `yaml:"exp_alerts"`
}

// ExpAlert is one expected alert: its labels (without alertname) and its
// templated annotations, all of them.
type ExpAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// ExprTest is the value an expression is expected to have at one time.
type ExprTest struct {
	Expr       string         `yaml:"expr"`
	EvalTime   model.Duration `yaml:"eval_time"`
	ExpSamples []ExpSample    `yaml:"exp_samples"`
}

// ExpSample is one expected sample: labels in series notation
// (`metric{a="b"}` or `{a="b"}`) and a value.
type ExpSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// Timestamp is a test's start time: RFC 3339, or Unix seconds with an
// optional fraction.
type Timestamp struct{ time.Time }

// The range of Unix seconds a Timestamp accepts: 0000-01-01T00:00:00Z to
// 9999-12-31T23:59:59Z, the times RFC 3339 writes.
const (
	minUnixSeconds = -62167219200
	maxUnixSeconds = 253402300799
)

// UnmarshalYAML reads an RFC 3339 time or Unix seconds.
func (t *Timestamp) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		// The years RFC 3339 can write: 0000 to 9999 (NaN fails too).
		if !(f >= minUnixSeconds && f <= maxUnixSeconds) {
			return fmt.Errorf("start_timestamp %q: Unix seconds out of range (years 0000 to 9999)", s)
		}
		sec, frac := int64(f), f-float64(int64(f))
		t.Time = time.Unix(sec, int64(frac*1e9)).UTC()
		return nil
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("start_timestamp %q: want RFC 3339 or Unix seconds: %w", s, err)
	}
	t.Time = tm
	return nil
}

// ReadFile reads and strictly decodes a test file (unknown keys are
// errors, as in promtool), resolves its rule files against its directory
// and expands their globs, and fills in the default intervals.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rule test file: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var files []string
	for _, rf := range f.RuleFiles {
		if rf != "" && !filepath.IsAbs(rf) {
			rf = filepath.Join(filepath.Dir(path), rf)
		}
		m, err := filepath.Glob(rf)
		if err != nil {
			return nil, fmt.Errorf("%s: rule_files %q: %w", path, rf, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: rule_files %q matches no file", path, rf)
		}
		files = append(files, m...)
	}
	f.RuleFiles = files
	return f, nil
}

// Parse strictly decodes a test file's content and fills in the default
// intervals; rule file paths are left as written.
func Parse(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing rule test file: %w", err)
	}
	if f.EvaluationInterval <= 0 {
		f.EvaluationInterval = model.Duration(time.Minute)
	}
	for i := range f.Tests {
		if f.Tests[i].Interval <= 0 {
			f.Tests[i].Interval = f.EvaluationInterval
		}
	}
	return &f, nil
}
