package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/promapi"
)

func newQueryCmd() *cobra.Command {
	var (
		agentURL string
		dataDir  string
		at       string
		rng      time.Duration
		step     time.Duration
		asJSON   bool
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "query 'EXPR'",
		Short: "Run a PromQL query against the agent's history and print a table",
		Long: `Run a PromQL query against the history of a running agent (--url, default the
local agent) or directly against a data directory (--data-dir, read-only; works
while the agent runs and when it does not).

Without --range it is an instant query: one row per series with its value.
With --range (e.g. 1h) it is a range query ending at --time with --step between
points: one row per series with its point count, min, mean, max, last value and a
trend line. --json prints the API's data object instead:
{"resultType": ..., "result": ...}, the same as /api/v1/query(_range).

Examples:
  trainwatch query 'node_load1'
  trainwatch query 'rate(node_cpu_seconds_total{mode!="idle"}[1m])' --range 1h
  trainwatch query 'DCGM_FI_DEV_GPU_UTIL' --range 24h --step 5m --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("query takes exactly one PromQL expression (quote it), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			end, err := parseQueryTime(at)
			if err != nil {
				return usageError{err}
			}
			r := promapi.Range{End: end}
			if cmd.Flags().Changed("step") && rng == 0 {
				return usagef("--step needs --range (a range query); without --range the query is instant")
			}
			if rng < 0 || step < 0 {
				return usagef("--range and --step must be positive durations, e.g. --range 1h --step 15s")
			}
			if rng > 0 {
				if step == 0 {
					step = defaultStep(rng)
				}
				if rng/step > 11000 {
					return usagef("--range %s / --step %s = %d points per series; at most 11000 (use a larger --step)", rng, step, rng/step)
				}
				r.Start, r.Step = end.Add(-rng), step
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var data json.RawMessage
			if cmd.Flags().Changed("data-dir") {
				// The TSDB logs its WAL replay at info level; only problems matter here.
				quiet := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
				data, err = promapi.EvalDir(ctx, dataDir, args[0], r, quiet)
			} else {
				data, err = queryAgent(ctx, agentURL, args[0], r, cmd.ErrOrStderr())
			}
			if err != nil {
				var qe *promapi.QueryError
				if errors.As(err, &qe) && qe.Type == "bad_data" {
					return usageError{err}
				}
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				_, err := fmt.Fprintf(out, "%s\n", data)
				return err
			}
			return printQueryTable(out, data, r)
		},
	}
	defURL := "http://" + config.DefaultListen
	if u := os.Getenv("TRAINWATCH_URL"); u != "" {
		defURL = u
	}
	cmd.Flags().StringVar(&agentURL, "url", defURL, "agent base URL (default $TRAINWATCH_URL or the local agent)")
	cmd.Flags().StringVar(&dataDir, "data-dir", config.DefaultDataDir(), "read this data directory directly instead of asking an agent")
	cmd.Flags().StringVar(&at, "time", "now", "evaluation time (instant) or end (range): now, RFC 3339 or Unix seconds")
	cmd.Flags().DurationVar(&rng, "range", 0, "make a range query over this span ending at --time, e.g. 1h")
	cmd.Flags().DurationVar(&step, "step", 0, "resolution of a range query (default: range/240, at least 1s)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's data object as JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

// defaultStep is about 240 points per series, in whole seconds, at least 1s.
func defaultStep(rng time.Duration) time.Duration {
	s := (rng / 240).Truncate(time.Second)
	if s < time.Second {
		s = time.Second
	}
	return s
}

// parseQueryTime reads now, RFC 3339 or Unix seconds (with fraction).
func parseQueryTime(s string) (time.Time, error) {
	if s == "" || s == "now" {
		return time.Now(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("--time %q: want now, an RFC 3339 time (2026-11-28T18:00:00Z) or Unix seconds", s)
}

// queryAgent asks a running agent's /api/v1/query or /api/v1/query_range.
// The API's warnings go to stderr.
func queryAgent(ctx context.Context, base, expr string, r promapi.Range, stderr io.Writer) (json.RawMessage, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url %q: want the agent's base URL, e.g. http://127.0.0.1:9835", base)
	}
	form := url.Values{"query": {expr}}
	path := "/api/v1/query"
	if r.Step > 0 {
		path = "/api/v1/query_range"
		form.Set("start", formatUnix(r.Start))
		form.Set("end", formatUnix(r.End))
		form.Set("step", strconv.FormatFloat(r.Step.Seconds(), 'f', -1, 64))
	} else {
		form.Set("time", formatUnix(r.End))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(u.String(), "/")+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no agent answered at %s: %w (start one with 'trainwatch serve', pass --url, or read the history directly with --data-dir)", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("reading the answer from %s: %w", base, err)
	}
	var env struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
		Warnings  []string        `json:"warnings"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%s answered %s with something that is not the Prometheus API's JSON (is it a trainwatch agent?): %.200s", base, resp.Status, body)
	}
	if env.Status != "success" {
		return nil, &promapi.QueryError{Type: env.ErrorType, Err: errors.New(env.Error)}
	}
	for _, w := range env.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return env.Data, nil
}

func formatUnix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// apiSeries is one series of a vector or matrix result.
type apiSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

// printQueryTable prints an API data object as a table.
func printQueryTable(w io.Writer, data json.RawMessage, r promapi.Range) error {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("decoding the result: %w", err)
	}
	switch d.ResultType {
	case "scalar", "string":
		var v [2]any
		if err := json.Unmarshal(d.Result, &v); err != nil {
			return fmt.Errorf("decoding the %s result: %w", d.ResultType, err)
		}
		_, err := fmt.Fprintf(w, "%s\n", valueText(v[1]))
		return err
	case "vector", "matrix":
	default:
		return fmt.Errorf("unknown result type %q", d.ResultType)
	}
	var series []apiSeries
	if err := json.Unmarshal(d.Result, &series); err != nil {
		return fmt.Errorf("decoding the %s result: %w", d.ResultType, err)
	}
	if len(series) == 0 {
		if r.Step > 0 {
			_, err := fmt.Fprintf(w, "no series matched between %s and %s\n", r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
			return err
		}
		_, err := fmt.Fprintf(w, "no series matched at %s (an instant query looks back 5m for a sample)\n", r.End.Format(time.RFC3339))
		return err
	}
	common := commonLabels(series)
	names := make([]string, len(series))
	for i, s := range series {
		names[i] = seriesName(s.Metric, common)
	}
	order := make([]int, len(series))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return names[order[a]] < names[order[b]] })
	if len(common) > 0 && len(series) > 1 {
		fmt.Fprintf(w, "all series have %s\n", formatLabels("", common))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if d.ResultType == "vector" {
		fmt.Fprintln(tw, "SERIES\tVALUE")
		for _, i := range order {
			fmt.Fprintf(tw, "%s\t%s\n", names[i], valueText(series[i].Value[1]))
		}
		return tw.Flush()
	}
	fmt.Fprintf(tw, "SERIES\tPOINTS\tMIN\tMEAN\tMAX\tLAST\tTREND (%s to %s)\n", r.Start.Format("15:04"), r.End.Format("15:04"))
	for _, i := range order {
		vals := make([]float64, 0, len(series[i].Values))
		for _, p := range series[i].Values {
			s, _ := p[1].(string)
			f, err := strconv.ParseFloat(s, 64)
			if err == nil {
				vals = append(vals, f)
			}
		}
		mn, mean, mx, last := stats(vals)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", names[i], len(vals), num(mn), num(mean), num(mx), num(last), sparkline(vals, 40))
	}
	return tw.Flush()
}

// commonLabels are the labels (other than the name) all series share.
func commonLabels(series []apiSeries) map[string]string {
	if len(series) < 2 {
		return nil
	}
	common := map[string]string{}
	for k, v := range series[0].Metric {
		if k != "__name__" {
			common[k] = v
		}
	}
	for _, s := range series[1:] {
		for k, v := range common {
			if s.Metric[k] != v {
				delete(common, k)
			}
		}
	}
	return common
}

// seriesName formats a series without the labels all series share.
func seriesName(m map[string]string, skip map[string]string) string {
	rest := map[string]string{}
	for k, v := range m {
		if _, ok := skip[k]; !ok && k != "__name__" {
			rest[k] = v
		}
	}
	return formatLabels(m["__name__"], rest)
}

func formatLabels(name string, ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = terminalSafe(k) + "=" + strconv.Quote(ls[k])
	}
	name = terminalSafe(name)
	if len(parts) == 0 {
		if name == "" {
			return "{}"
		}
		return name
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}

// valueText formats a sample value of the API's JSON: a string (the API
// writes values as strings) as it is, anything else as JSON would.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return terminalSafe(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// terminalSafe returns s, quoted (Go syntax) when it holds a control
// character or invalid UTF-8: the answer comes from a server, and an
// escape sequence in a metric name or value must not reach the terminal.
func terminalSafe(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}

func stats(vals []float64) (mn, mean, mx, last float64) {
	if len(vals) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	mn, mx = math.Inf(1), math.Inf(-1)
	sum := 0.0
	for _, v := range vals {
		mn, mx = math.Min(mn, v), math.Max(mx, v)
		sum += v
	}
	return mn, sum / float64(len(vals)), mx, vals[len(vals)-1]
}

// num formats a value with up to 6 significant digits.
func num(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// sparkline draws vals in at most width cells of ▁..█ (mean per cell),
// scaled between the smallest and largest finite values: a cell whose mean
// is +Inf draws █, one that is -Inf or NaN draws ▁.
func sparkline(vals []float64, width int) string {
	if len(vals) == 0 {
		return ""
	}
	if len(vals) < width {
		width = len(vals)
	}
	cells := make([]float64, width)
	mn, mx := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			mn, mx = math.Min(mn, v), math.Max(mx, v)
		}
	}
	for c := range cells {
		lo, hi := c*len(vals)/width, (c+1)*len(vals)/width
		sum := 0.0
		for _, v := range vals[lo:hi] {
			sum += v
		}
		cells[c] = sum / float64(hi-lo)
	}
	const bars = "▁▂▃▄▅▆▇█"
	runes := []rune(bars)
	var b strings.Builder
	for _, v := range cells {
		f := 0.0 // 0..1 from the lowest to the highest bar
		switch {
		case math.IsInf(v, 1):
			f = 1
		case mx > mn:
			f = (v - mn) / (mx - mn)
		}
		i := 0
		if f > 0 { // false for NaN
			i = int(math.Min(f, 1) * float64(len(runes)-1))
		}
		b.WriteRune(runes[i])
	}
	return b.String()
}
