package summary

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

const schemaDir = "../../docs/schema"

func TestSchemaAcceptsCompute(t *testing.T) {
	s := testenv.CompileSchema(t, schemaDir, "summary.schema.json")
	prev, cur := fullPair()
	cp, cc := manyCores()
	b := newBuilder(t0).add("DCGM_FI_DEV_GPU_TEMP", -5, "gpu", "0", "UUID", "GPU-x")
	tests := []struct {
		name string
		host *Host
	}{
		{"full", Compute(prev, cur)},
		{"first sample", Compute(nil, cur)},
		{"nothing read", Compute(nil, emptySnapshot())},
		{"many cores", Compute(cp, cc)},
		{"partial gpu", Compute(nil, b.snap())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js, err := json.Marshal(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(js); err != nil {
				t.Errorf("schema rejects Compute output: %v\n%s", err, js)
			}
		})
	}
}

func TestSchemaRejectsInvalid(t *testing.T) {
	s := testenv.CompileSchema(t, schemaDir, "summary.schema.json")
	js, err := json.Marshal(Compute(fullPair()))
	if err != nil {
		t.Fatal(err)
	}
	good := string(js)
	tests := []struct {
		name, old, new string
	}{
		{"unknown field", `"hostname":`, `"host_name":"x","hostname":`},
		{"missing required field", `"rates_available":true,"interval_seconds":10,`, `"rates_available":true,`},
		{"percent over 100", `"busy_percent":55`, `"busy_percent":155`},
		{"negative bytes", `"total_bytes":68719476736`, `"total_bytes":-1`},
		{"fractional bytes", `"total_bytes":68719476736`, `"total_bytes":1.5`},
		{"bad time", `"time":"2026-03-01T12:00:10Z"`, `"time":"yesterday"`},
		{"unknown temperature source", `"source":"hwmon"`, `"source":"ipmi"`},
		{"gpus not a list", `"gpus":[`, `"gpus":{"x":[`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("fixture JSON lacks %q", tt.old)
			}
			bad := strings.Replace(good, tt.old, tt.new, 1)
			if tt.name == "gpus not a list" {
				bad = strings.Replace(bad, `],"collectors"`, `]},"collectors"`, 1)
			}
			if !json.Valid([]byte(bad)) {
				t.Fatalf("mutated document is not JSON:\n%s", bad)
			}
			if err := s.Validate([]byte(bad)); err == nil {
				t.Errorf("schema accepts an invalid document:\n%s", bad)
			}
		})
	}
}
