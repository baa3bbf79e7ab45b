package bytesize

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse checks Parse on any string: a refusal quotes it, and an
// accepted size is not negative and reads back from its String, and from
// YAML, unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "0", "1024", "512MB", "10GiB", " 1 TB ", "1.5KB", "1KB512B", "-1", "-1KB", "8EiB", "16384PiB",
		"9223372036854775807", "9223372036854775808", "9007199254740993B", "8EiB", "8191PiB", "1e3", "0.0000001KB", "+5MB", "GB",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Parse(s)
		if err != nil {
			if !strings.Contains(err.Error(), "size ") {
				t.Fatalf("%q: error %q does not quote the size", s, err)
			}
			return
		}
		if b < 0 {
			t.Fatalf("%q: negative size %d", s, b)
		}
		back, err := Parse(b.String())
		if err != nil || back != b {
			t.Fatalf("%q read as %d, written %q, read back as %d, %v", s, b, b.String(), back, err)
		}
		out, err := yaml.Marshal(struct{ S Size }{b})
		if err != nil {
			t.Fatal(err)
		}
		var y struct{ S Size }
		if err := yaml.Unmarshal(out, &y); err != nil || y.S != b {
			t.Fatalf("%q: YAML %q read back as %d, %v", s, out, y.S, err)
		}
	})
}
