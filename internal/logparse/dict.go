package logparse

import (
	"encoding/json"
	"strings"

	"github.com/trainwatch/trainwatch/internal/runs"
)

// dictLine parses a flat JSON object or a Python dict repr (as the Hugging
// Face Trainer prints its logs). Numeric values, NaN/Infinity/nan/inf and
// booleans are kept; strings, null/None and nested values are skipped. An
// object with string values but no step or epoch is taken for a structured
// log record, not metrics.
func (p *Parser) dictLine(s string) (runs.Entry, bool) {
	i := skipSpace(s, 1)
	if i >= len(s) {
		return runs.Entry{}, false
	}
	quote := s[i]
	switch {
	case quote == '"' && p.json, quote == '\'' && p.hf:
	default:
		return runs.Entry{}, false
	}
	b := newBuilder()
	b.times = quote == '"'
	hasString := false
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return runs.Entry{}, false
		}
		if s[i] == '}' {
			if skipSpace(s, i+1) != len(s) {
				return runs.Entry{}, false
			}
			break
		}
		if s[i] != quote {
			return runs.Entry{}, false
		}
		end, esc := scanString(s, i)
		if end < 0 {
			return runs.Entry{}, false
		}
		key := s[i+1 : end]
		if esc {
			key = unescapeKey(s[i:end+1], quote)
		}
		i = skipSpace(s, end+1)
		if i >= len(s) || s[i] != ':' {
			return runs.Entry{}, false
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			return runs.Entry{}, false
		}
		switch c := s[i]; c {
		case '"', '\'':
			end, _ := scanString(s, i)
			if end < 0 {
				return runs.Entry{}, false
			}
			hasString = true
			i = end + 1
		case '{', '[', '(':
			end := skipNested(s, i)
			if end < 0 {
				return runs.Entry{}, false
			}
			i = end + 1
		default:
			j := i
			for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			tok := s[i:j]
			switch tok {
			case "null", "None":
			default:
				f, ok := parseNumber(tok)
				if !ok {
					return runs.Entry{}, false
				}
				b.add(key, f)
			}
			i = j
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return runs.Entry{}, false
		}
		if s[i] == ',' {
			i++
		} else if s[i] != '}' {
			return runs.Entry{}, false
		}
	}
	if hasString && b.e.Step < 0 && b.e.Epoch != b.e.Epoch {
		return runs.Entry{}, false
	}
	return b.entry()
}

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// scanString returns the index of the closing quote of the string opening
// at s[i], and whether it held backslash escapes; -1 when unterminated.
func scanString(s string, i int) (int, bool) {
	q := s[i]
	esc := false
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			esc = true
			j++
		case q:
			return j, esc
		}
	}
	return -1, esc
}

// skipNested returns the index of the bracket closing the one at s[i],
// skipping quoted strings; -1 when unbalanced.
func skipNested(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"', '\'':
			end, _ := scanString(s, j)
			if end < 0 {
				return -1
			}
			j = end
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// unescapeKey decodes a quoted key with escapes; a JSON key through
// encoding/json, a Python one by dropping the backslashes.
func unescapeKey(q string, quote byte) string {
	if quote == '"' {
		var k string
		if json.Unmarshal([]byte(q), &k) == nil {
			return k
		}
	}
	return strings.ReplaceAll(q[1:len(q)-1], `\`, "")
}
