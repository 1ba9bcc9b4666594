package datastore

import (
	"context"
	"database/sql"
	"errors"
	"gatehouse/internal/pgtest"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/internal/errkind"
)

// TestErrorKinds checks that the errors of real calls carry their kind, and that the sentinels
// still answer errors.Is.
func TestErrorKinds(t *testing.T) {
	ctx := context.Background()
	f := seed(t)
	tag := f.db.Model().DataClass("Tag")
	mustSave(t, f.db, tag, map[string]any{"code": "go"})
	stale := *f.acme
	if _, err := f.db.Save(ctx, &Entity{DataClass: f.company, Key: f.acme.Key, Stamp: f.acme.Stamp, Values: map[string]any{"name": "Acme 2"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		call     func() error
		sentinel error // nil: check only the kind
		want     errkind.Kind
	}{
		{"EntityNotFound", func() error { _, err := f.db.Get(ctx, f.company, "999"); return err }, ErrNotFound, errkind.NotFound},
		{"ImpossibleKeyNotFound", func() error { _, err := f.db.Get(ctx, f.company, "abc"); return err }, ErrNotFound, errkind.NotFound},
		{"StampChangedOnSave", func() error {
			_, err := f.db.Save(ctx, &Entity{DataClass: f.company, Key: stale.Key, Stamp: stale.Stamp, Values: map[string]any{"name": "x"}})
			return err
		}, ErrStampChanged, errkind.Conflict},
		{"StampChangedOnDrop", func() error { return f.db.Drop(ctx, &stale) }, ErrStampChanged, errkind.Conflict},
		{"DuplicateKey", func() error { _, err := f.db.Save(ctx, &Entity{DataClass: tag, Key: "go"}); return err }, ErrDuplicateKey, errkind.Conflict},
		{"UnknownDataClass", func() error { _, err := f.db.Find(ctx, &DataClass{Name: "Nobody"}, Query{}); return err }, ErrUnknownDataClass, errkind.NotFound},
		{"UnknownRelation", func() error { _, err := f.db.RelatedEntity(ctx, f.alice, "name"); return err }, ErrUnknownAttribute, errkind.NotFound},
		{"ValueOfWrongType", func() error {
			_, err := f.db.Save(ctx, &Entity{DataClass: f.employee, Values: map[string]any{"age": "old"}})
			return err
		}, nil, errkind.Invalid},
		{"MissingReference", func() error {
			_, err := f.db.Save(ctx, &Entity{DataClass: f.employee, Values: map[string]any{"employer": 999.0}})
			return err
		}, nil, errkind.Invalid},
		{"QuerySyntax", func() error { _, err := f.db.Count(ctx, f.employee, Query{Filter: "age ="}); return err }, nil, errkind.Invalid},
		{"QueryPlaceholderMissing", func() error { _, err := f.db.Find(ctx, f.employee, Query{Filter: "age = :1"}); return err }, nil, errkind.Invalid},
		{"QueryUnknownAttribute", func() error { _, err := f.db.Find(ctx, f.employee, Query{Filter: "nme = 1"}); return err }, nil, errkind.NotFound},
		{"OrderByUnknownAttribute", func() error { _, err := f.db.DeleteWhere(ctx, f.employee, Query{OrderBy: "nme"}); return err }, nil, errkind.NotFound},
		{"IncompatibleModel", func() error {
			return f.db.SetModel(ctx, mustModel(t, `{"dataClasses":[{"name":"Tag","attributes":[{"name":"code","type":"long","primaryKey":true}]}]}`))
		}, ErrIncompatibleModel, errkind.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("got no error")
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("got %v, want %v", err, tt.sentinel)
			}
			if got := errkind.Of(err); got != tt.want {
				t.Errorf("errkind.Of(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func TestQueryErrorKind(t *testing.T) {
	tests := []struct {
		reason QueryReason
		want   errkind.Kind
	}{
		{ReasonSyntax, errkind.Invalid},
		{ReasonPlaceholderMissing, errkind.Invalid},
		{ReasonWrongType, errkind.Invalid},
		{ReasonUnknownAttribute, errkind.NotFound},
	}
	for _, tt := range tests {
		if got := errkind.Of(&QueryError{Reason: tt.reason}); got != tt.want {
			t.Errorf("kind of a %v QueryError = %v, want %v", tt.reason, got, tt.want)
		}
	}
}

// shortBusyTimeout makes the databases opened by the test give up on a lock quickly.
func shortBusyTimeout(t *testing.T) {
	old := busyTimeout
	busyTimeout = 50 * time.Millisecond
	t.Cleanup(func() { busyTimeout = old })
}

// lockedBy opens a second connection to the file at path, as another process would, and
// runs stmts on it; the returned func ends its transaction.
func lockedBy(t *testing.T, path string, stmts ...string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return func() {
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
}

// TestBusyIsUnavailable holds the database's lock from another connection: every call that
// cannot get the lock within the busy timeout fails with an error of kind Unavailable, and
// works again once the lock is gone.
func TestBusyIsUnavailable(t *testing.T) {
	pgtest.SQLiteOnly(t, "SQLite's file locks; PostgreSQL's lock errors are classified by TestPostgresErrorKinds")
	shortBusyTimeout(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	db, err := Open(ctx, path, mustModel(t, testModel), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	company := db.Model().DataClass("Company")
	acme := mustSave(t, db, company, map[string]any{"name": "Acme"})
	sub := mustSave(t, db, company, map[string]any{"name": "Sub", "parent": acme.Key})
	bigger := mustModel(t, testModel[:len(testModel)-2]+`,{"name":"Extra","attributes":[{"name":"x","type":"string"}]}]}`)

	writes := []struct {
		name string
		call func() error
	}{
		{"Save", func() error {
			_, err := db.Save(ctx, &Entity{DataClass: company, Values: map[string]any{"name": "New"}})
			return err
		}},
		{"SaveAll", func() error {
			_, err := db.SaveAll(ctx, []*Entity{{DataClass: company, Key: acme.Key, Stamp: acme.Stamp, Values: map[string]any{"name": "A"}}})
			return err
		}},
		{"Drop", func() error { return db.Drop(ctx, sub) }},
		{"DeleteWhere", func() error { _, err := db.DeleteWhere(ctx, company, Query{Filter: "name = 'Sub'"}); return err }},
		{"Seed", func() error { _, err := db.Seed(ctx, []byte(`{"Tag":[{"code":"x"}]}`)); return err }},
		{"SetModel", func() error { return db.SetModel(ctx, bigger) }},
	}
	reads := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := db.Get(ctx, company, "1"); return err }},
		{"Find", func() error { _, err := db.Find(ctx, company, Query{Filter: "name begin 'A'"}); return err }},
		{"Count", func() error { _, err := db.Count(ctx, company, Query{}); return err }},
		{"RelatedEntity", func() error {
			_, err := db.RelatedEntity(ctx, &Entity{DataClass: company, Key: sub.Key}, "parent")
			return err
		}},
		{"RelatedEntities", func() error { _, err := db.RelatedEntities(ctx, acme, "staff", Query{}); return err }},
	}
	wantUnavailable := func(t *testing.T, name string, err error) {
		t.Helper()
		if got := errkind.Of(err); got != errkind.Unavailable {
			t.Errorf("%s while locked: errkind.Of(%v) = %v, want unavailable", name, err, got)
		}
	}

	t.Run("WritesWhileAnotherWriterHoldsTheLock", func(t *testing.T) {
		unlock := lockedBy(t, path, "BEGIN IMMEDIATE")
		for _, c := range writes {
			wantUnavailable(t, c.name, c.call())
		}
		// Reads go on: WAL lets them run beside a writer.
		for _, c := range reads {
			if err := c.call(); err != nil {
				t.Errorf("%s beside a writer: %v", c.name, err)
			}
		}
		unlock()
	})

	t.Run("ReadsWhileTheFileIsLockedExclusively", func(t *testing.T) {
		// An exclusive lock can only be taken while no connection of ours has the file open.
		db.r.SetMaxIdleConns(0)
		db.w.SetMaxIdleConns(0)
		unlock := lockedBy(t, path, "PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE", `UPDATE "Company" SET "__stamp" = "__stamp"`)
		for _, c := range reads {
			wantUnavailable(t, c.name, c.call())
		}
		if _, err := Open(ctx, path, mustModel(t, testModel), Options{}); errkind.Of(err) != errkind.Unavailable {
			t.Errorf("Open while locked: errkind.Of(%v) = %v, want unavailable", err, errkind.Of(err))
		}
		unlock()
		db.r.SetMaxIdleConns(4)
		db.w.SetMaxIdleConns(1)
	})

	t.Run("EverythingWorksOnceTheLockIsGone", func(t *testing.T) {
		for _, c := range append(reads, writes...) {
			if err := c.call(); err != nil {
				t.Errorf("%s after the lock: %v", c.name, err)
			}
		}
	})
}
