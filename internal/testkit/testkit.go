// Package testkit is what gatehouse's HTTP tests share: a settable clock to inject instead
// of sleeping, a client with its own cookie jar (one browser), and a scenario table runner
// for the REST surface — method, path, headers, body in; status, 4D error code and JSON
// fragments out — in the spirit of PocketBase's ApiScenario. It depends on nothing of
// gatehouse, so every package's tests can use it.
package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Clock is a clock tests move by hand. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at a fixed date.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Client is an HTTP client with its own cookie jar: one browser. It never follows
// redirects, and gives up on a request after a generous minute (a test never races it).
type Client struct {
	t    testing.TB
	base string
	HTTP *http.Client
	Jar  *cookiejar.Jar
}

// NewClient returns a client of the server at base (e.g. httptest.Server.URL).
func NewClient(t testing.TB, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, base: base, Jar: jar, HTTP: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is what a request answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ErrCode returns the first errCode of a 4D error stack, 0 when the body is none.
func (r Response) ErrCode() int {
	var e struct {
		Errors []struct {
			ErrCode int `json:"errCode"`
		} `json:"__ERROR"`
	}
	if json.Unmarshal(r.Body, &e) != nil || len(e.Errors) == 0 {
		return 0
	}
	return e.Errors[0].ErrCode
}

// JSON decodes the body as an object, failing the test when it is not one.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return v
}

// Do sends a request; a transport failure fails the test.
func (c *Client) Do(method, path string, header map[string]string, body string) Response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Cookie returns the value of the cookie name the jar holds for the server ("" when none).
func (c *Client) Cookie(name string) string {
	u, err := url.Parse(c.base)
	if err != nil {
		return ""
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// Scenario is one request and what it must answer.
type Scenario struct {
	Name string
	// Client names the browser that sends the request: scenarios naming the same client
	// share its cookies, in table order ("" is the default client).
	Client string
	Method string // default GET
	Path   string
	Header map[string]string
	Body   string

	Status int      // the HTTP status wanted
	Code   int      // the 4D errCode wanted (0: not checked)
	Want   []string // texts the body must contain (JSON written compactly, as the server does)
	Reject []string // texts the body must not contain
}

// Run sends each scenario, in order, to the server at base, each as a subtest named after
// it. Scenarios are not independent (clients keep their cookies): a failed one stops the
// table.
func Run(t *testing.T, base string, table []Scenario) {
	t.Helper()
	clients := map[string]*Client{}
	for _, sc := range table {
		c := clients[sc.Client]
		if c == nil {
			c = NewClient(t, base)
			clients[sc.Client] = c
		}
		method := sc.Method
		if method == "" {
			method = http.MethodGet
		}
		ok := t.Run(sc.Name, func(t *testing.T) {
			c.t = t
			r := c.Do(method, sc.Path, sc.Header, sc.Body)
			if r.Status != sc.Status || (sc.Code != 0 && r.ErrCode() != sc.Code) {
				t.Fatalf("%s %s: got %d errCode %d, want %d errCode %d; body %s",
					method, sc.Path, r.Status, r.ErrCode(), sc.Status, sc.Code, r.Body)
			}
			for _, w := range sc.Want {
				if !strings.Contains(string(r.Body), w) {
					t.Errorf("%s %s: body lacks %s; body %s", method, sc.Path, w, r.Body)
				}
			}
			for _, w := range sc.Reject {
				if strings.Contains(string(r.Body), w) {
					t.Errorf("%s %s: body contains %s; body %s", method, sc.Path, w, r.Body)
				}
			}
		})
		if !ok {
			t.FailNow()
		}
	}
}
