package datastore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"gatehouse/internal/errkind"
	"gatehouse/internal/pgtest"
)

// TestAutoincrementAfterExplicitKeys: keys given explicitly (as seed.json does) move the
// generator past them on both backends, so the next generated key never collides.
func TestAutoincrementAfterExplicitKeys(t *testing.T) {
	db, _ := openTest(t, testModel)
	ctx := context.Background()
	company := db.Model().DataClass("Company")
	if _, err := db.Seed(ctx, []byte(`{"Company":[{"ID":5,"name":"a"},{"ID":2,"name":"b"}]}`)); err != nil {
		t.Fatal(err)
	}
	if got := mustSave(t, db, company, map[string]any{"name": "c"}); got.Key != int64(6) {
		t.Fatalf("generated key %v after explicit keys 5 and 2, want 6", got.Key)
	}
	mustSave(t, db, company, map[string]any{"ID": 3.0, "name": "d"}) // below: the generator stays
	if got := mustSave(t, db, company, map[string]any{"name": "e"}); got.Key != int64(7) {
		t.Fatalf("generated key %v, want 7", got.Key)
	}
}

// TestConcurrentOpensApplyTheSchemaOnce: instances starting together on one database (several
// Opens at once) all succeed, with one schema.
func TestConcurrentOpensApplyTheSchemaOnce(t *testing.T) {
	if !pgtest.Active() {
		// A SQLite file is one process's (docs: "one gatehouse process per file"); six Opens
		// racing to create one file can meet SQLITE_BUSY while it switches to WAL (seen once
		// in CI). Instances starting together on one database is PostgreSQL's case.
		t.Skip("runs in the PostgreSQL pass")
	}
	path := testPath(t, t.TempDir(), "g.db")
	m := mustModel(t, testModel)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			db, err := Open(context.Background(), path, m, Options{})
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), path, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM "__gatehouse_schema" WHERE dataclass = 'Employee'`).Scan(&n); err != nil || n != 12 {
		t.Fatalf("Employee has %d recorded attributes (%v), want 12", n, err)
	}
}

// TestPostgresLongIdentifiers: PostgreSQL would cut a name past 63 bytes. model.json refuses
// such names already; the dialect refuses them again, and the names gatehouse makes up from
// 63-byte names (shadow columns, indexes) are shortened so that they stay distinct.
func TestPostgresLongIdentifiers(t *testing.T) {
	if !pgtest.Active() {
		t.Skip("runs in the PostgreSQL pass")
	}
	long := strings.Repeat("a", 64)
	if err := (pgDialect{}).checkIdentifier(long); !errors.Is(err, ErrIncompatibleModel) || !strings.Contains(err.Error(), "63") {
		t.Fatalf("checkIdentifier(64 bytes) = %v", err)
	}
	// 63 bytes pass; the generated names (shadow columns, indexes) are shortened.
	db, err := Open(context.Background(), pgtest.NewDatabase(t), mustModel(t, `{"dataClasses":[{"name":"T","attributes":[
		{"name":"`+long[1:]+`","type":"string","indexed":true}]}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dc := db.Model().DataClass("T")
	mustSave(t, db, dc, map[string]any{long[1:]: "Xy"})
	if n, err := db.Count(context.Background(), dc, Query{Filter: long[1:] + " = 'xY'"}); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
}

// TestPostgresSeedOnce: seed.json goes into an empty PostgreSQL database once, whatever the
// number of instances; a failed seed leaves nothing and the next start seeds.
func TestPostgresSeedOnce(t *testing.T) {
	if !pgtest.Active() {
		t.Skip("runs in the PostgreSQL pass")
	}
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	m := mustModel(t, `{"dataClasses":[{"name":"People","attributes":[{"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
		{"name":"name","type":"string"},{"name":"boss","kind":"relatedEntity","type":"People"}]}]}`)
	if _, _, err := OpenSeeded(ctx, url, m, []byte(`{"People":[{"ID":1,"name":"a"},{"ID":2,"name":"b","boss":99}]}`), Options{}); err == nil {
		t.Fatal("a seed with a dangling reference succeeded")
	}
	good := []byte(`{"People":[{"ID":1,"name":"a"},{"ID":2,"name":"b","boss":1}]}`)
	for i, want := range []int{2, 0} {
		db, n, err := OpenSeeded(ctx, url, m, good, Options{})
		if err != nil || n != want {
			t.Fatalf("start %d: seeded %d, %v; want %d", i+1, n, err, want)
		}
		if i == 1 { // emptied by hand: still not seeded again
			if _, err := db.DeleteWhere(ctx, m.DataClass("People"), Query{}); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	db, n, err := OpenSeeded(ctx, url, m, good, Options{})
	if err != nil || n != 0 {
		t.Fatalf("start after emptying: seeded %d, %v; want 0", n, err)
	}
	db.Close()
}

func TestPostgresErrorKinds(t *testing.T) {
	d := pgDialect{}
	tests := []struct {
		code string
		want errkind.Kind
	}{
		{"40001", errkind.Conflict}, {"40P01", errkind.Conflict},
		{"55P03", errkind.Unavailable}, {"53300", errkind.Unavailable}, {"57P03", errkind.Unavailable}, {"08006", errkind.Unavailable},
		{"57014", errkind.Timeout}, {"42601", errkind.Other},
	}
	for _, tt := range tests {
		if got := errkind.Of(d.classify(&pgconn.PgError{Code: tt.code})); got != tt.want {
			t.Errorf("classify(%s) = %v, want %v", tt.code, got, tt.want)
		}
	}
	if !d.isDuplicateKey(&pgconn.PgError{Code: "23505"}) {
		t.Error("23505 is not a duplicate key")
	}
	if d.classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestPrefixUpperBound(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ab", "ac", true}, {"a\U0010FFFF", "b", true}, {"\U0010FFFF", "", false}, {"\uD7FF", "\uE000", true}, {"é", "ê", true},
	}
	for _, tt := range tests {
		if got, ok := prefixUpperBound(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("prefixUpperBound(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestInMixesValuesAndPatterns: an IN array holding plain strings before a pattern. SQLite's
// '?' placeholders are positional, and the list's values were bound before the pattern's but
// written after it, so SQLite compared the wrong values (PostgreSQL's $n hid it).
func TestInMixesValuesAndPatterns(t *testing.T) {
	f := seed(t)
	sel, err := f.db.Find(context.Background(), f.employee, Query{Filter: "name IN ['ALICE SMITH', 'bo@', null]", OrderBy: "ID"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range sel.Entities {
		got = append(got, fmt.Sprint(e.Values["name"]))
	}
	if strings.Join(got, "|") != "Alice Smith|bob jones" {
		t.Fatalf("got %q", got)
	}
}
