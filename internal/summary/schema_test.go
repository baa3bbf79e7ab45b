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
		{"gpus of both vendors, lost, throttled, processes, demo", Compute(nil, gpuSnapshot())},
		{"demo agent's series", Compute(nil, promSnapshot(t, "testdata/demo_gpu.prom", t0))},
		{"no GPU, backend down", Compute(nil, noGPUSnapshot())},
		{"jobs and top processes", Compute(nil, jobsSnapshot())},
		{"lost AMD GPU", Compute(nil, newBuilder(t0).amd(amdGPU{idx: "1", uuid: "0xabc", up: 0}).snap())},
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

// TestSchemaRejectsInvalidGPU mutates the GPU fields of a valid document.
func TestSchemaRejectsInvalidGPU(t *testing.T) {
	s := testenv.CompileSchema(t, schemaDir, "summary.schema.json")
	js, err := json.Marshal(Compute(nil, gpuSnapshot()))
	if err != nil {
		t.Fatal(err)
	}
	good := string(js)
	if err := s.Validate(js); err != nil {
		t.Fatalf("schema rejects the fixture: %v", err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"unknown vendor", `"vendor":"nvidia"`, `"vendor":"intel"`},
		{"up not a boolean", `"up":true`, `"up":1`},
		{"demo not a boolean", `"demo":true`, `"demo":"yes"`},
		{"pstate out of range", `"pstate":8`, `"pstate":32`},
		{"tensor active over 100", `"tensor_active_percent":61.23`, `"tensor_active_percent":6123`},
		{"negative power limit", `"power_limit_watts":700`, `"power_limit_watts":-1`},
		{"throttle reason not a name", `"throttle_reasons":["sw_power_cap"]`, `"throttle_reasons":["SW Power Cap"]`},
		{"throttle reasons repeated", `"throttle_reasons":["sw_power_cap"]`, `"throttle_reasons":["sw_power_cap","sw_power_cap"]`},
		{"xid code not a number", `"xids":{"13":2`, `"xids":{"thirteen":2`},
		{"negative xid total", `"xid_events_total":3`, `"xid_events_total":-3`},
		{"unknown process field", `"pid":4100,`, `"pid":4100,"cpu_percent":3,`},
		{"process without memory", `,"memory_bytes":120000000000`, ``},
		{"fractional pid", `"pid":4100,`, `"pid":4100.5,`},
		{"backend without up", `{"backend":"nvml","up":true}`, `{"backend":"nvml"}`},
		{"unknown backend field", `{"backend":"nvml","up":true}`, `{"backend":"nvml","up":true,"version":"12"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("fixture JSON lacks %q", tt.old)
			}
			bad := strings.Replace(good, tt.old, tt.new, 1)
			if !json.Valid([]byte(bad)) {
				t.Fatalf("mutated document is not JSON:\n%s", bad)
			}
			if err := s.Validate([]byte(bad)); err == nil {
				t.Errorf("schema accepts an invalid document:\n%s", bad)
			}
		})
	}
}

// TestSchemaRejectsInvalidJobs mutates the processes and jobs of a valid
// document.
func TestSchemaRejectsInvalidJobs(t *testing.T) {
	s := testenv.CompileSchema(t, schemaDir, "summary.schema.json")
	js, err := json.Marshal(Compute(nil, jobsSnapshot()))
	if err != nil {
		t.Fatal(err)
	}
	good := string(js)
	if err := s.Validate(js); err != nil {
		t.Fatalf("schema rejects the fixture: %v", err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"unknown process field", `{"pid":4100,"command":"python3",`, `{"pid":4100,"nice":0,"command":"python3",`},
		{"process without cpu", `"cpu_percent":312.46,`, ``},
		{"negative process cpu", `"cpu_percent":312.46,`, `"cpu_percent":-1,`},
		{"fractional process rss", `"resident_bytes":51539607552,"read_bytes_per_second":250000000`, `"resident_bytes":1.5,"read_bytes_per_second":250000000`},
		{"negative process read rate", `"read_bytes_per_second":250000000`, `"read_bytes_per_second":-5`},
		{"process gpu memory a string", `"gpu_memory_bytes":121000000000`, `"gpu_memory_bytes":"121 GB"`},
		{"processes not a list", `}]}],"processes":[{"pid":4100`, `}]}],"processes":{"x":[{"pid":4100`},
		{"unknown job field", `"id":"4090-1772348400",`, `"id":"4090-1772348400","state":"running",`},
		{"job without id", `"id":"4090-1772348400",`, ``},
		{"job gpus not strings", `"gpus":["0","1","2","3","4","5","6","7"]`, `"gpus":[0,1,2,3,4,5,6,7]`},
		{"job gpus repeated", `"gpus":["1","3"]`, `"gpus":["1","1"]`},
		{"job bad start time", `"start_time":"2026-03-01T06:57:00Z"`, `"start_time":"5h ago"`},
		{"negative running time", `"running_seconds":18180`, `"running_seconds":-1`},
		{"fractional ranks", `"ranks":8,`, `"ranks":8.5,`},
		{"negative root pid", `"root_pid":4090,`, `"root_pid":-1,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("fixture JSON lacks %q", tt.old)
			}
			bad := strings.Replace(good, tt.old, tt.new, 1)
			if tt.name == "processes not a list" {
				bad = strings.Replace(bad, `}],"jobs":`, `}]},"jobs":`, 1)
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

// TestSchemaAcceptsOlderRecords checks that a summary written before the
// demo, GPU backend, GPU detail, process and job fields existed still validates: they
// are not required, so old training_metrics.jsonl files stay valid.
func TestSchemaAcceptsOlderRecords(t *testing.T) {
	s := testenv.CompileSchema(t, schemaDir, "summary.schema.json")
	js, err := json.Marshal(Compute(fullPair()))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "demo")
	delete(doc, "gpu_backends")
	delete(doc, "processes")
	delete(doc, "jobs")
	for _, g := range doc["gpus"].([]any) {
		for _, f := range []string{"vendor", "up", "throttle_reasons", "xid_events_total", "xids", "processes"} {
			delete(g.(map[string]any), f)
		}
	}
	old, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(old); err != nil {
		t.Errorf("schema rejects an older summary: %v\n%s", err, old)
	}
}
