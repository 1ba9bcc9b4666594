package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// querier is what both *sql.DB and *sql.Tx offer, so reads can run inside a write transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// deleteBatch bounds the keys bound in one DELETE.
const deleteBatch = 500

// fixedCond restricts a query to the entities whose attribute equals a value (1→N navigation).
type fixedCond struct {
	attr  *Attribute
	value any // encoded
}

// plan is a compiled query: FROM, WHERE and ORDER BY with their arguments.
type plan struct {
	c     *compiler
	s     *scope
	conds []string
	order string
}

func (p *plan) where() string {
	if len(p.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(p.conds, " AND ")
}

// args returns a copy of the bound arguments followed by extra (paging) values.
func (p *plan) args(extra ...any) []any {
	return append(append([]any(nil), p.c.args...), extra...)
}

func (db *DB) plan(dc *DataClass, q Query, fixed *fixedCond) (*plan, error) {
	c := &compiler{d: db.d, params: q.Params, visible: q.Visible, clause: ClauseFilter}
	p := &plan{c: c, s: c.newScope(dc)}
	if fixed != nil {
		p.conds = append(p.conds, p.s.column(p.s.alias, fixed.attr)+" = "+c.bind(fixed.value))
	}
	if q.InKeys {
		p.conds = append(p.conds, p.keysCond(db, q.Keys))
	}
	tree, err := parseFilter(q.Filter)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		w, err := p.s.where(tree)
		if err != nil {
			return nil, err
		}
		p.conds = append(p.conds, w)
	}
	terms, err := parseOrderBy(q.OrderBy)
	if err != nil {
		return nil, err
	}
	c.clause = ClauseOrderBy
	if p.order, err = p.s.orderBy(terms); err != nil {
		return nil, err
	}
	return p, nil
}

// selectList names the columns scanEntity reads, in its order.
func (db *DB) selectList(dc *DataClass, alias string) string {
	var cols []string
	for _, a := range dc.Attributes {
		switch {
		case a.IsBinary(): // the size and type, never the bytes (binary.go)
			cols = append(cols, db.d.byteLength(alias+"."+db.d.quote(a.Name)), alias+"."+db.d.quote(typeColumn(a)))
		case a.hasColumn():
			cols = append(cols, alias+"."+db.d.quote(a.Name))
		}
	}
	cols = append(cols, alias+"."+db.d.quote(stampColumn), alias+"."+db.d.quote(timestampColumn))
	return strings.Join(cols, ", ")
}

type scanner interface{ Scan(dest ...any) error }

func (db *DB) scanEntity(dc *DataClass, row scanner) (*Entity, error) {
	var dest []any
	for _, a := range dc.Attributes {
		if a.hasColumn() {
			dest = append(dest, new(any))
		}
		if a.IsBinary() {
			dest = append(dest, new(any)) // its type column
		}
	}
	var stamp int64
	var ts any
	if err := row.Scan(append(dest, &stamp, &ts)...); err != nil {
		return nil, err
	}
	e := &Entity{DataClass: dc, Stamp: stamp, Values: make(map[string]any, len(dest))}
	i := 0
	for _, a := range dc.Attributes {
		if !a.hasColumn() {
			continue
		}
		if a.IsBinary() {
			e.Values[a.Name] = binaryInfo(*dest[i].(*any), *dest[i+1].(*any))
			i += 2
			continue
		}
		v, err := db.d.decode(a.valueType(), *dest[i].(*any))
		if err != nil {
			return nil, fmt.Errorf("datastore: %s.%s: %w", dc.Name, a.Name, err)
		}
		e.Values[a.Name] = v
		if a == dc.Key {
			e.Key = v
		}
		i++
	}
	t, err := db.d.decodeTime(ts)
	if err != nil {
		return nil, fmt.Errorf("datastore: %s: %w", dc.Name, err)
	}
	e.Timestamp = t
	return e, nil
}

// Find returns the page of dc's entities selected by q, and how many match in all. Errors in the
// filter or order-by are *QueryError.
func (db *DB) Find(ctx context.Context, dc *DataClass, q Query) (*Selection, error) {
	return db.find(ctx, nil, dc, q, nil)
}

// FindRows is Find for a caller that writes the entities out: it answers the page as typed
// rows, without a map and an Entity per entity.
func (db *DB) FindRows(ctx context.Context, dc *DataClass, q Query) (*Rows, error) {
	return db.findRows(ctx, nil, dc, q)
}

func (db *DB) find(ctx context.Context, snap *Snapshot, dc *DataClass, q Query, fixed *fixedCond) (*Selection, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, err
	}
	sink := &entitySink{dc: dc, ents: []*Entity{}}
	sel := &Selection{DataClass: dc}
	if sel.Count, sel.First, err = db.readPage(ctx, snap, dc, q, fixed, sink); err != nil {
		return nil, err
	}
	sel.Entities = sink.ents
	return sel, nil
}

func (db *DB) findRows(ctx context.Context, snap *Snapshot, dc *DataClass, q Query) (*Rows, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, err
	}
	limit, _ := db.page(q)
	sink := newRowsSink(dc, limit)
	if sink.r.Count, sink.r.First, err = db.readPage(ctx, snap, dc, q, nil, sink); err != nil {
		return nil, err
	}
	return sink.r, nil
}

// A pageSink receives the rows of a page, in the columns of selectList.
type pageSink interface {
	scan(db *DB, rows *sql.Rows) error
	len() int
}

// entitySink collects a page as entities.
type entitySink struct {
	dc   *DataClass
	ents []*Entity
}

func (s *entitySink) scan(db *DB, rows *sql.Rows) error {
	e, err := db.scanEntity(s.dc, rows)
	if err != nil {
		return err
	}
	s.ents = append(s.ents, e)
	return nil
}

func (s *entitySink) len() int { return len(s.ents) }

// readPage reads the page of (resolved) dc that q selects into sink and returns how many
// entities match in all and the index of the first one. The page and the count are read in
// one read transaction: snap's when given, else one of their own (none when q wants no count).
// COUNT(*) runs only when the page cannot tell the total: a short page that is not empty, or
// an empty first page, is the end of the matches.
func (db *DB) readPage(ctx context.Context, snap *Snapshot, dc *DataClass, q Query, fixed *fixedCond, sink pageSink) (count, first int, err error) {
	p, err := db.plan(dc, q, fixed)
	if err != nil {
		return 0, 0, err
	}
	limit, skip := db.page(q)
	stmt, args := db.findSQL(p, limit, skip)
	// Statements are prepared before a transaction begins (see stmtCache.get).
	var tx *sql.Tx
	switch {
	case snap != nil:
		if tx, err = snap.begin(ctx, stmt, countSQL(p)); err != nil {
			return 0, 0, err
		}
	case !q.NoCount:
		db.stmts.get(ctx, stmt, true)
		db.stmts.get(ctx, countSQL(p), true)
		if tx, err = db.r.BeginTx(ctx, db.d.readTx()); err != nil {
			return 0, 0, fmt.Errorf("datastore: %w", db.d.classify(err))
		}
		defer tx.Rollback()
	}
	rows, err := db.readQuery(ctx, tx, stmt, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("datastore: find %s: %w", dc.Name, db.d.classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := sink.scan(db, rows); err != nil {
			return 0, 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("datastore: find %s: %w", dc.Name, db.d.classify(err))
	}
	rows.Close()
	// A short page tells the total unless it is empty because skip went past the end.
	if got := sink.len(); got < limit && (got > 0 || skip == 0) {
		return skip + got, skip, nil
	}
	if q.NoCount {
		return -1, skip, nil
	}
	if count, err = db.count(ctx, tx, p); err != nil {
		return 0, 0, err
	}
	return count, skip, nil
}

// page returns the LIMIT and OFFSET of a Find: at most MaxTop entities.
func (db *DB) page(q Query) (limit, skip int) {
	limit = q.Limit
	if limit <= 0 || limit > db.maxTop {
		limit = db.maxTop
	}
	return limit, max(q.Skip, 0)
}

// findSQL renders the SELECT of one page of a plan.
func (db *DB) findSQL(p *plan, limit, skip int) (string, []any) {
	n := len(p.c.args)
	if db.stmts != nil {
		// The limit written out (a number the server chose, never client text): SQLite
		// plans with a bound LIMIT's value and so recompiles the statement whenever it is
		// bound again, which would undo the prepared statement (stmtCache).
		stmt := "SELECT " + db.selectList(p.s.dc, p.s.alias) + " FROM " + p.s.from() + p.where() + " ORDER BY " + p.order +
			db.d.limitOffset(strconv.Itoa(limit), db.d.placeholder(n+1))
		return stmt, p.args(skip)
	}
	stmt := "SELECT " + db.selectList(p.s.dc, p.s.alias) + " FROM " + p.s.from() + p.where() + " ORDER BY " + p.order +
		db.d.limitOffset(db.d.placeholder(n+1), db.d.placeholder(n+2))
	return stmt, p.args(limit, skip)
}

// countSQL is the SELECT COUNT(*) of a plan.
func countSQL(p *plan) string { return "SELECT COUNT(*) FROM " + p.s.from() + p.where() }

// count counts the matches of p in tx (a read transaction; nil for none).
func (db *DB) count(ctx context.Context, tx *sql.Tx, p *plan) (int, error) {
	var n int
	err := db.readRow(ctx, tx, countSQL(p), p.args()...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("datastore: count %s: %w", p.s.dc.Name, db.d.classify(err))
	}
	return n, nil
}

// Count returns how many entities of dc match q's filter (OrderBy, Skip and Limit are ignored).
func (db *DB) Count(ctx context.Context, dc *DataClass, q Query) (int, error) {
	return db.countWhere(ctx, nil, dc, q)
}

func (db *DB) countWhere(ctx context.Context, snap *Snapshot, dc *DataClass, q Query) (int, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return 0, err
	}
	q.OrderBy = ""
	p, err := db.plan(dc, q, nil)
	if err != nil {
		return 0, err
	}
	tx, err := db.on(ctx, snap, countSQL(p))
	if err != nil {
		return 0, err
	}
	return db.count(ctx, tx, p)
}

// Get returns the entity of dc whose key, written as in URLs, is key; ErrNotFound if none.
func (db *DB) Get(ctx context.Context, dc *DataClass, key string) (*Entity, error) {
	return db.get(ctx, nil, dc, key)
}

func (db *DB) get(ctx context.Context, snap *Snapshot, dc *DataClass, key string) (*Entity, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, err
	}
	k, err := normalizeKey(dc.Key, key)
	if err != nil { // a key that cannot exist
		return nil, fmt.Errorf("%w: %s(%s)", ErrNotFound, dc.Name, key)
	}
	return db.getByKey(ctx, snap, dc, k)
}

// getSQL is the SELECT of one entity by key.
func (db *DB) getSQL(dc *DataClass) string {
	return "SELECT " + db.selectList(dc, "t0") + " FROM " + db.d.quote(dc.Name) + " AS t0 WHERE t0." +
		db.d.quote(dc.Key.Name) + " = " + db.d.placeholder(1)
}

// getByKey reads one entity in snap's transaction, or on the reader pool when snap is nil,
// through the prepared statements.
func (db *DB) getByKey(ctx context.Context, snap *Snapshot, dc *DataClass, key any) (*Entity, error) {
	enc, err := db.d.encode(dc.Key.Type, key)
	if err != nil {
		return nil, err
	}
	stmt := db.getSQL(dc)
	tx, err := db.on(ctx, snap, stmt)
	if err != nil {
		return nil, err
	}
	return db.scanByKey(dc, key, db.readRow(ctx, tx, stmt, enc))
}

// getByKeyTx reads one entity in a write transaction.
func (db *DB) getByKeyTx(ctx context.Context, tx *sql.Tx, dc *DataClass, key any) (*Entity, error) {
	enc, err := db.d.encode(dc.Key.Type, key)
	if err != nil {
		return nil, err
	}
	return db.scanByKey(dc, key, tx.QueryRowContext(ctx, db.getSQL(dc), enc))
}

// scanByKey reads the entity of dc with the given key from row; ErrNotFound if there is none.
func (db *DB) scanByKey(dc *DataClass, key any, row *sql.Row) (*Entity, error) {
	e, err := db.scanEntity(dc, row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s(%v)", ErrNotFound, dc.Name, key)
	}
	if err != nil {
		return nil, fmt.Errorf("datastore: get %s: %w", dc.Name, db.d.classify(err))
	}
	return e, nil
}

// colValue is one attribute value ready to store.
type colValue struct {
	attr *Attribute
	val  any // canonical
	enc  any // as stored; for a binary attribute, until saveTx resolves it: nil, Binary or UploadRef
	typ  any // a binary attribute's MIME type (its type column), once resolved
}

// Save stores e and returns the entity as saved (new stamp and timestamp, generated key). An
// entity with a key and a stamp (> 0) is updated, only if its stored stamp still equals e.Stamp
// (else ErrStampChanged; ErrNotFound if it is gone); only the attributes present in e.Values are
// written. Any other entity is inserted: its key comes from e.Key, else from the key attribute
// in e.Values, else it is generated (long autoincrement, uuid); a taken key is ErrDuplicateKey.
// Values of the wrong type, unknown attributes and references to missing entities are
// *ValueError. e itself is not modified.
func (db *DB) Save(ctx context.Context, e *Entity) (*Entity, error) {
	saved, err := db.SaveAll(ctx, []*Entity{e})
	if err != nil {
		return nil, err
	}
	return saved[0], nil
}

// SaveAll saves every entity as Save does, in one transaction: either all are saved or,
// on the first error, none is. It returns the saved entities in order.
func (db *DB) SaveAll(ctx context.Context, entities []*Entity) ([]*Entity, error) {
	preps, err := db.prepare(entities)
	if err != nil {
		return nil, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("datastore: %w", db.d.classify(err))
	}
	defer tx.Rollback()
	saved, err := db.saveTx(ctx, tx, entities, preps)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("datastore: save: %w", db.d.classify(err))
	}
	return saved, nil
}

// prepare resolves and encodes entities before a save.
func (db *DB) prepare(entities []*Entity) ([]prepared, error) {
	preps := make([]prepared, len(entities))
	for i, e := range entities {
		if e == nil {
			return nil, fmt.Errorf("%w: nil entity", ErrUnknownDataClass)
		}
		dc, err := db.resolve(e.DataClass)
		if err != nil {
			return nil, err
		}
		vals, err := db.encodeValues(dc, e.Values)
		if err != nil {
			return nil, err
		}
		preps[i] = prepared{dc, vals}
	}
	return preps, nil
}

// prepared is an entity's dataclass and encoded values, checked before the transaction.
type prepared struct {
	dc   *DataClass
	vals []colValue
}

// saveTx saves entities (prepared as preps) in tx.
func (db *DB) saveTx(ctx context.Context, tx *sql.Tx, entities []*Entity, preps []prepared) ([]*Entity, error) {
	var err error
	saved := make([]*Entity, len(entities))
	for i, e := range entities {
		dc, vals := preps[i].dc, preps[i].vals
		if err := db.checkReferences(ctx, tx, vals); err != nil {
			return nil, err
		}
		if vals, err = db.resolveBinaries(ctx, tx, vals); err != nil {
			return nil, err
		}
		var key any
		if e.Stamp > 0 && !isZeroKey(e.Key) {
			key, err = db.update(ctx, tx, dc, e, vals)
		} else {
			key, err = db.insert(ctx, tx, dc, e, vals)
		}
		if err != nil {
			return nil, err
		}
		if saved[i], err = db.getByKeyTx(ctx, tx, dc, key); err != nil {
			return nil, err
		}
	}
	return saved, nil
}

// encodeValues validates and converts the non-key values of an entity, in attribute order.
func (db *DB) encodeValues(dc *DataClass, values map[string]any) ([]colValue, error) {
	for name := range values {
		a := dc.Attribute(name)
		switch {
		case a == nil:
			return nil, &ValueError{Attribute: name, Message: fmt.Sprintf("%s has no such attribute", dc.Name)}
		case a.Kind == KindRelatedEntities:
			return nil, &ValueError{Attribute: name, Message: fmt.Sprintf("cannot be set: set %s.%s on the related entities instead", a.Related.Name, a.Path)}
		}
	}
	var out []colValue
	for _, a := range dc.Attributes {
		v, ok := values[a.Name]
		if !ok || !a.hasColumn() || a == dc.Key {
			continue
		}
		if a.IsBinary() {
			val, keep, err := binaryValue(a, v)
			if err != nil {
				return nil, err
			}
			if !keep {
				out = append(out, colValue{attr: a, val: val, enc: val})
			}
			continue
		}
		val, err := canonicalValue(a, v)
		if err != nil {
			return nil, err
		}
		enc, err := db.d.encode(a.valueType(), val)
		if err != nil {
			return nil, &ValueError{Attribute: a.Name, Message: "value cannot be stored: " + strings.TrimPrefix(err.Error(), "datastore: ")}
		}
		out = append(out, colValue{attr: a, val: val, enc: enc})
	}
	return out, nil
}

// checkReferences reports a foreign key naming a missing entity as a *ValueError (the
// database's own constraint would only say that some reference failed). It runs in the write
// transaction, which holds the write lock, so the entities it finds cannot vanish before the
// save.
func (db *DB) checkReferences(ctx context.Context, tx *sql.Tx, vals []colValue) error {
	for _, cv := range vals {
		if cv.attr.Kind != KindRelatedEntity || cv.val == nil {
			continue
		}
		rel := cv.attr.Related
		var one int
		// The row lock (PostgreSQL) keeps the entity until the save commits.
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM "+db.d.quote(rel.Name)+" WHERE "+db.d.quote(rel.Key.Name)+" = "+
			db.d.placeholder(1)+db.d.forKeyShare(), cv.enc).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return &ValueError{Attribute: cv.attr.Name, Message: fmt.Sprintf("no %s entity has the key %v", rel.Name, cv.val)}
		}
		if err != nil {
			return fmt.Errorf("datastore: %w", db.d.classify(err))
		}
	}
	return nil
}

func (db *DB) insert(ctx context.Context, tx *sql.Tx, dc *DataClass, e *Entity, vals []colValue) (any, error) {
	keyAttr := dc.Key
	given := e.Key
	if v := e.Values[keyAttr.Name]; !isZeroKey(v) {
		if !isZeroKey(given) {
			k1, err1 := normalizeKey(keyAttr, given)
			k2, err2 := normalizeKey(keyAttr, v)
			if err1 == nil && err2 == nil && k1 != k2 {
				return nil, &ValueError{Attribute: keyAttr.Name, Message: "differs from the entity's key"}
			}
		}
		given = v
	}
	var key any
	switch {
	case !isZeroKey(given):
		k, err := normalizeKey(keyAttr, given)
		if err != nil {
			return nil, err
		}
		key = k
	case keyAttr.Type == TypeUUID:
		key = newUUID()
	case keyAttr.Type == TypeLong && keyAttr.Autoincrement:
		// left out of the INSERT: the database numbers it
	default:
		return nil, &ValueError{Attribute: keyAttr.Name, Message: "the primary key is required"}
	}
	var cols []string
	var args []any
	if key != nil {
		enc, err := db.d.encode(keyAttr.Type, key)
		if err != nil {
			return nil, err
		}
		cols, args = append(cols, keyAttr.Name), append(args, enc)
		if keyAttr.hasShadow() {
			f, w := shadowValues(enc)
			cols, args = append(cols, foldColumn(keyAttr), wordsColumn(keyAttr)), append(args, f, w)
		}
	}
	for _, cv := range vals {
		cols, args = append(cols, cv.attr.Name), append(args, cv.enc)
		if cv.attr.IsBinary() {
			cols, args = append(cols, typeColumn(cv.attr)), append(args, cv.typ)
		}
		if cv.attr.hasShadow() {
			f, w := shadowValues(cv.enc)
			cols, args = append(cols, foldColumn(cv.attr), wordsColumn(cv.attr)), append(args, f, w)
		}
	}
	cols = append(cols, stampColumn, timestampColumn)
	args = append(args, int64(1), db.d.encodeTime(db.now()))
	var out any
	err := tx.QueryRowContext(ctx, db.d.insertReturningKey(dc, cols), args...).Scan(&out)
	switch {
	case db.d.isDuplicateKey(err):
		return nil, fmt.Errorf("%w: %s(%v)", ErrDuplicateKey, dc.Name, key)
	case err != nil:
		return nil, fmt.Errorf("datastore: insert %s: %w", dc.Name, db.d.classify(err))
	}
	if n, ok := key.(int64); ok && keyAttr.Autoincrement {
		if err := db.d.afterExplicitKey(ctx, tx, dc, n); err != nil {
			return nil, fmt.Errorf("datastore: insert %s: %w", dc.Name, err)
		}
	}
	return db.d.decode(keyAttr.Type, out)
}

func (db *DB) update(ctx context.Context, tx *sql.Tx, dc *DataClass, e *Entity, vals []colValue) (any, error) {
	keyAttr := dc.Key
	key, err := normalizeKey(keyAttr, e.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %s(%v)", ErrNotFound, dc.Name, e.Key)
	}
	if v := e.Values[keyAttr.Name]; v != nil {
		if k, err := normalizeKey(keyAttr, v); err != nil || k != key {
			return nil, &ValueError{Attribute: keyAttr.Name, Message: "the primary key cannot be changed"}
		}
	}
	q, ph := db.d.quote, db.d.placeholder
	var sets []string
	var args []any
	for _, cv := range vals {
		args = append(args, cv.enc)
		sets = append(sets, q(cv.attr.Name)+" = "+ph(len(args)))
		if cv.attr.IsBinary() {
			args = append(args, cv.typ)
			sets = append(sets, q(typeColumn(cv.attr))+" = "+ph(len(args)))
		}
		if cv.attr.hasShadow() {
			f, w := shadowValues(cv.enc)
			args = append(args, f, w)
			sets = append(sets, q(foldColumn(cv.attr))+" = "+ph(len(args)-1), q(wordsColumn(cv.attr))+" = "+ph(len(args)))
		}
	}
	args = append(args, db.d.encodeTime(db.now()))
	sets = append(sets, q(stampColumn)+" = "+q(stampColumn)+" + 1", q(timestampColumn)+" = "+ph(len(args)))
	enc, err := db.d.encode(keyAttr.Type, key)
	if err != nil {
		return nil, err
	}
	args = append(args, enc, e.Stamp)
	// The stamp test is part of the UPDATE, so a concurrent save cannot slip in between.
	res, err := tx.ExecContext(ctx, "UPDATE "+q(dc.Name)+" SET "+strings.Join(sets, ", ")+" WHERE "+
		q(keyAttr.Name)+" = "+ph(len(args)-1)+" AND "+q(stampColumn)+" = "+ph(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("datastore: update %s: %w", dc.Name, db.d.classify(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return key, err
	}
	if _, err := db.storedStamp(ctx, tx, dc, enc); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s(%v)", ErrStampChanged, dc.Name, key)
}

// storedStamp returns the stamp of the entity with the (encoded) key, or ErrNotFound.
func (db *DB) storedStamp(ctx context.Context, q querier, dc *DataClass, enc any) (int64, error) {
	var stamp int64
	err := q.QueryRowContext(ctx, "SELECT "+db.d.quote(stampColumn)+" FROM "+db.d.quote(dc.Name)+" WHERE "+
		db.d.quote(dc.Key.Name)+" = "+db.d.placeholder(1)+db.d.forUpdate(), enc).Scan(&stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %s(%v)", ErrNotFound, dc.Name, enc)
	}
	if err != nil {
		return 0, fmt.Errorf("datastore: %w", db.d.classify(err))
	}
	return stamp, nil
}

// Drop deletes e. With a stamp (> 0) it fails with ErrStampChanged if the entity was saved
// since; ErrNotFound if it is gone. Entities that referred to it lose the reference (their
// relatedEntity becomes null, and their stamp grows).
func (db *DB) Drop(ctx context.Context, e *Entity) error {
	if e == nil {
		return fmt.Errorf("%w: nil entity", ErrUnknownDataClass)
	}
	dc, err := db.resolve(e.DataClass)
	if err != nil {
		return err
	}
	key, err := normalizeKey(dc.Key, e.Key)
	if err != nil {
		return fmt.Errorf("%w: %s(%v)", ErrNotFound, dc.Name, e.Key)
	}
	enc, err := db.d.encode(dc.Key.Type, key)
	if err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("datastore: %w", db.d.classify(err))
	}
	defer tx.Rollback()
	stamp, err := db.storedStamp(ctx, tx, dc, enc)
	if err != nil {
		return err
	}
	if e.Stamp > 0 && stamp != e.Stamp {
		return fmt.Errorf("%w: %s(%v)", ErrStampChanged, dc.Name, key)
	}
	if _, err := db.deleteKeys(ctx, tx, dc, []any{enc}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("datastore: drop %s: %w", dc.Name, db.d.classify(err))
	}
	return nil
}

// DeleteWhere deletes the entities of dc selected by q (filter, and OrderBy/Skip/Limit when
// given; Limit 0 means all) and returns how many it deleted.
func (db *DB) DeleteWhere(ctx context.Context, dc *DataClass, q Query) (int, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return 0, err
	}
	p, err := db.plan(dc, q, nil)
	if err != nil {
		return 0, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("datastore: %w", db.d.classify(err))
	}
	defer tx.Rollback()
	n := len(p.c.args)
	args := p.args(max(q.Skip, 0))
	limitPH := ""
	if q.Limit > 0 {
		args = p.args(q.Limit, max(q.Skip, 0))
		limitPH, n = db.d.placeholder(n+1), n+1
	}
	// The keys are read first: deleting may clear references the filter itself looks at.
	rows, err := tx.QueryContext(ctx, "SELECT "+p.s.column(p.s.alias, dc.Key)+" FROM "+p.s.from()+p.where()+
		" ORDER BY "+p.order+db.d.limitOffset(limitPH, db.d.placeholder(n+1)), args...)
	if err != nil {
		return 0, fmt.Errorf("datastore: delete %s: %w", dc.Name, db.d.classify(err))
	}
	var keys []any
	for rows.Next() {
		var k any
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return 0, fmt.Errorf("datastore: delete %s: %w", dc.Name, db.d.classify(err))
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("datastore: delete %s: %w", dc.Name, db.d.classify(err))
	}
	deleted, err := db.deleteKeys(ctx, tx, dc, keys)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("datastore: delete %s: %w", dc.Name, db.d.classify(err))
	}
	return deleted, nil
}

// deleteKeys deletes the entities with the given (encoded) keys after clearing the references
// other entities hold to them, bumping those entities' stamps as any other change would.
func (db *DB) deleteKeys(ctx context.Context, tx *sql.Tx, dc *DataClass, keys []any) (int, error) {
	q, ph := db.d.quote, db.d.placeholder
	var refs []*Attribute
	var owners []*DataClass
	for _, other := range db.Model().DataClasses {
		for _, a := range other.Attributes {
			if a.Kind == KindRelatedEntity && a.Related.Name == dc.Name {
				refs, owners = append(refs, a), append(owners, other)
			}
		}
	}
	ts := db.d.encodeTime(db.now())
	deleted := 0
	for len(keys) > 0 {
		batch := keys[:min(deleteBatch, len(keys))]
		keys = keys[len(batch):]
		list := func(first int) string {
			phs := make([]string, len(batch))
			for i := range batch {
				phs[i] = ph(first + i)
			}
			return "(" + strings.Join(phs, ", ") + ")"
		}
		for i, a := range refs {
			shadows := ""
			if a.hasShadow() {
				shadows = q(foldColumn(a)) + " = NULL, " + q(wordsColumn(a)) + " = NULL, "
			}
			_, err := tx.ExecContext(ctx, "UPDATE "+q(owners[i].Name)+" SET "+q(a.Name)+" = NULL, "+shadows+q(stampColumn)+" = "+
				q(stampColumn)+" + 1, "+q(timestampColumn)+" = "+ph(1)+" WHERE "+q(a.Name)+" IN "+list(2),
				append([]any{ts}, batch...)...)
			if err != nil {
				return 0, fmt.Errorf("datastore: clear references to %s: %w", dc.Name, db.d.classify(err))
			}
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM "+q(dc.Name)+" WHERE "+q(dc.Key.Name)+" IN "+list(1), batch...)
		if err != nil {
			return 0, fmt.Errorf("datastore: delete %s: %w", dc.Name, db.d.classify(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("datastore: delete %s: %w", dc.Name, db.d.classify(err))
		}
		deleted += int(n)
	}
	return deleted, nil
}

// RelatedEntity follows the relatedEntity (N→1) attribute attr of e and returns the related
// entity, or nil, nil when e has none.
func (db *DB) RelatedEntity(ctx context.Context, e *Entity, attr string) (*Entity, error) {
	return db.relatedEntity(ctx, nil, e, attr)
}

func (db *DB) relatedEntity(ctx context.Context, snap *Snapshot, e *Entity, attr string) (*Entity, error) {
	dc, a, err := db.relation(e, attr, KindRelatedEntity)
	if err != nil {
		return nil, err
	}
	fk, ok := e.Values[attr]
	if !ok { // a partial entity: read the reference
		key, err := normalizeKey(dc.Key, e.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: %s(%v)", ErrNotFound, dc.Name, e.Key)
		}
		fresh, err := db.getByKey(ctx, snap, dc, key)
		if err != nil {
			return nil, err
		}
		fk = fresh.Values[attr]
	}
	if fk == nil {
		return nil, nil
	}
	key, err := foreignKey(a, fk)
	if err != nil {
		return nil, err
	}
	return db.getByKey(ctx, snap, a.Related, key)
}

// RelatedEntities returns the entities of the relatedEntities (1→N) attribute attr of e, further
// selected, ordered and paged by q.
func (db *DB) RelatedEntities(ctx context.Context, e *Entity, attr string, q Query) (*Selection, error) {
	return db.relatedEntities(ctx, nil, e, attr, q)
}

func (db *DB) relatedEntities(ctx context.Context, snap *Snapshot, e *Entity, attr string, q Query) (*Selection, error) {
	related, fixed, err := db.relatedCond(e, attr)
	if err != nil {
		return nil, err
	}
	return db.find(ctx, snap, related, q, fixed)
}

// relatedCond returns the dataclass of the relatedEntities (1→N) attribute attr of e and the
// condition that selects e's related entities in it.
func (db *DB) relatedCond(e *Entity, attr string) (*DataClass, *fixedCond, error) {
	dc, a, err := db.relation(e, attr, KindRelatedEntities)
	if err != nil {
		return nil, nil, err
	}
	back := a.Related.Attribute(a.Path)
	if back == nil || back.Kind != KindRelatedEntity {
		return nil, nil, fmt.Errorf("%w: %s.%s has no inverse %s.%s", ErrUnknownAttribute, dc.Name, a.Name, a.Related.Name, a.Path)
	}
	key, err := normalizeKey(dc.Key, e.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s(%v)", ErrNotFound, dc.Name, e.Key)
	}
	enc, err := db.d.encode(dc.Key.Type, key)
	if err != nil {
		return nil, nil, err
	}
	return a.Related, &fixedCond{attr: back, value: enc}, nil
}

// relation checks that attr is a relation of the given kind on e's dataclass.
func (db *DB) relation(e *Entity, attr, kind string) (*DataClass, *Attribute, error) {
	if e == nil {
		return nil, nil, fmt.Errorf("%w: nil entity", ErrUnknownDataClass)
	}
	dc, err := db.resolve(e.DataClass)
	if err != nil {
		return nil, nil, err
	}
	a := dc.Attribute(attr)
	if a == nil || a.Kind != kind {
		return nil, nil, fmt.Errorf("%w: %s.%s is not a %s attribute", ErrUnknownAttribute, dc.Name, attr, kind)
	}
	return dc, a, nil
}
