package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"gatehouse/sessions"
)

// client is a cookie-keeping client of an env.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.http.URL, c: &http.Client{Jar: jar}}
}

func (c *client) do(method, path string, header map[string]string, body string) (int, string, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) login(user, password string) int {
	code, _, _ := c.do("POST", "/rest/$directory/login", map[string]string{"username-4D": user, "password-4D": password}, "")
	return code
}

// adminState is the part of /admin/api/state the tests read.
type adminState struct {
	You         struct{ Session, UserName string }
	Licences    struct{ Used, Max int }
	SessionList []struct {
		Session, UserName, State string
		You                      bool
	}
	Throttled []struct {
		Key       string
		Throttled bool
	}
	History []struct{ Used int }
}

func (c *client) state() (int, adminState) {
	c.t.Helper()
	code, body, _ := c.do("GET", "/admin/api/state", nil, "")
	var st adminState
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			c.t.Fatalf("state: %v: %s", err, body)
		}
	}
	return code, st
}

func TestAdminConsoleAPI(t *testing.T) {
	e := start(t, adminApp(t), Config{Throttle: sessions.ThrottleConfig{MaxPerUser: 2}})
	anon := e.client(t)

	t.Run("PageNeedsNoSession", func(t *testing.T) {
		code, body, h := anon.do("GET", "/admin/", nil, "")
		if code != 200 || !strings.Contains(body, "<title>gatehouse — administration</title>") || h.Get("Set-Cookie") != "" {
			t.Fatalf("page: %d, cookie %q", code, h.Get("Set-Cookie"))
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("no CSP: %v", h)
		}
		if code, _, _ := anon.do("GET", "/admin/assets/admin.js", nil, ""); code != 200 {
			t.Fatalf("asset: %d", code)
		}
		if code, _, _ := anon.do("GET", "/admin/assets/nope.js", nil, ""); code != 404 {
			t.Fatalf("unknown asset: %d", code)
		}
	})

	t.Run("StateRefusedWithoutWebAdminLeavesNothing", func(t *testing.T) {
		code, _, h := anon.do("GET", "/admin/api/state", nil, "")
		if code != 401 || h.Get("Set-Cookie") != "" {
			t.Fatalf("anonymous state: %d, cookie %q", code, h.Get("Set-Cookie"))
		}
		if st, _ := e.srv.Sessions().Stats(t.Context()); st.Sessions != 0 {
			t.Fatalf("%d sessions left behind", st.Sessions)
		}
	})

	ann := e.client(t)
	if code := ann.login("ann", "pw"); code != 200 {
		t.Fatalf("ann login: %d", code)
	}
	if code, _ := ann.state(); code != 401 {
		t.Fatalf("state for a session without WebAdmin: %d", code)
	}
	boss := e.client(t)
	if code := boss.login("boss", "pw"); code != 200 {
		t.Fatalf("boss login: %d", code)
	}
	code, st := boss.state()
	if code != 200 || len(st.SessionList) != 2 || !st.SessionList[0].You || st.You.UserName != "boss" {
		t.Fatalf("state: %d %+v", code, st)
	}
	annTag := st.SessionList[1].Session
	if st.SessionList[1].UserName != "ann" || len(annTag) != 8 {
		t.Fatalf("ann's row: %+v", st.SessionList[1])
	}
	if len(st.History) == 0 || st.History[len(st.History)-1].Used != 2 {
		t.Fatalf("history: %+v", st.History)
	}

	t.Run("CrossSiteActionRefused", func(t *testing.T) {
		code, _, _ := boss.do("POST", "/admin/api/sessions/close-all", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, "{}")
		if code != 403 {
			t.Fatalf("cross-site close-all: %d", code)
		}
	})

	t.Run("CloseSessionGivesItsClientANewOne", func(t *testing.T) {
		code, body, _ := boss.do("POST", "/admin/api/sessions/close", map[string]string{"Content-Type": "application/json"}, `{"session":"`+annTag+`"}`)
		if code != 200 {
			t.Fatalf("close: %d %s", code, body)
		}
		_, body, _ = ann.do("GET", "/rest/$directory/currentUser", nil, "")
		if strings.Contains(body, "ann") {
			t.Fatalf("ann's session still answers: %s", body)
		}
		if !strings.Contains(e.logs.String(), "admin: session closed") {
			t.Fatal("the action is not in the log")
		}
		if code, _, _ := boss.do("POST", "/admin/api/sessions/close", nil, `{"session":"`+annTag+`"}`); code != 404 {
			t.Fatalf("closing a closed session: %d", code)
		}
	})

	t.Run("CloseAllKeepsTheAdmins", func(t *testing.T) {
		ann.do("GET", "/rest/$catalog", nil, "") // ann has a new (anonymous) session
		code, body, _ := boss.do("POST", "/admin/api/sessions/close-all", nil, "{}")
		if code != 200 || !strings.Contains(body, `"closed":1`) {
			t.Fatalf("close-all: %d %s", code, body)
		}
		code, st := boss.state()
		if code != 200 || len(st.SessionList) != 1 {
			t.Fatalf("after close-all: %d %+v", code, st)
		}
	})

	t.Run("ClearThrottledKey", func(t *testing.T) {
		carol := e.client(t)
		for range 2 {
			if code := carol.login("carol", "wrong"); code != 401 {
				t.Fatalf("wrong password: %d", code)
			}
		}
		if code := carol.login("carol", "wrong"); code != 429 {
			t.Fatalf("third failure: %d, want 429", code)
		}
		_, st := boss.state()
		found := false
		for _, c := range st.Throttled {
			if c.Key == "login-user:carol" {
				found = c.Throttled
			}
		}
		if !found {
			t.Fatalf("carol is not listed as throttled: %+v", st.Throttled)
		}
		code, body, _ := boss.do("POST", "/admin/api/throttle/clear", nil, `{"key":"login-user:carol"}`)
		if code != 200 {
			t.Fatalf("clear: %d %s", code, body)
		}
		if code := carol.login("carol", "pw"); code != 200 {
			t.Fatalf("carol after the clear: %d", code)
		}
		if code, _, _ := boss.do("POST", "/admin/api/throttle/clear", nil, `{"key":"login-user:nobody"}`); code != 404 {
			t.Fatalf("clearing an unknown key: %d", code)
		}
	})
}
