package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/store"
)

// evalDirCase is one EvalDir query and its expected "data".
type evalDirCase struct {
	name string
	expr string
	r    Range
	want string // JSON
}

// evalDirCases are queries over gpuFamilies' data, limitsTicks ticks 15 s
// apart ending at last.
func evalDirCases(last time.Time) []evalDirCase {
	at := unix(last)
	i := limitsTicks - 1 // the last tick
	gpu1 := `{"UUID":"GPU-1","__name__":"DCGM_FI_DEV_GPU_UTIL","gpu":"1","instance":"` + testInstance + `","job":"trainwatch"}`
	v := func(i, g int) string { return strconv.FormatFloat(gpuFamilies(i)[0].Samples[g].Value, 'f', -1, 64) }
	return []evalDirCase{
		{
			name: "instant selector",
			expr: `DCGM_FI_DEV_GPU_UTIL{gpu="1"}`,
			r:    Range{End: last},
			want: `{"resultType":"vector","result":[{"metric":` + gpu1 + `,"value":[` + at + `,"` + v(i, 1) + `"]}]}`,
		},
		{
			name: "instant aggregation",
			expr: `count(DCGM_FI_DEV_GPU_UTIL)`,
			r:    Range{End: last},
			want: `{"resultType":"vector","result":[{"metric":{},"value":[` + at + `,"4"]}]}`,
		},
		{
			name: "scalar",
			expr: `scalar(DCGM_FI_DEV_GPU_UTIL{gpu="1"}) * 2`,
			r:    Range{End: last},
			want: `{"resultType":"scalar","result":[` + at + `,"` + strconv.FormatFloat(2*gpuFamilies(i)[0].Samples[1].Value, 'f', -1, 64) + `"]}`,
		},
		{
			name: "range",
			expr: `DCGM_FI_DEV_GPU_UTIL{gpu="1"}`,
			r:    Range{Start: last.Add(-30 * time.Second), End: last, Step: 15 * time.Second},
			want: `{"resultType":"matrix","result":[{"metric":` + gpu1 + `,"values":[` +
				`[` + unix(last.Add(-30*time.Second)) + `,"` + v(i-2, 1) + `"],` +
				`[` + unix(last.Add(-15*time.Second)) + `,"` + v(i-1, 1) + `"],` +
				`[` + at + `,"` + v(i, 1) + `"]]}]}`,
		},
		{
			name: "empty",
			expr: `nonexistent_metric`,
			r:    Range{End: last},
			want: `{"resultType":"vector","result":[]}`,
		},
	}
}

// sameJSON reports whether two JSON texts decode to the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	da, err := decodeObject(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := decodeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(da, db)
}

// TestEvalDir evaluates queries straight from a data directory while a
// store has it open (and writes to it), and again after the store closed,
// and checks both against the expected data and the HTTP API's answer.
func TestEvalDir(t *testing.T) {
	// EvalDir's sandbox for the WAL goes to the temporary directory: it
	// must not be left behind.
	dir := filepath.Join(t.TempDir(), "data")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	st, err := store.Open(store.Options{Dir: dir, Instance: testInstance})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	last := time.Now().Truncate(time.Second)
	consumeTicks(t, st, last.Add(-(limitsTicks-1)*15*time.Second), 15*time.Second, limitsTicks, gpuFamilies)
	_, srv := newAPI(t, Options{Store: st})
	ctx := context.Background()
	cases := evalDirCases(last)

	check := func(t *testing.T, when string) {
		for _, tc := range cases {
			got, err := EvalDir(ctx, dir, tc.expr, tc.r, nil)
			if err != nil {
				t.Errorf("%s, %s: %v", when, tc.name, err)
				continue
			}
			if !sameJSON(t, got, []byte(tc.want)) {
				t.Errorf("%s, %s:\n got %s\nwant %s", when, tc.name, got, tc.want)
			}
		}
	}
	t.Run("store open", func(t *testing.T) {
		check(t, "with the store open")
		// The same data as the API's answer.
		for _, tc := range cases {
			var r apiResponse
			if tc.r.Step > 0 {
				r = call(t, srv.URL, http.MethodPost, "/api/v1/query_range", q("query", tc.expr, "start", unix(tc.r.Start), "end", unix(tc.r.End), "step", strconv.Itoa(int(tc.r.Step.Seconds()))), nil)
			} else {
				r = call(t, srv.URL, http.MethodPost, "/api/v1/query", q("query", tc.expr, "time", unix(tc.r.End)), nil)
			}
			wantSuccess(t, tc.name, r)
			var env struct{ Data json.RawMessage }
			if err := json.Unmarshal(r.body, &env); err != nil {
				t.Fatal(err)
			}
			got, err := EvalDir(ctx, dir, tc.expr, tc.r, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, got, env.Data) {
				t.Errorf("%s: EvalDir %s, the API %s", tc.name, got, env.Data)
			}
		}
		// The store still writes after the read-only opens.
		consumeTicks(t, st, last.Add(15*time.Second), 15*time.Second, 1, gpuFamilies)
		got, err := EvalDir(ctx, dir, "count(DCGM_FI_DEV_GPU_UTIL)", Range{End: last.Add(15 * time.Second)}, nil)
		if err != nil || !strings.Contains(string(got), `"4"`) {
			t.Errorf("after another tick: %s, %v", got, err)
		}
	})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("store closed", func(t *testing.T) {
		before := listDir(t, dir)
		check(t, "after the store closed")
		if after := listDir(t, dir); !reflect.DeepEqual(before, after) {
			t.Errorf("EvalDir changed the data directory:\nbefore %v\n after %v", before, after)
		}
	})
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("EvalDir left %d entries in the temporary directory, e.g. %s", len(left), left[0].Name())
	}
}

// listDir lists the files under dir with their sizes.
func listDir(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out[p] = info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEvalDirErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openStore(t, dir)
	last := time.Now().Truncate(time.Second)
	consumeTicks(t, st, last.Add(-(limitsTicks-1)*15*time.Second), 15*time.Second, limitsTicks, gpuFamilies)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	tests := []struct {
		name    string
		ctx     context.Context
		expr    string
		r       Range
		typ     string
		message string
	}{
		{"parse error", context.Background(), "sum(", Range{End: last}, "bad_data", "parse error"},
		{"unknown function", context.Background(), "nosuch(up)", Range{End: last}, "bad_data", `unknown function with name "nosuch"`},
		{"range parse error", context.Background(), "up{", Range{Start: last.Add(-time.Minute), End: last, Step: time.Second}, "bad_data", "parse error"},
		{"many-to-many", context.Background(), `DCGM_FI_DEV_GPU_UTIL + on() DCGM_FI_DEV_GPU_UTIL`, Range{End: last}, "execution", "many-to-many matching not allowed"},
		{"duplicate series", context.Background(), `label_replace(label_replace(DCGM_FI_DEV_GPU_UTIL, "gpu", "x", "", ""), "UUID", "x", "", "")`, Range{Start: last.Add(-time.Minute), End: last, Step: 15 * time.Second}, "execution", "vector cannot contain metrics with the same labelset"},
		{"canceled", canceled, "DCGM_FI_DEV_GPU_UTIL", Range{End: last}, "canceled", "query was canceled"},
		{"deadline passed", expired, "DCGM_FI_DEV_GPU_UTIL", Range{End: last}, "timeout", "query timed out"},
		// The API's bound on subquery steps (the engine would allocate
		// terabytes for the first before its limits apply).
		{"subquery steps", context.Background(), "count_over_time(vector(1)[100y:1ms])", Range{End: last}, "bad_data", "would be evaluated at 3.15e+12 steps"},
		{"range subquery steps", context.Background(), "count_over_time(vector(1)[1d:1s])", Range{Start: last.Add(-1000000 * time.Second), End: last, Step: time.Hour}, "bad_data", "would be evaluated at 1.09e+06 steps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EvalDir(tc.ctx, dir, tc.expr, tc.r, nil)
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("EvalDir = %s, %v; want a *QueryError", got, err)
			}
			if qe.Type != tc.typ || !strings.Contains(err.Error(), tc.message) || !strings.HasPrefix(err.Error(), tc.typ+": ") {
				t.Errorf("error %q (type %s), want type %s with %q", err, qe.Type, tc.typ, tc.message)
			}
			if errors.Unwrap(err) == nil {
				t.Errorf("%v does not unwrap", err)
			}
		})
	}

	t.Run("missing directory", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "no-such-dir")
		_, err := EvalDir(context.Background(), missing, "up", Range{End: last}, nil)
		if err == nil {
			t.Fatal("EvalDir of a missing directory succeeded")
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v is not fs.ErrNotExist", err)
		}
		for _, want := range []string{"data directory " + missing, "--data-dir"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		var qe *QueryError
		if errors.As(err, &qe) {
			t.Errorf("a missing directory is a *QueryError: %v", err)
		}
	})
	t.Run("not a TSDB", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("not a TSDB"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := EvalDir(context.Background(), file, "up", Range{End: last}, nil); err == nil {
			t.Errorf("EvalDir of a plain file = %s, want an error", got)
		}
		// An empty directory holds no history: an error that says so and
		// points at --data-dir, not an empty answer, and it stays empty.
		empty := t.TempDir()
		got, err := EvalDir(context.Background(), empty, "up", Range{End: last}, nil)
		if err == nil || !strings.Contains(err.Error(), empty+" holds no history (no wal/ and no blocks): is it the agent's --data-dir?") {
			t.Errorf("EvalDir of an empty directory = %s, %v; want an error that it holds no history", got, err)
		}
		if ents, _ := os.ReadDir(empty); len(ents) != 0 {
			t.Errorf("EvalDir wrote into an empty directory: %v", ents)
		}
	})
}
