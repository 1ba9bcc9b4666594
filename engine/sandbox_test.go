package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIsolationBetweenCalls(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js": `
			let counter = 0;
			const lib = require('./lib/state');
			exports.count = function () { counter++; lib.n++; return [counter, lib.n]; };
			exports.pollute = function (what) {
				const attempts = {
					global: function () { globalThis.leak = 1; },
					sloppyGlobal: function () { Function('leak = 1')(); },
					arrayProto: function () { Array.prototype.leak = 1; },
					objectProto: function () { Object.prototype.leak = 1; },
					replaceMethod: function () { Array.prototype.map = function () { return 'hijacked'; }; },
					replaceJSON: function () { JSON.parse = function () { return 'hijacked'; }; },
					replaceGlobal: function () { JSON = null; },
					iteratorProto: function () { Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())).leak = 1; },
					consoleObj: function () { console.leak = 1; },
					helper: function () { generateDigest.leak = 1; },
					sessionObj: function () { Session.leak = 1; },
					defineGlobal: function () { Object.defineProperty(globalThis, 'leak', {value: 1}); },
					deleteGlobal: function () { delete globalThis.JSON; },
					errorProto: function () { Error.prototype.leak = 1; },
					functionProto: function () { Function.prototype.leak = 1; },
					promiseThen: function () { Promise.prototype.then = null; },
				};
				let failed = false;
				try { attempts[what](); } catch (e) { failed = e instanceof TypeError; }
				return failed;
			};
			exports.look = function () {
				return [typeof globalThis.leak, typeof [].leak, typeof ({}).leak, [1].map(function (x) { return x; }),
					JSON.parse('1'), typeof JSON, typeof Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())).leak,
					typeof console.leak, typeof Error.prototype.leak, typeof Function.prototype.leak, typeof Promise.prototype.then];
			};
		`,
		"lib/state.js": `exports.n = 0;`,
	}, func(o *Options) { o.PoolSize = 1 })
	s := newFakeSession()
	for range 3 {
		if got, want := mustCall(t, e, sc, s, "count"), []any{float64(1), float64(1)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("count = %v, want %v: module state survived a call", got, want)
		}
	}
	want := mustCall(t, e, sc, s, "look")
	for _, what := range []string{"global", "sloppyGlobal", "arrayProto", "objectProto", "replaceMethod", "replaceJSON",
		"replaceGlobal", "iteratorProto", "consoleObj", "helper", "sessionObj", "defineGlobal", "deleteGlobal",
		"errorProto", "functionProto", "promiseThen"} {
		failed := mustCall(t, e, sc, s, "pollute", what)
		if got := mustCall(t, e, sc, s, "look"); !reflect.DeepEqual(got, want) {
			t.Errorf("after %s: the next call saw %v, want %v", what, got, want)
		}
		if what != "sloppyGlobal" && failed != true {
			t.Errorf("%s: the attempt did not throw a TypeError", what)
		}
	}
}

// TestEverythingReachableIsFrozen walks every object reachable from the
// global object (as harden.js does) after scripts have run, so that an
// intrinsic created lazily by goja after hardening is caught.
func TestEverythingReachableIsFrozen(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.exercise = async function () {
			const s = new Set([1]); const m = new Map([[1, 2]]);
			for (const x of s) {} for (const x of m) {} for (const c of 'ab') {}
			[...'ab'.matchAll(/a/g)]; function* g() { yield 1; } [...g()];
			await Promise.all([1]); new Uint8Array(2).map(function (x) { return x; });
			JSON.stringify({a: [new Date(0)]}); Object.entries({a: 1}); new Proxy({}, {}); Reflect.ownKeys({});
			(function () { return arguments; })(1); new WeakMap(); new WeakSet(); Symbol.for('x');
			try { null.x; } catch (e) { e.stack; }
			return true;
		};
		exports.unfrozen = function () {
			const seen = new Set(); const queue = [globalThis, Session];
			const extra = [function* () {}, async function () {}, [][Symbol.iterator](), new Map()[Symbol.iterator](),
				new Set()[Symbol.iterator](), ''[Symbol.iterator](), ''.matchAll(/a/g), (function () { return arguments; })(),
				Object.getPrototypeOf((function* () {})()), Promise.resolve(), new Uint8Array(1)];
			queue.push(...extra.map(function (v) { return Object.getPrototypeOf(v); }));
			const found = [];
			while (queue.length) {
				const o = queue.pop();
				if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
				seen.add(o);
				if (!Object.isFrozen(o)) found.push(String(o.constructor && o.constructor.name) + ':' + Reflect.ownKeys(o).map(String).join(','));
				queue.push(Object.getPrototypeOf(o));
				for (const k of Reflect.ownKeys(o)) {
					const d = Reflect.getOwnPropertyDescriptor(o, k);
					if ('value' in d) queue.push(d.value); else queue.push(d.get, d.set);
				}
			}
			return found;
		};
	`}, func(o *Options) { o.PoolSize = 1 })
	s := newFakeSession()
	mustCall(t, e, sc, s, "exercise")
	if got := mustCall(t, e, sc, s, "unfrozen"); len(got.([]any)) != 0 {
		t.Errorf("objects reachable by scripts that are not frozen: %v", got)
	}
}

func TestOrdinaryCodeWorksOnFrozenIntrinsics(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.run = function () {
			const err = new Error('x'); err.name = 'AuthError'; err.message = 'changed';
			const dict = {}; dict.constructor = 1; dict.toString = 2; dict.hasOwnProperty = 3; dict.valueOf = 4;
			function Old() {} Old.prototype = {}; Old.prototype.constructor = Old;
			class Account { constructor() { this.n = 1; } toString() { return 'acct'; } }
			const assigned = Object.assign({}, {toString: 'str'});
			return [err.name + ':' + err.message, dict.constructor + dict.toString + dict.hasOwnProperty + dict.valueOf,
				new Old().constructor === Old, String(new Account()), assigned.toString, String(err)];
		};
		exports.protoTarget = function () { Object.prototype.toString = null; };
	`})
	got := mustCall(t, e, sc, nil, "run")
	want := []any{"AuthError:changed", float64(10), true, "acct", "str", "AuthError: changed"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("run = %v, want %v", got, want)
	}
	_, err := e.Call(context.Background(), sc, nil, "DataStore", "protoTarget", nil)
	if se := scriptError(t, err); !strings.Contains(se.Message, "read only") {
		t.Errorf("assigning a built-in's own method: got %v, want a read-only TypeError", err)
	}
}

func TestNoHostAccess(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.globals = function () {
			return ['setTimeout', 'setInterval', 'process', 'global', 'fetch', 'XMLHttpRequest', 'load', 'print', 'os', 'env']
				.filter(function (n) { return typeof globalThis[n] !== 'undefined'; });
		};
		exports.names = function () { return [require.name, Session.setPrivileges.name, console.log.name]; };
	`})
	if got := mustCall(t, e, sc, nil, "globals"); len(got.([]any)) != 0 {
		t.Errorf("host globals present: %v", got)
	}
	if got, want := mustCall(t, e, sc, newFakeSession(), "names"), []any{"require", "setPrivileges", "log"}; !reflect.DeepEqual(got, want) {
		t.Errorf("function names = %v, want %v (no Go names)", got, want)
	}
}

func TestTimeout(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.spin = function () { while (true) {} };
		exports.spinCatching = function () { for (;;) { try { while (true) {} } catch (e) {} } };
		exports.ok = function (n) { return n; };
	`}, func(o *Options) { o.Timeout = 250 * time.Millisecond }) // short, yet long enough for ok under -race on a busy machine

	var wg sync.WaitGroup
	spinErrs := make(chan error, 4)
	for _, name := range []string{"spin", "spinCatching"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := e.Call(context.Background(), sc, nil, "DataStore", name, nil)
			if !errors.Is(err, ErrTimeout) {
				spinErrs <- err
			}
			if d := time.Since(start); d > 5*time.Second {
				spinErrs <- errors.New(name + " ran " + d.String())
			}
		}()
	}
	// Other calls go on while the runaways spin.
	for i := range 50 {
		if got, err := e.Call(context.Background(), sc, nil, "DataStore", "ok", []any{float64(i)}); err != nil || got != float64(i) {
			t.Errorf("ok(%d) during runaway calls = %v, %v", i, got, err)
		}
	}
	wg.Wait()
	close(spinErrs)
	for err := range spinErrs {
		t.Errorf("runaway call: got %v, want ErrTimeout", err)
	}
	_, err := e.Call(context.Background(), sc, nil, "DataStore", "spin", nil)
	if err == nil || !strings.Contains(err.Error(), "DataStore.js:2") {
		t.Errorf("timeout error %v does not say where the script was", err)
	}
	if got := mustCall(t, e, sc, nil, "ok", "after"); got != "after" {
		t.Errorf("after timeouts: got %v, want after", got)
	}
}

func TestCancelledContext(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.spin = function () { while (true) {} };
		exports.hash = function () { return generatePasswordHash('pw', {cost: 31}); };
	`})
	for _, name := range []string{"spin", "hash"} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := e.Call(ctx, sc, nil, "DataStore", name, nil)
			done <- err
		}()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: got %v, want context.Canceled", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: a cancelled call kept running", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Call(ctx, sc, nil, "DataStore", "spin", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("already cancelled: got %v, want context.Canceled", err)
	}
}
