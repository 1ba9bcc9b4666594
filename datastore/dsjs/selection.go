package dsjs

import (
	"context"
	"errors"
	"math"
	"strconv"

	"github.com/dop251/goja"

	"gatehouse/datastore"
)

// selection is an entity selection as a description, not as entities: the dataclass (or the
// 1→N relation of an entity), the filter and its parameters, the order, and a window (skip,
// limit) within the matches. Nothing is read until a script asks for entities or a count.
// It holds only Go values, so the REST layer may read it after the call has ended.
type selection struct {
	c     *call
	dc    *datastore.DataClass
	owner *datastore.Entity // for a 1→N relation, the entity that has it; else nil
	attr  string            // the relatedEntities attribute of owner

	filter  string
	params  []any
	inKeys  bool     // restricted to the entities whose keys are keys (an entity set)
	keys    []string // written as in URLs
	orderBy string
	skip    int
	limit   int  // 0: up to the end of the matches
	empty   bool // matches nothing (an empty slice, the relation of an unsaved entity)
}

// hugeIndex bounds slice() indexes: beyond it a window is certainly empty, and sums stay far
// from overflowing.
const hugeIndex = 1 << 40

func (c *call) newSelection(s *selection) *goja.Object { return c.wrap(s, c.selectionProto) }

// op names an operation on the selection in error messages: "Customers selection.first()".
func (s *selection) op(member string) string {
	return s.dc.Name + " selection." + member
}

// fetch reads the entities [from, from+n) of the selection; n 0 means up to its end. The
// datastore caps one read at its MaxTop (10 000 by default). Count is set only when counted
// is true: first() and sel[i] need no COUNT(*) of every match.
func (s *selection) fetch(ctx context.Context, from, n int, counted bool) (*datastore.Selection, error) {
	limit, bounded := 0, false
	if s.limit > 0 {
		limit, bounded = s.limit-from, true
	}
	if n > 0 && (!bounded || n < limit) {
		limit, bounded = n, true
	}
	if s.empty || bounded && limit <= 0 {
		return &datastore.Selection{DataClass: s.dc, Entities: []*datastore.Entity{}}, nil
	}
	q := datastore.Query{Filter: s.filter, Params: s.params, InKeys: s.inKeys, Keys: s.keys, OrderBy: s.orderBy, Skip: s.skip + from, Limit: limit, NoCount: !counted}
	if s.owner != nil {
		return s.c.db.RelatedEntities(ctx, s.owner, s.attr, q)
	}
	return s.c.db.Find(ctx, s.dc, q)
}

// size returns the selection's length from the total number of matches.
func (s *selection) size(total int) int {
	if s.empty {
		return 0
	}
	n := max(total-s.skip, 0)
	if s.limit > 0 {
		n = min(n, s.limit)
	}
	return n
}

// count returns the selection's length with one count (a dataclass query) or one single-entity
// read that also counts (a relation, for which the datastore has no count of its own).
func (s *selection) count(ctx context.Context) (int, error) {
	if s.empty {
		return 0, nil
	}
	q := datastore.Query{Filter: s.filter, Params: s.params, InKeys: s.inKeys, Keys: s.keys}
	if s.owner != nil {
		q.Limit = 1
		sel, err := s.c.db.RelatedEntities(ctx, s.owner, s.attr, q)
		if err != nil {
			return 0, err
		}
		return s.size(sel.Count), nil
	}
	total, err := s.c.db.Count(ctx, s.dc, q)
	if err != nil {
		return 0, err
	}
	return s.size(total), nil
}

// DatastoreSelection reads the selection's first limit entities (limit <= 0: as many as the
// datastore allows) for the REST layer, which answers a function returning a selection in
// 4D's shape. Count is the selection's length and First 0: the window is the selection.
func (s *selection) DatastoreSelection(ctx context.Context, limit int) (*datastore.Selection, error) {
	sel, err := s.fetch(ctx, 0, max(limit, 0), true)
	if err != nil {
		return nil, err
	}
	return &datastore.Selection{DataClass: sel.DataClass, Entities: sel.Entities, Count: s.size(sel.Count)}, nil
}

// DatastoreKeys returns the keys of the whole selection, in its order, for the REST layer,
// which keeps a selection a function returned as an entity set (SPEC §3.7).
func (s *selection) DatastoreKeys(ctx context.Context) ([]string, error) {
	if s.empty {
		return []string{}, nil
	}
	q := datastore.Query{Filter: s.filter, Params: s.params, InKeys: s.inKeys, Keys: s.keys, OrderBy: s.orderBy, Skip: s.skip, Limit: s.limit}
	if s.owner != nil {
		return s.c.db.RelatedKeys(ctx, s.owner, s.attr, q)
	}
	return s.c.db.FindKeys(ctx, s.dc, q)
}

// ErrNestedSelection is returned by a selection's MarshalJSON: reading it needs the request's
// context, which JSON encoding does not have.
var ErrNestedSelection = errors.New("dsjs: a selection inside a result cannot be written as JSON: return it alone, or its toJSON() or toArray()")

// MarshalJSON fails with ErrNestedSelection rather than writing {} for a selection nested in
// a function's result (the REST layer answers a selection returned alone through
// DatastoreSelection).
func (s *selection) MarshalJSON() ([]byte, error) { return nil, ErrNestedSelection }

// Get serves length and index access (sel[0]); everything else comes from the prototype.
func (s *selection) Get(key string) goja.Value {
	c := s.c
	if key == "length" {
		return c.vm.ToValue(s.length())
	}
	i, ok := arrayIndex(key)
	if !ok {
		return nil
	}
	c.check(s.op("[" + key + "]"))
	sel, err := s.fetch(c.ctx, i, 1, false)
	if err != nil {
		panic(c.dbError(s.op("["+key+"]"), err))
	}
	if len(sel.Entities) == 0 {
		return nil
	}
	return c.newEntity(sel.Entities[0])
}

func (s *selection) Has(key string) bool {
	if key == "length" {
		return true
	}
	i, ok := arrayIndex(key)
	return ok && i < s.length()
}

// Keys is empty: enumerating a selection would read it; use toArray() or for...of.
func (s *selection) Keys() []string { return nil }

func (s *selection) Set(key string, _ goja.Value) bool {
	s.c.readOnly("a selection", key)
	return false
}

func (s *selection) Delete(key string) bool {
	s.c.readOnly("a selection", key)
	return false
}

// length counts the selection, throwing on a datastore error.
func (s *selection) length() int {
	c := s.c
	c.check(s.op("length"))
	n, err := s.count(c.ctx)
	if err != nil {
		panic(c.dbError(s.op("length"), err))
	}
	return n
}

// entities reads the whole selection (up to the datastore's cap), throwing on an error.
func (s *selection) entities(member string) []*datastore.Entity {
	c := s.c
	c.check(s.op(member))
	sel, err := s.fetch(c.ctx, 0, 0, false)
	if err != nil {
		panic(c.dbError(s.op(member), err))
	}
	return sel.Entities
}

// arrayIndex parses a canonical array index ("0", "12"; not "01" or "-1").
func arrayIndex(key string) (int, bool) {
	if key == "" || key[0] < '0' || key[0] > '9' {
		return 0, false // a property name (length, first, …): no error to make
	}
	i, err := strconv.Atoi(key)
	if err != nil || i < 0 || i >= hugeIndex || strconv.Itoa(i) != key {
		return 0, false
	}
	return i, true
}

// selectionMethods are the methods of the prototype, called with the call of the object (this).
var selectionMethods = []method{
	{"first", (*call).selectionFirst},
	{"orderBy", (*call).selectionOrderBy},
	{"slice", (*call).selectionSlice},
	{"toArray", (*call).selectionToArray},
	{"toJSON", (*call).selectionToJSON},
}

// thisSelection returns the selection a method was called on, or throws.
func (c *call) thisSelection(fc goja.FunctionCall, name string) *selection {
	if s, ok := fc.This.Export().(*selection); ok {
		return s
	}
	panic(c.vm.NewTypeError("%s() must be called on a selection", name))
}

// selectionFirst is sel.first(): the first entity or null, reading one entity.
func (c *call) selectionFirst(fc goja.FunctionCall) goja.Value {
	s := c.thisSelection(fc, "first")
	c.check(s.op("first()"))
	sel, err := s.fetch(c.ctx, 0, 1, false)
	if err != nil {
		panic(c.dbError(s.op("first()"), err))
	}
	if len(sel.Entities) == 0 {
		return goja.Null()
	}
	return c.newEntity(sel.Entities[0])
}

// selectionOrderBy is sel.orderBy("a desc, b"): the same entities in another order. On a
// sliced selection the window is read first (its keys, up to the datastore's cap), so that
// the order applies to those entities only, as in 4D.
func (c *call) selectionOrderBy(fc goja.FunctionCall) goja.Value {
	s := c.thisSelection(fc, "orderBy")
	spec, ok := fc.Argument(0).Export().(string)
	if !ok {
		panic(c.vm.NewTypeError("%s: the order must be a string such as \"name desc\"", s.op("orderBy()")))
	}
	out := *s
	if !s.empty && (s.skip > 0 || s.limit > 0) {
		out = c.byKeys(s)
	}
	out.orderBy = spec
	return c.newSelection(&out)
}

// byKeys reads the keys of a selection's entities and returns a selection of those keys.
func (c *call) byKeys(s *selection) selection {
	keys := make([]any, 0)
	for _, e := range s.entities("orderBy()") {
		keys = append(keys, e.Key)
	}
	dc := s.dc
	return selection{c: c, dc: dc, filter: dc.Key.Name + " IN :1", params: []any{keys}, empty: len(keys) == 0}
}

// selectionSlice is sel.slice(start, end), with Array.prototype.slice's rules (end excluded,
// negative indexes count from the end). Only negative indexes need the length (a count).
func (c *call) selectionSlice(fc goja.FunctionCall) goja.Value {
	s := c.thisSelection(fc, "slice")
	start := toInteger(fc.Argument(0), 0)
	end := toInteger(fc.Argument(1), math.Inf(1))
	if start < 0 || end < 0 {
		n := float64(s.length())
		if start < 0 {
			start = max(n+start, 0)
		}
		if end < 0 {
			end = max(n+end, 0)
		}
	}
	out := *s
	if end <= start || start >= hugeIndex {
		out.empty = true
		return c.newSelection(&out)
	}
	from := int(start)
	limit, bounded := 0, false
	if s.limit > 0 {
		limit, bounded = s.limit-from, true
	}
	if end < hugeIndex {
		if n := int(end) - from; !bounded || n < limit {
			limit, bounded = n, true
		}
	}
	out.skip, out.limit = s.skip+from, limit
	out.empty = s.empty || bounded && limit <= 0
	return c.newSelection(&out)
}

// toInteger is ECMAScript's ToIntegerOrInfinity, with def for undefined.
func toInteger(v goja.Value, def float64) float64 {
	if goja.IsUndefined(v) {
		return def
	}
	f := v.ToFloat()
	if math.IsNaN(f) {
		return 0
	}
	return math.Trunc(f)
}

// selectionToArray is sel.toArray(): an array of entity objects.
func (c *call) selectionToArray(fc goja.FunctionCall) goja.Value {
	s := c.thisSelection(fc, "toArray")
	return c.entityArray(s.entities("toArray()"))
}

func (c *call) entityArray(es []*datastore.Entity) *goja.Object {
	items := make([]any, len(es))
	for i, e := range es {
		items[i] = c.newEntity(e)
	}
	return c.vm.NewArray(items...)
}

// selectionToJSON is sel.toJSON(): an array of plain objects (entity.toObject()), so that
// JSON.stringify(selection) works.
func (c *call) selectionToJSON(fc goja.FunctionCall) goja.Value {
	s := c.thisSelection(fc, "toJSON")
	es := s.entities("toJSON()")
	items := make([]any, len(es))
	for i, e := range es {
		items[i] = c.plainObject(e, nil)
	}
	return c.vm.NewArray(items...)
}

// selectionIterator is sel[Symbol.iterator](): iterates over the entities, read at once.
func (c *call) selectionIterator(fc goja.FunctionCall) goja.Value {
	s := c.thisSelection(fc, "[Symbol.iterator]")
	arr := c.entityArray(s.entities("[Symbol.iterator]()"))
	iter, ok := goja.AssertFunction(arr.GetSymbol(goja.SymIterator))
	if !ok {
		panic(c.vm.NewTypeError("arrays are not iterable in this runtime"))
	}
	v, err := iter(arr)
	if err != nil {
		panic(err)
	}
	return v
}
