package dsjs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dop251/goja"

	"gatehouse/datastore"
	"gatehouse/internal/errkind"
)

// ErrNoDatabase is returned by Value when the Global was built without a database.
var ErrNoDatabase = errors.New("dsjs: no database")

// Global is the script global "ds". It satisfies the engine's Global interface.
type Global struct {
	db *datastore.DB
}

// New returns the "ds" global over db.
func New(db *datastore.DB) *Global {
	return &Global{db: db}
}

// Name returns "ds".
func (g *Global) Name() string { return "ds" }

// Value builds the ds object of one script call. It must be called on the call's goroutine;
// ctx (the request's context) is passed to every database call the script makes. The model is
// read once here, so a call sees one model even if it is reloaded meanwhile.
func (g *Global) Value(ctx context.Context, vm *goja.Runtime) (goja.Value, error) {
	if g == nil || g.db == nil {
		return nil, ErrNoDatabase
	}
	c := &call{ctx: ctx, db: g.db, vm: vm, model: g.db.Model(), classes: map[string]goja.Value{}}
	if err := c.init(); err != nil {
		return nil, fmt.Errorf("dsjs: %w", err)
	}
	return vm.NewDynamicObject(&datastoreObject{c: c}), nil
}

// call is the state shared by every object of one script call: the prototypes (whose methods
// are created once per call and shared by all objects) and the few built-ins the conversions
// need. Objects of one call are never used by another.
type call struct {
	ctx   context.Context
	db    *datastore.DB
	vm    *goja.Runtime
	model *datastore.Model

	classes                              map[string]goja.Value // ds.X objects made so far
	classProto, selectionProto, entProto *goja.Object
	dateCtor, errorCtor                  goja.Value
	stringify, parse                     goja.Callable
}

func (c *call) init() error {
	vm := c.vm
	c.dateCtor, c.errorCtor = vm.Get("Date"), vm.Get("Error")
	if c.dateCtor == nil || c.errorCtor == nil {
		return errors.New("the runtime has no Date or Error")
	}
	jsonObj, ok := vm.Get("JSON").(*goja.Object)
	if !ok {
		return errors.New("the runtime has no JSON")
	}
	var ok1, ok2 bool
	c.stringify, ok1 = goja.AssertFunction(jsonObj.Get("stringify"))
	c.parse, ok2 = goja.AssertFunction(jsonObj.Get("parse"))
	if !ok1 || !ok2 {
		return errors.New("the runtime has no JSON.stringify or JSON.parse")
	}
	var err error
	if c.classProto, err = c.newProto(c.classMethods()); err != nil {
		return err
	}
	if c.selectionProto, err = c.newProto(c.selectionMethods()); err != nil {
		return err
	}
	if err := c.selectionProto.DefineDataProperty("isSelection", vm.ToValue(true), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return err
	}
	iterator := c.function("[Symbol.iterator]", c.selectionIterator)
	if err := c.selectionProto.DefineDataPropertySymbol(goja.SymIterator, iterator, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return err
	}
	c.entProto, err = c.newProto(c.entityMethods())
	return err
}

// method is a function installed on a prototype.
type method struct {
	name string
	fn   func(goja.FunctionCall) goja.Value
}

// newProto makes a prototype holding methods that are read-only and not enumerable, so that
// Object.keys and JSON see only data.
func (c *call) newProto(methods []method) (*goja.Object, error) {
	proto := c.vm.NewObject()
	for _, m := range methods {
		if err := proto.DefineDataProperty(m.name, c.function(m.name, m.fn), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
			return nil, err
		}
	}
	return proto, nil
}

// function makes a native function with a name (goja would show the Go function's).
func (c *call) function(name string, fn func(goja.FunctionCall) goja.Value) *goja.Object {
	f := c.vm.ToValue(fn).(*goja.Object)
	_ = f.DefineDataProperty("name", c.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return f
}

// wrap makes the JavaScript object of a Go value with the given prototype.
func (c *call) wrap(d goja.DynamicObject, proto *goja.Object) *goja.Object {
	obj := c.vm.NewDynamicObject(d)
	if err := obj.SetPrototype(proto); err != nil {
		panic(err) // cannot happen: the prototypes are ordinary objects
	}
	return obj
}

// errorf makes a JavaScript Error to throw (panic with) from a binding.
func (c *call) errorf(format string, args ...any) *goja.Object {
	obj, err := c.vm.New(c.errorCtor, c.vm.ToValue(fmt.Sprintf(format, args...)))
	if err != nil {
		panic(err)
	}
	return obj
}

// check throws if the call's context is done, before a database call is started.
func (c *call) check(op string) {
	if err := c.ctx.Err(); err != nil {
		panic(c.dbError(op, err))
	}
}

// dbError turns a datastore error into a JavaScript Error whose message names the operation
// and says what went wrong, without the package prefix.
func (c *call) dbError(op string, err error) *goja.Object {
	switch {
	case errors.Is(err, context.Canceled):
		return c.errorf("%s: the request was cancelled", op)
	case errors.Is(err, context.DeadlineExceeded):
		return c.errorf("%s: the request timed out", op)
	case errkind.Is(err, errkind.Unavailable):
		return c.errorf("%s: the database is busy: try again", op)
	}
	return c.errorf("%s: %s", op, strings.ReplaceAll(err.Error(), "datastore: ", ""))
}

// readOnly throws the TypeError of an assignment or deletion on an object that refuses them.
func (c *call) readOnly(what, key string) {
	panic(c.vm.NewTypeError("cannot assign or delete %q: %s is read-only", key, what))
}

// datastoreObject is the "ds" object: one property per dataclass of the call's model.
type datastoreObject struct{ c *call }

// Get returns the dataclass object called key, or nil (undefined).
func (d *datastoreObject) Get(key string) goja.Value {
	c := d.c
	if v, ok := c.classes[key]; ok {
		return v
	}
	dc := c.model.DataClass(key)
	if dc == nil {
		return nil
	}
	v := c.wrap(&dataClass{c: c, dc: dc}, c.classProto)
	c.classes[key] = v
	return v
}

// Has reports whether key names a dataclass.
func (d *datastoreObject) Has(key string) bool { return d.c.model.DataClass(key) != nil }

// Keys lists the dataclasses, in model order.
func (d *datastoreObject) Keys() []string {
	names := make([]string, len(d.c.model.DataClasses))
	for i, dc := range d.c.model.DataClasses {
		names[i] = dc.Name
	}
	return names
}

// Set refuses: ds is read-only.
func (d *datastoreObject) Set(key string, _ goja.Value) bool {
	d.c.readOnly("ds", key)
	return false
}

// Delete refuses: ds is read-only.
func (d *datastoreObject) Delete(key string) bool {
	d.c.readOnly("ds", key)
	return false
}

// Import makes the script object of a value the REST layer passes to a function (as this or
// as a parameter): a *datastore.Entity becomes an entity, a datastore.SelectionRef an entity
// selection, both of the call's ds (global). It satisfies the engine's Importer interface.
func (g *Global) Import(global goja.Value, v any) (goja.Value, bool, error) {
	switch v.(type) {
	case *datastore.Entity, datastore.SelectionRef:
	default:
		return nil, false, nil
	}
	obj, ok := global.(*goja.Object)
	if !ok {
		return nil, false, errors.New("dsjs: ds is not this package's object")
	}
	d, ok := obj.Export().(*datastoreObject)
	if !ok {
		return nil, false, errors.New("dsjs: ds is not this package's object")
	}
	c := d.c
	switch x := v.(type) {
	case *datastore.Entity:
		if x == nil || x.DataClass == nil || c.model.DataClass(x.DataClass.Name) == nil {
			return nil, false, errors.New("dsjs: an entity of a dataclass the model does not have")
		}
		return c.newEntity(x), true, nil
	case datastore.SelectionRef:
		dc := (*datastore.DataClass)(nil)
		if x.DataClass != nil {
			dc = c.model.DataClass(x.DataClass.Name)
		}
		if dc == nil {
			return nil, false, errors.New("dsjs: a selection of a dataclass the model does not have")
		}
		return c.newSelection(&selection{c: c, dc: dc, filter: x.Filter, params: x.Params, orderBy: x.OrderBy,
			inKeys: x.InKeys, keys: x.Keys, empty: x.InKeys && len(x.Keys) == 0}), true, nil
	}
	return nil, false, nil
}
