package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaIDPrefix is the $id prefix of the schema files under docs/schema.
const SchemaIDPrefix = "https://github.com/trainwatch/trainwatch/docs/schema/"

// Schema is a compiled JSON Schema from docs/schema.
type Schema struct{ s *jsonschema.Schema }

// CompileSchema loads every *.schema.json in dir under its $id (which must
// match its file name) and compiles the named file, asserting formats such
// as date-time.
func CompileSchema(t testing.TB, dir, file string) *Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files in %s: %v", dir, err)
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
		m, _ := doc.(map[string]any)
		sid, _ := m["$id"].(string)
		if sid != SchemaIDPrefix+filepath.Base(f) {
			t.Fatalf("%s: $id %q does not match its file name", f, sid)
		}
		if err := c.AddResource(sid, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	s, err := c.Compile(SchemaIDPrefix + file)
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return &Schema{s: s}
}

// Validate checks one JSON document.
func (s *Schema) Validate(doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.s.Validate(inst)
}
