package datastore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
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

// sqliteDialect holds every SQLite-specific piece of SQL and storage format: connection
// settings, identifier quoting, column types, DDL, LIKE escaping, case folding, keyword search,
// paging, RETURNING, error classification and value encoding. The rest of the package builds
// SQL only through it, so a PostgreSQL backend is a second implementation of these methods
// (extract an interface then), not a hunt through the code.
type sqliteDialect struct{}

// SQL functions registered on gatehouse's private SQLite driver. They are deterministic, so
// they may appear in indexes: the expression index on gatehouse_fold(col) makes case-insensitive
// equality, ranges and ordering on indexed strings use the index. A consequence: a tool other
// than gatehouse (the sqlite3 shell) can read the file but cannot write to a table with such an
// index, because it lacks the function.
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

// Columns every table has besides the model's attributes.
const (
	stampColumn     = "__stamp"
	timestampColumn = "__timestamp"
)

// Schema bookkeeping tables. Their names start with "__", which model names cannot.
const (
	schemaTable = "__gatehouse_schema"
	metaTable   = "__gatehouse_meta"
)

func (d sqliteDialect) metaDDL() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + d.quote(metaTable) + ` (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + d.quote(schemaTable) + ` (dataclass TEXT NOT NULL, attribute TEXT NOT NULL,` +
			` kind TEXT NOT NULL, type TEXT NOT NULL, primary_key INTEGER NOT NULL, PRIMARY KEY (dataclass, attribute))`,
	}
}

func (sqliteDialect) sqlType(typ string) string {
	switch typ {
	case TypeLong, TypeBool:
		return "INTEGER"
	case TypeNumber:
		return "REAL"
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

func (d sqliteDialect) createTable(dc *DataClass) string {
	cols := []string{}
	for _, a := range dc.Attributes {
		if a.hasColumn() {
			cols = append(cols, d.columnDef(a))
		}
	}
	cols = append(cols, d.quote(stampColumn)+" INTEGER NOT NULL DEFAULT 1", d.quote(timestampColumn)+" TEXT NOT NULL")
	return "CREATE TABLE " + d.quote(dc.Name) + " (" + strings.Join(cols, ", ") + ")"
}

func (d sqliteDialect) addColumn(dc *DataClass, a *Attribute) string {
	return "ALTER TABLE " + d.quote(dc.Name) + " ADD COLUMN " + d.columnDef(a)
}

// indexes returns the CREATE INDEX statements for dc. Strings are indexed on their folded form,
// which is what queries compare and sort by; foreign keys are indexed for 1→N navigation and
// for clearing references when an entity is dropped. Keys are indexed by the table itself.
func (d sqliteDialect) indexes(dc *DataClass) []string {
	var out []string
	index := func(name, expr string) {
		// '.' cannot occur in model names, so index names never collide with tables or each other.
		out = append(out, "CREATE INDEX IF NOT EXISTS "+d.quote(dc.Name+"."+name)+" ON "+d.quote(dc.Name)+" ("+expr+")")
	}
	for _, a := range dc.Attributes {
		col := d.quote(a.Name)
		switch {
		case a.Kind == KindRelatedEntity:
			index(a.Name, col)
			if a.Related.Key.Type == TypeString {
				index(a.Name+".fold", d.fold(col))
			}
		case a.Kind == KindStorage && a.Type == TypeString && (a.Indexed || a.PrimaryKey):
			index(a.Name, d.fold(col))
		case a.Kind == KindStorage && a.Indexed && !a.PrimaryKey:
			index(a.Name, col)
		}
	}
	return out
}

// placeholder returns the n-th (1-based) bind parameter marker.
func (sqliteDialect) placeholder(int) string { return "?" }

// fold wraps a string expression so it compares case-insensitively (see fold in values.go).
func (sqliteDialect) fold(expr string) string { return sqlFoldFunc + "(" + expr + ")" }

// keyword is the % operator: expr contains the keyword held by placeholder ph.
func (sqliteDialect) keyword(expr, ph string) string {
	return sqlKeywordFunc + "(" + expr + ", " + ph + ")"
}

const likeEscape = '\\'

// like matches expr against the pattern in placeholder ph, built with likePattern.
func (sqliteDialect) like(expr, ph string) string { return expr + " LIKE " + ph + ` ESCAPE '\'` }

// likeLiteral escapes LIKE's own wildcards in s so they match literally.
func (sqliteDialect) likeLiteral(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '%' || r == '_' || r == likeEscape {
			b.WriteRune(likeEscape)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// prefixUpperBound returns a string greater than every string starting with prefix under binary
// comparison: no UTF-8 text contains the byte 0xFF.
func (sqliteDialect) prefixUpperBound(prefix string) string { return prefix + "\xff" }

// notTrue is the complement of a condition in set terms: it holds where cond is false or NULL.
func (sqliteDialect) notTrue(cond string) string { return "(" + cond + ") IS NOT TRUE" }

// orderTerm sorts by expr; NULLs come first ascending and last descending (SQLite's order).
func (sqliteDialect) orderTerm(expr string, desc bool) string {
	if desc {
		return expr + " DESC"
	}
	return expr + " ASC"
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

// timeLayout is fixed-width (nanoseconds always written, always UTC "Z"), so that the text
// order of stored dates is their chronological order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// encode converts a canonical value of type typ (see values.go) to what the column stores.
func (sqliteDialect) encode(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case TypeBool:
		if b, ok := v.(bool); ok {
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case TypeDate:
		if t, ok := v.(time.Time); ok {
			return t.UTC().Format(timeLayout), nil
		}
	case TypeObject:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case TypeString, TypeUUID:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeLong:
		switch n := v.(type) {
		case int64:
			return n, nil
		case float64: // a query operand such as 1.5, compared with a long
			return n, nil
		}
	case TypeNumber:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	}
	return nil, fmt.Errorf("datastore: %v (%T) is not a canonical %s value", v, v, typ)
}

// encodeTime is the stored form of __timestamp.
func (d sqliteDialect) encodeTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// decode converts a column value back to the canonical value of type typ.
func (sqliteDialect) decode(typ string, v any) (any, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil, nil
	}
	switch typ {
	case TypeString, TypeUUID:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeLong:
		if n, ok := toInt64(v); ok {
			return n, nil
		}
	case TypeNumber:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
	case TypeBool:
		if n, ok := toInt64(v); ok {
			return n != 0, nil
		}
	case TypeDate:
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UTC(), nil
			}
		}
	case TypeObject:
		if s, ok := v.(string); ok {
			var out any
			if err := json.Unmarshal([]byte(s), &out); err == nil {
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("datastore: stored value %v does not fit type %s", v, typ)
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
