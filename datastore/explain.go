package datastore

import (
	"context"
	"fmt"
	"strings"
)

// PlanStep describes one step of a query, as 4D's $queryplan / $querypath do: the
// comparison or logical operator, and how many entities it matched (Path only).
type PlanStep struct {
	Description string
	Found       int // entities this step selects on its own (Path only)
	Steps       []*PlanStep
}

var opNames = map[compOp]string{opEq: "=", opNe: "!=", opIs: "===", opIsNot: "!==", opLt: "<", opLe: "<=",
	opGt: ">", opGe: ">=", opBegin: "begin", opIn: "IN", opContains: "%"}

var logicalNames = map[logicalOp]string{opAnd: "And", opOr: "Or", opExcept: "Except"}

// Explain describes how q's filter is evaluated on dc: one step per comparison (naming
// the index that serves it, when the attribute is indexed) and per logical operator. With
// counts, each step also reports how many entities it selects on its own (one COUNT per
// step: $querypath). Values are shown as written, placeholders as :n. nil when there is
// no filter.
func (db *DB) Explain(ctx context.Context, dc *DataClass, q Query, counts bool) (*PlanStep, error) {
	return db.explainQuery(ctx, nil, dc, q, counts)
}

func (db *DB) explainQuery(ctx context.Context, snap *Snapshot, dc *DataClass, q Query, counts bool) (*PlanStep, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, err
	}
	if _, err := db.plan(dc, q, nil); err != nil { // the same errors as Find
		return nil, err
	}
	tree, err := parseFilter(q.Filter)
	if err != nil || tree == nil {
		return nil, err
	}
	return db.explain(ctx, snap, dc, q, tree, counts)
}

func (db *DB) explain(ctx context.Context, snap *Snapshot, dc *DataClass, q Query, n node, counts bool) (*PlanStep, error) {
	st := &PlanStep{}
	switch n := n.(type) {
	case *logicalNode:
		st.Description = logicalNames[n.op]
		for _, sub := range []node{n.left, n.right} {
			s, err := db.explain(ctx, snap, dc, q, sub, counts)
			if err != nil {
				return nil, err
			}
			st.Steps = append(st.Steps, s)
		}
	case *notNode:
		st.Description = "Not"
		s, err := db.explain(ctx, snap, dc, q, n.x, counts)
		if err != nil {
			return nil, err
		}
		st.Steps = []*PlanStep{s}
	case *compNode:
		st.Description = describeComparison(dc, n)
	}
	if counts {
		c := &compiler{d: db.d, params: q.Params, visible: q.Visible, clause: ClauseFilter}
		p := &plan{c: c, s: c.newScope(dc)}
		w, err := p.s.where(n)
		if err != nil {
			return nil, err
		}
		p.conds = []string{w}
		tx, err := db.on(ctx, snap, countSQL(p))
		if err != nil {
			return nil, err
		}
		if st.Found, err = db.count(ctx, tx, p); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// describeComparison writes a comparison as 4D's query plans do: "[index : DC.attr ] = value"
// for an indexed attribute, "DC.attr = value" otherwise, relation paths joined by dots.
func describeComparison(dc *DataClass, n *compNode) string {
	names := make([]string, len(n.path))
	indexed := false
	cur := dc
	for i, seg := range n.path {
		names[i] = seg.name
		if cur == nil {
			continue
		}
		a := cur.Attribute(seg.name)
		if a == nil {
			cur = nil
			continue
		}
		if i == len(n.path)-1 {
			indexed = a.Indexed || a.PrimaryKey || a.Kind == KindRelatedEntity
		}
		cur = a.Related
	}
	target := dc.Name + "." + strings.Join(names, ".")
	if indexed {
		target = "[index : " + target + " ]"
	}
	return target + " " + opNames[n.op] + " " + describeValue(n.val)
}

func describeValue(v valueNode) string {
	switch v.kind {
	case valPlaceholder:
		return fmt.Sprintf(":%d", v.index)
	case valArray:
		parts := make([]string, len(v.elems))
		for i, e := range v.elems {
			parts[i] = describeValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	switch x := v.lit.(type) {
	case nil:
		return "null"
	case string:
		return x
	case numberLit:
		return string(x)
	}
	return fmt.Sprint(v.lit)
}
