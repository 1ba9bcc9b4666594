package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Snapshot reads the database as of one moment: every read through it (pages, their counts,
// related entities) sees the same committed state, in one read transaction (SQLite's in WAL
// mode; PostgreSQL's REPEATABLE READ, READ ONLY). The transaction begins with the first read
// and ends with Close, which the caller must call. A Snapshot serves one request: it is not
// safe for concurrent use.
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
	return tx, nil
}

// Close ends the snapshot's transaction. It may be called more than once.
func (s *Snapshot) Close() error {
	if s == nil || s.tx == nil {
		return nil
	}
	err := s.tx.Rollback()
	s.tx = nil
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
