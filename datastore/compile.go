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

// maxJoins bounds the tables one query touches (SQLite allows 64 in a join, PostgreSQL more).
const maxJoins = 32

// maxBinds bounds the values one query binds (SQLite allows 32766, PostgreSQL 65535).
const maxBinds = 30000

// compiler accumulates the bound arguments and alias numbering of one statement.
type compiler struct {
	d       dialect
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

// folded renders the fold shadow column of a string-valued attribute (see shadow.go).
func (s *scope) folded(alias string, a *Attribute) string {
	return alias + "." + s.c.d.quote(foldColumn(a))
}

// bindEnc binds a value already encoded for the column, typed where the dialect needs it.
func (c *compiler) bindEnc(enc any) string { return c.d.bindCast(c.bind(enc), enc) }

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
		if a.IsBinary() {
			return "", nil, 0, nil, s.c.errorf(ReasonUnsupported, seg.pos, "%s.%s is a %s attribute: it cannot be queried or ordered by", dc.Name, a.Name, a.Type)
		}
		if i == len(path)-1 || a.Kind == KindRelatedEntities {
			return alias, dc, i, a, nil
		}
		if a.Kind == KindStorage && a.valueType() == TypeObject {
			return alias, dc, i, a, nil // the rest of the path are keys inside the object
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
	if a.Kind == KindStorage && i < len(path)-1 {
		keys, err := s.c.objectKeys(path[i+1:])
		if err != nil {
			return "", err
		}
		return s.objectPredicate(alias, a, keys, n)
	}
	if a.Kind != KindRelatedEntities {
		return s.predicate(alias, a, n)
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

// predicate compiles the comparison of attribute a (of the table aliased alias) with n's value.
func (s *scope) predicate(alias string, a *Attribute, n *compNode) (string, error) {
	c := s.c
	col := s.column(alias, a)
	raw, err := c.operand(n.val)
	if err != nil {
		return "", err
	}
	if n.op == opIn {
		return s.in(alias, a, n.val, raw)
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
		return s.equal(alias, a, val, true)
	case opNe:
		eq, err := s.equal(alias, a, val, true)
		return c.d.notTrue(eq), err
	case opIs:
		return s.equal(alias, a, val, false)
	case opIsNot:
		eq, err := s.equal(alias, a, val, false)
		return c.d.notTrue(eq), err
	case opBegin, opContains:
		if !isString {
			return "", c.errorf(ReasonWrongType, n.opPos, "operator needs a string attribute; %q is of type %s", a.Name, a.valueType())
		}
		if n.op == opBegin {
			return s.prefix(alias, a, foldText(val.(string))), nil
		}
		return s.keyword(alias, a, val.(string)), nil
	}
	sym := rangeSymbols[n.op]
	if isString {
		return s.folded(alias, a) + sym + c.bind(foldText(val.(string))), nil
	}
	enc, err := c.d.encode(a.valueType(), val)
	if err != nil {
		return "", err
	}
	return col + sym + c.bindEnc(enc), nil
}

// keyword compiles the % operator (see keywordMatch, which it must agree with): the words
// column holds " w1 w2 … ", so the keyword's words, in order and next to each other, are a
// LIKE on it; a keyword ending in '@' leaves its last word open.
func (s *scope) keyword(alias string, a *Attribute, kw string) string {
	c := s.c
	ws := words(kw)
	if len(ws) == 0 {
		return "FALSE"
	}
	pattern := "% " + likeLiteral(strings.Join(ws, " "))
	if strings.HasSuffix(strings.TrimSpace(kw), "@") {
		pattern += "%"
	} else {
		pattern += " %"
	}
	return c.d.like(alias+"."+c.d.quote(wordsColumn(a)), c.bind(pattern))
}

var rangeSymbols = map[compOp]string{opLt: " < ", opLe: " <= ", opGt: " > ", opGe: " >= "}

// equal compiles a = val; with wildcards, '@' in a string matches any run of characters.
func (s *scope) equal(alias string, a *Attribute, val any, wildcards bool) (string, error) {
	c := s.c
	if a.valueType() != TypeString {
		enc, err := c.d.encode(a.valueType(), val)
		if err != nil {
			return "", err
		}
		return s.column(alias, a) + " = " + c.bindEnc(enc), nil
	}
	str := foldText(val.(string))
	f := s.folded(alias, a)
	if !wildcards || !strings.Contains(str, "@") {
		return f + " = " + c.bind(str), nil
	}
	// 'abc@' is a prefix: a range on the folded value, which an index can serve.
	if strings.Count(str, "@") == 1 && strings.HasSuffix(str, "@") {
		return s.prefix(alias, a, strings.TrimSuffix(str, "@")), nil
	}
	parts := strings.Split(str, "@")
	for i, p := range parts {
		parts[i] = likeLiteral(p)
	}
	return c.d.like(f, c.bind(strings.Join(parts, "%"))), nil
}

// prefix compiles "a starts with p" (p already folded) as a range on the fold column, which an
// index serves on both backends.
func (s *scope) prefix(alias string, a *Attribute, p string) string {
	c := s.c
	if p == "" {
		return s.column(alias, a) + " IS NOT NULL"
	}
	f := s.folded(alias, a)
	upper, ok := prefixUpperBound(p)
	if !ok {
		return f + " >= " + c.bind(p)
	}
	return "(" + f + " >= " + c.bind(p) + " AND " + f + " < " + c.bind(upper) + ")"
}

// in compiles a IN array: an element null matches NULL, a string with '@' is a pattern.
func (s *scope) in(alias string, a *Attribute, v valueNode, raw any) (string, error) {
	c := s.c
	col := s.column(alias, a)
	elems, ok := raw.([]any)
	if !ok {
		return "", c.errorf(ReasonWrongType, v.pos, "IN needs an array ([1, 2] or a placeholder holding one), got %s", describe(raw))
	}
	if len(c.args)+len(elems) > maxBinds {
		return "", c.errorf(ReasonSyntax, v.pos, "too many values (at most %d per query)", maxBinds)
	}
	// Values are bound in the order their placeholders appear in the text (SQLite's '?' are
	// positional): the IN list first, then the patterns.
	isString := a.valueType() == TypeString
	var conds, plain []string
	var patterns []any
	nulls := false
	for _, e := range elems {
		if e == nil {
			nulls = true
			continue
		}
		val, err := c.typed(a, paramValue(e), v)
		if err != nil {
			return "", err
		}
		if isString {
			if str := foldText(val.(string)); strings.Contains(str, "@") {
				patterns = append(patterns, val)
			} else {
				plain = append(plain, c.bind(str))
			}
			continue
		}
		enc, err := c.d.encode(a.valueType(), val)
		if err != nil {
			return "", err
		}
		plain = append(plain, c.bindEnc(enc))
	}
	if len(plain) > 0 {
		lhs := col
		if isString {
			lhs = s.folded(alias, a)
		}
		conds = append(conds, lhs+" IN ("+strings.Join(plain, ", ")+")")
	}
	for _, val := range patterns {
		cond, err := s.equal(alias, a, val, true)
		if err != nil {
			return "", err
		}
		conds = append(conds, cond)
	}
	if nulls {
		conds = append(conds, col+" IS NULL")
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
		if a.Kind == KindStorage && i < len(t.path)-1 {
			keys, err := c.objectKeys(t.path[i+1:])
			if err != nil {
				return "", err
			}
			out = append(out, s.objectOrder(alias, a, keys, t.desc)...)
			continue
		}
		if a.valueType() == TypeObject {
			return "", c.errorf(ReasonWrongType, t.path[i].pos, "cannot order by object attribute %q", a.Name)
		}
		expr := s.column(alias, a)
		if a.valueType() == TypeString {
			expr = s.folded(alias, a)
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
