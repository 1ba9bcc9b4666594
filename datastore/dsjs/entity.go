package dsjs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/dop251/goja"

	"gatehouse/datastore"
)

// entity is an entity as a script sees it: the entity as last read or saved, the values the
// script assigned since (saved by save()), and the JavaScript values it handed out for
// attributes that can change in place (objects, dates) or that have an identity (relations).
type entity struct {
	c       *call
	e       *datastore.Entity
	pending map[string]any        // assigned, not saved: Go values, or *entity for an N→1
	shown   map[string]goja.Value // values given to the script, by attribute
}

// entityMethodNames are the names a method takes over from an attribute of the same name.
var entityMethodNames = map[string]bool{
	"save": true, "drop": true, "toObject": true, "toJSON": true,
	"getKey": true, "getStamp": true, "isNew": true,
}

func (c *call) newEntity(e *datastore.Entity) *goja.Object {
	return c.wrap(&entity{c: c, e: e}, c.entProto)
}

// DatastoreEntity returns the entity for the REST layer, which answers a function returning
// an entity in 4D's shape: as last read or saved, with the values assigned since on top (an
// object or a Date changed in place shows after save()).
func (x *entity) DatastoreEntity() *datastore.Entity {
	if len(x.pending) == 0 {
		return x.e
	}
	out := *x.e
	out.Values = maps.Clone(x.e.Values)
	for name, v := range x.pending {
		if a := x.dataClass().Attribute(name); a != nil && a.Kind == datastore.KindRelatedEntity {
			v = referenceKey(v)
		}
		out.Values[name] = v
	}
	return &out
}

// MarshalJSON writes the entity as toObject() does. The REST layer answers an entity that a
// function returns through DatastoreEntity; this serves one nested in a result, such as an
// array from toArray(), which would otherwise come out as {}.
func (x *entity) MarshalJSON() ([]byte, error) {
	e := x.DatastoreEntity()
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, a := range e.DataClass.Attributes {
		if a.Kind == datastore.KindRelatedEntities {
			continue
		}
		v := e.Values[a.Name]
		switch {
		case a.Kind == datastore.KindRelatedEntity && v != nil:
			v = map[string]any{"__KEY": v}
		case a.IsStorage():
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(isoMillis) // as JavaScript's toISOString()
			}
		}
		name, err := json.Marshal(a.Name)
		if err != nil {
			return nil, err
		}
		val, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("dsjs: %s.%s: %w", e.DataClass.Name, a.Name, err)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(name)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// isoMillis is the layout of JavaScript's Date.prototype.toISOString.
const isoMillis = "2006-01-02T15:04:05.000Z"

func (x *entity) dataClass() *datastore.DataClass { return x.e.DataClass }

func (x *entity) isNew() bool { return x.e.Stamp == 0 }

// current returns an attribute's Go value: as assigned, else as stored.
func (x *entity) current(name string) any {
	if v, ok := x.pending[name]; ok {
		return v
	}
	return x.e.Values[name]
}

func (x *entity) show(name string, v goja.Value) goja.Value {
	if x.shown == nil {
		x.shown = map[string]goja.Value{}
	}
	x.shown[name] = v
	return v
}

// mutable reports whether a storage attribute's JavaScript value can change in place.
func mutable(a *datastore.Attribute) bool {
	return a.IsStorage() && (a.Type == datastore.TypeObject || a.Type == datastore.TypeDate)
}

// Get returns an attribute: a storage value, the related entity (N→1) or a lazy selection
// (1→N). Method names and unknown names fall through to the prototype.
func (x *entity) Get(name string) goja.Value {
	if entityMethodNames[name] {
		return nil
	}
	a := x.dataClass().Attribute(name)
	if a == nil {
		return nil
	}
	if v, ok := x.shown[name]; ok {
		return v
	}
	c := x.c
	switch a.Kind {
	case datastore.KindRelatedEntity:
		return x.show(name, x.related(a))
	case datastore.KindRelatedEntities:
		s := &selection{c: c, dc: a.Related, owner: x.e, attr: name, empty: x.isNew()}
		return x.show(name, c.newSelection(s))
	}
	v := c.toJS(x.current(name))
	if mutable(a) && !goja.IsNull(v) {
		x.show(name, v)
	}
	return v
}

// related reads the entity an N→1 attribute refers to, or null.
func (x *entity) related(a *datastore.Attribute) goja.Value {
	c := x.c
	fk := x.current(a.Name)
	if fk == nil {
		return goja.Null()
	}
	key, ok := keyString(fk)
	if !ok {
		return goja.Null() // an assigned value that is no key; save() will say so
	}
	op := describeKey(x.e) + "." + a.Name
	c.check(op)
	e, err := c.db.Get(c.ctx, a.Related, key)
	if errors.Is(err, datastore.ErrNotFound) {
		return goja.Null()
	}
	if err != nil {
		panic(c.dbError(op, err))
	}
	return c.newEntity(e)
}

func (x *entity) Has(name string) bool {
	return !entityMethodNames[name] && x.dataClass().Attribute(name) != nil
}

// Keys lists the attributes in model order.
func (x *entity) Keys() []string {
	var names []string
	for _, a := range x.dataClass().Attributes {
		if !entityMethodNames[a.Name] {
			names = append(names, a.Name)
		}
	}
	return names
}

// Set assigns an attribute; save() stores it. Mistakes that no value could fix (an unknown
// attribute, a 1→N relation, the key of a saved entity) throw here; wrong values throw on save.
func (x *entity) Set(name string, v goja.Value) bool {
	c := x.c
	dc := x.dataClass()
	a := dc.Attribute(name)
	switch {
	case a == nil || entityMethodNames[name]:
		panic(c.vm.NewTypeError("%s has no attribute %q", dc.Name, name))
	case a.Kind == datastore.KindRelatedEntities:
		panic(c.vm.NewTypeError("%s.%s cannot be assigned: set %s.%s on the related entities instead", dc.Name, name, a.Related.Name, a.Path))
	case a == dc.Key && !x.isNew():
		panic(c.vm.NewTypeError("%s: the primary key of a saved entity cannot be changed", describeKey(x.e)))
	case a.IsBinary() && v != nil && !goja.IsNull(v) && !goja.IsUndefined(v):
		panic(c.vm.NewTypeError("%s.%s is a %s attribute: a script can only clear it (assign null); its bytes come from POST /rest/$upload", dc.Name, name, a.Type))
	}
	if x.pending == nil {
		x.pending = map[string]any{}
	}
	delete(x.shown, name)
	if a.Kind == datastore.KindRelatedEntity {
		x.pending[name] = x.reference(a, v)
		if _, ok := x.pending[name].(*entity); ok {
			x.show(name, v) // the same object reads back
		}
		return true
	}
	x.pending[name] = c.toGo(a, v)
	if mutable(a) && !goja.IsNull(v) && !goja.IsUndefined(v) {
		if _, ok := v.(*goja.Object); ok {
			x.show(name, v) // changes made to it later are saved too
		}
	}
	return true
}

// reference converts what is assigned to an N→1 attribute: an entity, a key, {__KEY}, null.
func (x *entity) reference(a *datastore.Attribute, v goja.Value) any {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	exported := v.Export()
	if other, ok := exported.(*entity); ok {
		if other.dataClass().Name != a.Related.Name {
			panic(x.c.vm.NewTypeError("%s.%s takes an entity of %s, not of %s", x.dataClass().Name, a.Name, a.Related.Name, other.dataClass().Name))
		}
		return other
	}
	return exported
}

func (x *entity) Delete(name string) bool {
	panic(x.c.vm.NewTypeError("cannot delete %s.%s: assign null instead", x.dataClass().Name, name))
}

// sync records the objects and dates the script changed in place since it read them.
func (x *entity) sync() {
	for name, v := range x.shown {
		a := x.dataClass().Attribute(name)
		if a == nil || !mutable(a) {
			continue
		}
		now := x.c.toGo(a, v)
		if sameValue(x.current(name), now) {
			continue
		}
		if x.pending == nil {
			x.pending = map[string]any{}
		}
		x.pending[name] = now
	}
}

// entityMethods are the methods of the prototype, called with the call of the object (this).
var entityMethods = []method{
	{"save", (*call).entitySave},
	{"drop", (*call).entityDrop},
	{"toObject", (*call).entityToObject},
	{"toJSON", (*call).entityToObject},
	{"getKey", (*call).entityGetKey},
	{"getStamp", (*call).entityGetStamp},
	{"isNew", (*call).entityIsNew},
}

// thisEntity returns the entity a method was called on, or throws.
func (c *call) thisEntity(fc goja.FunctionCall, name string) *entity {
	if x, ok := fc.This.Export().(*entity); ok {
		return x
	}
	panic(c.vm.NewTypeError("%s() must be called on an entity", name))
}

// entitySave is entity.save(): stores the assigned values and returns the entity, now with
// its key, stamp and stored values. A saved entity without changes is not written.
func (c *call) entitySave(fc goja.FunctionCall) goja.Value {
	x := c.thisEntity(fc, "save")
	x.sync()
	if !x.isNew() && len(x.pending) == 0 {
		return fc.This
	}
	op := describeKey(x.e) + ".save()"
	values := make(map[string]any, len(x.pending))
	for name, v := range x.pending {
		if other, ok := v.(*entity); ok {
			v = other.e // the datastore checks that it has been saved
		}
		values[name] = v
	}
	c.check(op)
	saved, err := c.db.Save(c.ctx, &datastore.Entity{DataClass: x.e.DataClass, Key: x.e.Key, Stamp: x.e.Stamp, Values: values})
	switch {
	case errors.Is(err, datastore.ErrStampChanged):
		panic(c.errorf("%s: the entity was changed or dropped by someone else since it was read (stamp %d): get it again and retry", op, x.e.Stamp))
	case errors.Is(err, datastore.ErrNotFound):
		panic(c.errorf("%s: the entity no longer exists", op))
	case err != nil:
		panic(c.dbError(op, err))
	}
	x.e, x.pending, x.shown = saved, nil, nil
	return fc.This
}

// entityDrop is entity.drop(): deletes the entity, unless it was saved by someone else since
// it was read.
func (c *call) entityDrop(fc goja.FunctionCall) goja.Value {
	x := c.thisEntity(fc, "drop")
	op := describeKey(x.e) + ".drop()"
	if x.isNew() {
		panic(c.errorf("%s: the entity has never been saved", op))
	}
	c.check(op)
	err := c.db.Drop(c.ctx, x.e)
	switch {
	case errors.Is(err, datastore.ErrStampChanged):
		panic(c.errorf("%s: the entity was changed by someone else since it was read (stamp %d): get it again and retry", op, x.e.Stamp))
	case errors.Is(err, datastore.ErrNotFound):
		panic(c.errorf("%s: the entity no longer exists", op))
	case err != nil:
		panic(c.dbError(op, err))
	}
	return goja.Undefined()
}

// entityToObject is entity.toObject() and entity.toJSON(): a plain object of the current
// values.
func (c *call) entityToObject(fc goja.FunctionCall) goja.Value {
	x := c.thisEntity(fc, "toObject")
	x.sync()
	return c.plainObject(x.e, x.pending)
}

// plainObject builds {attribute: value} for the storage attributes of e, with pending values
// on top; an N→1 attribute is {__KEY: key} or null; 1→N attributes are left out. Every value
// is a fresh copy.
func (c *call) plainObject(e *datastore.Entity, pending map[string]any) *goja.Object {
	obj := c.vm.NewObject()
	for _, a := range e.DataClass.Attributes {
		if a.Kind == datastore.KindRelatedEntities {
			continue
		}
		v, ok := pending[a.Name]
		if !ok {
			v = e.Values[a.Name]
		}
		var jv goja.Value
		if a.Kind == datastore.KindRelatedEntity {
			jv = c.keyObject(v)
		} else {
			jv = c.toJS(v)
		}
		if err := obj.DefineDataProperty(a.Name, jv, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
			panic(err)
		}
	}
	return obj
}

// referenceKey returns the key an N→1 value stands for: the value itself, the key of an
// entity (nil if it was never saved) or of {__KEY: key}.
func referenceKey(v any) any {
	switch r := v.(type) {
	case *entity:
		return r.e.Key
	case map[string]any:
		return r["__KEY"]
	}
	return v
}

// keyObject writes a reference as 4D does in toObject(): {__KEY: key}, or null.
func (c *call) keyObject(ref any) goja.Value {
	ref = referenceKey(ref)
	if ref == nil {
		return goja.Null()
	}
	obj := c.vm.NewObject()
	if err := obj.Set("__KEY", c.toJS(ref)); err != nil {
		panic(err)
	}
	return obj
}

// entityGetKey is entity.getKey(): the primary key (a number for long keys, a string for
// string and uuid keys), or null for an entity never saved.
func (c *call) entityGetKey(fc goja.FunctionCall) goja.Value {
	return c.toJS(c.thisEntity(fc, "getKey").e.Key)
}

// entityGetStamp is entity.getStamp(): 0 for a new entity, then 1, 2… with each save.
func (c *call) entityGetStamp(fc goja.FunctionCall) goja.Value {
	return c.vm.ToValue(c.thisEntity(fc, "getStamp").e.Stamp)
}

// entityIsNew is entity.isNew(): true until the entity is saved.
func (c *call) entityIsNew(fc goja.FunctionCall) goja.Value {
	return c.vm.ToValue(c.thisEntity(fc, "isNew").isNew())
}
