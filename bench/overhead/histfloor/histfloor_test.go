package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
)

// filled writes two minutes of 1 s samples of three series, ending now,
// into a new TSDB directory: a counter, a wandering gauge and a constant.
func filled(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().UnixMilli()
	app := db.Appender(context.Background())
	for i := range 120 {
		ts := end - int64(120-i)*1000
		for _, s := range []struct {
			lset labels.Labels
			v    float64
		}{
			{labels.FromStrings("__name__", "work_total", "job", "j"), float64(10 * i)},
			{labels.FromStrings("__name__", "temp_celsius", "gpu", "0"), 50 + float64(i%7)},
			{labels.FromStrings("__name__", "cores", "job", "j"), 8},
		} {
			if _, err := app.Append(0, s.lset, ts, s.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHistFloorAppendsAndEvaluates(t *testing.T) {
	dir := filled(t)
	rules := filepath.Join(t.TempDir(), "r.yml")
	if err := os.WriteFile(rules, []byte(`groups:
- name: g
  rules:
  - record: job:work:rate10s
    expr: sum(rate(work_total[10s]))
`), 0o644); err != nil {
		t.Fatal(err)
	}
	began := time.Now().UnixMilli()
	if err := run([]string{"-data-dir", dir, "-rules", rules, "-interval", "100ms", "-eval-interval", "200ms", "-duration", "2s"}); err != nil {
		t.Fatal(err)
	}

	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(began, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := map[string][]float64{}
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	for set.Next() {
		it := set.At().Iterator(nil)
		name := set.At().Labels().Get("__name__")
		for it.Next() != 0 {
			_, v := it.At()
			got[name] = append(got[name], v)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"work_total", "temp_celsius", "cores"} {
		if n := len(got[name]); n < 10 {
			t.Errorf("%s: %d samples appended in 2 s at 100 ms, want at least 10", name, n)
		}
	}
	for i, v := range got["work_total"] {
		if i > 0 && v < got["work_total"][i-1] {
			t.Errorf("the counter went down: %v", got["work_total"])
			break
		}
	}
	if last := got["work_total"]; len(last) == 0 || last[len(last)-1] <= 1190 {
		t.Errorf("the counter did not grow past its filled 1190: %v", last)
	}
	for _, v := range got["cores"] {
		if v != 8 {
			t.Errorf("the constant series moved: %v", got["cores"])
			break
		}
	}
	if len(got["job:work:rate10s"]) == 0 {
		t.Errorf("the recording rule wrote nothing; series: %v", keys(got))
	}
}

func keys(m map[string][]float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHistFloorErrors(t *testing.T) {
	dir := filled(t)
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no directory", []string{"-duration", "1s"}, "-data-dir is required"},
		{"empty directory", []string{"-data-dir", t.TempDir(), "-duration", "1s"}, "fill-history"},
		{"bad rule file", []string{"-data-dir", dir, "-rules", bad, "-duration", "1s"}, "loading rules"},
		{"zero interval", []string{"-data-dir", dir, "-interval", "0s"}, "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
