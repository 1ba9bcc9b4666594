package datastore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
	"unicode/utf8"
)

// dialect holds every backend-specific piece of SQL and storage: connection topology, identifier
// quoting and limits, placeholders, DDL, row locks, paging, isolation, value encoding, and the
// classification of the backend's errors into kinds. The rest of the package builds SQL only
// through it. Two implementations: sqliteDialect (embedded, the default) and pgDialect.
//
// Semantics never depend on the backend: case folding and keyword search are computed in Go
// and stored in shadow columns (see shadow.go), compared byte-wise on both backends, so the
// same query gives the same answer on each.
type dialect interface {
	// name is "sqlite" or "postgres", for messages.
	name() string
	// open returns the pool that writes and the pool that reads (the same pool where the
	// backend needs no split).
	open(ctx context.Context, dsn string) (writer, reader *sql.DB, err error)

	quote(name string) string
	// checkIdentifier refuses a name the backend would not store as given.
	checkIdentifier(name string) error
	// indexName maps gatehouse's index name to one the backend accepts.
	indexName(name string) string
	placeholder(n int) string
	// cachesStatements reports whether the DB should keep prepared statements of its reads
	// (stmtCache); false when the driver does it by itself.
	cachesStatements() bool

	// metaDDL creates the bookkeeping tables if they are missing.
	metaDDL() []string
	// lockSchema serialises schema changes with other processes until tx ends.
	lockSchema(ctx context.Context, tx *sql.Tx) error
	// legacyCleanup removes what an older format left behind (format is the stored one).
	legacyCleanup(ctx context.Context, tx *sql.Tx, format string) error
	// columns lists the columns table has.
	columns(ctx context.Context, tx *sql.Tx, table string) (map[string]bool, error)
	createTable(dc *DataClass) string
	addColumns(dc *DataClass, a *Attribute) []string
	addShadowColumns(dc *DataClass, a *Attribute) []string
	// foreignKey returns the statements that constrain the new foreign key column a, run once
	// every table exists (PostgreSQL cannot refer to a table created later in the same model).
	foreignKey(dc *DataClass, a *Attribute) []string
	indexes(dc *DataClass) []string

	like(expr, ph string) string
	notTrue(cond string) string
	orderTerm(expr string, desc bool) string
	limitOffset(limitPH, offsetPH string) string
	// jsonType, jsonNumber, jsonText and jsonBool read the value at keys (identifiers)
	// inside the JSON text of column col: its type ('number', 'string', 'boolean', 'null',
	// 'object', 'array'; NULL when missing), or the value as a double, as text (compared in
	// code point order) or as 1/0, each NULL when the value is of another type.
	jsonType(col string, keys []string) string
	jsonNumber(col string, keys []string) string
	jsonText(col string, keys []string) string
	jsonBool(col string, keys []string) string
	// inList is "expr is one of the elements of the JSON array bound to ph", elements of
	// key type typ (long, string, uuid): one parameter however long the list.
	inList(expr, ph, typ string) string
	// bindCast annotates placeholder ph for the value v bound to it, where the backend needs
	// the type spelt out (a fractional operand compared with an integer column).
	bindCast(ph string, v any) string
	insertReturningKey(dc *DataClass, cols []string) string
	// afterExplicitKey runs after an insert that gave an autoincrement key explicitly, so the
	// generator never hands that key out again.
	afterExplicitKey(ctx context.Context, tx *sql.Tx, dc *DataClass, key int64) error
	// forUpdate and forKeyShare are the row-lock suffixes of a SELECT in a write transaction.
	forUpdate() string
	forKeyShare() string
	// lockOwner serialises, until tx ends, the transactions counting one owner's uploads.
	lockOwner(ctx context.Context, tx *sql.Tx, owner string) error
	// byteLength is the length in bytes of the binary value of column expression col.
	byteLength(col string) string
	// readTx is the isolation of a read that must see one snapshot (a page and its count).
	readTx() *sql.TxOptions

	isDuplicateKey(err error) bool
	classify(err error) error

	encode(typ string, v any) (any, error)
	decode(typ string, v any) (any, error)
	encodeTime(t time.Time) string
	decodeTime(v any) (time.Time, error)
}

var (
	_ dialect = sqliteDialect{}
	_ dialect = pgDialect{}
)

// isPostgresURL reports whether a --database value names a PostgreSQL database.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// dialectFor chooses the backend for a --database value.
func dialectFor(dsn string) dialect {
	if isPostgresURL(dsn) {
		return pgDialect{}
	}
	return sqliteDialect{}
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

// maxIdentifier is the longest identifier, in bytes, gatehouse creates (PostgreSQL's limit,
// which silently cuts longer names).
const maxIdentifier = 63

// shortName keeps a generated name within maxIdentifier bytes: a longer one is cut at a rune
// boundary and ends with a hash of the whole, so it stays unique and stable.
func shortName(name string) string {
	if len(name) <= maxIdentifier {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	suffix := fmt.Sprintf("~%08x", h.Sum32())
	cut := maxIdentifier - len(suffix)
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + suffix
}

const likeEscape = '\\'

// likeLiteral escapes LIKE's own wildcards in s so they match literally.
func likeLiteral(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '%' || r == '_' || r == likeEscape {
			b.WriteRune(likeEscape)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// prefixUpperBound returns the least string greater than every string starting with prefix,
// in code point order (which is the byte order of UTF-8, the order both backends compare
// shadow columns in): prefix with its last rune incremented. ok is false when there is none
// (the prefix is all U+10FFFF). The result is valid UTF-8, so PostgreSQL accepts it.
func prefixUpperBound(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i] + 1
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not characters
			r = 0xE000
		}
		if r <= utf8.MaxRune {
			rs[i] = r
			return string(rs[:i+1]), true
		}
	}
	return "", false
}

// timeLayout is fixed-width (nanoseconds always written, always UTC "Z"), so that the text
// order of stored dates is their chronological order. Both backends store dates and
// __timestamp as this text: nanoseconds survive, and the order is the same.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func encodeTimeText(t time.Time) string { return t.UTC().Format(timeLayout) }

func decodeTimeText(v any) (time.Time, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return time.Time{}, fmt.Errorf("bad timestamp %v", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q", s)
	}
	return t.UTC(), nil
}

// indexStatements returns the CREATE INDEX statements for dc, the same on both backends.
// Strings are indexed on their fold column, which is what queries compare and sort by; foreign
// keys are indexed for 1→N navigation and for clearing references when an entity is dropped.
// Keys are indexed by the table itself.
func indexStatements(d dialect, dc *DataClass) []string {
	var out []string
	index := func(name, col string) {
		// '.' cannot occur in model names, so index names never collide with tables or each other.
		out = append(out, "CREATE INDEX IF NOT EXISTS "+d.quote(d.indexName(dc.Name+"."+name))+" ON "+d.quote(dc.Name)+" ("+d.quote(col)+")")
	}
	for _, a := range dc.Attributes {
		switch {
		case a.Kind == KindRelatedEntity:
			index(a.Name, a.Name)
			if a.hasShadow() {
				index(a.Name+".fold", foldColumn(a))
			}
		case a.Kind == KindStorage && a.Type == TypeString && (a.Indexed || a.PrimaryKey):
			index(a.Name, foldColumn(a))
		case a.Kind == KindStorage && a.Indexed && !a.PrimaryKey:
			index(a.Name, a.Name)
		}
	}
	return out
}

// encodeValue converts a canonical value of type typ (see values.go) to what a column
// stores. Every dialect stores values alike but for booleans (boolean gives the column's
// form) and, where the backend restricts text, a check of strings (text; nil: none).
func encodeValue(typ string, v any, boolean func(bool) any, text func(string) error) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case TypeBool:
		if b, ok := v.(bool); ok {
			return boolean(b), nil
		}
	case TypeDate:
		if t, ok := v.(time.Time); ok {
			return encodeTimeText(t), nil
		}
	case TypeObject:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case TypeString, TypeUUID:
		if s, ok := v.(string); ok {
			if text != nil {
				if err := text(s); err != nil {
					return nil, err
				}
			}
			return s, nil
		}
	case TypeLong:
		switch n := v.(type) {
		case int64:
			return n, nil
		case float64: // a query operand such as 1.5, compared with a long (see bindCast)
			return n, nil
		}
	case TypeNumber:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	}
	return nil, fmt.Errorf("datastore: %v (%T) is not a canonical %s value", v, v, typ)
}

// decodeValue converts a column value back to the canonical value of type typ; boolean
// reads the column's form of a boolean.
func decodeValue(typ string, v any, boolean func(any) (bool, bool)) (any, error) {
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
		if b, ok := boolean(v); ok {
			return b, nil
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

// columnNames runs query (one placeholder, the table) and collects the names it returns:
// the columns of a table, as each dialect's catalogue lists them. Errors are the driver's
// (the caller classifies them).
func columnNames(ctx context.Context, tx *sql.Tx, query, table string) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, query, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}
