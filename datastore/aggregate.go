package datastore

import (
	"context"
	"database/sql"
	"fmt"
)

// Aggregates are what $compute reports of one attribute over a selection.
type Aggregates struct {
	Count   int     // entities whose value is not null
	Sum     float64 // numbers only
	Average float64 // numbers only; 0 when Count is 0
	Min     any     // nil when Count is 0
	Max     any
}

// aggregateColumn checks that attr is a storage attribute of dc that can be aggregated.
func aggregateColumn(dc *DataClass, attr string) (*Attribute, error) {
	a := dc.Attribute(attr)
	if a != nil && a.IsBinary() {
		return nil, &QueryError{Reason: ReasonUnsupported, Message: fmt.Sprintf("%s.%s is a %s attribute: it cannot be computed", dc.Name, attr, a.Type), Clause: ClauseFilter}
	}
	if a == nil || a.Kind != KindStorage || a.valueType() == TypeObject {
		return nil, &QueryError{Reason: ReasonUnknownAttribute, Message: fmt.Sprintf("%s.%s cannot be computed", dc.Name, attr), Clause: ClauseFilter}
	}
	return a, nil
}

// Aggregate computes count, sum, average, min and max of attribute attr over the entities q
// selects (OrderBy, Skip and Limit are ignored). Sum and average are those of numbers (long,
// number); min and max follow the attribute's order (strings in code point order).
func (db *DB) Aggregate(ctx context.Context, dc *DataClass, q Query, attr string) (Aggregates, error) {
	return db.aggregate(ctx, nil, dc, q, attr)
}

func (db *DB) aggregate(ctx context.Context, snap *Snapshot, dc *DataClass, q Query, attr string) (Aggregates, error) {
	var out Aggregates
	dc, err := db.resolve(dc)
	if err != nil {
		return out, err
	}
	a, err := aggregateColumn(dc, attr)
	if err != nil {
		return out, err
	}
	q.OrderBy = ""
	p, err := db.plan(dc, q, nil)
	if err != nil {
		return out, err
	}
	col := p.s.column(p.s.alias, a)
	numeric := a.valueType() == TypeLong || a.valueType() == TypeNumber
	sum := "0"
	if numeric {
		sum = "CAST(SUM(" + col + ") AS DOUBLE PRECISION)"
	}
	var n int64
	var s sql.NullFloat64
	var lo, hi any
	tx, err := db.on(ctx, snap)
	if err != nil {
		return out, err
	}
	err = db.plainRow(ctx, tx, "SELECT COUNT("+col+"), "+sum+", MIN("+col+"), MAX("+col+") FROM "+p.s.from()+p.where(),
		p.args()...).Scan(&n, &s, &lo, &hi)
	if err != nil {
		return out, fmt.Errorf("datastore: compute %s.%s: %w", dc.Name, attr, db.d.classify(err))
	}
	out.Count, out.Sum = int(n), s.Float64
	if n > 0 && numeric {
		out.Average = out.Sum / float64(n)
	}
	if out.Min, err = db.d.decode(a.valueType(), lo); err != nil {
		return out, err
	}
	if out.Max, err = db.d.decode(a.valueType(), hi); err != nil {
		return out, err
	}
	return out, nil
}

// Distinct returns the distinct non-null values of attribute attr among the entities q
// selects, in the attribute's order (at most MaxTop of them).
func (db *DB) Distinct(ctx context.Context, dc *DataClass, q Query, attr string) ([]any, error) {
	return db.distinct(ctx, nil, dc, q, attr)
}

func (db *DB) distinct(ctx context.Context, snap *Snapshot, dc *DataClass, q Query, attr string) ([]any, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, err
	}
	a, err := aggregateColumn(dc, attr)
	if err != nil {
		return nil, err
	}
	q.OrderBy = ""
	p, err := db.plan(dc, q, nil)
	if err != nil {
		return nil, err
	}
	col := p.s.column(p.s.alias, a)
	cond := p.where()
	if cond == "" {
		cond = " WHERE " + col + " IS NOT NULL"
	} else {
		cond += " AND " + col + " IS NOT NULL"
	}
	n := len(p.c.args)
	tx, err := db.on(ctx, snap)
	if err != nil {
		return nil, err
	}
	rows, err := db.plainQuery(ctx, tx, "SELECT DISTINCT "+col+" FROM "+p.s.from()+cond+" ORDER BY "+col+
		db.d.limitOffset(db.d.placeholder(n+1), db.d.placeholder(n+2)), p.args(db.maxTop, 0)...)
	if err != nil {
		return nil, fmt.Errorf("datastore: distinct %s.%s: %w", dc.Name, attr, db.d.classify(err))
	}
	defer rows.Close()
	out := []any{}
	for rows.Next() {
		var raw any
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("datastore: distinct %s.%s: %w", dc.Name, attr, db.d.classify(err))
		}
		v, err := db.d.decode(a.valueType(), raw)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("datastore: distinct %s.%s: %w", dc.Name, attr, db.d.classify(err))
	}
	return out, nil
}
