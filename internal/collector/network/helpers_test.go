package network

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// fixtureRoots points at this package's fixture tree.
func fixtureRoots() hostfs.Roots {
	return hostfs.Roots{Proc: "testdata/proc", Sys: "testdata/sys"}
}

// newByName builds the package's collectors and returns the named one.
func newByName(t testing.TB, roots hostfs.Roots, cfg Config, name string) collector.Collector {
	t.Helper()
	cs, err := New(roots, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name() == name {
			return c
		}
	}
	t.Fatalf("no collector named %q", name)
	return nil
}

// result is what one collection emitted, by family name.
type result map[string]*collector.Family

func collectOnce(t testing.TB, c collector.Collector) result {
	t.Helper()
	fams, err := collector.CollectOnce(context.Background(), c)
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	r := make(result)
	for _, f := range fams {
		if _, dup := r[f.Desc.Name]; dup {
			t.Fatalf("family %s emitted twice", f.Desc.Name)
		}
		r[f.Desc.Name] = f
	}
	return r
}

// value returns the sample of family name whose label values are labels.
func (r result) value(name string, labels ...string) (float64, bool) {
	f := r[name]
	if f == nil {
		return 0, false
	}
	want := strings.Join(labels, "\x00")
	for _, s := range f.Samples {
		if strings.Join(s.LabelValues, "\x00") == want {
			return s.Value, true
		}
	}
	return 0, false
}

// want asserts one sample's value.
func (r result) want(t *testing.T, name string, v float64, labels ...string) {
	t.Helper()
	got, ok := r.value(name, labels...)
	if !ok {
		t.Errorf("%s%q: missing", name, labels)
		return
	}
	if got != v {
		t.Errorf("%s%q = %v, want %v", name, labels, got, v)
	}
}

// absent asserts that a sample does not exist.
func (r result) absent(t *testing.T, name string, labels ...string) {
	t.Helper()
	if v, ok := r.value(name, labels...); ok {
		t.Errorf("%s%q = %v, want no sample", name, labels, v)
	}
}

// typeOf asserts a family's type and label names.
func (r result) shape(t *testing.T, name string, typ collector.ValueType, labels ...string) {
	t.Helper()
	f := r[name]
	if f == nil {
		t.Errorf("%s: missing family", name)
		return
	}
	if f.Desc.Type != typ {
		t.Errorf("%s: type %v, want %v", name, f.Desc.Type, typ)
	}
	if strings.Join(f.Desc.LabelNames, ",") != strings.Join(labels, ",") {
		t.Errorf("%s: labels %q, want %q", name, f.Desc.LabelNames, labels)
	}
}

// wantErr asserts that err is a *hostfs.ParseError with the exact text.
func wantParseErr(t *testing.T, err error, want string) {
	t.Helper()
	var pe *hostfs.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *hostfs.ParseError", err)
	}
	if err.Error() != want {
		t.Fatalf("err = %q\n want %q", err, want)
	}
}

func errorsIsNoData(err error) bool { return errors.Is(err, collector.ErrNoData) }

func fmtG(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func contextWithPastDeadline(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
}
