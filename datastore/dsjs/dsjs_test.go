package dsjs

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"

	"gatehouse/datastore"
)

// engineGlobal is the engine's Global interface, which *Global must satisfy structurally.
type engineGlobal interface {
	Name() string
	Value(ctx context.Context, vm *goja.Runtime) (goja.Value, error)
}

var _ engineGlobal = (*Global)(nil)

// restEntity and restSelection are what the REST layer looks for in a function's result.
type restEntity interface {
	DatastoreEntity() *datastore.Entity
}

type restSelection interface {
	DatastoreSelection(ctx context.Context, limit int) (*datastore.Selection, error)
}

var (
	_ restEntity    = (*entity)(nil)
	_ restSelection = (*selection)(nil)
)

// sameJSON compares two JSON texts by value.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

func TestName(t *testing.T) {
	if got, want := New(nil).Name(), "ds"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
}

func TestValueWithoutDatabaseFails(t *testing.T) {
	_, err := New(nil).Value(context.Background(), goja.New())
	if got, want := err, ErrNoDatabase; !errors.Is(got, want) {
		t.Errorf("Value() error = %v, want %v", got, want)
	}
}

// TestSeedAuthentify runs the seeds' ds.authentify() example, written in JavaScript.
func TestSeedAuthentify(t *testing.T) {
	db := openDB(t)
	got := evalJSON(t, db, `
		function authentify(credentials) {
			const user = ds.Users.query("name = :1", credentials.identifier).first();
			if (user === null) {
				return null; // unknown user
			}
			return user.password; // would go to verifyPasswordHash(credentials.password, ...)
		}
		return [authentify({identifier: "admin"}), authentify({identifier: "ADMIN"}), authentify({identifier: "nobody"})];`)
	if want := `["hash-admin","hash-admin",null]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestSeedSalesPersons runs the seeds' On REST Authentication and fillSession example.
func TestSeedSalesPersons(t *testing.T) {
	db := openDB(t)
	got := evalJSON(t, db, `
		const userId = "ann@example.com";
		const sales = ds.SalesPersons.query("email = :1", userId).first();
		if (sales === null) {
			return null;
		}
		const info = {userName: sales.firstname + " " + sales.lastname};
		const top = sales.customers.orderBy("totalPurchase desc").slice(0, 3);
		info.top = top.toArray().map((c) => c.name + ":" + c.totalPurchase);
		info.count = top.length;
		return info;`)
	want := `{"userName":"Ann Archer","top":["Acme:125000","Cogs Ltd:99000","Bolt & Nut:48000"],"count":3}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDataClass(t *testing.T) {
	db := openDB(t)
	tests := []struct {
		name, expr, want string
	}{
		{"GetByNumber", `ds.Users.get(1).name`, `"kind user"`},
		{"GetByString", `ds.Users.get("2").name`, `"admin"`},
		{"GetMissingIsNull", `ds.Users.get(99)`, `null`},
		{"GetNonIntegerIsNull", `ds.Users.get(1.5)`, `null`},
		{"GetNullIsNull", `ds.Users.get(null)`, `null`},
		{"GetUUIDAnySpelling", `ds.Tokens.get("0f8fad5b-d9cb-469f-a165-70867728950e").note`, `"seeded"`},
		{"UnknownDataClassIsUndefined", `[ds.Nope === undefined, "Nope" in ds, "Users" in ds]`, `[true,false,true]`},
		{"KeysListDataClasses", `Object.keys(ds)`, `["Users","SalesPersons","Customers","Tokens"]`},
		{"SameObjectWithinCall", `ds.Users === ds.Users`, `true`},
		{"All", `ds.Customers.all().length`, `6`},
		{"NewIsNew", `[ds.Users.new().isNew(), ds.Users.new().getKey(), ds.Users.new().getStamp()]`, `[true,null,0]`},
		{"NewHasNullValues", `ds.Users.new().toObject()`, `{"ID":null,"name":null,"password":null}`},
		{"QueryNumberParam", `ds.Customers.query("totalPurchase > :1", 50000).length`, `3`},
		{"QueryArrayParam", `ds.Customers.query("name IN :1", ["Acme", "Flux"]).length`, `2`},
		{"QueryEntityParam", `ds.Customers.query("salesPerson = :1", ds.SalesPersons.get(2)).toArray().map((c) => c.name)`, `["Eureka"]`},
		{"QueryDateParam", `ds.Customers.query("since > :1", new Date("2020-01-01")).toArray().map((c) => c.name)`, `["Eureka"]`},
		{"QueryNullParam", `ds.Customers.query("salesPerson = :1", null).first().name`, `"Flux"`},
		{"QueryThroughRelation", `ds.Customers.query("salesPerson.firstname = 'ann'").length`, `4`},
		{"QueryWildcard", `ds.Customers.query("name = 'c@'").first().name`, `"Cogs Ltd"`},
		{"QueryNoMatchFirstIsNull", `ds.Customers.query("name = 'zzz'").first()`, `null`},
	}
	if _, err := db.Seed(context.Background(), []byte(`{"Tokens":[{"id":"0F8FAD5BD9CB469FA16570867728950E","note":"seeded"}]}`)); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evalJSON(t, db, "return "+tt.expr); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
}

func TestSelection(t *testing.T) {
	db := openDB(t)
	const prelude = `
		const names = (s) => s.toArray().map((e) => e.name);
		const all = ds.Customers.all().orderBy("name");
		return `
	tests := []struct {
		name, expr, want string
	}{
		{"OrderBy", `names(all)`, `["Acme","Bolt & Nut","Cogs Ltd","Dynamo","Eureka","Flux"]`},
		{"OrderByDesc", `names(ds.Customers.all().orderBy("city desc").slice(0, 2))`, `["Flux","Acme"]`},
		{"OrderByTwoKeys", `names(ds.Customers.all().orderBy("active desc, name"))`, `["Acme","Bolt & Nut","Cogs Ltd","Dynamo","Eureka","Flux"]`},
		{"Slice", `names(all.slice(1, 3))`, `["Bolt & Nut","Cogs Ltd"]`},
		{"SliceNegativeStart", `names(all.slice(-2))`, `["Eureka","Flux"]`},
		{"SliceNegativeBoth", `names(all.slice(-3, -1))`, `["Dynamo","Eureka"]`},
		{"SliceVeryNegative", `names(all.slice(-100, 1))`, `["Acme"]`},
		{"SliceEndBeforeStart", `names(all.slice(4, 2))`, `[]`},
		{"SlicePastEnd", `[names(all.slice(10)), all.slice(10).length, all.slice(10).first()]`, `[[],0,null]`},
		{"SliceNoArguments", `all.slice().length`, `6`},
		{"SliceInfinity", `all.slice(5, Infinity).length`, `1`},
		{"SliceNaNStart", `all.slice(NaN, 1).length`, `1`},
		{"SliceOfSlice", `names(all.slice(1).slice(1, 3))`, `["Cogs Ltd","Dynamo"]`},
		{"SliceOfSliceNegative", `names(all.slice(1, 4).slice(-1))`, `["Dynamo"]`},
		{"SliceOfSliceBeyondWindow", `names(all.slice(1, 3).slice(1, 10))`, `["Cogs Ltd"]`},
		{"SliceLength", `[all.slice(1, 4).length, all.slice(4, 100).length]`, `[3,2]`},
		{"OrderBySlicedReordersWindow", `names(all.slice(0, 3).orderBy("name desc"))`, `["Cogs Ltd","Bolt & Nut","Acme"]`},
		{"OrderByEmptySlice", `all.slice(3, 3).orderBy("name").length`, `0`},
		{"First", `all.first().name`, `"Acme"`},
		{"FirstOfSlice", `all.slice(2).first().name`, `"Cogs Ltd"`},
		{"Index", `[all[1].name, all[10] === undefined, 1 in all, 6 in all]`, `["Bolt & Nut",true,true,false]`},
		{"IndexInSlice", `[all.slice(4)[0].name, all.slice(4)[2] === undefined]`, `["Eureka",true]`},
		{"Spread", `[...all.slice(0, 2)].map((e) => e.name)`, `["Acme","Bolt & Nut"]`},
		{"ForOf", `(() => { const out = []; for (const c of all.slice(4)) { out.push(c.name); } return out; })()`, `["Eureka","Flux"]`},
		{"ArrayFrom", `Array.from(all.slice(5), (e) => e.ID)`, `[6]`},
		{"IsSelection", `[all.isSelection, ds.Customers.get(1).isSelection]`, `[true,null]`},
		{"NotEnumerable", `Object.keys(all)`, `[]`},
		{"Relation", `[ds.SalesPersons.get(1).customers.length, ds.SalesPersons.get(2).customers.first().name]`, `[4,"Eureka"]`},
		{"RelationOrderedSliced", `names(ds.SalesPersons.get(1).customers.orderBy("name desc").slice(1, 3))`, `["Cogs Ltd","Bolt & Nut"]`},
		{"RelationSlicedThenOrdered", `names(ds.SalesPersons.get(1).customers.orderBy("name").slice(0, 2).orderBy("totalPurchase"))`, `["Bolt & Nut","Acme"]`},
		{"RelationOfNewEntityIsEmpty", `[ds.SalesPersons.new().customers.length, ds.SalesPersons.new().customers.first()]`, `[0,null]`},
		{"Stringify", `JSON.parse(JSON.stringify(all.slice(5)))`, `[{"ID":6,"name":"Flux","city":"Rome","totalPurchase":12000,"active":null,"since":null,"tags":null,"salesPerson":null}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evalJSON(t, db, prelude+tt.expr); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
}

// TestSelectionIsLazy shows that a selection is read when used, not when made.
func TestSelectionIsLazy(t *testing.T) {
	db := openDB(t)
	got := evalJSON(t, db, `
		const oslo = ds.Customers.query("city = 'Oslo'");
		const before = oslo.length;
		const c = ds.Customers.new();
		c.name = "Nordic";
		c.city = "Oslo";
		c.save();
		return [before, oslo.length, oslo.first().name];`)
	if want := `[0,1,"Nordic"]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestEntityValues(t *testing.T) {
	db := openDB(t)
	tests := []struct {
		name, expr, want string
	}{
		{"Long", `[typeof ds.Customers.get(1).ID, ds.Customers.get(1).ID]`, `["number",1]`},
		{"Number", `ds.Customers.get(1).totalPurchase + 1`, `125001`},
		{"Bool", `[ds.Customers.get(1).active, ds.Customers.get(2).active, ds.Customers.get(3).active]`, `[true,false,null]`},
		{"DateIsDate", `[ds.Customers.get(1).since instanceof Date, ds.Customers.get(1).since.toISOString()]`, `[true,"2019-03-04T05:06:07.089Z"]`},
		{"ObjectIsPlain", `[Object.getPrototypeOf(ds.Customers.get(1).tags) === Object.prototype, ds.Customers.get(1).tags.tier]`, `[true,"gold"]`},
		{"RelatedEntity", `ds.Customers.get(1).salesPerson.email`, `"ann@example.com"`},
		{"RelatedEntityNull", `ds.Customers.get(6).salesPerson`, `null`},
		{"RelatedEntitySameObject", `(() => { const c = ds.Customers.get(1); return c.salesPerson === c.salesPerson; })()`, `true`},
		{"ObjectSameObject", `(() => { const c = ds.Customers.get(1); return c.tags === c.tags; })()`, `true`},
		{"UnknownIsUndefined", `ds.Customers.get(1).nope === undefined`, `true`},
		{"Has", `["name" in ds.Customers.get(1), "customers" in ds.SalesPersons.get(1), "nope" in ds.Customers.get(1)]`, `[true,true,false]`},
		{"Keys", `Object.keys(ds.SalesPersons.get(1))`, `["ID","email","firstname","lastname","password","customers"]`},
		{"GetKeyAndStamp", `[ds.Customers.get(3).getKey(), ds.Customers.get(3).getStamp(), ds.Customers.get(3).isNew()]`, `[3,1,false]`},
		{"ToObject", `ds.Customers.get(1).toObject()`, `{"ID":1,"name":"Acme","city":"Paris","totalPurchase":125000,"active":true,"since":"2019-03-04T05:06:07.089Z","tags":{"tier":"gold"},"salesPerson":{"__KEY":1}}`},
		{"ToObjectIsACopy", `(() => { const c = ds.Customers.get(1); const o = c.toObject(); o.tags.tier = "x"; return c.tags.tier; })()`, `"gold"`},
		{"ToObjectOmitsRelatedEntities", `Object.keys(ds.SalesPersons.get(1).toObject())`, `["ID","email","firstname","lastname","password"]`},
		{"StringifyEntity", `JSON.parse(JSON.stringify(ds.Customers.get(6)))`, `{"ID":6,"name":"Flux","city":"Rome","totalPurchase":12000,"active":null,"since":null,"tags":null,"salesPerson":null}`},
		{"MethodsCannotBeReplaced", `(() => { const p = Object.getPrototypeOf(ds.Users.get(1)); p.save = 1; return typeof p.save; })()`, `"function"`},
		{"ToObjectShowsAssignedValues", `(() => { const c = ds.Customers.get(6); c.city = "Turin"; c.salesPerson = ds.SalesPersons.get(2); return [c.toObject().city, c.toObject().salesPerson]; })()`, `["Turin",{"__KEY":2}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evalJSON(t, db, "return "+tt.expr)
			if !sameJSON(t, got, tt.want) {
				t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
}

func TestSaveNewEntity(t *testing.T) {
	db := openDB(t)
	got := evalJSON(t, db, `
		const c = ds.Customers.new();
		c.name = "Gamma";
		c.totalPurchase = 10.5;
		c.active = true;
		c.since = new Date("2021-05-06T07:08:09.010Z");
		c.tags = {vip: true, list: [1, 2]};
		c.salesPerson = ds.SalesPersons.get(2);
		const returned = c.save();
		const again = ds.Customers.get(c.getKey());
		return [returned === c, c.isNew(), c.getKey(), c.getStamp(), c.ID, again.toObject(),
			ds.SalesPersons.get(2).customers.length];`)
	want := `[true,false,7,1,7,{"ID":7,"name":"Gamma","city":null,"totalPurchase":10.5,"active":true,
		"since":"2021-05-06T07:08:09.010Z","tags":{"list":[1,2],"vip":true},"salesPerson":{"__KEY":2}},2]`
	if !sameJSON(t, got, want) {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSaveWithGivenKeyAndUUID(t *testing.T) {
	db := openDB(t)
	got := evalJSON(t, db, `
		const u = ds.Users.new();
		u.ID = 40;
		u.name = "forty";
		u.save();
		const tok = ds.Tokens.new();
		tok.note = "hello";
		tok.save();
		return [ds.Users.get(40).name, /^[0-9A-F]{32}$/.test(tok.getKey()), tok.id === tok.getKey(),
			ds.Tokens.get(tok.getKey().toLowerCase()).note];`)
	if want := `["forty",true,true,"hello"]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSaveUpdates(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"Assign", `const c = ds.Customers.get(1); c.city = "Nice"; c.save();
			return [c.getStamp(), c.city, ds.Customers.get(1).city, ds.Customers.get(1).getStamp()];`, `[2,"Nice","Nice",2]`},
		{"NoChangeNoWrite", `const c = ds.Customers.get(2); c.save(); return [c.getStamp(), ds.Customers.get(2).getStamp()];`, `[1,1]`},
		{"ObjectChangedInPlace", `const c = ds.Customers.get(1); c.tags.extra = 1; c.save();
			return ds.Customers.get(1).tags;`, `{"tier":"gold","extra":1}`},
		{"DateChangedInPlace", `const c = ds.Customers.get(1); c.since.setUTCFullYear(2030); c.save();
			return ds.Customers.get(1).since.toISOString();`, `"2030-03-04T05:06:07.089Z"`},
		{"ReadingDateIsNoChange", `const c = ds.Customers.get(1); c.since.getTime(); c.tags.tier; c.save();
			return c.getStamp();`, `1`},
		{"AssignedObjectChangedLater", `const c = ds.Customers.get(2); const t = {a: 1}; c.tags = t; t.a = 2; c.save();
			return [c.tags === t, ds.Customers.get(2).tags];`, `[false,{"a":2}]`},
		{"AssignedObjectReadsBack", `const c = ds.Customers.get(2); const t = {a: 1}; c.tags = t; return c.tags === t;`, `true`},
		{"DateFromString", `const c = ds.Customers.get(2); c.since = "2024-02-03"; c.save();
			return ds.Customers.get(2).since.toISOString();`, `"2024-02-03T00:00:00.000Z"`},
		{"AssignNull", `const c = ds.Customers.get(1); c.tags = null; c.since = undefined; c.save();
			return [ds.Customers.get(1).tags, ds.Customers.get(1).since];`, `[null,null]`},
		{"RelationByEntity", `const c = ds.Customers.get(6); const bob = ds.SalesPersons.get(2); c.salesPerson = bob;
			const same = c.salesPerson === bob; c.save(); return [same, ds.Customers.get(6).salesPerson.firstname];`, `[true,"Bob"]`},
		{"RelationByKey", `const c = ds.Customers.get(1); c.salesPerson = 2; const read = c.salesPerson.firstname; c.save();
			return [read, ds.Customers.get(1).salesPerson.firstname];`, `["Bob","Bob"]`},
		{"RelationByKEYObject", `const c = ds.Customers.get(6); c.salesPerson = {__KEY: 1}; c.save();
			return ds.Customers.get(6).salesPerson.firstname;`, `"Ann"`},
		{"RelationToNull", `const c = ds.Customers.get(1); c.salesPerson = null; c.save();
			return [ds.Customers.get(1).salesPerson, ds.SalesPersons.get(1).customers.length];`, `[null,3]`},
		{"EditThroughRelation", `const c = ds.Customers.get(1); c.salesPerson.lastname = "Xu"; c.salesPerson.save();
			return ds.SalesPersons.get(1).lastname;`, `"Xu"`},
		{"SaveTwice", `const c = ds.Customers.get(1); c.city = "A"; c.save(); c.city = "B"; c.save();
			return [c.getStamp(), ds.Customers.get(1).city];`, `[3,"B"]`},
		{"Drop", `const c = ds.Customers.get(4); const r = c.drop();
			return [r === undefined, ds.Customers.get(4), ds.Customers.all().length, ds.SalesPersons.get(1).customers.length];`, `[true,null,5,3]`},
		{"DropClearsReferences", `ds.SalesPersons.get(2).drop(); return ds.Customers.get(5).salesPerson;`, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t)
			if got := evalJSON(t, db, tt.body); !sameJSON(t, got, tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStampConflictThrows(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"Save", `const a = ds.Customers.get(3), b = ds.Customers.get(3);
			a.city = "A"; a.save(); b.city = "B"; b.save();`,
			`Error: Customers(3).save(): the entity was changed or dropped by someone else since it was read (stamp 1): get it again and retry`},
		{"Drop", `const a = ds.Customers.get(3), b = ds.Customers.get(3);
			a.city = "A"; a.save(); b.drop();`,
			`Error: Customers(3).drop(): the entity was changed by someone else since it was read (stamp 1): get it again and retry`},
		{"SaveDropped", `const a = ds.Customers.get(3), b = ds.Customers.get(3);
			a.drop(); b.city = "B"; b.save();`,
			`Error: Customers(3).save(): the entity no longer exists`},
		{"DropTwice", `const a = ds.Customers.get(3); a.drop(); a.drop();`,
			`Error: Customers(3).drop(): the entity no longer exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t)
			if got := thrown(t, db, tt.body); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("LosingSaveChangesNothing", func(t *testing.T) {
		db := openDB(t)
		thrown(t, db, `const a = ds.Customers.get(3), b = ds.Customers.get(3); a.city = "A"; a.save(); b.city = "B"; b.save();`)
		if got, want := evalJSON(t, db, `return ds.Customers.get(3).city`), `"A"`; got != want {
			t.Errorf("city = %s, want %s", got, want)
		}
	})
}

func TestErrorsThrow(t *testing.T) {
	db := openDB(t)
	tests := []struct {
		name, body, want string
	}{
		{"QuerySyntax", `ds.Customers.query("name = ").first()`, `Error: Customers selection.first(): filter at offset`},
		{"QueryUnknownAttribute", `ds.Customers.query("nme = 'x'").length`, `Error: Customers selection.length: filter at offset 0:`},
		{"QueryMissingPlaceholder", `ds.Customers.query("name = :2", "x").toArray()`, `Error: Customers selection.toArray(): filter at offset 7:`},
		{"QueryWrongType", `ds.Customers.query("totalPurchase > :1", "lots").first()`, `Error: Customers selection.first(): filter at offset`},
		{"OrderByUnknown", `ds.Customers.all().orderBy("nope").first()`, `Error: Customers selection.first(): orderBy at offset 0:`},
		{"QueryNotString", `ds.Customers.query(12)`, `TypeError: ds.Customers.query(): the query must be a string`},
		{"QueryUnsavedEntityParam", `ds.Customers.query("salesPerson = :1", ds.SalesPersons.new())`, `TypeError: query parameter :1 is an entity that has not been saved`},
		{"OrderByNotString", `ds.Customers.all().orderBy()`, `TypeError: Customers selection.orderBy(): the order must be a string`},
		{"GetBadKey", `ds.Customers.get({})`, `TypeError: ds.Customers.get(): the key must be a number or a string`},
		{"MethodOnWrongThis", `ds.Customers.query.call({}, "x")`, `TypeError: query() must be called on a dataclass`},
		{"SelectionMethodOnWrongThis", `ds.Customers.all().first.call(ds.Customers.get(1))`, `TypeError: first() must be called on a selection`},
		{"EntityMethodOnWrongThis", `ds.Customers.get(1).save.call(ds.Customers.all())`, `TypeError: save() must be called on an entity`},
		{"WrongValueType", `const c = ds.Customers.get(1); c.totalPurchase = "much"; c.save()`, `Error: Customers(1).save(): attribute "totalPurchase": expected a finite number`},
		{"WrongValueOnNew", `const c = ds.Customers.new(); c.active = "yes"; c.save()`, `Error: new Customers.save(): attribute "active": expected true or false`},
		{"UnknownAttribute", `ds.Customers.get(1).nope = 1`, `TypeError: Customers has no attribute "nope"`},
		{"MethodNameAssignmentStrict", `(() => { "use strict"; ds.Customers.get(1).save = 1; })()`, `TypeError:`},
		{"AssignRelatedEntities", `ds.SalesPersons.get(1).customers = []`, `TypeError: SalesPersons.customers cannot be assigned: set Customers.salesPerson on the related entities instead`},
		{"AssignSavedKey", `ds.Customers.get(1).ID = 5`, `TypeError: Customers(1): the primary key of a saved entity cannot be changed`},
		{"RelationWrongDataClass", `ds.Customers.get(1).salesPerson = ds.Users.get(1)`, `TypeError: Customers.salesPerson takes an entity of SalesPersons, not of Users`},
		{"RelationUnsaved", `const c = ds.Customers.get(1); c.salesPerson = ds.SalesPersons.new(); c.save()`, `Error: Customers(1).save(): attribute "salesPerson": the related entity has not been saved`},
		{"RelationMissingKey", `const c = ds.Customers.get(1); c.salesPerson = 99; c.save()`, `Error: Customers(1).save(): attribute "salesPerson": no SalesPersons entity has the key 99`},
		{"DuplicateKey", `const u = ds.Users.new(); u.ID = 1; u.save()`, `Error: new Users.save(): duplicate primary key`},
		{"DropNew", `ds.Customers.new().drop()`, `Error: new Customers.drop(): the entity has never been saved`},
		{"InvalidDate", `ds.Customers.get(1).since = new Date(NaN)`, `TypeError: attribute "since": invalid Date`},
		{"CyclicObject", `const o = {}; o.self = o; ds.Customers.get(1).tags = o`, `TypeError:`},
		{"FunctionAsObject", `ds.Customers.get(1).tags = () => 1`, `TypeError: attribute "tags": the value cannot be stored as JSON`},
		{"DeleteAttribute", `delete ds.Customers.get(1).name`, `TypeError: cannot delete Customers.name: assign null instead`},
		{"AssignDataStore", `ds.Users = 1`, `TypeError: cannot assign or delete "Users": ds is read-only`},
		{"AssignDataClass", `ds.Users.name = 1`, `TypeError: cannot assign or delete "name": ds.Users is read-only`},
		{"AssignDataClassMethodStrict", `(() => { "use strict"; ds.Users.query = 1; })()`, `TypeError:`},
		{"AssignLength", `ds.Users.all().length = 1`, `TypeError: cannot assign or delete "length": a selection is read-only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := thrown(t, db, tt.body); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want it to start with %q", got, tt.want)
			}
		})
	}
}

// TestExport checks what the REST layer finds behind a function's result (goja's Export).
func TestExport(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	run := func(t *testing.T, src string) any {
		t.Helper()
		v, err := newVM(t, ctx, db).RunString(src)
		if err != nil {
			t.Fatalf("script failed: %v", err)
		}
		return v.Export()
	}

	t.Run("Entity", func(t *testing.T) {
		x, ok := run(t, `ds.Customers.get(1)`).(restEntity)
		if !ok {
			t.Fatalf("Export() does not implement DatastoreEntity")
		}
		e := x.DatastoreEntity()
		if got, want := e.Key, any(int64(1)); got != want {
			t.Errorf("Key = %v, want %v", got, want)
		}
		if got, want := e.Values["name"], "Acme"; got != want {
			t.Errorf("name = %v, want %v", got, want)
		}
		if got, want := e.DataClass.Name, "Customers"; got != want {
			t.Errorf("DataClass = %v, want %v", got, want)
		}
	})

	t.Run("EntityWithAssignedValues", func(t *testing.T) {
		x := run(t, `const c = ds.Customers.get(1); c.city = "Nice"; c.salesPerson = ds.SalesPersons.get(2); c`).(restEntity)
		e := x.DatastoreEntity()
		if got, want := e.Values["city"], "Nice"; got != want {
			t.Errorf("city = %v, want %v", got, want)
		}
		if got, want := e.Values["salesPerson"], any(int64(2)); got != want {
			t.Errorf("salesPerson = %v, want %v", got, want)
		}
		if got, want := e.Stamp, int64(1); got != want {
			t.Errorf("Stamp = %v, want %v", got, want)
		}
		stored, err := db.Get(ctx, db.Model().DataClass("Customers"), "1")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := stored.Values["city"], "Paris"; got != want {
			t.Errorf("stored city = %v, want %v (not saved)", got, want)
		}
	})

	t.Run("Selection", func(t *testing.T) {
		x, ok := run(t, `ds.SalesPersons.query("email = :1", "ann@example.com").first().customers.orderBy("totalPurchase desc").slice(0, 3)`).(restSelection)
		if !ok {
			t.Fatalf("Export() does not implement DatastoreSelection")
		}
		tests := []struct {
			limit     int
			wantNames []string
		}{
			{100, []string{"Acme", "Cogs Ltd", "Bolt & Nut"}},
			{0, []string{"Acme", "Cogs Ltd", "Bolt & Nut"}},
			{2, []string{"Acme", "Cogs Ltd"}},
		}
		for _, tt := range tests {
			sel, err := x.DatastoreSelection(ctx, tt.limit)
			if err != nil {
				t.Fatalf("DatastoreSelection(%d): %v", tt.limit, err)
			}
			var names []string
			for _, e := range sel.Entities {
				names = append(names, e.Values["name"].(string))
			}
			if !reflect.DeepEqual(names, tt.wantNames) {
				t.Errorf("limit %d: names = %v, want %v", tt.limit, names, tt.wantNames)
			}
			if got, want := sel.Count, 3; got != want {
				t.Errorf("limit %d: Count = %d, want %d", tt.limit, got, want)
			}
			if got, want := sel.First, 0; got != want {
				t.Errorf("limit %d: First = %d, want %d", tt.limit, got, want)
			}
			if got, want := sel.DataClass.Name, "Customers"; got != want {
				t.Errorf("limit %d: DataClass = %s, want %s", tt.limit, got, want)
			}
		}
	})

	t.Run("EmptySelection", func(t *testing.T) {
		x := run(t, `ds.Customers.all().slice(4, 2)`).(restSelection)
		sel, err := x.DatastoreSelection(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(sel.Entities), 0; got != want || sel.Count != 0 {
			t.Errorf("entities = %d, Count = %d, want 0 and 0", got, sel.Count)
		}
	})

	t.Run("SelectionWithCancelledContext", func(t *testing.T) {
		x := run(t, `ds.Customers.all()`).(restSelection)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := x.DatastoreSelection(cctx, 100); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})

	t.Run("NestedEntityMarshalsAsToObject", func(t *testing.T) {
		for _, key := range []string{"1", "6"} {
			exported := run(t, `const c = ds.Customers.get(`+key+`); c.city = "Nice"; [c]`)
			got, err := json.Marshal(exported)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			want := evalJSON(t, db, `const c = ds.Customers.get(`+key+`); c.city = "Nice"; return [c];`)
			if string(got) != want {
				t.Errorf("Marshal = %s, want %s (as JSON.stringify)", got, want)
			}
		}
	})

	t.Run("NestedSelectionDoesNotMarshal", func(t *testing.T) {
		_, err := json.Marshal(run(t, `[ds.Customers.all()]`))
		if !errors.Is(err, ErrNestedSelection) {
			t.Errorf("Marshal error = %v, want ErrNestedSelection", err)
		}
	})

	t.Run("DynamicObjectExportsItsValue", func(t *testing.T) {
		vm := goja.New()
		d := &datastoreObject{}
		if got := vm.NewDynamicObject(d).Export(); got != any(d) {
			t.Errorf("Export() = %v, want the DynamicObject", got)
		}
	})
}

// TestCancelledContext checks that database calls fail cleanly once the request is cancelled,
// with an Error the script may catch.
func TestCancelledContext(t *testing.T) {
	db := openDB(t)
	ops := []string{
		`ds.Customers.all().first()`,
		`ds.Customers.all().length`,
		`ds.Customers.all().toArray()`,
		`ds.Customers.all()[0]`,
		`ds.Customers.get(1)`,
		`c.salesPerson`,
		`c.city = "X"; c.save()`,
		`c.drop()`,
		`JSON.stringify(ds.Customers.all())`,
	}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			vm := newVM(t, ctx, db)
			if err := vm.Set("cancel", cancel); err != nil {
				t.Fatal(err)
			}
			v, err := vm.RunString(`(() => {
				const before = ds.Customers.all().length;
				const c = ds.Customers.get(1);
				cancel();
				try { ` + op + ` } catch (e) { return [before, e instanceof Error, e.message]; }
				return "no error";
			})()`)
			if err != nil {
				t.Fatalf("script failed: %v", err)
			}
			got, ok := v.Export().([]any)
			if !ok || len(got) != 3 {
				t.Fatalf("got %v, want [6, true, message]", v.Export())
			}
			if got[0] != int64(6) || got[1] != true || !strings.HasSuffix(got[2].(string), ": the request was cancelled") {
				t.Errorf("got %v, want [6 true \"…: the request was cancelled\"]", got)
			}
		})
	}
	t.Run("DeadlinePassed", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
		defer cancel()
		v, err := newVM(t, ctx, db).RunString(`(() => { try { ds.Users.get(1); } catch (e) { return e.message; } return "no error"; })()`)
		if err != nil {
			t.Fatalf("script failed: %v", err)
		}
		if got, want := v.String(), "ds.Users.get(): the request timed out"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("NothingWritten", func(t *testing.T) {
		if got, want := evalJSON(t, db, `return [ds.Customers.get(1).city, ds.Customers.all().length]`), `["Paris",6]`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

// TestModelReload checks that each call sees the model current when it started.
func TestModelReload(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	before := newVM(t, ctx, db)
	m, err := datastore.ParseModel([]byte(strings.Replace(testModel, `]}`+"\n"+`]}`,
		`]},
 {"name":"Notes","attributes":[{"name":"text","type":"string"}]}
]}`, 1)))
	if err != nil {
		t.Fatalf("ParseModel: %v", err)
	}
	if err := db.SetModel(ctx, m); err != nil {
		t.Fatalf("SetModel: %v", err)
	}
	after := newVM(t, ctx, db)
	for _, tt := range []struct {
		name string
		vm   *goja.Runtime
		want bool
	}{{"CallStartedBefore", before, false}, {"CallStartedAfter", after, true}} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.vm.RunString(`ds.Notes !== undefined && ds.Notes.all().length === 0`)
			if err != nil {
				t.Fatalf("script failed: %v", err)
			}
			if got := v.ToBoolean(); got != tt.want {
				t.Errorf("ds.Notes usable = %v, want %v", got, tt.want)
			}
		})
	}
}
