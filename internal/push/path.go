package push

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
)

// pathPrefix is where every push path starts.
const pathPrefix = "/metrics/"

// base64Suffix marks a label name (or job) whose value is URL-safe base64.
const base64Suffix = "@base64"

// errNotPushPath says the path is not under /metrics/job; it answers 404.
var errNotPushPath = errors.New("not a push path: push to /metrics/job/<JOB>{/<LABEL>/<VALUE>}")

// ParseGroupingKey parses the grouping key of a push path,
// /metrics/job/<JOB>{/<LABEL_NAME>/<LABEL_VALUE>}, as the Pushgateway does:
// path is the decoded URL path (r.URL.Path) and escaped the path as sent
// (r.URL.EscapedPath()), used only to explain a %2F. The job, or a label,
// whose name ends in @base64 has a URL-safe base64 value (padding optional,
// "=" for an empty value). Values are otherwise kept as decoded, a "+"
// included (Python's quote_plus turns spaces into "+" and the Pushgateway
// keeps it). The result is sorted by label name; empty values are kept (a
// label with an empty value is part of the key but stored as absent).
func ParseGroupingKey(path, escaped string) (labels.Labels, error) {
	rest, ok := strings.CutPrefix(path, pathPrefix)
	if !ok || !(strings.HasPrefix(rest, "job/") || strings.HasPrefix(rest, "job"+base64Suffix+"/")) {
		return labels.EmptyLabels(), errNotPushPath
	}
	if strings.Contains(strings.ToUpper(escaped), "%2F") {
		return labels.EmptyLabels(), errors.New(`grouping key: the path contains %2F, which is decoded into a "/" and so splits the path, as in the Pushgateway; send a value that contains "/" base64-encoded, e.g. path@base64/L3Zhci90bXA for path="/var/tmp"`)
	}
	// One trailing slash is tolerated, as the Pushgateway's router does.
	rest = strings.TrimSuffix(rest, "/")
	comps := strings.Split(rest, "/")
	if len(comps) == 1 {
		return labels.EmptyLabels(), errors.New("grouping key: the job name is empty; push to /metrics/job/<JOB> with a non-empty job")
	}
	if len(comps)%2 != 0 {
		return labels.EmptyLabels(), fmt.Errorf("grouping key: odd number of path components after /metrics/ (%d): the path must be /metrics/job/<JOB> followed by <LABEL>/<VALUE> pairs; send an empty value as <LABEL>@base64/=", len(comps))
	}
	b := labels.NewScratchBuilder(len(comps) / 2)
	seen := make(map[string]bool, len(comps)/2)
	for i := 0; i < len(comps); i += 2 {
		name, value, err := decodePair(comps[i], comps[i+1])
		if err != nil {
			return labels.EmptyLabels(), err
		}
		if i == 0 && value == "" {
			return labels.EmptyLabels(), errors.New("grouping key: the job name is empty; push to /metrics/job/<JOB> with a non-empty job")
		}
		if seen[name] {
			return labels.EmptyLabels(), fmt.Errorf("grouping key: label %q appears twice in the path; give each label once", name)
		}
		seen[name] = true
		b.Add(name, value)
	}
	b.Sort()
	return b.Labels(), nil
}

// decodePair validates one label name of the path and decodes its value.
func decodePair(rawName, rawValue string) (name, value string, err error) {
	name, b64 := strings.CutSuffix(rawName, base64Suffix)
	switch {
	case name == "":
		return "", "", errors.New(`grouping key: empty label name in the path (two slashes in a row?); send an empty value as <LABEL>@base64/=`)
	case !isLegacyLabelName(name):
		return "", "", fmt.Errorf("grouping key: invalid label name %q in the path: a label name must match [a-zA-Z_][a-zA-Z0-9_]*", name)
	case strings.HasPrefix(name, "__"):
		return "", "", fmt.Errorf("grouping key: label name %q in the path is reserved: names starting with __ are for internal use; rename the label", name)
	}
	if !b64 {
		if rawValue == "" {
			return "", "", fmt.Errorf("grouping key: label %q has an empty value in the path; send an empty value as %s@base64/=", name, name)
		}
		if !utf8.ValidString(rawValue) {
			return "", "", fmt.Errorf("grouping key: the value of label %q is not valid UTF-8", name)
		}
		return name, rawValue, nil
	}
	if rawValue == "" {
		return "", "", fmt.Errorf("grouping key: label %q has an empty base64 value in the path; send an empty value as %s@base64/=", name, name)
	}
	dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(rawValue, "="))
	if err != nil {
		return "", "", fmt.Errorf("grouping key: the value of %s@base64 is not URL-safe base64 (RFC 4648, alphabet A-Z a-z 0-9 - _, padding optional): %w", name, err)
	}
	if !utf8.Valid(dec) {
		return "", "", fmt.Errorf("grouping key: the base64 value of label %q does not decode to valid UTF-8", name)
	}
	return name, string(dec), nil
}

// isLegacyLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func isLegacyLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// isLegacyMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func isLegacyMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
