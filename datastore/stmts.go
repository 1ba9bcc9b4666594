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
	pool *sql.DB
	mu   sync.RWMutex
	m    map[string]*sql.Stmt
}

// get returns the statement of text, prepared on first use; nil when the cache is full or the
// text does not prepare (the caller then runs the text itself and reports the error).
func (c *stmtCache) get(ctx context.Context, text string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st := c.m[text]
	c.mu.RUnlock()
	if st != nil {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[text]; st != nil {
		return st
	}
	if len(c.m) >= maxCachedStmts {
		return nil
	}
	// Prepared outside the request's context: the statement outlives the request.
	st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), text)
	if err != nil {
		return nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[text] = st
	return st
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
	c.m = nil
}

// readQuery runs a read on tx, or on the reader pool when tx is nil, through a cached
// prepared statement when the dialect wants them.
func (db *DB) readQuery(ctx context.Context, tx *sql.Tx, text string, args ...any) (*sql.Rows, error) {
	if st := db.stmts.get(ctx, text); st != nil {
		if tx != nil {
			st = tx.StmtContext(ctx, st)
		}
		return st.QueryContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryContext(ctx, text, args...)
	}
	return db.r.QueryContext(ctx, text, args...)
}

// readRow is readQuery for one row.
func (db *DB) readRow(ctx context.Context, tx *sql.Tx, text string, args ...any) *sql.Row {
	if st := db.stmts.get(ctx, text); st != nil {
		if tx != nil {
			st = tx.StmtContext(ctx, st)
		}
		return st.QueryRowContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryRowContext(ctx, text, args...)
	}
	return db.r.QueryRowContext(ctx, text, args...)
}
