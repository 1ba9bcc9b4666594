package datastore

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// hostile strings meant to break out of a SQL literal or comment out the rest of a statement.
var hostile = []string{
	`x'; DROP TABLE "Employee"; --`,
	`x" OR 1=1 --`,
	`' OR '1'='1`,
	`') OR ('a'='a`,
	`*/ OR 1=1 /*`,
	`%' OR name LIKE '%`,
	"x\x00y",
	`\'; DELETE FROM Employee; --`,
	`_`,
	`%`,
}

// checkSQLShape asserts the invariants that make injection impossible: no statement separator,
// no comment, no string literal but the fixed LIKE escape.
func checkSQLShape(t testing.TB, filter, sql string) {
	t.Helper()
	rest := strings.ReplaceAll(sql, `ESCAPE '\'`, "")
	for _, bad := range []string{";", "--", "/*", "'"} {
		if strings.Contains(rest, bad) {
			t.Fatalf("filter %q compiled to SQL containing %q: %s", filter, bad, sql)
		}
	}
}

func TestInjectionThroughParams(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	for _, h := range hostile {
		for _, filter := range []string{"name = :1", "name === :1", "name begin :1", "bio % :1", "name IN :1", "name > :1"} {
			params := []any{h}
			if strings.HasSuffix(filter, "IN :1") {
				params = []any{[]any{h, h}}
			}
			sel, err := f.db.Find(ctx, f.employee, Query{Filter: filter, Params: params})
			if err != nil {
				t.Fatalf("Find(%q, %q): %v", filter, h, err)
			}
			// Only a range comparison may match anything: the hostile text is just a string.
			if !strings.Contains(filter, ">") && len(sel.Entities) != 0 {
				t.Errorf("Find(%q, %q) matched %q", filter, h, names(sel, false))
			}
		}
	}
	// A parameter holding exactly a stored value matches only that entity.
	carol, err := f.db.Find(ctx, f.employee, Query{Filter: "name === :1", Params: []any{"carol_50%"}})
	if err != nil || len(carol.Entities) != 1 {
		t.Errorf("literal match of a value with LIKE wildcards: %v, %v", carol, err)
	}
	assertIntact(t, f)
}

func TestInjectionThroughFilterText(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	var filters []string
	for _, h := range hostile {
		quoted := "'" + strings.ReplaceAll(h, "'", `\'`) + "'"
		filters = append(filters, "name = "+quoted, "name = '"+h+"'", `name = "`+h+`"`, "name IN ["+quoted+"]", h, "name = 'x' "+h)
	}
	filters = append(filters,
		"name = 'x' OR 1=1", `name/**/= 'x'`, "name = 'x'; DROP TABLE Employee", "name = 'x' -- comment",
		"employer.name = 'x' UNION SELECT 1", `"Employee".name = 'x'`, "sqlite_master.name = 'x'",
		"__stamp = 1", "name = 'x' OR __timestamp = 'y'",
	)
	for _, filter := range filters {
		p, err := f.db.plan(f.employee, Query{Filter: filter}, nil)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Errorf("filter %q: error %v is not a *QueryError", filter, err)
			}
			continue
		}
		stmt, _ := f.db.findSQL(p, 10, 0)
		checkSQLShape(t, filter, stmt)
		sel, err := f.db.Find(ctx, f.employee, Query{Filter: filter})
		if err != nil {
			t.Fatalf("filter %q compiled but failed: %v", filter, err)
		}
		if len(sel.Entities) != 0 {
			t.Errorf("filter %q matched %q", filter, names(sel, false))
		}
	}
	assertIntact(t, f)
}

func assertIntact(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	for dc, want := range map[*DataClass]int{f.employee: 5, f.company: 4} {
		if n, err := f.db.Count(ctx, dc, Query{}); n != want || err != nil {
			t.Errorf("%s count = %d, %v; want %d (data changed by a query)", dc.Name, n, err, want)
		}
	}
}
