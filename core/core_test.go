package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/engine"
	"gatehouse/internal/testkit"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// newApp builds a core over a real engine and a real memory store, for the app folder
// files (name -> text).
func newApp(t *testing.T, files map[string]string, licences int) (*App, string) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	eng, err := engine.New(engine.Options{Dir: filepath.Join(dir, "scripts"), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock()
	store := sessions.NewMemoryStore(1000)
	mgr := sessions.NewManager(sessions.Config{Store: store, Now: clock.Now, Licences: licences})
	t.Cleanup(func() { mgr.Close() })
	a, err := New(t.Context(), Config{Dir: dir, Engine: eng, Sessions: mgr,
		Throttle: sessions.NewThrottle(store, sessions.ThrottleConfig{Now: clock.Now})})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, dir
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	testModel = `{"dataClasses":[{"name":"Things","attributes":[
		{"name":"ID","type":"long","primaryKey":true},{"name":"secret","type":"string"}]}]}`
	testRoles = `{"privileges":[{"privilege":"vip"}],"permissions":{"allowed":[
		{"applyTo":"Things.secret","type":"attribute","read":["vip"]},
		{"applyTo":"ds.hello","type":"method","execute":["vip"]},
		{"applyTo":"Things.count","type":"method","execute":["vip"]}]}}`
	testDataStore = `exports.hello = function () { return "hi"; };
exports.authentify = function (who) { return Session.setPrivileges(who === "kim" ? "vip" : []); };`
	testThings = `exports.count = function () { return 1; };`
)

func testFiles() map[string]string {
	return map[string]string{"model.json": testModel, "roles.json": testRoles,
		"scripts/DataStore.js": testDataStore, "scripts/Things.js": testThings}
}

func TestResolve(t *testing.T) {
	files := testFiles()
	files["scripts/Things.js"] = testThings + `exports.entity = {label: function () {}}; exports.selection = {sum: function () {}};`
	files["scripts/singletons/Cart.js"] = `exports.add = function () {};`
	a, _ := newApp(t, files, 0)
	g := a.Generation()
	tests := []struct {
		name       string
		kind       FuncKind
		dc, fn     string
		wantModule string
		wantRes    roles.Resource
		wantEntry  bool
	}{
		{"DatastoreFunction", DatastoreFunction, "", "hello", "DataStore", roles.MethodResource("", "hello"), false},
		{"Authentify", DatastoreFunction, "", "authentify", "DataStore", roles.MethodResource("", "authentify"), true},
		{"DataClassFunction", DataClassFunction, "Things", "count", "Things", roles.MethodResource("Things", "count"), false},
		{"EntityFunction", EntityFunction, "Things", "label", "Things", roles.MethodResource("Things", "label"), false},
		{"SelectionFunction", SelectionFunction, "Things", "sum", "Things", roles.MethodResource("Things", "sum"), false},
		{"SingletonFunction", SingletonFunction, "Cart", "add", "singletons/Cart", roles.SingletonMethodResource("Cart", "add"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.Resolve(tt.kind, tt.dc, tt.fn)
			if err != nil {
				t.Fatal(err)
			}
			if got.Module != tt.wantModule || got.Resource != tt.wantRes || got.entry != tt.wantEntry {
				t.Fatalf("got %+v, want module %s resource %v entry %v", got, tt.wantModule, tt.wantRes, tt.wantEntry)
			}
		})
	}
	for _, bad := range []struct {
		kind   FuncKind
		dc, fn string
	}{
		{DatastoreFunction, "", "nothing"},
		{DataClassFunction, "Things", "hello"},    // a datastore function is no dataclass function
		{DataClassFunction, "DataStore", "hello"}, // the reserved module is never a dataclass
		{DataClassFunction, "Nothing", "count"},
		{DataClassFunction, "Things", "label"}, // an entity function is no dataclass function
		{EntityFunction, "Things", "count"},
		{SelectionFunction, "Things", "label"},
		{SingletonFunction, "Cart", "nothing"},
		{SingletonFunction, "singletons/Cart", "add"},
		{SingletonFunction, "../Cart", "add"},
	} {
		if _, err := g.Resolve(bad.kind, bad.dc, bad.fn); !errors.Is(err, ErrUnknownFunction) {
			t.Errorf("Resolve(%v, %q, %q) = %v, want ErrUnknownFunction", bad.kind, bad.dc, bad.fn, err)
		}
	}
}

func TestGenerationRejectsAsAWhole(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string
		remove  string
		wantErr string
	}{
		{"DanglingAttribute", map[string]string{"roles.json": strings.Replace(testRoles, "Things.secret", "Things.secrt", 1)}, "", `"Things.secrt" (attribute): no such attribute`},
		{"DanglingFunction", map[string]string{"scripts/Things.js": `exports.other = function () {};`}, "", `exports no function "count"`},
		{"ReservedDataClass", map[string]string{"model.json": strings.Replace(testModel, `"Things"`, `"DataStore"`, 1),
			"roles.json": `{}`}, "", `may not be named "DataStore"`},
		{"RolesRemoved", nil, "roles.json", "roles.json was removed"},
		{"ModelRemoved", nil, "model.json", "model.json was removed"},
		{"DataStoreRemoved", map[string]string{"roles.json": `{"permissions":{"allowed":[{"applyTo":"Things.secret","type":"attribute","read":[]}]}}`},
			"scripts/DataStore.js", "scripts/DataStore.js was removed"},
		{"BadScript", map[string]string{"scripts/Things.js": `exports.count = function ( {`}, "", "Things.js"},
		{"EntityFunctionOfNoDataClass", map[string]string{"scripts/Thing.js": `exports.entity = {f: function () {}};`}, "", `exports.entity.f: there is no dataclass "Thing"`},
		{"SelectionFunctionOfNoDataClass", map[string]string{"scripts/Thing.js": `exports.selection = {f: function () {}};`}, "", `exports.selection.f: there is no dataclass "Thing"`},
		{"SingletonClashesWithDataClass", map[string]string{"scripts/singletons/Things.js": `exports.f = function () {};`}, "", `singleton "Things" clashes`},
		{"SingletonClashesWithDataStore", map[string]string{"scripts/singletons/DataStore.js": `exports.f = function () {};`}, "", `singleton "DataStore" clashes`},
		{"SingletonNotAnIdentifier", map[string]string{"scripts/singletons/my-cart.js": `exports.f = function () {};`}, "", `must be an identifier`},
		{"DanglingSingleton", map[string]string{"roles.json": strings.Replace(testRoles, `]}}`, `,{"applyTo":"Cart","type":"singleton","execute":[]}]}}`, 1)}, "", `"Cart" (singleton): no scripts/singletons/Cart.js`},
		{"DanglingSingletonMethod", map[string]string{"scripts/singletons/Cart.js": `exports.add = function () {};`,
			"roles.json": strings.Replace(testRoles, `]}}`, `,{"applyTo":"Cart.pay","type":"singletonMethod","execute":[]}]}}`, 1)}, "", `exports no function "pay"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newApp(t, testFiles(), 0)
			before := a.Generation()
			writeFiles(t, dir, tt.change)
			if tt.remove != "" {
				if err := os.Remove(filepath.Join(dir, filepath.FromSlash(tt.remove))); err != nil {
					t.Fatal(err)
				}
			}
			err := a.Reload(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("reload: %v, want an error containing %s", err, tt.wantErr)
			}
			if a.Generation() != before || a.LastReloadError() == nil {
				t.Fatal("a rejected generation came into force")
			}
		})
	}
}

func TestReloadSwapsOneGeneration(t *testing.T) {
	a, dir := newApp(t, testFiles(), 0)
	before := a.Generation()
	writeFiles(t, dir, map[string]string{"roles.json": strings.Replace(testRoles, `"execute":["vip"]}]}`, `"execute":[]}]}`, 1)})
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := a.Generation()
	if after == before || after.Seq != before.Seq+1 || a.LastReloadError() != nil {
		t.Fatalf("generation %d -> %d, last error %v", before.Seq, after.Seq, a.LastReloadError())
	}
	if after.ModelChanged(before) {
		t.Error("model.json did not change, yet the schema step would run")
	}
	// A request keeps the generation it pinned.
	req := a.NewRequest("127.0.0.1", Presented{}, false)
	writeFiles(t, dir, map[string]string{"roles.json": testRoles})
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if req.Gen != after {
		t.Fatal("a request's generation changed under it")
	}
}

func TestReloadCancelled(t *testing.T) {
	a, dir := newApp(t, testFiles(), 0)
	writeFiles(t, dir, map[string]string{"scripts/Things.js": testThings + "\nwhile (true) {}"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.Reload(ctx); err == nil {
		t.Fatal("a cancelled reload was accepted")
	}
}

func TestAbandonUndoesWhatARefusedRequestOpened(t *testing.T) {
	a, _ := newApp(t, testFiles(), 2)
	ctx := t.Context()
	req := a.NewRequest("127.0.0.1", Presented{}, false)
	if _, err := req.Open(ctx, Member); err != nil {
		t.Fatal(err)
	}
	if req.Cookie().Set == "" {
		t.Fatal("an opened session is not sent to the client")
	}
	if err := req.Abandon(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c := req.Cookie(); c.Set != "" {
		t.Fatalf("cookie after Abandon: %+v", c)
	}
	if st, _ := a.Sessions().Stats(ctx); st.Sessions != 0 || st.Licensed != 0 {
		t.Fatalf("Abandon left %+v", st)
	}
	// A session the client already had is never closed by a refusal.
	first := a.NewRequest("127.0.0.1", Presented{}, false)
	sess, _ := first.Open(ctx, Member)
	again := a.NewRequest("127.0.0.1", Presented{IDs: []string{sess.ID}}, false)
	if _, err := again.Open(ctx, Member); err != nil {
		t.Fatal(err)
	}
	if err := again.Abandon(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sessions().Get(ctx, sess.ID); err != nil {
		t.Fatalf("the client's own session was closed: %v", err)
	}
}

func TestEphemeralRequestsStoreNothing(t *testing.T) {
	a, _ := newApp(t, testFiles(), 1)
	req := a.NewRequest("127.0.0.1", Presented{}, true)
	sess, err := req.Open(t.Context(), Member)
	if err != nil || sess == nil {
		t.Fatalf("Open: %v", err)
	}
	if st, _ := a.Sessions().Stats(t.Context()); st.Sessions != 0 || req.Cookie() != (CookieAction{}) {
		t.Fatalf("a HEAD request stored a session: %+v, cookie %+v", st, req.Cookie())
	}
}

func TestForceLoginGuestOnlyReachesTheEntryPoint(t *testing.T) {
	files := testFiles()
	files["roles.json"] = strings.Replace(testRoles, `"permissions"`, `"forceLogin":true,"permissions"`, 1)
	a, _ := newApp(t, files, 0)
	ctx := t.Context()
	g := a.Generation()
	hello, _ := g.Resolve(DatastoreFunction, "", "hello")
	entry, _ := g.Resolve(DatastoreFunction, "", "authentify")
	req := a.NewRequest("127.0.0.1", Presented{}, false)
	if _, err := req.Call(ctx, hello, nil); !errors.Is(err, ErrGuest) {
		t.Fatalf("a guest called hello: %v", err)
	}
	if got, err := req.Call(ctx, entry, []any{"kim"}); err != nil || got != true {
		t.Fatalf("authentify: %v %v", got, err)
	}
	if got, err := req.Call(ctx, hello, nil); err != nil || got != "hi" {
		t.Fatalf("hello after authentify: %v %v", got, err)
	}
	if !req.Holds("vip") || !req.Holds("guest") || req.Holds("WebAdmin") {
		t.Fatalf("holds: %v", req.Privileges())
	}
}
