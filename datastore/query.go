package datastore

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses the 4D query language into a syntax tree; compile.go turns the tree into
// SQL against a model. The parser is a hand-written recursive descent over this grammar
// (EBNF; keywords are case-insensitive, attribute names case-sensitive):
//
//	query       = [ orExpr ] .
//	orExpr      = andExpr { ( "OR" | "|" | "||" | "EXCEPT" ) andExpr } .
//	andExpr     = unary { ( "AND" | "&" | "&&" ) unary } .
//	unary       = "NOT" unary | "(" orExpr ")" | comparison .
//	comparison  = path operator value .
//	path        = name { "." name } .
//	operator    = "=" | "==" | "===" | "!=" | "#" | "!==" | "<" | "<=" | ">" | ">=" | "%"
//	            | "IS" [ "NOT" ] | "IN" | "BEGIN" .
//	value       = string | number | "true" | "false" | "null" | placeholder | array .
//	array       = "[" [ value { "," value } ] "]" .
//	placeholder = ":" digit { digit } .
//	string      = "'" { char } "'" | `"` { char } `"` .
//	number      = [ "-" ] digit { digit } [ "." digit { digit } ] [ ( "e" | "E" ) [ "+" | "-" ] digit { digit } ] .
//	name        = ( letter | "_" ) { letter | digit | "_" } .
//
// Precedence, from tightest: NOT, then AND, then OR and EXCEPT (equal, left to right), so
// "a=1 OR b=2 AND c=3" is "a=1 OR (b=2 AND c=3)" and "a=1 EXCEPT b=2 OR c=3" is
// "(a=1 EXCEPT b=2) OR c=3". In a string a backslash escapes the quote character and itself;
// any other backslash is literal. "NOT" followed by "." or a comparison operator is an attribute
// called NOT, so an attribute may bear that name.

// Limits that bound the work one query can cause.
const (
	maxQueryLen   = 8 << 10 // bytes of filter or order-by text
	maxDepth      = 64      // nested parentheses and NOTs
	maxPathLen    = 16      // segments in an attribute path
	maxOrderTerms = 16
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokName
	tokString
	tokNumber
	tokPlaceholder
	tokSymbol // operators and connectives written with symbols
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
	tokComma
	tokDot
)

type token struct {
	kind tokKind
	text string // as written (names, numbers, symbols); the decoded value for strings
	num  int    // placeholder index
	pos  int
}

var punctuation = map[byte]tokKind{'(': tokLParen, ')': tokRParen, '[': tokLBracket, ']': tokRBracket, ',': tokComma, '.': tokDot}

// symbols, longest first so that "===" is not read as "==" then "=".
var symbols = []string{"===", "!==", "==", "!=", "<=", ">=", "&&", "||", "=", "#", "<", ">", "%", "&", "|"}

func syntaxErr(clause string, pos int, format string, args ...any) *QueryError {
	return &QueryError{Reason: ReasonSyntax, Pos: pos, Message: fmt.Sprintf(format, args...), Clause: clause}
}

// lex splits src into tokens; the input is at most maxQueryLen bytes, so a slice is cheap.
func lex(src, clause string) ([]token, error) {
	if len(src) > maxQueryLen {
		return nil, syntaxErr(clause, maxQueryLen, "query longer than %d bytes", maxQueryLen)
	}
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == '.':
			toks = append(toks, token{kind: punctuation[c], text: string(c), pos: i})
			i++
			continue
		case c == '\'' || c == '"':
			s, n, err := lexString(src, i, clause)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i})
			i += n
			continue
		case c == ':':
			j := i + 1
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j == i+1 {
				return nil, syntaxErr(clause, i, "expected a placeholder number after ':' (:1, :2…)")
			}
			n, err := strconv.Atoi(src[i+1 : j])
			if err != nil || n == 0 {
				return nil, syntaxErr(clause, i, "invalid placeholder %q (placeholders start at :1)", src[i:j])
			}
			toks = append(toks, token{kind: tokPlaceholder, text: src[i:j], num: n, pos: i})
			i = j
			continue
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			n := lexNumber(src[i:])
			toks = append(toks, token{kind: tokNumber, text: src[i : i+n], pos: i})
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(src[i:])
		// A name, or a bare value (an unquoted word, which may hold '@' wildcards: see value).
		if (isIdentStart(r) || r == '@') && r != utf8.RuneError {
			j := i + size
			for j < len(src) {
				r, size := utf8.DecodeRuneInString(src[j:])
				if !isIdentPart(r) && r != '@' || r == utf8.RuneError {
					break
				}
				j += size
			}
			toks = append(toks, token{kind: tokName, text: src[i:j], pos: i})
			i = j
			continue
		}
		sym := ""
		for _, s := range symbols {
			if strings.HasPrefix(src[i:], s) {
				sym = s
				break
			}
		}
		if sym == "" {
			return nil, syntaxErr(clause, i, "unexpected character %q", r)
		}
		toks = append(toks, token{kind: tokSymbol, text: sym, pos: i})
		i += len(sym)
	}
	return append(toks, token{kind: tokEOF, pos: len(src)}), nil
}

// lexString reads a quoted string starting at src[start] and returns its value and length.
func lexString(src string, start int, clause string) (string, int, error) {
	quote := src[start]
	var b strings.Builder
	for i := start + 1; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src) && (src[i+1] == quote || src[i+1] == '\\'):
			b.WriteByte(src[i+1])
			i++
		case c == quote:
			return b.String(), i + 1 - start, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, syntaxErr(clause, start, "unterminated string")
}

// lexNumber returns the length of the number at the start of s (which starts with a digit or
// with '-' and a digit).
func lexNumber(s string) int {
	i := 0
	if s[0] == '-' {
		i++
	}
	digits := func() {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	digits()
	if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
		i++
		digits()
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			i = j
			digits()
		}
	}
	return i
}

// Syntax tree.

// node is a filter syntax tree node: *logicalNode, *notNode or *compNode.
type node interface{ isNode() }

type logicalOp int

const (
	opAnd logicalOp = iota
	opOr
	opExcept
)

type logicalNode struct {
	op          logicalOp
	left, right node
	pos         int
}

type notNode struct {
	x   node
	pos int
}

type compOp int

const (
	opEq compOp = iota
	opNe
	opIs
	opIsNot
	opLt
	opLe
	opGt
	opGe
	opBegin
	opIn
	opContains
)

var symbolOps = map[string]compOp{
	"=": opEq, "==": opEq, "!=": opNe, "#": opNe, "===": opIs, "!==": opIsNot,
	"<": opLt, "<=": opLe, ">": opGt, ">=": opGe, "%": opContains,
}

type pathSeg struct {
	name string
	pos  int
}

type compNode struct {
	path  []pathSeg
	op    compOp
	opPos int
	val   valueNode
}

type valueKind int

const (
	valLiteral valueKind = iota
	valPlaceholder
	valArray
)

type valueNode struct {
	kind  valueKind
	lit   any // string, numberLit, bool or nil
	index int // placeholder number, 1-based
	elems []valueNode
	pos   int
}

func (*logicalNode) isNode() {}
func (*notNode) isNode()     {}
func (*compNode) isNode()    {}

type parser struct {
	toks   []token
	i      int
	depth  int
	clause string
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return syntaxErr(p.clause, pos, format, args...)
}

// reservedWord reports whether an unquoted word is a keyword of the language, which can
// never be a bare value.
func reservedWord(w string) bool {
	switch strings.ToUpper(w) {
	case "AND", "OR", "EXCEPT", "NOT", "IS", "IN", "BEGIN", "TRUE", "FALSE", "NULL", "ASC", "DESC":
		return true
	}
	return false
}

func isWord(t token, word string) bool { return t.kind == tokName && strings.EqualFold(t.text, word) }

// parseFilter parses a filter; it returns nil for an empty (all-matching) filter.
func parseFilter(src string) (node, error) {
	toks, err := lex(src, ClauseFilter)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, clause: ClauseFilter}
	if p.peek().kind == tokEOF {
		return nil, nil
	}
	n, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t.pos, "unexpected %s: expected AND, OR, EXCEPT or the end of the query", describeTok(t))
	}
	return n, nil
}

func (p *parser) orExpr() (node, error) {
	left, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var op logicalOp
		switch {
		case isWord(t, "OR") || t.kind == tokSymbol && (t.text == "|" || t.text == "||"):
			op = opOr
		case isWord(t, "EXCEPT"):
			op = opExcept
		default:
			return left, nil
		}
		p.next()
		right, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		left = &logicalNode{op: op, left: left, right: right, pos: t.pos}
	}
}

func (p *parser) andExpr() (node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !isWord(t, "AND") && !(t.kind == tokSymbol && (t.text == "&" || t.text == "&&")) {
			return left, nil
		}
		p.next()
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &logicalNode{op: opAnd, left: left, right: right, pos: t.pos}
	}
}

func (p *parser) unary() (node, error) {
	t := p.peek()
	if isWord(t, "NOT") && !p.startsComparison(p.peekAt(1)) {
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &notNode{x: x, pos: t.pos}, nil
	}
	if t.kind == tokLParen {
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, p.errorf(c.pos, "expected ')' to close the '(' at offset %d, found %s", t.pos, describeTok(c))
		}
		p.depth--
		return x, nil
	}
	return p.comparison()
}

// startsComparison reports whether t, following a name, continues a comparison (so the name
// was an attribute, not the keyword NOT).
func (p *parser) startsComparison(t token) bool {
	if t.kind == tokDot {
		return true
	}
	if t.kind == tokSymbol {
		_, ok := symbolOps[t.text]
		return ok
	}
	return isWord(t, "IS") || isWord(t, "IN") || isWord(t, "BEGIN")
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(pos, "query nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) path() ([]pathSeg, error) {
	t := p.next()
	if t.kind != tokName {
		return nil, p.errorf(t.pos, "expected an attribute name, found %s", describeTok(t))
	}
	segs := []pathSeg{{name: t.text, pos: t.pos}}
	for p.peek().kind == tokDot {
		p.next()
		t := p.next()
		if t.kind != tokName {
			return nil, p.errorf(t.pos, "expected an attribute name after '.', found %s", describeTok(t))
		}
		if len(segs) == maxPathLen {
			return nil, p.errorf(t.pos, "attribute path longer than %d names", maxPathLen)
		}
		segs = append(segs, pathSeg{name: t.text, pos: t.pos})
	}
	return segs, nil
}

func (p *parser) comparison() (node, error) {
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	t := p.next()
	n := &compNode{path: path, opPos: t.pos}
	switch {
	case t.kind == tokSymbol:
		op, ok := symbolOps[t.text]
		if !ok {
			return nil, p.errorf(t.pos, "expected a comparison operator, found %q", t.text)
		}
		n.op = op
	case isWord(t, "IS"):
		n.op = opIs
		if isWord(p.peek(), "NOT") {
			p.next()
			n.op = opIsNot
		}
	case isWord(t, "IN"):
		n.op = opIn
	case isWord(t, "BEGIN"):
		n.op = opBegin
	default:
		return nil, p.errorf(t.pos, "expected a comparison operator after %q, found %s", joinPath(path), describeTok(t))
	}
	n.val, err = p.value(true)
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (p *parser) value(arrayOK bool) (valueNode, error) {
	t := p.next()
	v := valueNode{pos: t.pos}
	switch {
	case t.kind == tokString:
		v.lit = t.text
	case t.kind == tokNumber:
		v.lit = numberLit(t.text)
	case t.kind == tokPlaceholder:
		v.kind, v.index = valPlaceholder, t.num
	case isWord(t, "true"):
		v.lit = true
	case isWord(t, "false"):
		v.lit = false
	case isWord(t, "null"):
		v.lit = nil
	case t.kind == tokName && !reservedWord(t.text):
		// An unquoted value, as in 4D's examples (lastName=Smith, name begin j): one word of
		// letters, digits, '_' and '@', not a keyword. It is the string it spells.
		v.lit = t.text
	case t.kind == tokLBracket && arrayOK:
		v.kind = valArray
		if p.peek().kind == tokRBracket {
			p.next()
			return v, nil
		}
		for {
			e, err := p.value(false)
			if err != nil {
				return v, err
			}
			v.elems = append(v.elems, e)
			c := p.next()
			if c.kind == tokRBracket {
				return v, nil
			}
			if c.kind != tokComma {
				return v, p.errorf(c.pos, "expected ',' or ']' in the array, found %s", describeTok(c))
			}
		}
	default:
		return v, p.errorf(t.pos, "expected a value (string, number, true, false, null, :n or [...]), found %s", describeTok(t))
	}
	return v, nil
}

// orderTerm is one key of an order-by list.
type orderTerm struct {
	path []pathSeg
	desc bool
}

// parseOrderBy parses "a desc, b asc, employer.name": a comma-separated list of paths, each
// optionally followed by ASC or DESC (case-insensitive; ascending by default).
func parseOrderBy(src string) ([]orderTerm, error) {
	toks, err := lex(src, ClauseOrderBy)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, clause: ClauseOrderBy}
	if p.peek().kind == tokEOF {
		return nil, nil
	}
	var terms []orderTerm
	for {
		if len(terms) == maxOrderTerms {
			return nil, p.errorf(p.peek().pos, "more than %d order-by terms", maxOrderTerms)
		}
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		term := orderTerm{path: path}
		switch t := p.peek(); {
		case isWord(t, "DESC"):
			term.desc = true
			p.next()
		case isWord(t, "ASC"):
			p.next()
		}
		terms = append(terms, term)
		switch t := p.next(); t.kind {
		case tokEOF:
			return terms, nil
		case tokComma:
		default:
			return nil, p.errorf(t.pos, "expected ',', ASC, DESC or the end, found %s", describeTok(t))
		}
	}
}

func describeTok(t token) string {
	switch t.kind {
	case tokEOF:
		return "the end of the query"
	case tokString:
		return "a string"
	case tokName, tokNumber, tokPlaceholder:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func joinPath(path []pathSeg) string {
	names := make([]string, len(path))
	for i, s := range path {
		names[i] = s.name
	}
	return strings.Join(names, ".")
}
