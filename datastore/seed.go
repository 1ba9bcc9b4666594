package datastore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"gatehouse/internal/errkind"
)

// OpenSeeded opens the database at path like Open. When the file did not exist before and
// seed is not nil, it loads seed (seed.json's contents) in one transaction; if that fails,
// the database is closed and every file it created (path, path-wal, path-shm, path-journal)
// is removed, so the next start seeds again. seeded is the number of entities seeded (0
// when the database existed).
//
// A new database that fails to open is removed the same way, seed or not: a start that failed
// leaves nothing that the next start would take for a seeded database. The exception is a
// failure of kind errkind.Unavailable: another connection holds the new file's lock (a second
// process starting at the same time), so the file is in use and not this call's to remove.
// Errors from the seed are wrapped with "seed.json: ".
//
// With a PostgreSQL URL there is no file: the seed runs, under the schema's advisory lock, when
// no instance has seeded the database yet (a row in the bookkeeping table says so), in the same
// transaction as that row; a failed seed leaves nothing, and the next start tries again.
func OpenSeeded(ctx context.Context, path string, m *Model, seed []byte, opts Options) (db *DB, seeded int, err error) {
	if isPostgresURL(path) {
		if db, err = Open(ctx, path, m, opts); err != nil || seed == nil {
			return db, 0, err
		}
		if seeded, err = db.seedOnce(ctx, seed); err != nil {
			db.Close()
			return nil, 0, fmt.Errorf("seed.json: %w", err)
		}
		return db, seeded, nil
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		db, err = Open(ctx, path, m, opts)
		return db, 0, err
	}
	undo := func(err error) error {
		if errkind.Is(err, errkind.Unavailable) {
			return err
		}
		var failed []error
		for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
			if rmErr := os.Remove(p); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
				failed = append(failed, rmErr)
			}
		}
		if len(failed) > 0 {
			// The next start would find a database and not seed it: say so.
			return fmt.Errorf("%w (and the new database could not be removed: %v)", err, errors.Join(failed...))
		}
		return err
	}
	db, err = Open(ctx, path, m, opts)
	if err != nil {
		return nil, 0, undo(err)
	}
	if seed == nil {
		return db, 0, nil
	}
	seeded, err = db.Seed(ctx, seed)
	if err != nil {
		err = fmt.Errorf("seed.json: %w", err)
		if closeErr := db.Close(); closeErr != nil {
			db.log.Warn("datastore: closing the database after a failed seed", "err", closeErr)
		}
		return nil, 0, undo(err)
	}
	return db, seeded, nil
}

// Seed loads initial entities into the dataclasses named in data, a JSON object
// {"DataClass": [{attribute: value, ...}, ...], ...}, in one transaction: all or nothing.
// Dataclasses are filled in the order of the model (so list N->1 targets first), and a
// dataclass that already holds entities is left alone, so seeding twice changes nothing.
// Relations are given as the related key (or {"__KEY": key}).
func (db *DB) Seed(ctx context.Context, data []byte) (int, error) {
	all, err := db.seedEntities(ctx, data)
	if err != nil || len(all) == 0 {
		return 0, err
	}
	if _, err := db.SaveAll(ctx, all); err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", err)
	}
	return len(all), nil
}

// seedOnce seeds a database that no instance has seeded yet (see OpenSeeded).
func (db *DB) seedOnce(ctx context.Context, data []byte) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("datastore: %w", db.d.classify(err))
	}
	defer tx.Rollback()
	if err := db.d.lockSchema(ctx, tx); err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", err)
	}
	q, ph := db.d.quote, db.d.placeholder
	var v string
	err = tx.QueryRowContext(ctx, "SELECT value FROM "+q(metaTable)+" WHERE name = "+ph(1), "seeded").Scan(&v)
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("datastore: seed: %w", db.d.classify(err))
	}
	all, err := db.seedEntities(ctx, data)
	if err != nil {
		return 0, err
	}
	preps, err := db.prepare(all)
	if err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", err)
	}
	if _, err := db.saveTx(ctx, tx, all, preps); err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+q(metaTable)+" (name, value) VALUES ("+ph(1)+", "+ph(2)+")", "seeded", "1"); err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", db.d.classify(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("datastore: seed: %w", db.d.classify(err))
	}
	return len(all), nil
}

// seedEntities reads seed.json's entities for the dataclasses that hold none yet.
func (db *DB) seedEntities(ctx context.Context, data []byte) ([]*Entity, error) {
	var byName map[string][]map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&byName); err != nil {
		return nil, fmt.Errorf("datastore: seed: %w", err)
	}
	m := db.Model()
	for name := range byName {
		if m.DataClass(name) == nil {
			return nil, fmt.Errorf("datastore: seed: %w: %q", ErrUnknownDataClass, name)
		}
	}
	var all []*Entity
	for _, dc := range m.DataClasses {
		items := byName[dc.Name]
		if len(items) == 0 {
			continue
		}
		n, err := db.Count(ctx, dc, Query{})
		if err != nil {
			return nil, err
		}
		if n > 0 {
			continue
		}
		for _, item := range items {
			e := dc.NewEntity()
			for k, v := range item {
				if num, ok := v.(json.Number); ok {
					f, err := num.Float64()
					if err != nil {
						return nil, &ValueError{Attribute: k, Message: "not a number"}
					}
					v = f
				}
				e.Values[k] = v
			}
			all = append(all, e)
		}
	}
	return all, nil
}
