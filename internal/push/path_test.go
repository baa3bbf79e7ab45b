package push

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
)

func TestParseGroupingKey(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		want       []string // label pairs, or nil for an error
		err        string   // substring of the error
	}{
		{name: "plain", path: "/metrics/job/train", want: []string{"job", "train"}},
		{name: "trailing slash", path: "/metrics/job/train/", want: []string{"job", "train"}},
		{name: "several labels", path: "/metrics/job/train/run/r1/instance/host:9/gpu/0", want: []string{"job", "train", "run", "r1", "instance", "host:9", "gpu", "0"}},
		{name: "base64 with padding", path: "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA=", want: []string{"job", "directory_cleaner", "path", "/var/tmp"}},
		{name: "base64 without padding", path: "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA", want: []string{"job", "directory_cleaner", "path", "/var/tmp"}},
		{name: "base64 job", path: "/metrics/job@base64/YS9i/x/y", want: []string{"job", "a/b", "x", "y"}},
		{name: "base64 empty value", path: "/metrics/job/example/first_label@base64/=/second_label/foobar", want: []string{"job", "example", "first_label", "", "second_label", "foobar"}},
		{name: "base64 double padding empty", path: "/metrics/job/example/l@base64/==", want: []string{"job", "example", "l", ""}},
		{name: "plus kept literally", path: "/metrics/job/train/run/value+with+spaces", want: []string{"job", "train", "run", "value+with+spaces"}},
		{name: "escaped UTF-8", path: "/metrics/job/titan/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82", want: []string{"job", "titan", "name", "Προμηθεύς"}},
		{name: "base64 UTF-8", path: "/metrics/job/titan/name@base64/zqDPgc6_zrzOt864zrXPjc-C", want: []string{"job", "titan", "name", "Προμηθεύς"}},
		{name: "escaped space", path: "/metrics/job/train/run/a%20b", want: []string{"job", "train", "run", "a b"}},
		{name: "%2F is a separator", path: "/metrics/job/train/path/%2Fvar%2Ftmp", err: "%2F"},
		{name: "empty job", path: "/metrics/job/", err: "job name is empty"},
		{name: "empty base64 job", path: "/metrics/job@base64/=", err: "job name is empty"},
		{name: "odd components", path: "/metrics/job/train/run", err: "odd number of path components"},
		{name: "odd components long", path: "/metrics/job/train/run/r1/gpu", err: "odd number"},
		{name: "bad label name", path: "/metrics/job/train/1gpu/0", err: `invalid label name "1gpu"`},
		{name: "dotted label name", path: "/metrics/job/train/gpu.id/0", err: `invalid label name "gpu.id"`},
		{name: "duplicate label", path: "/metrics/job/train/gpu/0/gpu/1", err: `label "gpu" appears twice in the path`},
		{name: "job twice", path: "/metrics/job/train/job/other", err: `label "job" appears twice`},
		{name: "__name__", path: "/metrics/job/train/__name__/x", err: `"__name__" in the path is reserved`},
		{name: "reserved prefix", path: "/metrics/job/train/__x/y", err: "reserved"},
		{name: "empty value", path: "/metrics/job/train/run//gpu/0", err: "empty"},
		{name: "bad base64", path: "/metrics/job/train/run@base64/!!", err: "not URL-safe base64"},
		{name: "standard base64 alphabet", path: "/metrics/job/train/run@base64/a+b/", err: "not URL-safe base64"},
		{name: "not a push path", path: "/metrics/jobs/x", err: "not a push path"},
		{name: "not a push path 2", path: "/metrics", err: "not a push path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse("http://h" + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseGroupingKey(u.Path, u.EscapedPath())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := labels.NewScratchBuilder(0)
			for i := 0; i < len(tc.want); i += 2 {
				b.Add(tc.want[i], tc.want[i+1])
			}
			b.Sort()
			if want := b.Labels(); !labels.Equal(got, want) {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
}

// FuzzParsePath checks that path parsing never panics and that what it
// accepts is a valid grouping key.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/metrics/job/a", "/metrics/job/a/b/c", "/metrics/job@base64/YQ/x@base64/=",
		"/metrics/job/titan/name@base64/zqDPgc6_zrzOt864zrXPjc-C", "/metrics/job//", "/metrics/job/a/b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.Parse("http://h" + p)
		if err != nil {
			return
		}
		gk, err := ParseGroupingKey(u.Path, u.EscapedPath())
		if err != nil {
			return
		}
		if gk.Get("job") == "" {
			t.Fatalf("%q: accepted without a job: %s", p, gk)
		}
		if _, dup := gk.HasDuplicateLabelNames(); dup {
			t.Fatalf("%q: duplicate label names: %s", p, gk)
		}
		gk.Range(func(l labels.Label) {
			if !isLegacyLabelName(l.Name) || strings.HasPrefix(l.Name, "__") || !utf8.ValidString(l.Value) {
				t.Fatalf("%q: bad label %q=%q", p, l.Name, l.Value)
			}
		})
		// The key, written back as a path with every value base64
		// encoded (as the Python client does for a value with a "/"),
		// parses to the same key.
		var b strings.Builder
		b.WriteString("/metrics/job@base64/" + base64.RawURLEncoding.EncodeToString([]byte(gk.Get("job"))))
		gk.Range(func(l labels.Label) {
			if l.Name == "job" {
				return
			}
			v := base64.RawURLEncoding.EncodeToString([]byte(l.Value))
			if v == "" {
				v = "="
			}
			b.WriteString("/" + l.Name + "@base64/" + v)
		})
		back, err := ParseGroupingKey(b.String(), b.String())
		if err != nil || !labels.Equal(back, gk) {
			t.Fatalf("%q: key %s written as %s reads back as %s, %v", p, gk, b.String(), back, err)
		}
	})
}
