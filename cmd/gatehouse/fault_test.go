package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // a second connection to the server's database, as another process would open it
)

// Fault injection: what a client sees when scripts, files, the database, the network or
// the process misbehave, and that nothing is lost: no panic, no licence left behind, no
// write half applied, the last good configuration kept.

// faultScripts are added to the demo's DataStore.js: one function per way a script can
// go wrong, and a way for a test to become administrator (for $info).
const faultScripts = `
exports.becomeAdmin = function () { return Session.setPrivileges({ roles: ["Admin"], userName: "admin" }); };
exports.throws = function () { throw new Error("the database password is hunter2"); };
exports.throwsExposed = function () { const e = new Error("Nope, and you may know why"); e.expose = true; throw e; };
exports.throwsString = function () { throw "a bare string from DataStore.js"; };
exports.loops = function () { while (true) {} };
exports.loopsCatching = function () { for (;;) { try { while (true) {} } catch (e) {} } };
exports.recurses = function () { const f = function (n) { return f(n + 1) + 1; }; return f(0); };
exports.allocates = function () { const a = []; for (;;) a.push(new Array(1e5).fill(1)); };
exports.nan = function () { return { ratio: 0 / 0 }; };
exports.infinity = function () { return [1 / 0]; };
exports.aFunction = function () { return function () {}; };
exports.cycle = function () { const a = {}; a.self = a; return a; };
exports.aMap = function () { return new Map([[1, 2]]); };
exports.aBigInt = function () { return 10n ** 30n; };
exports.aSymbol = function () { return Symbol("s"); };
exports.throwingGetter = function () { return { get x() { throw new Error("getter"); } }; };
exports.throwingToJSON = function () { return { toJSON: function () { throw new Error("toJSON"); } }; };
exports.neverSettles = function () { return new Promise(function () {}); };
exports.rejects = async function () { throw new Error("async"); };
exports.undef = function () { return undefined; };
exports.renameThenThrow = function (id, name) {
  const c = ds.Customers.get(id);
  c.name = name;
  c.city = name;
  c.save();
  throw new Error("after the save");
};
exports.rename = function (id, name) {
  const c = ds.Customers.get(id);
  c.name = name;
  c.city = name;
  c.save();
  return c.name;
};
exports.slowRename = function (id, name) {
  const end = Date.now() + 150;
  while (Date.now() < end) {}
  return exports.rename(id, name);
};
exports.storageThenThrow = function () { Session.storage.before = "kept"; throw new Error("x"); };
exports.loopsLogged = function () { console.log("loop entered"); while (true) {} };
`

// faultDemo copies the demo app and adds faultScripts to its DataStore.js.
func faultDemo(t *testing.T) string {
	t.Helper()
	dir := copyDemo(t)
	ds := filepath.Join(dir, "scripts", "DataStore.js")
	src, err := os.ReadFile(ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ds, append(src, faultScripts...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// errorAnswer is 4D's error stack.
type errorAnswer struct {
	Errors []struct {
		Message string `json:"message"`
		ErrCode int    `json:"errCode"`
	} `json:"__ERROR"`
}

func errCode(body string) (int, string) {
	var e errorAnswer
	if json.Unmarshal([]byte(body), &e) != nil || len(e.Errors) == 0 {
		return 0, ""
	}
	return e.Errors[0].ErrCode, e.Errors[0].Message
}

// infoAnswer is the part of $info the fault tests read.
type infoAnswer struct {
	Licences struct{ Max, Used int }
	Sessions struct{ Sessions, Guests, Licensed int }
	Scripts  struct{ LastError *string }
	Roles    struct{ LastError *string }
	Model    struct{ LastError *string }
}

// admin returns a browser whose session holds WebAdmin.
func (s *server) admin() *browser {
	s.t.Helper()
	b := s.browser()
	if code, body := b.do("POST", "/rest/$catalog/becomeAdmin", nil, "[]"); code != 200 || body != `{"result":true}` {
		s.t.Fatalf("becomeAdmin: %d %s", code, body)
	}
	return b
}

// info reads $info (the browser must be an administrator).
func (b *browser) info() infoAnswer {
	b.t.Helper()
	code, body := b.do("GET", "/rest/$info", nil, "")
	var info infoAnswer
	if err := json.Unmarshal([]byte(body), &info); code != 200 || err != nil {
		b.t.Fatalf("$info: %d %v %s", code, err, body)
	}
	return info
}

// waitUntil waits, reload after reload, until ok holds. (One change of a file may give
// more than one reload, so tests wait for the state they expect, not for a count.)
func (s *server) waitUntil(what string, ok func() bool) {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for !ok() {
		select {
		case <-s.reloaded:
		case <-deadline:
			s.t.Fatalf("no reload brought %s", what)
		}
	}
}

// waitLog waits until the server log contains text.
func (s *server) waitLog(text string) {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(s.stderr.String(), text) {
		select {
		case <-deadline:
			s.t.Fatalf("the log never said %q", text)
		case <-tick.C:
		}
	}
}

// noPanic fails when the server log reports a recovered panic.
func (s *server) noPanic() {
	s.t.Helper()
	if strings.Contains(s.stderr.String(), "panic serving request") {
		s.t.Fatal("the server recovered from a panic")
	}
}

// leaks are texts that must never reach a client: secrets a script handled, file names,
// Go and goja internals.
var leaks = []string{"hunter2", "DataStore.js", ".go", "goja", "panic", "runtime", "sqlite", "SQL"}

func TestScriptFaults(t *testing.T) {
	s := startServer(t, faultDemo(t), "--script-timeout", "300ms", "--licenses", "3")
	admin := s.admin()
	tests := []struct {
		fn      string
		status  int
		code    int
		message string // the client's message must contain it
	}{
		{"throws", 500, 1907, "The script failed"},
		{"throwsExposed", 500, 1907, "Nope, and you may know why"},
		{"throwsString", 500, 1907, "The script failed"},
		{"loops", 503, 1908, "took too long"},
		{"loopsCatching", 503, 1908, "took too long"},
		{"recurses", 500, 1907, "The script failed"},
		{"nan", 500, 1907, "The script failed"},
		{"infinity", 500, 1907, "The script failed"},
		{"aFunction", 500, 1907, "The script failed"},
		{"cycle", 500, 1907, "The script failed"},
		{"aMap", 500, 1907, "The script failed"},
		{"aBigInt", 500, 1907, "The script failed"},
		{"aSymbol", 500, 1907, "The script failed"},
		{"throwingGetter", 500, 1907, "The script failed"},
		{"throwingToJSON", 500, 1907, "The script failed"},
		{"neverSettles", 500, 1907, "The script failed"},
		{"rejects", 500, 1907, "The script failed"},
		{"undef", 200, 0, ""},
		{"storageThenThrow", 500, 1907, "The script failed"},
	}
	b := s.browser()
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			code, body := b.do("POST", "/rest/$catalog/"+tt.fn, nil, "[]")
			gotCode, msg := errCode(body)
			if code != tt.status || gotCode != tt.code || !strings.Contains(msg, tt.message) {
				t.Fatalf("got %d errCode %d %q, want %d errCode %d %q; body %s", code, gotCode, msg, tt.status, tt.code, tt.message, body)
			}
			for _, leak := range leaks {
				if strings.Contains(body, leak) {
					t.Fatalf("the answer leaks %q: %s", leak, body)
				}
			}
			// The server goes on, the session too, and the licences add up: the
			// administrator and this browser.
			if code, body := b.do("POST", "/rest/$catalog/whoAmI", nil, "[]"); code != 200 {
				t.Fatalf("after %s: whoAmI %d %s", tt.fn, code, body)
			}
			if info := admin.info(); info.Licences.Used != 2 || info.Sessions.Sessions != 2 {
				t.Fatalf("after %s: licences %+v sessions %+v, want 2 and 2", tt.fn, info.Licences, info.Sessions)
			}
		})
	}
	// The log has what the client was not told: file, line and message.
	for _, want := range []string{"hunter2", "DataStore.js:"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	// A script's session changes made before it threw are kept (as setPrivileges is in
	// 4D: it takes effect at once).
	if _, body := b.do("POST", "/rest/$catalog/whoAmI", nil, "[]"); !strings.Contains(body, `"before":"kept"`) {
		t.Errorf("storage written before the throw: %s", body)
	}
	s.noPanic()
}

// TestScriptWritesAreWholeOrNothing checks that a script's save is atomic, that a script
// failing after a save keeps that save (scripts have no call-wide transaction, as in 4D),
// and that a REST update of several entities with $atomic=true is applied completely or
// not at all.
func TestScriptWritesAreWholeOrNothing(t *testing.T) {
	s := startServer(t, faultDemo(t), "--script-timeout", "2s")
	admin := s.admin()
	if code, body := admin.do("POST", "/rest/$catalog/renameThenThrow", nil, `[1, "Renamed"]`); code != 500 {
		t.Fatalf("renameThenThrow: %d %s", code, body)
	}
	customer := func(key int) (name, city string, stamp int) {
		t.Helper()
		code, body := admin.do("GET", fmt.Sprintf("/rest/Customers(%d)", key), nil, "")
		var c struct {
			Name, City string
			Stamp      int `json:"__STAMP"`
		}
		if err := json.Unmarshal([]byte(body), &c); code != 200 || err != nil {
			t.Fatalf("Customers(%d): %d %v %s", key, code, err, body)
		}
		return c.Name, c.City, c.Stamp
	}
	if name, city, _ := customer(1); name != "Renamed" || city != "Renamed" {
		t.Fatalf("the save before the throw: got %q %q, want both Renamed", name, city)
	}
	// Two entities in one atomic update, the second one refused: neither is written, whether
	// the refusal comes before the transaction (a bad value) or inside it, after the
	// first entity was written (a stale stamp).
	_, _, stamp1 := customer(1)
	_, _, stamp2 := customer(2)
	for _, tt := range []struct {
		name, second string
		status       int
	}{
		{"BadValue", fmt.Sprintf(`{"__KEY":"2","__STAMP":%d,"totalPurchase":"lots"}`, stamp2), 400},
		{"StaleStamp", fmt.Sprintf(`{"__KEY":"2","__STAMP":%d,"name":"Two"}`, stamp2+5), 409},
	} {
		body := fmt.Sprintf(`[{"__KEY":"1","__STAMP":%d,"name":"One","city":"One"},%s]`, stamp1, tt.second)
		if code, answer := admin.do("POST", "/rest/Customers?$method=update&$atomic=true", nil, body); code != tt.status {
			t.Fatalf("%s: update: %d %s, want %d", tt.name, code, answer, tt.status)
		}
		if name, city, stamp := customer(1); name != "Renamed" || city != "Renamed" || stamp != stamp1 {
			t.Fatalf("%s: half-applied update: Customers(1) is %q %q stamp %d", tt.name, name, city, stamp)
		}
	}
	s.noPanic()
}

// TestRunawayAllocation runs scripts that allocate without bound, several at once, under
// a timeout too long to save the server: the engine's memory bound (three quarters of
// GOMEMLIMIT) stops them, the clients get 503, other requests go on, and the memory
// comes back.
func TestRunawayAllocation(t *testing.T) {
	const memLimit = 128 << 20
	old := debug.SetMemoryLimit(memLimit)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	s := startServer(t, faultDemo(t), "--script-timeout", "2m")
	const runaways = 3
	var wg sync.WaitGroup
	results := make(chan string, runaways)
	for range runaways {
		wg.Go(func() {
			b := s.browser()
			b.c.Timeout = 2 * time.Minute // slow under the race detector
			code, body, err := b.try("POST", "/rest/$catalog/allocates", nil, "[]")
			results <- fmt.Sprintf("%d %s %v", code, body, err)
		})
	}
	// Other calls go on. One that happens to have run for more than a tenth of a second
	// when the heap passes the limit is stopped too (the engine cannot tell who
	// allocated): on a loaded machine that may happen, and is a 503 as well.
	b := s.browser()
	served := 0
	for range 20 {
		code, body := b.do("POST", "/rest/$catalog/whoAmI", nil, "[]")
		switch {
		case code == 200:
			served++
		case code != 503 || !strings.Contains(body, "memory"):
			t.Fatalf("during the runaways: whoAmI %d %s", code, body)
		}
	}
	if served == 0 {
		t.Fatal("no other call was served during the runaways")
	}
	wg.Wait()
	close(results)
	for r := range results {
		if !strings.HasPrefix(r, "503 ") || !strings.Contains(r, "1908") || !strings.Contains(r, "memory") {
			t.Errorf("runaway allocation answered %s, want 503 / 1908 about memory", r)
		}
	}
	if code, body := b.do("POST", "/rest/$catalog/whoAmI", nil, "[]"); code != 200 {
		t.Fatalf("after the runaways: whoAmI %d %s", code, body)
	}
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	if n := live[0].Value.Uint64(); n > memLimit {
		t.Fatalf("live heap %d MiB after the runaways, over the %d MiB limit", n>>20, memLimit>>20)
	}
	s.noPanic()
}

// TestScriptFileFaults changes the scripts folder under a running server. The steps share
// one server, in order.
func TestScriptFileFaults(t *testing.T) {
	dir := faultDemo(t)
	s := startServer(t, dir)
	admin := s.admin()
	scripts := filepath.Join(dir, "scripts")
	b := s.browser()
	lastError := func() string {
		t.Helper()
		if e := admin.info().Scripts.LastError; e != nil {
			return *e
		}
		return ""
	}
	// noServerError fails on a 5xx and reports whether code is want.
	noServerError := func(step string, want int, code int, body string) bool {
		t.Helper()
		if code >= 500 {
			t.Fatalf("%s: %d %s", step, code, body)
		}
		return code == want
	}

	// Deleting a function that roles.json names rejects the whole generation (its
	// permission would protect nothing): the function stays (401: this browser may not
	// run it), never broken (5xx), and $info says why; back, the reload goes through.
	sales := filepath.Join(scripts, "SalesPersons.js")
	src, err := os.ReadFile(sales)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(sales); err != nil {
		t.Fatal(err)
	}
	s.waitUntil("the function's removal rejected", func() bool { return strings.Contains(lastError(), "myCustomers") })
	code, body := b.do("POST", "/rest/SalesPersons/myCustomers", nil, "[]")
	noServerError("deleted function", 401, code, body)
	if code != 401 {
		t.Fatalf("a rejected reload changed the function: %d %s", code, body)
	}
	if err := os.WriteFile(sales, src, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitUntil("the function back", func() bool { return lastError() == "" })

	// A file that cannot be read (a dangling symbolic link) makes the new set invalid:
	// the last good set goes on, and $info says why.
	lib := filepath.Join(scripts, "lib", "session.js")
	libSrc, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(lib); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(scripts, "lib", "gone.js"), lib); err != nil {
		t.Fatal(err)
	}
	s.waitUntil("scripts.lastError naming lib/session.js", func() bool { return strings.Contains(lastError(), "lib/session.js") })
	if code, body := b.do("POST", "/rest/$catalog/whoAmI", nil, "[]"); code != 200 {
		t.Fatalf("dangling link: with the last good set: %d %s", code, body)
	}
	os.Remove(lib)
	if err := os.WriteFile(lib, libSrc, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitUntil("scripts.lastError cleared", func() bool { return lastError() == "" })

	// The same with a file whose mode forbids reading (not for root, whom modes do not
	// stop). A change of mode is no change of content, so another file's change brings
	// the reload.
	ds := filepath.Join(scripts, "DataStore.js")
	touch := func(n int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(scripts, "lib", "touch.js"), []byte(fmt.Sprintf("exports.n = %d;\n", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(ds, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(ds); err == nil {
		f.Close()
		t.Log("unreadable file: skipped, file modes do not stop this user from reading")
		if err := os.Chmod(ds, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		touch(1)
		s.waitUntil("scripts.lastError naming DataStore.js", func() bool { return strings.Contains(lastError(), "DataStore.js") })
		if code, body := b.do("POST", "/rest/$catalog/whoAmI", nil, "[]"); code != 200 {
			t.Fatalf("unreadable file: with the last good set: %d %s", code, body)
		}
		if err := os.Chmod(ds, 0o644); err != nil {
			t.Fatal(err)
		}
		touch(2)
		s.waitUntil("scripts.lastError cleared", func() bool { return lastError() == "" })
	}

	// Without onRESTAuthentication.js, 4D opens a guest session for any login (SPEC
	// 3.2): deleting it from a running server would turn every refused login into
	// {"result":true}, so the reload is rejected and refusals stay refusals (a restart
	// applies the removal).
	if err := os.Remove(filepath.Join(scripts, "onRESTAuthentication.js")); err != nil {
		t.Fatal(err)
	}
	guest := s.browser()
	s.waitUntil("the removal of onRESTAuthentication.js rejected", func() bool {
		return strings.Contains(lastError(), "onRESTAuthentication.js was removed")
	})
	code, body = guest.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "ann@example.com", "password-4D": "wrong"}, "")
	if code != 401 {
		t.Fatalf("a wrong password without onRESTAuthentication.js: %d %s, want 401", code, body)
	}
	s.noPanic()
}

// TestConfigFileFaults corrupts and removes roles.json and model.json under a running
// server: each time the last good version stays in force (a guest still cannot read
// Customers, the administrator still can) and $info says why, until the file is good
// again. The steps share one server, in order.
func TestConfigFileFaults(t *testing.T) {
	dir := faultDemo(t)
	s := startServer(t, dir)
	admin := s.admin()
	guest := s.browser()
	rolesPath, modelPath := filepath.Join(dir, "roles.json"), filepath.Join(dir, "model.json")
	goodRoles, err := os.ReadFile(rolesPath)
	if err != nil {
		t.Fatal(err)
	}
	goodModel, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	// enforced checks that the demo's permissions hold.
	enforced := func(step string) {
		t.Helper()
		if code, body := guest.do("GET", "/rest/Customers", nil, ""); code != 401 {
			t.Fatalf("%s: a guest read Customers: %d %s", step, code, body)
		}
		if code, body := admin.do("GET", "/rest/Customers(1)", nil, ""); code != 200 {
			t.Fatalf("%s: the administrator cannot read Customers: %d %s", step, code, body)
		}
	}
	lastErrors := func() (roles, model string) {
		t.Helper()
		info := admin.info()
		if info.Roles.LastError != nil {
			roles = *info.Roles.LastError
		}
		if info.Model.LastError != nil {
			model = *info.Model.LastError
		}
		return roles, model
	}
	enforced("at start")
	steps := []struct {
		name      string
		path      string
		data      []byte // nil: delete the file
		wantError string // in $info's lastError of the file's part
	}{
		{"RolesTruncated", rolesPath, goodRoles[:len(goodRoles)/2], "roles.json"},
		{"RolesNotJSON", rolesPath, []byte("\x00\xff garbage"), "roles.json"},
		{"RolesUndeclaredPrivilege", rolesPath, []byte(`{"permissions":{"allowed":[{"applyTo":"Customers","type":"dataclass","read":["nobody"]}]}}`), "roles.json"},
		{"RolesDeleted", rolesPath, nil, "roles.json"},
		{"ModelTruncated", modelPath, goodModel[:len(goodModel)/3], "model.json"},
		{"ModelDeleted", modelPath, nil, "model.json"},
		// Every dataclass roles.json names is still there, but a stored type changes.
		{"ModelIncompatible", modelPath, []byte(strings.Replace(string(goodModel),
			`{"name": "city", "type": "string"}`, `{"name": "city", "type": "long"}`, 1)), "incompatible"},
	}
	for _, st := range steps {
		var err error
		if st.data == nil {
			err = os.Remove(st.path)
		} else {
			err = os.WriteFile(st.path, st.data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		s.waitUntil(st.name+" rejected", func() bool {
			enforced(st.name)
			roles, model := lastErrors()
			if st.path == modelPath {
				return strings.Contains(model, st.wantError)
			}
			return strings.Contains(roles, st.wantError)
		})
		good := goodRoles
		if st.path == modelPath {
			good = goodModel
		}
		if err := os.WriteFile(st.path, good, 0o644); err != nil {
			t.Fatal(err)
		}
		s.waitUntil(st.name+" repaired", func() bool {
			roles, model := lastErrors()
			return roles == "" && model == ""
		})
		enforced(st.name + " repaired")
	}
	s.noPanic()
}

// TestDatabaseLocked holds the database's write lock from another connection, as another
// process would: reads go on (WAL); a write, from REST or from a script, waits for the
// lock up to SQLite's busy timeout (5s, which neither the script timeout nor the client
// shortens: SQLite's wait cannot be interrupted) and then fails cleanly, without a trace
// of SQL; nothing is half written; once the lock is gone, writes work again.
func TestDatabaseLocked(t *testing.T) {
	dir := faultDemo(t)
	s := startServer(t, dir, "--script-timeout", "1s")
	admin := s.admin()
	other, err := sql.Open("sqlite", filepath.Join(dir, "data", "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if code, body := admin.do("GET", "/rest/Customers(1)", nil, ""); code != 200 || !strings.Contains(body, `"Acme"`) {
		t.Fatalf("a read while the database is locked: %d %s", code, body)
	}
	// A REST write: the busy timeout, then a clean 5xx.
	start := time.Now()
	code, body := admin.do("POST", "/rest/Customers?$method=update", nil, `{"__KEY":"1","__STAMP":1,"name":"Locked","city":"Locked"}`)
	if c, _ := errCode(body); code != 503 || c != 1911 {
		t.Fatalf("a write while the database is locked: %d %s, want 503 / 1911", code, body)
	}
	for _, leak := range leaks {
		if strings.Contains(body, leak) {
			t.Fatalf("the answer leaks %q: %s", leak, body)
		}
	}
	// A script's write: it waits for the lock past the script's own timeout (1s), so the
	// call is stopped as too long (what the script's save returned is never acted on).
	code, body = admin.do("POST", "/rest/$catalog/rename", nil, `[2, "Locked"]`)
	if c, _ := errCode(body); code != 503 || c != 1908 {
		t.Fatalf("a script writing while the database is locked: %d %s, want 503 / 1908", code, body)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("two writes waited %v for the lock: longer than the busy timeout", d)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[int]string{1: `"Acme"`, 2: `"Bolt & Nut"`} {
		if code, body := admin.do("GET", fmt.Sprintf("/rest/Customers(%d)", key), nil, ""); code != 200 || !strings.Contains(body, want) || strings.Contains(body, "Locked") {
			t.Fatalf("Customers(%d) after the lock: %d %s", key, code, body)
		}
	}
	if code, body := admin.do("POST", "/rest/$catalog/rename", nil, `[2, "Unlocked"]`); code != 200 || body != `{"result":"Unlocked"}` {
		t.Fatalf("a write once the lock is gone: %d %s", code, body)
	}
	s.noPanic()
}

// TestReadOnlyDatabase starts the server on a database file it may not write: it
// refuses to start and says which file.
func TestReadOnlyDatabase(t *testing.T) {
	dir := faultDemo(t)
	s := startServer(t, dir)
	if err := s.shutdown(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "data", "gatehouse.db")
	for _, p := range []string{db, filepath.Dir(db)} {
		mode := os.FileMode(0o444)
		if p != db {
			mode = 0o555
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(p, 0o755) })
	}
	if f, err := os.OpenFile(db, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Skip("file modes do not stop this user (root) from writing")
	}
	var stderr lockedBuffer
	code := run(context.Background(), []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0"}, func(string) string { return "" }, nil, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "gatehouse.db") {
		t.Fatalf("exit %d, stderr %q: want 1 and a message naming gatehouse.db", code, stderr.String())
	}
}

// TestClientDisconnects cancels requests while their script runs: the script is stopped
// at once (not at its timeout), and the request leaves no session and no licence behind,
// whether it was a login, a call that opened a session, or an authentify that had
// already taken a licence.
func TestClientDisconnects(t *testing.T) {
	dir := faultDemo(t)
	auth := `module.exports = function (user, password) {
  if (user === "slow") { console.log("login entered"); while (true) {} }
  return user === "kim" && password === "pw";
};`
	if err := os.WriteFile(filepath.Join(dir, "scripts", "onRESTAuthentication.js"), []byte(auth), 0o644); err != nil {
		t.Fatal(err)
	}
	cancelled := func(t *testing.T, s *server, path string, header map[string]string, body, logLine string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "POST", s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		done := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("answered %d", resp.StatusCode)
			}
			done <- err
		}()
		s.waitLog(logLine)
		start := time.Now()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: the request was not cancelled: %v", path, err)
		}
		s.waitLog(fmt.Sprintf("path=%s status=499", path))
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("%s: the script ran %v after the client left", path, d)
		}
	}

	t.Run("DefaultMode", func(t *testing.T) {
		s := startServer(t, dir, "--script-timeout", "1m", "--licenses", "2")
		admin := s.admin()
		cancelled(t, s, "/rest/$directory/login", map[string]string{"username-4D": "slow", "password-4D": "x"}, "", "login entered")
		// A cookie-less call opens a session (and takes a licence) before its script runs.
		cancelled(t, s, "/rest/$catalog/loopsLogged", nil, "[]", "loop entered")
		if info := admin.info(); info.Licences.Used != 1 || info.Sessions.Sessions != 1 {
			t.Fatalf("after cancelled requests: licences %+v sessions %+v, want only the administrator's", info.Licences, info.Sessions)
		}
		b := s.browser()
		if code, body := b.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "kim", "password-4D": "pw"}, ""); code != 200 {
			t.Fatalf("a login after the cancelled ones: %d %s", code, body)
		}
		s.noPanic()
	})

	t.Run("ForceLoginAuthentifyAfterGrant", func(t *testing.T) {
		roles, err := os.ReadFile(filepath.Join(dir, "roles.json"))
		if err != nil {
			t.Fatal(err)
		}
		forced := strings.Replace(string(roles), `"forceLogin": false`, `"forceLogin": true`, 1)
		if err := os.WriteFile(filepath.Join(dir, "roles.json"), []byte(forced), 0o644); err != nil {
			t.Fatal(err)
		}
		// In force login mode only authentify opens the door: "slow" is granted a
		// privilege (and so a licence), then the script hangs; anyone else becomes admin.
		ds := filepath.Join(dir, "scripts", "DataStore.js")
		src, err := os.ReadFile(ds)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, `
exports.authentify = function (c) {
  if (c.identifier === "slow") { Session.setPrivileges("vip"); console.log("authentify entered"); while (true) {} }
  return Session.setPrivileges({ roles: ["Admin"], userName: "admin" });
};`...)
		if err := os.WriteFile(ds, src, 0o644); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, dir, "--script-timeout", "1m", "--licenses", "2")
		authentify := func() *browser {
			b := s.browser()
			if code, body := b.do("POST", "/rest/$catalog/authentify", nil, `[{"identifier":"admin"}]`); code != 200 || body != `{"result":true}` {
				t.Fatalf("authentify: %d %s", code, body)
			}
			return b
		}
		admin := authentify()
		cancelled(t, s, "/rest/$catalog/authentify", nil, `[{"identifier":"slow"}]`, "authentify entered")
		info := admin.info()
		if info.Licences.Used != 1 {
			t.Fatalf("after a cancelled authentify that took a licence: licences %+v sessions %+v, want only the administrator's", info.Licences, info.Sessions)
		}
		authentify() // the second licence is free again
		s.noPanic()
	})
}

var servingAddr = regexp.MustCompile(`addr=http://([0-9.:]+)`)

// TestSIGTERMUnderLoad builds the real binary, loads it with clients that each rename
// their own customer through a slow script (so that calls are in flight), sends SIGTERM,
// and checks that the process exits 0 after saying it released the licences, that every
// request either completed or failed cleanly (no truncated answer, no 5xx), and that the
// database holds no half-applied write and every acknowledged one.
func TestSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := faultDemo(t)
	bin := filepath.Join(t.TempDir(), "gatehouse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--licenses", "10", "--script-timeout", "5s")
	cmd.Env = append(os.Environ(), "GATEHOUSE_LOG_FORMAT=text")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var log lockedBuffer
	addr := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			log.Write([]byte(line + "\n"))
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not start:\n%s", log.String())
	}
	s := &server{t: t, url: base}

	// Each client renames its own customer (no two clients write the same entity) with
	// names n0, n1, ...: acked is the last name the server confirmed, tried the last it
	// was asked for.
	const clients = 6
	type outcome struct {
		acked, tried int
		err          error
		// inFlight counts requests sent before SIGTERM and answered 200 after it.
		inFlight int
	}
	outcomes := make([]outcome, clients)
	started := make(chan struct{}, clients)
	var sigMu sync.Mutex
	var sigAt time.Time // when SIGTERM was sent; zero before
	signalled := func() (time.Time, bool) { sigMu.Lock(); defer sigMu.Unlock(); return sigAt, !sigAt.IsZero() }
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			b := s.browser()
			o := &outcomes[c]
			o.acked, o.tried = -1, -1
			for i := 0; ; i++ {
				o.tried = i
				_, before := signalled()
				code, body, err := b.try("POST", "/rest/$catalog/slowRename", nil, fmt.Sprintf(`[%d, "c%d-%d"]`, c+1, c+1, i))
				if i == 0 {
					started <- struct{}{}
				}
				switch {
				case err != nil:
					return // the server stopped: a clean failure of a request it never took
				case code == 200 && body == fmt.Sprintf(`{"result":"c%d-%d"}`, c+1, i):
					o.acked = i
					if _, after := signalled(); !before && after {
						o.inFlight++
					}
				default:
					o.err = fmt.Errorf("request %d answered %d %q", i, code, body)
					return
				}
			}
		})
	}
	for range clients {
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("the clients did not get going")
		}
	}
	sigMu.Lock()
	sigAt = time.Now()
	sigMu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { <-logDone; waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not stop after SIGTERM:\n%s", log.String())
	}
	wg.Wait()
	for _, want := range []string{"waiting for requests in flight", "releasing licences"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, log.String())
		}
	}
	inFlight := 0
	for _, o := range outcomes {
		inFlight += o.inFlight
	}
	if inFlight == 0 {
		t.Errorf("no request in flight at SIGTERM completed")
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "data", "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for c, o := range outcomes {
		if o.err != nil {
			t.Errorf("client %d: %v", c, o.err)
		}
		var name, city string
		if err := db.QueryRow(`SELECT name, city FROM "Customers" WHERE "ID" = ?`, c+1).Scan(&name, &city); err != nil {
			t.Fatal(err)
		}
		var n int
		if name != city {
			t.Errorf("client %d: half-applied write: name %q, city %q", c, name, city)
		} else if o.acked >= 0 {
			if _, err := fmt.Sscanf(name, fmt.Sprintf("c%d-%%d", c+1), &n); err != nil || n < o.acked || n > o.tried {
				t.Errorf("client %d: stored %q, but acknowledged c%d-%d and tried up to %d", c, name, c+1, o.acked, o.tried)
			}
		}
	}
}
