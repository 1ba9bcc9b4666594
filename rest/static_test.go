package rest

import (
	"strings"
	"testing"
	"time"
)

func TestStaticFilesNeedNoSession(t *testing.T) {
	h := newHarness(t, harnessOptions{
		web:      map[string]string{"index.html": "<h1>home</h1>", "docs/a.txt": "A", "empty/x/.keep": "", ".env": "SECRET=1"},
		webforms: map[string]string{"login.html": "<form>login</form>", ".hidden.html": "no"},
	})
	c := h.client()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "<h1>home</h1>"},
		{"/index.html", 301, ""}, // net/http's canonical redirect to /
		{"/docs/a.txt", 200, "A"},
		{"/docs/", 404, ""},    // no listing
		{"/empty/x/", 404, ""}, // no listing
		{"/.env", 404, ""},
		{"/../etc/passwd", 301, ""}, // the router cleans the path: /etc/passwd, then 404
		{"/healthz", 200, `{"status":"ok"}`},
	}
	for _, tt := range tests {
		r := c.get(tt.path)
		if r.status != tt.status || (tt.body != "" && strings.TrimSpace(string(r.body)) != tt.body) {
			t.Errorf("%s: got %d %q, want %d %q", tt.path, r.status, r.body, tt.status, tt.body)
		}
		if ck := r.header.Get("Set-Cookie"); ck != "" {
			t.Errorf("%s set a cookie: %s", tt.path, ck)
		}
	}
	if st := h.stats(); st.Sessions != 0 {
		t.Fatalf("static files opened sessions: %+v", st)
	}
	if r := c.get("/etc/passwd"); r.status != 404 {
		t.Fatalf("/etc/passwd: %d", r.status)
	}
	r := c.get("/rest/$getWebForm/login")
	if r.status != 200 || string(r.body) != "<form>login</form>" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("webform: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	for _, bad := range []string{"/rest/$getWebForm/nope", "/rest/$getWebForm/.hidden.html", "/rest/$getWebForm/..%2Fweb%2Findex.html"} {
		wantStatus(t, c.get(bad), 404, 1800)
	}
}

func TestHealthzBeforeReady(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	s, err := New(h.rest.cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := newRecorder()
	s.ServeHTTP(w, mustRequest("GET", "/healthz"))
	if w.Code != 503 {
		t.Fatalf("healthz before ready: %d", w.Code)
	}
}

func TestGuestSessionsBounded(t *testing.T) {
	h := newHarness(t, harnessOptions{roles: forceRoles, maxGuests: 2})
	first := h.client()
	wantStatus(t, first.get("/rest/$catalog"), 200, 0)
	before := first.cookie()
	for range 3 {
		wantStatus(t, h.client().get("/rest/$catalog"), 200, 0)
	}
	if st := h.stats(); st.Guests != 2 || st.Sessions != 2 || st.Licensed != 0 {
		t.Fatalf("stats: %+v", st)
	}
	wantStatus(t, first.get("/rest/$catalog"), 200, 0)
	if first.cookie() == before {
		t.Fatal("the least recently used guest was not evicted")
	}
}

const sessionScript = `
exports.setIdle = function (m) { Session.idleTimeout = m; return [Session.idleTimeout, Session.expirationDate]; };
exports.info = function () { const i = Session.info; return [i.type, i.userName, i.guest, i.licensed]; };
`

func TestScriptIdleTimeoutClamped(t *testing.T) {
	h := newHarness(t, harnessOptions{scripts: map[string]string{"DataStore.js": sessionScript}})
	c := h.client()
	// The harness clamps to [60m, 24h]: 5 minutes becomes 60.
	wantBody(t, c.post("/rest/$catalog/setIdle", `[5]`), `{"result":[60,"2026-03-04T06:06:07.000Z"]}`)
	wantBody(t, c.post("/rest/$catalog/setIdle", `[100000]`), `{"result":[1440,"2026-03-05T05:06:07.000Z"]}`)
	h.clock.Add(23 * time.Hour)
	wantBody(t, c.post("/rest/$catalog/info", ``), `{"result":["rest","",true,true]}`)
}
