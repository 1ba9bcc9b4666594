// Package jsonpos parses JSON into a tree that keeps the byte offset of every
// key and value, so that validation errors can name the line and column of the
// offending text (roles.json, model.json).
//
// encoding/json forgets positions once a value is decoded and silently keeps
// the last of duplicate keys, which would hide a second "read" list from
// whoever reviews a file. Parse keeps duplicates, in input order, and leaves
// it to the caller to report them. It is also stricter than encoding/json:
// invalid UTF-8 and unpaired surrogate escapes are errors rather than being
// replaced by U+FFFD, so that a name in the file is exactly the name that is
// checked. A UTF-8 byte order mark before the value is skipped.
package jsonpos

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of arrays and objects. Configuration files are
// a few levels deep; the bound only keeps hostile input from exhausting the
// stack.
const MaxDepth = 64

// BOM is the UTF-8 byte order mark some editors put at the start of a file.
const BOM = "\xEF\xBB\xBF"

// Kind is the JSON type of a value.
type Kind uint8

// The JSON types.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// String returns the JSON name of the kind, as used in "want array, got string".
func (k Kind) String() string {
	switch k {
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	default:
		return "null"
	}
}

// Value is one parsed JSON value and where it starts in the input.
type Value struct {
	Kind   Kind
	Off    int         // byte offset of the value's first byte
	Str    string      // String: the decoded text
	Bool   bool        // Bool
	Num    json.Number // Number: the literal text, as written
	Elems  []*Value    // Array
	Fields []Field     // Object: in input order, duplicate keys kept
}

// Field is one key of a JSON object.
type Field struct {
	Key    string
	KeyOff int // byte offset of the key's opening quote
	Val    *Value
}

// Has reports whether v is an object with a field named key.
func (v *Value) Has(key string) bool {
	for _, f := range v.Fields {
		if f.Key == key {
			return true
		}
	}
	return false
}

// FirstDuplicate returns the first field, in input order, anywhere in the
// tree under v, whose key repeats an earlier key of the same object; nil if
// no object has a duplicate key. It suits callers that reject duplicates
// outright; those that report each one walk the fields themselves.
func FirstDuplicate(v *Value) *Field {
	switch v.Kind {
	case Array:
		for _, e := range v.Elems {
			if d := FirstDuplicate(e); d != nil {
				return d
			}
		}
	case Object:
		seen := make(map[string]bool, len(v.Fields))
		for i := range v.Fields {
			f := &v.Fields[i]
			if seen[f.Key] {
				return f
			}
			seen[f.Key] = true
			// The value comes after its key in the input, and before the
			// next key.
			if d := FirstDuplicate(f.Val); d != nil {
				return d
			}
		}
	}
	return nil
}

// SyntaxError is malformed JSON at a byte offset. Like encoding/json's
// SyntaxError, its Error method returns the message alone: callers turn Off
// into a line and column for their own error format.
type SyntaxError struct {
	Off int    // byte offset of the offending character, or len(data) at the end of input
	Msg string // e.g. "invalid character '}' looking for an object key"
}

func (e *SyntaxError) Error() string { return e.Msg }

// Parse parses exactly one JSON value, optionally preceded by a UTF-8 byte
// order mark and surrounded by white space. Errors are *SyntaxError.
func Parse(data []byte) (*Value, error) {
	r := &reader{data: data}
	if len(data) >= len(BOM) && string(data[:len(BOM)]) == BOM {
		r.pos = len(BOM)
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

// reader is a recursive-descent JSON parser over a byte slice. Its methods
// return *SyntaxError rather than error so that a nil result never becomes a
// non-nil interface by accident; Parse converts at the boundary.
type reader struct {
	data  []byte
	pos   int
	depth int
}

func (r *reader) fail(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Off: off, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at r.pos (or the end of input) as out of place.
func (r *reader) unexpected(context string) *SyntaxError {
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

func (r *reader) value() (*Value, *SyntaxError) {
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
		return &Value{Kind: String, Off: start, Str: s}, nil
	case c == '-' || ('0' <= c && c <= '9'):
		if err := r.number(); err != nil {
			return nil, err
		}
		return &Value{Kind: Number, Off: start, Num: json.Number(r.data[start:r.pos])}, nil
	case c == 't':
		return r.literal("true", &Value{Kind: Bool, Off: start, Bool: true})
	case c == 'f':
		return r.literal("false", &Value{Kind: Bool, Off: start})
	case c == 'n':
		return r.literal("null", &Value{Kind: Null, Off: start})
	default:
		return nil, r.unexpected("looking for a value")
	}
}

func (r *reader) literal(word string, v *Value) (*Value, *SyntaxError) {
	end := r.pos + len(word)
	if end > len(r.data) || string(r.data[r.pos:end]) != word {
		return nil, r.fail(r.pos, "invalid literal, want %s", word)
	}
	r.pos = end
	return v, nil
}

// enter and leave track nesting depth.
func (r *reader) enter() *SyntaxError {
	r.depth++
	if r.depth > MaxDepth {
		return r.fail(r.pos, "nesting deeper than %d levels", MaxDepth)
	}
	return nil
}

func (r *reader) leave() { r.depth-- }

func (r *reader) object() (*Value, *SyntaxError) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.leave()
	v := &Value{Kind: Object, Off: r.pos}
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
		v.Fields = append(v.Fields, Field{Key: key, KeyOff: keyOff, Val: val})
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

func (r *reader) array() (*Value, *SyntaxError) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.leave()
	v := &Value{Kind: Array, Off: r.pos}
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
		v.Elems = append(v.Elems, elem)
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

// number consumes a number, checking the JSON grammar.
func (r *reader) number() *SyntaxError {
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
func (r *reader) string() (string, *SyntaxError) {
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
			var err *SyntaxError
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
func (r *reader) escape(buf []byte) ([]byte, *SyntaxError) {
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
