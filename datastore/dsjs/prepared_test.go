package dsjs

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gatehouse/engine"
)

var _ engine.PreparedGlobal = (*Global)(nil)

// TestPreparedPrototypesAreFrozen: the prototypes and methods of ds objects are made once per
// runtime and shared by its calls, so nothing a call tries on them may be seen by the next
// call, from the same session or another.
func TestPreparedPrototypesAreFrozen(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	script := `
exports.mutate = function (what) {
  const proto = (v) => Object.getPrototypeOf(v);
  const attempts = {
    classProto: () => { proto(ds.Customers).leak = 1; },
    classMethod: () => { ds.Customers.query.leak = 1; },
    replaceMethod: () => { proto(ds.Customers).all = function () { return 'hijacked'; }; },
    defineOnProto: () => { Object.defineProperty(proto(ds.Customers), 'leak', { value: 1 }); },
    selectionProto: () => { proto(ds.Customers.all()).leak = 1; },
    selectionMethod: () => { ds.Customers.all().first.leak = 1; },
    iterator: () => { ds.Customers.all()[Symbol.iterator].leak = 1; },
    entityProto: () => { proto(ds.Customers.all().first()).leak = 1; },
    entityMethod: () => { ds.Customers.all().first().save.leak = 1; },
    setPrototype: () => { Object.setPrototypeOf(proto(ds.Customers), null); },
  };
  let failed = false;
  try { attempts[what](); } catch (e) { failed = e instanceof TypeError; }
  return failed;
};
exports.look = function () {
  const proto = (v) => Object.getPrototypeOf(v);
  const c = ds.Customers, sel = c.all(), e = sel.first();
  return [typeof proto(c).leak, typeof c.query.leak, typeof proto(sel).leak, typeof sel.first.leak,
    typeof sel[Symbol.iterator].leak, typeof proto(e).leak, typeof e.save.leak, proto(proto(c)) === Object.prototype,
    c.all().length, typeof c.all, e.name];
};
`
	if err := os.WriteFile(filepath.Join(dir, "DataStore.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Dir: dir, PoolSize: 1, MaxConcurrent: 1, Globals: []engine.Global{New(db)}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	call := func(name string, args ...any) any {
		t.Helper()
		out, err := e.Call(context.Background(), sc, nil, "DataStore", name, args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
	want := call("look")
	for _, what := range []string{"classProto", "classMethod", "replaceMethod", "defineOnProto", "selectionProto",
		"selectionMethod", "iterator", "entityProto", "entityMethod", "setPrototype"} {
		if failed := call("mutate", what); failed != true {
			t.Errorf("%s: the attempt did not throw a TypeError", what)
		}
		if got := call("look"); !reflect.DeepEqual(got, want) {
			t.Errorf("after %s: the next call saw %v, want %v", what, got, want)
		}
	}
}
