package runs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzNow is the registry clock of the fuzz targets.
var fuzzNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// logSeeds are log request bodies of every accepted shape and some
// refused ones, from the tests and the Python client.
var logSeeds = []string{
	`{"step": 10, "loss": 0.42, "lr": 3e-4}`,
	"{\"step\": 1, \"loss\": 1}\n\n{\"step\": 2, \"loss\": 0.5, \"epoch\": 0.25, \"time\": 1764350000.5}\n",
	`[{"step": 1}, {"step": 2, "acc": true}]`,
	`{"loss": NaN, "g": Infinity, "h": -Infinity, "i": "-inf", "s": "NaN in a string"}`,
	`{"global_step": 7, "train/loss": 1.5, "timestamp": 1764350000, "_time": 3}`,
	`{"step": 1.5}`,
	`{"a": 1} {"b": 2}`,
	`[{"a": 1}, 3]`,
	`{"loss": {"a": 1}, "x": null}`,
	"{\"epoch\": 1e400}\r\n",
	`{"time": 1e300, "loss": 1}`,
}

// FuzzParseLines checks ParseLines on any body: an error says which line
// is wrong, and an accepted body yields entries within their documented
// ranges that, written out again as NDJSON, parse to the same entries.
func FuzzParseLines(f *testing.F) {
	for _, s := range logSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		es, err := ParseLines(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			if es != nil {
				t.Fatalf("entries with an error: %v", err)
			}
			return
		}
		again, err := ParseLines(body)
		if err != nil || !sameEntries(es, again) {
			t.Fatalf("not deterministic: %v\n%s\n%s", err, fmtRunEntries(es), fmtRunEntries(again))
		}
		for i, e := range es {
			if e.Step < -1 || e.Step > 1<<53 {
				t.Fatalf("entry %d: step %d", i, e.Step)
			}
			if !math.IsNaN(e.Epoch) && (e.Epoch < 0 || math.IsInf(e.Epoch, 0)) {
				t.Fatalf("entry %d: epoch %v", i, e.Epoch)
			}
			if e.TimeMs < 0 {
				t.Fatalf("entry %d: TimeMs %d", i, e.TimeMs)
			}
			if e.Values == nil {
				t.Fatalf("entry %d: nil Values", i)
			}
			for k := range e.Values {
				switch k {
				case "step", "global_step", "epoch", "time", "timestamp", "_time":
					t.Fatalf("entry %d: reserved key %q among the values", i, k)
				}
			}
		}
		re := encodeEntries(t, es)
		back, err := ParseLines(re)
		if len(es) == 0 {
			return // a body of blank lines: nothing to write out
		}
		if err != nil {
			t.Fatalf("re-encoded body refused: %v\n%s", err, re)
		}
		if !sameEntries(es, back) {
			t.Fatalf("round trip differs:\n%s\n%s\nbody %s", fmtRunEntries(es), fmtRunEntries(back), re)
		}
	})
}

// encodeEntries writes entries as a Python client would: NDJSON with bare
// NaN and Infinity, times in seconds.
func encodeEntries(t *testing.T, es []Entry) []byte {
	var b bytes.Buffer
	for _, e := range es {
		b.WriteByte('{')
		sep := ""
		field := func(k, v string) {
			kb, err := json.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s%s: %s", sep, kb, v)
			sep = ", "
		}
		if e.Step >= 0 {
			field("step", strconv.FormatInt(e.Step, 10))
		}
		if !math.IsNaN(e.Epoch) {
			field("epoch", pyFloat(e.Epoch))
		}
		if e.TimeMs != 0 {
			field("time", fmt.Sprintf("%d.%03d", e.TimeMs/1000, e.TimeMs%1000))
		}
		keys := make([]string, 0, len(e.Values))
		for k := range e.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			field(k, pyFloat(e.Values[k]))
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// pyFloat formats a float as Python's json.dumps does.
func pyFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// sameEntries compares entries, NaN equal to NaN.
func sameEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	same := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	for i := range a {
		x, y := a[i], b[i]
		if x.Step != y.Step || x.TimeMs != y.TimeMs || !same(x.Epoch, y.Epoch) || len(x.Values) != len(y.Values) {
			return false
		}
		for k, v := range x.Values {
			w, ok := y.Values[k]
			if !ok || !same(v, w) {
				return false
			}
		}
	}
	return true
}

func fmtRunEntries(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%+v\n", e)
	}
	return b.String()
}

// FuzzFloat checks that a Float read from JSON writes back as JSON that
// reads to the same value (NaN and ±Inf included).
func FuzzFloat(f *testing.F) {
	for _, s := range []string{`1`, `-0.5e-3`, `"NaN"`, `"+Inf"`, `"-infinity"`, `true`, `null`, `"x"`, `1e400`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var x Float
		if err := json.Unmarshal(b, &x); err != nil {
			return
		}
		out, err := json.Marshal(x)
		if err != nil {
			t.Fatalf("%q read as %v does not write: %v", b, float64(x), err)
		}
		var y Float
		if err := json.Unmarshal(out, &y); err != nil {
			t.Fatalf("%q wrote %s, which does not read: %v", b, out, err)
		}
		if x != y && !(math.IsNaN(float64(x)) && math.IsNaN(float64(y))) {
			t.Fatalf("%q: %v wrote %s, read back %v", b, float64(x), out, float64(y))
		}
	})
}

// FuzzAPI drives the runs API with any registration, log and finish
// bodies: every answer is a JSON document with a known status code, errors
// explain themselves, and what a successful answer says is what a later
// GET shows.
func FuzzAPI(f *testing.F) {
	f.Add([]byte(`{"name": "llama-7b", "config": {"lr": 3e-4}, "total_steps": 1000, "tags": ["a"]}`), []byte(logSeeds[1]), []byte(`{"status": "failed", "exit_code": 1}`))
	f.Add([]byte(`{"id": "r1", "pid": 42, "total_epochs": 3, "command": "python train.py"}`), []byte(logSeeds[0]), []byte(``))
	f.Add([]byte(``), []byte(logSeeds[3]), []byte(`{"status": "finished"}`))
	f.Add([]byte(`{"id": "bad id"}`), []byte(logSeeds[2]), []byte(`{"status": "done"}`))
	f.Add([]byte(`{"nme": "typo"}`), []byte(logSeeds[4]), []byte(`[`))
	f.Add([]byte(`{"id": "x", "config": "not an object", "total_steps": -1}`), []byte(`{"node_load1": 1}`), []byte(`{"exit_code": "x"}`))
	f.Fuzz(func(t *testing.T, create, logBody, finish []byte) {
		r, err := Open(Options{
			Host: "box", Instance: "box:9835", Now: func() time.Time { return fuzzNow },
			MaxSeriesPerRun: 20,
			Reserved:        func(name string) bool { return strings.HasPrefix(name, "node_") },
		})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		for _, rt := range r.Routes() {
			mux.HandleFunc(rt.Pattern, rt.Handler)
		}
		call := func(method, path string, body []byte, codes ...int) (int, map[string]any) {
			t.Helper()
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest(method, path, bytes.NewReader(body)))
			var doc map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("%s %s: %d answer is not a JSON object: %v: %q", method, path, w.Code, err, w.Body.String())
			}
			if !utf8.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: answer is not UTF-8", method, path)
			}
			found := false
			for _, c := range codes {
				found = found || c == w.Code
			}
			if !found {
				t.Fatalf("%s %s: status %d, want one of %v: %s", method, path, w.Code, codes, w.Body.String())
			}
			if w.Code >= 400 {
				if msg, _ := doc["error"].(string); msg == "" || doc["status"] != "error" {
					t.Fatalf("%s %s: %d without an error message: %s", method, path, w.Code, w.Body.String())
				}
			}
			return w.Code, doc
		}

		id := "fuzz-run"
		code, doc := call("POST", "/api/v1/runs", create, 200, 201, 400)
		if code == 201 {
			id, _ = doc["id"].(string)
			if ValidID(id) != nil {
				t.Fatalf("created run with invalid id %q", id)
			}
			_, got := call("GET", "/api/v1/runs/"+id, nil, 200)
			if !reflect.DeepEqual(got, doc) {
				t.Fatalf("GET differs from the registration's answer:\n%v\n%v", got, doc)
			}
		}

		entries, perr := ParseLines(logBody)
		code, doc = call("POST", "/api/v1/runs/"+id+"/log", logBody, 200, 400, 422)
		if perr != nil && code != 400 {
			t.Fatalf("body refused by ParseLines (%v) but the API answered %d", perr, code)
		}
		if code == 200 {
			if n, _ := doc["accepted"].(float64); int(n) != len(entries) {
				t.Fatalf("accepted %v, want %d", doc["accepted"], len(entries))
			}
			_, got := call("GET", "/api/v1/runs/"+id, nil, 200)
			maxStep := int64(-1)
			for _, e := range entries {
				maxStep = max(maxStep, e.Step)
			}
			if step, _ := got["step"].(float64); maxStep >= 0 && int64(step) < maxStep {
				t.Fatalf("run step %v after logging step %d", got["step"], maxStep)
			}
		}

		_, runExists := r.Get(id)
		want := []int{200, 400}
		if !runExists {
			want = []int{404, 400}
		}
		code, doc = call("POST", "/api/v1/runs/"+id+"/finish", finish, want...)
		if code == 200 {
			if st := doc["status"]; st != StatusFinished && st != StatusFailed {
				t.Fatalf("finished run has status %v", st)
			}
			_, got := call("GET", "/api/v1/runs/"+id, nil, 200)
			if got["status"] != doc["status"] || got["end"] == nil {
				t.Fatalf("after finish: %v", got)
			}
		}
		_, list := call("GET", "/api/v1/runs", nil, 200)
		if runs, _ := list["runs"].([]any); len(runs) != len(r.List("")) {
			t.Fatalf("list has %d runs, registry %d", len(runs), len(r.List("")))
		}
	})
}

// TestParseLinesFuzzFinds holds what FuzzParseLines found: aliases read in
// the map's random order, and a time too large for int64 milliseconds.
func TestParseLinesFuzzFinds(t *testing.T) {
	for _, c := range []struct {
		body         string
		step, timeMs int64
		err          string
	}{
		{body: `{"global_step": 7, "step": 8}`, step: 8},
		{body: `{"step": 8, "global_step": 7}`, step: 8},
		{body: `{"global_step": 7}`, step: 7},
		{body: `{"_time": 3, "timestamp": 2, "time": 1}`, step: -1, timeMs: 1000},
		{body: `{"_time": 3, "timestamp": 2}`, step: -1, timeMs: 2000},
		{body: `{"time": 1764350000.123}`, step: -1, timeMs: 1764350000123},
		{body: `{"time": 1e300}`, err: `key "time": 1e300 is not a Unix time`},
		{body: `{"time": 253402300800}`, err: `is not a Unix time`},
	} {
		for i := 0; i < 20; i++ { // map order varies from call to call
			es, err := ParseLines([]byte(c.body))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("%s: err = %v, want %q", c.body, err, c.err)
				}
				continue
			}
			if err != nil || len(es) != 1 || es[0].Step != c.step || es[0].TimeMs != c.timeMs {
				t.Fatalf("%s: %+v, %v; want step %d, time %d", c.body, es, err, c.step, c.timeMs)
			}
		}
	}
}
