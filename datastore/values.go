package datastore

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Values cross three representations: what callers hand in (JSON-decoded values from REST, Go
// or goja-exported values from scripts), the canonical Go value kept in Entity.Values, and the
// driver value the dialect stores. This file converts the first into the second.
//
// Canonical values: string (string), int64 (long), float64 (number), bool (bool), time.Time in
// UTC (date), string of 32 upper-case hex digits (uuid, 4D's form), decoded JSON (object), nil.

// numberLit is a number written in a query; it keeps its text so that large long values are
// not rounded through float64.
type numberLit string

// canonicalValue converts v, given on save for attribute a, to its canonical form. It is strict:
// a long given 1.5 or a string given 12 is an error, so that bad input is reported, not guessed.
func canonicalValue(a *Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.Kind == KindRelatedEntity {
		return foreignKey(a, v)
	}
	bad := func(format string, args ...any) (any, error) {
		return nil, &ValueError{Attribute: a.Name, Message: fmt.Sprintf(format, args...)}
	}
	switch a.Type {
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return bad("expected a string, got %s", describe(v))
	case TypeLong:
		if n, ok := toInt64(v); ok {
			return n, nil
		}
		return bad("expected an integer (long), got %s", describe(v))
	case TypeNumber:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		return bad("expected a finite number, got %s", describe(v))
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return bad("expected true or false, got %s", describe(v))
	case TypeDate:
		switch t := v.(type) {
		case time.Time:
			return checkDate(t, a.Name)
		case string:
			if t == "" {
				return nil, nil
			}
			d, err := parseDate(t)
			if err != nil {
				return bad("expected a date (2006-01-02 or RFC 3339), got %q", t)
			}
			return checkDate(d, a.Name)
		}
		return bad("expected a date string, got %s", describe(v))
	case TypeUUID:
		s, ok := v.(string)
		if !ok {
			return bad("expected a UUID string, got %s", describe(v))
		}
		if s == "" {
			return nil, nil
		}
		u, err := normalizeUUID(s)
		if err != nil {
			return bad("expected a UUID, got %q", s)
		}
		return u, nil
	case TypeObject:
		b, err := json.Marshal(v)
		if err != nil {
			return bad("value cannot be stored as JSON")
		}
		if b[0] != '{' && b[0] != '[' {
			return bad("expected an object or an array, got %s", describe(v))
		}
		return v, nil
	}
	return bad("unsupported type %q", a.Type)
}

// foreignKey accepts, for a relatedEntity attribute, a key value, an *Entity of the related
// dataclass, or a JSON object carrying "__KEY" (4D's deferred form).
func foreignKey(a *Attribute, v any) (any, error) {
	switch t := v.(type) {
	case *Entity:
		if t == nil {
			return nil, nil
		}
		if t.DataClass == nil || t.DataClass.Name != a.Related.Name {
			return nil, &ValueError{Attribute: a.Name, Message: fmt.Sprintf("expected an entity of %s", a.Related.Name)}
		}
		if isZeroKey(t.Key) {
			return nil, &ValueError{Attribute: a.Name, Message: "the related entity has not been saved"}
		}
		v = t.Key
	case map[string]any:
		k, ok := t["__KEY"]
		if !ok {
			return nil, &ValueError{Attribute: a.Name, Message: "expected a key or an object with \"__KEY\""}
		}
		if k == nil {
			return nil, nil
		}
		v = k
	}
	k, err := normalizeKey(a.Related.Key, v)
	var ve *ValueError
	if errors.As(err, &ve) {
		return nil, &ValueError{Attribute: a.Name, Message: ve.Message}
	}
	return k, err
}

// normalizeKey converts a primary key value to its canonical form. Keys are lenient about
// strings because REST carries every key as a string ("__KEY":"12").
func normalizeKey(key *Attribute, v any) (any, error) {
	bad := func(format string, args ...any) (any, error) {
		return nil, &ValueError{Attribute: key.Name, Message: fmt.Sprintf(format, args...)}
	}
	switch key.Type {
	case TypeLong:
		if s, ok := v.(string); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return bad("%q is not a valid key (expected an integer)", s)
			}
			return n, nil
		}
		if n, ok := toInt64(v); ok {
			return n, nil
		}
		return bad("expected an integer key, got %s", describe(v))
	case TypeUUID:
		s, ok := v.(string)
		if !ok {
			return bad("expected a UUID key, got %s", describe(v))
		}
		u, err := normalizeUUID(s)
		if err != nil {
			return bad("%q is not a valid UUID key", s)
		}
		return u, nil
	default:
		switch t := v.(type) {
		case string:
			if t == "" {
				return bad("the key must not be empty")
			}
			return t, nil
		case int64, float64, int, json.Number, numberLit:
			return fmt.Sprint(t), nil
		}
		return bad("expected a string key, got %s", describe(v))
	}
}

// isZeroKey reports whether k stands for "no key yet" (a new entity).
func isZeroKey(k any) bool {
	switch t := k.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case int64:
		return t == 0
	case float64:
		return t == 0
	case int:
		return t == 0
	}
	return false
}

// queryValue converts a query operand (a literal or a parameter) for comparison with an
// attribute of type typ. It is more lenient than canonicalValue: "12" is accepted for a long, as
// 4D does, because query text and URL parameters are strings.
func queryValue(typ string, v any) (any, bool) {
	switch typ {
	case TypeString:
		s, ok := v.(string)
		return s, ok
	case TypeLong, TypeNumber:
		if s, ok := v.(string); ok {
			v = numberLit(strings.TrimSpace(s))
		}
		// A long compares with an int64 when the operand is whole (exact beyond 2^53), else with
		// a float64: "age > 1.5" is a fair question.
		if n, ok := toInt64(v); ok && typ == TypeLong {
			return n, true
		}
		if f, ok := toFloat(v); ok {
			return f, true
		}
		return nil, false
	case TypeBool:
		b, ok := v.(bool)
		return b, ok
	case TypeDate:
		switch t := v.(type) {
		case time.Time:
			return t.UTC(), true
		case string:
			d, err := parseDate(t)
			return d, err == nil
		}
		return nil, false
	case TypeUUID:
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		u, err := normalizeUUID(s)
		return u, err == nil
	}
	return nil, false
}

func toInt64(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case int:
		return int64(t), true
	case int32:
		return int64(t), true
	case float64:
		// 2^63 is exactly representable; anything at or above it overflows.
		if t == math.Trunc(t) && t >= -(1<<63) && t < 1<<63 {
			return int64(t), true
		}
	case json.Number:
		return toInt64(numberLit(t))
	case numberLit:
		if n, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return n, true
		}
		if f, err := strconv.ParseFloat(string(t), 64); err == nil {
			return toInt64(f)
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int8, reflect.Int16:
			return rv.Int(), true
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if u := rv.Uint(); u <= math.MaxInt64 {
				return int64(u), true
			}
		case reflect.Float32:
			return toInt64(rv.Float())
		}
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	var f float64
	switch t := v.(type) {
	case float64:
		f = t
	case int64:
		f = float64(t)
	case int:
		f = float64(t)
	case json.Number:
		return toFloat(numberLit(t))
	case numberLit:
		var err error
		if f, err = strconv.ParseFloat(string(t), 64); err != nil {
			return 0, false
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int8, reflect.Int16, reflect.Int32:
			f = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f = float64(rv.Uint())
		case reflect.Float32:
			f = rv.Float()
		default:
			return 0, false
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// dateLayouts are tried in order; a time without a zone is taken as UTC. "2!1!2006" is
// 4D's REST form of a date, day!month!year ("25!12!2020").
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02", "2!1!2006"}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var err error
	for _, layout := range dateLayouts {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// checkDate keeps dates within years 0–9999, the range whose text form sorts chronologically.
func checkDate(t time.Time, attr string) (any, error) {
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return nil, &ValueError{Attribute: attr, Message: "date out of range (years 0 to 9999)"}
	}
	return t, nil
}

// normalizeUUID accepts the usual UUID spellings and returns 4D's: 32 upper-case hex digits.
func normalizeUUID(s string) (string, error) {
	u, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	return strings.ToUpper(hex.EncodeToString(u[:])), nil
}

// newUUID returns a random (v4) UUID in 4D's form.
func newUUID() string {
	u := uuid.New()
	return strings.ToUpper(hex.EncodeToString(u[:]))
}

// fold maps s to the form used for case-insensitive comparison: every rune is brought to one
// representative of its case class (Unicode simple case mapping, not only ASCII).
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8RuneSelf {
			return strings.Map(foldRune, s)
		}
	}
	return strings.ToLower(s)
}

const utf8RuneSelf = 0x80

func foldRune(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }

// keywordMatch implements the % operator: text contains the keyword's words as whole words, in
// order and next to each other, ignoring case; a keyword ending in '@' matches the start of its
// last word.
func keywordMatch(text, keyword string) bool {
	kw := words(keyword)
	if len(kw) == 0 {
		return false
	}
	prefix := strings.HasSuffix(strings.TrimSpace(keyword), "@")
	ws := words(text)
	last := len(kw) - 1
	for i := 0; i+len(kw) <= len(ws); i++ {
		match := true
		for j := 0; j < last && match; j++ {
			match = ws[i+j] == kw[j]
		}
		if match && (ws[i+last] == kw[last] || prefix && strings.HasPrefix(ws[i+last], kw[last])) {
			return true
		}
	}
	return false
}

// words splits s into folded words: runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// describe names the JSON type of v for error messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, int32, json.Number, numberLit:
		return fmt.Sprintf("the number %v", v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a value of type %T", v)
}
