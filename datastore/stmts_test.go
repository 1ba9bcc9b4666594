package datastore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestNoCount: a Find that wants no count reads the page only; its Count is known when the
// page is short, -1 when it is full.
func TestNoCount(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		q         Query
		wantNames []string
		wantCount int
	}{
		{"FullPageNotCounted", Query{OrderBy: "name", Limit: 1, NoCount: true}, []string{"Alice Smith"}, -1},
		{"FullPageCounted", Query{OrderBy: "name", Limit: 1}, []string{"Alice Smith"}, 5},
		{"ShortPageTellsTheCount", Query{Filter: "age > :1", Params: []any{40.0}, OrderBy: "name", Limit: 10, NoCount: true}, []string{"bob jones", "Émile Zola"}, 2},
		{"NoMatch", Query{Filter: "name = 'nobody'", Limit: 1, NoCount: true}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := f.db.Find(ctx, f.employee, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(sel, true); !reflect.DeepEqual(got, tt.wantNames) {
				t.Errorf("names = %v, want %v", got, tt.wantNames)
			}
			if sel.Count != tt.wantCount {
				t.Errorf("Count = %d, want %d", sel.Count, tt.wantCount)
			}
		})
	}
}

// TestPreparedStatementsFollowTheSchema: reads run again through cached prepared statements
// (where the dialect caches them) and still see the schema as it changes: an attribute added
// by SetModel is read, written and filtered on at once.
func TestPreparedStatementsFollowTheSchema(t *testing.T) {
	const before = `{"dataClasses":[{"name":"Item","attributes":[
		{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
		{"name":"name","type":"string","indexed":true}]}]}`
	const after = `{"dataClasses":[{"name":"Item","attributes":[
		{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
		{"name":"name","type":"string","indexed":true},
		{"name":"size","type":"long"}]}]}`
	db, _ := openTest(t, before)
	ctx := context.Background()
	item := mustSave(t, db, db.Model().DataClass("Item"), map[string]any{"name": "a"})
	for range 3 {
		sel, err := db.Find(ctx, db.Model().DataClass("Item"), Query{Filter: "name = :1", Params: []any{"a"}, Limit: 1})
		if err != nil || len(sel.Entities) != 1 || sel.Count != 1 {
			t.Fatalf("find before: %v, %v", sel, err)
		}
		if _, err := db.Get(ctx, db.Model().DataClass("Item"), fmt.Sprint(item.Key)); err != nil {
			t.Fatalf("get before: %v", err)
		}
	}
	if db.stmts != nil && len(db.stmts.m) == 0 {
		t.Fatal("no statement was cached")
	}
	if err := db.SetModel(ctx, mustModel(t, after)); err != nil {
		t.Fatal(err)
	}
	dc := db.Model().DataClass("Item")
	mustSave(t, db, dc, map[string]any{"name": "b", "size": 3.0})
	for range 2 {
		sel, err := db.Find(ctx, dc, Query{Filter: "size = :1", Params: []any{3.0}, Limit: 1})
		if err != nil || len(sel.Entities) != 1 || sel.Entities[0].Values["name"] != "b" {
			t.Fatalf("find after: %v, %v", sel, err)
		}
		e, err := db.Get(ctx, dc, fmt.Sprint(item.Key))
		if err != nil {
			t.Fatalf("get after: %v", err)
		}
		if v, ok := e.Values["size"]; !ok || v != nil {
			t.Errorf("get after: size = %v (present %v), want null", v, ok)
		}
	}
}

// TestCachedFindWritesTheLimit: where reads are prepared and cached, a page's LIMIT is
// written out, not bound: SQLite plans with a bound LIMIT's value and recompiles the
// statement each time it is bound, which made the cache useless for every Find (the
// statement was re-prepared at each step: 40% of a one-entity Find).
func TestCachedFindWritesTheLimit(t *testing.T) {
	db, _ := openTest(t, testModel)
	p, err := db.plan(db.Model().DataClass("Employee"), Query{Filter: "name = :1", Params: []any{"x"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stmt, args := db.findSQL(p, 7, 3)
	if db.stmts == nil {
		if len(args) != 3 {
			t.Errorf("args %v: want the value, the limit and the offset bound", args)
		}
		return
	}
	if !strings.Contains(stmt, "LIMIT 7 ") || len(args) != 2 || args[1] != 3 {
		t.Errorf("SQL %q with args %v: want LIMIT 7 written out and the offset bound", stmt, args)
	}
}

// TestCountedFindsOnAColdCache: many counted Finds at once, each of a statement not yet
// prepared, more of them than the reader pool has connections. A Find that prepared its
// statement while holding its transaction's connection could wait for a connection held by
// another Find waiting for the cache, for ever.
func TestCountedFindsOnAColdCache(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			// A filter of its own shape, so that each Find has SQL of its own.
			filter := "age >= :1" + strings.Repeat(" OR age >= :1", i)
			sel, err := f.db.Find(ctx, f.employee, Query{Filter: filter, Params: []any{0.0}, Limit: 1})
			if err == nil && sel.Count != 4 {
				err = fmt.Errorf("%s: count %d, want 4", filter, sel.Count)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
