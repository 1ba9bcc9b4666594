package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// Limits of the value conversions. JSON from a client is already bounded by
// the REST layer; these only keep a hostile or buggy value from exhausting
// the Go stack or memory.
const (
	maxDepth       = 1000    // nesting of arrays and objects
	maxArrayLength = 1 << 24 // elements of one exported array
)

var (
	typeMap   = reflect.TypeOf(map[string]any(nil))
	typeSlice = reflect.TypeOf([]any(nil))
	typePairs = reflect.TypeOf([][2]any(nil))

	typePromise     = reflect.TypeOf((*goja.Promise)(nil))
	typeProxy       = reflect.TypeOf(goja.Proxy{})
	typeArrayBuffer = reflect.TypeOf(goja.ArrayBuffer{})
)

// importValue converts a JSON-decoded Go value (map[string]any, []any,
// string, float64, bool, nil; also other numbers and json.Number) into a
// plain JavaScript value. Any other Go value is handed to the script as a
// host object.
func (rt *runtime) importValue(v any, depth int) (goja.Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("engine: argument nested deeper than %d", maxDepth)
	}
	vm := rt.vm
	switch x := v.(type) {
	case nil:
		return goja.Null(), nil
	case string, bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return vm.ToValue(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("engine: argument: %w", err)
		}
		return vm.ToValue(f), nil
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			jv, err := rt.importValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = jv
		}
		return vm.NewArray(items...), nil
	case map[string]any:
		obj := vm.NewObject()
		for k, e := range x {
			jv, err := rt.importValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			// Define, not assign: a "__proto__" key must stay a plain property,
			// as JSON.parse makes it.
			if err := obj.DefineDataProperty(k, jv, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
				return nil, fmt.Errorf("engine: argument key %q: %w", k, err)
			}
		}
		return obj, nil
	default:
		if jv, ok, err := rt.importHost(x); ok || err != nil {
			return jv, err
		}
		return vm.ToValue(x), nil
	}
}

// importHost offers v to the globals that import values of their own (Importer).
func (rt *runtime) importHost(v any) (goja.Value, bool, error) {
	c := rt.cur
	if c == nil || c.loading {
		return nil, false, nil
	}
	for i, g := range rt.e.opts.Globals {
		imp, ok := g.(Importer)
		if !ok {
			continue
		}
		global, err := rt.globalValue(i, g)
		if err != nil {
			return nil, false, err
		}
		if jv, ok, err := imp.Import(global, v); ok || err != nil {
			return jv, ok, err
		}
	}
	return nil, false, nil
}

// exportError says why a result is not JSON and where in it.
type exportError struct {
	reason string
	path   []string // innermost last once complete
}

func (e *exportError) at(key string) *exportError {
	e.path = append(e.path, key)
	return e
}

func (e *exportError) where() string {
	var b strings.Builder
	b.WriteString("result")
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteString(e.path[i])
	}
	return b.String()
}

// export converts a script's result to Go: JSON-compatible values, following
// JSON.stringify (toJSON is honoured, undefined properties are left out,
// undefined array elements become null) but refusing what JSON.stringify
// would silently mangle: NaN and Infinity, functions, symbols, BigInts,
// cycles, Maps, Sets and other built-in objects. A host object (a Go value
// wrapped for the script) is returned as that Go value.
func (rt *runtime) export(v goja.Value, file string) (any, error) {
	var out any
	var xerr *exportError
	var err error
	if _, isObject := v.(*goja.Object); !isObject {
		// A primitive has no getter or toJSON to throw: no need to protect.
		out, xerr = rt.exportValue(v, 0, nil)
	} else {
		// Through runtime fields and a function made once (exportProtected), not a
		// closure: a closure and the variables it writes would cost every call three
		// allocations. An export nested in this one (a toJSON storing in Session.storage)
		// reads exportIn before and writes the results after it, so nothing is mixed.
		rt.exportIn = v
		err = rt.protect(rt.exportFn)
		out, xerr = rt.exportOut, rt.exportErr
		rt.exportIn, rt.exportOut, rt.exportErr = nil, nil, nil
		clear(rt.visiting[:cap(rt.visiting)]) // keep no object of the call alive
	}
	if err != nil {
		return nil, err // thrown by a getter or toJSON; mapped by the caller
	}
	if xerr != nil {
		return nil, &ScriptError{
			File:    file,
			Message: fmt.Sprintf("%s: %s is %s", ErrNotSerialisable, xerr.where(), xerr.reason),
			err:     ErrNotSerialisable,
		}
	}
	return out, nil
}

// exportProtected is export's work inside protect (see export).
func (rt *runtime) exportProtected() {
	v := rt.exportIn
	out, xerr := rt.exportValue(v, 0, rt.visiting[:0])
	rt.exportOut, rt.exportErr = out, xerr
}

// exportValue runs inside protect: a throwing getter or toJSON unwinds to it.
// visiting holds the objects being exported around v, outermost first (at most maxDepth).
func (rt *runtime) exportValue(v goja.Value, depth int, visiting []*goja.Object) (any, *exportError) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, nil
	}
	if _, ok := v.(*goja.Symbol); ok {
		return nil, &exportError{reason: "a symbol"}
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		switch x := v.Export().(type) {
		case int64:
			return float64(x), nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, &exportError{reason: strconv.FormatFloat(x, 'g', -1, 64)}
			}
			return x, nil
		case string, bool:
			return x, nil
		default:
			return nil, &exportError{reason: "a BigInt"}
		}
	}
	if _, ok := goja.AssertFunction(obj); ok {
		return nil, &exportError{reason: "a function"}
	}
	class, typ := obj.ClassName(), obj.ExportType()
	if (class == "Object" && typ != typeMap) || (class == "Array" && typ != typeSlice) {
		if what := builtinKind(class, typ); what != "" {
			return nil, &exportError{reason: what}
		}
		return obj.Export(), nil // a Go value wrapped for the script
	}
	if slices.Contains(visiting, obj) {
		return nil, &exportError{reason: "a cycle"}
	}
	if depth >= maxDepth {
		return nil, &exportError{reason: fmt.Sprintf("nested deeper than %d", maxDepth)}
	}
	if toJSON, ok := goja.AssertFunction(obj.Get("toJSON")); ok {
		r, err := toJSON(obj, goja.Undefined())
		if err != nil {
			panic(err) // rethrown into protect
		}
		return rt.exportValue(r, depth+1, rt.visit(visiting, obj))
	}
	visiting = rt.visit(visiting, obj)
	switch class {
	case "Array":
		n := obj.Get("length").ToInteger()
		if n > maxArrayLength {
			return nil, &exportError{reason: fmt.Sprintf("an array longer than %d", maxArrayLength)}
		}
		out := make([]any, n)
		for i := range out {
			e := obj.Get(strconv.Itoa(i))
			x, xerr := rt.exportValue(e, depth+1, visiting)
			if xerr != nil {
				return nil, xerr.at("[" + strconv.Itoa(i) + "]")
			}
			out[i] = x
		}
		return out, nil
	case "Object", "Error", "Arguments":
		keys := obj.Keys()
		out := make(map[string]any, len(keys))
		for _, k := range keys {
			e := obj.Get(k)
			if e == nil || goja.IsUndefined(e) {
				continue
			}
			x, xerr := rt.exportValue(e, depth+1, visiting)
			if xerr != nil {
				return nil, xerr.at("." + k)
			}
			out[k] = x
		}
		return out, nil
	default:
		return nil, &exportError{reason: "a " + class}
	}
}

// visit appends obj to visiting, keeping the runtime's buffer for the next export.
func (rt *runtime) visit(visiting []*goja.Object, obj *goja.Object) []*goja.Object {
	visiting = append(visiting, obj)
	if cap(visiting) > cap(rt.visiting) {
		rt.visiting = visiting[:0]
	}
	return visiting
}

// builtinKind names the JavaScript built-in objects that goja reports as
// class "Object" with a Go type of their own (Map, Set, Promise, typed
// arrays...), so that they are not mistaken for host objects. It returns ""
// for a host object.
func builtinKind(class string, typ reflect.Type) string {
	switch {
	case typ == typePromise:
		return "a Promise"
	case typ == typeProxy:
		return "a Proxy"
	case typ == typeArrayBuffer:
		return "an ArrayBuffer"
	case class == "Object" && typ == typePairs:
		return "a Map"
	case class == "Object" && typ == typeSlice:
		return "a Set"
	case class == "Object" && typ.Kind() == reflect.Slice:
		return "a typed array"
	}
	return ""
}

// asString returns v when it is a primitive string.
func asString(v goja.Value) (string, bool) {
	if v == nil {
		return "", false
	}
	switch v.(type) {
	case *goja.Object, *goja.Symbol: // a symbol exports as its description
		return "", false
	}
	s, ok := v.Export().(string)
	return s, ok
}

// asNumber returns v when it is a primitive number.
func asNumber(v goja.Value) (float64, bool) {
	if v == nil {
		return 0, false
	}
	if _, isObj := v.(*goja.Object); isObj {
		return 0, false
	}
	switch x := v.Export().(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// isTrue reports whether v is the boolean true (not merely truthy).
func isTrue(v goja.Value) bool {
	if v == nil {
		return false
	}
	if _, isObj := v.(*goja.Object); isObj {
		return false
	}
	b, ok := v.Export().(bool)
	return ok && b
}

// absent reports whether an optional argument was left out.
func absent(v goja.Value) bool {
	return v == nil || goja.IsUndefined(v) || goja.IsNull(v)
}
