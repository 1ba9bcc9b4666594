package datastore

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// snapshotReads is what both a DB and a Snapshot read with.
type snapshotReads interface {
	Find(ctx context.Context, dc *DataClass, q Query) (*Selection, error)
	Get(ctx context.Context, dc *DataClass, key string) (*Entity, error)
	GetMany(ctx context.Context, dc *DataClass, keys []string) ([]*Entity, error)
	FindKeys(ctx context.Context, dc *DataClass, q Query) ([]string, error)
	RelatedKeys(ctx context.Context, e *Entity, attr string, q Query) ([]string, error)
	Count(ctx context.Context, dc *DataClass, q Query) (int, error)
	Aggregate(ctx context.Context, dc *DataClass, q Query, attr string) (Aggregates, error)
	Distinct(ctx context.Context, dc *DataClass, q Query, attr string) ([]any, error)
	Explain(ctx context.Context, dc *DataClass, q Query, counts bool) (*PlanStep, error)
}

var (
	_ snapshotReads = (*DB)(nil)
	_ snapshotReads = (*Snapshot)(nil)
)

// snapshotFirstReads are the ways a snapshot's transaction can begin: one read of each kind.
var snapshotFirstReads = map[string]func(ctx context.Context, f *fixture, r snapshotReads) error{
	"Get": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.Get(ctx, f.employee, f.alice.KeyString())
		return err
	},
	"GetMany": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.GetMany(ctx, f.employee, []string{f.bob.KeyString()})
		return err
	},
	"FindKeys": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.FindKeys(ctx, f.company, Query{})
		return err
	},
	"RelatedKeys": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.RelatedKeys(ctx, f.bob, "reports", Query{})
		return err
	},
	"Count": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.Count(ctx, f.company, Query{})
		return err
	},
	"Aggregate": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.Aggregate(ctx, f.employee, Query{}, "salary")
		return err
	},
	"Distinct": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.Distinct(ctx, f.employee, Query{}, "active")
		return err
	},
	"Explain": func(ctx context.Context, f *fixture, r snapshotReads) error {
		_, err := r.Explain(ctx, f.company, Query{Filter: "name = 'Acme'"}, true)
		return err
	},
}

// TestSnapshotReadsSeeOneState: whichever read begins a snapshot, every later read through
// it (Get, GetMany, FindKeys, RelatedKeys, Count, Aggregate, Distinct, Explain's counts,
// Find) answers the state of that first read, although another connection committed
// changes to everything they look at in between; the database itself, and a new snapshot,
// see the changes.
func TestSnapshotReadsSeeOneState(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	firsts := make([]string, 0, len(snapshotFirstReads))
	for name := range snapshotFirstReads {
		firsts = append(firsts, name)
	}
	slices.Sort(firsts)
	for i, first := range firsts {
		t.Run("BegunBy"+first, func(t *testing.T) {
			before := observe(t, f, f.db)
			snap := f.db.Snapshot()
			defer snap.Close()
			if err := snapshotFirstReads[first](ctx, f, snap); err != nil {
				t.Fatal(err)
			}
			if n := f.db.OpenSnapshots(); n != 1 || !snap.Begun() {
				t.Fatalf("after the first read: OpenSnapshots = %d, Begun = %v; want 1, true", n, snap.Begun())
			}
			commitChanges(t, f, i)
			after := observe(t, f, f.db)
			if slices.Equal(before, after) {
				t.Fatalf("the commit changed nothing the test reads: %q", after)
			}
			if got := observe(t, f, snap); !slices.Equal(got, before) {
				t.Errorf("in the snapshot:\n got %q\nwant %q (before the commit)", got, before)
			}
			if err := snap.Close(); err != nil {
				t.Fatal(err)
			}
			fresh := f.db.Snapshot()
			defer fresh.Close()
			if got := observe(t, f, fresh); !slices.Equal(got, after) {
				t.Errorf("in a new snapshot:\n got %q\nwant %q (after the commit)", got, after)
			}
			if err := fresh.Close(); err != nil {
				t.Fatal(err)
			}
			if n := f.db.OpenSnapshots(); n != 0 {
				t.Errorf("OpenSnapshots = %d once both are closed, want 0", n)
			}
		})
	}
}

// commitChanges commits, on the writer, a change to everything observe reads: Alice
// renamed (her stamp grows), a new report of hers with a new age, Acme renamed.
func commitChanges(t *testing.T, f *fixture, i int) {
	t.Helper()
	ctx := context.Background()
	alice, err := f.db.Get(ctx, f.employee, f.alice.KeyString())
	if err != nil {
		t.Fatal(err)
	}
	alice.Values = map[string]any{"name": fmt.Sprintf("Alice %d", i)}
	if _, err := f.db.Save(ctx, alice); err != nil {
		t.Fatal(err)
	}
	mustSave(t, f.db, f.employee, map[string]any{"name": fmt.Sprintf("New %d", i), "age": float64(70 + i),
		"salary": 100.0, "manager": f.alice.Key})
	acme, err := f.db.Get(ctx, f.company, f.acme.KeyString())
	if err != nil {
		t.Fatal(err)
	}
	acme.Values = map[string]any{"name": fmt.Sprintf("Acme %d", i)}
	if _, err := f.db.Save(ctx, acme); err != nil {
		t.Fatal(err)
	}
}

// observe reads the fixture through r in every way a snapshot offers and writes down what
// each read answered.
func observe(t *testing.T, f *fixture, r snapshotReads) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	note := func(what string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out = append(out, fmt.Sprintf("%s: %v", what, v))
	}
	describe := func(es ...*Entity) []string {
		var s []string
		for _, e := range es {
			s = append(s, fmt.Sprintf("%s#%d", e.Values["name"], e.Stamp))
		}
		return s
	}
	alice, err := r.Get(ctx, f.employee, f.alice.KeyString())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	note("Get", describe(alice), nil)
	many, err := r.GetMany(ctx, f.company, []string{f.globex.KeyString(), f.acme.KeyString()})
	note("GetMany", describe(many...), err)
	keys, err := r.FindKeys(ctx, f.employee, Query{OrderBy: "ID"})
	note("FindKeys", keys, err)
	reports, err := r.RelatedKeys(ctx, f.alice, "reports", Query{OrderBy: "ID"})
	note("RelatedKeys", reports, err)
	n, err := r.Count(ctx, f.employee, Query{Filter: "age >= 30"})
	note("Count", n, err)
	agg, err := r.Aggregate(ctx, f.employee, Query{}, "age")
	note("Aggregate", agg, err)
	ages, err := r.Distinct(ctx, f.employee, Query{}, "age")
	note("Distinct", ages, err)
	plan, err := r.Explain(ctx, f.employee, Query{Filter: "age >= 30 OR name = 'New 0'"}, true)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	found := []int{plan.Found}
	for _, s := range plan.Steps {
		found = append(found, s.Found)
	}
	note("Explain", found, nil)
	sel, err := r.Find(ctx, f.company, Query{OrderBy: "name", Limit: 2})
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	note("Find", fmt.Sprint(sel.Count, describe(sel.Entities...)), nil)
	return out
}
