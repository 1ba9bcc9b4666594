package rest

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// routeRecorder is an Observer that keeps the route label, method and status of each answer.
type routeRecorder struct {
	nopObserver
	mu   sync.Mutex
	seen []string
}

func (o *routeRecorder) Request(route, method string, code int, _ time.Duration) {
	o.mu.Lock()
	o.seen = append(o.seen, fmt.Sprintf("%s %s %d", method, route, code))
	o.mu.Unlock()
}

func (o *routeRecorder) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.seen
	o.seen = nil
	return s
}

const fastRouteScripts = `
exports.as = function (p) { return Session.setPrivileges(p); };
exports.named = function (name) { return Session.setPrivileges({privileges: ["WebAdmin"], userName: name}); };
exports.named.onHttpGet = true;
`

// fastRouteHarness is a server with functions, singletons and dataclasses, whose metrics
// go to rec; fast false turns the fast routes off (every request through mux).
func fastRouteHarness(t *testing.T, fast bool, rec *routeRecorder) *harness {
	h := newHarness(t, harnessOptions{model: testModel, seed: testSeed,
		roles: `{"privileges":[{"privilege":"WebAdmin"},{"privilege":"shopper"},{"privilege":"cashier"}],
		 "permissions":{"allowed":[{"applyTo":"Cart","type":"singleton","execute":["shopper"]}]}}`,
		scripts: map[string]string{"DataStore.js": fastRouteScripts, "Employees.js": employeesScript,
			"singletons/Cart.js": cartSingleton},
		cfg: func(c *Config) { c.Metrics = rec }})
	h.rest.noFast = !fast
	return h
}

// The paths the fast-route tests send, in every method: the hot paths in their plain
// forms, and the forms around them that mux decides (trailing slashes, encoded '$', paths
// mux cleans, unknown keywords, other case).
var fastRoutePaths = []string{
	"/rest/$directory/currentUser", "/rest/$directory/currentUser/", "/rest/%24directory/currentUser",
	"/rest/$directory/%63urrentUser", "/rest/$directory//currentUser", "/rest/$directory/./currentUser",
	"/rest/$directory/../$directory/currentUser", "/rest/$directory/currentuser", "/rest/$directory/currentUser?x=1",
	"/rest/$directory/currentUserBelongsTo", "/rest/$directory/login", "/rest/$directory",
	"/rest/$catalog", "/rest/$catalog/", "/rest/%24catalog", "/rest/$catalog/$all", "/rest/$catalog/%24all",
	"/rest/$catalog/Employees", "/rest/$catalog/Employees/", "/rest/$catalog/Employees?$params=%5B%5D",
	"/rest/$catalog/named?$params=%5B%22kim%22%5D", "/rest/$catalog/named", "/rest/$catalog/as", "/rest/$catalog/nope",
	"/rest/$catalog/a/b", "/rest/$catalog/.", "/rest/$catalog/..", "/rest/$catalog/%2E", "/rest/$catalog/a%2Fb",
	"/rest/$info", "/rest/$info/", "/rest/$info/privileges", "/rest/$infos",
	"/rest/$singleton/Cart/add", "/rest/$singleton/Cart/total", "/rest/$singleton/Cart", "/rest/$singleton/Cart/add/",
	"/rest/$singleton//add", "/rest/%24singleton/Cart/add",
	"/rest/Employees", "/rest/Employees(1)", "/rest/Employees/", "/rest/Employees(1)/firstName",
	"/rest/Employees/raise", "/rest/Employees/.", "/rest/Employees%2F1", "/rest/Nope", "/rest/.hidden",
	"/rest/", "/rest", "/restx", "/rest/$nope", "/rest/$getWebForm/x", "/healthz", "/nowhere",
}

var fastRouteMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}

// volatile are the parts of an answer that differ between two servers by chance: session
// IDs (and their tags) and times.
var volatile = regexp.MustCompile(`[0-9A-F]{32}|"[0-9a-f]{8}"|\d{4}-\d\d-\d\dT[0-9:.]+Z|WASID4D=[^;]+`)

// answerOf is a response reduced to what must be the same on both servers.
func answerOf(r response) string {
	h := r.header.Clone()
	h.Del("Date")
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.status)
	h.Write(&b)
	b.WriteString("\n")
	b.Write(r.body)
	return volatile.ReplaceAllString(b.String(), "…")
}

// TestFastRoutesAnswerAsMux sends the same requests, as a guest and as a user, to a server
// with its fast routes and to one without (mux serves every request there): the answers
// (status, headers, body), the route names the metrics see and the sessions left behind must
// be the same.
func TestFastRoutesAnswerAsMux(t *testing.T) {
	fastRec, muxRec := &routeRecorder{}, &routeRecorder{}
	fast, slow := fastRouteHarness(t, true, fastRec), fastRouteHarness(t, false, muxRec)
	type pair struct{ fast, mux *client }
	guest := pair{fast.client(), slow.client()}
	user := pair{fast.client(), slow.client()}
	for _, c := range []*client{user.fast, user.mux} {
		wantBody(t, c.post("/rest/$catalog/named", `["ann"]`), `{"result":true}`)
	}
	fastRec.take()
	muxRec.take()
	header := map[string]string{"X-Request-Id": "same-id"}
	for _, who := range []struct {
		name string
		c    pair
	}{{"guest", guest}, {"user", user}} {
		for _, path := range fastRoutePaths {
			for _, method := range fastRouteMethods {
				body := ""
				if method == "POST" || method == "PUT" {
					body = "[]"
				}
				f := answerOf(who.c.fast.do(method, path, header, body))
				m := answerOf(who.c.mux.do(method, path, header, body))
				if f != m {
					t.Errorf("%s %s %s: fast route answered\n%s\nmux answered\n%s", who.name, method, path, f, m)
				}
				if f, m := fastRec.take(), muxRec.take(); !slices.Equal(f, m) {
					t.Errorf("%s %s %s: metrics saw %q with the fast route, %q with mux", who.name, method, path, f, m)
				}
			}
		}
	}
	if f, m := fast.stats(), slow.stats(); f != m {
		t.Errorf("sessions left: %+v with the fast routes, %+v with mux", f, m)
	}
}

// TestFastRoutesServe pins which requests the fast path serves (the rest go to mux), so
// that the comparison above covers both.
func TestFastRoutesServe(t *testing.T) {
	h := fastRouteHarness(t, true, &routeRecorder{})
	tests := []struct{ method, path, want string }{
		{"GET", "/rest/$directory/currentUser", "/rest/$directory/currentUser"},
		{"HEAD", "/rest/$directory/currentUser", "/rest/$directory/currentUser"},
		{"GET", "/rest/$directory/currentUser?$x=1", "/rest/$directory/currentUser"},
		{"POST", "/rest/$directory/currentUser", ""},
		{"OPTIONS", "/rest/$directory/currentUser", ""},
		{"GET", "/rest/$directory/currentUser/", ""},
		{"GET", "/rest/%24directory/currentUser", "/rest/{path}"}, // as mux: not a keyword once encoded
		{"GET", "/rest/$directory/./currentUser", ""},
		{"POST", "/rest/$directory/login", "/rest/$directory/login"},
		{"GET", "/rest/$directory/logout", "/rest/$directory/logout"},
		{"POST", "/rest/$directory/currentUserBelongsTo", "/rest/$directory/currentUserBelongsTo"},
		{"GET", "/rest/$catalog", "/rest/$catalog"},
		{"GET", "/rest/$catalog/$all", "/rest/$catalog/$all"},
		{"POST", "/rest/$catalog/$all", ""},
		{"GET", "/rest/$info", "/rest/$info"},
		{"GET", "/rest/$info/privileges", "/rest/$info/privileges"},
		{"GET", "/rest/$catalog/Employees", "/rest/$catalog/{name}"},
		{"POST", "/rest/$catalog/named", "/rest/$catalog/{name}"},
		{"GET", "/rest/$catalog/named", "/rest/$catalog/{name}"},
		{"PUT", "/rest/$catalog/named", ""},
		{"GET", "/rest/$catalog/a/b", ""},
		{"GET", "/rest/$catalog/..", ""},
		{"POST", "/rest/$singleton/Cart/add", "/rest/$singleton/{name}/{fn}"},
		{"POST", "/rest/$singleton/Cart", ""},
		{"GET", "/rest/Employees(1)", "/rest/{path}"},
		{"POST", "/rest/Employees/raise", "/rest/{path}"},
		{"DELETE", "/rest/Employees(1)", ""},
		{"GET", "/rest/Employees//1", ""},
		{"GET", "/rest/", ""},
		{"GET", "/rest/$nope", ""},
		{"GET", "/healthz", ""},
	}
	for _, tt := range tests {
		r := mustRequest(tt.method, tt.path)
		r = r.WithContext(context.WithValue(t.Context(), stateKey{}, &state{}))
		got := ""
		if f, _ := h.rest.fastRoute(r); f != nil {
			got = f.name
		}
		if got != tt.want {
			t.Errorf("%s %s: fast route %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestFastRouteVariables: the handlers of the fast routes read their variables as mux's
// would give them (encoded in the path, decoded by pathVar).
func TestFastRouteVariables(t *testing.T) {
	h := fastRouteHarness(t, true, &routeRecorder{})
	c := h.client()
	wantBody(t, c.post("/rest/$catalog/as", `["shopper"]`), `{"result":true}`)
	wantBody(t, c.post("/rest/$singleton/Cart/add", `[1,2]`), `{"result":[3,1]}`)
	wantBody(t, c.post("/rest/$singleton/Cart/%61dd", `[1,2]`), `{"result":[3,1]}`) // through mux
	wantStatus(t, c.get("/rest/$catalog/Employees"), http.StatusOK, 0)
	wantStatus(t, c.get("/rest/Employees(1)/firstName"), http.StatusOK, 0)
}
