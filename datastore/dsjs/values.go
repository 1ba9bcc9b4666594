package dsjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/dop251/goja"

	"gatehouse/datastore"
)

// Values cross between the datastore's Go form (Entity.Values: string, int64, float64, bool,
// time.Time, decoded JSON, nil) and JavaScript. Objects go through JSON in both directions, so
// a script always gets plain, unaliased objects and the datastore always gets JSON values.

// toJS converts a datastore value (or a value a script assigned, in its exported form) to
// JavaScript: dates become Date objects, decoded JSON becomes plain objects and arrays.
func (c *call) toJS(v any) goja.Value {
	switch x := v.(type) {
	case nil:
		return goja.Null()
	case time.Time:
		return c.date(x)
	case map[string]any, []any:
		return c.fromJSON(x)
	case datastore.BinaryInfo:
		// A blob or picture: what it is, never its bytes (they stay in the database).
		return c.fromJSON(map[string]any{"size": x.Size, "type": x.Type})
	default:
		return c.vm.ToValue(x)
	}
}

// date makes a JavaScript Date (millisecond precision, as JavaScript has).
func (c *call) date(t time.Time) goja.Value {
	d, err := c.vm.New(c.dateCtor, c.vm.ToValue(t.UnixMilli()))
	if err != nil {
		panic(err)
	}
	return d
}

// fromJSON rebuilds a JSON value as JavaScript with JSON.parse, which makes plain objects (a
// "__proto__" key stays an ordinary property).
func (c *call) fromJSON(v any) goja.Value {
	b, err := json.Marshal(v)
	if err != nil {
		panic(c.errorf("value cannot be read as JSON: %v", err))
	}
	out, err := c.parse(goja.Undefined(), c.vm.ToValue(string(b)))
	if err != nil {
		panic(err)
	}
	return out
}

// toGo converts a value a script assigns to a storage attribute to the form Entity.Values
// takes. The datastore checks the type on save; only what cannot even be converted fails here.
func (c *call) toGo(a *datastore.Attribute, v goja.Value) any {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	if a.Type == datastore.TypeObject {
		return c.toJSONValue(v, a.Name)
	}
	x := v.Export()
	if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Date" && x == nil {
		panic(c.vm.NewTypeError("attribute %q: invalid Date", a.Name))
	}
	return x
}

// toJSONValue converts v with JSON.stringify semantics (toJSON honoured, functions left out,
// cycles rejected) and decodes the result, so the datastore gets a detached JSON value.
func (c *call) toJSONValue(v goja.Value, attr string) any {
	s, err := c.stringify(goja.Undefined(), v)
	if err != nil {
		panic(err) // a cycle or a throwing toJSON: the script's own exception
	}
	if goja.IsUndefined(s) {
		panic(c.vm.NewTypeError("attribute %q: the value cannot be stored as JSON", attr))
	}
	var out any
	if err := json.Unmarshal([]byte(s.String()), &out); err != nil {
		panic(c.vm.NewTypeError("attribute %q: the value cannot be stored as JSON", attr))
	}
	return out
}

// param converts a query() argument: entities become their keys (so "employer = :1" takes an
// entity), dates time.Time, arrays []any; the datastore checks the rest against the attribute.
func (c *call) param(v goja.Value, i int) any {
	return c.paramValue(v.Export(), i)
}

func (c *call) paramValue(x any, i int) any {
	switch t := x.(type) {
	case *entity:
		if t.e.Key == nil {
			panic(c.vm.NewTypeError("query parameter :%d is an entity that has not been saved", i))
		}
		return t.e.Key
	case []any:
		out := make([]any, len(t))
		for j, e := range t {
			out[j] = c.paramValue(e, i)
		}
		return out
	}
	return x
}

// keyString writes a key given by a script (a number, a string, an entity or {__KEY}) as
// datastore.DB.Get takes it; ok is false when v cannot be a key at all.
func keyString(v any) (string, bool) {
	switch k := v.(type) {
	case string:
		return k, true
	case int64:
		return strconv.FormatInt(k, 10), true
	case float64:
		if math.IsNaN(k) || math.IsInf(k, 0) {
			return "", false
		}
		return strconv.FormatFloat(k, 'f', -1, 64), true
	case *entity:
		if k.e.Key == nil {
			return "", false
		}
		return keyString(k.e.Key)
	case map[string]any:
		if inner, ok := k["__KEY"]; ok {
			return keyString(inner)
		}
	}
	return "", false
}

// sameValue reports whether a value read back from a script (to see if an object or a Date was
// changed in place) equals the value it was made from.
func sameValue(was, now any) bool {
	switch w := was.(type) {
	case time.Time:
		n, ok := now.(time.Time)
		return ok && w.UnixMilli() == n.UnixMilli() // JavaScript dates hold milliseconds
	case nil:
		return now == nil
	}
	a, errA := json.Marshal(was)
	b, errB := json.Marshal(now)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// describeKey writes an entity's name for messages: "Customers(3)" or "new Customers".
func describeKey(e *datastore.Entity) string {
	if e.Key == nil {
		return "new " + e.DataClass.Name
	}
	return fmt.Sprintf("%s(%s)", e.DataClass.Name, e.KeyString())
}
