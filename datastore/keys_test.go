package datastore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestFindKeysAndGetMany(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	keys, err := f.db.FindKeys(ctx, f.employee, Query{Filter: "age > 20", OrderBy: "age desc"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{f.emile.KeyString(), f.bob.KeyString(), f.alice.KeyString(), f.carol.KeyString()}
	if !slices.Equal(keys, want) {
		t.Fatalf("FindKeys = %v, want %v", keys, want)
	}
	t.Run("GetManyKeepsTheOrderAndSkipsMissing", func(t *testing.T) {
		got, err := f.db.GetMany(ctx, f.employee, []string{f.carol.KeyString(), "999", "x", f.alice.KeyString(), f.carol.KeyString()})
		if err != nil {
			t.Fatal(err)
		}
		if n := names(&Selection{Entities: got}, true); !slices.Equal(n, []string{"Carol_50%", "Alice Smith"}) {
			t.Fatalf("GetMany = %v", n)
		}
	})
	t.Run("QueryInsideKeys", func(t *testing.T) {
		sel, err := f.db.Find(ctx, f.employee, Query{InKeys: true, Keys: keys, Filter: "active = true", OrderBy: "name"})
		if err != nil {
			t.Fatal(err)
		}
		if n := names(sel, true); !slices.Equal(n, []string{"Alice Smith", "Émile Zola"}) {
			t.Fatalf("filter inside the set = %v", n)
		}
		sel, err = f.db.Find(ctx, f.employee, Query{InKeys: true})
		if err != nil || len(sel.Entities) != 0 {
			t.Fatalf("empty key list: %v, %v", names(sel, false), err)
		}
	})
	t.Run("StringAndUUIDKeys", func(t *testing.T) {
		tag, token := f.db.Model().DataClass("Tag"), f.db.Model().DataClass("Token")
		mustSave(t, f.db, tag, map[string]any{"code": "b", "label": "B"})
		mustSave(t, f.db, tag, map[string]any{"code": "a'x", "label": "A"})
		tk := mustSave(t, f.db, token, map[string]any{"note": "n"})
		got, err := f.db.GetMany(ctx, tag, []string{"a'x", "b", "zz"})
		if err != nil || len(got) != 2 || got[0].KeyString() != "a'x" {
			t.Fatalf("tags = %v, %v", got, err)
		}
		keys, err := f.db.FindKeys(ctx, token, Query{})
		if err != nil || !slices.Equal(keys, []string{tk.KeyString()}) {
			t.Fatalf("token keys = %v, %v; want %s", keys, err, tk.KeyString())
		}
		got, err = f.db.GetMany(ctx, token, keys)
		if err != nil || len(got) != 1 {
			t.Fatalf("tokens = %v, %v", got, err)
		}
	})
}

func TestDateIn4DRESTForm(t *testing.T) {
	for in, want := range map[string]string{"25!12!2020": "2020-12-25", "5!1!2021": "2021-01-05", "2020-12-25": "2020-12-25"} {
		got, err := parseDate(in)
		if err != nil || got.Format("2006-01-02") != want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseDate("32!12!2020"); err == nil {
		t.Error("parseDate accepted day 32")
	}
}

func TestAggregateAndDistinct(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	got, err := f.db.Aggregate(ctx, f.employee, Query{Filter: "age != null"}, "age")
	if err != nil {
		t.Fatal(err)
	}
	// ages 30, 45, 60, 25
	if got.Count != 4 || got.Sum != 160 || got.Average != 40 || got.Min != int64(25) || got.Max != int64(60) {
		t.Fatalf("Aggregate(age) = %+v", got)
	}
	names, err := f.db.Aggregate(ctx, f.employee, Query{}, "name")
	if err != nil || names.Count != 5 || names.Min != "Alice Smith" || names.Sum != 0 {
		t.Fatalf("Aggregate(name) = %+v, %v", names, err)
	}
	none, err := f.db.Aggregate(ctx, f.employee, Query{Filter: "age > 100"}, "salary")
	if err != nil || none.Count != 0 || none.Min != nil || none.Average != 0 {
		t.Fatalf("Aggregate of nothing = %+v, %v", none, err)
	}
	if _, err := f.db.Aggregate(ctx, f.employee, Query{}, "info"); err == nil {
		t.Fatal("Aggregate of an object attribute: no error")
	}
	d, err := f.db.Distinct(ctx, f.employee, Query{Filter: "age < 50"}, "active")
	if err != nil || len(d) != 2 || d[0] != false || d[1] != true {
		t.Fatalf("Distinct(active) = %v, %v", d, err)
	}
	d, err = f.db.Distinct(ctx, f.company, Query{}, "name")
	if err != nil || len(d) != 4 || d[0] != "Acme" {
		t.Fatalf("Distinct(name) = %v, %v", d, err)
	}
	if _, err := f.db.Distinct(ctx, f.employee, Query{}, "employer"); err == nil {
		t.Fatal("Distinct of a relation: no error")
	}
}

func TestObjectPaths(t *testing.T) {
	db, _ := openTest(t, testModel)
	ctx := context.Background()
	emp := db.Model().DataClass("Employee")
	for name, info := range map[string]any{
		"a": map[string]any{"n": 5.0, "s": "abc", "b": true, "deep": map[string]any{"x": 1.0}},
		"b": map[string]any{"n": 12.5, "s": "ABD", "b": false},
		"c": map[string]any{"n": "7", "s": 3.0, "z": nil},
		"d": nil,
	} {
		mustSave(t, db, emp, map[string]any{"name": name, "info": info})
	}
	tests := []struct {
		filter, order string
		want          []string
	}{
		{"info.n = 5", "", []string{"a"}},
		{"info.n > 6", "", []string{"b"}}, // "7" is a string: numbers compare with numbers only
		{"info.n < 100", "", []string{"a", "b"}},
		{"info.s == 'abc'", "", []string{"a"}},
		{"info.s = 'ABC'", "", []string{}}, // exact: no case folding inside objects
		{"info.s > 'abd'", "", []string{}},
		{"info.s >= 'AB'", "", []string{"a", "b"}},
		{"info.b = true", "", []string{"a"}},
		{"info.b = false", "", []string{"b"}},
		{"info.deep.x = 1", "", []string{"a"}},
		{"info.z = null", "", []string{"a", "b", "c", "d"}}, // a missing key is null
		{"info.s != null", "", []string{"a", "b", "c"}},
		{"info.n != 5", "", []string{"b", "c", "d"}},
		{"", "info.n desc", []string{"b", "a", "c", "d"}},
		{"", "info.s", []string{"d", "b", "a", "c"}}, // non-numbers (nulls) first, then by text
	}
	for _, tt := range tests {
		sel, err := db.Find(ctx, emp, Query{Filter: tt.filter, OrderBy: tt.order})
		if err != nil {
			t.Fatalf("filter %q order %q: %v", tt.filter, tt.order, err)
		}
		ordered := tt.order != ""
		if got, want := names(sel, ordered), tt.want; !slices.Equal(got, want) {
			if !ordered {
				want = sorted(want...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("filter %q order %q = %v, want %v", tt.filter, tt.order, got, want)
			}
		}
	}
	for _, bad := range []string{"info.n IN [1]", "info.s begin 'a'", "info.b > true"} {
		if _, err := db.Find(ctx, emp, Query{Filter: bad}); err == nil {
			t.Errorf("filter %q: no error", bad)
		}
	}
}

func TestExplain(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	st, err := f.db.Explain(ctx, f.employee, Query{Filter: "name = 'b@' OR (age > :1 AND NOT(active = true))", Params: []any{40}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(s *PlanStep, depth int)
	walk = func(s *PlanStep, depth int) {
		got = append(got, fmt.Sprintf("%s%s (%d)", strings.Repeat(" ", depth), s.Description, s.Found))
		for _, c := range s.Steps {
			walk(c, depth+1)
		}
	}
	walk(st, 0)
	want := []string{
		"Or (1)",
		" [index : Employee.name ] = b@ (1)",
		" And (1)",
		"  [index : Employee.age ] > :1 (2)",
		"  Not (3)",
		"   Employee.active = true (2)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Explain =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st, err := f.db.Explain(ctx, f.employee, Query{}, true); err != nil || st != nil {
		t.Fatalf("no filter: %v, %v", st, err)
	}
	if _, err := f.db.Explain(ctx, f.employee, Query{Filter: "nope = 1"}, false); err == nil {
		t.Fatal("unknown attribute: no error")
	}
}
