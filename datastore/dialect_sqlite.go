package datastore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse/internal/errkind"
)

// sqliteDialect is the embedded backend: a SQLite file in WAL mode, one writer connection and a
// pool of query-only readers.
type sqliteDialect struct{}

// SQL functions registered on gatehouse's private SQLite driver. Format 1 databases (before
// shadow columns) indexed gatehouse_fold(col); the functions stay registered so that such a file
// can be opened and migrated (legacyCleanup drops those indexes). Queries no longer use them.
const (
	sqlFoldFunc    = "gatehouse_fold"
	sqlKeywordFunc = "gatehouse_keyword"
)

// busyTimeout is how long a connection waits for a lock held by another process (a variable
// so that tests can shorten it).
var busyTimeout = 5 * time.Second

// sqliteDriver is a private driver instance: its functions apply only to gatehouse's own
// connections, not to every "sqlite" connection in the process.
var sqliteDriver = sync.OnceValues(func() (*sqlite.Driver, error) {
	d := &sqlite.Driver{}
	if err := d.RegisterDeterministicScalarFunction(sqlFoldFunc, 1, sqlFold); err != nil {
		return nil, err
	}
	if err := d.RegisterDeterministicScalarFunction(sqlKeywordFunc, 2, sqlKeyword); err != nil {
		return nil, err
	}
	return d, nil
})

func sqlFold(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return fold(v), nil
	case []byte:
		return fold(string(v)), nil
	}
	return args[0], nil // NULL and non-text values compare as they are
}

func sqlKeyword(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	text, ok := args[0].(string)
	kw, ok2 := args[1].(string)
	if !ok || !ok2 {
		return int64(0), nil
	}
	if keywordMatch(text, kw) {
		return int64(1), nil
	}
	return int64(0), nil
}

// sqliteConnector opens connections through the private driver.
type sqliteConnector struct {
	drv *sqlite.Driver
	dsn string
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.drv.Open(c.dsn)
}

func (c sqliteConnector) Driver() driver.Driver { return c.drv }

// open returns two pools on the database file: a single writer connection, so writes are
// serialised in this process and never fight over the lock (BEGIN IMMEDIATE), and a pool of
// query-only readers, which WAL lets run concurrently with the writer.
func (d sqliteDialect) open(ctx context.Context, path string) (writer, reader *sql.DB, err error) {
	drv, err := sqliteDriver()
	if err != nil {
		return nil, nil, fmt.Errorf("datastore: sqlite driver: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("datastore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, nil, fmt.Errorf("datastore: %w", err)
	}
	// A URI keeps '?' or '#' in a directory name from being read as parameters.
	base := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds())
	writer = sql.OpenDB(sqliteConnector{drv: drv, dsn: base + "?" + busy +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"})
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	// The writer goes first so the file exists and is in WAL mode before any reader opens it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("datastore: open %s: %w", path, d.classify(err))
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	reader = sql.OpenDB(sqliteConnector{drv: drv, dsn: base + "?" + busy + "&_pragma=foreign_keys(1)&_query_only=1"})
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	if err := reader.PingContext(ctx); err != nil {
		writer.Close()
		reader.Close()
		return nil, nil, fmt.Errorf("datastore: open %s: %w", path, d.classify(err))
	}
	return writer, reader, nil
}

// quote quotes an identifier. Identifiers only ever come from the model (validated names) or
// from this package's constants, never from query text.
func (sqliteDialect) quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (sqliteDialect) name() string { return "sqlite" }

// checkIdentifier accepts every name: SQLite has no length limit.
func (sqliteDialect) checkIdentifier(string) error { return nil }

// indexName keeps names as they are, as format 1 did.
func (sqliteDialect) indexName(name string) string { return name }

func (d sqliteDialect) metaDDL() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + d.quote(metaTable) + ` (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + d.quote(schemaTable) + ` (dataclass TEXT NOT NULL, attribute TEXT NOT NULL,` +
			` kind TEXT NOT NULL, type TEXT NOT NULL, primary_key INTEGER NOT NULL, PRIMARY KEY (dataclass, attribute))`,
		`CREATE TABLE IF NOT EXISTS ` + d.quote(uploadsTable) + ` (id TEXT PRIMARY KEY, owner TEXT NOT NULL, type TEXT NOT NULL,` +
			` data BLOB NOT NULL, expires TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + d.quote(uploadsTable+".owner") + ` ON ` + d.quote(uploadsTable) + ` (owner)`,
		`CREATE INDEX IF NOT EXISTS ` + d.quote(uploadsTable+".expires") + ` ON ` + d.quote(uploadsTable) + ` (expires)`,
	}
}

// lockSchema needs nothing: the schema transaction runs on the one writer connection, and
// BEGIN IMMEDIATE holds the file's write lock against other processes.
func (sqliteDialect) lockSchema(context.Context, *sql.Tx) error { return nil }

// legacyCleanup drops format 1's expression indexes on gatehouse_fold(col): shadow columns
// replace them (their names are reused for the new indexes).
func (d sqliteDialect) legacyCleanup(ctx context.Context, tx *sql.Tx, format string) error {
	if format != "1" {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%`+sqlFoldFunc+`(%'`)
	if err != nil {
		return d.classify(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return d.classify(err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d.classify(err)
	}
	for _, n := range names {
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+d.quote(n)); err != nil {
			return d.classify(err)
		}
	}
	return nil
}

func (d sqliteDialect) columns(ctx context.Context, tx *sql.Tx, table string) (map[string]bool, error) {
	names, err := columnNames(ctx, tx, "SELECT name FROM pragma_table_info(?)", table)
	return names, d.classify(err)
}

func (sqliteDialect) sqlType(typ string) string {
	switch typ {
	case TypeLong, TypeBool:
		return "INTEGER"
	case TypeNumber:
		return "REAL" // 8 bytes in SQLite
	case TypeBlob, TypePicture:
		return "BLOB"
	}
	return "TEXT" // string, uuid, date (fixed-width ISO text sorts chronologically), object (JSON)
}

func (d sqliteDialect) columnDef(a *Attribute) string {
	col := d.quote(a.Name) + " "
	switch {
	case a.PrimaryKey && a.Type == TypeLong && a.Autoincrement:
		// AUTOINCREMENT: keys of dropped entities are never reused, as in 4D.
		return col + "INTEGER PRIMARY KEY AUTOINCREMENT"
	case a.PrimaryKey && a.Type == TypeLong:
		return col + "INTEGER PRIMARY KEY"
	case a.PrimaryKey:
		return col + "TEXT PRIMARY KEY NOT NULL" // SQLite lets non-integer keys be NULL otherwise
	case a.Kind == KindRelatedEntity:
		key := a.Related.Key
		return col + d.sqlType(key.Type) + " REFERENCES " + d.quote(a.Related.Name) + "(" + d.quote(key.Name) + ") ON DELETE SET NULL"
	}
	return col + d.sqlType(a.Type)
}

func (d sqliteDialect) shadowDefs(a *Attribute) []string {
	if a.IsBinary() {
		return []string{d.quote(typeColumn(a)) + " TEXT"}
	}
	if !a.hasShadow() {
		return nil
	}
	return []string{d.quote(foldColumn(a)) + " TEXT", d.quote(wordsColumn(a)) + " TEXT"}
}

func (d sqliteDialect) createTable(dc *DataClass) string {
	cols := []string{}
	var blobs []string
	for _, a := range dc.Attributes {
		if a.IsBinary() {
			// Last in the row: SQLite reaches a column stored after a large value by walking
			// its overflow pages, so every read of the entity would pay for the bytes.
			blobs = append(blobs, d.columnDef(a))
			cols = append(cols, d.shadowDefs(a)...)
			continue
		}
		if a.hasColumn() {
			cols = append(cols, d.columnDef(a))
			cols = append(cols, d.shadowDefs(a)...)
		}
	}
	cols = append(cols, d.quote(stampColumn)+" INTEGER NOT NULL DEFAULT 1", d.quote(timestampColumn)+" TEXT NOT NULL")
	cols = append(cols, blobs...)
	return "CREATE TABLE " + d.quote(dc.Name) + " (" + strings.Join(cols, ", ") + ")"
}

func (d sqliteDialect) addColumns(dc *DataClass, a *Attribute) []string {
	if a.IsBinary() { // the type column first, so the bytes end the row (see createTable)
		return append(d.addShadowColumns(dc, a), "ALTER TABLE "+d.quote(dc.Name)+" ADD COLUMN "+d.columnDef(a))
	}
	return append([]string{"ALTER TABLE " + d.quote(dc.Name) + " ADD COLUMN " + d.columnDef(a)}, d.addShadowColumns(dc, a)...)
}

// foreignKey: the REFERENCES clause is part of the column; SQLite accepts a table created later.
func (sqliteDialect) foreignKey(*DataClass, *Attribute) []string { return nil }

func (d sqliteDialect) addShadowColumns(dc *DataClass, a *Attribute) []string {
	var out []string
	for _, def := range d.shadowDefs(a) {
		out = append(out, "ALTER TABLE "+d.quote(dc.Name)+" ADD COLUMN "+def)
	}
	return out
}

// indexes returns the CREATE INDEX statements for dc (see indexStatements).
func (d sqliteDialect) indexes(dc *DataClass) []string { return indexStatements(d, dc) }

// placeholder returns the n-th (1-based) bind parameter marker.
func (sqliteDialect) placeholder(int) string { return "?" }

// cachesStatements: modernc's driver prepares every query anew.
func (sqliteDialect) cachesStatements() bool { return true }

// like matches expr against the pattern in placeholder ph, built with likeLiteral. Both sides
// are folded, so LIKE's ASCII case-insensitivity changes nothing.
func (sqliteDialect) like(expr, ph string) string { return expr + " LIKE " + ph + ` ESCAPE '\'` }

func (sqliteDialect) bindCast(ph string, _ any) string { return ph }

func (sqliteDialect) afterExplicitKey(context.Context, *sql.Tx, *DataClass, int64) error {
	return nil // AUTOINCREMENT keeps the largest key ever used
}

// Row locks are implicit: a write transaction holds the database's write lock.
func (sqliteDialect) forUpdate() string   { return "" }
func (sqliteDialect) forKeyShare() string { return "" }

// lockOwner needs nothing: the one writer connection serialises write transactions.
func (sqliteDialect) lockOwner(context.Context, *sql.Tx, string) error { return nil }

// byteLength: length() of a BLOB counts bytes.
func (sqliteDialect) byteLength(col string) string { return "length(" + col + ")" }

// readTx: a read transaction in WAL mode sees one snapshot from its first read.
func (sqliteDialect) readTx() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// notTrue is the complement of a condition in set terms: it holds where cond is false or NULL.
func (sqliteDialect) notTrue(cond string) string { return "(" + cond + ") IS NOT TRUE" }

// orderTerm sorts by expr; NULLs come first ascending and last descending (SQLite's order).
func (sqliteDialect) orderTerm(expr string, desc bool) string {
	if desc {
		return expr + " DESC"
	}
	return expr + " ASC"
}

// sqliteJSONPath is the JSON path literal of keys ('$."a"."b"'); keys are identifiers.
func sqliteJSONPath(keys []string) string {
	return "'$.\"" + strings.Join(keys, "\".\"") + "\"'"
}

func (sqliteDialect) jsonType(col string, keys []string) string {
	p := sqliteJSONPath(keys)
	return "(CASE json_type(" + col + ", " + p + ") WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' " +
		"WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' ELSE json_type(" + col + ", " + p + ") END)"
}

func (sqliteDialect) jsonNumber(col string, keys []string) string {
	p := sqliteJSONPath(keys)
	return "(CASE WHEN json_type(" + col + ", " + p + ") IN ('integer', 'real') THEN json_extract(" + col + ", " + p + ") END)"
}

func (sqliteDialect) jsonText(col string, keys []string) string {
	p := sqliteJSONPath(keys)
	return "(CASE WHEN json_type(" + col + ", " + p + ") = 'text' THEN json_extract(" + col + ", " + p + ") END)"
}

func (sqliteDialect) jsonBool(col string, keys []string) string {
	return "(CASE json_type(" + col + ", " + sqliteJSONPath(keys) + ") WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
}

func (sqliteDialect) inList(expr, ph, _ string) string {
	return expr + " IN (SELECT value FROM json_each(" + ph + "))"
}

// limitOffset pages a SELECT; limitPH is "" for no limit.
func (sqliteDialect) limitOffset(limitPH, offsetPH string) string {
	if limitPH == "" {
		limitPH = "-1"
	}
	return " LIMIT " + limitPH + " OFFSET " + offsetPH
}

// insertReturningKey inserts one row and returns its key (generated or not).
func (d sqliteDialect) insertReturningKey(dc *DataClass, cols []string) string {
	quoted := make([]string, len(cols))
	phs := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = d.quote(c)
		phs[i] = d.placeholder(i + 1)
	}
	return "INSERT INTO " + d.quote(dc.Name) + " (" + strings.Join(quoted, ", ") + ") VALUES (" +
		strings.Join(phs, ", ") + ") RETURNING " + d.quote(dc.Key.Name)
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func (sqliteDialect) isDuplicateKey(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// encode converts a canonical value of type typ (see values.go) to what the column stores:
// booleans as integers, the rest as every dialect stores them.
func (sqliteDialect) encode(typ string, v any) (any, error) {
	return encodeValue(typ, v, func(b bool) any {
		if b {
			return int64(1)
		}
		return int64(0)
	}, nil)
}

// encodeTime is the stored form of __timestamp.
func (sqliteDialect) encodeTime(t time.Time) string { return encodeTimeText(t) }

// decodeTime reads __timestamp back.
func (sqliteDialect) decodeTime(v any) (time.Time, error) { return decodeTimeText(v) }

// decode converts a column value back to the canonical value of type typ.
func (sqliteDialect) decode(typ string, v any) (any, error) {
	return decodeValue(typ, v, func(v any) (bool, bool) {
		n, ok := toInt64(v)
		return n != 0, ok
	})
}

// classify gives the errors of SQLite that a caller can act on their kind: the database
// locked by another connection for longer than the busy timeout is errkind.Unavailable, a
// passing condition worth retrying. Other errors are returned as they are (nil stays nil).
// Every error of a database call goes through it, so no caller needs to know SQLite's codes.
func (sqliteDialect) classify(err error) error {
	switch sqliteCode(err) & 0xff { // primary code: SQLITE_BUSY_* and SQLITE_LOCKED_* too
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return errkind.Wrap(errkind.Unavailable, err)
	}
	return err
}
