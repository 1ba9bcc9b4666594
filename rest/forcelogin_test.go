package rest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"

	"gatehouse/engine"
)

const forceRoles = `{
  "privileges": [{"privilege": "vip", "includes": ["reader"]}, {"privilege": "reader"}],
  "roles": [{"role": "Sales", "privileges": ["vip"]}],
  "permissions": {"allowed": [
    {"applyTo": "ds.secret", "type": "method", "execute": ["vip"]},
    {"applyTo": "ds.open", "type": "method", "execute": ["guest"]},
    {"applyTo": "ds.promoted", "type": "method", "execute": ["guest"], "promote": ["vip"]}
  ]},
  "forceLogin": true
}`

// dataStoreScript is a DataStore.js with the seeds' authentify (users in a table here).
const dataStoreScript = `
const users = { kim: "pw", ann: "pw2" };
exports.authentify = function (credentials) {
  if (!credentials || !Object.prototype.hasOwnProperty.call(users, credentials.identifier)) return "Wrong user";
  if (credentials.password !== users[credentials.identifier]) return "Wrong password";
  const ok = Session.setPrivileges({ privileges: "vip", userName: credentials.identifier });
  return ok ? "Authentication successful" : "No licence";
};
exports.secret = function () { return { user: Session.userName, guest: Session.isGuest() }; };
exports.open = function (a, b) { return [a, b, Session.isGuest()]; };
exports.promoted = function () { return Session.hasPrivilege("vip"); };
exports.remember = function (k, v) { Session.storage[k] = v; return Object.keys(Session.storage).sort(); };
exports.recall = function () { return Session.storage; };
exports.otp = function () { return Session.createOTP(60); };
exports.restore = function (tok) { return Session.restore(tok); };
exports.bye = function () { Session.logout(); return true; };
exports.clear = function () { Session.clearPrivileges(); return [Session.isGuest(), Session.getPrivileges()]; };
exports.echo = function (x) { return x; };
exports.echo.onHttpGet = true;
exports.fail = function () { const e = new Error("visible reason"); e.expose = true; throw e; };
function hidden() { return "private"; }
`

func forceHarness(t *testing.T, licences int) *harness {
	return newHarness(t, harnessOptions{licences: licences, roles: forceRoles, throttleMaxIP: 3,
		scripts: map[string]string{"DataStore.js": dataStoreScript}})
}

func authentify(c *client, user, password string) response {
	c.h.t.Helper()
	return c.post("/rest/$catalog/authentify", `[{"identifier":"`+user+`","password":"`+password+`"}]`)
}

// TestForceLoginSequence walks the seeds' sequence: guest, descriptive requests only,
// a failed authentify, then a good one that takes the licence.
func TestForceLoginSequence(t *testing.T) {
	h := forceHarness(t, 1)
	c := h.client()
	for _, p := range []string{"/rest/$catalog", "/rest/$catalog/$all", "/rest/$info/privileges", "/rest/$directory/currentUser"} {
		wantStatus(t, c.get(p), 200, 0)
	}
	if st := h.stats(); st.Sessions != 1 || st.Guests != 1 || st.Licensed != 0 {
		t.Fatalf("guest session: %+v", st)
	}
	wantStatus(t, c.post("/rest/$catalog/secret", ``), 401, 1901)
	wantStatus(t, c.post("/rest/$catalog/open", `[1,2]`), 401, 1901)
	wantStatus(t, c.get("/rest/Users"), 401, 1901)
	wantStatus(t, c.login("kim", "pw"), 401, 1901)

	wantBody(t, authentify(c, "kim", "bad"), `{"result":"Wrong password"}`)
	wantStatus(t, c.post("/rest/$catalog/secret", ``), 401, 1901)
	if st := h.stats(); st.Licensed != 0 {
		t.Fatalf("failed authentify took a licence: %+v", st)
	}
	guestCookie := c.cookie()
	wantBody(t, authentify(c, "kim", "pw"), `{"result":"Authentication successful"}`)
	if c.cookie() == guestCookie {
		t.Fatal("session ID not rotated by setPrivileges")
	}
	if st := h.stats(); st.Licensed != 1 || st.Guests != 0 {
		t.Fatalf("after authentify: %+v", st)
	}
	wantBody(t, c.post("/rest/$catalog/secret", ``), `{"result":{"guest":false,"user":"kim"}}`)
	wantBody(t, c.get("/rest/$info/privileges"), `{"privileges":[{"privilege":"reader"},{"privilege":"vip"}]}`)
	// The guest cookie from before the rotation opens a fresh guest session.
	old := h.client().do("POST", "/rest/$catalog/secret", map[string]string{"Cookie": "WASID4D=" + guestCookie}, "")
	wantStatus(t, old, 401, 1901)

	// The licence cap is hit at setPrivileges: authentify answers 402, the caller stays a guest.
	other := h.client()
	wantStatus(t, authentify(other, "ann", "pw2"), 402, 1823)
	wantStatus(t, other.post("/rest/$catalog/secret", ``), 401, 1901)
	// Logout releases the licence, and ann gets in.
	wantBody(t, c.post("/rest/$directory/logout", ""), `{"result":true}`)
	wantBody(t, authentify(other, "ann", "pw2"), `{"result":"Authentication successful"}`)
}

func TestFunctionPermissions(t *testing.T) {
	h := forceHarness(t, 0)
	c := h.client()
	wantStatus(t, authentify(c, "kim", "pw"), 200, 0)
	tests := []struct {
		name, method, path, body string
		status, code             int
		want                     string
	}{
		{"ArgumentsPassed", "POST", "/rest/$catalog/open", `["a",{"b":1}]`, 200, 0, `{"result":["a",{"b":1},false]}`},
		{"PromoteDuringCall", "POST", "/rest/$catalog/promoted", ``, 200, 0, `{"result":true}`},
		{"PrivateFunctionUnknown", "POST", "/rest/$catalog/hidden", ``, 404, 1800, ""},
		{"UnknownFunction", "POST", "/rest/$catalog/nothing", ``, 404, 1800, ""},
		{"GetRefusedWithoutOnHttpGet", "GET", "/rest/$catalog/open?$params='[1]'", ``, 405, 1829, ""},
		{"GetWithOnHttpGet", "GET", "/rest/$catalog/echo?$params='[\"hi\"]'", ``, 200, 0, `{"result":"hi"}`},
		{"ArgumentsNotAnArray", "POST", "/rest/$catalog/open", `{"a":1}`, 400, 1905, ""},
		{"ArgumentsNotJSON", "POST", "/rest/$catalog/open", `[1,`, 400, 1905, ""},
		{"ExposedErrorMessage", "POST", "/rest/$catalog/fail", ``, 500, 1907, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, nil, tt.body)
			wantStatus(t, r, tt.status, tt.code)
			if tt.want != "" {
				wantBody(t, r, tt.want)
			}
		})
	}
	if r := c.post("/rest/$catalog/fail", ""); !strings.Contains(string(r.body), "visible reason") {
		t.Fatalf("exposed message not shown: %s", r.body)
	}
}

func TestStoragePersistsAndMerges(t *testing.T) {
	h := forceHarness(t, 0)
	c := h.client()
	wantStatus(t, authentify(c, "kim", "pw"), 200, 0)
	wantBody(t, c.post("/rest/$catalog/remember", `["a",1]`), `{"result":["a"]}`)
	wantBody(t, c.post("/rest/$catalog/remember", `["b",{"x":[1,2]}]`), `{"result":["a","b"]}`)
	wantBody(t, c.post("/rest/$catalog/recall", ``), `{"result":{"a":1,"b":{"x":[1,2]}}}`)

	// Concurrent requests of one session writing different keys all keep their write.
	done := make(chan struct{})
	for i := range 10 {
		go func() {
			defer func() { done <- struct{}{} }()
			c.post("/rest/$catalog/remember", `["k`+string(rune('0'+i))+`",true]`)
		}()
	}
	for range 10 {
		<-done
	}
	r := c.post("/rest/$catalog/recall", ``).json(t)["result"].(map[string]any)
	if len(r) != 12 {
		t.Fatalf("storage after concurrent writes has %d keys, want 12: %v", len(r), r)
	}
}

func TestOTPRoundTrip(t *testing.T) {
	h := forceHarness(t, 0)
	c := h.client()
	wantStatus(t, authentify(c, "kim", "pw"), 200, 0)
	tok, _ := c.post("/rest/$catalog/otp", ``).json(t)["result"].(string)
	if tok == "" {
		t.Fatal("no token")
	}
	// Another browser (no cookie) comes back through a third-party redirect with the token.
	b := h.client()
	wantBody(t, b.post("/rest/$catalog/secret?$4DSID="+tok, ``), `{"result":{"guest":false,"user":"kim"}}`)
	wantBody(t, b.post("/rest/$catalog/secret", ``), `{"result":{"guest":false,"user":"kim"}}`) // it got the cookie
	// Used once: a second use gives a fresh guest session, not an error.
	third := h.client()
	wantStatus(t, third.post("/rest/$catalog/secret?$4DSID="+tok, ``), 401, 1901)
	wantStatus(t, third.get("/rest/$catalog?$4DSID=nonsense"), 200, 0)
	// Expired.
	tok2, _ := c.post("/rest/$catalog/otp", ``).json(t)["result"].(string)
	h.clock.Add(61 * time.Second)
	wantStatus(t, h.client().post("/rest/$catalog/secret?$4DSID="+tok2, ``), 401, 1901)
}

func TestScriptLogoutAndClear(t *testing.T) {
	h := forceHarness(t, 1)
	c := h.client()
	wantStatus(t, authentify(c, "kim", "pw"), 200, 0)
	wantBody(t, c.post("/rest/$catalog/clear", ``), `{"result":[false,[]]}`)
	// No privileges left, but not a guest again: "open" (guest) still works, "secret" not.
	wantStatus(t, c.post("/rest/$catalog/open", `[]`), 200, 0)
	wantStatus(t, c.post("/rest/$catalog/secret", ``), 401, 1561)
	wantBody(t, c.post("/rest/$catalog/bye", ``), `{"result":true}`)
	if st := h.stats(); st.Licensed != 0 {
		t.Fatalf("Session.logout kept the licence: %+v", st)
	}
}

func TestAuthentifyThrottled(t *testing.T) {
	h := forceHarness(t, 0)
	c := h.client()
	for range 3 {
		wantBody(t, authentify(c, "kim", "bad"), `{"result":"Wrong password"}`)
	}
	r := authentify(c, "kim", "pw")
	wantStatus(t, r, http.StatusTooManyRequests, 1909)
	if r.header.Get("Retry-After") != "300" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	h.clock.Add(5 * time.Minute)
	wantBody(t, authentify(c, "kim", "pw"), `{"result":"Authentication successful"}`)
}

func TestLoginThrottled(t *testing.T) {
	h := newHarness(t, harnessOptions{throttleMax: 3, scripts: map[string]string{"onRESTAuthentication.js": authScript}})
	for range 3 {
		wantStatus(t, h.client().login("kim", "bad"), 401, 0)
	}
	r := h.client().login("kim", "pw")
	wantStatus(t, r, 429, 1909)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	wantStatus(t, h.client().do("GET", "/rest/$catalog", map[string]string{"Authorization": basic("kim", "pw")}, ""), 429, 1909)
	// Another user from the same address is not affected (the address limit is higher).
	wantStatus(t, h.client().login("admin", "adminpw"), 200, 0)
	h.clock.Add(5 * time.Minute)
	wantStatus(t, h.client().login("kim", "pw"), 200, 0)
}

func TestForceLoginChangeAppliesToNewSessions(t *testing.T) {
	h := newHarness(t, harnessOptions{scripts: map[string]string{"DataStore.js": dataStoreScript}})
	before := h.client()
	wantStatus(t, before.post("/rest/$catalog/open", `[]`), 200, 0)
	h.setRoles(forceRoles)
	wantStatus(t, before.post("/rest/$catalog/open", `[]`), 200, 0)
	wantStatus(t, h.client().post("/rest/$catalog/open", `[]`), 401, 1901)
}

func TestTightenedRolesApplyToNextRequest(t *testing.T) {
	h := forceHarness(t, 0)
	c := h.client()
	wantStatus(t, authentify(c, "kim", "pw"), 200, 0)
	wantStatus(t, c.post("/rest/$catalog/secret", ``), 200, 0)
	h.setRoles(strings.Replace(forceRoles, `"applyTo": "ds.secret", "type": "method", "execute": ["vip"]`,
		`"applyTo": "ds.secret", "type": "method", "execute": ["WebAdmin"]`, 1))
	wantStatus(t, c.post("/rest/$catalog/secret", ``), 401, 1561)
}

func TestSessionRestore(t *testing.T) {
	h := newHarness(t, harnessOptions{licences: 2, scripts: map[string]string{"DataStore.js": dataStoreScript}})
	a := h.client()
	wantStatus(t, authentify(a, "kim", "pw"), 200, 0)
	tok, _ := a.post("/rest/$catalog/otp", ``).json(t)["result"].(string)
	b := h.client()
	wantBody(t, b.post("/rest/$catalog/restore", `["nonsense"]`), `{"result":false}`)
	if st := h.stats(); st.Sessions != 2 || st.Licensed != 2 {
		t.Fatalf("before restore: %+v", st)
	}
	wantBody(t, b.post("/rest/$catalog/restore", `["`+tok+`"]`), `{"result":true}`)
	// b is now in kim's session, and the guest session b had is gone with its licence.
	wantBody(t, b.post("/rest/$catalog/secret", ``), `{"result":{"guest":false,"user":"kim"}}`)
	if st := h.stats(); st.Sessions != 1 || st.Licensed != 1 {
		t.Fatalf("after restore: %+v", st)
	}
	wantBody(t, h.client().post("/rest/$catalog/restore", `["`+tok+`"]`), `{"result":false}`)
}

// barrier is a script global whose first read blocks until released: it holds a script
// call in the middle, deterministically.
type barrier struct{ reached, release chan struct{} }

func (b *barrier) Name() string { return "barrier" }
func (b *barrier) Value(ctx context.Context, vm *goja.Runtime) (goja.Value, error) {
	close(b.reached)
	<-b.release
	return goja.Undefined(), nil
}

func TestSessionClosedDuringCall(t *testing.T) {
	b := &barrier{reached: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, harnessOptions{licences: 1, globals: []engine.Global{b}, scripts: map[string]string{"DataStore.js": `
exports.slow = function () { Session.storage.a = 1; Session.setPrivileges("WebAdmin"); barrier; return "done"; };
`}})
	c := h.client()
	wantStatus(t, c.get("/rest/$catalog"), 200, 0)
	done := make(chan response)
	go func() { done <- c.post("/rest/$catalog/slow", "") }()
	<-b.reached
	wantBody(t, c.post("/rest/$directory/logout", ""), `{"result":true}`)
	close(b.release)
	r := <-done
	wantBody(t, r, `{"result":"done"}`)
	if st := h.stats(); st.Sessions != 0 || st.Licensed != 0 {
		t.Fatalf("a session closed during a call came back: %+v", st)
	}
}
