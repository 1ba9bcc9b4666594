package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// credentials are a demo account.
type credentials struct{ user, password string }

// scenario is one kind of request, repeated by every client.
type scenario struct {
	name string
	// login: each client logs in once ($directory/login) before its measured requests.
	login bool
	// forceLogin: the server must be in force login mode.
	forceLogin bool
	method     string
	path       string // with its query string
	// body returns the request body ("" for none).
	body func(credentials) string
	demo credentials
}

var sales = credentials{"ann@example.com", "sales-secret"}

var scenarios = map[string]scenario{
	"login": {
		name: "login", login: true, method: http.MethodGet, path: "/rest/$directory/currentUser", demo: sales,
	},
	"authentify": {
		name: "authentify", forceLogin: true, method: http.MethodPost, path: "/rest/$catalog/authentify",
		body: func(c credentials) string {
			b, _ := json.Marshal([]map[string]string{{"identifier": c.user, "password": c.password}})
			return string(b)
		},
		demo: credentials{"kind user", "kind-secret"},
	},
	"list": {
		name: "list", login: true, method: http.MethodGet, demo: sales,
		path: "/rest/Customers?$filter=" + url.QueryEscape(`"totalPurchase > :1"`) +
			"&$params=" + url.QueryEscape(`'[10000]'`) + "&$orderby=" + url.QueryEscape("totalPurchase desc"),
	},
	"function": {
		name: "function", login: true, method: http.MethodPost, path: "/rest/$catalog/whoAmI", demo: sales,
		body: func(credentials) string { return "[]" },
	},
}

// describe says what the scenario does.
func (sc scenario) describe() string {
	var b strings.Builder
	if sc.login {
		b.WriteString("POST /rest/$directory/login once per client, then ")
	}
	fmt.Fprintf(&b, "%s %s", sc.method, sc.path)
	if sc.forceLogin {
		b.WriteString(" (force login mode; every request runs authentify(), bcrypt included)")
	}
	return b.String()
}

// loadResult is what one run measured.
type loadResult struct {
	elapsed  time.Duration
	hist     histogram
	statuses map[string]int // "200", "401", "transport error", …
}

func (r *loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.hist.n) / r.elapsed.Seconds()
}

// failed counts the requests that did not answer 200.
func (r *loadResult) failed() int {
	n := 0
	for k, v := range r.statuses {
		if k != "200" {
			n += v
		}
	}
	return n
}

func (r *loadResult) print(w io.Writer) {
	fmt.Fprintf(w, "  requests  %d in %.2fs = %.1f req/s\n", r.hist.n, r.elapsed.Seconds(), r.rate())
	fmt.Fprintf(w, "  latency   p50 %v  p99 %v  max %v\n",
		round(r.hist.quantile(0.50)), round(r.hist.quantile(0.99)), round(r.hist.max))
	keys := slices.Sorted(maps.Keys(r.statuses))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, r.statuses[k]))
	}
	fmt.Fprintf(w, "  statuses  %s\n", strings.Join(parts, ", "))
	if n := r.failed(); n > 0 {
		fmt.Fprintf(w, "  ERRORS    %d requests did not answer 200\n", n)
	}
}

// round keeps three significant digits of a latency.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

// client is one browser: its own cookie jar and its own keep-alive connection.
type client struct {
	http *http.Client
	base string
}

func newClient(base string, timeout time.Duration) *client {
	jar, _ := cookiejar.New(nil) // cookiejar.New never fails without options
	return &client{base: base, http: &http.Client{
		Jar: jar, Timeout: timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// do sends one request and reads the whole answer.
func (c *client) do(ctx context.Context, method, path, body string, header map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// logIn opens the client's session with $directory/login.
func (c *client) logIn(ctx context.Context, creds credentials) error {
	status, body, err := c.do(ctx, http.MethodPost, "/rest/$directory/login", "",
		map[string]string{"username-4D": creds.user, "password-4D": creds.password})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("login as %q: %d %s", creds.user, status, strings.TrimSpace(string(body)))
	}
	return nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// load is a set of clients ready to run a scenario against one server.
type load struct {
	sc      scenario
	body    string
	clients []*client
}

// newLoad makes cfg.Clients clients for sc against base. Clients of a login scenario log in
// (not measured), unless cookies are given: the bare handler has nothing to log in to, so
// its clients start with gatehouse's session cookie, to send the very same requests.
func newLoad(ctx context.Context, base string, sc scenario, creds credentials, cfg *config, cookies []*http.Cookie) (*load, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	l := &load{sc: sc}
	if sc.body != nil {
		l.body = sc.body(creds)
	}
	for range cfg.Clients {
		c := newClient(base, cfg.Timeout)
		l.clients = append(l.clients, c)
		switch {
		case cookies != nil:
			c.http.Jar.SetCookies(u, cookies)
		case sc.login:
			if err := c.logIn(ctx, creds); err != nil {
				l.close()
				return nil, err
			}
		}
	}
	return l, nil
}

func (l *load) close() {
	for _, c := range l.clients {
		c.close()
	}
}

// run makes every client repeat the scenario until d has passed, or, when requests > 0,
// until that many requests have been sent in all.
func (l *load) run(ctx context.Context, d time.Duration, requests int) *loadResult {
	var budget atomic.Int64
	budget.Store(int64(requests))
	start := time.Now()
	deadline := start.Add(d)
	more := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if requests > 0 {
			return budget.Add(-1) >= 0
		}
		return time.Now().Before(deadline)
	}

	res := &loadResult{statuses: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := &loadResult{statuses: map[string]int{}}
			for more() {
				t0 := time.Now()
				status, _, err := c.do(ctx, l.sc.method, l.sc.path, l.body, nil)
				took := time.Since(t0)
				switch {
				case err != nil && ctx.Err() != nil:
					continue // interrupted by the user: not a measurement
				case err != nil:
					part.statuses["transport error"]++
				default:
					part.statuses[strconv.Itoa(status)]++
				}
				part.hist.add(took)
			}
			mu.Lock()
			res.add(part)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// add merges o into r (elapsed times add up: phases run one after the other).
func (r *loadResult) add(o *loadResult) {
	r.hist.merge(&o.hist)
	for k, v := range o.statuses {
		r.statuses[k] += v
	}
	r.elapsed += o.elapsed
}

// sample is one answer of gatehouse to a scenario, which the bare handler replays, and
// the session cookie the client held afterwards.
type sample struct {
	status      int
	contentType string
	body        []byte
	cookies     []*http.Cookie
}

// capture logs in like a load client would and records gatehouse's answer to one request
// of sc.
func capture(ctx context.Context, base string, sc scenario, creds credentials) (*sample, error) {
	c := newClient(base, 30*time.Second)
	defer c.close()
	if sc.login {
		if err := c.logIn(ctx, creds); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, sc.method, base+sc.path, nil)
	if err != nil {
		return nil, err
	}
	if sc.body != nil {
		req.Body = io.NopCloser(strings.NewReader(sc.body(creds)))
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("capture %s %s: %w", sc.method, sc.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("capture %s %s: %w", sc.method, sc.path, err)
	}
	return &sample{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b,
		cookies: c.http.Jar.Cookies(req.URL)}, nil
}
