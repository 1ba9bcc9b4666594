package datastore

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"
)

func TestSaveInsertAndGet(t *testing.T) {
	db, _ := openTest(t, testModel)
	ctx := context.Background()
	dc := db.Model().DataClass("Employee")
	e := dc.NewEntity()
	if e.Stamp != 0 || e.Key != nil || len(e.Values) != 12 {
		t.Fatalf("NewEntity = %+v, want no key, stamp 0, 12 null values", e)
	}
	e.Values["name"] = "Zoë"
	e.Values["age"] = 41.0
	e.Values["salary"] = 1234.5
	e.Values["active"] = true
	e.Values["hired"] = "2024-01-02T10:00:00+02:00"
	e.Values["badge"] = "{6BA7B810-9DAD-11D1-80B4-00C04FD430C8}"
	e.Values["info"] = map[string]any{"tags": []any{"a", "b"}, "n": 1.0}
	saved, err := db.Save(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Key != int64(1) || saved.Stamp != 1 || !saved.Timestamp.Equal(epoch) || saved.KeyString() != "1" {
		t.Errorf("saved key, stamp, timestamp = %v, %d, %v; want 1, 1, %v", saved.Key, saved.Stamp, saved.Timestamp, epoch)
	}
	if e.Key != nil || e.Stamp != 0 {
		t.Error("Save modified its argument")
	}
	want := map[string]any{
		"ID": int64(1), "name": "Zoë", "age": int64(41), "salary": 1234.5, "active": true,
		"hired": time.Date(2024, 1, 2, 8, 0, 0, 0, time.UTC), "badge": "6BA7B8109DAD11D180B400C04FD430C8",
		"info": map[string]any{"tags": []any{"a", "b"}, "n": 1.0},
		"bio":  nil, "employer": nil, "manager": nil, "secret": nil,
	}
	got, err := db.Get(ctx, dc, "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range []*Entity{saved, got} {
		if !reflect.DeepEqual(ent.Values, want) {
			t.Errorf("values = %#v\nwant %#v", ent.Values, want)
		}
	}
	for _, key := range []string{"2", "x", "", "1.5"} {
		if _, err := db.Get(ctx, dc, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

func TestSaveKeys(t *testing.T) {
	db, _ := openTest(t, testModel)
	ctx := context.Background()
	tag, token, company := db.Model().DataClass("Tag"), db.Model().DataClass("Token"), db.Model().DataClass("Company")

	// A string key must be given; it may come as Key or as the key attribute's value.
	if _, err := db.Save(ctx, &Entity{DataClass: tag, Values: map[string]any{"label": "x"}}); !isValueError(err, "code") {
		t.Errorf("string key missing: error = %v, want ValueError on code", err)
	}
	if _, err := db.Save(ctx, &Entity{DataClass: tag, Key: "go", Values: map[string]any{"label": "Go"}}); err != nil {
		t.Fatal(err)
	}
	if e, err := db.Save(ctx, &Entity{DataClass: tag, Values: map[string]any{"code": "sql"}}); err != nil || e.Key != "sql" {
		t.Fatalf("key from values: %v, %v", e, err)
	}
	if _, err := db.Save(ctx, &Entity{DataClass: tag, Key: "go"}); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("duplicate key error = %v, want ErrDuplicateKey", err)
	}
	if _, err := db.Save(ctx, &Entity{DataClass: tag, Key: "a", Values: map[string]any{"code": "b"}}); !isValueError(err, "code") {
		t.Errorf("conflicting keys: error = %v, want ValueError", err)
	}

	// uuid keys are generated in 4D's form; long autoincrement keys count up and skip given ones.
	tok := mustSave(t, db, token, map[string]any{"note": "n"})
	if k, _ := tok.Key.(string); !regexp.MustCompile(`^[0-9A-F]{32}$`).MatchString(k) {
		t.Errorf("uuid key = %v, want 32 upper-case hex digits", tok.Key)
	}
	if got, err := db.Get(ctx, token, tok.KeyString()); err != nil || got.Values["note"] != "n" {
		t.Errorf("Get(uuid) = %v, %v", got, err)
	}
	if e, err := db.Save(ctx, &Entity{DataClass: company, Key: 10.0}); err != nil || e.Key != int64(10) {
		t.Fatalf("explicit long key: %v, %v", e, err)
	}
	if e := mustSave(t, db, company, nil); e.Key != int64(11) {
		t.Errorf("next autoincrement key = %v, want 11", e.Key)
	}
}

func isValueError(err error, attr string) bool {
	var ve *ValueError
	return errors.As(err, &ve) && ve.Attribute == attr
}

func TestSaveValueErrors(t *testing.T) {
	f := seed(t)
	tests := []struct {
		name  string
		attr  string
		value any
	}{
		{"LongGivenFraction", "age", 1.5},
		{"LongGivenString", "age", "12"},
		{"NumberGivenString", "salary", "1.5"},
		{"StringGivenNumber", "name", 12.0},
		{"BoolGivenNumber", "active", 1.0},
		{"BadDate", "hired", "02/01/2024"},
		{"DateOutOfRange", "hired", "10000-01-01"},
		{"BadUUID", "badge", "not-a-uuid"},
		{"ObjectNotJSON", "info", map[string]any{"f": func() {}}},
		{"ObjectGivenString", "info", "text"},
		{"UnknownAttribute", "nope", 1.0},
		{"CollectionAttribute", "reports", []any{}},
		{"MissingRelated", "employer", 999.0},
		{"RelatedOfOtherClass", "employer", f.alice},
		{"RelatedBadKey", "manager", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.employee.NewEntity()
			e.Values[tt.attr] = tt.value
			if _, err := f.db.Save(context.Background(), e); !isValueError(err, tt.attr) {
				t.Errorf("Save(%s = %v) error = %v, want ValueError on %s", tt.attr, tt.value, err, tt.attr)
			}
		})
	}
	n, _ := f.db.Count(context.Background(), f.employee, Query{})
	if n != 5 {
		t.Errorf("failed saves left %d employees, want 5", n)
	}
}

func TestSaveForeignKeyForms(t *testing.T) {
	f := seed(t)
	for _, v := range []any{f.globex, map[string]any{"__KEY": "2"}, "2", int64(2), 2.0} {
		e := mustSave(t, f.db, f.employee, map[string]any{"employer": v})
		if e.Values["employer"] != int64(2) {
			t.Errorf("employer given %T: stored %v, want 2", v, e.Values["employer"])
		}
	}
}

func TestStamps(t *testing.T) {
	db, clock := openTest(t, testModel)
	ctx := context.Background()
	dc := db.Model().DataClass("Employee")
	v1 := mustSave(t, db, dc, map[string]any{"name": "a", "age": 1.0})

	clock.t = epoch.Add(time.Hour)
	v2, err := db.Save(ctx, &Entity{DataClass: dc, Key: v1.Key, Stamp: v1.Stamp, Values: map[string]any{"name": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Stamp != 2 || !v2.Timestamp.Equal(clock.t) || v2.Values["name"] != "b" || v2.Values["age"] != int64(1) {
		t.Errorf("after update: stamp %d, timestamp %v, values %v; want 2, %v, name b and age kept", v2.Stamp, v2.Timestamp, v2.Values, clock.t)
	}
	// The stale version may neither be saved nor dropped.
	if _, err := db.Save(ctx, &Entity{DataClass: dc, Key: v1.Key, Stamp: v1.Stamp, Values: map[string]any{"name": "c"}}); !errors.Is(err, ErrStampChanged) {
		t.Errorf("stale save error = %v, want ErrStampChanged", err)
	}
	if err := db.Drop(ctx, v1); !errors.Is(err, ErrStampChanged) {
		t.Errorf("stale drop error = %v, want ErrStampChanged", err)
	}
	if _, err := db.Save(ctx, &Entity{DataClass: dc, Key: int64(99), Stamp: 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of missing entity error = %v, want ErrNotFound", err)
	}
	if _, err := db.Save(ctx, &Entity{DataClass: dc, Key: v2.Key, Stamp: v2.Stamp, Values: map[string]any{"ID": 5.0}}); !isValueError(err, "ID") {
		t.Errorf("key change error = %v, want ValueError", err)
	}
	got, _ := db.Get(ctx, dc, v1.KeyString())
	if got.Values["name"] != "b" || got.Stamp != 2 {
		t.Errorf("after refused saves: %v stamp %d, want b stamp 2", got.Values["name"], got.Stamp)
	}
	if err := db.Drop(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, dc, v1.KeyString()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Drop error = %v, want ErrNotFound", err)
	}
	if err := db.Drop(ctx, v2); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Drop error = %v, want ErrNotFound", err)
	}
}

// TestConcurrentSavesOneWins saves the same version from many goroutines: the stamp check is
// atomic, so exactly one succeeds.
func TestConcurrentSavesOneWins(t *testing.T) {
	db, _ := openTest(t, testModel)
	dc := db.Model().DataClass("Employee")
	e := mustSave(t, db, dc, map[string]any{"age": 0.0})
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Save(context.Background(), &Entity{DataClass: dc, Key: e.Key, Stamp: e.Stamp, Values: map[string]any{"age": float64(i)}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok, stale := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrStampChanged):
			stale++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || stale != writers-1 {
		t.Errorf("%d saves succeeded and %d were stale, want 1 and %d", ok, stale, writers-1)
	}
	if got, _ := db.Get(context.Background(), dc, e.KeyString()); got.Stamp != 2 {
		t.Errorf("final stamp = %d, want 2", got.Stamp)
	}
}

func TestConcurrentReadsAndWrites(t *testing.T) {
	db, _ := openTest(t, testModel)
	dc := db.Model().DataClass("Company")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 100 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			e := dc.NewEntity()
			e.Values["name"] = "c" + string(rune('a'+i%26))
			_, err := db.Save(ctx, e)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := db.Find(ctx, dc, Query{Filter: "name = 'c@'", OrderBy: "name"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.Count(ctx, dc, Query{}); n != 100 || err != nil {
		t.Errorf("Count = %d, %v; want 100", n, err)
	}
}

func TestUnknownDataClass(t *testing.T) {
	db, _ := openTest(t, testModel)
	ctx := context.Background()
	ghost := &DataClass{Name: "Ghost"}
	if _, err := db.Find(ctx, ghost, Query{}); !errors.Is(err, ErrUnknownDataClass) {
		t.Errorf("Find error = %v", err)
	}
	if _, err := db.Get(ctx, nil, "1"); !errors.Is(err, ErrUnknownDataClass) {
		t.Errorf("Get error = %v", err)
	}
	if _, err := db.Save(ctx, &Entity{DataClass: ghost}); !errors.Is(err, ErrUnknownDataClass) {
		t.Errorf("Save error = %v", err)
	}
	if _, err := db.Save(ctx, nil); !errors.Is(err, ErrUnknownDataClass) {
		t.Errorf("Save(nil) error = %v", err)
	}
}
