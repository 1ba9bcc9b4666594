package datastore

import (
	"strings"
	"unicode/utf8"
)

// Paths into object attributes (SPEC §3.5): "meta.prop == 9181", "$orderby=meta.size desc".
// The keys after the object attribute are identifiers (the query parser's names: letters,
// digits, '_'), so they are written into the SQL as a literal path; nothing else from the
// query text is. Comparisons are typed, the same on both backends: a number compares only
// with JSON numbers, a string only with JSON strings (exactly, in code point order: the
// language's case folding needs shadow columns, which keys inside objects do not have),
// true/false only with JSON booleans; "= null" matches a missing key and a JSON null.

// objectKeys returns the keys of an object path, checking that each is an identifier.
func (c *compiler) objectKeys(path []pathSeg) ([]string, error) {
	keys := make([]string, len(path))
	for i, seg := range path {
		for _, r := range seg.name {
			if !isIdentPart(r) || r == utf8.RuneError {
				return nil, c.errorf(ReasonSyntax, seg.pos, "object key %q must be made of letters, digits and '_'", seg.name)
			}
		}
		keys[i] = seg.name
	}
	return keys, nil
}

// objectPredicate compiles n on the value at keys inside object attribute a.
func (s *scope) objectPredicate(alias string, a *Attribute, keys []string, n *compNode) (string, error) {
	c := s.c
	col := s.column(alias, a)
	raw, err := c.operand(n.val)
	if err != nil {
		return "", err
	}
	var eq, expr string
	var bound any
	switch v := raw.(type) {
	case nil:
		eq = "COALESCE(" + c.d.jsonType(col, keys) + ", 'null') = 'null'"
	case string:
		expr, bound = c.d.jsonText(col, keys), v
	case bool:
		expr, bound = c.d.jsonBool(col, keys), int64(0)
		if v {
			bound = int64(1)
		}
	default:
		f, ok := toFloat(v)
		if !ok {
			return "", c.errorf(ReasonWrongType, n.val.pos, "%s (%s) cannot be compared with an object path", what(n.val), describe(raw))
		}
		expr, bound = c.d.jsonNumber(col, keys), f
	}
	switch n.op {
	case opEq, opIs, opNe, opIsNot:
		if eq == "" {
			eq = expr + " = " + c.bind(bound)
		}
		if n.op == opNe || n.op == opIsNot {
			return c.d.notTrue(eq), nil
		}
		return eq, nil
	case opLt, opLe, opGt, opGe:
		if raw == nil {
			return "", c.errorf(ReasonWrongType, n.val.pos, "null can only be compared with =, ==, ===, !=, # or !==")
		}
		if _, isBool := raw.(bool); isBool {
			return "", c.errorf(ReasonWrongType, n.val.pos, "true and false have no order")
		}
		return expr + rangeSymbols[n.op] + c.bind(bound), nil
	}
	return "", c.errorf(ReasonWrongType, n.opPos, "an object path (%s.%s) is compared with =, ==, ===, !=, #, !==, <, <=, > or >=", a.Name, strings.Join(keys, "."))
}

// objectOrder is the ORDER BY of an object path: by the value as a number, then as a string
// (code point order). A value that is not a number counts as null for the first key, so,
// with nulls first ascending as everywhere, non-numbers come before numbers ascending and
// after them descending; missing keys and values of other types are null for both.
func (s *scope) objectOrder(alias string, a *Attribute, keys []string, desc bool) []string {
	col := s.column(alias, a)
	d := s.c.d
	return []string{d.orderTerm(d.jsonNumber(col, keys), desc), d.orderTerm(d.jsonText(col, keys), desc)}
}
