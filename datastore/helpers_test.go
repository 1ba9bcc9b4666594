package datastore

import (
	"context"
	"slices"
	"testing"
	"time"
)

// testModel covers every type, both relation kinds, a self-relation and a chain of relations.
const testModel = `{"dataClasses":[
 {"name":"Company","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string","indexed":true},
   {"name":"parent","kind":"relatedEntity","type":"Company"},
   {"name":"staff","kind":"relatedEntities","path":"employer"}]},
 {"name":"Employee","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string","indexed":true},
   {"name":"age","type":"long","indexed":true},
   {"name":"salary","type":"number"},
   {"name":"active","type":"bool"},
   {"name":"hired","type":"date"},
   {"name":"badge","type":"uuid"},
   {"name":"info","type":"object"},
   {"name":"bio","type":"string"},
   {"name":"employer","kind":"relatedEntity","type":"Company"},
   {"name":"manager","kind":"relatedEntity","type":"Employee"},
   {"name":"reports","kind":"relatedEntities","path":"manager"},
   {"name":"secret","type":"string","exposed":false}]},
 {"name":"Tag","attributes":[
   {"name":"code","type":"string","primaryKey":true},
   {"name":"label","type":"string"}]},
 {"name":"Token","attributes":[
   {"name":"id","type":"uuid","primaryKey":true,"autoincrement":true},
   {"name":"note","type":"string"}]}
]}`

// testClock is a settable clock; tests move it to see timestamps change.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustModel(t testing.TB, src string) *Model {
	t.Helper()
	m, err := ParseModel([]byte(src))
	if err != nil {
		t.Fatalf("ParseModel: %v", err)
	}
	return m
}

// openTest opens a fresh database in a temporary directory.
func openTest(t testing.TB, src string) (*DB, *testClock) {
	t.Helper()
	clock := &testClock{t: epoch}
	db, err := Open(context.Background(), testPath(t, t.TempDir(), "data/test.db"), mustModel(t, src), Options{Now: clock.now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, clock
}

func mustSave(t testing.TB, db *DB, dc *DataClass, values map[string]any) *Entity {
	t.Helper()
	e := dc.NewEntity()
	for k, v := range values {
		e.Values[k] = v
	}
	saved, err := db.Save(context.Background(), e)
	if err != nil {
		t.Fatalf("Save %s %v: %v", dc.Name, values, err)
	}
	return saved
}

// fixture is the seeded company/employee data most query tests use.
type fixture struct {
	db                             *DB
	company, employee              *DataClass
	acme, globex, initech, hooli   *Entity
	alice, bob, emile, carol, dave *Entity
}

const badgeAlice = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

func seed(t testing.TB) *fixture {
	t.Helper()
	db, _ := openTest(t, testModel)
	f := &fixture{db: db, company: db.Model().DataClass("Company"), employee: db.Model().DataClass("Employee")}
	f.acme = mustSave(t, db, f.company, map[string]any{"name": "Acme"})
	f.globex = mustSave(t, db, f.company, map[string]any{"name": "Globex", "parent": f.acme.Key})
	f.initech = mustSave(t, db, f.company, map[string]any{"name": "Initech"})
	f.hooli = mustSave(t, db, f.company, map[string]any{"name": "Hooli"})
	f.alice = mustSave(t, db, f.employee, map[string]any{
		"name": "Alice Smith", "age": 30.0, "salary": 5000.5, "active": true, "hired": "2020-01-15",
		"badge": badgeAlice, "info": map[string]any{"team": "core"}, "bio": "Loves Go and SQL",
		"employer": f.acme.Key, "secret": "s1",
	})
	f.bob = mustSave(t, db, f.employee, map[string]any{
		"name": "bob jones", "age": 45.0, "salary": 4000.0, "active": false, "hired": "2018-06-01T09:30:00Z",
		"bio": "Johnson fan", "employer": f.globex.Key, "manager": f.alice.Key,
	})
	f.emile = mustSave(t, db, f.employee, map[string]any{
		"name": "Émile Zola", "age": 60.0, "active": true, "hired": "2010-03-03",
		"bio": "écrivain FRANÇAIS", "manager": f.alice.Key,
	})
	f.carol = mustSave(t, db, f.employee, map[string]any{
		"name": "Carol_50%", "age": 25.0, "active": false, "employer": f.initech.Key, "manager": f.bob.Key,
	})
	f.dave = mustSave(t, db, f.employee, map[string]any{
		"name": "Dave@home", "employer": f.acme.Key, "manager": f.bob.Key,
	})
	return f
}

// names returns the "name" values of a selection, sorted unless ordered is set.
func names(sel *Selection, ordered bool) []string {
	out := []string{}
	for _, e := range sel.Entities {
		out = append(out, e.Values["name"].(string))
	}
	if !ordered {
		slices.Sort(out)
	}
	return out
}

func sorted(s ...string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}
