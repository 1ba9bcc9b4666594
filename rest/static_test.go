package rest

import (
	"net/http/httptest"
	"net/netip"
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
	h := newHarness(t, harnessOptions{roles: forceRoles, maxGuests: 2, scripts: map[string]string{"DataStore.js": dataStoreScript}})
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

func TestClientIPBehindTrustedProxies(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	s := h.rest
	s.cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, peer, xff, want string
	}{
		{"UntrustedPeerHeaderIgnored", "203.0.113.9:5000", "1.2.3.4", "203.0.113.9"},
		{"TrustedPeerRightmostUntrusted", "10.1.1.1:5000", "6.6.6.6, 1.2.3.4, 10.2.2.2", "1.2.3.4"},
		{"OnlyProxies", "10.1.1.1:5000", "10.3.3.3", "10.1.1.1"},
		{"NoHeader", "10.1.1.1:5000", "", "10.1.1.1"},
		{"MalformedChain", "10.1.1.1:5000", "1.2.3.4, not-an-ip", "10.1.1.1"},
		{"IPv6Proxy", "[::1]:5000", "2001:db8::7", "2001:db8::7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/rest/$catalog", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := s.clientIP(r); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	// Several X-Forwarded-For lines are one list, in order.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.1.1:5000"
	r.Header.Add("X-Forwarded-For", "6.6.6.6")
	r.Header.Add("X-Forwarded-For", "1.2.3.4, 10.9.9.9")
	if got := s.clientIP(r); got != "1.2.3.4" {
		t.Fatalf("several header lines: got %s, want 1.2.3.4", got)
	}
	s.cfg.TrustedProxies = nil
	r = httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.1.1:5000"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := s.clientIP(r); got != "10.1.1.1" {
		t.Fatalf("without trusted proxies the header must be ignored: got %s", got)
	}
}
