package datastore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseModel feeds arbitrary bytes to ParseModel (seed corpus in
// testdata/fuzz/FuzzParseModel, plus the demo app's model.json and this package's test
// model). It must never panic, must answer the same way twice, and must either return a
// model or ModelErrors, never both, never neither:
//
//   - every error names model.json, a line and column inside the text, a JSON path and a
//     message;
//   - a model keeps the invariants the store relies on (prepare passes, a primary key per
//     dataclass, names unique whatever their case, every relation resolved to a dataclass
//     of the model, every relatedEntities matched by its relatedEntity), and a fresh
//     SQLite database accepts its schema.
func FuzzParseModel(f *testing.F) {
	f.Add([]byte(testModel))
	if demo, err := os.ReadFile(filepath.Join("..", "model.json")); err == nil {
		f.Add(demo)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseModel(data)
		_, again := ParseModel(data)
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("two parses disagree:\n%v\n---\n%v", err, again)
		}
		if err != nil {
			if m != nil {
				t.Fatalf("ParseModel returned a model and an error: %v", err)
			}
			checkModelErrors(t, data, err)
			return
		}
		if m == nil {
			t.Fatal("ParseModel returned neither a model nor an error")
		}
		checkModelInvariants(t, m)
		if len(m.DataClasses) == 0 {
			return
		}
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "fuzz.db"), m, Options{})
		if err != nil {
			t.Fatalf("a valid model is refused by a fresh database: %v\nmodel:\n%s", err, data)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// checkModelErrors checks that err is a non-empty ModelErrors whose entries point inside
// data.
func checkModelErrors(t *testing.T, data []byte, err error) {
	t.Helper()
	var errs ModelErrors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error %T %q is not a non-empty ModelErrors", err, err)
	}
	lines := 1 + bytes.Count(data, []byte{'\n'})
	for _, e := range errs {
		switch {
		case e == nil:
			t.Fatalf("nil entry in %q", err)
		case e.File != DefaultModelFile:
			t.Fatalf("error names file %q, want %q: %v", e.File, DefaultModelFile, e)
		case e.Line < 1 || e.Line > lines || e.Col < 1:
			t.Fatalf("error at %d:%d outside the %d-line text: %v", e.Line, e.Col, lines, e)
		case e.Message == "":
			t.Fatalf("error without a message: %#v", e)
		case e.Path != "" && !strings.HasPrefix(e.Path, "$"):
			t.Fatalf("error path %q is not a JSON path: %v", e.Path, e)
		}
	}
}

// checkModelInvariants checks what the rest of the package takes for granted of a parsed
// model.
func checkModelInvariants(t *testing.T, m *Model) {
	t.Helper()
	if err := m.prepare(); err != nil {
		t.Fatalf("a parsed model fails prepare: %v", err)
	}
	dcNames := map[string]bool{}
	for _, dc := range m.DataClasses {
		folded := strings.ToLower(dc.Name)
		if dcNames[folded] {
			t.Fatalf("two dataclasses named %q whatever the case", dc.Name)
		}
		dcNames[folded] = true
		if m.DataClass(dc.Name) != dc {
			t.Fatalf("DataClass(%q) does not find it", dc.Name)
		}
		if dc.Key == nil || !dc.Key.PrimaryKey || dc.Attribute(dc.Key.Name) != dc.Key {
			t.Fatalf("%s: key %+v is not one of its primary-key attributes", dc.Name, dc.Key)
		}
		attrNames := map[string]bool{}
		keys := 0
		for _, a := range dc.Attributes {
			folded := strings.ToLower(a.Name)
			if attrNames[folded] {
				t.Fatalf("%s: two attributes named %q whatever the case", dc.Name, a.Name)
			}
			attrNames[folded] = true
			if a.PrimaryKey {
				keys++
			}
			if dc.Attribute(a.Name) != a {
				t.Fatalf("%s.Attribute(%q) does not find it", dc.Name, a.Name)
			}
			switch a.Kind {
			case KindRelatedEntity:
				if a.Related == nil || m.DataClass(a.Related.Name) != a.Related || a.Type != a.Related.Name {
					t.Fatalf("%s.%s: relation to %q not resolved within the model", dc.Name, a.Name, a.Type)
				}
			case KindRelatedEntities:
				if a.Related == nil || m.DataClass(a.Related.Name) != a.Related {
					t.Fatalf("%s.%s: relation not resolved within the model", dc.Name, a.Name)
				}
				back := a.Related.Attribute(a.Path)
				if back == nil || back.Kind != KindRelatedEntity || back.Related != dc {
					t.Fatalf("%s.%s: path %q is not a relatedEntity back to %s", dc.Name, a.Name, a.Path, dc.Name)
				}
			}
		}
		if keys != 1 {
			t.Fatalf("%s: %d primary keys", dc.Name, keys)
		}
	}
}
