package datastore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// jsonTree is a decoded JSON document that remembers where each value starts, so that
// validation errors can name a line and column. encoding/json alone loses positions.

type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

type jsonNode struct {
	off     int // byte offset of the value's first character
	kind    jsonKind
	b       bool
	num     json.Number
	str     string
	elems   []*jsonNode
	members []jsonMember
}

type jsonMember struct {
	key    string
	keyOff int
	val    *jsonNode
}

// maxJSONDepth bounds nesting so a hostile file cannot exhaust the stack.
const maxJSONDepth = 64

// errJSONDepth is returned when a document nests deeper than maxJSONDepth.
var errJSONDepth = errors.New("nesting too deep")

// jsonSyntaxError carries the offset of a malformed spot in the document.
type jsonSyntaxError struct {
	off int
	msg string
}

func (e *jsonSyntaxError) Error() string { return e.msg }

// parseJSONTree decodes data into a positioned tree. Duplicate object keys are an error, since
// a later value silently winning hides mistakes.
func parseJSONTree(data []byte) (*jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	r := &treeReader{dec: dec, data: data}
	root, err := r.value(0)
	if err != nil {
		return nil, r.wrap(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &jsonSyntaxError{off: r.next(), msg: "unexpected data after the top-level value"}
	}
	return root, nil
}

type treeReader struct {
	dec  *json.Decoder
	data []byte
}

// next returns the offset of the next significant character: the decoder's offset sits just
// after the previous token, before any white space, ':' or ','.
func (r *treeReader) next() int {
	off := int(r.dec.InputOffset())
	for off < len(r.data) {
		switch r.data[off] {
		case ' ', '\t', '\n', '\r', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

func (r *treeReader) wrap(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &jsonSyntaxError{off: int(se.Offset), msg: se.Error()}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &jsonSyntaxError{off: len(r.data), msg: "unexpected end of JSON input"}
	}
	return err
}

func (r *treeReader) value(depth int) (*jsonNode, error) {
	if depth > maxJSONDepth {
		return nil, &jsonSyntaxError{off: r.next(), msg: errJSONDepth.Error()}
	}
	off := r.next()
	tok, err := r.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &jsonNode{off: off}
	switch t := tok.(type) {
	case nil:
		n.kind = jsonNull
	case bool:
		n.kind, n.b = jsonBool, t
	case json.Number:
		n.kind, n.num = jsonNumber, t
	case string:
		n.kind, n.str = jsonString, t
	case json.Delim:
		switch t {
		case '[':
			n.kind = jsonArray
			for r.dec.More() {
				e, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
		case '{':
			n.kind = jsonObject
			seen := map[string]bool{}
			for r.dec.More() {
				keyOff := r.next()
				kt, err := r.dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, &jsonSyntaxError{off: keyOff, msg: "object key must be a string"}
				}
				if seen[key] {
					return nil, &jsonSyntaxError{off: keyOff, msg: fmt.Sprintf("duplicate key %q", key)}
				}
				seen[key] = true
				v, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, jsonMember{key: key, keyOff: keyOff, val: v})
			}
		}
		if _, err := r.dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	}
	return n, nil
}

// lineCol converts a byte offset into a 1-based line and a 1-based column counted in characters.
func lineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:off])
}
