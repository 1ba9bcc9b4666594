package datastore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// keyList encodes keys (written as in URLs) as the JSON array dialect.inList binds: numbers
// for long keys, strings otherwise. A key that cannot exist (not an integer for a long key)
// is left out: it matches nothing anyway.
func keyList(key *Attribute, keys []string) string {
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for _, k := range keys {
		var item []byte
		if key.Type == TypeLong {
			i, err := strconv.ParseInt(strings.TrimSpace(k), 10, 64)
			if err != nil {
				continue
			}
			item = strconv.AppendInt(nil, i, 10)
		} else {
			item, _ = json.Marshal(k)
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(item)
		n++
	}
	b.WriteByte(']')
	return b.String()
}

// keysCond is the WHERE condition of a query restricted to keys.
func (p *plan) keysCond(db *DB, keys []string) string {
	return db.d.inList(p.s.column(p.s.alias, p.s.dc.Key), p.c.bind(keyList(p.s.dc.Key, keys)), p.s.dc.Key.Type)
}

// FindKeys returns the keys (written as in URLs) of every entity of dc that q selects, in
// q's order (Skip applies; Limit 0 means all, without the MaxTop cap): what an entity set
// holds.
func (db *DB) FindKeys(ctx context.Context, dc *DataClass, q Query) ([]string, error) {
	return db.findKeys(ctx, nil, dc, q, nil)
}

// RelatedKeys is FindKeys on the relatedEntities (1→N) attribute attr of e.
func (db *DB) RelatedKeys(ctx context.Context, e *Entity, attr string, q Query) ([]string, error) {
	return db.relatedKeys(ctx, nil, e, attr, q)
}

func (db *DB) relatedKeys(ctx context.Context, snap *Snapshot, e *Entity, attr string, q Query) ([]string, error) {
	related, fixed, err := db.relatedCond(e, attr)
	if err != nil {
		return nil, err
	}
	return db.findKeys(ctx, snap, related, q, fixed)
}

func (db *DB) findKeys(ctx context.Context, snap *Snapshot, dc *DataClass, q Query, fixed *fixedCond) ([]string, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, err
	}
	p, err := db.plan(dc, q, fixed)
	if err != nil {
		return nil, err
	}
	n := len(p.c.args)
	args := p.args(max(q.Skip, 0))
	limitPH := ""
	if q.Limit > 0 {
		args = p.args(q.Limit, max(q.Skip, 0))
		limitPH, n = db.d.placeholder(n+1), n+1
	}
	tx, err := db.on(ctx, snap)
	if err != nil {
		return nil, err
	}
	rows, err := db.plainQuery(ctx, tx, "SELECT "+p.s.column(p.s.alias, dc.Key)+" FROM "+p.s.from()+p.where()+
		" ORDER BY "+p.order+db.d.limitOffset(limitPH, db.d.placeholder(n+1)), args...)
	if err != nil {
		return nil, fmt.Errorf("datastore: find keys %s: %w", dc.Name, db.d.classify(err))
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var raw any
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("datastore: find keys %s: %w", dc.Name, db.d.classify(err))
		}
		k, err := db.d.decode(dc.Key.Type, raw)
		if err != nil {
			return nil, fmt.Errorf("datastore: %s key: %w", dc.Name, err)
		}
		keys = append(keys, (&Entity{Key: k}).KeyString())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("datastore: find keys %s: %w", dc.Name, db.d.classify(err))
	}
	return keys, nil
}

// GetMany returns the entities of dc whose keys (written as in URLs) are keys, in the order
// of keys; keys of entities that no longer exist are skipped. One query whose cost follows
// len(keys): reading a page of an entity set by its keys.
func (db *DB) GetMany(ctx context.Context, dc *DataClass, keys []string) ([]*Entity, error) {
	return db.getMany(ctx, nil, dc, keys)
}

func (db *DB) getMany(ctx context.Context, snap *Snapshot, dc *DataClass, keys []string) ([]*Entity, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, err
	}
	out := make([]*Entity, 0, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	c := &compiler{d: db.d}
	p := &plan{c: c, s: c.newScope(dc)}
	cond := p.keysCond(db, keys)
	tx, err := db.on(ctx, snap)
	if err != nil {
		return nil, err
	}
	rows, err := db.plainQuery(ctx, tx, "SELECT "+db.selectList(dc, p.s.alias)+" FROM "+p.s.from()+" WHERE "+cond, p.args()...)
	if err != nil {
		return nil, fmt.Errorf("datastore: get %s: %w", dc.Name, db.d.classify(err))
	}
	defer rows.Close()
	byKey := make(map[string]*Entity, len(keys))
	for rows.Next() {
		e, err := db.scanEntity(dc, rows)
		if err != nil {
			return nil, err
		}
		byKey[e.KeyString()] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("datastore: get %s: %w", dc.Name, db.d.classify(err))
	}
	for _, k := range keys {
		if e := byKey[k]; e != nil {
			out = append(out, e)
			delete(byKey, k) // a key listed twice answers once
		}
	}
	return out, nil
}
