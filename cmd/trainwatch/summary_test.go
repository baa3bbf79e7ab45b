package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

const schemaDir = "../../docs/schema"

func runCLI(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestSummaryJSONStandaloneMatchesSchema(t *testing.T) {
	out, errOut, code := runCLI(t, context.Background(), "summary", "--json", "--window", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if err := testenv.CompileSchema(t, schemaDir, "summary.schema.json").Validate([]byte(out)); err != nil {
		t.Fatalf("summary --json does not match docs/schema/summary.schema.json: %v\n%s", err, out)
	}
	var h struct {
		RatesAvailable bool    `json:"rates_available"`
		Interval       float64 `json:"interval_seconds"`
		CPU            struct {
			Count int `json:"count"`
		} `json:"cpu"`
		Memory struct {
			Total float64 `json:"total_bytes"`
		} `json:"memory"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	if !h.RatesAvailable || h.Interval < 0.2 || h.Interval > 5 {
		t.Errorf("rates_available=%v interval=%v; want rates over about 300ms", h.RatesAvailable, h.Interval)
	}
	if h.CPU.Count != procCPUs(t) || h.Memory.Total != memTotalBytes(t) {
		t.Errorf("cpu.count=%d memory.total_bytes=%v; want %d and %v", h.CPU.Count, h.Memory.Total, procCPUs(t), memTotalBytes(t))
	}
}

func TestSummaryTextColour(t *testing.T) {
	tests := []struct {
		color     string
		wantColor bool
	}{
		{"never", false},
		{"always", true},
		{"auto", false}, // stdout is a buffer, not a terminal
	}
	for _, tt := range tests {
		t.Run(tt.color, func(t *testing.T) {
			out, errOut, code := runCLI(t, context.Background(), "summary", "--window", "100ms", "--color", tt.color)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := strings.Contains(out, "\x1b["); got != tt.wantColor {
				t.Errorf("colour escapes present = %v, want %v", got, tt.wantColor)
			}
			for _, section := range []string{"CPU", "MEMORY", "DISK I/O", "NETWORK", "FILESYSTEMS"} {
				if !strings.Contains(out, section) {
					t.Errorf("summary lacks a %s section:\n%s", section, out)
				}
			}
		})
	}
}

func TestSummaryFromAgent(t *testing.T) {
	base := startAgent(t, config.Default())
	time.Sleep(1200 * time.Millisecond) // a second tick, so rates exist
	out, errOut, code := runCLI(t, context.Background(), "summary", "--json", "--url", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if err := testenv.CompileSchema(t, schemaDir, "summary.schema.json").Validate([]byte(out)); err != nil {
		t.Fatalf("summary --url --json does not match the schema: %v", err)
	}
	if !strings.Contains(out, `"rates_available": true`) {
		t.Errorf("agent summary has no rates:\n%s", out)
	}

	// No agent there: a clear error and exit 1.
	_, errOut, code = runCLI(t, context.Background(), "summary", "--url", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "is `trainwatch serve` running there?") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCLI(t, context.Background(), "summary", "--url", "localhost:9835")
	if code != 2 || !strings.Contains(errOut, "want the agent's base URL") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestRecordWritesSchemaValidLinesAndStopsCleanly(t *testing.T) {
	out := filepath.Join(t.TempDir(), "training_metrics.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		var o, e bytes.Buffer
		c := run(ctx, []string{"record", "--interval", "250ms", "--output", out}, &o, &e)
		done <- result{c, e.String()}
	}()
	time.Sleep(1500 * time.Millisecond)
	cancel() // what Ctrl+C does
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("record did not stop within 10s of cancellation")
	}
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		t.Fatal("file is empty or ends in a torn line")
	}
	schema := testenv.CompileSchema(t, schemaDir, "record.schema.json")
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if err := schema.Validate(sc.Bytes()); err != nil {
			t.Errorf("line %d does not match docs/schema/record.schema.json: %v", n, err)
		}
	}
	if n < 3 {
		t.Fatalf("%d lines after 1.5s at 250ms, want at least 3", n)
	}
}
