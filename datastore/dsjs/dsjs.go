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
// read once here, so a call sees one model even if it is reloaded meanwhile. The engine calls
// Prepare instead, once per runtime; Value prepares the runtime every time.
func (g *Global) Value(ctx context.Context, vm *goja.Runtime) (goja.Value, error) {
	value, err := g.Prepare(vm)
	if err != nil {
		return nil, err
	}
	return value(ctx)
}

// Prepare builds what every ds object of a runtime shares (the prototypes and their native
// methods, frozen) and returns the function that makes the ds object of each call. It
// satisfies engine.PreparedGlobal.
func (g *Global) Prepare(vm *goja.Runtime) (func(context.Context) (goja.Value, error), error) {
	if g == nil || g.db == nil {
		return nil, ErrNoDatabase
	}
	p := &prepared{vm: vm}
	if err := p.init(); err != nil {
		return nil, fmt.Errorf("dsjs: %w", err)
	}
	db := g.db
	return func(ctx context.Context) (goja.Value, error) {
		c := &call{prepared: p, ctx: ctx, db: db, model: db.Model()}
		return vm.NewDynamicObject(&datastoreObject{c: c}), nil
	}, nil
}

// prepared is what the calls on one runtime share: the prototypes, whose native methods find
// the call they serve through the object they are called on (never through a variable that
// one call could leave to the next), and the few built-ins the conversions need. The
// prototypes and methods are frozen: a script cannot leave anything on them.
type prepared struct {
	vm                                   *goja.Runtime
	classProto, selectionProto, entProto *goja.Object
	dateCtor, errorCtor                  goja.Value
	stringify, parse                     goja.Callable
	none                                 *call // for a method called on something else
}

// call is the state shared by every object of one script call. Objects of one call are never
// used by another.
type call struct {
	*prepared
	ctx   context.Context
	db    *datastore.DB
	model *datastore.Model

	classes map[string]goja.Value // ds.X objects made so far
}

func (p *prepared) init() error {
	vm := p.vm
	p.none = &call{prepared: p}
	p.dateCtor, p.errorCtor = vm.Get("Date"), vm.Get("Error")
	if p.dateCtor == nil || p.errorCtor == nil {
		return errors.New("the runtime has no Date or Error")
	}
	jsonObj, ok := vm.Get("JSON").(*goja.Object)
	if !ok {
		return errors.New("the runtime has no JSON")
	}
	var ok1, ok2 bool
	p.stringify, ok1 = goja.AssertFunction(jsonObj.Get("stringify"))
	p.parse, ok2 = goja.AssertFunction(jsonObj.Get("parse"))
	if !ok1 || !ok2 {
		return errors.New("the runtime has no JSON.stringify or JSON.parse")
	}
	objectCtor, ok := vm.Get("Object").(*goja.Object)
	if !ok {
		return errors.New("the runtime has no Object")
	}
	freeze, ok := goja.AssertFunction(objectCtor.Get("freeze"))
	if !ok {
		return errors.New("the runtime has no Object.freeze")
	}
	var err error
	if p.classProto, err = p.newProto(classMethods); err != nil {
		return err
	}
	if p.selectionProto, err = p.newProto(selectionMethods); err != nil {
		return err
	}
	if err := p.selectionProto.DefineDataProperty("isSelection", vm.ToValue(true), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return err
	}
	iterator := p.method("[Symbol.iterator]", (*call).selectionIterator)
	if err := p.selectionProto.DefineDataPropertySymbol(goja.SymIterator, iterator, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return err
	}
	if p.entProto, err = p.newProto(entityMethods); err != nil {
		return err
	}
	for _, proto := range []*goja.Object{p.classProto, p.selectionProto, p.entProto} {
		for _, key := range proto.GetOwnPropertyNames() {
			if _, err := freeze(goja.Undefined(), proto.Get(key)); err != nil {
				return err
			}
		}
		if _, err := freeze(goja.Undefined(), proto); err != nil {
			return err
		}
	}
	_, err = freeze(goja.Undefined(), iterator)
	return err
}

// method is a function installed on a prototype.
type method struct {
	name string
	fn   func(*call, goja.FunctionCall) goja.Value
}

// newProto makes a prototype holding methods that are read-only and not enumerable, so that
// Object.keys and JSON see only data.
func (p *prepared) newProto(methods []method) (*goja.Object, error) {
	proto := p.vm.NewObject()
	for _, m := range methods {
		if err := proto.DefineDataProperty(m.name, p.method(m.name, m.fn), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
			return nil, err
		}
	}
	return proto, nil
}

// method makes the native function of a method: it runs for the call of the object it is
// called on (this); on anything else, the method throws its TypeError.
func (p *prepared) method(name string, fn func(*call, goja.FunctionCall) goja.Value) *goja.Object {
	return p.function(name, func(fc goja.FunctionCall) goja.Value {
		c := p.none
		switch x := fc.This.Export().(type) {
		case *dataClass:
			c = x.c
		case *selection:
			c = x.c
		case *entity:
			c = x.c
		}
		return fn(c, fc)
	})
}

// function makes a native function with a name (goja would show the Go function's).
func (p *prepared) function(name string, fn func(goja.FunctionCall) goja.Value) *goja.Object {
	f := p.vm.ToValue(fn).(*goja.Object)
	_ = f.DefineDataProperty("name", p.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
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
	if c.classes == nil {
		c.classes = map[string]goja.Value{}
	}
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
