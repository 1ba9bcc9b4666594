package rest

// Tests of the holes found by trying gatehouse as an attacker would (issue "One generation
// and a transport-free core"). Each failed on the code before the fix.

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dop251/goja"

	"gatehouse/engine"
)

// counter is a script global that counts the calls that read it: it tells how many
// attempts reached the script.
type counter struct{ n atomic.Int64 }

func (c *counter) Name() string { return "reached" }
func (c *counter) Value(context.Context, *goja.Runtime) (goja.Value, error) {
	c.n.Add(1)
	return goja.Undefined(), nil
}

// parallel runs f n times at once and waits for all of them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

func TestParallelWrongPasswordsNeverPassTheThrottle(t *testing.T) {
	reached := &counter{}
	// (a generous script timeout: up to 10 calls build runtimes at once on a loaded machine)
	h := newHarness(t, harnessOptions{throttleMax: 10, throttleMaxIP: 1000, globals: []engine.Global{reached}, scriptTimeout: 20 * time.Second,
		scripts: map[string]string{"onRESTAuthentication.js": `
module.exports = function (user, password) { reached; return password === "right"; };`}})
	var refused, throttled atomic.Int64
	parallel(40, func(int) {
		switch r := h.client().login("kim", "wrong"); r.status {
		case http.StatusUnauthorized:
			refused.Add(1)
		case http.StatusTooManyRequests:
			throttled.Add(1)
			if r.errCode() != codeTooManyLogins || r.header.Get("Retry-After") == "" {
				t.Errorf("429 without 1909 and Retry-After: %s %v", r.body, r.header)
			}
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.body)
		}
	})
	if got := reached.n.Load(); got > 10 {
		t.Fatalf("%d of 40 parallel attempts reached the script, want at most the limit 10", got)
	}
	if refused.Load() != 10 || throttled.Load() != 30 {
		t.Fatalf("refused %d, throttled %d; want 10 and 30", refused.Load(), throttled.Load())
	}
	if st := h.stats(); st.Sessions != 0 || st.Licensed != 0 {
		t.Fatalf("failed logins left sessions behind: %+v", st)
	}
}

func TestParallelAuthentifyNeverPassesTheThrottle(t *testing.T) {
	reached := &counter{}
	h := newHarness(t, harnessOptions{roles: forceRoles, throttleMaxIP: 50, globals: []engine.Global{reached}, scriptTimeout: 20 * time.Second,
		scripts: map[string]string{"DataStore.js": dataStoreScript + `
const inner = exports.authentify;
exports.authentify = function (c) { reached; return inner(c); };`}})
	var throttled atomic.Int64
	parallel(200, func(int) {
		r := authentify(h.client(), "kim", "wrong")
		if r.status == http.StatusTooManyRequests {
			throttled.Add(1)
		} else if r.status != http.StatusOK {
			t.Errorf("unexpected answer %d %s", r.status, r.body)
		}
	})
	if got := reached.n.Load(); got > 50 {
		t.Fatalf("%d of 200 parallel authentify calls reached the script, want at most the limit 50", got)
	}
	if throttled.Load() != 150 {
		t.Fatalf("throttled %d, want 150", throttled.Load())
	}
}

func TestGoodLoginTakesBackItsAttempt(t *testing.T) {
	h := newHarness(t, harnessOptions{throttleMax: 3, throttleMaxIP: 3, scripts: map[string]string{
		"onRESTAuthentication.js": `module.exports = function (u, p) { return p === "right"; };`}})
	for range 5 {
		wantStatus(t, h.client().login("kim", "right"), 200, 0)
	}
}

func TestRefusedRequestsTakeNoLicence(t *testing.T) {
	h := newHarness(t, harnessOptions{licences: 3, model: `{"dataClasses":[{"name":"Things","attributes":[
		{"name":"ID","type":"long","primaryKey":true,"autoincrement":true}]}]}`})
	c := h.client()
	for _, r := range []struct{ method, path, body string }{
		{"OPTIONS", "/rest/$catalog", ""},
		{"OPTIONS", "/rest/Things", ""},
		{"HEAD", "/rest/$catalog", ""},
		{"HEAD", "/rest/Things", ""},
		{"GET", "/rest/Things?$filter=nonsense((", ""},
		{"GET", "/rest/Nothing", ""},
		{"GET", "/rest/$nonsense", ""},
		{"POST", "/rest/Things?$method=update", "{not json"},
		{"DELETE", "/rest/Things", ""},
		{"POST", "/rest/$directory/currentUserBelongsTo", "nope"},
	} {
		resp := c.do(r.method, r.path, nil, r.body)
		if resp.status >= 500 {
			t.Errorf("%s %s: %d %s", r.method, r.path, resp.status, resp.body)
		}
		if st := h.stats(); st.Sessions != 0 || st.Licensed != 0 {
			t.Fatalf("%s %s (%d) left a session behind: %+v", r.method, r.path, resp.status, st)
		}
		if c.cookie() != "" {
			t.Fatalf("%s %s (%d) sent a session cookie", r.method, r.path, resp.status)
		}
	}
	// HEAD answers like GET, without a body.
	if r := c.do("HEAD", "/rest/Things", nil, ""); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("HEAD /rest/Things: %d %q", r.status, r.body)
	}
	// Every licence is still there.
	for range 3 {
		wantStatus(t, h.client().get("/rest/$catalog"), 200, 0)
	}
}

func TestLoginReclaimsAnAnonymousLicence(t *testing.T) {
	h := newHarness(t, harnessOptions{licences: 2, scripts: map[string]string{
		"onRESTAuthentication.js": `module.exports = function (u, p) { return p === "right"; };`}})
	anon1, anon2 := h.client(), h.client()
	wantStatus(t, anon1.get("/rest/$catalog"), 200, 0)
	h.clock.Add(time.Second)
	wantStatus(t, anon2.get("/rest/$catalog"), 200, 0)
	wantStatus(t, h.client().get("/rest/$catalog"), 402, 1823) // anonymous requests wait their turn

	kim := h.client()
	wantStatus(t, kim.login("kim", "right"), 200, 0)
	ann := h.client()
	wantStatus(t, ann.login("ann", "right"), 200, 0)
	if st := h.stats(); st.Licensed != 2 {
		t.Fatalf("licences: %+v", st)
	}
	// Both anonymous sessions gave way; authenticated ones are never taken.
	wantStatus(t, h.client().login("bob", "right"), 402, 1823)
	wantBody(t, kim.get("/rest/$directory/currentUser"),
		`{"result":{"userName":"kim","fullName":"kim","ID":"`+userIDFor("kim")+`"}}`)
}

func TestBacktrackingRegexIsStoppedByTheTimeout(t *testing.T) {
	// A backreference makes goja run the pattern on its backtracking engine, where it
	// would take far longer than any test lasts.
	h := newHarness(t, harnessOptions{scriptTimeout: 2 * time.Second, scripts: map[string]string{"DataStore.js": `
exports.evil = function () { return /^(a+)+\1$/.test("a".repeat(40) + "b"); };
exports.fine = function () { return /^a+$/.test("aaa"); };`}})
	c := h.client()
	// goja compiles patterns with regexp2's process-wide match timeout, which the engine
	// sets to the longest script timeout of the process plus a second: in this test binary
	// other harnesses' engines have longer timeouts than this one, so the evil call may
	// last that long (in a server, one engine: its own timeout).
	c.c.Timeout = 5 * time.Minute
	wantStatus(t, c.post("/rest/$catalog/evil", ""), 503, codeScriptTimeout)
	// The call's slot and runtime are free again: calls go on (one at a time, so that none
	// of them waits for a slot on a loaded machine).
	for range 5 {
		wantBody(t, c.post("/rest/$catalog/fine", ""), `{"result":true}`)
	}
}

func TestCrossSiteRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{
		scripts: map[string]string{"DataStore.js": `exports.change = function () { Session.storage.x = 1; return true; };`},
		cfg:     func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com"} },
	})
	c := h.client()
	wantStatus(t, c.get("/rest/$catalog"), 200, 0)
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example.com", "Content-Type": "text/plain"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Referer": "https://evil.example.com/page"},
	} {
		r := c.do("POST", "/rest/$catalog/change", hdr, "[]")
		wantStatus(t, r, 403, codeCrossOrigin)
	}
	// The server's own pages, non-browser clients and the allowed origin go through.
	wantStatus(t, c.do("POST", "/rest/$catalog/change", map[string]string{"Sec-Fetch-Site": "same-origin"}, "[]"), 200, 0)
	wantStatus(t, c.do("POST", "/rest/$catalog/change", nil, "[]"), 200, 0)
	r := c.do("POST", "/rest/$catalog/change", map[string]string{"Origin": "https://app.example.com"}, "[]")
	wantStatus(t, r, 200, 0)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers for the allowed origin: %v", r.header)
	}
	// A pre-flight is answered without a session.
	fresh := h.client()
	pre := fresh.do("OPTIONS", "/rest/$directory/login", map[string]string{"Origin": "https://app.example.com",
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "username-4D, password-4D"}, "")
	if pre.status != http.StatusNoContent || !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "username-4D") ||
		pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || fresh.cookie() != "" {
		t.Fatalf("pre-flight: %d %v", pre.status, pre.header)
	}
	if other := fresh.do("OPTIONS", "/rest/$catalog", map[string]string{"Origin": "https://evil.example.com",
		"Access-Control-Request-Method": "POST"}, ""); other.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a foreign origin got CORS headers: %v", other.header)
	}
}

func TestDeletedAuthScriptKeepsRefusing(t *testing.T) {
	h := newHarness(t, harnessOptions{scripts: map[string]string{
		"onRESTAuthentication.js": `module.exports = function () { return false; };`}})
	wantStatus(t, h.client().login("kim", "x"), 401, 0)
	if err := os.Remove(filepath.Join(h.dir, "scripts", "onRESTAuthentication.js")); err != nil {
		t.Fatal(err)
	}
	if err := h.app.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("reload without onRESTAuthentication.js: %v, want a rejection", err)
	}
	wantStatus(t, h.client().login("kim", "x"), 401, 0)
	if st := h.stats(); st.Sessions != 0 {
		t.Fatalf("a refused login opened a session: %+v", st)
	}
}

func TestDataStoreNamedDataClassIsRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{
		roles:   `{"permissions":{"allowed":[{"applyTo":"ds.secret","type":"method","execute":["WebAdmin"]}]}}`,
		model:   `{"dataClasses":[{"name":"Things","attributes":[{"name":"ID","type":"long","primaryKey":true}]}]}`,
		scripts: map[string]string{"DataStore.js": `exports.secret = function () { return "secret"; };`},
	})
	c := h.client()
	wantStatus(t, c.post("/rest/$catalog/secret", ""), 401, codeNoExecutePerm)
	wantStatus(t, c.post("/rest/DataStore/secret", ""), 404, 0)
	// A model naming a dataclass DataStore is rejected as a whole generation.
	if err := os.WriteFile(filepath.Join(h.dir, "model.json"), []byte(`{"dataClasses":[
		{"name":"DataStore","attributes":[{"name":"ID","type":"long","primaryKey":true}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.app.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "DataStore") {
		t.Fatalf("reload with a DataStore dataclass: %v, want a rejection", err)
	}
	wantStatus(t, c.post("/rest/DataStore/secret", ""), 404, 0)
	wantStatus(t, c.post("/rest/$catalog/secret", ""), 401, codeNoExecutePerm)
}
