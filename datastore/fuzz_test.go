package datastore

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseQuery feeds arbitrary filters to the parser and compiler (seed corpus in
// testdata/fuzz/FuzzParseQuery). Neither may panic; a failure must be a *QueryError positioned
// inside the text; a success must bind exactly as many values as it has placeholders and keep
// every value out of the SQL text.
func FuzzParseQuery(f *testing.F) {
	f.Add("age = 30")
	f.Add("name = :1 OR employer.name IN :4")
	m := mustModel(f, testModel)
	dc := m.DataClass("Employee")
	db := &DB{d: sqliteDialect{}} // compiling needs no connection
	params := []any{"a@b", 3.0, true, []any{"x", 1.0, nil}, nil}
	f.Fuzz(func(t *testing.T, filter string) {
		for _, q := range []Query{{Filter: filter, Params: params}, {OrderBy: filter}} {
			p, err := db.plan(dc, q, nil)
			if err != nil {
				var qe *QueryError
				if !errors.As(err, &qe) {
					t.Fatalf("plan(%q): %v is not a *QueryError", filter, err)
				}
				if qe.Pos < 0 || qe.Pos > len(filter) || qe.Message == "" {
					t.Fatalf("plan(%q): bad error %+v", filter, qe)
				}
				continue
			}
			stmt, args := db.findSQL(p, 10, 0)
			if got := strings.Count(stmt, "?"); got != len(args) {
				t.Fatalf("plan(%q): %d placeholders for %d arguments: %s", filter, got, len(args), stmt)
			}
			checkSQLShape(t, filter, stmt)
		}
	})
}
