package datastore

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// This file compiles a parsed query against a model into parameterised SQL. Only identifiers
// from the model, aliases generated here (t0, t1…) and fixed keywords reach the SQL text;
// every value from the query or its parameters is bound.
//
// Semantics are those of sets, as in 4D: a comparison holds or it does not (a NULL attribute
// matches no comparison except "= null"), NOT(x) is every entity x does not match, "!=" is
// exactly NOT(=), and "a EXCEPT b" is a AND NOT(b). SQL's three-valued logic is turned into
// that by wrapping complements in IS NOT TRUE.
//
// Paths through relatedEntity (N→1) attributes become LEFT JOINs, shared by every use of the
// same path; a path through a relatedEntities (1→N) attribute becomes EXISTS over the related
// table ("staff.name = 'x'": at least one member of staff is called x).

// maxJoins bounds the tables one query touches (SQLite allows 64 in a join).
const maxJoins = 32

// maxBinds bounds the values one query binds (SQLite allows 32766).
const maxBinds = 30000

// compiler accumulates the bound arguments and alias numbering of one statement.
type compiler struct {
	d       sqliteDialect
	params  []any
	args    []any
	aliases int
	joins   int
	visible func(*DataClass, *Attribute) bool
	clause  string
}

// scope is one FROM clause: the main query's, or an EXISTS subquery's.
type scope struct {
	c         *compiler
	dc        *DataClass
	alias     string
	joins     []string
	joinAlias map[string]string
}

func (c *compiler) newScope(dc *DataClass) *scope {
	s := &scope{c: c, dc: dc, alias: "t" + strconv.Itoa(c.aliases), joinAlias: map[string]string{}}
	c.aliases++
	return s
}

// bind adds a value to the arguments and returns its placeholder.
func (c *compiler) bind(v any) string {
	c.args = append(c.args, v)
	return c.d.placeholder(len(c.args))
}

func (c *compiler) errorf(reason QueryReason, pos int, format string, args ...any) *QueryError {
	return &QueryError{Reason: reason, Pos: pos, Message: fmt.Sprintf(format, args...), Clause: c.clause}
}

// from renders the scope's table and joins.
func (s *scope) from() string {
	q := s.c.d.quote
	return q(s.dc.Name) + " AS " + s.alias + strings.Join(s.joins, "")
}

// column renders alias."name".
func (s *scope) column(alias string, a *Attribute) string { return alias + "." + s.c.d.quote(a.Name) }

// walk follows path from the scope's dataclass through relatedEntity attributes (adding joins)
// and returns the alias and dataclass that own the attribute where it stopped: the last one, or
// the first relatedEntities attribute, whose index it returns.
func (s *scope) walk(path []pathSeg) (alias string, dc *DataClass, i int, a *Attribute, err error) {
	alias, dc, prefix := s.alias, s.dc, ""
	for i, seg := range path {
		a := dc.Attribute(seg.name)
		if a == nil || s.c.visible != nil && !s.c.visible(dc, a) {
			return "", nil, 0, nil, s.c.errorf(ReasonUnknownAttribute, seg.pos, "unknown attribute %q in dataclass %s", seg.name, dc.Name)
		}
		if i == len(path)-1 || a.Kind == KindRelatedEntities {
			return alias, dc, i, a, nil
		}
		if a.Kind == KindStorage {
			return "", nil, 0, nil, s.c.errorf(ReasonUnknownAttribute, path[i+1].pos, "%s.%s is not a relation, so %q cannot follow it", dc.Name, a.Name, path[i+1].name)
		}
		// The foreign key already holds the related key: "employer.ID" needs no join.
		if i+1 == len(path)-1 && path[i+1].name == a.Related.Key.Name &&
			(s.c.visible == nil || s.c.visible(a.Related, a.Related.Key)) {
			return alias, dc, i, a, nil
		}
		prefix += "." + seg.name
		if alias, err = s.join(prefix, alias, a, seg.pos); err != nil {
			return "", nil, 0, nil, err
		}
		dc = a.Related
	}
	return "", nil, 0, nil, s.c.errorf(ReasonSyntax, 0, "empty attribute path")
}

// join returns the alias of the related entity reached by prefix, adding a LEFT JOIN once.
func (s *scope) join(prefix, from string, a *Attribute, pos int) (string, error) {
	if al, ok := s.joinAlias[prefix]; ok {
		return al, nil
	}
	if s.c.joins == maxJoins {
		return "", s.c.errorf(ReasonSyntax, pos, "query follows more than %d relations", maxJoins)
	}
	s.c.joins++
	al := "t" + strconv.Itoa(s.c.aliases)
	s.c.aliases++
	q := s.c.d.quote
	s.joins = append(s.joins, " LEFT JOIN "+q(a.Related.Name)+" AS "+al+" ON "+al+"."+q(a.Related.Key.Name)+" = "+from+"."+q(a.Name))
	s.joinAlias[prefix] = al
	return al, nil
}

// where compiles a filter tree into a condition.
func (s *scope) where(n node) (string, error) {
	switch n := n.(type) {
	case *logicalNode:
		l, err := s.where(n.left)
		if err != nil {
			return "", err
		}
		r, err := s.where(n.right)
		if err != nil {
			return "", err
		}
		switch n.op {
		case opAnd:
			return "(" + l + " AND " + r + ")", nil
		case opOr:
			return "(" + l + " OR " + r + ")", nil
		default:
			return "(" + l + " AND " + s.c.d.notTrue(r) + ")", nil
		}
	case *notNode:
		x, err := s.where(n.x)
		if err != nil {
			return "", err
		}
		return s.c.d.notTrue(x), nil
	case *compNode:
		return s.comparison(n, n.path)
	}
	return "", fmt.Errorf("datastore: unexpected query node %T", n)
}

// comparison compiles n, whose remaining path (relative to this scope) is path.
func (s *scope) comparison(n *compNode, path []pathSeg) (string, error) {
	alias, dc, i, a, err := s.walk(path)
	if err != nil {
		return "", err
	}
	if a.Kind != KindRelatedEntities {
		return s.predicate(s.column(alias, a), a, n)
	}
	if i == len(path)-1 {
		return "", s.c.errorf(ReasonWrongType, path[i].pos, "%s.%s is a collection: compare one of its attributes (%s.%s.…)", dc.Name, a.Name, a.Name, a.Name)
	}
	back := a.Related.Attribute(a.Path)
	if back == nil {
		return "", s.c.errorf(ReasonUnknownAttribute, path[i].pos, "relation %s.%s has no inverse", dc.Name, a.Name)
	}
	sub := s.c.newScope(a.Related)
	cond, err := sub.comparison(n, path[i+1:])
	if err != nil {
		return "", err
	}
	return "EXISTS (SELECT 1 FROM " + sub.from() + " WHERE " + s.column(sub.alias, back) + " = " +
		s.column(alias, dc.Key) + " AND " + cond + ")", nil
}

// operand returns the Go value of a literal or parameter (arrays as []any).
func (c *compiler) operand(v valueNode) (any, error) {
	switch v.kind {
	case valPlaceholder:
		if v.index > len(c.params) {
			return nil, c.errorf(ReasonPlaceholderMissing, v.pos, "placeholder :%d has no value (%d given)", v.index, len(c.params))
		}
		return paramValue(c.params[v.index-1]), nil
	case valArray:
		out := make([]any, len(v.elems))
		for i, e := range v.elems {
			out[i] = e.lit
		}
		return out, nil
	}
	return v.lit, nil
}

// paramValue turns any Go slice (but []byte) into []any, so arrays from Go callers work in IN.
func paramValue(p any) any {
	if p == nil {
		return nil
	}
	if _, ok := p.([]any); ok {
		return p
	}
	rv := reflect.ValueOf(p)
	if (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) && rv.Type().Elem().Kind() != reflect.Uint8 {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out
	}
	return p
}

// what names an operand in error messages.
func what(v valueNode) string {
	if v.kind == valPlaceholder {
		return fmt.Sprintf("placeholder :%d", v.index)
	}
	return "value"
}

// typed converts a scalar operand for attribute a and reports a mismatch as ReasonWrongType.
func (c *compiler) typed(a *Attribute, raw any, v valueNode) (any, error) {
	typ := a.valueType()
	if typ == TypeObject {
		return nil, c.errorf(ReasonWrongType, v.pos, "object attribute %q can only be compared with null", a.Name)
	}
	if _, isArray := raw.([]any); isArray {
		return nil, c.errorf(ReasonWrongType, v.pos, "%s is an array: use IN to compare %q with an array", what(v), a.Name)
	}
	val, ok := queryValue(typ, raw)
	if !ok {
		return nil, c.errorf(ReasonWrongType, v.pos, "%s (%s) does not fit attribute %q of type %s", what(v), describe(raw), a.Name, typ)
	}
	return val, nil
}

// predicate compiles the comparison of column col (attribute a) with n's value.
func (s *scope) predicate(col string, a *Attribute, n *compNode) (string, error) {
	c := s.c
	raw, err := c.operand(n.val)
	if err != nil {
		return "", err
	}
	if n.op == opIn {
		return s.in(col, a, n.val, raw)
	}
	if raw == nil {
		switch n.op {
		case opEq, opIs:
			return col + " IS NULL", nil
		case opNe, opIsNot:
			return col + " IS NOT NULL", nil
		}
		return "", c.errorf(ReasonWrongType, n.val.pos, "null can only be compared with =, ==, ===, !=, # or !==")
	}
	val, err := c.typed(a, raw, n.val)
	if err != nil {
		return "", err
	}
	isString := a.valueType() == TypeString
	switch n.op {
	case opEq:
		return s.equal(col, a, val, true)
	case opNe:
		eq, err := s.equal(col, a, val, true)
		return c.d.notTrue(eq), err
	case opIs:
		return s.equal(col, a, val, false)
	case opIsNot:
		eq, err := s.equal(col, a, val, false)
		return c.d.notTrue(eq), err
	case opBegin, opContains:
		if !isString {
			return "", c.errorf(ReasonWrongType, n.opPos, "operator needs a string attribute; %q is of type %s", a.Name, a.valueType())
		}
		if n.op == opBegin {
			return s.prefix(col, fold(val.(string))), nil
		}
		return c.d.keyword(col, c.bind(val)), nil
	}
	sym := rangeSymbols[n.op]
	if isString {
		return c.d.fold(col) + sym + c.bind(fold(val.(string))), nil
	}
	enc, err := c.d.encode(a.valueType(), val)
	if err != nil {
		return "", err
	}
	return col + sym + c.bind(enc), nil
}

var rangeSymbols = map[compOp]string{opLt: " < ", opLe: " <= ", opGt: " > ", opGe: " >= "}

// equal compiles col = val; with wildcards, '@' in a string matches any run of characters.
func (s *scope) equal(col string, a *Attribute, val any, wildcards bool) (string, error) {
	c := s.c
	if a.valueType() != TypeString {
		enc, err := c.d.encode(a.valueType(), val)
		if err != nil {
			return "", err
		}
		return col + " = " + c.bind(enc), nil
	}
	str := fold(val.(string))
	if !wildcards || !strings.Contains(str, "@") {
		return c.d.fold(col) + " = " + c.bind(str), nil
	}
	// 'abc@' is a prefix: a range on the folded value, which an index can serve.
	if strings.Count(str, "@") == 1 && strings.HasSuffix(str, "@") {
		return s.prefix(col, strings.TrimSuffix(str, "@")), nil
	}
	parts := strings.Split(str, "@")
	for i, p := range parts {
		parts[i] = c.d.likeLiteral(p)
	}
	return c.d.like(c.d.fold(col), c.bind(strings.Join(parts, "%"))), nil
}

// prefix compiles "col starts with p" (p already folded).
func (s *scope) prefix(col, p string) string {
	c := s.c
	if p == "" {
		return col + " IS NOT NULL"
	}
	f := c.d.fold(col)
	return "(" + f + " >= " + c.bind(p) + " AND " + f + " < " + c.bind(c.d.prefixUpperBound(p)) + ")"
}

// in compiles col IN array: an element null matches NULL, a string with '@' is a pattern.
func (s *scope) in(col string, a *Attribute, v valueNode, raw any) (string, error) {
	c := s.c
	elems, ok := raw.([]any)
	if !ok {
		return "", c.errorf(ReasonWrongType, v.pos, "IN needs an array ([1, 2] or a placeholder holding one), got %s", describe(raw))
	}
	if len(c.args)+len(elems) > maxBinds {
		return "", c.errorf(ReasonSyntax, v.pos, "too many values (at most %d per query)", maxBinds)
	}
	isString := a.valueType() == TypeString
	var conds, plain []string
	for _, e := range elems {
		if e == nil {
			conds = append(conds, col+" IS NULL")
			continue
		}
		val, err := c.typed(a, paramValue(e), v)
		if err != nil {
			return "", err
		}
		if isString {
			if str := fold(val.(string)); strings.Contains(str, "@") {
				cond, err := s.equal(col, a, val, true)
				if err != nil {
					return "", err
				}
				conds = append(conds, cond)
			} else {
				plain = append(plain, c.bind(str))
			}
			continue
		}
		enc, err := c.d.encode(a.valueType(), val)
		if err != nil {
			return "", err
		}
		plain = append(plain, c.bind(enc))
	}
	if len(plain) > 0 {
		lhs := col
		if isString {
			lhs = c.d.fold(col)
		}
		conds = append(conds, lhs+" IN ("+strings.Join(plain, ", ")+")")
	}
	switch len(conds) {
	case 0:
		return "FALSE", nil
	case 1:
		return conds[0], nil
	}
	return "(" + strings.Join(conds, " OR ") + ")", nil
}

// orderBy compiles order-by terms into an ORDER BY list, ending with the key so that paging
// through equal values is stable.
func (s *scope) orderBy(terms []orderTerm) (string, error) {
	c := s.c
	var out []string
	keyed := false
	for _, t := range terms {
		alias, dc, i, a, err := s.walk(t.path)
		if err != nil {
			return "", err
		}
		if a.Kind == KindRelatedEntities {
			return "", c.errorf(ReasonUnknownAttribute, t.path[i].pos, "cannot order by %s.%s: it is a collection", dc.Name, a.Name)
		}
		if a.valueType() == TypeObject {
			return "", c.errorf(ReasonWrongType, t.path[i].pos, "cannot order by object attribute %q", a.Name)
		}
		expr := s.column(alias, a)
		if a.valueType() == TypeString {
			expr = c.d.fold(expr)
		}
		if alias == s.alias && a == s.dc.Key {
			keyed = true
		}
		out = append(out, c.d.orderTerm(expr, t.desc))
	}
	if !keyed {
		out = append(out, c.d.orderTerm(s.column(s.alias, s.dc.Key), false))
	}
	return strings.Join(out, ", "), nil
}
