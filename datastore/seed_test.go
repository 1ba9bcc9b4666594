package datastore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestSeedOnceAllOrNothing(t *testing.T) {
	ctx := context.Background()
	m, err := ParseModel([]byte(`{"dataClasses":[
	  {"name":"People","attributes":[{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},{"name":"name","type":"string"},
	    {"name":"boss","kind":"relatedEntity","type":"People"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), m, Options{})
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
