package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxTop is the default for Options.MaxTop.
const DefaultMaxTop = 10000

// Options configure a DB. The zero value is usable.
type Options struct {
	Logger *slog.Logger     // schema changes are logged here; nil discards
	Now    func() time.Time // the clock for __timestamp; nil means time.Now
	// MaxTop caps the entities one Find or RelatedEntities returns, whatever the query's Limit
	// (Selection.Count still reports every match). Default DefaultMaxTop.
	MaxTop int
}

// DB is an open datastore: a model and the database holding its entities (a SQLite file, or a
// PostgreSQL database shared by several instances). It is safe for concurrent use.
type DB struct {
	d      dialect
	w      *sql.DB // writes and schema changes (SQLite: one connection)
	r      *sql.DB // reads (SQLite: query-only connections; PostgreSQL: the same pool as w)
	log    *slog.Logger
	now    func() time.Time
	maxTop int

	stmts    *stmtCache   // prepared reads (nil when the dialect prepares by itself)
	snaps    atomic.Int64 // snapshots whose read transaction is open (OpenSnapshots)
	model    atomic.Pointer[Model]
	schemaMu sync.Mutex // serialises SetModel
}

// Open opens the database named by path and creates or extends its schema for m (nil means an
// empty model). path is a SQLite file (created if needed, put in WAL mode with a busy timeout
// and foreign keys enforced) or a postgres:// (postgresql://) URL of an existing database.
func Open(ctx context.Context, path string, m *Model, opts Options) (*DB, error) {
	if m == nil {
		m = emptyModel()
	}
	if err := m.prepare(); err != nil {
		return nil, err
	}
	db := &DB{d: dialectFor(path), log: opts.Logger, now: opts.Now, maxTop: opts.MaxTop}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if db.now == nil {
		db.now = time.Now
	}
	if db.maxTop <= 0 {
		db.maxTop = DefaultMaxTop
	}
	var err error
	if db.w, db.r, err = db.d.open(ctx, path); err != nil {
		return nil, err
	}
	if db.d.cachesStatements() {
		db.stmts = &stmtCache{pool: db.r}
	}
	if err := db.applySchema(ctx, m); err != nil {
		db.Close()
		return nil, err
	}
	db.model.Store(m)
	return db, nil
}

// Close closes the database. Calls in flight may fail.
func (db *DB) Close() error {
	db.stmts.close()
	if db.r == db.w {
		return db.w.Close()
	}
	return errors.Join(db.r.Close(), db.w.Close())
}

// Backend names the database behind db: "sqlite" or "postgres".
func (db *DB) Backend() string { return db.d.name() }

// Model returns the current model.
func (db *DB) Model() *Model { return db.model.Load() }

// SetModel switches to a new model (live reload): tables, columns and indexes it adds are
// created; nothing is ever dropped, so an attribute or dataclass removed from the model keeps
// its data and comes back with it. A change that would misread stored data (another primary
// key, another type for an existing attribute) fails with ErrIncompatibleModel and leaves the
// current model and schema untouched. Calls in flight finish with the model they started with.
func (db *DB) SetModel(ctx context.Context, m *Model) error {
	if m == nil {
		m = emptyModel()
	}
	if err := m.prepare(); err != nil {
		return err
	}
	db.schemaMu.Lock()
	defer db.schemaMu.Unlock()
	if err := db.applySchema(ctx, m); err != nil {
		return err
	}
	db.model.Store(m)
	return nil
}

// resolve maps a dataclass, possibly from an older model, to the current model's.
func (db *DB) resolve(dc *DataClass) (*DataClass, error) {
	if dc == nil {
		return nil, ErrUnknownDataClass
	}
	cur := db.Model().DataClass(dc.Name)
	if cur == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownDataClass, dc.Name)
	}
	return cur, nil
}

// storedAttr is one row of the schema table: what a column was created as.
type storedAttr struct {
	name, kind, typ string
	primaryKey      bool
}

// schemaFormat is the version of the stored layout. 1: strings folded by a SQLite function in
// expression indexes; 2: shadow columns (shadow.go). A format 1 file is migrated on open.
const schemaFormat = "2"

// applySchema creates or extends tables, columns and indexes for m in one transaction, so a
// failure changes nothing. On PostgreSQL it holds an advisory lock, so instances applying
// their models at the same time take turns.
func (db *DB) applySchema(ctx context.Context, m *Model) (err error) {
	if err := db.checkIdentifiers(m); err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := db.d.lockSchema(ctx, tx); err != nil {
		return fmt.Errorf("datastore: schema lock: %w", err)
	}
	for _, stmt := range db.d.metaDDL() {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
		}
	}
	if err := db.checkFormat(ctx, tx); err != nil {
		return err
	}
	stored, err := db.storedSchema(ctx, tx)
	if err != nil {
		return err
	}
	var changes, later []string
	for _, dc := range m.DataClasses {
		c, fks, err := db.applyDataClass(ctx, tx, dc, stored[dc.Name])
		if err != nil {
			return err
		}
		changes = append(changes, c...)
		later = append(later, fks...)
	}
	for _, stmt := range later {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	}
	for _, c := range changes {
		db.log.Info("datastore: schema changed", "change", c)
	}
	return nil
}

// checkFormat records the format of a new database, refuses a newer one, and moves an older
// one forward (the shadow columns themselves are added and filled by applyDataClass).
func (db *DB) checkFormat(ctx context.Context, tx *sql.Tx) error {
	q, ph := db.d.quote, db.d.placeholder
	var format string
	err := tx.QueryRowContext(ctx, "SELECT value FROM "+q(metaTable)+" WHERE name = "+ph(1), "format").Scan(&format)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, "INSERT INTO "+q(metaTable)+" (name, value) VALUES ("+ph(1)+", "+ph(2)+")", "format", schemaFormat)
		if err != nil {
			return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
		}
		return nil
	case err != nil:
		return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	case format == schemaFormat:
		return nil
	case format != "1":
		return fmt.Errorf("datastore: the database was written by a newer gatehouse (format %q)", format)
	}
	if err := db.d.legacyCleanup(ctx, tx, format); err != nil {
		return fmt.Errorf("datastore: schema: migrating format %s: %w", format, err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+q(metaTable)+" SET value = "+ph(1)+" WHERE name = "+ph(2), schemaFormat, "format"); err != nil {
		return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	}
	db.log.Info("datastore: schema changed", "change", "format "+format+" → "+schemaFormat+" (case-folding shadow columns)")
	return nil
}

// checkIdentifiers refuses, before anything is changed, a model with a name the backend would
// not keep as written.
func (db *DB) checkIdentifiers(m *Model) error {
	for _, dc := range m.DataClasses {
		if err := db.d.checkIdentifier(dc.Name); err != nil {
			return fmt.Errorf("datastore: dataclass %s: %w", dc.Name, err)
		}
		for _, a := range dc.Attributes {
			if !a.hasColumn() {
				continue
			}
			if err := db.d.checkIdentifier(a.Name); err != nil {
				return fmt.Errorf("datastore: attribute %s.%s: %w", dc.Name, a.Name, err)
			}
		}
	}
	return nil
}

func (db *DB) storedSchema(ctx context.Context, tx *sql.Tx) (map[string]map[string]storedAttr, error) {
	rows, err := tx.QueryContext(ctx, "SELECT dataclass, attribute, kind, type, primary_key FROM "+db.d.quote(schemaTable))
	if err != nil {
		return nil, fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	}
	defer rows.Close()
	out := map[string]map[string]storedAttr{}
	for rows.Next() {
		var dc string
		var a storedAttr
		if err := rows.Scan(&dc, &a.name, &a.kind, &a.typ, &a.primaryKey); err != nil {
			return nil, fmt.Errorf("datastore: schema: %w", db.d.classify(err))
		}
		if out[dc] == nil {
			out[dc] = map[string]storedAttr{}
		}
		out[dc][a.name] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	}
	return out, nil
}

// applyDataClass brings one table in line with dc and returns what it changed, and the
// statements constraining its new foreign keys (to run once every table exists).
func (db *DB) applyDataClass(ctx context.Context, tx *sql.Tx, dc *DataClass, stored map[string]storedAttr) (changes, fks []string, err error) {
	exec := func(stmt string, args ...any) error {
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("datastore: schema of %s: %w", dc.Name, db.d.classify(err))
		}
		return nil
	}
	record := func(a *Attribute) error {
		ph := db.d.placeholder
		return exec("INSERT INTO "+db.d.quote(schemaTable)+" (dataclass, attribute, kind, type, primary_key) VALUES ("+
			ph(1)+", "+ph(2)+", "+ph(3)+", "+ph(4)+", "+ph(5)+")", dc.Name, a.Name, a.Kind, a.Type, a.PrimaryKey)
	}
	var cols map[string]bool // the table's columns, when it existed before
	if stored == nil {
		if err := exec(db.d.createTable(dc)); err != nil {
			return nil, nil, err
		}
		changes = append(changes, "created table "+dc.Name)
		for _, a := range dc.Attributes {
			if a.Kind == KindRelatedEntity {
				fks = append(fks, db.d.foreignKey(dc, a)...)
			}
		}
	} else {
		if cols, err = db.d.columns(ctx, tx, dc.Name); err != nil {
			return nil, nil, fmt.Errorf("datastore: schema of %s: %w", dc.Name, err)
		}
		for _, s := range stored {
			if s.primaryKey && (s.name != dc.Key.Name || s.typ != dc.Key.Type) {
				return nil, nil, fmt.Errorf("%w: %s: the primary key is %s (%s) in the database, %s (%s) in the model",
					ErrIncompatibleModel, dc.Name, s.name, s.typ, dc.Key.Name, dc.Key.Type)
			}
		}
	}
	for _, a := range dc.Attributes {
		if !a.hasColumn() {
			continue
		}
		s, ok := stored[a.Name]
		switch {
		case ok && (s.kind != a.Kind || s.typ != a.Type):
			return nil, nil, fmt.Errorf("%w: %s.%s is %s %s in the database, %s %s in the model",
				ErrIncompatibleModel, dc.Name, a.Name, s.kind, s.typ, a.Kind, a.Type)
		case ok:
			// A column of an older format, or of an attribute that was out of the model while
			// the format changed, may lack its shadows: add and fill them from the column.
			if a.hasShadow() && !cols[foldColumn(a)] {
				for _, stmt := range db.d.addShadowColumns(dc, a) {
					if err := exec(stmt); err != nil {
						return nil, nil, err
					}
				}
				if err := db.fillShadows(ctx, tx, dc, a); err != nil {
					return nil, nil, err
				}
				changes = append(changes, "added and filled the fold and words columns of "+dc.Name+"."+a.Name)
			}
			continue
		case stored != nil:
			if a.PrimaryKey {
				return nil, nil, fmt.Errorf("%w: %s: the primary key %s cannot be added to an existing table", ErrIncompatibleModel, dc.Name, a.Name)
			}
			if cols[a.Name] {
				// The column exists but the schema table does not know it: never re-add.
				return nil, nil, fmt.Errorf("%w: %s.%s has a column the schema table does not record", ErrIncompatibleModel, dc.Name, a.Name)
			}
			for _, stmt := range db.d.addColumns(dc, a) {
				if err := exec(stmt); err != nil {
					return nil, nil, err
				}
			}
			if a.Kind == KindRelatedEntity {
				fks = append(fks, db.d.foreignKey(dc, a)...)
			}
			changes = append(changes, "added column "+dc.Name+"."+a.Name)
		}
		if err := record(a); err != nil {
			return nil, nil, err
		}
	}
	for _, stmt := range db.d.indexes(dc) {
		if err := exec(stmt); err != nil {
			return nil, nil, err
		}
	}
	return changes, fks, nil
}

// fillShadows computes a's shadow columns for every row of dc from the column itself. It runs
// in the schema transaction, in key order, a batch at a time.
func (db *DB) fillShadows(ctx context.Context, tx *sql.Tx, dc *DataClass, a *Attribute) error {
	q, ph := db.d.quote, db.d.placeholder
	type row struct{ key, val any }
	var rows []row
	res, err := tx.QueryContext(ctx, "SELECT "+q(dc.Key.Name)+", "+q(a.Name)+" FROM "+q(dc.Name)+" WHERE "+q(a.Name)+" IS NOT NULL")
	if err != nil {
		return fmt.Errorf("datastore: schema of %s: %w", dc.Name, db.d.classify(err))
	}
	for res.Next() {
		var r row
		if err := res.Scan(&r.key, &r.val); err != nil {
			res.Close()
			return fmt.Errorf("datastore: schema of %s: %w", dc.Name, db.d.classify(err))
		}
		if b, ok := r.val.([]byte); ok {
			r.val = string(b)
		}
		rows = append(rows, r)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return fmt.Errorf("datastore: schema of %s: %w", dc.Name, db.d.classify(err))
	}
	stmt := "UPDATE " + q(dc.Name) + " SET " + q(foldColumn(a)) + " = " + ph(1) + ", " + q(wordsColumn(a)) + " = " + ph(2) +
		" WHERE " + q(dc.Key.Name) + " = " + ph(3)
	for _, r := range rows {
		f, w := shadowValues(r.val)
		if _, err := tx.ExecContext(ctx, stmt, f, w, r.key); err != nil {
			return fmt.Errorf("datastore: schema of %s: %w", dc.Name, db.d.classify(err))
		}
	}
	return nil
}

// Ping checks that the database answers (for readiness probes).
func (db *DB) Ping(ctx context.Context) error {
	return db.d.classify(db.r.PingContext(ctx))
}
