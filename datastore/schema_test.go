package datastore

import (
	"bytes"
	"context"
	"errors"
	"gatehouse/internal/pgtest"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

const (
	modelV1 = `{"dataClasses":[{"name":"Users","attributes":[
		{"name":"name","type":"string","indexed":true}]}]}`
	// v2 adds an attribute, a relation and a dataclass.
	modelV2 = `{"dataClasses":[{"name":"Users","attributes":[
		{"name":"name","type":"string","indexed":true},
		{"name":"email","type":"string","indexed":true},
		{"name":"team","kind":"relatedEntity","type":"Teams"}]},
		{"name":"Teams","attributes":[{"name":"title","type":"string"}]}]}`
	// v3 removes email and the Teams dataclass.
	modelV3 = `{"dataClasses":[{"name":"Users","attributes":[
		{"name":"name","type":"string"}]}]}`
)

func reopen(t *testing.T, path, src string) (*DB, error) {
	t.Helper()
	var m *Model
	if src != "" {
		m = mustModel(t, src)
	}
	db, err := Open(context.Background(), path, m, Options{})
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}

func TestSchemaEvolvesWithoutDataLoss(t *testing.T) {
	ctx := context.Background()
	path := testPath(t, t.TempDir(), "gatehouse.db")

	db, err := reopen(t, path, modelV1)
	if err != nil {
		t.Fatal(err)
	}
	ann := mustSave(t, db, db.Model().DataClass("Users"), map[string]any{"name": "Ann"})
	db.Close()

	// v2: the old entity is intact and the new attribute, relation and dataclass work.
	if db, err = reopen(t, path, modelV2); err != nil {
		t.Fatal(err)
	}
	users, teams := db.Model().DataClass("Users"), db.Model().DataClass("Teams")
	got, err := db.Get(ctx, users, ann.KeyString())
	if err != nil || got.Values["name"] != "Ann" || got.Values["email"] != nil {
		t.Fatalf("after v2: %v, %v; want Ann with null email", got, err)
	}
	team := mustSave(t, db, teams, map[string]any{"title": "Core"})
	got.Values["email"] = "ann@example.com"
	got.Values["team"] = team.Key
	if _, err := db.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// v3: email and Teams are gone from the model, but not from the file.
	if db, err = reopen(t, path, modelV3); err != nil {
		t.Fatal(err)
	}
	got, err = db.Get(ctx, db.Model().DataClass("Users"), ann.KeyString())
	if err != nil || got.Values["name"] != "Ann" {
		t.Fatalf("after v3: %v, %v", got, err)
	}
	if _, ok := got.Values["email"]; ok {
		t.Error("a removed attribute should not appear in Values")
	}
	if _, err := db.Find(ctx, db.Model().DataClass("Users"), Query{Filter: "email = 'x'"}); err == nil {
		t.Error("filtering on a removed attribute should fail")
	}
	// Saving under v3 must not disturb the hidden column.
	if _, err := db.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Back to v2: the removed column and dataclass come back with their data.
	if db, err = reopen(t, path, modelV2); err != nil {
		t.Fatal(err)
	}
	got, err = db.Get(ctx, db.Model().DataClass("Users"), ann.KeyString())
	if err != nil || got.Values["email"] != "ann@example.com" || got.Values["team"] != team.Key || got.Stamp != 3 {
		t.Fatalf("back to v2: %v, %v; want email, team and stamp 3 kept", got, err)
	}
	if n, _ := db.Count(ctx, db.Model().DataClass("Teams"), Query{}); n != 1 {
		t.Errorf("Teams count = %d, want 1", n)
	}
}

func TestSchemaRefusesIncompatibleChanges(t *testing.T) {
	path := testPath(t, t.TempDir(), "gatehouse.db")
	db, err := reopen(t, path, modelV2)
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, db, db.Model().DataClass("Users"), map[string]any{"name": "Ann"})
	db.Close()
	tests := map[string]string{
		"TypeChanged":       `{"dataClasses":[{"name":"Users","attributes":[{"name":"name","type":"long"}]}]}`,
		"KeyChanged":        `{"dataClasses":[{"name":"Users","attributes":[{"name":"uid","type":"uuid","primaryKey":true}]}]}`,
		"RelationRetyped":   `{"dataClasses":[{"name":"Users","attributes":[{"name":"team","kind":"relatedEntity","type":"Users"}]}]}`,
		"StorageToRelation": `{"dataClasses":[{"name":"Users","attributes":[{"name":"email","kind":"relatedEntity","type":"Users"}]}]}`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := reopen(t, path, src); !errors.Is(err, ErrIncompatibleModel) {
				t.Errorf("Open error = %v, want ErrIncompatibleModel", err)
			}
		})
	}
	// The refused models changed nothing.
	db, err = reopen(t, path, modelV2)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Count(context.Background(), db.Model().DataClass("Users"), Query{Filter: "name = 'ann'"}); n != 1 {
		t.Errorf("Count = %d after refused models, want 1", n)
	}
}

func TestSetModelLive(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	db, err := Open(ctx, testPath(t, t.TempDir(), "g.db"), mustModel(t, modelV1),
		Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := db.Model().DataClass("Users")
	mustSave(t, db, old, map[string]any{"name": "Ann"})

	if err := db.SetModel(ctx, mustModel(t, modelV2)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "added column Users.email") || !strings.Contains(logs.String(), "created table Teams") {
		t.Errorf("schema changes not logged: %s", logs.String())
	}
	// A dataclass from the old model resolves to the new one, so new attributes are visible.
	sel, err := db.Find(ctx, old, Query{Filter: "email = null AND name = 'ann'"})
	if err != nil || sel.Count != 1 || sel.DataClass != db.Model().DataClass("Users") {
		t.Fatalf("Find with old dataclass after SetModel: %v, %v", sel, err)
	}

	bad := mustModel(t, `{"dataClasses":[{"name":"Users","attributes":[{"name":"name","type":"bool"}]}]}`)
	if err := db.SetModel(ctx, bad); !errors.Is(err, ErrIncompatibleModel) {
		t.Fatalf("SetModel(bad) error = %v", err)
	}
	if db.Model().DataClass("Teams") == nil {
		t.Error("a refused model replaced the current one")
	}
	if err := db.SetModel(ctx, nil); err != nil || len(db.Model().DataClasses) != 0 {
		t.Errorf("SetModel(nil) = %v, want an empty model", err)
	}
	if _, err := db.Find(ctx, old, Query{}); !errors.Is(err, ErrUnknownDataClass) {
		t.Errorf("Find on a dataclass removed from the model: %v, want ErrUnknownDataClass", err)
	}
}

func TestOpenRejectsUnparsedModel(t *testing.T) {
	m := &Model{DataClasses: []*DataClass{{Name: "A"}}}
	if _, err := Open(context.Background(), testPath(t, t.TempDir(), "g.db"), m, Options{}); err == nil {
		t.Error("Open accepted a dataclass without key")
	}
}

func TestOpenOddPath(t *testing.T) {
	pgtest.SQLiteOnly(t, "file paths")
	path := filepath.Join(t.TempDir(), "a dir?#%x", "new", "g.db")
	db, err := reopen(t, path, modelV1)
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, db, db.Model().DataClass("Users"), map[string]any{"name": "Ann"})
	db.Close()
	db, err = reopen(t, path, modelV1)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Count(context.Background(), db.Model().DataClass("Users"), Query{}); n != 1 {
		t.Errorf("Count = %d after reopening %q, want 1", n, path)
	}
}

// TestReadersCannotWrite guards the defence in depth: queries run on query-only connections.
func TestReadersCannotWrite(t *testing.T) {
	pgtest.SQLiteOnly(t, "the reader pool and WAL")
	db, _ := openTest(t, modelV1)
	if _, err := db.r.Exec(`DELETE FROM "Users"`); err == nil {
		t.Error("a reader connection accepted a DELETE")
	}
	var mode string
	if err := db.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.r.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
}
