package datastore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the prepared statements kept: the SQL of a query depends on the shape
// of its filter (values are always parameters), and filters come from clients, so the number
// of distinct texts has no bound of its own. Past it, queries are prepared each time.
const maxCachedStmts = 512

// stmtCache keeps the reader pool's prepared statements by SQL text, so that a query run again
// skips the backend's parsing and planning (SQLite spends about a fifth of a login preparing).
// database/sql prepares a *sql.Stmt on each connection it runs on, once, and a transaction
// reuses the connection's. SQLite recompiles a statement itself after a schema change, so the
// cache lives as long as the DB. It is used only where the dialect asks for it: pgx already
// caches prepared statements per connection.
type stmtCache struct {
	pool   *sql.DB
	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	closed bool
	// pending are the texts prepareLater is preparing.
	pending map[string]bool
}

// get returns the statement of text; nil when it is not cached and prepare is false, when the
// cache is full, or when the text does not prepare (the caller then runs the text itself and
// reports the error). Preparing takes a connection of the pool: a caller that holds one (a
// transaction) must not prepare, or callers holding every connection would wait for one
// another; find prepares before it begins its transaction. No lock is held while preparing.
func (c *stmtCache) get(ctx context.Context, text string, prepare bool) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st, full := c.m[text], len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if st != nil || !prepare || full {
		return st
	}
	// The context bounds the preparation only: the statement outlives the request.
	st, err := c.pool.PrepareContext(ctx, text)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other := c.m[text]; other != nil || len(c.m) >= maxCachedStmts || c.closed {
		st.Close() // another caller was first, or the cache filled up or closed meanwhile
		return other
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[text] = st
	return st
}

// prepareLater prepares text in the background, for a caller that holds a connection (a
// Snapshot's transaction) and so may not prepare itself.
func (c *stmtCache) prepareLater(text string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.m[text] != nil || c.pending[text] || len(c.m)+len(c.pending) >= maxCachedStmts {
		return
	}
	if c.pending == nil {
		c.pending = map[string]bool{}
	}
	c.pending[text] = true
	go func() {
		c.get(context.Background(), text, true)
		c.mu.Lock()
		delete(c.pending, text)
		c.mu.Unlock()
	}()
}

// close closes the cached statements.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m, c.closed = nil, true
}

// readQuery runs a read on tx (a read transaction of the reader pool), or on the reader pool
// when tx is nil, through a cached prepared statement when the dialect wants them (in a
// transaction, only one prepared before it began).
func (db *DB) readQuery(ctx context.Context, tx *sql.Tx, text string, args ...any) (*sql.Rows, error) {
	if st := db.stmts.get(ctx, text, tx == nil); st != nil {
		if tx != nil {
			st = tx.StmtContext(ctx, st)
		}
		return st.QueryContext(ctx, args...)
	}
	if tx != nil {
		db.stmts.prepareLater(text)
		return tx.QueryContext(ctx, text, args...)
	}
	return db.r.QueryContext(ctx, text, args...)
}

// readRow is readQuery for one row.
func (db *DB) readRow(ctx context.Context, tx *sql.Tx, text string, args ...any) *sql.Row {
	if st := db.stmts.get(ctx, text, tx == nil); st != nil {
		if tx != nil {
			st = tx.StmtContext(ctx, st)
		}
		return st.QueryRowContext(ctx, args...)
	}
	if tx != nil {
		db.stmts.prepareLater(text)
		return tx.QueryRowContext(ctx, text, args...)
	}
	return db.r.QueryRowContext(ctx, text, args...)
}
