package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	pathpkg "path"
	"strings"
	"testing"
	"time"

	"gatehouse/datastore"
	"gatehouse/sessions"
)

// Fuzz targets for the REST surface (seed corpora in testdata/fuzz/<name>). Each input
// runs against a fresh real server (newHarness: real sessions, real goja, real SQLite),
// so that an input cannot hide behind what an earlier one left.
//
//	go test ./rest -run '^$' -fuzz '^FuzzLogin$' -fuzztime 2m

// fuzzAuthScript accepts ann/secret (clear, or as a sha256 digest), and a user whose
// password equals the user name; it throws for "throw" (generic 500) and "expose" (500
// with the message), returns an object for "object", sets privileges for ann, and writes
// whatever it was given into Session.storage.
const fuzzAuthScript = `
module.exports = function (user, password, isDigest, ip) {
  Session.storage.user = user;
  Session.storage.password = password;
  Session.storage.digest = isDigest;
  if (user === "throw") throw new Error("refused: " + password);
  if (user === "expose") { const e = new Error("shown: " + password); e.expose = true; throw e; }
  if (user === "object") return {};
  if (user === "ann") {
    const ok = isDigest ? password === generateDigest("secret", "sha256") : password === "secret";
    if (ok) Session.setPrivileges({ privileges: "reader", userName: user, fullName: password });
    return ok;
  }
  return user.length > 2 && password === user;
};
`

const fuzzRoles = `{"privileges":[{"privilege":"reader"}],
 "permissions":{"allowed":[{"applyTo":"ds","type":"datastore","read":["reader"]}]}}`

// fuzzResponse is what one fuzzed request answered.
type fuzzResponse struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request to h's server with a fresh client; ok is false when the client
// itself refuses the request (a header value no HTTP client may send).
func (h *harness) send(t *testing.T, method, target string, header http.Header, body []byte, cookies ...*http.Cookie) (fuzzResponse, bool) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+target, bytes.NewReader(body))
	if err != nil {
		return fuzzResponse{}, false
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) && strings.Contains(err.Error(), "invalid") {
			return fuzzResponse{}, false // net/http refused to send it
		}
		t.Fatalf("%s %q: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %q: reading the answer: %v", method, target, err)
	}
	return fuzzResponse{status: resp.StatusCode, header: resp.Header, body: b}, true
}

// checkAnswer checks what every REST answer must be: JSON; an error is 4D's error stack
// with a code; a 5xx only for a script that threw (1907).
func checkAnswer(t *testing.T, what string, r fuzzResponse) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q: %s", what, r.status, ct, r.body)
	}
	if !json.Valid(r.body) {
		t.Fatalf("%s: %d with a body that is not JSON: %q", what, r.status, r.body)
	}
	if r.status < 400 {
		return
	}
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err == nil && len(e.Errors) == 1 {
		code := e.Errors[0].ErrCode
		if r.status >= 500 && code != codeScriptThrew {
			t.Fatalf("%s: %d errCode %d: only a script error may be a 5xx: %s", what, r.status, code, r.body)
		}
		if e.Errors[0].Message == "" || code == 0 {
			t.Fatalf("%s: error without message or code: %s", what, r.body)
		}
		return
	}
	if r.status != http.StatusUnauthorized || strings.TrimSpace(string(r.body)) != `{"result":false}` {
		t.Fatalf("%s: %d is neither an error stack nor a refused login: %s", what, r.status, r.body)
	}
}

// checkLicences checks that the licences held are those of the licensed live sessions,
// within the cap, and returns the store's counts.
func (h *harness) checkLicences(t *testing.T, what string) (sessions, licensed int) {
	t.Helper()
	ctx := context.Background()
	n, held := 0, 0
	if err := h.mgr.Range(ctx, func(s *sessionsSession) bool {
		n++
		if s.Licensed {
			held++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	st, err := h.mgr.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Licensed != held || st.Sessions != n {
		t.Fatalf("%s: stats %+v, but %d sessions of which %d licensed", what, st, n, held)
	}
	if max := h.mgr.Licences(); max > 0 && held > max {
		t.Fatalf("%s: %d licences held, cap %d", what, held, max)
	}
	return n, held
}

// sessionCookie returns the session cookie an answer set, or nil.
func sessionCookie(r fuzzResponse) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "WASID4D" && c.Value != "" {
			return c
		}
	}
	return nil
}

// FuzzLogin sends arbitrary credentials to "POST /rest/$directory/login" in every form a
// client may use (4D headers, session-4D-length, a JSON body, HTTP Basic). Whatever the
// input: no panic, JSON answers, no 5xx but a script's own error; a refused or failed
// login leaves no session and no licence; an accepted one leaves exactly one licensed
// session whose cookie works, and logging out gives the licence back.
func FuzzLogin(f *testing.F) {
	f.Add("ann", "secret", "", "", "", []byte(nil))
	f.Add("ann", "", sha256Hex("secret"), "30", "", []byte(nil))
	f.Add("", "", "", "", "Basic YW5uOnNlY3JldA==", []byte(nil))
	f.Add("", "", "", "", "", []byte(`["ann","secret",3600]`))
	f.Add("", "", "", "99999999999999999999", "", []byte(`{"username":"kim","password":"kim"}`))
	f.Add("throw", "x", "", "", "", []byte(nil))
	f.Add("expose", "<b>", "", "-1", "", []byte(nil))
	f.Add("object", "", "", "", "", []byte(`[[[[[[[]]]]]]]`))
	f.Fuzz(func(t *testing.T, user, password, hashed, length, authorization string, body []byte) {
		h := newHarness(t, harnessOptions{licences: 1, roles: fuzzRoles, throttleMax: 3,
			scripts: map[string]string{"onRESTAuthentication.js": fuzzAuthScript}})
		header := http.Header{}
		for k, v := range map[string]string{"username-4D": user, "password-4D": password,
			"hashed-password-4D": hashed, "session-4D-length": length, "Authorization": authorization} {
			if v != "" {
				header.Set(k, v)
			}
		}
		r, ok := h.send(t, "POST", "/rest/$directory/login", header, body)
		if !ok {
			return
		}
		checkAnswer(t, "login", r)
		n, held := h.checkLicences(t, "after the login")
		if r.status != http.StatusOK {
			if n != 0 || held != 0 {
				t.Fatalf("a login answered %d left %d sessions, %d licences: %s", r.status, n, held, r.body)
			}
			return
		}
		if got := strings.TrimSpace(string(r.body)); got != `{"result":true}` {
			t.Fatalf("accepted login answered %s", got)
		}
		c := sessionCookie(r)
		if c == nil || n != 1 || held != 1 {
			t.Fatalf("accepted login: cookie %v, %d sessions, %d licences", c, n, held)
		}
		// The cookie works, and a second login of the same session (onRESTAuthentication
		// is not called again) neither takes another licence nor breaks the session.
		me, ok := h.send(t, "GET", "/rest/$directory/currentUser", nil, nil, c)
		if !ok || me.status != http.StatusOK {
			t.Fatalf("currentUser with the new cookie: %d %s", me.status, me.body)
		}
		again, ok := h.send(t, "POST", "/rest/$directory/login", header, body, c)
		if ok {
			checkAnswer(t, "second login", again)
			if again.status != http.StatusOK {
				t.Fatalf("second login of an authenticated session: %d %s", again.status, again.body)
			}
			if c2 := sessionCookie(again); c2 != nil {
				c = c2
			}
		}
		if n, held := h.checkLicences(t, "after the second login"); n != 1 || held != 1 {
			t.Fatalf("after the second login: %d sessions, %d licences", n, held)
		}
		out, _ := h.send(t, "POST", "/rest/$directory/logout", nil, nil, c)
		checkAnswer(t, "logout", out)
		if n, held := h.checkLicences(t, "after logout"); n != 0 || held != 0 {
			t.Fatalf("after logout: %d sessions, %d licences", n, held)
		}
	})
}

// FuzzParseDataPath checks the data URL parser: no panic; a refusal is a 400 with 4D's
// malformed-URL or unknown-keyword code; an accepted path is well formed (a dataclass
// name without "()$ /", a key only inside parentheses, an attribute only after a key, a
// function only without one) and parses back to itself once written out again.
func FuzzParseDataPath(f *testing.F) {
	for _, p := range []string{"Employees", "Employees(1)", "Employees(1)/employer", "Employees/raise",
		`Tags("a/b")`, "Tags('x')/label", "Employees(1)/$entityset", "E(1", "E)(", "()", "E(1)x", "E/a/b", "E(a/b)/c", "",
		"Employees/$entityset/0123456789ABCDEF0123456789ABCDEF", "Employees/$entityset/0123456789ABCDEF0123456789ABCDEF/",
		"E/$entityset/x", "E(1)/$entityset/0123456789ABCDEF0123456789ABCDEF",
		"E[1]", "E[1]/a", "E:a(x)", "E:a(x)/b", "E/a,b", "E(1)/a,b", "E/", "E(1)/", "E:(1)", "E[1)"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		d, err := parseDataPath(p)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || (e.Code != codeMalformedURL && e.Code != codeUnknownKeyword) {
				t.Fatalf("parseDataPath(%q): error %v is not a 400 / 1806 or 1811", p, err)
			}
			return
		}
		if d.EntitySet != "" {
			if !sessions.ValidID(d.EntitySet) || d.HasKey || d.Attribute != "" || d.Function != "" {
				t.Fatalf("parseDataPath(%q): entity set %+v", p, d)
			}
			if d2, err := parseDataPath(d.DataClass + "/$entityset/" + d.EntitySet); err != nil || d2 != d {
				t.Fatalf("parseDataPath(%q) = %+v, written out parses to %+v, %v", p, d, d2, err)
			}
			return
		}
		switch {
		case d.DataClass == "" || strings.ContainsAny(d.DataClass, "()$ /"):
			t.Fatalf("parseDataPath(%q): dataclass %q", p, d.DataClass)
		case d.HasKey != (d.Key != ""):
			t.Fatalf("parseDataPath(%q): key %q (has key %v)", p, d.Key, d.HasKey)
		case d.Attribute != "" && !d.HasKey, d.Function != "" && d.HasKey:
			t.Fatalf("parseDataPath(%q): %+v mixes a key with a function, or an attribute without a key", p, d)
		case strings.ContainsAny(d.Attribute+d.Function, "/") || strings.HasPrefix(d.Attribute+d.Function, "$"):
			t.Fatalf("parseDataPath(%q): attribute %q function %q", p, d.Attribute, d.Function)
		case d.KeyAttribute != "" && !d.HasKey:
			t.Fatalf("parseDataPath(%q): key attribute %q without a key", p, d.KeyAttribute)
		case len(d.DataClass)+len(d.Key)+len(d.KeyAttribute)+len(d.Attribute)+len(d.Function)+len(d.Attributes) > len(p):
			t.Fatalf("parseDataPath(%q): parts %+v longer than the path", p, d)
		}
		// Written out again (keys quoted, as clients do for text keys), it parses the same.
		again := d.DataClass
		if d.KeyAttribute != "" {
			again += ":" + d.KeyAttribute
		}
		if d.HasKey {
			again += `("` + d.Key + `")`
		}
		if tail := d.Attribute + d.Function + d.Attributes; tail != "" {
			again += "/" + tail
		}
		if strings.ContainsAny(d.Key, `)"`) || strings.HasSuffix(d.Key, "/") && d.Attribute+d.Function+d.Attributes == "" || len(again) > 1024 {
			return // a key with ")" or quotes has no unambiguous written form
		}
		d2, err := parseDataPath(again)
		if err != nil || d2 != d {
			t.Fatalf("parseDataPath(%q) = %+v, written out %q parses to %+v, %v", p, d, again, d2, err)
		}
	})
}

// fuzzDataScript holds functions a fuzzed URL may reach: a datastore function open to
// GET, a dataclass function, and one that throws.
const fuzzDataScript = `
exports.as = function (p) { return Session.setPrivileges(p); };
exports.echo = function () { return Array.prototype.slice.call(arguments); };
exports.echo.onHttpGet = true;
exports.fail = function () { throw new Error("fuzz"); };
exports.fail.onHttpGet = true;
`

// FuzzRESTURL sends arbitrary paths and query strings under /rest/, with GET and POST,
// to a server with a model, data, roles and scripts. Whatever the URL: no panic, JSON
// answers, no 5xx but a script's own error, the data unchanged by a GET, and licences
// held only by live sessions, within the cap.
func FuzzRESTURL(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "Employees", `$filter="salary > 4000"&$orderby="lastName desc"&$top=2&$skip=1&$attributes=firstName,employer.name&$expand=employer`},
		{"GET", "Employees(1)/employer", ""},
		{"GET", "Companies(1)/employees", "$expand=employees"},
		{"GET", "Employees", `$filter="lastName = :1 and salary < :2"&$params='["b@",5000]'`},
		{"POST", "Employees", "$method=delete&$filter=\"ID = 99\""},
		{"POST", "Employees(1)", "$method=delete"},
		{"POST", "Employees", "$method=update"},
		{"GET", "$catalog/echo", `$params='[1,"a",null,{"b":[]}]'`},
		{"GET", "$catalog/fail", ""},
		{"GET", "$catalog/$all", ""},
		{"GET", "$catalog/Employees", ""},
		{"GET", "$info", ""},
		{"GET", "$directory/currentUser", "$4DSID=nope"},
		{"POST", "Employees/raise", ""},
		{"GET", "Employees(%22a%2Fb%22)", ""},
		{"GET", "%24catalog", ""},
		{"GET", "Employees", "$top=-1&$limit=99999999999999999999"},
	} {
		f.Add(s[0] == "POST", s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, post bool, path, query string) {
		u, err := url.Parse("/rest/" + path)
		if err != nil || u.Path == "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(path, "#") {
			return // not a path under /rest/ that a client can send as such
		}
		target := u.EscapedPath()
		if query != "" {
			if strings.ContainsAny(query, "# \t\r\n") {
				return
			}
			target += "?" + query
		}
		h := newHarness(t, harnessOptions{licences: 2, roles: dataRoles, model: testModel, seed: testSeed,
			scripts: map[string]string{"DataStore.js": fuzzDataScript, "Employees.js": employeesScript}})
		before := h.dataDigest(t)
		method := "GET"
		if post {
			method = "POST"
		}
		r, ok := h.send(t, method, target, nil, []byte(`[{"__KEY":"1","__STAMP":1,"firstName":"Fuzz"}]`))
		if !ok {
			return
		}
		what := fmt.Sprintf("%s %s", method, target)
		if r.status == http.StatusMovedPermanently {
			// The router sends a path with "." or ".." segments or doubled slashes to its
			// clean form, on this server.
			loc := r.header.Get("Location")
			if clean := pathpkg.Clean(u.Path); !strings.HasPrefix(loc, clean) || strings.HasPrefix(loc, "//") || clean == u.Path {
				t.Fatalf("%s: redirected to %q (clean path %q)", what, loc, clean)
			}
			return
		}
		checkAnswer(t, what, r)
		h.checkLicences(t, what)
		if !post && h.dataDigest(t) != before {
			t.Fatalf("%s changed the data", what)
		}
	})
}

// dataDigest is the stored data, as one string to compare.
func (h *harness) dataDigest(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, dc := range h.db.Model().DataClasses {
		sel, err := h.db.Find(context.Background(), dc, datastore.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range sel.Entities {
			fmt.Fprintf(&b, "%s %v %d %v\n", dc.Name, e.Key, e.Stamp, e.Values)
		}
	}
	return b.String()
}
