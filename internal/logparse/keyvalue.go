package logparse

import (
	"strings"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// kvLine parses key=value and "key: value" lines:
//
//	step=100 loss=0.23 lr=0.001
//	step: 100, loss: 0.23
//	Epoch [3/10], Step [100/500], Loss: 0.2345
//
// Keys must look like names (so URLs and timestamps do not count) and values
// like numbers; "N/M" gives N and a total_<key>s value. The line is a metric
// line when it has at least two numeric pairs, or a step pair.
func kvLine(s string) (runs.Entry, bool) {
	// First pass: count, without allocating.
	pairs, step := 0, false
	scanPairs(s, func(k, v string) {
		pairs++
		if isStepKey(k) {
			step = true
		}
	})
	if pairs < 2 && !step {
		return runs.Entry{}, false
	}
	b := newBuilder()
	scanPairs(s, func(k, v string) {
		if n, t, ok := strings.Cut(v, "/"); ok {
			nv, _ := parseNumber(n)
			tv, _ := parseNumber(t)
			b.add(k, nv)
			if isStepKey(k) {
				b.add("total_steps", tv)
			} else {
				b.add("total_"+strings.ToLower(k)+"s", tv)
			}
			return
		}
		f, _ := parseNumber(v)
		b.add(k, f)
	})
	return b.entry()
}

// scanPairs calls fn for each numeric pair in s: key=value, "key: value" and
// "Key [n/m]". Values passed to fn are numbers or "n/m" with both numbers.
func scanPairs(s string, fn func(k, v string)) {
	prevKey := "" // a bare name token, for "Key [n/m]"
	for i := 0; i < len(s); {
		for i < len(s) && isSep(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSep(s[j]) {
			j++
		}
		if i >= j {
			break
		}
		tok := s[i:j]
		i = j
		key := prevKey
		prevKey = ""
		if eq := strings.IndexByte(tok, '='); eq > 0 {
			if k := tok[:eq]; isKey(k) && numericValue(tok[eq+1:]) {
				fn(k, tok[eq+1:])
			}
			continue
		}
		if k, ok := strings.CutSuffix(tok, ":"); ok && isKey(k) {
			// The value is the next token.
			for i < len(s) && isSep(s[i]) {
				i++
			}
			j := i
			for j < len(s) && !isSep(s[j]) {
				j++
			}
			if v := tok2val(s[i:j]); numericValue(v) {
				fn(k, v)
				i = j
			}
			continue
		}
		if key != "" && len(tok) > 2 && tok[0] == '[' && tok[len(tok)-1] == ']' {
			if v := tok[1 : len(tok)-1]; strings.IndexByte(v, '/') > 0 && numericValue(v) {
				fn(key, v)
			}
			continue
		}
		if isKey(tok) {
			prevKey = tok
		}
	}
}

// tok2val drops brackets around a value token ("[3/10]").
func tok2val(v string) string {
	if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
		return v[1 : len(v)-1]
	}
	return v
}

// numericValue reports whether v is a number or "n/m" with two numbers.
// Booleans are not numbers here ("GPU available: True" is no metric).
func numericValue(v string) bool {
	switch v {
	case "True", "true", "False", "false":
		return false
	}
	if n, t, ok := strings.Cut(v, "/"); ok {
		_, ok1 := parseNumber(n)
		_, ok2 := parseNumber(t)
		return ok1 && ok2
	}
	_, ok := parseNumber(v)
	return ok
}

// isSep reports whether c separates tokens in a key=value line.
func isSep(c byte) bool {
	return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '|'
}
