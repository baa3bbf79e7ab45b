package record

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaDir holds the JSON Schema files that document the records.
const schemaDir = "../../docs/schema"

const recordSchemaID = "https://github.com/trainwatch/trainwatch/docs/schema/record.schema.json"

// compileSchema loads every schema file in schemaDir under its $id (the
// record schema refers to the summary schema) and compiles the one with
// the given $id, asserting formats (date-time).
func compileSchema(t *testing.T, id string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files in %s: %v", schemaDir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sid, _ := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(sid, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compile %s: %v", id, err)
	}
	return s
}

func validate(s *jsonschema.Schema, line []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

func TestRecordLinesMatchSchema(t *testing.T) {
	s := compileSchema(t, recordSchemaID)
	path := filepath.Join(t.TempDir(), "m.jsonl")
	w := open(t, DefaultConfig(path))
	for i := 0; i < 3; i++ {
		if err := w.Write(host(i)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	var first string
	for sc.Scan() {
		n++
		if err := validate(s, sc.Bytes()); err != nil {
			t.Errorf("line %d does not match %s: %v\n%s", n, recordSchemaID, err, sc.Bytes())
		}
		if n == 1 {
			first = sc.Text()
		}
	}
	if n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}

	tests := []struct {
		name, old, new string
	}{
		{"wrong schema version", `"schema_version":1`, `"schema_version":2`},
		{"missing schema version", `"schema_version":1,`, ``},
		{"unknown top-level field", `"time":`, `"run":"x","time":`},
		{"bad time", `"time":"2026-03-01T12:00:00Z"`, `"time":"12:00"`},
		{"host is invalid", `"hostname":"host-0"`, `"hostname":7`},
		{"host missing", `,"host":{`, `,"hostx":{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(first, tt.old) {
				t.Fatalf("line lacks %q: %s", tt.old, first)
			}
			bad := strings.Replace(first, tt.old, tt.new, 1)
			if err := validate(s, []byte(bad)); err == nil {
				t.Errorf("schema accepts an invalid record:\n%s", bad)
			}
		})
	}
}
