package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/promapi"
)

const bars = "▁▂▃▄▅▆▇█"

// queryTable is the parsed table output of `trainwatch query`.
type queryTable struct {
	common string     // the "all series have" line, if any
	header []string   // column titles
	rows   [][]string // cells; the SERIES cell first
}

// columns splits a table line at runs of two or more spaces (tabwriter's
// padding); series names only contain single spaces.
var columns = regexp.MustCompile(`\s{2,}`)

func parseQueryTable(t *testing.T, out string) queryTable {
	t.Helper()
	var tbl queryTable
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "all series have "):
			tbl.common = strings.TrimPrefix(line, "all series have ")
		case strings.HasPrefix(line, "SERIES"):
			tbl.header = columns.Split(strings.TrimSpace(line), -1)
		case tbl.header == nil:
			t.Fatalf("unexpected line before the table header: %q\n%s", line, out)
		default:
			cells := columns.Split(strings.TrimSpace(line), -1)
			if len(cells) != len(tbl.header) {
				t.Fatalf("row %q has %d cells, header %v has %d\n%s", line, len(cells), tbl.header, len(tbl.header), out)
			}
			tbl.rows = append(tbl.rows, cells)
		}
	}
	if tbl.header == nil {
		t.Fatalf("no table header in:\n%s", out)
	}
	return tbl
}

func number(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return f
}

// apiData is the data object of an instant or range query answer.
type apiData struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value,omitempty"`
		Values [][]any           `json:"values,omitempty"`
	} `json:"result"`
}

// decodeData decodes a data object, insisting on exactly resultType and
// result, and sorts the series so that two answers compare.
func decodeData(t *testing.T, b []byte) apiData {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	if len(keys) != 2 || keys["resultType"] == nil || keys["result"] == nil {
		t.Fatalf("want exactly resultType and result, got %s", b)
	}
	var d apiData
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	sort.Slice(d.Result, func(i, j int) bool {
		return fmt.Sprint(d.Result[i].Metric) < fmt.Sprint(d.Result[j].Metric)
	})
	return d
}

// apiQuery asks the agent's HTTP API directly and returns its data object.
func apiQuery(t *testing.T, base, path string, form url.Values) []byte {
	t.Helper()
	_, body := get(t, base+path+"?"+form.Encode(), nil)
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status != "success" {
		t.Fatalf("%s: %v %s", path, err, body)
	}
	return env.Data
}

func unixMs(ts time.Time) string { return strconv.FormatFloat(float64(ts.UnixMilli())/1e3, 'f', 3, 64) }

// checkSparkline asserts a trend cell has n cells, all of them bars.
func checkSparkline(t *testing.T, trend string, n int) {
	t.Helper()
	if got := utf8.RuneCountInString(trend); got != n {
		t.Errorf("trend %q has %d cells, want %d", trend, got, n)
	}
	for _, r := range trend {
		if !strings.ContainsRune(bars, r) {
			t.Errorf("trend %q has %q, not one of %s", trend, r, bars)
		}
	}
}

// TestQueryAgainstAgent runs `trainwatch query` against a running demo
// agent (--url) and against its data directory while it runs (--data-dir).
func TestQueryAgainstAgent(t *testing.T) {
	cfg := config.Default()
	cfg.Demo = true
	cfg.Interval = model.Duration(200 * time.Millisecond)
	cfg.DataDir = t.TempDir()
	cfg.Processes.Disable = true // a smaller WAL for --data-dir to replay
	base := startAgent(t, cfg)
	ready := time.Now()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	instance := net.JoinHostPort(host, u.Port())

	// at is the evaluation (end) time of every query: 2.5s after the first
	// tick, so a 2s range is covered. Wait until the ticks up to it are
	// surely committed, so that answers at different moments compare.
	at := ready.Add(2500 * time.Millisecond).Truncate(time.Millisecond).UTC()
	atFlag := at.Format(time.RFC3339Nano)
	time.Sleep(time.Until(at.Add(time.Second)))

	tests := []struct {
		name    string
		args    []string // after "query"; --time is added
		dataDir bool     // also read --data-dir and expect the same output
		check   func(t *testing.T, out string)
	}{
		{"instant up", []string{"up"}, false, func(t *testing.T, out string) {
			tbl := parseQueryTable(t, out)
			if tbl.common != "" || !reflect.DeepEqual(tbl.header, []string{"SERIES", "VALUE"}) || len(tbl.rows) != 1 {
				t.Fatalf("want one SERIES/VALUE row and no common labels:\n%s", out)
			}
			if want := fmt.Sprintf(`up{instance=%q, job="trainwatch"}`, instance); tbl.rows[0][0] != want {
				t.Errorf("series %s, want %s", tbl.rows[0][0], want)
			}
			if v := number(t, tbl.rows[0][1]); v != 1 {
				t.Errorf("up = %v, want 1", v)
			}
		}},
		{"instant aggregation has no labels", []string{"count(up)"}, false, func(t *testing.T, out string) {
			tbl := parseQueryTable(t, out)
			if len(tbl.rows) != 1 || tbl.rows[0][0] != "{}" || number(t, tbl.rows[0][1]) != 1 {
				t.Fatalf("want the row {} 1:\n%s", out)
			}
		}},
		{"instant GPUs share labels printed once", []string{"DCGM_FI_DEV_GPU_UTIL"}, true, func(t *testing.T, out string) {
			tbl := parseQueryTable(t, out)
			for _, l := range []string{fmt.Sprintf("instance=%q", instance), `job="trainwatch"`, `modelName="NVIDIA H200 141GB HBM3e"`} {
				if !strings.Contains(tbl.common, l) {
					t.Errorf("common labels %q lack %s", tbl.common, l)
				}
			}
			if len(tbl.rows) != 8 {
				t.Fatalf("%d rows, want 8 simulated GPUs:\n%s", len(tbl.rows), out)
			}
			gpus := map[string]bool{}
			for _, row := range tbl.rows {
				name := row[0]
				if !strings.HasPrefix(name, "DCGM_FI_DEV_GPU_UTIL{UUID=") || strings.Contains(name, "job=") || strings.Contains(name, "modelName=") {
					t.Errorf("series name %s: want the metric name and only the labels that differ", name)
				}
				if m := regexp.MustCompile(`gpu="(\d)"`).FindStringSubmatch(name); m != nil {
					gpus[m[1]] = true
				}
				if v := number(t, row[1]); v < 0 || v > 100 {
					t.Errorf("%s = %v, not a utilisation in [0, 100]", name, v)
				}
			}
			if len(gpus) != 8 {
				t.Errorf("gpu labels %v, want 0 to 7", gpus)
			}
		}},
		{"instant scalar", []string{"scalar(count(up)) * 2"}, false, func(t *testing.T, out string) {
			if out != "2\n" {
				t.Errorf("output %q, want \"2\\n\"", out)
			}
		}},
		{"range with step", []string{"DCGM_FI_DEV_GPU_UTIL", "--range", "2s", "--step", "200ms"}, true, func(t *testing.T, out string) {
			tbl := parseQueryTable(t, out)
			if want := []string{"SERIES", "POINTS", "MIN", "MEAN", "MAX", "LAST"}; len(tbl.header) != 7 || !reflect.DeepEqual(tbl.header[:6], want) ||
				!strings.HasPrefix(tbl.header[6], "TREND (") {
				t.Fatalf("header %q", tbl.header)
			}
			if len(tbl.rows) != 8 {
				t.Fatalf("%d rows, want 8:\n%s", len(tbl.rows), out)
			}
			for _, row := range tbl.rows {
				// 2s / 200ms + 1: both ends are points, and history covers them all.
				if row[1] != "11" {
					t.Errorf("%s: %s points, want 11", row[0], row[1])
				}
				mn, mean, mx, last := number(t, row[2]), number(t, row[3]), number(t, row[4]), number(t, row[5])
				if mn > mean || mean > mx || last < mn || last > mx || mn < 0 || mx > 100 {
					t.Errorf("%s: min %v mean %v max %v last %v are inconsistent", row[0], mn, mean, mx, last)
				}
				checkSparkline(t, row[6], 11)
			}
		}},
		{"range of a constant", []string{"up", "--range", "2s", "--step", "200ms"}, false, func(t *testing.T, out string) {
			tbl := parseQueryTable(t, out)
			if len(tbl.rows) != 1 {
				t.Fatalf("want one row:\n%s", out)
			}
			if got := strings.Join(tbl.rows[0][1:], " "); got != "11 1 1 1 1 ▁▁▁▁▁▁▁▁▁▁▁" {
				t.Errorf("row %q, want 11 points of 1 and a flat trend", got)
			}
		}},
		{"range with the default step", []string{"up", "--range", "2s"}, false, func(t *testing.T, out string) {
			// defaultStep(2s) is 1s: 3 points.
			if tbl := parseQueryTable(t, out); len(tbl.rows) != 1 || tbl.rows[0][1] != "3" {
				t.Errorf("want one series of 3 points:\n%s", out)
			}
		}},
		{"range with infinite values", []string{"1 / (time() % 2 >= bool 1)", "--range", "4s", "--step", "500ms"}, false, func(t *testing.T, out string) {
			tbl := parseQueryTable(t, out)
			if len(tbl.rows) != 1 || tbl.rows[0][1] != "9" || tbl.rows[0][4] != "+Inf" || tbl.rows[0][2] != "1" {
				t.Fatalf("want 9 points between 1 and +Inf:\n%s", out)
			}
			trend := tbl.rows[0][6]
			checkSparkline(t, trend, 9)
			// time() % 2 >= 1 half the time: 4 or 5 of the 9 points are +Inf.
			top, bottom := strings.Count(trend, "█"), strings.Count(trend, "▁")
			if top+bottom != 9 || top < 4 || bottom < 4 {
				t.Errorf("trend %q: want +Inf drawn as █ and 1 as ▁", trend)
			}
		}},
		{"instant empty", []string{"no_such_metric"}, true, func(t *testing.T, out string) {
			if want := "no series matched at " + at.Format(time.RFC3339) + " (an instant query looks back 5m for a sample)\n"; out != want {
				t.Errorf("output %q, want %q", out, want)
			}
		}},
		{"range empty", []string{"no_such_metric", "--range", "1m"}, false, func(t *testing.T, out string) {
			if want := "no series matched between " + at.Add(-time.Minute).Format(time.RFC3339) + " and " + at.Format(time.RFC3339) + "\n"; out != want {
				t.Errorf("output %q, want %q", out, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"query"}, tt.args...)
			args = append(args, "--time", atFlag)
			out, errOut, code := runCLI(t, context.Background(), append(args, "--url", base)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			tt.check(t, out)
			if !tt.dataDir {
				return
			}
			// The data directory, read while the agent runs, gives the same table.
			dirOut, errOut, code := runCLI(t, context.Background(), append(args, "--data-dir", cfg.DataDir)...)
			if code != 0 || errOut != "" {
				t.Fatalf("--data-dir: exit %d, stderr %q", code, errOut)
			}
			if dirOut != out {
				t.Errorf("--data-dir output differs from --url:\n%s\nwant:\n%s", dirOut, out)
			}
		})
	}

	t.Run("json equals the API", func(t *testing.T) {
		jsonTests := []struct {
			name string
			args []string
			path string
			form url.Values
			typ  string
		}{
			{"instant", nil, "/api/v1/query", url.Values{"time": {unixMs(at)}}, "vector"},
			{"range", []string{"--range", "2s", "--step", "200ms"}, "/api/v1/query_range",
				url.Values{"start": {unixMs(at.Add(-2 * time.Second))}, "end": {unixMs(at)}, "step": {"0.2"}}, "matrix"},
		}
		for _, jt := range jsonTests {
			t.Run(jt.name, func(t *testing.T) {
				const expr = "DCGM_FI_DEV_GPU_UTIL"
				args := append([]string{"query", expr, "--json", "--time", atFlag}, jt.args...)
				out, errOut, code := runCLI(t, context.Background(), append(args, "--url", base)...)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				got := decodeData(t, []byte(out))
				if got.ResultType != jt.typ || len(got.Result) != 8 {
					t.Fatalf("resultType %q with %d series, want %s with 8", got.ResultType, len(got.Result), jt.typ)
				}
				form := jt.form
				form.Set("query", expr)
				if want := decodeData(t, apiQuery(t, base, jt.path, form)); !reflect.DeepEqual(got, want) {
					t.Errorf("--json:\n%+v\n%s:\n%+v", got, jt.path, want)
				}
				dirOut, errOut, code := runCLI(t, context.Background(), append(args, "--data-dir", cfg.DataDir)...)
				if code != 0 || errOut != "" {
					t.Fatalf("--data-dir: exit %d, stderr %q", code, errOut)
				}
				if dir := decodeData(t, []byte(dirOut)); !reflect.DeepEqual(dir, got) {
					t.Errorf("--data-dir --json:\n%+v\n--url --json:\n%+v", dir, got)
				}
			})
		}
	})

	t.Run("API warnings go to stderr", func(t *testing.T) {
		out, errOut, code := runCLI(t, context.Background(), "query", "histogram_quantile(0.9, up)", "--url", base)
		if code != 0 || !strings.HasPrefix(out, "no series matched") {
			t.Fatalf("exit %d, output %q", code, out)
		}
		if want := `warning: PromQL warning: bucket label "le" is missing`; !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not contain %q", errOut, want)
		}
	})

	t.Run("malformed PromQL", func(t *testing.T) {
		for _, src := range [][]string{{"--url", base}, {"--data-dir", cfg.DataDir}} {
			_, errOut, code := runCLI(t, context.Background(), append([]string{"query", "rate(up[5m]"}, src...)...)
			if code != 2 {
				t.Errorf("%s: exit %d, want 2; stderr %q", src[0], code, errOut)
			}
			if want := "bad_data: "; !strings.Contains(errOut, want) || !strings.Contains(errOut, "parse error: unclosed left parenthesis") {
				t.Errorf("%s: stderr %q lacks the Prometheus parse error", src[0], errOut)
			}
		}
	})
}

// TestQueryErrors covers the failures that need no agent: usage errors exit
// with 2, a missing agent or data directory with 1.
func TestQueryErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	noAgent := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	notAgent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "<html>a web page</html>")
	}))
	defer notAgent.Close()
	missingDir := filepath.Join(t.TempDir(), "nope")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"no agent at --url", []string{"up", "--url", noAgent}, 1,
			[]string{"no agent answered at " + noAgent, "connection refused", "start one with 'trainwatch serve'", "--data-dir"}},
		{"not a trainwatch agent", []string{"up", "--url", notAgent.URL}, 1,
			[]string{notAgent.URL + " answered 200 OK with something that is not the Prometheus API's JSON", "<html>a web page</html>"}},
		{"missing data directory", []string{"up", "--data-dir", missingDir}, 1,
			[]string{"data directory " + missingDir + ": stat " + missingDir + ": no such file or directory (is it the agent's --data-dir?)"}},
		{"step without range", []string{"up", "--step", "15s", "--url", noAgent}, 2,
			[]string{"--step needs --range (a range query); without --range the query is instant"}},
		{"too many points", []string{"up", "--range", "24h", "--step", "1s", "--url", noAgent}, 2,
			[]string{"--range 24h0m0s / --step 1s = 86400 points per series; at most 11000 (use a larger --step)"}},
		{"negative range", []string{"up", "--range", "-1h", "--url", noAgent}, 2,
			[]string{"--range and --step must be positive durations"}},
		{"bad time", []string{"up", "--time", "yesterday", "--url", noAgent}, 2,
			[]string{`--time "yesterday": want now, an RFC 3339 time (2026-11-28T18:00:00Z) or Unix seconds`}},
		{"bad range duration", []string{"up", "--range", "an hour"}, 2,
			[]string{`invalid argument "an hour" for "--range"`}},
		{"no expression", nil, 2,
			[]string{"query takes exactly one PromQL expression (quote it), got 0 arguments"}},
		{"two expressions", []string{"up", "rate(x[1m])"}, 2,
			[]string{"query takes exactly one PromQL expression (quote it), got 2 arguments"}},
		{"url with another scheme", []string{"up", "--url", "ftp://127.0.0.1:9835"}, 2,
			[]string{`--url "ftp://127.0.0.1:9835": want the agent's base URL, e.g. http://127.0.0.1:9835`}},
		{"url without a scheme", []string{"up", "--url", "127.0.0.1:9835"}, 2,
			[]string{`--url "127.0.0.1:9835": want the agent's base URL`}},
		{"url without a host", []string{"up", "--url", "http://"}, 2,
			[]string{`--url "http://": want the agent's base URL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, context.Background(), append([]string{"query"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.wantCode, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not contain %q", errOut, w)
				}
			}
			if usage := strings.Contains(errOut, "Run 'trainwatch --help' for usage."); usage != (tt.wantCode == 2) {
				t.Errorf("usage hint printed: %v, want %v", usage, tt.wantCode == 2)
			}
		})
	}
}

func TestQueryParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time // zero: now
		wantErr bool
	}{
		{in: "now"},
		{in: ""},
		{in: "2026-11-28T18:00:00Z", want: time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)},
		{in: "2026-11-28T19:00:00.250+01:00", want: time.Date(2026, 11, 28, 18, 0, 0, 250e6, time.UTC)},
		{in: "1700000000", want: time.Unix(1700000000, 0)},
		{in: "1700000000.25", want: time.Unix(1700000000, 250e6)},
		{in: "-1.5", want: time.Unix(-2, 500e6)},
		{in: "yesterday", wantErr: true},
		{in: "2026-11-28", wantErr: true},
		{in: "2026-13-01T00:00:00Z", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "+Inf", wantErr: true},
		{in: "1h", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			before := time.Now()
			got, err := parseQueryTime(tt.in)
			switch {
			case tt.wantErr:
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("--time %q: want now, an RFC 3339 time", tt.in)) {
					t.Errorf("parseQueryTime(%q) = %v, %v; want an error naming the value", tt.in, got, err)
				}
			case err != nil:
				t.Errorf("parseQueryTime(%q): %v", tt.in, err)
			case tt.want.IsZero():
				if got.Before(before) || got.After(time.Now()) {
					t.Errorf("parseQueryTime(%q) = %v, want the current time", tt.in, got)
				}
			case !got.Equal(tt.want):
				t.Errorf("parseQueryTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestQueryDefaultStep(t *testing.T) {
	tests := []struct{ rng, want time.Duration }{
		{time.Hour, 15 * time.Second},
		{24 * time.Hour, 6 * time.Minute},
		{10 * time.Minute, 2 * time.Second}, // 2.5s, whole seconds
		{4 * time.Minute, time.Second},
		{2 * time.Second, time.Second}, // at least 1s
		{time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		got := defaultStep(tt.rng)
		if got != tt.want {
			t.Errorf("defaultStep(%s) = %s, want %s", tt.rng, got, tt.want)
		}
		if tt.rng >= time.Second && tt.rng/got > 11000 {
			t.Errorf("defaultStep(%s) = %s gives more points than --range allows", tt.rng, got)
		}
	}
}

func TestQuerySparkline(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	ramp := make([]float64, 80)
	for i := range ramp {
		ramp[i] = float64(i)
	}
	tests := []struct {
		name  string
		vals  []float64
		width int
		want  string
	}{
		{"empty", nil, 40, ""},
		{"constant", []float64{5, 5, 5, 5}, 40, "▁▁▁▁"},
		{"rising", []float64{0, 1, 2, 3, 4, 5, 6, 7}, 40, "▁▂▃▄▅▆▇█"},
		{"falling", []float64{7, 6, 5, 4, 3, 2, 1, 0}, 40, "█▇▆▅▄▃▂▁"},
		{"fewer points than width", []float64{1, 3}, 40, "▁█"},
		{"one point", []float64{42}, 40, "▁"},
		{"two points per cell", ramp, 40, "▁▁▁▁▁▁▂▂▂▂▂▂▃▃▃▃▃▄▄▄▄▄▄▅▅▅▅▅▆▆▆▆▆▆▇▇▇▇▇▇"}, // means 0.5 to 78.5 of 0 to 79
		{"NaN draws the lowest bar", []float64{0, nan, 7}, 40, "▁▁█"},
		{"+Inf draws the highest bar", []float64{0, inf, 7}, 40, "▁██"},
		{"-Inf draws the lowest bar", []float64{0, -inf, 7}, 40, "▁▁█"},
		{"only infinities", []float64{inf, -inf, inf}, 40, "█▁█"},
		{"only NaN", []float64{nan, nan}, 40, "▁▁"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sparkline(tt.vals, tt.width)
			if got != tt.want {
				t.Errorf("sparkline(%v, %d) = %q, want %q", tt.vals, tt.width, got, tt.want)
			}
			checkSparkline(t, got, min(len(tt.vals), tt.width))
		})
	}
}

func TestQueryCommonLabelsAndSeriesName(t *testing.T) {
	gpu := func(name, g string) apiSeries {
		return apiSeries{Metric: map[string]string{"__name__": name, "gpu": g, "job": "trainwatch", "instance": "node1:9835"}}
	}
	tests := []struct {
		name       string
		series     []apiSeries
		wantCommon map[string]string
		wantNames  []string
	}{
		{"one series keeps all its labels", []apiSeries{gpu("util", "0")}, nil,
			[]string{`util{gpu="0", instance="node1:9835", job="trainwatch"}`}},
		{"shared labels are left out", []apiSeries{gpu("util", "0"), gpu("util", "1")},
			map[string]string{"job": "trainwatch", "instance": "node1:9835"},
			[]string{`util{gpu="0"}`, `util{gpu="1"}`}},
		{"the name is never common", []apiSeries{gpu("a", "0"), gpu("b", "0")},
			map[string]string{"gpu": "0", "job": "trainwatch", "instance": "node1:9835"},
			[]string{"a", "b"}},
		{"a label missing from one series is not common", []apiSeries{
			{Metric: map[string]string{"mode": "user", "cpu": "0"}},
			{Metric: map[string]string{"mode": "user"}},
		}, map[string]string{"mode": "user"}, []string{`{cpu="0"}`, "{}"}},
		{"an empty label set", []apiSeries{{Metric: map[string]string{}}}, nil, []string{"{}"}},
		{"values are quoted", []apiSeries{{Metric: map[string]string{"__name__": "x", "path": `C:\a "b"`}}}, nil,
			[]string{`x{path="C:\\a \"b\""}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			common := commonLabels(tt.series)
			if len(common) != len(tt.wantCommon) || (len(common) > 0 && !reflect.DeepEqual(common, tt.wantCommon)) {
				t.Errorf("commonLabels = %v, want %v", common, tt.wantCommon)
			}
			for i, s := range tt.series {
				if got := seriesName(s.Metric, common); got != tt.wantNames[i] {
					t.Errorf("seriesName(%v) = %s, want %s", s.Metric, got, tt.wantNames[i])
				}
			}
		})
	}
}

// TestQueryTableFromFixtures prints canned API answers (testdata/query/*.json)
// and compares them with the expected tables (*.txt).
func TestQueryTableFromFixtures(t *testing.T) {
	end := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	rng := promapi.Range{Start: end.Add(-time.Hour), End: end, Step: 15 * time.Minute}
	tests := []struct {
		fixture string
		r       promapi.Range
		wantErr string
	}{
		{fixture: "vector", r: promapi.Range{End: end}},
		{fixture: "matrix", r: rng},
		{fixture: "scalar", r: promapi.Range{End: end}},
		{fixture: "string", r: promapi.Range{End: end}},
		{fixture: "empty-vector", r: promapi.Range{End: end}},
		{fixture: "empty-matrix", r: rng},
		{fixture: "unknown-type", r: promapi.Range{End: end}, wantErr: `unknown result type "histogram"`},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "query", tt.fixture+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = printQueryTable(&out, data, tt.r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "query", tt.fixture+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
			}
		})
	}
}

// TestQueryTableTerminalSafe: a server's answer cannot send escape
// sequences to the terminal through a metric name, a label name or value,
// or a sample value: they print quoted (FuzzQueryTable found a value and a
// name printed raw). A value that is not a string prints as JSON.
func TestQueryTableTerminalSafe(t *testing.T) {
	end := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"vector value", `{"resultType":"vector","result":[{"metric":{"__name__":"up"},"value":[1,"\u001b[31m1"]}]}`,
			[]string{`"\x1b[31m1"`}},
		{"metric name", `{"resultType":"vector","result":[{"metric":{"__name__":"a\u001b[2Jb"},"value":[1,"1"]}]}`,
			[]string{`"a\x1b[2Jb"`}},
		{"label name and value", `{"resultType":"vector","result":[{"metric":{"__name__":"up","l\u0007":"\u001b]0;t\u0007"},"value":[1,"1"]}]}`,
			[]string{`"l\a"=`, `"\x1b]0;t\a"`}},
		{"scalar", `{"resultType":"scalar","result":[1,"\u009b2J"]}`, []string{`"\u009b2J"`}},
		{"string", `{"resultType":"string","result":[1,"\u001b[2J"]}`, []string{`"\x1b[2J"`}},
		{"invalid UTF-8 (JSON decoding replaces it)", "{\"resultType\":\"string\",\"result\":[1,\"a\xffb\"]}", []string{"a\ufffdb\n"}},
		{"number value", `{"resultType":"vector","result":[{"metric":{"__name__":"up"},"value":[1,2.5]}]}`, []string{"2.5"}},
		{"plain value", `{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"é"},"value":[1,"1e+308"]}]}`, []string{`up{job="é"}`, "1e+308"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printQueryTable(&out, []byte(tc.data), promapi.Range{End: end}); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("output %q lacks %q", s, w)
				}
			}
			if strings.ContainsAny(s, "\x1b\x07\u009b") {
				t.Errorf("control character printed: %q", s)
			}
		})
	}
}
