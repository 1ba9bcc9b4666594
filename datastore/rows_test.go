package datastore

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// TestFindRowsMatchesFind: FindRows reads the same page, count and values as Find, only
// typed instead of in maps, for every type, nulls and both relation kinds.
func TestFindRowsMatchesFind(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		dc   *DataClass
		q    Query
	}{
		{"AllEmployees", f.employee, Query{OrderBy: "name"}},
		{"FullPageCounted", f.employee, Query{OrderBy: "age desc", Limit: 2}},
		{"SkippedShortPage", f.employee, Query{OrderBy: "name", Skip: 3, Limit: 10}},
		{"PastTheEnd", f.employee, Query{Skip: 50, Limit: 10}},
		{"Filtered", f.employee, Query{Filter: "employer.name = :1", Params: []any{"Acme"}}},
		{"Companies", f.company, Query{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := f.db.Find(ctx, tt.dc, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := f.db.FindRows(ctx, tt.dc, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if rows.Len() != len(sel.Entities) || rows.Count != sel.Count || rows.First != sel.First {
				t.Fatalf("rows: %d, count %d, first %d; want %d, %d, %d", rows.Len(), rows.Count, rows.First,
					len(sel.Entities), sel.Count, sel.First)
			}
			for i, want := range sel.Entities {
				got, err := rows.Entity(i)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("row %d:\ngot  %#v\nwant %#v", i, got, want)
				}
				if k := rows.KeyString(i); k != want.KeyString() {
					t.Errorf("row %d: KeyString %q, want %q", i, k, want.KeyString())
				}
				if rows.Stamp(i) != want.Stamp {
					t.Errorf("row %d: stamp %d, want %d", i, rows.Stamp(i), want.Stamp)
				}
			}
		})
	}
}

// TestRowValueKinds: each type comes back in its own kind and field.
func TestRowValueKinds(t *testing.T) {
	f := seed(t)
	rows, err := f.db.FindRows(context.Background(), f.employee, Query{Filter: "ID = :1", Params: []any{f.alice.Key}})
	if err != nil || rows.Len() != 1 {
		t.Fatalf("FindRows: %v, %d rows", err, rows.Len())
	}
	want := map[string]Value{
		"ID":       {Kind: ValueLong, Int: f.alice.Key.(int64)},
		"name":     {Kind: ValueString, Str: "Alice Smith"},
		"age":      {Kind: ValueLong, Int: 30},
		"salary":   {Kind: ValueNumber, Num: 5000.5},
		"active":   {Kind: ValueBool, Int: 1},
		"hired":    {Kind: ValueDate, Str: "2020-01-15T00:00:00.000000000Z"},
		"badge":    {Kind: ValueString, Str: "6BA7B8109DAD11D180B400C04FD430C8"},
		"info":     {Kind: ValueObject, Str: `{"team":"core"}`},
		"employer": {Kind: ValueLong, Int: f.acme.Key.(int64)},
		"manager":  {Kind: ValueNull},
	}
	for j, a := range rows.Columns {
		w, ok := want[a.Name]
		if !ok {
			continue
		}
		if got := *rows.Value(0, j); got != w {
			t.Errorf("%s = %+v, want %+v", a.Name, got, w)
		}
	}
	for _, a := range rows.Columns {
		if a.Kind == KindRelatedEntities {
			t.Errorf("column %s: relatedEntities have no column", a.Name)
		}
	}
}

// TestAppendDateMillis: the stored text is cut to milliseconds as time.Format cuts them; a
// time stored in another RFC 3339 form is parsed.
func TestAppendDateMillis(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"2020-01-15T00:00:00.000000000Z", "2020-01-15T00:00:00.000Z"},
		{"2020-01-15T10:11:12.999999999Z", "2020-01-15T10:11:12.999Z"},
		{"0001-02-03T04:05:06.007000000Z", "0001-02-03T04:05:06.007Z"},
		{"2020-01-15T10:11:12.5+02:00", "2020-01-15T08:11:12.500Z"},
	} {
		got, err := AppendDateMillis(nil, tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("AppendDateMillis(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		parsed, err := time.Parse(time.RFC3339Nano, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if ref := parsed.UTC().Format("2006-01-02T15:04:05.000Z"); ref != tt.want {
			t.Errorf("time.Format(%q) = %q, want %q", tt.in, ref, tt.want)
		}
	}
	if _, err := AppendDateMillis(nil, "yesterday"); err == nil {
		t.Error("AppendDateMillis(yesterday): no error")
	}
}

// TestSnapshotSeesOneState: everything read through a snapshot (a page, its count, related
// entities, related selections) is the database as of its first read, whatever is saved
// meanwhile; a new snapshot sees the saves.
func TestSnapshotSeesOneState(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	snap := f.db.Snapshot()
	defer snap.Close()
	first, err := snap.FindRows(ctx, f.employee, Query{OrderBy: "name", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if first.Count != 5 {
		t.Fatalf("Count = %d, want 5", first.Count)
	}
	// Saved after the snapshot's first read: a new employee, Acme renamed, a new report of
	// Alice's.
	mustSave(t, f.db, f.employee, map[string]any{"name": "Zed", "manager": f.alice.Key})
	acme := f.acme
	acme.Values = map[string]any{"name": "Acme Renamed"}
	if _, err := f.db.Save(ctx, acme); err != nil {
		t.Fatal(err)
	}

	again, err := snap.Find(ctx, f.employee, Query{OrderBy: "name", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if again.Count != 5 {
		t.Errorf("Count in the snapshot = %d, want 5", again.Count)
	}
	employer, err := snap.RelatedEntity(ctx, f.alice, "employer")
	if err != nil {
		t.Fatal(err)
	}
	if got := employer.Values["name"]; got != "Acme" {
		t.Errorf("employer in the snapshot = %v, want Acme", got)
	}
	reports, err := snap.RelatedEntities(ctx, f.alice, "reports", Query{})
	if err != nil {
		t.Fatal(err)
	}
	if reports.Count != 2 {
		t.Errorf("reports in the snapshot = %d, want 2", reports.Count)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	fresh := f.db.Snapshot()
	defer fresh.Close()
	now, err := fresh.Find(ctx, f.employee, Query{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if now.Count != 6 {
		t.Errorf("Count in a new snapshot = %d, want 6", now.Count)
	}
	employer, err = fresh.RelatedEntity(ctx, f.alice, "employer")
	if err != nil {
		t.Fatal(err)
	}
	if got := employer.Values["name"]; got != "Acme Renamed" {
		t.Errorf("employer in a new snapshot = %v, want Acme Renamed", got)
	}
}

// TestSnapshotPreparesLater: a read by a statement not yet prepared, made once the
// snapshot's transaction holds a connection, runs unprepared and leaves the statement to be
// prepared in the background; even with every reader connection held by such snapshots,
// nothing waits on anything (TestCountedFindsOnAColdCache's deadlock, for snapshots).
func TestSnapshotPreparesLater(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	var snaps []*Snapshot
	for range 4 { // SQLite's reader pool: every connection held
		s := f.db.Snapshot()
		snaps = append(snaps, s)
		if _, err := s.Find(ctx, f.company, Query{Limit: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range snaps {
		if _, err := s.RelatedEntity(ctx, f.bob, "manager"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RelatedEntities(ctx, f.alice, "reports", Query{OrderBy: "age"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range snaps {
		s.Close()
	}
}
