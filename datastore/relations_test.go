package datastore

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestRelatedEntity(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	got, err := f.db.RelatedEntity(ctx, f.bob, "employer")
	if err != nil || got.Values["name"] != "Globex" {
		t.Fatalf("bob.employer = %v, %v; want Globex", got, err)
	}
	parent, err := f.db.RelatedEntity(ctx, got, "parent")
	if err != nil || parent.Values["name"] != "Acme" {
		t.Fatalf("globex.parent = %v, %v; want Acme", parent, err)
	}
	if none, err := f.db.RelatedEntity(ctx, f.emile, "employer"); none != nil || err != nil {
		t.Errorf("emile.employer = %v, %v; want nil, nil", none, err)
	}
	// An entity holding only its key still navigates.
	partial := &Entity{DataClass: f.employee, Key: f.bob.Key}
	if got, err := f.db.RelatedEntity(ctx, partial, "manager"); err != nil || got.Values["name"] != "Alice Smith" {
		t.Errorf("partial bob.manager = %v, %v", got, err)
	}
	for _, attr := range []string{"name", "reports", "nope"} {
		if _, err := f.db.RelatedEntity(ctx, f.bob, attr); !errors.Is(err, ErrUnknownAttribute) {
			t.Errorf("RelatedEntity(%q) error = %v, want ErrUnknownAttribute", attr, err)
		}
	}
}

func TestRelatedEntities(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	tests := []struct {
		owner *Entity
		attr  string
		q     Query
		want  []string
		count int
	}{
		{f.acme, "staff", Query{OrderBy: "name"}, []string{"Alice Smith", "Dave@home"}, 2},
		{f.acme, "staff", Query{Filter: "age > :1", Params: []any{20.0}}, []string{"Alice Smith"}, 1},
		{f.hooli, "staff", Query{}, []string{}, 0},
		{f.alice, "reports", Query{OrderBy: "age desc"}, []string{"Émile Zola", "bob jones"}, 2},
		{f.alice, "reports", Query{OrderBy: "age desc", Skip: 1, Limit: 1}, []string{"bob jones"}, 2},
		{f.bob, "reports", Query{Filter: "employer.name = 'initech'"}, []string{"Carol_50%"}, 1},
	}
	for _, tt := range tests {
		sel, err := f.db.RelatedEntities(ctx, tt.owner, tt.attr, tt.q)
		if err != nil {
			t.Fatalf("%v.%s: %v", tt.owner.Values["name"], tt.attr, err)
		}
		if got := names(sel, true); !slices.Equal(got, tt.want) || sel.Count != tt.count {
			t.Errorf("%v.%s %+v = %q (count %d), want %q (count %d)", tt.owner.Values["name"], tt.attr, tt.q, got, sel.Count, tt.want, tt.count)
		}
	}
	if _, err := f.db.RelatedEntities(ctx, f.bob, "manager", Query{}); !errors.Is(err, ErrUnknownAttribute) {
		t.Errorf("RelatedEntities on N→1: %v, want ErrUnknownAttribute", err)
	}
}

func TestDropClearsReferences(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	if err := f.db.Drop(ctx, f.acme); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Entity{f.alice, f.dave} {
		got, err := f.db.Get(ctx, f.employee, e.KeyString())
		if err != nil {
			t.Fatal(err)
		}
		if got.Values["employer"] != nil || got.Stamp != e.Stamp+1 {
			t.Errorf("%v: employer %v stamp %d, want null and stamp %d", e.Values["name"], got.Values["employer"], got.Stamp, e.Stamp+1)
		}
	}
	globex, _ := f.db.Get(ctx, f.company, f.globex.KeyString())
	if globex.Values["parent"] != nil {
		t.Errorf("globex.parent = %v, want null", globex.Values["parent"])
	}
	// Dropping without a stamp (as REST's delete by key does) is unconditional.
	if err := f.db.Drop(ctx, &Entity{DataClass: f.employee, Key: "2"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.db.Count(ctx, f.employee, Query{Filter: "manager = 2"}); n != 0 {
		t.Errorf("%d employees still managed by a dropped one", n)
	}
}

func TestDeleteWhere(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	// The filter looks through the relation that deleting clears: keys must be read first.
	n, err := f.db.DeleteWhere(ctx, f.company, Query{Filter: "staff.name = 'alice@' OR staff.age > 40"})
	if err != nil || n != 2 {
		t.Fatalf("DeleteWhere = %d, %v; want 2", n, err)
	}
	sel, _ := f.db.Find(ctx, f.company, Query{})
	if got := names(sel, false); !slices.Equal(got, []string{"Hooli", "Initech"}) {
		t.Errorf("companies left = %q", got)
	}
	n, err = f.db.DeleteWhere(ctx, f.employee, Query{OrderBy: "name desc", Limit: 2})
	if err != nil || n != 2 {
		t.Fatalf("DeleteWhere with limit = %d, %v; want 2", n, err)
	}
	sel, _ = f.db.Find(ctx, f.employee, Query{})
	if got := names(sel, false); !slices.Equal(got, []string{"Alice Smith", "Carol_50%", "bob jones"}) {
		t.Errorf("employees left = %q", got)
	}
	if _, err := f.db.DeleteWhere(ctx, f.employee, Query{Filter: "age ="}); err == nil {
		t.Error("DeleteWhere with a bad filter succeeded")
	}
	if n, err := f.db.DeleteWhere(ctx, f.employee, Query{}); n != 3 || err != nil {
		t.Errorf("DeleteWhere(all) = %d, %v; want 3", n, err)
	}
}
