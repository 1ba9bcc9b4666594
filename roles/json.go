package roles

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON reader that keeps the byte offset of every key
// and value, so that validation errors can name the line and column of the
// offending text. encoding/json forgets positions once a value is decoded and
// silently keeps the last of duplicate keys, which would hide a second "read"
// list from whoever reviews the file.

// maxDepth bounds nesting. A valid roles.json is five levels deep; the bound
// only keeps hostile input from exhausting the stack.
const maxDepth = 64

// bom is the UTF-8 byte order mark some editors put at the start of a file.
const bom = "\xEF\xBB\xBF"

// jsonKind is the JSON type of a value.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// String returns the JSON name of the kind, as used in "want array, got string".
func (k jsonKind) String() string {
	switch k {
	case jsonBool:
		return "boolean"
	case jsonNumber:
		return "number"
	case jsonString:
		return "string"
	case jsonArray:
		return "array"
	case jsonObject:
		return "object"
	default:
		return "null"
	}
}

// value is one parsed JSON value and where it starts in the input.
type value struct {
	kind   jsonKind
	off    int      // byte offset of the value's first byte
	str    string   // jsonString: the decoded text
	b      bool     // jsonBool
	elems  []*value // jsonArray
	fields []member // jsonObject, in input order, duplicates kept
}

// member is one key of a JSON object.
type member struct {
	key string
	off int // byte offset of the key's opening quote
	val *value
}

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	off int
	msg string
}

// reader is a recursive-descent JSON parser over a byte slice.
type reader struct {
	data  []byte
	pos   int
	depth int
}

// parseJSON parses exactly one JSON value (optionally preceded by a UTF-8 byte
// order mark and surrounded by white space).
func parseJSON(data []byte) (*value, *syntaxError) {
	r := &reader{data: data}
	if len(data) >= len(bom) && string(data[:len(bom)]) == bom {
		r.pos = len(bom)
	}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	r.skipSpace()
	if r.pos < len(r.data) {
		return nil, r.unexpected("after the top-level value")
	}
	return v, nil
}

func (r *reader) fail(off int, format string, args ...any) *syntaxError {
	return &syntaxError{off: off, msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at r.pos (or the end of input) as out of place.
func (r *reader) unexpected(context string) *syntaxError {
	if r.pos >= len(r.data) {
		return r.fail(r.pos, "unexpected end of input %s", context)
	}
	return r.fail(r.pos, "invalid character %s %s", describeByte(r.data[r.pos:]), context)
}

// describeByte quotes the character at the start of b for an error message.
func describeByte(b []byte) string {
	c, size := utf8.DecodeRune(b)
	if c == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("byte 0x%02x", b[0])
	}
	return strconv.QuoteRune(c)
}

func (r *reader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *reader) value() (*value, *syntaxError) {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return nil, r.unexpected("looking for a value")
	}
	start := r.pos
	switch c := r.data[r.pos]; {
	case c == '{':
		return r.object()
	case c == '[':
		return r.array()
	case c == '"':
		s, err := r.string()
		if err != nil {
			return nil, err
		}
		return &value{kind: jsonString, off: start, str: s}, nil
	case c == '-' || ('0' <= c && c <= '9'):
		if err := r.number(); err != nil {
			return nil, err
		}
		return &value{kind: jsonNumber, off: start}, nil
	case c == 't':
		return r.literal("true", &value{kind: jsonBool, off: start, b: true})
	case c == 'f':
		return r.literal("false", &value{kind: jsonBool, off: start})
	case c == 'n':
		return r.literal("null", &value{kind: jsonNull, off: start})
	default:
		return nil, r.unexpected("looking for a value")
	}
}

func (r *reader) literal(word string, v *value) (*value, *syntaxError) {
	end := r.pos + len(word)
	if end > len(r.data) || string(r.data[r.pos:end]) != word {
		return nil, r.fail(r.pos, "invalid literal, want %s", word)
	}
	r.pos = end
	return v, nil
}

// enter and leave track nesting depth.
func (r *reader) enter() *syntaxError {
	r.depth++
	if r.depth > maxDepth {
		return r.fail(r.pos, "nesting deeper than %d levels", maxDepth)
	}
	return nil
}

func (r *reader) leave() { r.depth-- }

func (r *reader) object() (*value, *syntaxError) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.leave()
	v := &value{kind: jsonObject, off: r.pos}
	r.pos++ // '{'
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		return v, nil
	}
	for {
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return nil, r.unexpected("looking for an object key")
		}
		keyOff := r.pos
		key, err := r.string()
		if err != nil {
			return nil, err
		}
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return nil, r.unexpected("after an object key, want ':'")
		}
		r.pos++
		val, err := r.value()
		if err != nil {
			return nil, err
		}
		v.fields = append(v.fields, member{key: key, off: keyOff, val: val})
		r.skipSpace()
		if r.pos < len(r.data) {
			switch r.data[r.pos] {
			case ',':
				r.pos++
				continue
			case '}':
				r.pos++
				return v, nil
			}
		}
		return nil, r.unexpected("after an object value, want ',' or '}'")
	}
}

func (r *reader) array() (*value, *syntaxError) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.leave()
	v := &value{kind: jsonArray, off: r.pos}
	r.pos++ // '['
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		return v, nil
	}
	for {
		elem, err := r.value()
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, elem)
		r.skipSpace()
		if r.pos < len(r.data) {
			switch r.data[r.pos] {
			case ',':
				r.pos++
				continue
			case ']':
				r.pos++
				return v, nil
			}
		}
		return nil, r.unexpected("after an array element, want ',' or ']'")
	}
}

// number checks the JSON number grammar. roles.json has no numeric fields, so
// the value itself is never needed.
func (r *reader) number() *syntaxError {
	start := r.pos
	if r.data[r.pos] == '-' {
		r.pos++
	}
	switch {
	case r.pos < len(r.data) && r.data[r.pos] == '0':
		r.pos++
	case r.digits() == 0:
		return r.fail(start, "invalid number")
	}
	if r.pos < len(r.data) && r.data[r.pos] == '.' {
		r.pos++
		if r.digits() == 0 {
			return r.fail(start, "invalid number")
		}
	}
	if r.pos < len(r.data) && (r.data[r.pos] == 'e' || r.data[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.data) && (r.data[r.pos] == '+' || r.data[r.pos] == '-') {
			r.pos++
		}
		if r.digits() == 0 {
			return r.fail(start, "invalid number")
		}
	}
	return nil
}

// digits consumes decimal digits and returns how many.
func (r *reader) digits() int {
	n := 0
	for r.pos < len(r.data) && '0' <= r.data[r.pos] && r.data[r.pos] <= '9' {
		r.pos++
		n++
	}
	return n
}

// string decodes a JSON string starting at the opening quote. Invalid UTF-8 and
// unpaired surrogates are errors rather than being replaced by U+FFFD, so that
// a name in the file is exactly the name that is checked.
func (r *reader) string() (string, *syntaxError) {
	start := r.pos
	r.pos++ // the opening quote
	// buf is only allocated when the string has escapes; lit is the start of
	// the pending unescaped run.
	var buf []byte
	lit := r.pos
	for {
		if r.pos >= len(r.data) {
			return "", r.fail(start, "unterminated string")
		}
		c := r.data[r.pos]
		switch {
		case c == '"':
			var s string
			if buf == nil {
				s = string(r.data[lit:r.pos])
			} else {
				s = string(append(buf, r.data[lit:r.pos]...))
			}
			r.pos++
			return s, nil
		case c == '\\':
			buf = append(buf, r.data[lit:r.pos]...)
			var err *syntaxError
			if buf, err = r.escape(buf); err != nil {
				return "", err
			}
			lit = r.pos
		case c < 0x20:
			return "", r.fail(r.pos, "control character %s in string", describeByte(r.data[r.pos:]))
		case c < utf8.RuneSelf:
			r.pos++
		default:
			c, size := utf8.DecodeRune(r.data[r.pos:])
			if c == utf8.RuneError && size == 1 {
				return "", r.fail(r.pos, "invalid UTF-8 in string")
			}
			r.pos += size
		}
	}
}

// escape decodes the escape sequence at r.pos (a backslash) onto buf.
func (r *reader) escape(buf []byte) ([]byte, *syntaxError) {
	start := r.pos
	if r.pos+1 >= len(r.data) {
		return nil, r.fail(start, "unterminated string")
	}
	c := r.data[r.pos+1]
	r.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(buf, c), nil
	case 'b':
		return append(buf, '\b'), nil
	case 'f':
		return append(buf, '\f'), nil
	case 'n':
		return append(buf, '\n'), nil
	case 'r':
		return append(buf, '\r'), nil
	case 't':
		return append(buf, '\t'), nil
	case 'u':
		c1, ok := r.hex4()
		if !ok {
			return nil, r.fail(start, `invalid \u escape`)
		}
		if !utf16.IsSurrogate(c1) {
			return utf8.AppendRune(buf, c1), nil
		}
		if r.pos+1 < len(r.data) && r.data[r.pos] == '\\' && r.data[r.pos+1] == 'u' {
			r.pos += 2
			if c2, ok := r.hex4(); ok {
				if dec := utf16.DecodeRune(c1, c2); dec != utf8.RuneError {
					return utf8.AppendRune(buf, dec), nil
				}
			}
		}
		return nil, r.fail(start, `invalid \u escape: unpaired surrogate`)
	default:
		return nil, r.fail(start, "invalid escape %s in string", describeByte(r.data[r.pos-1:]))
	}
}

// hex4 reads four hexadecimal digits.
func (r *reader) hex4() (rune, bool) {
	if r.pos+4 > len(r.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(r.data[r.pos:r.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	r.pos += 4
	return rune(n), true
}
