// Package bytesize provides Size, a byte count written with a unit in flags
// and YAML (512MB, 10GiB), read the way Prometheus reads its size flags.
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/alecthomas/units"
	"gopkg.in/yaml.v3"
)

// Size is a number of bytes. Units are powers of 1024 whether written KB or
// KiB (as in Prometheus' --storage.tsdb.retention.size): 1KB = 1KiB = 1024.
type Size int64

// Parse reads a plain number of bytes or a number with a unit: B, KB, MB,
// GB, TB, PB (or KiB ... PiB), e.g. 512MB or 10GiB. Empty means 0.
func Parse(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("size %q: must not be negative", s)
		}
		return Size(n), nil
	}
	t = strings.ReplaceAll(t, " ", "")
	if n, ok, err := parseWhole(t); ok {
		if err != nil {
			return 0, fmt.Errorf("size %q: %w", s, err)
		}
		return n, nil
	}
	n, err := units.ParseBase2Bytes(t)
	if err != nil {
		return 0, fmt.Errorf("size %q: want bytes or a number with a unit, such as 512MB, 10GB or 1TB (powers of 1024)", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("size %q: must not be negative", s)
	}
	return Size(n), nil
}

// unitShift maps the units Parse reads to their power of two.
var unitShift = map[string]uint{
	"B": 0, "KB": 10, "KiB": 10, "MB": 20, "MiB": 20, "GB": 30, "GiB": 30,
	"TB": 40, "TiB": 40, "PB": 50, "PiB": 50, "EB": 60, "EiB": 60,
}

// parseWhole reads a whole number with one unit ("1000B", "3GiB") exactly,
// which the floating-point units parser does not for large numbers. ok is
// false for other forms (fractions, several units, a sign).
func parseWhole(t string) (n Size, ok bool, err error) {
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	shift, known := unitShift[t[i:]]
	if i == 0 || !known {
		return 0, false, nil
	}
	v, perr := strconv.ParseInt(t[:i], 10, 64)
	if perr != nil || v > math.MaxInt64>>shift {
		return 0, true, errors.New("too large: at most 9223372036854775807 bytes (8EiB less one byte)")
	}
	return Size(v << shift), true, nil
}

// String formats the size with the largest binary unit that divides it
// (1GiB, 512MiB, 1000B), so that Parse reads it back.
func (b Size) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// UnmarshalYAML reads an integer or a string with a unit.
func (b *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a size, e.g. 1GiB")
	}
	v, err := Parse(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes the size as String does.
func (b Size) MarshalYAML() (any, error) { return b.String(), nil }
