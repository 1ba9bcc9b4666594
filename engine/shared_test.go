package engine

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// TestWhichModulesAreShared: only modules whose top level declares (functions,
// constants bound to literals, functions or modules, exported functions) are evaluated
// once per runtime; any state, any assignment to a top-level name, is evaluated per call.
func TestWhichModulesAreShared(t *testing.T) {
	tests := []struct {
		name, src string
		pure      bool
	}{
		{"Functions", `'use strict'; function f() { return 1; } exports.f = f; exports.g = function () {}; exports.g.onHttpGet = true;`, true},
		{"ConstantsAndRequires", `const a = require('./a'), b = require('./b').x; const N = 3, S = 'x'; var {p, q: r} = require('./c'); exports.f = () => N;`, true},
		{"ModuleExportsObject", `function f() {} module.exports = { f, g: function () {}, h() {} };`, true},
		{"ModuleExportsGetter", `module.exports = { get f() { return function () {}; } };`, false},
		{"ModuleExportsFunction", `module.exports = function (u, p) { return u === p; };`, true},
		{"LocalsShadowFreely", `exports.f = function () { let n = 0; n++; const o = {}; o.x = 1; return n; };`, true},
		{"LetCounter", `let counter = 0; exports.f = function () { counter++; };`, false},
		{"ReassignedFunction", `function f() {} exports.g = function () { f = null; };`, false},
		{"AssignedInPattern", `var x = 1; exports.g = function () { [x] = [2]; };`, false},
		{"ForInTarget", `var k; exports.g = function (o) { for (k in o) {} };`, false},
		{"ObjectState", `const cache = {}; exports.f = function (k) { return cache[k]; };`, false},
		{"ArrayState", `const list = []; exports.f = function () {};`, false},
		{"ExportedData", `exports.n = 0;`, false},
		{"ExportedObject", `module.exports = { n: 0 };`, false},
		{"TopLevelCall", `const t = Date.now(); exports.f = function () { return t; };`, false},
		{"TopLevelNew", `const m = new Map(); exports.f = function () {};`, false},
		{"DynamicRequire", `const p = './a'; const a = require(p); exports.f = function () {};`, false},
		{"Eval", `exports.f = function (s) { return eval(s); };`, false},
		{"ExportsReassigned", `exports.f = function () { exports = {}; };`, false},
		{"Class", `class C {} exports.C = C;`, false},
		{"TopLevelIf", `if (true) { exports.f = function () {}; }`, false},
		{"CompoundAssign", `exports.f = function () {}; exports.f.n += 1;`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prg, err := parser.ParseFile(nil, "x.js", tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, sh := analyze(prg); sh.pure != tt.pure {
				t.Errorf("pure = %v, want %v", sh.pure, tt.pure)
			}
		})
	}
}

// TestSharedModuleIsolation: a shared module is evaluated once per runtime, and nothing
// a call does to it (its exports, its functions and their prototypes, its require, the
// modules it requires) is seen by the next call on the same runtime, from the same
// session or another.
func TestSharedModuleIsolation(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js": `
			const lib = require('./lib/util');
			function helper() { return 'helper'; }
			exports.mutate = function (what) {
				const attempts = {
					exportsProp: () => { exports.leak = 1; },
					thisProp: () => { this.leak = 1; },
					moduleProp: () => { module.leak = 1; },
					functionProp: () => { helper.leak = 1; },
					prototypeProp: () => { helper.prototype.leak = 1; },
					exportedFunctionProp: () => { exports.look.leak = 1; },
					requireProp: () => { require.leak = 1; },
					libProp: () => { lib.leak = 1; },
					libFunctionProp: () => { lib.f.leak = 1; },
					replaceExport: () => { exports.look = function () { return 'hijacked'; }; },
					replaceLibExport: () => { lib.f = function () { return 'hijacked'; }; },
					deleteExport: () => { delete exports.look; },
				};
				let failed = false;
				try { attempts[what](); } catch (e) { failed = e instanceof TypeError; }
				return failed;
			};
			exports.look = function () {
				return [typeof exports.leak, typeof module.leak, typeof helper.leak, typeof helper.prototype.leak,
					typeof exports.look.leak, typeof require.leak, typeof lib.leak, typeof lib.f.leak, lib.f(), helper()];
			};
		`,
		"lib/util.js": `exports.f = function () { return 'f'; };`,
	}, func(o *Options) { o.PoolSize = 1; o.MaxConcurrent = 1 })
	for _, f := range []string{"DataStore.js", "lib/util.js"} {
		if !sc.shared[f] {
			t.Fatalf("%s is not shared: the test would not test sharing", f)
		}
	}
	alice, bob := newFakeSession(), newFakeSession()
	want := mustCall(t, e, sc, alice, "look")
	for _, what := range []string{"exportsProp", "thisProp", "moduleProp", "functionProp", "prototypeProp",
		"exportedFunctionProp", "requireProp", "libProp", "libFunctionProp", "replaceExport", "replaceLibExport", "deleteExport"} {
		if failed := mustCall(t, e, sc, alice, "mutate", what); failed != true {
			t.Errorf("%s: the attempt did not throw a TypeError", what)
		}
		for _, s := range []*fakeSession{alice, bob} {
			if got := mustCall(t, e, sc, s, "look"); !reflect.DeepEqual(got, want) {
				t.Errorf("after %s: the next call saw %v, want %v", what, got, want)
			}
		}
	}
}

// TestSharedModuleRequiresFreshOne: a shared module may require, inside a function, a
// module that is not shared: that one is still fresh in every call.
func TestSharedModuleRequiresFreshOne(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js":   `exports.count = function () { return require('./lib/state').next(); };`,
		"lib/state.js":   `let n = 0; exports.next = function () { return ++n; };`,
		"lib/counter.js": `const state = require('./state'); exports.next = function () { return state.next(); };`,
		"Other.js":       `const c = require('./lib/counter'); exports.count = function () { return c.next(); };`,
	}, func(o *Options) { o.PoolSize = 1; o.MaxConcurrent = 1 })
	if !sc.shared["DataStore.js"] || sc.shared["lib/state.js"] || sc.shared["lib/counter.js"] || sc.shared["Other.js"] {
		t.Fatalf("shared = %v, want DataStore.js only (a module requiring an unshared one at its top level is not shared)", sc.shared)
	}
	for range 3 {
		if got := mustCall(t, e, sc, nil, "count"); got != float64(1) {
			t.Fatalf("DataStore.count = %v, want 1: module state survived a call", got)
		}
		got, err := e.Call(t.Context(), sc, nil, "Other", "count", nil)
		if err != nil || got != float64(1) {
			t.Fatalf("Other.count = %v, %v, want 1: module state survived a call", got, err)
		}
	}
}

// TestSharedModulesFollowTheScriptSet: a runtime that ran a shared module of one set
// runs the module of the next set, not the one it holds.
func TestSharedModulesFollowTheScriptSet(t *testing.T) {
	e, sc1 := newTestEngine(t, map[string]string{"DataStore.js": `exports.v = function () { return 1; };`},
		func(o *Options) { o.PoolSize = 1; o.MaxConcurrent = 1 })
	writeFiles(t, e.opts.Dir, map[string]string{"DataStore.js": `exports.v = function () { return 2; };`})
	sc2, err := e.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := mustCall(t, e, sc1, nil, "v"); got != float64(1) {
			t.Errorf("set 1: v = %v, want 1", got)
		}
		if got := mustCall(t, e, sc2, nil, "v"); got != float64(2) {
			t.Errorf("set 2: v = %v, want 2", got)
		}
	}
}

// preparedProbe counts Prepare (per runtime and set) and the values made (per call).
type preparedProbe struct{ prepared, made int }

func (p *preparedProbe) Name() string { return "probe" }
func (p *preparedProbe) Value(context.Context, *goja.Runtime) (goja.Value, error) {
	return nil, errors.New("Value called on a PreparedGlobal")
}
func (p *preparedProbe) Prepare(vm *goja.Runtime) (func(context.Context) (goja.Value, error), error) {
	p.prepared++
	return func(context.Context) (goja.Value, error) {
		p.made++
		return vm.ToValue(p.made), nil
	}, nil
}

// TestPreparedGlobalOncePerRuntimeAndSet: a PreparedGlobal is prepared once per runtime
// and script set, and still makes one value per call that reads it.
func TestPreparedGlobalOncePerRuntimeAndSet(t *testing.T) {
	p := &preparedProbe{}
	e, sc1 := newTestEngine(t, map[string]string{"DataStore.js": `exports.read = function () { return [probe, probe]; };`},
		func(o *Options) { o.PoolSize = 1; o.MaxConcurrent = 1; o.Globals = []Global{p} })
	for i := 1; i <= 3; i++ {
		if got, want := mustCall(t, e, sc1, nil, "read"), []any{float64(i), float64(i)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("call %d: got %v, want %v", i, got, want)
		}
	}
	if p.prepared != 1 {
		t.Fatalf("prepared %d times for 3 calls on one runtime, want 1", p.prepared)
	}
	sc2, err := e.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, e, sc2, nil, "read")
	if p.prepared != 2 {
		t.Fatalf("prepared %d times after a call on a new set, want 2", p.prepared)
	}
}
