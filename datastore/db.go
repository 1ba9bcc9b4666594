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

// DB is an open datastore: a model and the SQLite file holding its entities. It is safe for
// concurrent use; writes are serialised, reads run concurrently.
type DB struct {
	d      sqliteDialect
	w      *sql.DB // one connection: all writes and schema changes
	r      *sql.DB // query-only connections
	log    *slog.Logger
	now    func() time.Time
	maxTop int

	model    atomic.Pointer[Model]
	schemaMu sync.Mutex // serialises SetModel
}

// Open opens (creating if needed) the database file at path and creates or extends its schema
// for m (nil means an empty model). The file is put in WAL mode with a busy timeout and foreign
// keys enforced.
func Open(ctx context.Context, path string, m *Model, opts Options) (*DB, error) {
	if m == nil {
		m = emptyModel()
	}
	if err := m.prepare(); err != nil {
		return nil, err
	}
	db := &DB{log: opts.Logger, now: opts.Now, maxTop: opts.MaxTop}
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
	if err := db.applySchema(ctx, m); err != nil {
		db.Close()
		return nil, err
	}
	db.model.Store(m)
	return db, nil
}

// Close closes the database. Calls in flight may fail.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

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

// schemaFormat is the version of the bookkeeping tables' layout.
const schemaFormat = "1"

// applySchema creates or extends tables, columns and indexes for m in one transaction, so a
// failure changes nothing.
func (db *DB) applySchema(ctx context.Context, m *Model) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
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
	var changes []string
	for _, dc := range m.DataClasses {
		c, err := db.applyDataClass(ctx, tx, dc, stored[dc.Name])
		if err != nil {
			return err
		}
		changes = append(changes, c...)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	}
	for _, c := range changes {
		db.log.Info("datastore: schema changed", "change", c)
	}
	return nil
}

func (db *DB) checkFormat(ctx context.Context, tx *sql.Tx) error {
	q := db.d.quote
	var format string
	err := tx.QueryRowContext(ctx, "SELECT value FROM "+q(metaTable)+" WHERE name = "+db.d.placeholder(1), "format").Scan(&format)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, "INSERT INTO "+q(metaTable)+" (name, value) VALUES ("+db.d.placeholder(1)+", "+db.d.placeholder(2)+")", "format", schemaFormat)
		if err != nil {
			return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
		}
		return nil
	case err != nil:
		return fmt.Errorf("datastore: schema: %w", db.d.classify(err))
	case format != schemaFormat:
		return fmt.Errorf("datastore: the database was written by a newer gatehouse (format %q)", format)
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

// applyDataClass brings one table in line with dc and returns what it changed.
func (db *DB) applyDataClass(ctx context.Context, tx *sql.Tx, dc *DataClass, stored map[string]storedAttr) ([]string, error) {
	var changes []string
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
	if stored == nil {
		if err := exec(db.d.createTable(dc)); err != nil {
			return nil, err
		}
		changes = append(changes, "created table "+dc.Name)
	} else {
		for _, s := range stored {
			if s.primaryKey && (s.name != dc.Key.Name || s.typ != dc.Key.Type) {
				return nil, fmt.Errorf("%w: %s: the primary key is %s (%s) in the database, %s (%s) in the model",
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
			return nil, fmt.Errorf("%w: %s.%s is %s %s in the database, %s %s in the model",
				ErrIncompatibleModel, dc.Name, a.Name, s.kind, s.typ, a.Kind, a.Type)
		case ok:
			continue
		case stored != nil:
			if a.PrimaryKey {
				return nil, fmt.Errorf("%w: %s: the primary key %s cannot be added to an existing table", ErrIncompatibleModel, dc.Name, a.Name)
			}
			if err := exec(db.d.addColumn(dc, a)); err != nil {
				return nil, err
			}
			changes = append(changes, "added column "+dc.Name+"."+a.Name)
		}
		if err := record(a); err != nil {
			return nil, err
		}
	}
	for _, stmt := range db.d.indexes(dc) {
		if err := exec(stmt); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// Ping checks that the database answers (for readiness probes).
func (db *DB) Ping(ctx context.Context) error {
	return db.d.classify(db.r.PingContext(ctx))
}
