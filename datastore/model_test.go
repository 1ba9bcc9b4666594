package datastore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseModelErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		wantLine  int
		wantCol   int
		wantPath  string
		wantInMsg string
	}{
		{"UnknownType", "{\"dataClasses\": [\n  {\"name\": \"Users\", \"attributes\": [\n    {\"name\": \"ID\", \"type\": \"long\", \"primaryKey\": true},\n    {\"name\": \"email\", \"type\": \"string\"},\n    {\"name\": \"age\",\n     \"type\": \"strin\"}]}]}",
			6, 14, "$.dataClasses[0].attributes[2].type", `unknown type "strin"`},
		{"UnknownTopKey", `{"dataClasses": [], "dataclasses": []}`, 1, 21, "$", `unknown key "dataclasses"`},
		{"UnknownAttributeKey", `{"dataClasses": [{"name": "A", "attributes": [{"name": "x", "type": "string", "index": true}]}]}`,
			1, 79, "$.dataClasses[0].attributes[0]", `unknown key "index"`},
		{"MissingName", `{"dataClasses": [{"attributes": []}]}`, 1, 18, "$.dataClasses[0]", `missing "name"`},
		{"BadName", `{"dataClasses": [{"name": "1abc"}]}`, 1, 27, "$.dataClasses[0].name", "letters, digits"},
		{"ReservedName", `{"dataClasses": [{"name": "A", "attributes": [{"name": "__stamp", "type": "long"}]}]}`,
			1, 56, "$.dataClasses[0].attributes[0].name", "reserved"},
		{"DuplicateDataClassByCase", "{\"dataClasses\": [{\"name\": \"Users\"},\n {\"name\": \"users\"}]}", 2, 2, "$.dataClasses[1].name", "duplicate dataclass"},
		{"DuplicateAttributeByCase", `{"dataClasses": [{"name": "A", "attributes": [{"name": "x", "type": "string"}, {"name": "X", "type": "long"}]}]}`,
			1, 80, "$.dataClasses[0].attributes[1].name", "duplicate attribute"},
		{"TwoKeys", `{"dataClasses": [{"name": "A", "attributes": [{"name": "a", "type": "long", "primaryKey": true}, {"name": "b", "type": "long", "primaryKey": true}]}]}`,
			1, 98, "$.dataClasses[0].attributes[1].primaryKey", "already has primary key"},
		{"BoolKey", `{"dataClasses": [{"name": "A", "attributes": [{"name": "a", "type": "bool", "primaryKey": true}]}]}`,
			1, 47, "$.dataClasses[0].attributes[0].primaryKey", "long, string or uuid"},
		{"AutoincrementString", `{"dataClasses": [{"name": "A", "attributes": [{"name": "a", "type": "string", "primaryKey": true, "autoincrement": true}]}]}`,
			1, 47, "$.dataClasses[0].attributes[0].autoincrement", "long or uuid"},
		{"AutoincrementNotKey", `{"dataClasses": [{"name": "A", "attributes": [{"name": "n", "type": "long", "autoincrement": true}]}]}`,
			1, 47, "$.dataClasses[0].attributes[0].autoincrement", "only supported on the primary key"},
		{"UnknownRelatedDataClass", `{"dataClasses": [{"name": "A", "attributes": [{"name": "b", "kind": "relatedEntity", "type": "Bee"}]}]}`,
			1, 94, "$.dataClasses[0].attributes[0].type", `unknown dataclass "Bee"`},
		{"UnknownKind", `{"dataClasses": [{"name": "A", "attributes": [{"name": "b", "kind": "link", "type": "A"}]}]}`,
			1, 69, "$.dataClasses[0].attributes[0].kind", `unknown kind "link"`},
		{"MissingPath", `{"dataClasses": [{"name": "A", "attributes": [{"name": "bs", "kind": "relatedEntities"}]}]}`,
			1, 47, "$.dataClasses[0].attributes[0]", `missing "path"`},
		{"PathWithoutInverse", `{"dataClasses": [{"name": "A", "attributes": [{"name": "bs", "kind": "relatedEntities", "path": "owner"}]}, {"name": "B", "attributes": [{"name": "a", "kind": "relatedEntity", "type": "A"}]}]}`,
			1, 47, "$.dataClasses[0].attributes[0].path", `no dataclass has a relatedEntity attribute "owner"`},
		{"ExposedNotBool", `{"dataClasses": [{"name": "A", "exposed": "yes"}]}`, 1, 43, "$.dataClasses[0].exposed", "must be true or false"},
		{"DataClassesNotArray", `{"dataClasses": {"name": "A"}}`, 1, 17, "$.dataClasses", "must be an array"},
		{"TopLevelArray", `[]`, 1, 1, "$", "must be an object"},
		{"IDWithoutKey", `{"dataClasses": [{"name": "A", "attributes": [{"name": "ID", "type": "string"}]}]}`,
			1, 47, "$.dataClasses[0].attributes[0]", "no primary key"},
		{"IDByCaseWithoutKey", `{"dataClasses": [{"name": "A", "attributes": [{"name": "id", "type": "string"}]}]}`,
			1, 18, "$.dataClasses[0]", "no primary key"},
		{"MissingType", `{"dataClasses": [{"name": "A", "attributes": [{"name": "x"}]}]}`, 1, 47, "$.dataClasses[0].attributes[0]", `missing "type"`},
		{"SyntaxError", "{\"dataClasses\": [\n  {\"name\": \"A\",}\n]}", 2, 16, "", "invalid JSON"},
		{"DuplicateJSONKey", `{"dataClasses": [{"name": "A", "name": "B"}]}`, 1, 32, "", `duplicate key "name"`},
		{"Truncated", `{"dataClasses": [`, 1, 18, "", "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseModel([]byte(tt.src))
			if m != nil || err == nil {
				t.Fatalf("ParseModel = %v, %v; want an error", m, err)
			}
			var me *ModelError
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a *ModelError", err)
			}
			if me.File != "model.json" || me.Line != tt.wantLine || me.Col != tt.wantCol || me.Path != tt.wantPath || !strings.Contains(me.Message, tt.wantInMsg) {
				t.Errorf("got %s:%d:%d path %q msg %q\nwant model.json:%d:%d path %q msg containing %q",
					me.File, me.Line, me.Col, me.Path, me.Message, tt.wantLine, tt.wantCol, tt.wantPath, tt.wantInMsg)
			}
		})
	}
}

func TestParseModelErrorFormat(t *testing.T) {
	src := "{\"dataClasses\": [\n  {\"name\": \"Users\", \"attributes\": [\n    {\"name\": \"ID\", \"type\": \"long\", \"primaryKey\": true},\n    {\"name\": \"email\", \"type\": \"string\"},\n    {\"name\": \"age\",\n     \"type\": \"strin\"}]}]}"
	_, err := ParseModel([]byte(src))
	want := `model.json:6:14: $.dataClasses[0].attributes[2].type: unknown type "strin" (expected string, long, number, bool, date, uuid, object, blob or picture)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestParseModelReportsEveryProblem(t *testing.T) {
	src := "{\"dataClasses\": [\n{\"name\": \"A\", \"attributes\": [{\"name\": \"x\", \"type\": \"strin\"}]},\n{\"name\": \"B\", \"exposed\": 1}]}"
	_, err := ParseModel([]byte(src))
	var errs ModelErrors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("error = %v, want two problems", err)
	}
	if errs[0].Line != 2 || errs[1].Line != 3 {
		t.Errorf("lines = %d, %d; want 2, 3", errs[0].Line, errs[1].Line)
	}
}

func TestParseModelResolves(t *testing.T) {
	m := mustModel(t, testModel+"")
	company, employee := m.DataClass("Company"), m.DataClass("Employee")
	if company == nil || employee == nil || m.DataClass("company") != nil {
		t.Fatalf("DataClass lookups wrong: %v %v", company, employee)
	}
	staff := company.Attribute("staff")
	if staff.Related != employee || staff.Type != "Employee" || staff.Path != "employer" {
		t.Errorf("staff = %+v, want related Employee via employer", staff)
	}
	if emp := employee.Attribute("employer"); emp.Related != company || emp.Kind != KindRelatedEntity {
		t.Errorf("employer = %+v", emp)
	}
	if reports := employee.Attribute("reports"); reports.Related != employee {
		t.Errorf("reports.Related = %v, want Employee", reports.Related)
	}
	if secret := employee.Attribute("secret"); secret.Exposed {
		t.Errorf("secret.Exposed = true, want false")
	}
	if key := m.DataClass("Tag").Key; key.Name != "code" || key.Type != TypeString {
		t.Errorf("Tag key = %+v", key)
	}

	explicit := mustModel(t, `{"dataClasses":[{"name":"A","attributes":[{"name":"bs","kind":"relatedEntities","type":"BSelection","path":"a"}]},
		{"name":"B","attributes":[{"name":"a","kind":"relatedEntity","type":"A"}]}]}`)
	if a := explicit.DataClass("A").Attribute("bs"); a.Related != explicit.DataClass("B") || a.Type != "B" {
		t.Errorf("4D-style type BSelection not resolved: %+v", a)
	}
}

func TestImplicitKey(t *testing.T) {
	m := mustModel(t, `{"dataClasses":[{"name":"Note","attributes":[{"name":"text","type":"string"}]}]}`)
	dc := m.DataClass("Note")
	if dc.Key == nil || dc.Key.Name != "ID" || dc.Key.Type != TypeLong || !dc.Key.Autoincrement || dc.Attributes[0] != dc.Key {
		t.Fatalf("implicit key = %+v, want ID long autoincrement first", dc.Key)
	}
	if !dc.Exposed || !dc.Attribute("text").Exposed {
		t.Error("exposed should default to true")
	}
}

func TestLoadModel(t *testing.T) {
	dir := t.TempDir()
	m, err := LoadModel(filepath.Join(dir, "missing.json"))
	if err != nil || m == nil || len(m.DataClasses) != 0 {
		t.Fatalf("LoadModel(missing) = %v, %v; want an empty model", m, err)
	}
	path := filepath.Join(dir, "model.json")
	if err := os.WriteFile(path, []byte(`{"dataClasses": [{"name": 3}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadModel(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1:27: ") {
		t.Errorf("LoadModel error = %v, want it to start with %s:1:27", err, path)
	}
	if err := os.WriteFile(path, []byte(testModel), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := LoadModel(path); err != nil || m.DataClass("Employee") == nil {
		t.Errorf("LoadModel(valid) = %v, %v", m, err)
	}
}

func TestParseKey(t *testing.T) {
	m := mustModel(t, testModel)
	tests := []struct {
		dc, in string
		want   any
		ok     bool
	}{
		{"Company", "12", int64(12), true},
		{"Company", " 7 ", int64(7), true},
		{"Company", "1.5", nil, false},
		{"Company", "x", nil, false},
		{"Tag", "Go", "Go", true},
		{"Tag", "", nil, false},
		{"Token", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6BA7B8109DAD11D180B400C04FD430C8", true},
		{"Token", "6ba7b810", nil, false},
	}
	for _, tt := range tests {
		got, err := m.DataClass(tt.dc).ParseKey(tt.in)
		if tt.ok && (err != nil || got != tt.want) || !tt.ok && !isValueError(err, m.DataClass(tt.dc).Key.Name) {
			t.Errorf("%s.ParseKey(%q) = %v, %v; want %v (ok %v)", tt.dc, tt.in, got, err, tt.want, tt.ok)
		}
	}
}
