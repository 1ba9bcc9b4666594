package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Snapshot reads the database as of one moment: every read through it (pages, their counts,
// entities by key, entity-set keys, related entities, aggregates) sees the same committed
// state, in one read transaction (SQLite's in WAL mode; PostgreSQL's REPEATABLE READ, READ
// ONLY). It offers DB's reads, never its writes. The transaction begins with the first read
// and ends with Close, which the caller must call: until then it holds a connection of the
// reader pool, so a caller holding a Snapshot must make all its reads through it (a read on
// the pool could wait for a connection that snapshots like it hold). A Snapshot serves one
// request: it is not safe for concurrent use.
type Snapshot struct {
	db *DB
	tx *sql.Tx
}

// Snapshot returns a snapshot of db; nothing is read until it is used.
func (db *DB) Snapshot() *Snapshot { return &Snapshot{db: db} }

// begin returns the snapshot's transaction, beginning it when needed. The statements of the
// read about to run are prepared first: preparing takes a connection of the pool, which must
// never be done while holding one (stmtCache.get). Reads made once it has begun run their
// text unprepared when it is not cached, and have it prepared in the background for the
// next time (stmtCache.prepareLater).
func (s *Snapshot) begin(ctx context.Context, texts ...string) (*sql.Tx, error) {
	if s.tx != nil {
		return s.tx, nil
	}
	for _, t := range texts {
		s.db.stmts.get(ctx, t, true)
	}
	tx, err := s.db.r.BeginTx(ctx, s.db.d.readTx())
	if err != nil {
		return nil, fmt.Errorf("datastore: %w", s.db.d.classify(err))
	}
	s.tx = tx
	s.db.snaps.Add(1)
	return tx, nil
}

// OpenSnapshots returns how many snapshots hold a read transaction (begun, not closed): each
// holds a connection of the reader pool. A caller that closes its snapshots leaves none once
// its reads are over.
func (db *DB) OpenSnapshots() int { return int(db.snaps.Load()) }

// Begun reports whether the snapshot's transaction has begun (something was read through it,
// and it holds a connection until Close).
func (s *Snapshot) Begun() bool { return s != nil && s.tx != nil }

// Close ends the snapshot's transaction. It may be called more than once.
func (s *Snapshot) Close() error {
	if s == nil || s.tx == nil {
		return nil
	}
	err := s.tx.Rollback()
	s.tx = nil
	s.db.snaps.Add(-1)
	if errors.Is(err, sql.ErrTxDone) { // its context ended: database/sql rolled it back
		return nil
	}
	return err
}

// Find is DB.Find in the snapshot.
func (s *Snapshot) Find(ctx context.Context, dc *DataClass, q Query) (*Selection, error) {
	return s.db.find(ctx, s, dc, q, nil)
}

// FindRows is DB.FindRows in the snapshot.
func (s *Snapshot) FindRows(ctx context.Context, dc *DataClass, q Query) (*Rows, error) {
	return s.db.findRows(ctx, s, dc, q)
}

// RelatedEntity is DB.RelatedEntity in the snapshot.
func (s *Snapshot) RelatedEntity(ctx context.Context, e *Entity, attr string) (*Entity, error) {
	return s.db.relatedEntity(ctx, s, e, attr)
}

// RelatedEntities is DB.RelatedEntities in the snapshot.
func (s *Snapshot) RelatedEntities(ctx context.Context, e *Entity, attr string, q Query) (*Selection, error) {
	return s.db.relatedEntities(ctx, s, e, attr, q)
}

// Get is DB.Get in the snapshot.
func (s *Snapshot) Get(ctx context.Context, dc *DataClass, key string) (*Entity, error) {
	return s.db.get(ctx, s, dc, key)
}

// GetMany is DB.GetMany in the snapshot.
func (s *Snapshot) GetMany(ctx context.Context, dc *DataClass, keys []string) ([]*Entity, error) {
	return s.db.getMany(ctx, s, dc, keys)
}

// FindKeys is DB.FindKeys in the snapshot.
func (s *Snapshot) FindKeys(ctx context.Context, dc *DataClass, q Query) ([]string, error) {
	return s.db.findKeys(ctx, s, dc, q, nil)
}

// RelatedKeys is DB.RelatedKeys in the snapshot.
func (s *Snapshot) RelatedKeys(ctx context.Context, e *Entity, attr string, q Query) ([]string, error) {
	return s.db.relatedKeys(ctx, s, e, attr, q)
}

// Count is DB.Count in the snapshot.
func (s *Snapshot) Count(ctx context.Context, dc *DataClass, q Query) (int, error) {
	return s.db.countWhere(ctx, s, dc, q)
}

// Aggregate is DB.Aggregate in the snapshot.
func (s *Snapshot) Aggregate(ctx context.Context, dc *DataClass, q Query, attr string) (Aggregates, error) {
	return s.db.aggregate(ctx, s, dc, q, attr)
}

// Distinct is DB.Distinct in the snapshot.
func (s *Snapshot) Distinct(ctx context.Context, dc *DataClass, q Query, attr string) ([]any, error) {
	return s.db.distinct(ctx, s, dc, q, attr)
}

// Explain is DB.Explain in the snapshot (its counts, with counts).
func (s *Snapshot) Explain(ctx context.Context, dc *DataClass, q Query, counts bool) (*PlanStep, error) {
	return s.db.explainQuery(ctx, s, dc, q, counts)
}

// Binary is DB.Binary in the snapshot.
func (s *Snapshot) Binary(ctx context.Context, dc *DataClass, key, attr string) (*Binary, int64, error) {
	return s.db.binary(ctx, s, dc, key, attr)
}

// on returns the transaction a read runs in: snap's, begun now if it was not (with texts
// prepared first, see begin), or nil, the reader pool, when snap is nil.
func (db *DB) on(ctx context.Context, snap *Snapshot, texts ...string) (*sql.Tx, error) {
	if snap == nil {
		return nil, nil
	}
	return snap.begin(ctx, texts...)
}

// plainQuery runs a read that does not go through the prepared statements in tx, or on the
// reader pool when tx is nil.
func (db *DB) plainQuery(ctx context.Context, tx *sql.Tx, text string, args ...any) (*sql.Rows, error) {
	if tx != nil {
		return tx.QueryContext(ctx, text, args...)
	}
	return db.r.QueryContext(ctx, text, args...)
}

// plainRow is plainQuery for one row.
func (db *DB) plainRow(ctx context.Context, tx *sql.Tx, text string, args ...any) *sql.Row {
	if tx != nil {
		return tx.QueryRowContext(ctx, text, args...)
	}
	return db.r.QueryRowContext(ctx, text, args...)
}
