package datastore

import (
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// ValueKind says which field of a Value holds it. New attribute types add a kind here and a
// case where values are converted (rowValue) and written out (the REST encoder).
type ValueKind uint8

const (
	ValueNull   ValueKind = iota // null
	ValueString                  // Str: a string or a uuid (32 upper-case hex digits)
	ValueLong                    // Int
	ValueNumber                  // Num (never NaN or infinite)
	ValueBool                    // Int: 1 for true, 0 for false
	ValueDate                    // Str: the stored text, fixed-width (see AppendDateMillis)
	ValueObject                  // Str: the JSON text as stored (Any decodes it)
	ValueBinary                  // Int: the size in bytes, Str: the MIME type (never the bytes)
)

// Value is one attribute value of a row (FindRows), typed without boxing it in an any.
type Value struct {
	Kind ValueKind
	Str  string
	Int  int64
	Num  float64
}

// Any returns the value as Entity.Values holds it (time.Time for dates, decoded JSON for
// objects).
func (v Value) Any() (any, error) {
	switch v.Kind {
	case ValueNull:
		return nil, nil
	case ValueString:
		return v.Str, nil
	case ValueLong:
		return v.Int, nil
	case ValueNumber:
		return v.Num, nil
	case ValueBool:
		return v.Int != 0, nil
	case ValueDate:
		return decodeValue(TypeDate, v.Str, nil)
	case ValueObject:
		return decodeValue(TypeObject, v.Str, nil)
	case ValueBinary:
		return BinaryInfo{Size: v.Int, Type: v.Str}, nil
	}
	return nil, fmt.Errorf("datastore: value of unknown kind %d", v.Kind)
}

// KeyString writes a key value as Entity.KeyString does ("12", "A1B2…").
func (v Value) KeyString() string {
	if v.Kind == ValueLong {
		return strconv.FormatInt(v.Int, 10)
	}
	return v.Str
}

// Rows is one page of entities as typed values, for a caller that writes them out rather
// than works with them (a REST list): reading it builds no map and no Entity per row. Row i's
// value of column j is Value(i, j); Columns are the dataclass's attributes that have a column
// (not relatedEntities), in their order. Count and First are as in Selection.
type Rows struct {
	DataClass *DataClass
	Columns   []*Attribute
	Count     int
	First     int

	key    int // index of the key in Columns
	vals   []Value
	stamps []int64
	times  []string
}

// Len is the number of rows.
func (r *Rows) Len() int { return len(r.stamps) }

// Value returns row i's value of column j.
func (r *Rows) Value(i, j int) *Value { return &r.vals[i*len(r.Columns)+j] }

// Stamp returns row i's stamp.
func (r *Rows) Stamp(i int) int64 { return r.stamps[i] }

// Timestamp returns row i's modification time in its stored text (see AppendDateMillis).
func (r *Rows) Timestamp(i int) string { return r.times[i] }

// KeyString returns row i's key as written in URLs and "__KEY".
func (r *Rows) KeyString(i int) string { return r.Value(i, r.key).KeyString() }

// Entity returns row i as an Entity (for what needs one, such as following a relation).
func (r *Rows) Entity(i int) (*Entity, error) {
	dc := r.DataClass
	e := &Entity{DataClass: dc, Stamp: r.stamps[i], Values: make(map[string]any, len(r.Columns))}
	for j, a := range r.Columns {
		v, err := r.Value(i, j).Any()
		if err != nil {
			return nil, fmt.Errorf("datastore: %s.%s: %w", dc.Name, a.Name, err)
		}
		e.Values[a.Name] = v
		if a == dc.Key {
			e.Key = v
		}
	}
	t, err := decodeTimeText(r.times[i])
	if err != nil {
		return nil, fmt.Errorf("datastore: %s: %w", dc.Name, err)
	}
	e.Timestamp = t
	return e, nil
}

// rowsSink collects a page as Rows.
type rowsSink struct {
	r    *Rows
	dest []any // scan destinations, reused for every row: pointers into held
	held []any
}

func newRowsSink(dc *DataClass, limit int) *rowsSink {
	r := &Rows{DataClass: dc}
	for _, a := range dc.Attributes {
		if a.hasColumn() {
			if a == dc.Key {
				r.key = len(r.Columns)
			}
			r.Columns = append(r.Columns, a)
		}
	}
	n := len(r.Columns) + 2
	for _, a := range r.Columns {
		if a.IsBinary() {
			n++ // its size and its type (selectList)
		}
	}
	s := &rowsSink{r: r, dest: make([]any, n), held: make([]any, n)}
	for i := range s.held {
		s.dest[i] = &s.held[i]
	}
	c := min(limit, 128)
	r.vals, r.stamps, r.times = make([]Value, 0, c*len(r.Columns)), make([]int64, 0, c), make([]string, 0, c)
	return s
}

func (s *rowsSink) len() int { return len(s.r.stamps) }

func (s *rowsSink) scan(db *DB, rows *sql.Rows) error {
	r := s.r
	if err := rows.Scan(s.dest...); err != nil {
		return err
	}
	n := 0 // the column of s.held being read
	for _, a := range r.Columns {
		if a.IsBinary() {
			r.vals = append(r.vals, binaryRowValue(s.held[n], s.held[n+1]))
			n += 2
			continue
		}
		v, err := db.rowValue(a.valueType(), s.held[n])
		if err != nil {
			return fmt.Errorf("datastore: %s.%s: %w", r.DataClass.Name, a.Name, err)
		}
		r.vals = append(r.vals, v)
		n++
	}
	stamp, ok := toInt64(s.held[n])
	if !ok {
		return fmt.Errorf("datastore: %s: bad stamp %v", r.DataClass.Name, s.held[n])
	}
	ts, err := storedTimeText(s.held[n+1])
	if err != nil {
		return fmt.Errorf("datastore: %s: %w", r.DataClass.Name, err)
	}
	r.stamps, r.times = append(r.stamps, stamp), append(r.times, ts)
	clear(s.held)
	return nil
}

// binaryRowValue is a binary attribute's Value from its size and type columns, as binaryInfo.
func binaryRowValue(size, typ any) Value {
	info, ok := binaryInfo(size, typ).(BinaryInfo)
	if !ok {
		return Value{}
	}
	return Value{Kind: ValueBinary, Int: info.Size, Str: info.Type}
}

// rowValue converts a column value to a Value of type typ, accepting what decode accepts.
func (db *DB) rowValue(typ string, src any) (Value, error) {
	if b, ok := src.([]byte); ok {
		src = string(b)
	}
	if src == nil {
		return Value{}, nil
	}
	switch typ {
	case TypeString, TypeUUID:
		if s, ok := src.(string); ok {
			return Value{Kind: ValueString, Str: s}, nil
		}
	case TypeLong:
		if n, ok := toInt64(src); ok {
			return Value{Kind: ValueLong, Int: n}, nil
		}
	case TypeNumber:
		if f, ok := toFloat(src); ok {
			return Value{Kind: ValueNumber, Num: f}, nil
		}
	case TypeDate:
		s, err := storedTimeText(src)
		if err != nil {
			break
		}
		return Value{Kind: ValueDate, Str: s}, nil
	case TypeObject:
		if s, ok := src.(string); ok {
			return Value{Kind: ValueObject, Str: s}, nil
		}
	case TypeBool:
		v, err := db.d.decode(typ, src) // the column's form of a boolean is the dialect's
		if err != nil {
			return Value{}, err
		}
		if v.(bool) {
			return Value{Kind: ValueBool, Int: 1}, nil
		}
		return Value{Kind: ValueBool}, nil
	}
	return Value{}, fmt.Errorf("datastore: stored value %v does not fit type %s", src, typ)
}

// storedTimeText returns a stored time as text of timeLayout: as it is when it already is
// (what this package writes), else parsed and written again.
func storedTimeText(src any) (string, error) {
	var s string
	switch x := src.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return "", fmt.Errorf("bad timestamp %v", src)
	}
	if isTimeLayout(s) {
		return s, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", fmt.Errorf("bad timestamp %q", s)
	}
	return encodeTimeText(t), nil
}

// isTimeLayout reports whether s is written in timeLayout: 2006-01-02T15:04:05.000000000Z.
func isTimeLayout(s string) bool {
	if len(s) != len("2006-01-02T15:04:05.000000000Z") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		case 19:
			if c != '.' {
				return false
			}
		case 29:
			if c != 'Z' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// AppendDateMillis appends a date or timestamp of Rows (its stored text) as ISO 8601 in UTC
// with milliseconds, "2006-01-02T15:04:05.000Z": the form 4D's REST answers, the same bytes
// as time.Time.Format with that layout (fractions are cut, not rounded).
func AppendDateMillis(b []byte, stored string) ([]byte, error) {
	if !isTimeLayout(stored) {
		t, err := decodeTimeText(stored)
		if err != nil {
			return b, err
		}
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z"), nil
	}
	return append(append(b, stored[:23]...), 'Z'), nil
}
