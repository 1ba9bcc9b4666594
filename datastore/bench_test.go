package datastore

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
)

const (
	benchEntities = 100_000
	benchGroups   = 1000 // so each group holds 100 entities
)

const benchModel = `{"dataClasses":[{"name":"Item","attributes":[
	{"name":"name","type":"string","indexed":true},
	{"name":"grp","type":"long","indexed":true},
	{"name":"price","type":"number"}]}]}`

// benchDB opens a database holding benchEntities items, inserted in one transaction.
func benchDB(b *testing.B) (*DB, *DataClass) {
	b.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), mustModel(b, benchModel), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO "Item" ("name", "grp", "price", "__stamp", "__timestamp") VALUES (?, ?, ?, 1, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	ts := db.d.encodeTime(epoch)
	for i := range benchEntities {
		if _, err := stmt.ExecContext(ctx, fmt.Sprintf("Item %06d", i), int64(i%benchGroups), float64(i)/10, ts); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return db, db.Model().DataClass("Item")
}

// BenchmarkFindIndexed finds 100 of 100 000 entities through an indexed long attribute.
func BenchmarkFindIndexed(b *testing.B) {
	db, dc := benchDB(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		sel, err := db.Find(ctx, dc, Query{Filter: "grp = :1", Params: []any{float64(i % benchGroups)}, Limit: 100})
		if err != nil || len(sel.Entities) != 100 {
			b.Fatalf("Find: %d entities, %v", len(sel.Entities), err)
		}
		i++
	}
}

// BenchmarkFindIndexedString finds 100 of 100 000 entities by a case-insensitive prefix of an
// indexed string attribute.
func BenchmarkFindIndexedString(b *testing.B) {
	db, dc := benchDB(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		prefix := fmt.Sprintf("ITEM %04d@", i%1000)
		sel, err := db.Find(ctx, dc, Query{Filter: "name = :1", Params: []any{prefix}, Limit: 100})
		if err != nil || len(sel.Entities) != 100 {
			b.Fatalf("Find(%s): %d entities, %v", prefix, len(sel.Entities), err)
		}
		i++
	}
}

// BenchmarkGet reads one entity by key.
func BenchmarkGet(b *testing.B) {
	db, dc := benchDB(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		e, err := db.Get(ctx, dc, strconv.Itoa(i%benchEntities+1))
		if err != nil || e.Values["grp"] != int64(i%benchGroups) {
			b.Fatalf("Get: %v, %v", e, err)
		}
		i++
	}
}
