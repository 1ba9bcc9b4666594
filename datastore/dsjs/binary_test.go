package dsjs

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/datastore"
	"gatehouse/internal/pgtest"
)

// TestBinaryAttributesInScripts: a script sees a blob or picture as {size, type} or null,
// never its bytes, can clear it, and is told clearly that it cannot set it.
func TestBinaryAttributesInScripts(t *testing.T) {
	m, err := datastore.ParseModel([]byte(`{"dataClasses":[{"name":"Docs","attributes":[
	  {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
	  {"name":"title","type":"string"},{"name":"photo","type":"picture"},{"name":"file","type":"blob"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "test.db")
	if pgtest.Active() {
		path = pgtest.NewDatabase(t)
	}
	ctx := context.Background()
	db, err := datastore.Open(ctx, path, m, datastore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := m.DataClass("Docs").NewEntity()
	e.Values["title"] = "a"
	e.Values["photo"] = datastore.Binary{Data: []byte("\x89PNG\x00\x01"), Type: "image/png"}
	if _, err := db.Save(ctx, e); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, body, want string }{
		{"Metadata", `const d = ds.Docs.get(1); return [d.photo, d.file]`, `[{"size":6,"type":"image/png"},null]`},
		{"ToObject", `return ds.Docs.get(1).toObject()`, `{"ID":1,"title":"a","photo":{"size":6,"type":"image/png"},"file":null}`},
		{"NestedEntityJSON", `return [ds.Docs.get(1)]`, `[{"ID":1,"title":"a","photo":{"size":6,"type":"image/png"},"file":null}]`},
		{"SaveOtherAttributeKeepsBytes", `const d = ds.Docs.get(1); d.title = "b"; d.save(); return ds.Docs.get(1).photo`, `{"size":6,"type":"image/png"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evalJSON(t, db, tt.body); !sameJSON(t, got, tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if got := thrown(t, db, `ds.Docs.get(1).photo = "bytes"`); !strings.Contains(got, "TypeError") || !strings.Contains(got, "$upload") {
		t.Errorf("assigning bytes: %s", got)
	}
	if got := thrown(t, db, `ds.Docs.query("photo = null").length`); got == "no error" {
		t.Errorf("a query on a picture did not throw")
	}
	if b, _, err := db.Binary(ctx, m.DataClass("Docs"), "1", "photo"); err != nil || !bytes.Equal(b.Data, []byte("\x89PNG\x00\x01")) {
		t.Fatalf("bytes after script saves: %v %v", b, err)
	}
	if got := evalJSON(t, db, `const d = ds.Docs.get(1); d.photo = null; d.save(); return ds.Docs.get(1).photo`); got != "null" {
		t.Errorf("cleared: %s", got)
	}
}
