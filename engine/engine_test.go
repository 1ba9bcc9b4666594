package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dop251/goja"
)

func TestExportedFunctions(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js": `
			function secret() { return 'secret'; }
			exports.authentify = function (c) { return secret() + c; };
			exports.list = function () { return 1; };
			exports.list.onHttpGet = true;
			exports.notAFunction = 42;
			exports.truthy = function () {};
			exports.truthy.onHttpGet = 'yes';
		`,
		"Users.js":     `module.exports = { count: function () { return 2; } };`,
		"lib/tools.js": `exports.helper = function () { return 3; };`,
	})
	if got, want := sc.Functions("DataStore"), []FunctionInfo{{"authentify", ModuleScope, false}, {"list", ModuleScope, true}, {"truthy", ModuleScope, false}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Functions(DataStore) = %v, want %v", got, want)
	}
	if got, want := sc.Functions("Users"), []FunctionInfo{{"count", ModuleScope, false}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Functions(Users) = %v, want %v", got, want)
	}
	tests := []struct {
		module, name string
		want         FunctionInfo
		ok           bool
	}{
		{"DataStore", "authentify", FunctionInfo{"authentify", ModuleScope, false}, true},
		{"DataStore", "list", FunctionInfo{"list", ModuleScope, true}, true},
		{"DataStore", "secret", FunctionInfo{}, false},
		{"DataStore", "notAFunction", FunctionInfo{}, false},
		{"Users", "count", FunctionInfo{"count", ModuleScope, false}, true},
		{"users", "count", FunctionInfo{}, false},
		{"lib/tools", "helper", FunctionInfo{}, false},
		{"Nope", "x", FunctionInfo{}, false},
	}
	for _, tt := range tests {
		got, ok := sc.Function(tt.module, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Function(%q, %q) = %v, %v; want %v, %v", tt.module, tt.name, got, ok, tt.want, tt.ok)
		}
		_, err := e.Call(context.Background(), sc, nil, tt.module, tt.name, nil)
		if gotNo := errors.Is(err, ErrNoFunction); gotNo == tt.ok {
			t.Errorf("Call(%q, %q): got error %v, want ErrNoFunction %v", tt.module, tt.name, err, !tt.ok)
		}
	}
	if got, want := mustCall(t, e, sc, nil, "authentify", "!"), "secret!"; got != want {
		t.Errorf("authentify = %v, want %v", got, want)
	}
	if got, want := sc.Modules(), []string{"DataStore", "Users"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Modules() = %v, want %v", got, want)
	}
	sc.Modules()[0] = "changed"
	sc.Functions("DataStore")[0].Name = "changed"
	if got := sc.Modules()[0]; got != "DataStore" {
		t.Errorf("Modules() shares its slice: %q after a change to a copy", got)
	}
	if got := sc.Functions("DataStore")[0].Name; got != "authentify" {
		t.Errorf("Functions() shares its slice: %q after a change to a copy", got)
	}
	for module, want := range map[string]bool{"DataStore": true, "Users": true, "users": false, "lib/tools": false, "tools": false} {
		if got := sc.Has(module); got != want {
			t.Errorf("Has(%q) = %v, want %v", module, got, want)
		}
	}
}

func TestMissingScriptsFolder(t *testing.T) {
	for _, dir := range []string{"", filepath.Join(t.TempDir(), "absent")} {
		e, sc, err := load(Options{Dir: dir})
		if err != nil {
			t.Fatalf("load(%q): %v", dir, err)
		}
		checkEmpty(t, e, sc)
	}
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, e, nil) // a nil *Scripts is the empty set
}

// checkEmpty asserts that sc has no scripts.
func checkEmpty(t *testing.T, e *Engine, sc *Scripts) {
	t.Helper()
	if sc.HasAuthentication() {
		t.Errorf("HasAuthentication() = true, want false")
	}
	if got := sc.Modules(); len(got) != 0 {
		t.Errorf("Modules() = %v, want none", got)
	}
	if sc.Has("DataStore") {
		t.Errorf("Has(DataStore) = true, want false")
	}
	if got := sc.Functions("DataStore"); got != nil {
		t.Errorf("Functions(DataStore) = %v, want nil", got)
	}
	if _, ok := sc.Function("DataStore", "x"); ok {
		t.Errorf("Function(DataStore, x) found")
	}
	if _, err := e.Call(context.Background(), sc, nil, "DataStore", "x", nil); !errors.Is(err, ErrNoFunction) {
		t.Errorf("Call: got %v, want ErrNoFunction", err)
	}
	if _, err := e.Authenticate(context.Background(), sc, nil, "u", "p", false, "ip"); !errors.Is(err, ErrNoFunction) {
		t.Errorf("Authenticate: got %v, want ErrNoFunction", err)
	}
}

func TestRequire(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js": `
			const a = require('./lib/a');
			const b = require('./lib/b.js');
			const pkg = require('./lib/pkg');
			exports.all = function () { return [a.name, b.name, pkg.name, a.fromB, a.viaCycle]; };
			exports.load = function (spec) { return require(spec); };
			exports.globalRequire = function () { return globalThis.require('./lib/b').name; };
			exports.meta = function () { return [a.file, a.dir]; };
		`,
		"lib/a.js":         `const b = require('./b'); exports.name = 'a'; exports.fromB = b.name; exports.viaCycle = require('../lib/cycle').value; exports.file = __filename; exports.dir = __dirname;`,
		"lib/b.js":         `exports.name = 'b';`,
		"lib/pkg/index.js": `exports.name = 'pkg';`,
		"lib/cycle.js":     `exports.value = 'early'; const back = require('./cycle2'); exports.value = 'cycle:' + back.sawValue;`,
		"lib/cycle2.js":    `exports.sawValue = require('./cycle').value;`,
		"lib/broken.js":    `throw new Error('broken module');`,
	})
	if got, want := mustCall(t, e, sc, nil, "all"), []any{"a", "b", "pkg", "b", "cycle:early"}; !reflect.DeepEqual(got, want) {
		t.Errorf("all = %v, want %v", got, want)
	}
	if got, want := mustCall(t, e, sc, nil, "globalRequire"), "b"; got != want {
		t.Errorf("globalRequire = %v, want %v", got, want)
	}
	if got, want := mustCall(t, e, sc, nil, "meta"), []any{"lib/a.js", "lib"}; !reflect.DeepEqual(got, want) {
		t.Errorf("meta = %v, want %v", got, want)
	}
	refused := []struct{ spec, want string }{
		{"../../etc/passwd", "outside the scripts folder"},
		{"../DataStore", "outside the scripts folder"},
		{"/etc/passwd", "only relative paths"},
		{"fs", "only relative paths"},
		{"lib/b", "only relative paths"},
		{"./lib/missing", "no such module"},
		{"./lib", "no such module"},
		{"./lib/b.json", "no such module"},
	}
	for _, tt := range refused {
		_, err := e.Call(context.Background(), sc, nil, "DataStore", "load", []any{tt.spec})
		se := scriptError(t, err)
		if !strings.Contains(se.Message, tt.want) || se.File != "DataStore.js" || se.Line != 6 {
			t.Errorf("require(%q): got %v, want a DataStore.js:6 error containing %q", tt.spec, se, tt.want)
		}
	}
	_, err := e.Call(context.Background(), sc, nil, "DataStore", "load", []any{"./lib/broken"})
	if se := scriptError(t, err); se.File != "lib/broken.js" || se.Line != 1 || se.Message != "broken module" {
		t.Errorf("require of a throwing module: got %#v, want lib/broken.js:1 broken module", se)
	}
}

func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"evil.js": `exports.v = 'evil';`, "dir/y.js": `exports.v = 'y';`})
	tests := []struct {
		name    string
		link    string // link name in the scripts folder
		target  func(scripts string) string
		require string // a path that works when the set loads
		wantErr string
	}{
		{"FileOutside", "lib/evil.js", func(string) string { return filepath.Join(outside, "evil.js") }, "", "lib/evil.js: symbolic link leads outside the scripts folder"},
		{"RelativeFileOutside", "lib/evil.js", func(s string) string { return relTo(t, filepath.Join(s, "lib"), filepath.Join(outside, "evil.js")) }, "", "lib/evil.js: symbolic link leads outside the scripts folder"},
		{"DirOutside", "lib/ext", func(string) string { return filepath.Join(outside, "dir") }, "", "lib/ext: symbolic link leads outside the scripts folder"},
		{"Loop", "lib/loop", func(string) string { return "../lib" }, "", "lib/loop: symbolic link loop"},
		{"LoopToTop", "lib/top", func(string) string { return ".." }, "", "lib/top: symbolic link loop"},
		{"FileInside", "lib/alias.js", func(string) string { return "real.js" }, "./lib/alias", ""},
		{"DirInside", "shared", func(string) string { return "lib" }, "./shared/real", ""},
		{"AbsoluteInside", "lib/alias.js", func(s string) string { return filepath.Join(s, "lib", "real.js") }, "", "lib/alias.js: absolute symbolic link"},
		{"Broken", "lib/gone.js", func(string) string { return "../nothing.js" }, "", "lib/gone.js: broken symbolic link"},
		{"DeviceOutside", "z.js", func(string) string { return "/dev/zero" }, "", "z.js: symbolic link leads outside the scripts folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"DataStore.js": `exports.f = function (p) { return require(p).v; };`,
				"lib/real.js":  `exports.v = 'real';`,
			})
			if err := os.Symlink(tt.target(dir), filepath.Join(dir, filepath.FromSlash(tt.link))); err != nil {
				t.Fatal(err)
			}
			e, sc, err := load(Options{Dir: dir})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := mustCall(t, e, sc, nil, "f", tt.require); got != "real" {
					t.Errorf("f(%q) = %v, want real", tt.require, got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load: got %v, want an error containing %q", err, tt.wantErr)
			}
			if sc != nil {
				t.Errorf("Load returned a set with its error")
			}
		})
	}
}

// relTo returns target relative to dir.
func relTo(t *testing.T, dir, target string) string {
	t.Helper()
	rel, err := filepath.Rel(dir, target)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

func TestThrownErrors(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js": `const users = require('./lib/users');
exports.plain = function () {
  throw new Error('plain failure');
};
exports.exposed = function () {
  const err = new Error('Wrong password');
  err.expose = true;
  throw err;
};
exports.exposeNotTrue = function () { const e = new Error('no'); e.expose = 'yes'; throw e; };
exports.string = function () { throw 'just a string'; };
exports.object = function () { throw {message: 'object message', expose: true}; };
exports.typeError = function () { const x = null; return x.y; };
exports.inLib = function () { return users.find(); };
exports.first = function () { throw new RangeError('line one'); }; exports.pad = 1;
exports.rejected = async function () { await null; throw new Error('async failure'); };
exports.pending = function () { return new Promise(function () {}); };
exports.badToString = function () { throw { toJSON() { throw 1; }, toString() { throw new Error('nested'); } }; };
`,
		"lib/users.js": `
exports.find = function () {
  throw new TypeError('no users table');
};`,
	})
	tests := []struct {
		name      string
		file      string
		line, col int
		message   string
		expose    bool
	}{
		{"plain", "DataStore.js", 3, 9, "plain failure", false},
		{"exposed", "DataStore.js", 6, 15, "Wrong password", true},
		{"exposeNotTrue", "DataStore.js", 10, 49, "no", false},
		{"string", "DataStore.js", 11, 0, "just a string", false},
		{"object", "DataStore.js", 12, 0, "object message", true},
		{"typeError", "DataStore.js", 13, 60, "Cannot read property 'y' of undefined", false},
		{"inLib", "lib/users.js", 3, 9, "no users table", false},
		{"rejected", "DataStore.js", 16, 0, "async failure", false},
		{"pending", "DataStore.js", 0, 0, "the function returned a promise that never settled (there are no timers or I/O to wait for)", false},
		{"badToString", "DataStore.js", 0, 0, "[value that cannot be printed]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Call(context.Background(), sc, nil, "DataStore", tt.name, nil)
			se := scriptError(t, err)
			if se.File != tt.file || se.Message != tt.message || se.Expose != tt.expose {
				t.Errorf("got %s (expose %v), want %s: %s (expose %v)", se, se.Expose, tt.file, tt.message, tt.expose)
			}
			if tt.line != 0 && se.Line != tt.line {
				t.Errorf("line: got %d, want %d", se.Line, tt.line)
			}
			if tt.col != 0 && se.Column != tt.col {
				t.Errorf("column: got %d, want %d", se.Column, tt.col)
			}
		})
	}
	// The wrapper must not shift columns on the first line.
	e2, sc2 := newTestEngine(t, map[string]string{"DataStore.js": `exports.f = function () { throw new Error('x'); };`})
	_, err := e2.Call(context.Background(), sc2, nil, "DataStore", "f", nil)
	if se := scriptError(t, err); se.Line != 1 || se.Column != 33 {
		t.Errorf("first line: got %d:%d, want 1:33", se.Line, se.Column)
	}
}

func TestThrownErrorStack(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js": "const u = require('./lib/u');\nexports.f = function outer() { return u.inner(); };\n",
		"lib/u.js":     "exports.inner = function inner() {\n  throw new Error('deep');\n};\n",
	})
	_, err := e.Call(context.Background(), sc, nil, "DataStore", "f", nil)
	se := scriptError(t, err)
	want := "at inner (lib/u.js:2:9)\nat outer (DataStore.js:2:46)"
	if se.Stack != want {
		t.Errorf("Stack:\n%s\nwant:\n%s", se.Stack, want)
	}
	if got, want := se.Error(), "lib/u.js:2:9: deep"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestStackOverflow(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		function down(n) { return down(n + 1) + 1; }
		exports.recurse = function () { return down(0); };
		exports.caught = function () { try { return down(0); } catch (e) { return 'caught'; } };
		exports.ok = function () { return 'ok'; };
	`}, func(o *Options) { o.MaxCallStack = 200 })
	for _, name := range []string{"recurse", "caught"} {
		_, err := e.Call(context.Background(), sc, nil, "DataStore", name, nil)
		se := scriptError(t, err)
		if !errors.Is(err, ErrStackOverflow) || se.File != "DataStore.js" || se.Line != 2 {
			t.Errorf("%s: got %v, want ErrStackOverflow at DataStore.js:2", name, err)
		}
	}
	if got := mustCall(t, e, sc, nil, "ok"); got != "ok" {
		t.Errorf("after overflow: got %v, want ok", got)
	}
}

func TestSyntaxErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"DataStore.js":     "exports.f = function () {\n  return 1 +;\n};\n",
		"lib/bad.js":       "const x = ;",
		"lib/strict.js":    "exports.f = function () {\n  with (Math) { return PI; }\n};",
		"lib/good.js":      "exports.ok = true;",
		"lib/escape.js":    "}); globalThis.x = 1; (function () {",
		"Users.js":         "export default function () {}",
		"notes.txt":        "not a script {",
		".hidden/trash.js": "{{{",
	})
	_, sc, err := load(Options{Dir: dir})
	var list ErrorList
	if !errors.As(err, &list) || sc != nil {
		t.Fatalf("Load: got %v, %v (%T), want no set and an ErrorList", sc, err, err)
	}
	want := map[string]int{"DataStore.js": 2, "Users.js": 1, "lib/bad.js": 1, "lib/escape.js": 1, "lib/strict.js": 2}
	got := map[string]int{}
	for _, se := range list {
		if _, dup := got[se.File]; !dup {
			got[se.File] = se.Line
		}
		if !strings.Contains(se.Message, "SyntaxError") {
			t.Errorf("%s: message %q does not say SyntaxError", se, se.Message)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files:lines with errors = %v, want %v\n%v", got, want, err)
	}
	if !strings.Contains(err.Error(), "DataStore.js:2:") {
		t.Errorf("Error() = %q, want file:line:column", err.Error())
	}
}

func TestLoadTimeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"TopLevelThrow", map[string]string{"DataStore.js": "\nthrow new Error('at load');"}, "DataStore.js:2:7: at load"},
		{"AuthNotAFunction", map[string]string{"onRESTAuthentication.js": "exports.x = 1;"}, "onRESTAuthentication.js: module.exports must be a function"},
		{"HostGlobalAtLoad", map[string]string{"DataStore.js": "const users = ds.Users;"}, "DataStore.js:1:15: ds is not available while modules load"},
		{"LoopAtLoad", map[string]string{"DataStore.js": "while (true) {}"}, "script timed out"},
		{"RequireMissingAtLoad", map[string]string{"DataStore.js": "require('./lib/none');"}, `require("./lib/none"): no such module`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			_, _, err := load(Options{Dir: dir, Timeout: 200 * time.Millisecond, Globals: []Global{valueGlobal{"ds", nil}}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestReloadKeepsPreviousSetOnError(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"DataStore.js": `exports.version = function () { return 1; };`})
	e, sc, err := load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}

	writeFiles(t, dir, map[string]string{"DataStore.js": "exports.version = function () {\n  return 2 +;\n};"})
	bad, err := e.Load(context.Background())
	if se := scriptError(t, err); se.File != "DataStore.js" || se.Line != 2 {
		t.Errorf("Load: got %v, want a syntax error at DataStore.js:2", err)
	}
	if bad != nil {
		t.Errorf("Load returned a set with its error")
	}
	if got := mustCall(t, e, sc, nil, "version"); got != float64(1) {
		t.Errorf("after a rejected reload: version = %v, want 1", got)
	}

	writeFiles(t, dir, map[string]string{"DataStore.js": `exports.version = function () { return 2; }; exports.added = function () {};`})
	next, err := e.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := mustCall(t, e, next, nil, "version"); got != float64(2) {
		t.Errorf("after reload: version = %v, want 2", got)
	}
	if _, ok := next.Function("DataStore", "added"); !ok {
		t.Error("Function(added) after reload: not found")
	}
	// The old set is a value: it is unchanged by the new one.
	if got := mustCall(t, e, sc, nil, "version"); got != float64(1) {
		t.Errorf("old set after reload: version = %v, want 1", got)
	}
	if _, ok := sc.Function("DataStore", "added"); ok {
		t.Error("old set: Function(added) found")
	}
}

// TestLoadCancelled: a reload whose context ends stops, with the context's error.
func TestLoadCancelled(t *testing.T) {
	e, _ := newTestEngine(t, map[string]string{"DataStore.js": `exports.f = function () {};`})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if sc, err := e.Load(ctx); !errors.Is(err, context.Canceled) || sc != nil {
		t.Errorf("Load with a cancelled context: got %v, %v; want context.Canceled", sc, err)
	}

	// Top-level code that loops is stopped by the cancellation, not by the
	// timeout (that would be ErrTimeout).
	logged := &signalHandler{ch: make(chan struct{}, 1)}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"DataStore.js": `console.log('looping'); while (true) {}`})
	e, err := New(Options{Dir: dir, Logger: slog.New(logged)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Load(ctx)
		done <- err
	}()
	<-logged.ch // the module's top level runs
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Load cancelled while a module loops: got %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Load did not stop when its context was cancelled")
	}
}

// signalHandler is a slog.Handler that signals each record.
type signalHandler struct{ ch chan struct{} }

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(context.Context, slog.Record) error {
	select {
	case h.ch <- struct{}{}:
	default:
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }

func TestCallsDuringReload(t *testing.T) {
	dir := t.TempDir()
	version := func(n int) map[string]string {
		return map[string]string{
			"DataStore.js": fmt.Sprintf("const lib = require('./lib/v');\nexports.v = function () { return [%d, lib.v]; };", n),
			"lib/v.js":     fmt.Sprintf("exports.v = %d;", n),
		}
	}
	writeFiles(t, dir, version(1))
	e, first, err := load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The caller's pointer, as the server keeps it: each call pins one set.
	var active atomic.Pointer[Scripts]
	active.Store(first)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				out, err := e.Call(context.Background(), active.Load(), nil, "DataStore", "v", nil)
				if err != nil {
					errs <- err
					return
				}
				pair := out.([]any)
				// Both numbers come from one set, though files change under it.
				if pair[0] != pair[1] {
					errs <- fmt.Errorf("mixed versions %v", pair)
					return
				}
			}
		}()
	}
	for i := 2; i < 30; i++ {
		writeFiles(t, dir, version(i))
		sc, err := e.Load(context.Background())
		if err != nil {
			t.Fatalf("Load %d: %v", i, err)
		}
		active.Store(sc)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := mustCall(t, e, active.Load(), nil, "v"), []any{float64(29), float64(29)}; !reflect.DeepEqual(got, want) {
		t.Errorf("final = %v, want %v", got, want)
	}
	if got, want := mustCall(t, e, first, nil, "v"), []any{float64(1), float64(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("first set after the reloads = %v, want %v", got, want)
	}
}

// TestCallInFlightKeepsItsSet: a call that started before a reload finishes
// on the set it was given, modules it requires after the reload included.
func TestCallInFlightKeepsItsSet(t *testing.T) {
	h := &holdGlobal{reached: make(chan struct{}, 1), release: make(chan struct{})}
	dir := t.TempDir()
	files := func(n int) map[string]string {
		return map[string]string{
			"DataStore.js": fmt.Sprintf("exports.v = function () { hold; return [%d, require('./lib/v').v]; };", n),
			"lib/v.js":     fmt.Sprintf("exports.v = %d;", n),
		}
	}
	writeFiles(t, dir, files(1))
	e, old, err := load(Options{Dir: dir, Globals: []Global{h}})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out any
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := e.Call(context.Background(), old, nil, "DataStore", "v", nil)
		done <- result{out, err}
	}()
	<-h.reached // the call runs, on the old set

	writeFiles(t, dir, files(2))
	next, err := e.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	close(h.release)
	r := <-done
	if want := []any{float64(1), float64(1)}; r.err != nil || !reflect.DeepEqual(r.out, want) {
		t.Errorf("call in flight: got %v, %v; want %v", r.out, r.err, want)
	}
	if got, want := mustCall(t, e, next, nil, "v"), []any{float64(2), float64(2)}; !reflect.DeepEqual(got, want) {
		t.Errorf("new set: got %v, want %v", got, want)
	}
}

// hostValue is a Go value a Global hands to scripts.
type hostValue struct{ Name string }

// valueGlobal is a Global that wraps a Go value; it counts its Value calls.
type valueGlobal struct {
	name  string
	calls *atomic.Int32
}

func (g valueGlobal) Name() string { return g.name }
func (g valueGlobal) Value(ctx context.Context, vm *goja.Runtime) (goja.Value, error) {
	if g.calls != nil {
		g.calls.Add(1)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return vm.ToValue(&hostValue{Name: "entity"}), nil
}

// failingGlobal is a Global whose Value fails.
type failingGlobal struct{}

func (failingGlobal) Name() string { return "broken" }
func (failingGlobal) Value(context.Context, *goja.Runtime) (goja.Value, error) {
	return nil, errors.New("database closed")
}

func TestResults(t *testing.T) {
	var calls atomic.Int32
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.echo = function (v) { return v; };
		exports.undef = function () {};
		exports.nested = function () { return {a: [1, 'two', true, null, {b: -2.5}], u: undefined, arr: [undefined]}; };
		exports.date = function () { return new Date(Date.UTC(2024, 0, 2, 3, 4, 5)); };
		exports.toJSON = function () { return {toJSON: function () { return 'custom'; }}; };
		exports.nan = function () { return {x: [1, NaN]}; };
		exports.inf = function () { return Infinity; };
		exports.fn = function () { return {f: function () {}}; };
		exports.sym = function () { return Symbol('s'); };
		exports.big = function () { return 10n; };
		exports.cycle = function () { const o = {}; o.self = o; return o; };
		exports.shared = function () { const o = {v: 1}; return [o, o]; };
		exports.map = function () { return new Map(); };
		exports.set = function () { return [new Set()]; };
		exports.regexp = function () { return /x/; };
		exports.promise = function () { return {p: Promise.resolve(1)}; };
		exports.async = async function () { return {done: await Promise.resolve(7)}; };
		exports.getterThrows = function () { return {get x() { throw new Error('getter'); }}; };
		exports.host = function () { return ds; };
		exports.hostField = function () { return ds.Name; };
		exports.hostTwice = function () { return ds === ds; };
		exports.broken = function () { return broken; };
		exports.proto = function (o) { return [Object.getPrototypeOf(o) === Object.prototype, Object.keys(o)]; };
	`}, func(o *Options) { o.Globals = []Global{valueGlobal{"ds", &calls}, failingGlobal{}} })

	jsonTypes := []any{nil, "text", "", float64(0), float64(-1.5), float64(1e21), true, false,
		[]any{}, map[string]any{}, []any{"a", float64(1), nil, []any{true}}, map[string]any{"k": map[string]any{"n": nil}}}
	for _, v := range jsonTypes {
		got, err := e.Call(context.Background(), sc, nil, "DataStore", "echo", []any{v})
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("echo(%#v) = %#v, %v; want the same value", v, got, err)
		}
	}
	ok := []struct {
		name string
		want any
	}{
		{"undef", nil},
		{"nested", map[string]any{"a": []any{float64(1), "two", true, nil, map[string]any{"b": -2.5}}, "arr": []any{nil}}},
		{"date", "2024-01-02T03:04:05.000Z"},
		{"toJSON", "custom"},
		{"shared", []any{map[string]any{"v": float64(1)}, map[string]any{"v": float64(1)}}},
		{"async", map[string]any{"done": float64(7)}},
		{"host", &hostValue{Name: "entity"}},
		{"hostField", "entity"},
		{"hostTwice", true},
	}
	for _, tt := range ok {
		if got := mustCall(t, e, sc, nil, tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, got, tt.want)
		}
	}
	notJSON := []struct{ name, want string }{
		{"nan", "result.x[1] is NaN"},
		{"inf", "result is +Inf"},
		{"fn", "result.f is a function"},
		{"sym", "result is a symbol"},
		{"big", "result is a BigInt"},
		{"cycle", "result.self is a cycle"},
		{"map", "result is a Map"},
		{"set", "result[0] is a Set"},
		{"regexp", "result is a RegExp"},
		{"promise", "result.p is a Promise"},
	}
	for _, tt := range notJSON {
		_, err := e.Call(context.Background(), sc, nil, "DataStore", tt.name, nil)
		var se *ScriptError
		if !errors.As(err, &se) || !errors.Is(err, ErrNotSerialisable) || !strings.HasSuffix(se.Message, tt.want) {
			t.Errorf("%s: got %v, want ErrNotSerialisable ending %q", tt.name, err, tt.want)
		}
	}
	_, err := e.Call(context.Background(), sc, nil, "DataStore", "getterThrows", nil)
	if se := scriptError(t, err); se.Message != "getter" {
		t.Errorf("getterThrows: got %v, want the getter's error", err)
	}
	_, err = e.Call(context.Background(), sc, nil, "DataStore", "broken", nil)
	var se *ScriptError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "database closed") {
		t.Errorf("broken global: got %v, want an internal error naming the cause", err)
	}
	got := mustCall(t, e, sc, nil, "proto", map[string]any{"__proto__": map[string]any{"x": 1.0}, "a": 1.0})
	if keys := got.([]any)[1].([]any); got.([]any)[0] != true || len(keys) != 2 {
		t.Errorf(`proto({"__proto__":..}) = %v, want a plain object with 2 own keys`, got)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("Global.Value calls = %d, want 3 (once per call that reads ds)", n)
	}
}

func TestAuthenticate(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"onRESTAuthentication.js": `
		module.exports = function (user, password, isDigest, ip) {
			if (user === 'throw') throw new Error('auth failed');
			if (user === 'truthy') return 1;
			if (user === 'async') return Promise.resolve(true);
			return user === 'bob' && password === 'secret' && isDigest === false && ip === '10.0.0.1';
		};
	`})
	if !sc.HasAuthentication() {
		t.Fatal("HasAuthentication() = false, want true")
	}
	tests := []struct {
		user, password string
		want           bool
	}{
		{"bob", "secret", true},
		{"bob", "wrong", false},
		{"truthy", "", false},
		{"async", "", true},
	}
	for _, tt := range tests {
		got, err := e.Authenticate(context.Background(), sc, newFakeSession(), tt.user, tt.password, false, "10.0.0.1")
		if err != nil || got != tt.want {
			t.Errorf("Authenticate(%q, %q) = %v, %v; want %v", tt.user, tt.password, got, err, tt.want)
		}
	}
	if _, err := e.Authenticate(context.Background(), sc, nil, "throw", "", false, ""); scriptError(t, err).Message != "auth failed" {
		t.Errorf("throwing authentication: got %v", err)
	}
}

func TestArgumentsAreFreshEachCall(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.mutate = function (o) { o.added = true; o.list.push(1); return o; };
	`})
	arg := map[string]any{"list": []any{}}
	got := mustCall(t, e, sc, nil, "mutate", arg)
	if want := map[string]any{"added": true, "list": []any{float64(1)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("mutate = %v, want %v", got, want)
	}
	if len(arg) != 1 || len(arg["list"].([]any)) != 0 {
		t.Errorf("the Go argument was changed: %v", arg)
	}
}

func TestNewRejectsBadGlobals(t *testing.T) {
	for _, name := range []string{"JSON", "Session", "require", "module", "not-an-identifier", ""} {
		_, err := New(Options{Globals: []Global{valueGlobal{name: name}}})
		if err == nil {
			t.Errorf("New with global %q: got nil error, want a refusal", name)
		}
	}
	_, err := New(Options{Globals: []Global{valueGlobal{name: "ds"}, valueGlobal{name: "ds"}}})
	if err == nil {
		t.Error("New with a duplicate global: got nil error")
	}
}

func BenchmarkCall(b *testing.B) {
	e, sc := newTestEngine(b, map[string]string{"DataStore.js": `exports.ping = function (x) { return x; };`})
	ctx := context.Background()
	args := []any{"pong"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Call(ctx, sc, nil, "DataStore", "ping", args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallWithSession(b *testing.B) {
	e, sc := newTestEngine(b, map[string]string{
		"DataStore.js": `const users = require('./lib/users');
exports.authentify = function (c) {
  if (!users.check(c.user, c.password)) return false;
  Session.storage.visits = (Session.storage.visits || 0) + 1;
  return Session.setPrivileges({privileges: ['reader'], userName: c.user});
};`,
		"lib/users.js": `const known = {bob: 'secret'}; exports.check = function (u, p) { return known[u] === p; };`,
	})
	ctx := context.Background()
	args := []any{map[string]any{"user": "bob", "password": "secret"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Call(ctx, sc, newFakeSession(), "DataStore", "authentify", args); err != nil {
			b.Fatal(err)
		}
	}
}
