package datastore

import (
	"context"
	"errors"
	"gatehouse/internal/pgtest"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/errkind"
)

func TestSeedOnceAllOrNothing(t *testing.T) {
	ctx := context.Background()
	m, err := ParseModel([]byte(`{"dataClasses":[
	  {"name":"People","attributes":[{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},{"name":"name","type":"string"},
	    {"name":"boss","kind":"relatedEntity","type":"People"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, testPath(t, t.TempDir(), "x.db"), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dc := m.DataClass("People")

	// A bad entity anywhere means nothing is stored.
	_, err = db.Seed(ctx, []byte(`{"People":[{"ID":1,"name":"a"},{"ID":2,"name":"b","boss":99}]}`))
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValueError", err)
	}
	if n, _ := db.Count(ctx, dc, Query{}); n != 0 {
		t.Fatalf("a failed seed left %d entities", n)
	}
	n, err := db.Seed(ctx, []byte(`{"People":[{"ID":1,"name":"a"},{"ID":2,"name":"b","boss":1}]}`))
	if err != nil || n != 2 {
		t.Fatalf("seed: %d %v", n, err)
	}
	e, err := db.Get(ctx, dc, "2")
	if err != nil || e.Values["boss"] != int64(1) {
		t.Fatalf("seeded relation: %v %v", e, err)
	}
	if n, err := db.Seed(ctx, []byte(`{"People":[{"ID":3,"name":"c"}]}`)); err != nil || n != 0 {
		t.Fatalf("second seed: %d %v, want nothing done", n, err)
	}
	if _, err := db.Seed(ctx, []byte(`{"Nobody":[{}]}`)); !errors.Is(err, ErrUnknownDataClass) {
		t.Fatalf("unknown dataclass: %v", err)
	}
}

func TestOpenSeededLeavesNothingAfterAFailedSeed(t *testing.T) {
	pgtest.SQLiteOnly(t, "a seed leaves no file; TestPostgresSeedOnce covers PostgreSQL")
	ctx := context.Background()
	m := mustModel(t, `{"dataClasses":[
	  {"name":"People","attributes":[{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},{"name":"name","type":"string"},
	    {"name":"boss","kind":"relatedEntity","type":"People"}]}]}`)
	path := filepath.Join(t.TempDir(), "data", "gatehouse.db")
	files := []string{path, path + "-wal", path + "-shm", path + "-journal"}

	// The second entity refers to a boss that does not exist: the seed fails half-way.
	db, n, err := OpenSeeded(ctx, path, m, []byte(`{"People":[{"ID":1,"name":"a"},{"ID":2,"name":"b","boss":99}]}`), Options{})
	var ve *ValueError
	if !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), "seed.json: ") || errkind.Of(err) != errkind.Invalid {
		t.Fatalf("bad seed: got %v, want a ValueError prefixed with seed.json", err)
	}
	if db != nil || n != 0 {
		t.Fatalf("bad seed: got a database and %d entities", n)
	}
	for _, f := range files {
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a failed seed left %s behind (%v)", filepath.Base(f), err)
		}
	}

	// The next start seeds again.
	good := []byte(`{"People":[{"ID":1,"name":"a"},{"ID":2,"name":"b","boss":1}]}`)
	db, n, err = OpenSeeded(ctx, path, m, good, Options{})
	if err != nil || n != 2 {
		t.Fatalf("good seed: %d %v, want 2 entities", n, err)
	}
	if e, err := db.Get(ctx, m.DataClass("People"), "2"); err != nil || e.Values["boss"] != int64(1) {
		t.Fatalf("seeded entity: %v %v", e, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The database exists: no seed, even one that would fail, and the data is kept.
	db, n, err = OpenSeeded(ctx, path, m, []byte(`{"People":[{"ID":3,"name":"c"}]}`), Options{})
	if err != nil || n != 0 {
		t.Fatalf("third start: %d %v, want nothing seeded", n, err)
	}
	defer db.Close()
	if c, err := db.Count(ctx, m.DataClass("People"), Query{}); err != nil || c != 2 {
		t.Fatalf("third start: %d entities (%v), want the 2 seeded first", c, err)
	}
	if _, _, err := OpenSeeded(ctx, filepath.Join(t.TempDir(), "x.db"), m, []byte(`not json`), Options{}); err == nil {
		t.Fatal("a malformed seed.json: no error")
	}
}

func TestOpenSeededWithoutSeed(t *testing.T) {
	pgtest.SQLiteOnly(t, "database files")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	m := mustModel(t, `{"dataClasses":[{"name":"People","attributes":[{"name":"name","type":"string"}]}]}`)
	db, n, err := OpenSeeded(ctx, path, m, nil, Options{})
	if err != nil || n != 0 {
		t.Fatalf("no seed: %d %v", n, err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no seed: the database was not created: %v", err)
	}
}
