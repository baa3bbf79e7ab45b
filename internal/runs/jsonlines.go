package runs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Entry is one logged step: its time, optional step and epoch, and the
// numeric values by key (NaN and ±Inf kept).
type Entry struct {
	// TimeMs is the Unix time in milliseconds; 0 means "when received".
	TimeMs int64
	// Step is the global step, or -1 when the line had none.
	Step int64
	// Epoch is the epoch (fractional allowed), or NaN when the line had none.
	Epoch float64
	// Values are the other keys.
	Values map[string]float64
}

// ParseLines reads NDJSON (or a single JSON object, or a JSON array of
// objects) of logged steps. Python's json.dumps writes NaN, Infinity and
// -Infinity bare; they are accepted, as are the strings "NaN", "Inf",
// "+Inf", "-Inf", "Infinity" and "-Infinity". A line with both "step" and
// "global_step" takes "step"; of "time", "timestamp" and "_time" (Unix
// seconds, up to the year 9999) the first present in that order counts.
// Errors name the line and key.
func ParseLines(body []byte) ([]Entry, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("empty body: send one JSON object per line, e.g. {\"step\": 10, \"loss\": 0.42}")
	}
	if trimmed[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(QuoteNonFinite(trimmed), &raws); err != nil {
			return nil, fmt.Errorf("body is not a JSON array of objects: %w", err)
		}
		out := make([]Entry, 0, len(raws))
		for i, r := range raws {
			e, err := parseObject(r, i+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	var out []Entry
	for n, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		e, err := parseObject(QuoteNonFinite(line), n+1)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// parseObject decodes one JSON object into an Entry.
func parseObject(b []byte, line int) (Entry, error) {
	e := Entry{Step: -1, Epoch: math.NaN()}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return e, fmt.Errorf("line %d: not a JSON object: %w", line, err)
	}
	if dec.More() {
		return e, fmt.Errorf("line %d: more than one JSON value on the line; send one object per line", line)
	}
	e.Values = make(map[string]float64, len(m))
	// Aliases are read in a fixed order ("step" wins over "global_step",
	// "time" over "timestamp" over "_time"), not in the map's random one.
	stepKey, timeKey := "", ""
	for k, v := range m {
		f, err := number(v)
		if err != nil {
			return e, fmt.Errorf("line %d: key %q: %w", line, k, err)
		}
		switch k {
		case "step", "global_step":
			if f < 0 || f != math.Trunc(f) || f > 1<<53 {
				return e, fmt.Errorf("line %d: key %q: %v is not a step number (a whole number >= 0)", line, k, v)
			}
			if stepKey == "step" {
				continue // k is "global_step"
			}
			e.Step, stepKey = int64(f), k
		case "epoch":
			if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
				return e, fmt.Errorf("line %d: key \"epoch\": %v is not an epoch (a number >= 0)", line, v)
			}
			e.Epoch = f
		case "time", "timestamp", "_time":
			if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxUnixSeconds {
				return e, fmt.Errorf("line %d: key %q: %v is not a Unix time in seconds", line, k, v)
			}
			if timeKey != "" && timeRank(k) > timeRank(timeKey) {
				continue
			}
			e.TimeMs, timeKey = int64(math.Round(f*1000)), k
		default:
			e.Values[k] = f
		}
	}
	return e, nil
}

// maxUnixSeconds is the latest logged time accepted: the end of year 9999.
const maxUnixSeconds = 253402300799

// timeRank orders the time keys: the lowest rank wins.
func timeRank(k string) int {
	switch k {
	case "time":
		return 0
	case "timestamp":
		return 1
	}
	return 2
}

// number converts a decoded JSON value to a float64.
func number(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case float64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		switch strings.ToLower(x) {
		case "nan":
			return math.NaN(), nil
		case "inf", "+inf", "infinity", "+infinity":
			return math.Inf(1), nil
		case "-inf", "-infinity":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("%q is not a number", x)
	case nil:
		return 0, fmt.Errorf("null is not a number")
	}
	return 0, fmt.Errorf("%T is not a number (only numbers, booleans, NaN and Infinity are logged)", v)
}

// QuoteNonFinite turns the bare tokens NaN, Infinity and -Infinity outside
// strings into strings, so that encoding/json accepts Python's output
// (json.dumps writes them bare). Other input is returned unchanged.
func QuoteNonFinite(b []byte) []byte {
	if !bytes.Contains(b, []byte("NaN")) && !bytes.Contains(b, []byte("Infinity")) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
			out = append(out, c)
		case bytes.HasPrefix(b[i:], []byte("-Infinity")):
			out = append(out, `"-Infinity"`...)
			i += len("-Infinity") - 1
		case bytes.HasPrefix(b[i:], []byte("Infinity")):
			out = append(out, `"Infinity"`...)
			i += len("Infinity") - 1
		case bytes.HasPrefix(b[i:], []byte("NaN")):
			out = append(out, `"NaN"`...)
			i += len("NaN") - 1
		default:
			out = append(out, c)
		}
	}
	return out
}
