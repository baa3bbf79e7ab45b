package bytesize

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Size
		err  string
	}{
		{"", 0, ""},
		{"0", 0, ""},
		{"1073741824", 1 << 30, ""},
		{"1GiB", 1 << 30, ""},
		{"1GB", 1 << 30, ""},
		{"512MB", 512 << 20, ""},
		{"512 MiB", 512 << 20, ""},
		{"10KB", 10 << 10, ""},
		{"2TB", 2 << 40, ""},
		{"lots", 0, `size "lots": want bytes or a number with a unit`},
		{"-5", 0, "must not be negative"},
		{"5XB", 0, "want bytes or a number with a unit"},
		// Whole numbers with one unit are read exactly (the float units
		// parser read 9007199254740993B as ...992, so String's output
		// did not read back: found by FuzzParse).
		{"9007199254740993B", 1<<53 + 1, ""},
		{"9223372036854775807B", 1<<63 - 1, ""},
		{"8191PiB", 8191 << 50, ""},
		{"7EiB", 7 << 60, ""},
		{"8EiB", 0, "too large"},
		{"9223372036854775808B", 0, "too large"},
		{"99999999999999999999KB", 0, "too large"},
		{"1.5KB", 1536, ""},
	} {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []Size{0, 1, 1000, 1 << 10, 3 << 20, 1 << 30, 5 << 40, 1<<30 + 1, 1<<53 + 1, 1<<63 - 1, 8191 << 50, 7 << 60} {
		back, err := Parse(s.String())
		if err != nil || back != s {
			t.Errorf("%d -> %q -> %d, %v", s, s.String(), back, err)
		}
	}
	if got := Size(1 << 30).String(); got != "1GiB" {
		t.Errorf("String = %q, want 1GiB", got)
	}
}

func TestYAML(t *testing.T) {
	var v struct {
		S Size `yaml:"s"`
	}
	if err := yaml.Unmarshal([]byte("s: 2GB\n"), &v); err != nil || v.S != 2<<30 {
		t.Fatalf("got %d, %v", v.S, err)
	}
	if err := yaml.Unmarshal([]byte("s: big\n"), &v); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad size error = %v, want one naming line 1", err)
	}
	if err := yaml.Unmarshal([]byte("s: [1]\n"), &v); err == nil {
		t.Fatal("a list was accepted as a size")
	}
	out, err := yaml.Marshal(struct {
		S Size `yaml:"s"`
	}{3 << 20})
	if err != nil || string(out) != "s: 3MiB\n" {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
}
