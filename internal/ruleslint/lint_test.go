package ruleslint

import (
	"reflect"
	"testing"

	"github.com/trainwatch/trainwatch/internal/collector"
)

// testTypes is a small set of families of every type.
func testTypes() Types {
	return Types{
		"DCGM_FI_DEV_GPU_TEMP":          collector.Gauge,
		"DCGM_FI_DEV_FB_USED":           collector.Gauge,
		"DCGM_FI_DEV_FB_FREE":           collector.Gauge,
		"training_loss":                 collector.Gauge,
		"batches_processed_total":       collector.Counter,
		"node_cpu_seconds_total":        collector.Counter,
		"node_load1":                    collector.Gauge,
		"node_filesystem_avail_bytes":   collector.Gauge,
		"http_request_duration_seconds": collector.Histogram,
		"rpc_duration_seconds":          collector.Summary,
		"om_requests":                   collector.Counter, // OpenMetrics metadata: the family of om_requests_total
		"weird":                         collector.Untyped,
	}
}

func TestRulesLintExpr(t *testing.T) {
	type want struct {
		check    string
		severity Severity
	}
	gaugeErr := want{CheckCounterFuncOnGauge, Error}
	counterErr := want{CheckGaugeFuncOnCounter, Error}
	usedFree := want{CheckUsedOverFree, Error}
	tests := []struct {
		name      string
		expr      string
		types     TypeSource
		want      []want
		corrected string
	}{
		// rate() and friends on a gauge.
		{"rate of a gauge (the brief)", `rate(training_loss[5m]) > 0`, nil, []want{gaugeErr}, `deriv(training_loss[5m]) > 0`},
		{"irate of a gauge", `irate(training_loss[1m])`, nil, []want{gaugeErr}, `deriv(training_loss[1m])`},
		{"increase of a gauge", `increase(training_loss[1h]) > 0`, nil, []want{gaugeErr}, `delta(training_loss[1h]) > 0`},
		{"resets of a gauge warns, no correction", `resets(training_loss[1h]) > 3`, nil, []want{{CheckCounterFuncOnGauge, Warning}}, ``},
		{"nested in an aggregation", `sum by (gpu) (rate(DCGM_FI_DEV_GPU_TEMP[5m])) > 0`, nil, []want{gaugeErr},
			`sum by (gpu) (deriv(DCGM_FI_DEV_GPU_TEMP[5m])) > 0`},
		{"name in a __name__ matcher", `rate({__name__="training_loss",run="a"}[5m])`, nil, []want{gaugeErr},
			`deriv({__name__="training_loss",run="a"}[5m])`},
		{"subquery over a max of a gauge", `rate(max(training_loss)[10m:1m])`, nil, []want{gaugeErr}, `deriv(max(training_loss)[10m:1m])`},
		{"a summary's quantiles are gauges", `rate(rpc_duration_seconds{quantile="0.9"}[5m])`, nil, []want{gaugeErr},
			`deriv(rpc_duration_seconds{quantile="0.9"}[5m])`},
		{"two in one expression", `rate(training_loss[5m]) > 0 and increase(node_load1[5m]) > 1`, nil, []want{gaugeErr, gaugeErr},
			`deriv(training_loss[5m]) > 0 and delta(node_load1[5m]) > 1`},

		// deriv() and friends on a counter.
		{"deriv of a counter", `deriv(batches_processed_total[5m]) == 0`, nil, []want{counterErr}, `rate(batches_processed_total[5m]) == 0`},
		{"delta of a counter", `delta(node_cpu_seconds_total{mode="idle"}[5m])`, nil, []want{counterErr},
			`increase(node_cpu_seconds_total{mode="idle"}[5m])`},
		{"idelta of a counter", `idelta(node_cpu_seconds_total[5m])`, nil, []want{counterErr}, `irate(node_cpu_seconds_total[5m])`},
		{"_total of an OpenMetrics counter family", `deriv(om_requests_total[5m])`, nil, []want{counterErr}, `rate(om_requests_total[5m])`},
		{"_bucket of a histogram is a counter", `delta(http_request_duration_seconds_bucket[5m])`, nil, []want{counterErr},
			`increase(http_request_duration_seconds_bucket[5m])`},
		{"predict_linear of a counter warns", `predict_linear(batches_processed_total[1h], 3600) > 100`, nil,
			[]want{{CheckGaugeFuncOnCounter, Warning}}, `rate(batches_processed_total[1h]) * 3600 > 100`},
		{"predict_linear under a multiplication gets parentheses", `2 * predict_linear(batches_processed_total[1h], 4 * 3600)`, nil,
			[]want{{CheckGaugeFuncOnCounter, Warning}}, `2 * (rate(batches_processed_total[1h]) * (4 * 3600))`},

		// used / free.
		{"GPU memory used/free (the brief)", `DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE * 100 > 90`, nil, []want{usedFree},
			`DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 100 > 90`},
		{"GPU memory used/free, no types needed", `DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_FREE > 0.95`, Types{}, []want{usedFree},
			`DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > 0.95`},
		{"100 * used / free, with matchers", `100 * DCGM_FI_DEV_FB_USED{gpu="0"} / DCGM_FI_DEV_FB_FREE{gpu="0"}`, nil, []want{usedFree},
			`100 * DCGM_FI_DEV_FB_USED{gpu="0"} / (DCGM_FI_DEV_FB_USED{gpu="0"} + DCGM_FI_DEV_FB_FREE{gpu="0"})`},
		{"aggregated", `sum(DCGM_FI_DEV_FB_USED) / sum(DCGM_FI_DEV_FB_FREE)`, nil, []want{usedFree},
			`sum(DCGM_FI_DEV_FB_USED) / (sum(DCGM_FI_DEV_FB_USED) + sum(DCGM_FI_DEV_FB_FREE))`},
		{"smoothed", `avg_over_time(DCGM_FI_DEV_FB_USED[5m]) / avg_over_time(DCGM_FI_DEV_FB_FREE[5m])`, nil, []want{usedFree},
			`avg_over_time(DCGM_FI_DEV_FB_USED[5m]) / (avg_over_time(DCGM_FI_DEV_FB_USED[5m]) + avg_over_time(DCGM_FI_DEV_FB_FREE[5m]))`},
		{"vector matching is kept", `DCGM_FI_DEV_FB_USED / on (gpu) DCGM_FI_DEV_FB_FREE`, nil, []want{usedFree},
			`DCGM_FI_DEV_FB_USED / on (gpu) (DCGM_FI_DEV_FB_USED + on (gpu) DCGM_FI_DEV_FB_FREE)`},
		{"memory (total - avail) / avail", `(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / node_memory_MemAvailable_bytes * 100 > 90`,
			nil, []want{usedFree}, `(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / node_memory_MemTotal_bytes * 100 > 90`},
		{"filesystem (size - avail) / avail", `(node_filesystem_size_bytes{mountpoint="/"} - node_filesystem_avail_bytes{mountpoint="/"}) / node_filesystem_avail_bytes{mountpoint="/"}`,
			nil, []want{usedFree}, `(node_filesystem_size_bytes{mountpoint="/"} - node_filesystem_avail_bytes{mountpoint="/"}) / node_filesystem_size_bytes{mountpoint="/"}`},
		{"inodes (files - files_free) / files_free", `(node_filesystem_files - node_filesystem_files_free) / node_filesystem_files_free`,
			nil, []want{usedFree}, `(node_filesystem_files - node_filesystem_files_free) / node_filesystem_files`},
		{"swap", `(node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes) / node_memory_SwapFree_bytes`,
			nil, []want{usedFree}, `(node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes) / node_memory_SwapTotal_bytes`},
		{"used/free and rate of a gauge together", `sum(DCGM_FI_DEV_FB_USED) / sum(DCGM_FI_DEV_FB_FREE) * 100 > 90 or rate(training_loss[5m]) > 0`,
			nil, []want{usedFree, gaugeErr},
			`sum(DCGM_FI_DEV_FB_USED) / (sum(DCGM_FI_DEV_FB_USED) + sum(DCGM_FI_DEV_FB_FREE)) * 100 > 90 or deriv(training_loss[5m]) > 0`},

		// Correct expressions: nothing to say.
		{"unknown metric", `rate(x[5m]) > 0`, nil, nil, ``},
		{"unknown _total", `deriv(unknown_total[5m])`, nil, nil, ``},
		{"no types at all", `rate(training_loss[5m])`, Types{}, nil, ``},
		{"nil type source", `rate(training_loss[5m])`, typeSourceNil{}, nil, ``},
		{"rate of a counter", `rate(node_cpu_seconds_total[5m])`, nil, nil, ``},
		{"histogram_quantile of rate of buckets", `histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`, nil, nil, ``},
		{"histogram sum / count", `rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])`, nil, nil, ``},
		{"summary count", `rate(rpc_duration_seconds_count[5m])`, nil, nil, ``},
		{"native histogram", `rate(http_request_duration_seconds[5m])`, nil, nil, ``},
		{"untyped", `rate(weird[5m])`, nil, nil, ``},
		{"deriv of a gauge", `deriv(training_loss[10m]) > 0`, nil, nil, ``},
		{"delta of a gauge", `delta(DCGM_FI_DEV_GPU_TEMP[30m]) > 10`, nil, nil, ``},
		{"rate of the progress counter", `rate(batches_processed_total[5m]) == 0`, nil, nil, ``},
		{"predict_linear of a gauge", `predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600) < 0`, nil, nil, ``},
		{"GPU memory, corrected", `DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 100 > 90`, nil, nil, ``},
		{"disk free share", `node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"} * 100 < 10`, nil, nil, ``},
		{"memory, corrected", `(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 > 90`, nil, nil, ``},
		{"free / used is not flagged", `DCGM_FI_DEV_FB_FREE / DCGM_FI_DEV_FB_USED`, nil, nil, ``},
		{"used over an unrelated free", `trainwatch_gpu_memory_used_bytes / node_memory_MemFree_bytes`, nil, nil, ``},
		{"free over available", `node_memory_MemFree_bytes / node_memory_MemAvailable_bytes`, nil, nil, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			types := tc.types
			if types == nil {
				types = testTypes()
			}
			if _, ok := types.(typeSourceNil); ok {
				types = nil
			}
			fs, err := LintExpr(tc.expr, types)
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, f := range fs {
				got = append(got, want{f.Check, f.Severity})
				if !f.Lint || f.Message == "" || f.Expr != tc.expr {
					t.Errorf("finding %+v: want Lint, a message and the expression", f)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("LintExpr(%s) = %+v, want %v", tc.expr, fs, tc.want)
			}
			for _, f := range fs {
				// Every finding with a fix shows the whole corrected
				// expression; a finding without one (resets) shows none.
				if f.Corrected != "" && f.Corrected != tc.corrected {
					t.Errorf("corrected:\n got %s\nwant %s", f.Corrected, tc.corrected)
				}
			}
			if tc.corrected != "" {
				if len(fs) == 0 || fs[0].Corrected != tc.corrected {
					t.Errorf("first finding's correction %+v, want %s", fs, tc.corrected)
				}
				// A correction parses and passes the lint.
				again, err := LintExpr(tc.corrected, types)
				if err != nil {
					t.Fatalf("corrected expression: %v", err)
				}
				for _, f := range again {
					if f.Severity == Error {
						t.Errorf("corrected expression still has %+v", f)
					}
				}
			}
		})
	}
}

// typeSourceNil asks a test case for a nil TypeSource.
type typeSourceNil struct{}

func (typeSourceNil) Type(string) (collector.ValueType, bool) { return 0, false }

// TestLintExprCopiesFixedOperand: an outer fix that copies an operand
// (used / free copies "used") copies it after the inner fixes.
func TestRulesLintExprCopiesFixedOperand(t *testing.T) {
	types := Types{"gpu_mem_used": collector.Gauge, "gpu_mem_free": collector.Gauge}
	fs, err := LintExpr(`max(gpu_mem_used) / max(gpu_mem_free)`, types)
	if err != nil || len(fs) != 1 {
		t.Fatalf("got %+v, %v", fs, err)
	}
	fs, err = LintExpr(`sum(rate(gpu_mem_used[5m])) / sum(rate(gpu_mem_free[5m]))`, types)
	if err != nil {
		t.Fatal(err)
	}
	// Not a used/free ratio of amounts (rates of them), but both rates
	// are of gauges.
	if len(fs) != 2 || fs[0].Corrected != `sum(deriv(gpu_mem_used[5m])) / sum(deriv(gpu_mem_free[5m]))` {
		t.Fatalf("got %+v", fs)
	}
	fs, err = LintExpr(`max_over_time(gpu_mem_used[5m]) / max_over_time(gpu_mem_free[5m]) + increase(gpu_mem_used[1m])`, types)
	if err != nil {
		t.Fatal(err)
	}
	want := `max_over_time(gpu_mem_used[5m]) / (max_over_time(gpu_mem_used[5m]) + max_over_time(gpu_mem_free[5m])) + delta(gpu_mem_used[1m])`
	if len(fs) != 2 || fs[0].Corrected != want || fs[1].Corrected != want {
		t.Fatalf("got %+v\nwant corrected %s", fs, want)
	}
}

func TestRulesLintExprPosition(t *testing.T) {
	fs, err := LintExpr("sum(\n  rate(training_loss[5m])\n) > 0", testTypes())
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Line != 2 || fs[0].Column != 3 {
		t.Fatalf("got %+v, want one finding at 2:3", fs)
	}
	if _, err := LintExpr("rate(x[5m]", nil); err == nil {
		t.Fatal("want a parse error")
	}
}

func TestRulesNameWords(t *testing.T) {
	for name, want := range map[string][]string{
		"node_memory_MemFree_bytes":  {"node", "memory", "mem", "free", "bytes"},
		"DCGM_FI_DEV_FB_USED":        {"dcgm", "fi", "dev", "fb", "used"},
		"job:gpu_used:sum":           {"job", "gpu", "used", "sum"},
		"node_memory_HugePages_Free": {"node", "memory", "huge", "pages", "free"},
	} {
		if got := nameWords(name); !reflect.DeepEqual(got, want) {
			t.Errorf("nameWords(%s) = %v, want %v", name, got, want)
		}
	}
	if stem("DCGM_FI_DEV_FB_USED") != stem("DCGM_FI_DEV_FB_FREE") {
		t.Error("FB_USED and FB_FREE should have the same stem")
	}
}

func TestRulesResolve(t *testing.T) {
	ts := testTypes()
	for name, want := range map[string]collector.ValueType{
		"training_loss":                        collector.Gauge,
		"batches_processed_total":              collector.Counter,
		"om_requests_total":                    collector.Counter,
		"http_request_duration_seconds_bucket": collector.Counter,
		"http_request_duration_seconds_sum":    collector.Counter,
		"http_request_duration_seconds_count":  collector.Counter,
		"rpc_duration_seconds":                 collector.Gauge,
		"rpc_duration_seconds_sum":             collector.Counter,
	} {
		st, ok := resolve(ts, name)
		if !ok || st.kind != want {
			t.Errorf("resolve(%s) = %v %v, want %v", name, st, ok, want)
		}
	}
	for _, name := range []string{"http_request_duration_seconds", "rpc_duration_seconds_bucket", "weird", "nope", "nope_total", "training_loss_total", "_total", ""} {
		if st, ok := resolve(ts, name); ok {
			t.Errorf("resolve(%s) = %v, want unknown", name, st)
		}
	}
	if _, ok := resolve(nil, "training_loss"); ok {
		t.Error("a nil source knows nothing")
	}
	l := Layered{nil, Types{"a": collector.Counter}, Types{"a": collector.Gauge, "b": collector.Gauge}}
	if v, ok := l.Type("a"); !ok || v != collector.Counter {
		t.Errorf("Layered: the first source wins, got %v %v", v, ok)
	}
	if v, ok := l.Type("b"); !ok || v != collector.Gauge {
		t.Errorf("Layered: falls through, got %v %v", v, ok)
	}
	if _, ok := l.Type("c"); ok {
		t.Error("Layered: unknown")
	}
}
