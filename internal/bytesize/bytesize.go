// Package bytesize provides Size, a byte count written with a unit in flags
// and YAML (512MB, 10GiB), read the way Prometheus reads its size flags.
package bytesize

import (
	"errors"
	"fmt"
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
	n, err := units.ParseBase2Bytes(strings.ReplaceAll(t, " ", ""))
	if err != nil {
		return 0, fmt.Errorf("size %q: want bytes or a number with a unit, such as 512MB, 10GB or 1TB (powers of 1024)", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("size %q: must not be negative", s)
	}
	return Size(n), nil
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
