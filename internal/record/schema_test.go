package record

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/testenv"
)

const schemaDir = "../../docs/schema"

func TestRecordLinesMatchSchema(t *testing.T) {
	s := testenv.CompileSchema(t, schemaDir, "record.schema.json")
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
		if err := s.Validate(sc.Bytes()); err != nil {
			t.Errorf("line %d does not match record.schema.json: %v\n%s", n, err, sc.Bytes())
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
			if err := s.Validate([]byte(bad)); err == nil {
				t.Errorf("schema accepts an invalid record:\n%s", bad)
			}
		})
	}
}
