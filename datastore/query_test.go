package datastore

import (
	"context"
	"errors"
	"gatehouse/internal/pgtest"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/errkind"
)

func TestFindFilters(t *testing.T) {
	f := seed(t)
	const (
		alice = "Alice Smith"
		bob   = "bob jones"
		emile = "Émile Zola"
		carol = "Carol_50%"
		dave  = "Dave@home"
	)
	all := []string{alice, bob, emile, carol, dave}
	tests := []struct {
		name   string
		filter string
		params []any
		want   []string
	}{
		{"EmptyMatchesAll", "", nil, all},
		{"UnquotedValue", "name=dave@home", nil, []string{dave}},
		{"UnquotedWildcard", "name = al@", nil, []string{alice}},
		{"UnquotedBegin", "name begin bob", nil, []string{bob}},
		{"UnquotedThroughRelation", "employer.name!=acme AND employer != null", nil, []string{bob, carol}},
		{"UnquotedInArray", "name IN [bob@, car@]", nil, []string{bob, carol}},
		{"UnquotedNumberStaysNumber", "age = 30", nil, []string{alice}},
		{"BlankMatchesAll", "  \n", nil, all},
		{"Equal", "age = 30", nil, []string{alice}},
		{"DoubleEqual", "age == 30", nil, []string{alice}},
		{"NotEqualIncludesNull", "age != 30", nil, []string{bob, emile, carol, dave}},
		{"HashIsNotEqual", "age # 30", nil, []string{bob, emile, carol, dave}},
		{"Less", "age < 45", nil, []string{alice, carol}},
		{"LessOrEqual", "age <= 45", nil, []string{alice, bob, carol}},
		{"Greater", "age > 45", nil, []string{emile}},
		{"LongWithFraction", "age > 44.5 AND age < 45.5", nil, []string{bob}},
		{"GreaterOrEqual", "age >= 45", nil, []string{bob, emile}},
		{"NegativeAndFloatNumbers", "salary > -1.5e2 AND salary < 4000.5", nil, []string{bob}},
		{"StringIgnoresCase", "name = 'ALICE smith'", nil, []string{alice}},
		{"DoubleQuotedString", `name = "bob JONES"`, nil, []string{bob}},
		{"UnicodeIgnoresCase", "name = 'émile ZOLA'", nil, []string{emile}},
		{"WildcardPrefix", "name = 'AL@'", nil, []string{alice}},
		{"WildcardUnicodePrefix", "name = 'ÉMI@'", nil, []string{emile}},
		{"WildcardSuffix", "name = '@JONES'", nil, []string{bob}},
		{"WildcardContains", "name = '@o@'", nil, []string{bob, emile, carol, dave}},
		{"WildcardAloneMatchesNonNull", "bio = '@'", nil, []string{alice, bob, emile}},
		{"WildcardNotEqual", "name != 'a@'", nil, []string{bob, emile, carol, dave}},
		{"WildcardDoubleEqual", "name == 'b@'", nil, []string{bob}},
		{"PercentIsLiteral", "name = '@50%'", nil, []string{carol}},
		{"UnderscoreIsLiteral", "name = '@_@'", nil, []string{carol}},
		{"PercentInsideIsLiteral", "name = '@l%5@'", nil, []string{}},
		{"TripleEqualAtIsLiteral", "name === 'dave@HOME'", nil, []string{dave}},
		{"TripleEqualNoWildcard", "name === 'a@'", nil, []string{}},
		{"IsKeyword", "name IS 'Dave@home'", nil, []string{dave}},
		{"IsNot", "name is not 'dave@home'", nil, []string{alice, bob, emile, carol}},
		{"NotTripleEqual", "name !== 'dave@home'", nil, []string{alice, bob, emile, carol}},
		{"Begin", "name begin 'CAR'", nil, []string{carol}},
		{"BeginUnderscoreLiteral", "name BEGIN 'carol_5'", nil, []string{carol}},
		{"BeginAtLiteral", "name begin 'dave@'", nil, []string{dave}},
		{"BeginPercentLiteral", "name begin 'carol%'", nil, []string{}},
		{"StringRange", "name > 'c' AND name < 'e'", nil, []string{carol, dave}},
		{"InStrings", "name IN ['alice smith', 'BOB JONES']", nil, []string{alice, bob}},
		{"InWildcards", "name in ['a@', 'C@']", nil, []string{alice, carol}},
		{"InNumbersAndNull", "age IN [30, 60, null]", nil, []string{alice, emile, dave}},
		{"InPlaceholderArray", "age IN :1", []any{[]any{30.0, 45.0}}, []string{alice, bob}},
		{"InGoSlice", "age IN :1", []any{[]int64{25, 60}}, []string{emile, carol}},
		{"InEmpty", "age IN []", nil, []string{}},
		{"NotIn", "NOT(age IN [30, 45])", nil, []string{emile, carol, dave}},
		{"KeywordWord", "bio % 'go'", nil, []string{alice}},
		{"KeywordWholeWordOnly", "bio % 'john'", nil, []string{}},
		{"KeywordPrefix", "bio % 'john@'", nil, []string{bob}},
		{"KeywordUnicodeCase", "bio % 'français'", nil, []string{emile}},
		{"KeywordPhrase", "bio % 'AND sql'", nil, []string{alice}},
		{"KeywordPhraseOrder", "bio % 'sql and'", nil, []string{}},
		{"BoolTrue", "active = true", nil, []string{alice, emile}},
		{"BoolFalse", "active = FALSE", nil, []string{bob, carol}},
		{"BoolNull", "active = null", nil, []string{dave}},
		{"NotNull", "age != null", nil, []string{alice, bob, emile, carol}},
		{"IsNull", "salary IS null", nil, []string{emile, carol, dave}},
		{"NumberGreater", "salary > 4500", nil, []string{alice}},
		{"DateAfter", "hired > '2015-01-01'", nil, []string{alice, bob}},
		{"DateEqual", "hired = '2020-01-15'", nil, []string{alice}},
		{"DateRFC3339", "hired = '2018-06-01T11:30:00+02:00'", nil, []string{bob}},
		{"DateBefore", "hired < :1", []any{"2019-01-01T00:00:00Z"}, []string{bob, emile}},
		{"DateGoTime", "hired < :1", []any{time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{emile}},
		{"UUIDAnySpelling", "badge = :1", []any{strings.ToUpper(strings.ReplaceAll(badgeAlice, "-", ""))}, []string{alice}},
		{"UUIDDashed", "badge = '" + badgeAlice + "'", nil, []string{alice}},
		{"ObjectNull", "info = null", nil, []string{bob, emile, carol, dave}},
		{"ObjectNotNull", "info != null", nil, []string{alice}},
		{"PlaceholderString", "name = :1", []any{"alice smith"}, []string{alice}},
		{"PlaceholderWildcard", "name = :1", []any{"@e@"}, []string{alice, bob, emile, dave}},
		{"PlaceholderNumericString", "age = :1", []any{"30"}, []string{alice}},
		{"PlaceholderInt", "age > :1", []any{40}, []string{bob, emile}},
		{"PlaceholderNull", "age = :1", []any{nil}, []string{dave}},
		{"PlaceholderReused", "age = :2 OR age > :2", []any{"unused", 45.0}, []string{bob, emile}},
		{"And", "age > 20 AND age < 40", nil, []string{alice, carol}},
		{"AndLowercase", "age > 20 and age < 40", nil, []string{alice, carol}},
		{"Ampersand", "age > 20 & age < 40", nil, []string{alice, carol}},
		{"DoubleAmpersand", "age > 20 && age < 40", nil, []string{alice, carol}},
		{"Or", "age = 30 OR age = 60", nil, []string{alice, emile}},
		{"Pipe", "age = 30 | age = 60", nil, []string{alice, emile}},
		{"DoublePipe", "age = 30 || age = 60", nil, []string{alice, emile}},
		{"Except", "age > 20 EXCEPT age = 30", nil, []string{bob, emile, carol}},
		{"ExceptKeepsNullSide", "name = '@' EXCEPT age > 40", nil, []string{alice, carol, dave}},
		{"Not", "NOT(age = 30)", nil, []string{bob, emile, carol, dave}},
		{"NotWithoutParentheses", "not age = 30", nil, []string{bob, emile, carol, dave}},
		{"DoubleNot", "NOT(NOT(age = 30))", nil, []string{alice}},
		{"NotOfRangeIncludesNull", "NOT(age >= 30)", nil, []string{carol, dave}},
		{"AndBindsTighterThanOr", "age = 30 OR age = 45 AND active = true", nil, []string{alice}},
		{"ParenthesesGroup", "(age = 30 OR age = 45) AND active = false", nil, []string{bob}},
		{"ExceptSamePrecedenceAsOr", "age = 30 OR age = 45 EXCEPT name = 'bob@'", nil, []string{alice}},
		{"LeftToRight", "age = 30 EXCEPT age = 30 OR age = 45", nil, []string{bob}},
		{"RelationPath", "employer.name = 'acme'", nil, []string{alice, dave}},
		{"RelationChain", "employer.parent.name = 'ACME'", nil, []string{bob}},
		{"SelfRelationChain", "manager.manager.name = 'alice@'", nil, []string{carol, dave}},
		{"RelationNullPath", "employer.name = null", nil, []string{emile}},
		{"ForeignKeyNull", "employer = null", nil, []string{emile}},
		{"ForeignKeyValue", "employer = :1", []any{float64(1)}, []string{alice, dave}},
		{"RelatedKeyWithoutJoin", "employer.ID = 2", nil, []string{bob}},
		{"NotThroughRelation", "NOT(employer.name = 'acme')", nil, []string{bob, emile, carol}},
		{"CollectionPath", "reports.name = 'bob@'", nil, []string{alice}},
		{"CollectionPathThroughRelation", "manager.reports.age = 60", nil, []string{bob, emile}},
		{"RelationAndCollection", "reports.employer.name = 'globex'", nil, []string{alice}},
		{"KeywordsAsAttributeNamesStillParse", "name = 'x' OR NOT (name = 'y') AND age IN [1]", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := f.db.Find(context.Background(), f.employee, Query{Filter: tt.filter, Params: tt.params})
			if err != nil {
				t.Fatalf("Find(%q): %v", tt.filter, err)
			}
			if got, want := names(sel, false), sorted(tt.want...); !slices.Equal(got, want) {
				t.Errorf("Find(%q) = %q, want %q", tt.filter, got, want)
			}
			if sel.Count != len(tt.want) {
				t.Errorf("Count = %d, want %d", sel.Count, len(tt.want))
			}
			n, err := f.db.Count(context.Background(), f.employee, Query{Filter: tt.filter, Params: tt.params})
			if err != nil || n != len(tt.want) {
				t.Errorf("Count(%q) = %d, %v; want %d", tt.filter, n, err, len(tt.want))
			}
		})
	}
}

func TestFindThroughCollection(t *testing.T) {
	f := seed(t)
	tests := []struct {
		filter string
		want   []string
	}{
		{"staff.name = 'alice@'", []string{"Acme"}},
		{"staff.age > 40", []string{"Globex"}},
		{"NOT(staff.age > 26)", []string{"Hooli", "Initech"}},
		{"staff.manager.name = 'bob@'", []string{"Acme", "Initech"}},
		{"staff.name = 'alice@' AND staff.name = 'dave@'", []string{"Acme"}},
		{"parent.staff.name = 'alice smith'", []string{"Globex"}},
	}
	for _, tt := range tests {
		sel, err := f.db.Find(context.Background(), f.company, Query{Filter: tt.filter})
		if err != nil {
			t.Fatalf("Find(%q): %v", tt.filter, err)
		}
		if got := names(sel, false); !slices.Equal(got, tt.want) {
			t.Errorf("Find(%q) = %q, want %q", tt.filter, got, tt.want)
		}
	}
}

func TestFindErrors(t *testing.T) {
	f := seed(t)
	long := "age = 1" + strings.Repeat(" OR age = 1", 800)
	deep := strings.Repeat("(", 100) + "age = 1" + strings.Repeat(")", 100)
	tests := []struct {
		name       string
		filter     string
		params     []any
		wantReason QueryReason
		wantPos    int
	}{
		{"MissingValue", "age =", nil, ReasonSyntax, 5},
		{"DanglingAnd", "age = 30 AND", nil, ReasonSyntax, 12},
		{"UnclosedParen", "(age = 30", nil, ReasonSyntax, 9},
		{"UnterminatedString", "age = 'x", nil, ReasonSyntax, 6},
		{"UnknownCharacter", "age ~ 3", nil, ReasonSyntax, 4},
		{"MissingOperator", "age 30", nil, ReasonSyntax, 4},
		{"TrailingGarbage", "age = 30 age = 31", nil, ReasonSyntax, 9},
		{"PlaceholderZero", "age = :0", nil, ReasonSyntax, 6},
		{"PlaceholderName", "age = :x", nil, ReasonSyntax, 6},
		{"NestedArray", "age IN [[1]]", nil, ReasonSyntax, 8},
		{"TooLong", long, nil, ReasonSyntax, maxQueryLen},
		{"TooDeep", deep, nil, ReasonSyntax, maxDepth},
		{"PlaceholderMissing", "age = :1", nil, ReasonPlaceholderMissing, 6},
		{"PlaceholderBeyondParams", "age = :1 OR age = :2", []any{1.0}, ReasonPlaceholderMissing, 18},
		{"PlaceholderWrongType", "age = :1", []any{"abc"}, ReasonWrongType, 6},
		{"PlaceholderBoolForString", "name = :1", []any{true}, ReasonWrongType, 7},
		{"PlaceholderArrayNeedsIn", "name = :1", []any{[]any{"a"}}, ReasonWrongType, 7},
		{"LiteralWrongType", "age = 'abc'", nil, ReasonWrongType, 6},
		{"NumberForString", "name = 3", nil, ReasonWrongType, 7},
		{"StringForBool", "active = 'yes'", nil, ReasonWrongType, 9},
		{"BadDate", "hired = 'yesterday'", nil, ReasonWrongType, 8},
		{"BadUUID", "badge = 'nope'", nil, ReasonWrongType, 8},
		{"InNeedsArray", "age IN 3", nil, ReasonWrongType, 7},
		{"InElementWrongType", "age IN [1, 'x']", nil, ReasonWrongType, 7},
		{"ArrayNeedsIn", "age = [1, 2]", nil, ReasonWrongType, 6},
		{"ObjectOnlyNull", "info = 'x'", nil, ReasonWrongType, 7},
		{"NullWithLess", "age < null", nil, ReasonWrongType, 6},
		{"BeginNeedsString", "age begin '3'", nil, ReasonWrongType, 4},
		{"KeywordNeedsString", "age % '3'", nil, ReasonWrongType, 4},
		{"CollectionCompared", "reports = 1", nil, ReasonWrongType, 0},
		{"UnknownAttribute", "nme = 'x'", nil, ReasonUnknownAttribute, 0},
		{"NamesAreCaseSensitive", "Name = 'x'", nil, ReasonUnknownAttribute, 0},
		{"UnknownRelatedAttribute", "employer.nme = 'x'", nil, ReasonUnknownAttribute, 9},
		{"PathThroughStorage", "age.x = 1", nil, ReasonUnknownAttribute, 4},
		{"QuotedNameIsNotAPath", `"name" = 'x'`, nil, ReasonSyntax, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.db.Find(context.Background(), f.employee, Query{Filter: tt.filter, Params: tt.params})
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("Find(%q) error = %v, want a *QueryError", tt.filter, err)
			}
			if qe.Reason != tt.wantReason || qe.Pos != tt.wantPos || qe.Clause != ClauseFilter {
				t.Errorf("Find(%q) = %v at %d in %s (%s), want %v at %d in filter",
					tt.filter, qe.Reason, qe.Pos, qe.Clause, qe.Message, tt.wantReason, tt.wantPos)
			}
			wantKind := errkind.Invalid
			if tt.wantReason == ReasonUnknownAttribute {
				wantKind = errkind.NotFound
			}
			if got := errkind.Of(err); got != wantKind {
				t.Errorf("errkind.Of(Find(%q) error) = %v, want %v", tt.filter, got, wantKind)
			}
			if qe.Message == "" || strings.Contains(strings.ToUpper(qe.Message), "SELECT") {
				t.Errorf("message %q should be a readable description without SQL", qe.Message)
			}
		})
	}
}

func TestVisibleHidesAttributes(t *testing.T) {
	f := seed(t)
	visible := func(dc *DataClass, a *Attribute) bool { return a.Exposed && a.Name != "name" || dc.Name == "Company" }
	tests := []struct {
		filter, orderBy string
		wantPos         int
		wantClause      string
	}{
		{"secret = 's1'", "", 0, ClauseFilter},
		{"manager.secret begin 's'", "", 8, ClauseFilter},
		{"reports.name = 'x'", "", 8, ClauseFilter},
		{"", "age, secret", 5, ClauseOrderBy},
	}
	for _, tt := range tests {
		_, err := f.db.Find(context.Background(), f.employee, Query{Filter: tt.filter, OrderBy: tt.orderBy, Visible: visible})
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Reason != ReasonUnknownAttribute || qe.Pos != tt.wantPos || qe.Clause != tt.wantClause {
			t.Errorf("Find(%q, %q) error = %v, want unknown attribute at %d in %s", tt.filter, tt.orderBy, err, tt.wantPos, tt.wantClause)
		}
	}
	// Visible attributes still work, also through relations to visible dataclasses.
	sel, err := f.db.Find(context.Background(), f.employee, Query{Filter: "employer.name = 'acme' AND age = 30", Visible: visible})
	if err != nil || len(sel.Entities) != 1 {
		t.Fatalf("visible filter: %v, %v", sel, err)
	}
}

func TestOrderByAndPaging(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	tests := []struct {
		orderBy string
		want    []string
	}{
		{"", []string{"Alice Smith", "bob jones", "Émile Zola", "Carol_50%", "Dave@home"}}, // key order
		{"name", []string{"Alice Smith", "bob jones", "Carol_50%", "Dave@home", "Émile Zola"}},
		{"name DESC", []string{"Émile Zola", "Dave@home", "Carol_50%", "bob jones", "Alice Smith"}},
		{"age desc", []string{"Émile Zola", "bob jones", "Alice Smith", "Carol_50%", "Dave@home"}},
		{"age asc", []string{"Dave@home", "Carol_50%", "Alice Smith", "bob jones", "Émile Zola"}},
		{"active, age desc", []string{"Dave@home", "bob jones", "Carol_50%", "Émile Zola", "Alice Smith"}},
		{"employer.name desc, name", []string{"Carol_50%", "bob jones", "Alice Smith", "Dave@home", "Émile Zola"}},
		{"manager.name, ID desc", []string{"Alice Smith", "Émile Zola", "bob jones", "Dave@home", "Carol_50%"}},
	}
	for _, tt := range tests {
		sel, err := f.db.Find(ctx, f.employee, Query{OrderBy: tt.orderBy})
		if err != nil {
			t.Fatalf("Find(orderBy %q): %v", tt.orderBy, err)
		}
		if got := names(sel, true); !slices.Equal(got, tt.want) {
			t.Errorf("orderBy %q = %q, want %q", tt.orderBy, got, tt.want)
		}
	}

	pages := []struct {
		name                 string
		skip, limit          int
		want                 []string
		wantCount, wantFirst int
	}{
		{"MiddlePage", 1, 2, []string{"bob jones", "Carol_50%"}, 5, 1},
		{"LastShortPage", 4, 2, []string{"Émile Zola"}, 5, 4},
		{"ExactPage", 0, 5, []string{"Alice Smith", "bob jones", "Carol_50%", "Dave@home", "Émile Zola"}, 5, 0},
		{"PastTheEnd", 10, 2, []string{}, 5, 10},
		{"NegativeIsZero", -3, -1, []string{"Alice Smith", "bob jones", "Carol_50%", "Dave@home", "Émile Zola"}, 5, 0},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := f.db.Find(ctx, f.employee, Query{OrderBy: "name", Skip: tt.skip, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(sel, true); !slices.Equal(got, tt.want) {
				t.Errorf("page = %q, want %q", got, tt.want)
			}
			if sel.Count != tt.wantCount || sel.First != tt.wantFirst {
				t.Errorf("Count, First = %d, %d; want %d, %d", sel.Count, sel.First, tt.wantCount, tt.wantFirst)
			}
		})
	}

	errs := []struct {
		orderBy    string
		wantReason QueryReason
		wantPos    int
	}{
		{"nme", ReasonUnknownAttribute, 0},
		{"age sideways", ReasonSyntax, 4},
		{"age,", ReasonSyntax, 4},
		{"name, reports", ReasonUnknownAttribute, 6},
		{"info", ReasonWrongType, 0},
		{"employer.nme desc", ReasonUnknownAttribute, 9},
	}
	for _, tt := range errs {
		_, err := f.db.Find(ctx, f.employee, Query{OrderBy: tt.orderBy})
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Reason != tt.wantReason || qe.Pos != tt.wantPos || qe.Clause != ClauseOrderBy {
			t.Errorf("orderBy %q error = %v, want %v at %d in orderBy", tt.orderBy, err, tt.wantReason, tt.wantPos)
		}
	}
}

func TestMaxTopCapsFind(t *testing.T) {
	db, _ := openTest(t, testModel)
	db.maxTop = 3
	dc := db.Model().DataClass("Company")
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		mustSave(t, db, dc, map[string]any{"name": n})
	}
	for _, limit := range []int{0, 4, 100} {
		sel, err := db.Find(context.Background(), dc, Query{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(sel.Entities) != 3 || sel.Count != 5 {
			t.Errorf("Limit %d: got %d entities, Count %d; want 3, 5", limit, len(sel.Entities), sel.Count)
		}
	}
}

// TestIndexesServeQueries checks the plan SQLite picks, so that indexed filters, including
// case-insensitive strings, really use the indexes.
func TestIndexesServeQueries(t *testing.T) {
	pgtest.SQLiteOnly(t, "EXPLAIN QUERY PLAN; TestPostgresIndexesServeQueries covers PostgreSQL")
	f := seed(t)
	tests := []struct {
		filter, orderBy, wantIndex string
	}{
		{"age = 30", "", "Employee.age"},
		{"name = 'alice smith'", "", "Employee.name"},
		{"name = 'ali@'", "", "Employee.name"},
		{"name begin 'ali'", "", "Employee.name"},
		{"", "name", "Employee.name"},
		{"employer = 1", "", "Employee.employer"},
	}
	for _, tt := range tests {
		p, err := f.db.plan(f.employee, Query{Filter: tt.filter, OrderBy: tt.orderBy}, nil)
		if err != nil {
			t.Fatal(err)
		}
		stmt, args := f.db.findSQL(p, 10, 0)
		rows, err := f.db.r.Query("EXPLAIN QUERY PLAN "+stmt, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, `INDEX `+tt.wantIndex+" ") && !strings.HasSuffix(got, tt.wantIndex) {
			t.Errorf("filter %q order %q: plan %q does not use index %s", tt.filter, tt.orderBy, got, tt.wantIndex)
		}
	}
}

// TestKeywordsAsAttributeNames checks that NOT, IN and IS are read as attribute names where an
// operator follows them, and as keywords elsewhere.
func TestKeywordsAsAttributeNames(t *testing.T) {
	db, _ := openTest(t, `{"dataClasses":[{"name":"W","attributes":[
		{"name":"not","type":"long"},{"name":"in","type":"long"},{"name":"is","type":"string"}]}]}`)
	dc := db.Model().DataClass("W")
	mustSave(t, db, dc, map[string]any{"not": 1.0, "in": 2.0, "is": "a"})
	mustSave(t, db, dc, map[string]any{"not": 2.0, "in": 3.0, "is": "b"})
	tests := []struct {
		filter string
		want   int
	}{
		{"not = 1", 1},
		{"NOT(not = 1)", 1},
		{"not not = 1", 1},
		{"not IN [1, 2]", 2},
		{"in = 3", 1},
		{"NOT(in = 3)", 1},
		{"is IS 'a'", 1},
		{"is is not 'a'", 1},
	}
	for _, tt := range tests {
		n, err := db.Count(context.Background(), dc, Query{Filter: tt.filter})
		if err != nil || n != tt.want {
			t.Errorf("Count(%q) = %d, %v; want %d", tt.filter, n, err, tt.want)
		}
	}
}

func TestErrorStrings(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&QueryError{Reason: ReasonSyntax, Pos: 4, Message: "bad", Clause: ClauseOrderBy}, "datastore: orderBy at offset 4: bad"},
		{&QueryError{Reason: ReasonSyntax, Pos: 0, Message: "bad"}, "datastore: filter at offset 0: bad"},
		{&ValueError{Attribute: "age", Message: "expected an integer"}, `datastore: attribute "age": expected an integer`},
		{&ModelError{File: "m.json", Message: "oops"}, "m.json: oops"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
