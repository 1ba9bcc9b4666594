package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"unicode/utf8"

	"gatehouse/datastore"
)

// The list answer (GET /rest/{DC}) written straight from the datastore's typed rows into the
// response buffer: no map and no object per entity, no encoding/json per value. Its bytes are
// those of v.selection through writeJSON (TestRowsEncoding compares them), and so those of
// encoding/json with HTML escaping off.

// rowBuffers recycles the list answers' buffers.
var rowBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// rowColumn is what the answer does with one attribute, decided once per list.
type rowColumn struct {
	a   *datastore.Attribute
	col int    // index in Rows.Columns; -1 for relatedEntities
	sub *shape // expansion shape (nil: deferred)
	// name is the attribute's name, quoted, with its colon: `"name":`.
	name []byte
}

// writeRows answers rows in 4D's list shape (as v.selection, with extra fields after
// __ENTITIES), or its entities alone with $asArray=true.
func (v *dataView) writeRows(w http.ResponseWriter, r *http.Request, rows *datastore.Rows, sh *shape, extra object) error {
	bp := rowBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 { // large answers' buffers are left to the collector
			rowBuffers.Put(bp)
		}
	}()
	b, err := v.appendRowsAnswer((*bp)[:0], rows, sh, extra, queryParam(r, "$asArray") == "true")
	*bp = b[:0]
	if err != nil {
		var ee *encodeError
		if !errors.As(err, &ee) {
			return err
		}
		// as writeJSON answers a value it cannot encode
		b = append(b[:0], `{"__ERROR":[{"message":"Internal server error","componentSignature":"dbmg","errCode":1910}]}`...)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(b)
		return nil
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return nil
}

// encodeError is a value the answer cannot be written with (a stored number that is not
// finite, an object that is not JSON): writeJSON's 500, not an error of the request.
type encodeError struct{ err error }

func (e *encodeError) Error() string { return "rest: encode: " + e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

func (v *dataView) appendRowsAnswer(b []byte, rows *datastore.Rows, sh *shape, extra object, asArray bool) ([]byte, error) {
	if !asArray {
		b = append(b, `{"__entityModel":`...)
		b = appendJSONString(b, rows.DataClass.Name)
		b = append(b, `,"__COUNT":`...)
		b = strconv.AppendInt(b, int64(rows.Count), 10)
		b = append(b, `,"__SENT":`...)
		b = strconv.AppendInt(b, int64(rows.Len()), 10)
		b = append(b, `,"__FIRST":`...)
		b = strconv.AppendInt(b, int64(rows.First), 10)
		b = append(b, `,"__ENTITIES":`...)
	}
	b, err := v.appendRows(b, rows, sh)
	if err != nil {
		return b, err
	}
	if !asArray {
		for _, f := range extra {
			b = append(b, ',')
			b = appendJSONString(b, f.k)
			b = append(b, ':')
			if b, err = appendEncoded(b, f.v); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	return append(b, '\n'), nil
}

// appendRows writes rows as the array of entities v.entity would make of them (depth 0).
func (v *dataView) appendRows(b []byte, rows *datastore.Rows, sh *shape) ([]byte, error) {
	dc := rows.DataClass
	var cols []rowColumn
	col := 0
	for _, a := range dc.Attributes {
		j := -1
		if a.Kind != datastore.KindRelatedEntities {
			j, col = col, col+1
		}
		ok, sub := sh.wants(a.Name)
		if !ok || !v.readable(dc, a) {
			continue
		}
		name := appendJSONString(nil, a.Name)
		cols = append(cols, rowColumn{a: a, col: j, sub: sub, name: append(name, ':')})
	}
	b = append(b, '[')
	for i := range rows.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		key := rows.KeyString(i)
		b = append(b, `{"__KEY":`...)
		b = appendJSONString(b, key)
		b = append(b, `,"__TIMESTAMP":"`...)
		var err error
		if b, err = datastore.AppendDateMillis(b, rows.Timestamp(i)); err != nil {
			return b, &encodeError{err}
		}
		b = append(b, `","__STAMP":`...)
		b = strconv.AppendInt(b, rows.Stamp(i), 10)
		var e *datastore.Entity // the row as an entity, made for a relation to expand
		for _, c := range cols {
			b = append(b, ',')
			b = append(b, c.name...)
			a := c.a
			switch a.Kind {
			case datastore.KindRelatedEntity:
				fk := rows.Value(i, c.col)
				if fk.Kind == datastore.ValueNull {
					b = append(b, "null"...)
					continue
				}
				if c.sub == nil {
					k := fk.KeyString()
					b = append(b, `{"__deferred":{"uri":`...)
					b = appendJSONString(b, "/rest/"+a.Related.Name+"("+url.PathEscape(k)+")")
					b = append(b, `,"__KEY":`...)
					b = appendJSONString(b, k)
					b = append(b, "}}"...)
					continue
				}
				if e == nil {
					if e, err = rows.Entity(i); err != nil {
						return b, err
					}
				}
				rel, err := v.reader().RelatedEntity(v.ctx, e, a.Name)
				if err != nil {
					return b, err
				}
				if rel == nil {
					b = append(b, "null"...)
					continue
				}
				ro, err := v.entity(rel, c.sub, 1, false)
				if err != nil {
					return b, err
				}
				if b, err = appendEncoded(b, ro); err != nil {
					return b, err
				}
			case datastore.KindRelatedEntities:
				if c.sub == nil {
					b = append(b, `{"__deferred":{"uri":`...)
					b = appendJSONString(b, "/rest/"+dc.Name+"("+url.PathEscape(key)+")/"+a.Name+"?$expand="+a.Name)
					b = append(b, "}}"...)
					continue
				}
				if e == nil {
					if e, err = rows.Entity(i); err != nil {
						return b, err
					}
				}
				sel, err := v.reader().RelatedEntities(v.ctx, e, a.Name, datastore.Query{Limit: v.srv.cfg.MaxTop})
				if err != nil {
					return b, err
				}
				so, err := v.selection(sel, c.sub, 1)
				if err != nil {
					return b, err
				}
				if b, err = appendEncoded(b, so[1:]); err != nil { // without __entityModel
					return b, err
				}
			default:
				val := rows.Value(i, c.col)
				if val.Kind == datastore.ValueBinary {
					// 4D's deferred URI, never the bytes (which the row does not hold)
					bi, _ := val.Any()
					if b, err = appendEncoded(b, binaryDeferred(dc, key, a, bi, rows.Stamp(i))); err != nil {
						return b, err
					}
					continue
				}
				if b, err = appendValue(b, val); err != nil {
					return b, err
				}
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendValue writes one stored value as jsonValue and encoding/json write its Go form. A
// new kind of value gets its case here.
func appendValue(b []byte, v *datastore.Value) ([]byte, error) {
	switch v.Kind {
	case datastore.ValueNull:
		return append(b, "null"...), nil
	case datastore.ValueString:
		return appendJSONString(b, v.Str), nil
	case datastore.ValueLong:
		return strconv.AppendInt(b, v.Int, 10), nil
	case datastore.ValueNumber:
		return appendJSONFloat(b, v.Num)
	case datastore.ValueBool:
		if v.Int != 0 {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case datastore.ValueDate:
		b = append(b, '"')
		b, err := datastore.AppendDateMillis(b, v.Str)
		if err != nil {
			return b, &encodeError{err}
		}
		return append(b, '"'), nil
	}
	// Objects (and any kind without a case of its own) as today: decoded, then written by
	// encoding/json, whose map key order and number forms the answer keeps.
	x, err := v.Any()
	if err != nil {
		return b, &encodeError{err}
	}
	return appendEncoded(b, x)
}

// appendEncoded writes x through object.encodeWith / encoding/json (HTML escaping off), as
// writeJSON does.
func appendEncoded(b []byte, x any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := encodeValue(buf, enc, x); err != nil {
		return buf.Bytes(), &encodeError{err}
	}
	return buf.Bytes(), nil
}

// appendJSONFloat writes f as encoding/json does (its floatEncoder, 64 bits): the shortest
// form that reads back as f, in exponent form below 1e-6 and from 1e21; NaN and infinities are
// an error, as they are to encoding/json.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, &encodeError{&json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string exactly as encoding/json does with HTML
// escaping off (writeJSON's setting): '"' and '\\' escaped, control characters as \b \f \n
// \r \t or \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029 as \u2028 and \u2029 (for
// JavaScript), everything else as it is ('<', '>' and '&' included).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
