package datastore

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"gatehouse/internal/pgtest"
)

const (
	benchEntities = 100_000
	benchGroups   = 1000 // so each group holds 100 entities
)

const benchModel = `{"dataClasses":[{"name":"Item","attributes":[
	{"name":"name","type":"string","indexed":true},
	{"name":"grp","type":"long","indexed":true},
	{"name":"price","type":"number"}]}]}`

// benchDB opens a database holding benchEntities items, inserted in one transaction: a SQLite
// file, or in pgtest's PostgreSQL pass a PostgreSQL database.
func benchDB(b *testing.B) (*DB, *DataClass) {
	b.Helper()
	ctx := context.Background()
	db, err := Open(ctx, testPath(b, b.TempDir(), "bench.db"), mustModel(b, benchModel), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	q, ph := db.d.quote, db.d.placeholder
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO "Item" ("name", `+q(foldColumn(db.Model().DataClass("Item").Attribute("name")))+
		`, "grp", "price", "__stamp", "__timestamp") VALUES (`+ph(1)+", "+ph(2)+", "+ph(3)+", "+ph(4)+", 1, "+ph(5)+")")
	if err != nil {
		b.Fatal(err)
	}
	ts := db.d.encodeTime(epoch)
	for i := range benchEntities {
		name := fmt.Sprintf("Item %06d", i)
		if _, err := stmt.ExecContext(ctx, name, foldText(name), int64(i%benchGroups), float64(i)/10, ts); err != nil {
			b.Fatal(err)
		}
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if db.d.name() == "postgres" {
		if _, err := db.w.ExecContext(ctx, `ANALYZE "Item"`); err != nil {
			b.Fatal(err)
		}
	}
	return db, db.Model().DataClass("Item")
}

// backend names the sub-benchmark after the pass (pgtest runs the benchmarks on SQLite, then
// on PostgreSQL), so one run prints both side by side.
func backend() string {
	if pgtest.Active() {
		return "postgres"
	}
	return "sqlite"
}

// BenchmarkFindIndexed finds 100 of 100 000 entities through an indexed long attribute.
func BenchmarkFindIndexed(b *testing.B) {
	b.Run(backend(), func(b *testing.B) {
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
	})
}

// BenchmarkFindIndexedString finds 100 of 100 000 entities by a case-insensitive prefix of an
// indexed string attribute.
func BenchmarkFindIndexedString(b *testing.B) {
	b.Run(backend(), func(b *testing.B) {
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
	})
}

// BenchmarkGet reads one entity by key.
func BenchmarkGet(b *testing.B) {
	b.Run(backend(), func(b *testing.B) {
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
	})
}

// BenchmarkBatchUpdate saves 100 entities in one SaveAll (one transaction, stamps checked).
func BenchmarkBatchUpdate(b *testing.B) {
	b.Run(backend(), func(b *testing.B) {
		db, dc := benchDB(b)
		ctx := context.Background()
		sel, err := db.Find(ctx, dc, Query{Filter: "grp = 7", Limit: 100})
		if err != nil || len(sel.Entities) != 100 {
			b.Fatalf("Find: %v", err)
		}
		batch := sel.Entities
		i := 0
		for b.Loop() {
			for _, e := range batch {
				e.Values = map[string]any{"price": float64(i), "name": fmt.Sprintf("Renamed %d", i)}
			}
			if batch, err = db.SaveAll(ctx, batch); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
