package logparse

import (
	"math"
	"strconv"
	"strings"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// maxStep is the largest step accepted (exact in a float64).
const maxStep = 1 << 53

// builder accumulates one entry; the map is made on the first value.
type builder struct {
	e runs.Entry
	// times says whether time/timestamp/_time keys set TimeMs (JSON lines).
	times bool
	// any says whether anything (step, epoch or value) was set.
	any bool
}

func newBuilder() builder {
	return builder{e: runs.Entry{Step: -1, Epoch: math.NaN()}}
}

// add records key=f, routing step, epoch and (for JSON) time keys to their
// fields. Invalid steps and epochs are dropped.
func (b *builder) add(key string, f float64) {
	if key == "" {
		return
	}
	switch {
	case isStepKey(key):
		if f >= 0 && f <= maxStep && f == math.Trunc(f) {
			b.e.Step = int64(f)
			b.any = true
		}
		return
	case strings.EqualFold(key, "epoch"):
		if f >= 0 && !math.IsInf(f, 0) {
			b.e.Epoch = f
			b.any = true
		}
		return
	case b.times && (key == "time" || key == "timestamp" || key == "_time"):
		if f >= 0 && f < 1e14 {
			b.e.TimeMs = int64(f * 1000)
		}
		return
	}
	if b.e.Values == nil {
		b.e.Values = make(map[string]float64, 8)
	}
	b.e.Values[key] = f
	b.any = true
}

// entry returns the entry, ok when it carries a step, epoch or value. Values
// is never nil in an ok entry.
func (b *builder) entry() (runs.Entry, bool) {
	if !b.any {
		return runs.Entry{}, false
	}
	if b.e.Values == nil {
		b.e.Values = map[string]float64{}
	}
	return b.e, true
}

// isStepKey reports whether key names the global step.
func isStepKey(k string) bool {
	switch len(k) {
	case 4:
		return strings.EqualFold(k, "step") || strings.EqualFold(k, "iter")
	case 9:
		return strings.EqualFold(k, "iteration")
	case 11:
		return strings.EqualFold(k, "global_step")
	}
	return false
}

// parseNumber parses a number as Python, JSON, tqdm or a logger writes it:
// ints, floats, nan, inf, -inf, NaN, Infinity, -Infinity, True/False. It
// rejects anything else without allocating.
func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > 40 {
		return 0, false
	}
	switch s {
	case "True", "true":
		return 1, true
	case "False", "false":
		return 0, true
	}
	body := s
	if body[0] == '-' || body[0] == '+' {
		body = body[1:]
	}
	if body == "" {
		return 0, false
	}
	switch c := body[0]; {
	case c >= '0' && c <= '9', c == '.':
		digits := false
		for i := 0; i < len(body); i++ {
			c := body[i]
			switch {
			case c >= '0' && c <= '9':
				digits = true
			case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
			default:
				return 0, false
			}
		}
		if !digits {
			return 0, false
		}
	case c == 'n' || c == 'N' || c == 'i' || c == 'I':
		switch strings.ToLower(body) {
		case "nan", "inf", "infinity":
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out-of-range values come back as ±Inf with an error; keep them.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// isKey reports whether s looks like a metric name: a letter or '_' first,
// then letters, digits and _ . - /.
func isKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

// parseUint parses a run of ASCII digits (no sign, no suffix).
func parseUint(s string) (int64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
