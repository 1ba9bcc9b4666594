package dsjs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dop251/goja"

	"gatehouse/datastore"
	"gatehouse/internal/pgtest"
)

// testModel is the demo's model (Users for authentify, SalesPersons and Customers for
// onRESTAuthentication) plus every storage type and a uuid-keyed dataclass.
const testModel = `{"dataClasses":[
 {"name":"Users","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string","indexed":true},
   {"name":"password","type":"string"}]},
 {"name":"SalesPersons","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"email","type":"string","indexed":true},
   {"name":"firstname","type":"string"},
   {"name":"lastname","type":"string"},
   {"name":"password","type":"string"},
   {"name":"customers","kind":"relatedEntities","type":"Customers","path":"salesPerson"}]},
 {"name":"Customers","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string","indexed":true},
   {"name":"city","type":"string"},
   {"name":"totalPurchase","type":"number"},
   {"name":"active","type":"bool"},
   {"name":"since","type":"date"},
   {"name":"tags","type":"object"},
   {"name":"salesPerson","kind":"relatedEntity","type":"SalesPersons"}]},
 {"name":"Tokens","attributes":[
   {"name":"id","type":"uuid","primaryKey":true,"autoincrement":true},
   {"name":"note","type":"string"}]}
]}`

const testSeed = `{
 "Users": [
   {"ID": 1, "name": "kind user", "password": "hash-kind"},
   {"ID": 2, "name": "admin", "password": "hash-admin"}],
 "SalesPersons": [
   {"ID": 1, "email": "ann@example.com", "firstname": "Ann", "lastname": "Archer", "password": "hash-ann"},
   {"ID": 2, "email": "bob@example.com", "firstname": "Bob", "lastname": "Baker", "password": "hash-bob"}],
 "Customers": [
   {"ID": 1, "name": "Acme", "city": "Paris", "totalPurchase": 125000, "active": true,
    "since": "2019-03-04T05:06:07.089Z", "tags": {"tier": "gold"}, "salesPerson": 1},
   {"ID": 2, "name": "Bolt & Nut", "city": "Lyon", "totalPurchase": 48000, "active": false, "salesPerson": 1},
   {"ID": 3, "name": "Cogs Ltd", "city": "London", "totalPurchase": 99000, "salesPerson": 1},
   {"ID": 4, "name": "Dynamo", "city": "Berlin", "totalPurchase": 3000, "salesPerson": 1},
   {"ID": 5, "name": "Eureka", "city": "Madrid", "totalPurchase": 76000, "since": "2022-01-01", "salesPerson": 2},
   {"ID": 6, "name": "Flux", "city": "Rome", "totalPurchase": 12000}]
}`

// openDB opens a seeded database in a temporary directory.
func openDB(t *testing.T) *datastore.DB {
	t.Helper()
	m, err := datastore.ParseModel([]byte(testModel))
	if err != nil {
		t.Fatalf("ParseModel: %v", err)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	if pgtest.Active() {
		path = pgtest.NewDatabase(t)
	}
	db, err := datastore.Open(ctx, path, m, datastore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Seed(ctx, []byte(testSeed)); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	return db
}

// newVM returns a runtime with the ds global of one call bound to ctx.
func newVM(t *testing.T, ctx context.Context, db *datastore.DB) *goja.Runtime {
	t.Helper()
	vm := goja.New()
	ds, err := New(db).Value(ctx, vm)
	if err != nil {
		t.Fatalf("Value: %v", err)
	}
	if err := vm.Set("ds", ds); err != nil {
		t.Fatalf("Set ds: %v", err)
	}
	return vm
}

// evalJSON runs body (statements ending in a return) in a fresh call and returns
// JSON.stringify of its result.
func evalJSON(t *testing.T, db *datastore.DB, body string) string {
	t.Helper()
	vm := newVM(t, context.Background(), db)
	v, err := vm.RunString("JSON.stringify((() => {" + body + "\n})())")
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, body)
	}
	return v.String()
}

// thrown runs body in a fresh call and returns "Name: message" of what it threw, or
// "no error".
func thrown(t *testing.T, db *datastore.DB, body string) string {
	t.Helper()
	vm := newVM(t, context.Background(), db)
	v, err := vm.RunString(`(() => { try {` + body + `
	} catch (e) { return (e instanceof Error ? "" : "not an Error: ") + e.name + ": " + e.message } return "no error" })()`)
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, body)
	}
	return v.String()
}

// TestMain runs every test against SQLite, then against a throwaway PostgreSQL (pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "")) }
