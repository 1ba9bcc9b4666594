package dsjs

import (
	"errors"

	"github.com/dop251/goja"

	"gatehouse/datastore"
)

// dataClass is ds.<DataClass>. Its methods live on the call's class prototype.
type dataClass struct {
	c  *call
	dc *datastore.DataClass
}

func (x *dataClass) Get(string) goja.Value { return nil }
func (x *dataClass) Has(string) bool       { return false }
func (x *dataClass) Keys() []string        { return nil }

func (x *dataClass) Set(key string, _ goja.Value) bool {
	x.c.readOnly("ds."+x.dc.Name, key)
	return false
}

func (x *dataClass) Delete(key string) bool {
	x.c.readOnly("ds."+x.dc.Name, key)
	return false
}

// classMethods are the methods of the prototype, called with the call of the object (this).
var classMethods = []method{
	{"query", (*call).classQuery},
	{"all", (*call).classAll},
	{"get", (*call).classGet},
	{"new", (*call).classNew},
}

// thisClass returns the dataclass a method was called on, or throws.
func (c *call) thisClass(fc goja.FunctionCall, name string) *dataClass {
	if x, ok := fc.This.Export().(*dataClass); ok {
		return x
	}
	panic(c.vm.NewTypeError("%s() must be called on a dataclass (ds.X.%s(...))", name, name))
}

// classQuery is ds.X.query(queryString, ...params): a lazy selection; the query runs when the
// selection is read, and errors in it are thrown then.
func (c *call) classQuery(fc goja.FunctionCall) goja.Value {
	x := c.thisClass(fc, "query")
	filter, ok := fc.Argument(0).Export().(string)
	if !ok {
		panic(c.vm.NewTypeError("ds.%s.query(): the query must be a string", x.dc.Name))
	}
	var params []any
	if len(fc.Arguments) > 1 {
		for i, a := range fc.Arguments[1:] {
			params = append(params, c.param(a, i+1))
		}
	}
	return c.newSelection(&selection{c: c, dc: x.dc, filter: filter, params: params})
}

// classAll is ds.X.all(): every entity, lazily.
func (c *call) classAll(fc goja.FunctionCall) goja.Value {
	x := c.thisClass(fc, "all")
	return c.newSelection(&selection{c: c, dc: x.dc})
}

// classGet is ds.X.get(key): the entity or null.
func (c *call) classGet(fc goja.FunctionCall) goja.Value {
	x := c.thisClass(fc, "get")
	arg := fc.Argument(0)
	if goja.IsUndefined(arg) || goja.IsNull(arg) {
		return goja.Null()
	}
	key, ok := keyString(arg.Export())
	if !ok {
		panic(c.vm.NewTypeError("ds.%s.get(): the key must be a number or a string", x.dc.Name))
	}
	op := "ds." + x.dc.Name + ".get()"
	c.check(op)
	e, err := c.db.Get(c.ctx, x.dc, key)
	if errors.Is(err, datastore.ErrNotFound) {
		return goja.Null()
	}
	if err != nil {
		panic(c.dbError(op, err))
	}
	return c.newEntity(e)
}

// classNew is ds.X.new(): a new entity, saved by its save().
func (c *call) classNew(fc goja.FunctionCall) goja.Value {
	x := c.thisClass(fc, "new")
	return c.newEntity(x.dc.NewEntity())
}
