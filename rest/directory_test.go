package rest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// authScript accepts kim/pw (clear or as a sha256 digest) and admin/adminpw (WebAdmin),
// throws for "boom" and loops for "loop".
const authScript = `
const users = { kim: "pw", admin: "adminpw" };
module.exports = function (user, password, isDigest, ip) {
  if (user === "boom") { throw new Error("database exploded"); }
  if (user === "loop") { while (true) {} }
  if (!Object.prototype.hasOwnProperty.call(users, user)) return false;
  const ok = isDigest ? password === generateDigest(users[user], "sha256") : password === users[user];
  if (!ok) return false;
  if (user === "admin") Session.setPrivileges("WebAdmin");
  Session.storage.ip = ip;
  Session.storage.digest = isDigest;
  return true;
};
`

func authHarness(t *testing.T, licences int) *harness {
	return newHarness(t, harnessOptions{licences: licences, scripts: map[string]string{"onRESTAuthentication.js": authScript},
		scriptTimeout: 200 * time.Millisecond})
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestLoginCredentialForms(t *testing.T) {
	digest := "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8" // sha256("password") – not kim's
	tests := []struct {
		name   string
		header map[string]string
		body   string
		want   int
	}{
		{"HeadersAccepted", map[string]string{"username-4D": "kim", "password-4D": "pw"}, "", 200},
		{"HeadersWrongPassword", map[string]string{"username-4D": "kim", "password-4D": "nope"}, "", 401},
		{"HashedHeaderAccepted", map[string]string{"username-4D": "kim", "hashed-password-4D": sha256Hex("pw")}, "", 200},
		{"HashedHeaderWrong", map[string]string{"username-4D": "kim", "hashed-password-4D": digest}, "", 401},
		{"JSONArrayBody", nil, `["kim","pw",3600]`, 200},
		{"JSONArrayBodyWrong", nil, `["kim","bad"]`, 401},
		{"JSONObjectBody", nil, `{"username":"kim","password":"pw"}`, 200},
		{"HTTPBasic", map[string]string{"Authorization": basic("kim", "pw")}, "", 200},
		{"HTTPBasicWrong", map[string]string{"Authorization": basic("kim", "x")}, "", 401},
		{"NoCredentials", nil, "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := authHarness(t, 0)
			c := h.client()
			r := c.do("POST", "/rest/$directory/login", tt.header, tt.body)
			if r.status != tt.want {
				t.Fatalf("status: got %d, want %d (%s)", r.status, tt.want, r.body)
			}
			if tt.want == 200 {
				wantBody(t, r, `{"result":true}`)
				if !strings.HasPrefix(r.header.Get("Set-Cookie"), "WASID4D=") {
					t.Fatalf("first Set-Cookie is not the session cookie: %q", r.header.Values("Set-Cookie"))
				}
				u := c.get("/rest/$directory/currentUser").json(t)["result"].(map[string]any)
				if u["userName"] != "kim" || u["fullName"] != "kim" || u["ID"] == "" {
					t.Fatalf("currentUser: %v", u)
				}
			} else {
				wantBody(t, r, `{"result":false}`)
				if st := h.stats(); st.Sessions != 0 || st.Licensed != 0 {
					t.Fatalf("failed login left %+v", st)
				}
			}
		})
	}
}

func TestDigestReachesScript(t *testing.T) {
	h := authHarness(t, 0)
	c := h.client()
	wantStatus(t, c.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "kim", "hashed-password-4D": sha256Hex("pw")}, ""), 200, 0)
	var found bool
	h.mgr.Range(t.Context(), func(s *sessionsSession) bool {
		found = strings.Contains(string(s.Storage), `"digest":true`) && strings.Contains(string(s.Storage), `"ip":"127.0.0.1"`)
		return true
	})
	if !found {
		t.Fatal("script did not see isDigest=true and the client IP")
	}
}

func TestCookieReuseKeepsOneSession(t *testing.T) {
	h := authHarness(t, 0)
	c := h.client()
	wantStatus(t, c.login("kim", "pw"), 200, 0)
	for range 5 {
		if u := c.get("/rest/$directory/currentUser").json(t)["result"]; u == nil {
			t.Fatal("session lost between requests")
		}
	}
	if st := h.stats(); st.Sessions != 1 || st.Licensed != 1 {
		t.Fatalf("got %+v, want one licensed session", st)
	}
	// A request without the cookie opens another session, with another licence.
	other := h.client()
	if u := other.get("/rest/$directory/currentUser").json(t)["result"]; u != nil {
		t.Fatalf("a cookie-less client saw %v", u)
	}
	if st := h.stats(); st.Sessions != 2 || st.Licensed != 2 {
		t.Fatalf("got %+v, want two licensed sessions", st)
	}
}

func TestLicenceCap(t *testing.T) {
	const n = 3
	h := authHarness(t, n)
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = h.client()
		wantStatus(t, clients[i].login("kim", "pw"), 200, 0)
	}
	extra := h.client()
	r := extra.login("kim", "pw")
	wantStatus(t, r, http.StatusPaymentRequired, 1823)
	if !strings.Contains(string(r.body), "Maximum number of sessions reached") {
		t.Fatalf("402 body: %s", r.body)
	}
	wantStatus(t, extra.get("/rest/$catalog"), http.StatusPaymentRequired, 1823)
	// Existing sessions go on.
	wantStatus(t, clients[0].get("/rest/$directory/currentUser"), 200, 0)
	// A failed login holds no licence.
	wantStatus(t, extra.login("kim", "wrong"), 401, 0)
	if st := h.stats(); st.Licensed != n || st.Sessions != n {
		t.Fatalf("got %+v", st)
	}
	// A logout frees one.
	wantBody(t, clients[0].post("/rest/$directory/logout", ""), `{"result":true}`)
	wantStatus(t, extra.login("kim", "pw"), 200, 0)
	if st := h.stats(); st.Licensed != n {
		t.Fatalf("after logout + login: %+v", st)
	}
	// The logged-out client's cookie no longer works: it gets a fresh session (none free).
	wantStatus(t, clients[0].get("/rest/$directory/currentUser"), http.StatusPaymentRequired, 1823)
}

func TestIdleExpiryReleasesLicence(t *testing.T) {
	h := authHarness(t, 1)
	a := h.client()
	wantStatus(t, a.login("kim", "pw"), 200, 0)
	b := h.client()
	wantStatus(t, b.login("kim", "pw"), 402, 1823)
	h.clock.Add(59 * time.Minute)
	wantStatus(t, a.get("/rest/$directory/currentUser"), 200, 0) // touch: life extended
	h.clock.Add(59 * time.Minute)
	wantStatus(t, b.login("kim", "pw"), 402, 1823)
	h.clock.Add(2 * time.Minute)
	if n, _ := h.mgr.Sweep(t.Context()); n != 1 {
		t.Fatalf("sweep removed %d sessions, want 1", n)
	}
	wantStatus(t, b.login("kim", "pw"), 200, 0)
	// a's cookie names an expired session: a new one (none free now).
	wantStatus(t, a.get("/rest/$directory/currentUser"), 402, 1823)
}

func TestSessionLengthClamped(t *testing.T) {
	tests := []struct {
		name, length string
		want         time.Duration
	}{
		{"BelowMinimumRaised", "1", time.Hour},
		{"WithinRange", "120", 2 * time.Hour},
		{"AboveMaximumLowered", "100000", 24 * time.Hour},
		{"HugeLowered", "999999999999999999999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := authHarness(t, 0)
			c := h.client()
			wantStatus(t, c.do("POST", "/rest/$directory/login",
				map[string]string{"username-4D": "kim", "password-4D": "pw", "session-4D-length": tt.length}, ""), 200, 0)
			h.mgr.Range(t.Context(), func(s *sessionsSession) bool {
				if s.IdleTimeout != tt.want {
					t.Errorf("idle timeout: got %v, want %v", s.IdleTimeout, tt.want)
				}
				return true
			})
		})
	}
}

func TestCookieHandling(t *testing.T) {
	h := authHarness(t, 0)
	c := h.client()
	wantStatus(t, c.login("kim", "pw"), 200, 0)
	value := c.cookie()
	if value == "" {
		t.Fatal("no cookie")
	}
	t.Run("4DSIDNameAccepted", func(t *testing.T) {
		r := h.client().do("GET", "/rest/$directory/currentUser", map[string]string{"Cookie": "4DSID_MyApp=" + value}, "")
		if u := r.json(t)["result"]; u == nil {
			t.Fatalf("4DSID_ cookie not accepted: %s", r.body)
		}
	})
	t.Run("TamperedCookieGetsNewSession", func(t *testing.T) {
		bad := value[:len(value)-2] + "xx"
		r := h.client().do("GET", "/rest/$directory/currentUser", map[string]string{"Cookie": "WASID4D=" + bad}, "")
		wantBody(t, r, `{"result":null}`)
		if !strings.HasPrefix(r.header.Get("Set-Cookie"), "WASID4D=") {
			t.Fatal("no new cookie for a tampered one")
		}
	})
	t.Run("BareIDRefused", func(t *testing.T) {
		var id string
		h.mgr.Range(t.Context(), func(s *sessionsSession) bool {
			if s.UserName == "kim" {
				id = s.ID
			}
			return true
		})
		r := h.client().do("GET", "/rest/$directory/currentUser", map[string]string{"Cookie": "WASID4D=" + id}, "")
		wantBody(t, r, `{"result":null}`)
	})
	t.Run("CookieAttributes", func(t *testing.T) {
		r := h.client().login("kim", "pw")
		ck := r.header.Get("Set-Cookie")
		for _, want := range []string{"Path=/", "HttpOnly", "SameSite=Strict"} {
			if !strings.Contains(ck, want) {
				t.Errorf("cookie %q lacks %s", ck, want)
			}
		}
		if strings.Contains(ck, "Secure") {
			t.Errorf("plain HTTP with cookie-secure=auto must not set Secure: %q", ck)
		}
	})
}

func TestLoginRotatesExistingSession(t *testing.T) {
	h := authHarness(t, 0)
	c := h.client()
	wantBody(t, c.get("/rest/$directory/currentUser"), `{"result":null}`)
	before := c.cookie()
	wantStatus(t, c.login("kim", "pw"), 200, 0)
	if c.cookie() == before {
		t.Fatal("session ID not rotated at login")
	}
	r := h.client().do("GET", "/rest/$directory/currentUser", map[string]string{"Cookie": "WASID4D=" + before}, "")
	wantBody(t, r, `{"result":null}`)
	if st := h.stats(); st.Sessions != 2 || st.Licensed != 2 {
		t.Fatalf("stats: %+v (the upgraded session and the one the old cookie opened)", st)
	}
}

func TestNoAuthenticationScriptOpensGuestSession(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	c := h.client()
	r := c.login("anyone", "anything")
	wantStatus(t, r, 200, 0)
	wantBody(t, r, `{"result":true}`)
	wantBody(t, c.get("/rest/$directory/currentUser"), `{"result":null}`)
	if st := h.stats(); st.Sessions != 1 || st.Guests != 1 || st.Licensed != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestScriptFailures(t *testing.T) {
	h := authHarness(t, 0)
	t.Run("ThrowIs1907WithoutInternals", func(t *testing.T) {
		r := h.client().login("boom", "x")
		wantStatus(t, r, 500, 1907)
		if strings.Contains(string(r.body), "exploded") {
			t.Fatalf("unexposed script message leaked: %s", r.body)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Fatal("no X-Request-Id")
		}
	})
	t.Run("LoopIs1908AndOthersAreServed", func(t *testing.T) {
		done := make(chan response)
		go func() { done <- h.client().login("loop", "x") }()
		for range 5 {
			wantStatus(t, h.client().login("kim", "pw"), 200, 0)
		}
		wantStatus(t, <-done, 503, 1908)
	})
	if st := h.stats(); st.Sessions != 5 {
		t.Fatalf("failed script calls left sessions: %+v", st)
	}
}

func TestInfoNeedsWebAdmin(t *testing.T) {
	h := authHarness(t, 4)
	kim := h.client()
	wantStatus(t, kim.login("kim", "pw"), 200, 0)
	wantStatus(t, kim.get("/rest/$info"), 401, 1902)
	wantBody(t, kim.get("/rest/$info/privileges"), `{"privileges":[]}`)

	admin := h.client()
	wantStatus(t, admin.login("admin", "adminpw"), 200, 0)
	r := admin.get("/rest/$info")
	wantStatus(t, r, 200, 0)
	info := r.json(t)
	lic := info["licences"].(map[string]any)
	if lic["max"] != 4.0 || lic["used"] != 2.0 {
		t.Fatalf("licences: %v", lic)
	}
	first := info["sessionInfo"].([]any)[0].(map[string]any)
	if first["userName"] != "admin" || first["lifeTime"] != 3600.0 || first["licensed"] != true || first["guest"] != false {
		t.Fatalf("sessionInfo: %v", first)
	}
	if _, err := time.Parse(time.RFC3339, first["expiration"].(string)); err != nil {
		t.Fatalf("expiration: %v", err)
	}
	wantBody(t, admin.get("/rest/$info/privileges"), `{"privileges":[{"privilege":"WebAdmin"}]}`)
	// HTTP Basic on a request without a session authenticates (existing clients do this).
	basicClient := h.client()
	wantStatus(t, basicClient.do("GET", "/rest/$info", map[string]string{"Authorization": basic("admin", "adminpw")}, ""), 200, 0)
	wantStatus(t, h.client().do("GET", "/rest/$info", map[string]string{"Authorization": basic("admin", "nope")}, ""), 401, 1822)
}

func TestCurrentUserBelongsTo(t *testing.T) {
	h := authHarness(t, 0)
	c := h.client()
	wantStatus(t, c.login("admin", "adminpw"), 200, 0)
	wantBody(t, c.post("/rest/$directory/currentUserBelongsTo", `["webadmin"]`), `{"result":true}`)
	wantBody(t, c.post("/rest/$directory/currentUserBelongsTo", `["vip"]`), `{"result":false}`)
	wantStatus(t, c.post("/rest/$directory/currentUserBelongsTo", `"WebAdmin"`), 400, 1905)
	wantBody(t, h.client().post("/rest/$directory/currentUserBelongsTo", `["WebAdmin"]`), `{"result":false}`)
}

func TestBadInputNeverLeaks(t *testing.T) {
	h := newHarness(t, harnessOptions{licences: 2, maxBody: 1024,
		scripts: map[string]string{"onRESTAuthentication.js": authScript}})
	big := strings.Repeat("x", 4096)
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   string
		status int
		code   int
	}{
		{"SessionLengthNotANumber", "POST", "/rest/$directory/login", map[string]string{"username-4D": "kim", "password-4D": "pw", "session-4D-length": "abc"}, "", 400, 1905},
		{"SessionLengthNegative", "POST", "/rest/$directory/login", map[string]string{"username-4D": "kim", "password-4D": "pw", "session-4D-length": "-5"}, "", 400, 1905},
		{"BodyNotJSON", "POST", "/rest/$directory/login", nil, "{user: kim", 400, 1905},
		{"BodyWrongShape", "POST", "/rest/$directory/login", nil, `[1,2,3]`, 400, 1905},
		{"BodyWrongTimeout", "POST", "/rest/$directory/login", nil, `["kim","pw","soon"]`, 400, 1905},
		{"BodyTooDeep", "POST", "/rest/$directory/currentUserBelongsTo", nil, strings.Repeat("[", 100) + strings.Repeat("]", 100), 400, 1905},
		{"BodyTooLarge", "POST", "/rest/$directory/login", nil, `["` + big + `","pw"]`, 413, 1906},
		{"BelongsToTooLarge", "POST", "/rest/$directory/currentUserBelongsTo", nil, `["` + big + `"]`, 413, 1906},
		{"UnknownKeyword", "GET", "/rest/$nothing", nil, "", 400, 1811},
		{"UnknownDataClass", "GET", "/rest/Nobody", nil, "", 404, 1800},
		{"WrongMethod", "DELETE", "/rest/$directory/login", nil, "", 405, 1806},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.client().do(tt.method, tt.path, tt.header, tt.body)
			wantStatus(t, r, tt.status, tt.code)
			if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	// Rejected logins and bodies left no session; the 4D-path errors made sessions only for
	// the requests that reached a handler needing one (unknown paths).
	st := h.stats()
	if st.Licensed > 2 {
		t.Fatalf("licences over the cap: %+v", st)
	}
	h.mgr.Range(t.Context(), func(s *sessionsSession) bool {
		if s.UserName != "" {
			t.Errorf("a rejected login left a user session: %+v", s)
		}
		return true
	})
}

// TestLicencesUnderLoad hammers login, requests, logout and expiry from many goroutines:
// licences held never exceed the cap, and all come back.
func TestLicencesUnderLoad(t *testing.T) {
	const cap = 4
	// A script timeout far above any login's time: authHarness's 200 ms, meant for the
	// runaway-script tests, was reached by plain logins under -race on a loaded machine.
	h := newHarness(t, harnessOptions{licences: cap, scripts: map[string]string{"onRESTAuthentication.js": authScript},
		scriptTimeout: time.Minute})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st := h.stats(); st.Licensed > cap {
				errs <- fmt.Errorf("licences %d over cap %d", st.Licensed, cap)
				return
			}
		}
	}()
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				c := h.client()
				r := c.login("kim", "pw")
				if r.status != 200 && r.status != 402 {
					errs <- fmt.Errorf("login: %d %s", r.status, r.body)
					return
				}
				if r.status == 200 {
					c.get("/rest/$directory/currentUser")
					if (w+i)%3 == 0 {
						h.clock.Add(61 * time.Minute) // let it (and others) expire
						h.mgr.Sweep(t.Context())
					} else {
						c.post("/rest/$directory/logout", "")
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	h.clock.Add(25 * time.Hour)
	h.mgr.Sweep(t.Context())
	if st := h.stats(); st.Licensed != 0 || st.Sessions != 0 {
		t.Fatalf("leaked: %+v", st)
	}
}
