package rest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"gatehouse/core"
	"gatehouse/sessions"
)

// state is what one request carries through the chain. It is also the request's context
// (the server's context for the request with the state as a value), and it holds the
// request the chain passes on, so that attaching it costs one allocation, not three (a
// state, a context value and a copy of the request). It is 888 bytes: with the 8-byte
// header the runtime gives a pointerful object over 512 bytes, the top of the 896-byte
// size class (the next is 1 024). What is added here is paid by every request.
type state struct {
	parent   context.Context // the request's context as the server made it
	httpReq  http.Request    // the request as the chain passes it on, with the state as its context
	idBuf    [16]byte        // backing of a new request ID
	idHeader [1]string       // the request ID, as the X-Request-Id header's value
	log      *slog.Logger    // built on first use by logger: most requests log nothing
	start    time.Time
	route    string    // the pattern of the route that matched (set only when metrics are on)
	vars     routeVars // the route's variables when the fast path served it (else mux has them)

	// req is the core's view of the request (pinned generation, session, cookie decision),
	// started on first use by Server.request (static files never need one) and held here
	// with what it needs, so that a request allocates it with its state.
	req     *core.Request
	reqVal  core.Request
	ids     [1]string // backing of the presented session IDs (clients send one)
	cookieW cookieWriter
}

type stateKey struct{}

// id is the request ID.
func (st *state) id() string { return st.idHeader[0] }

// logger is the request's logger: base with the request ID.
func (st *state) logger(base *slog.Logger) *slog.Logger {
	if st.log == nil {
		st.log = base.With("request_id", st.id())
	}
	return st.log
}

func stateOf(r *http.Request) *state {
	ctx := r.Context()
	if st, ok := ctx.(*state); ok { // the chain's own request, not one mux copied
		return st
	}
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// The state as the request's context: the server's context, plus the state as the value
// of stateKey. Done, Deadline and Err are the parent's, so contexts derived from the state
// are cancelled with the request exactly as they would be from the parent (context's
// WithCancel finds the parent's cancellation through Value and Done, without a goroutine).

func (st *state) Deadline() (time.Time, bool) { return st.parent.Deadline() }
func (st *state) Done() <-chan struct{}       { return st.parent.Done() }
func (st *state) Err() error                  { return st.parent.Err() }

func (st *state) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return st
	}
	return st.parent.Value(key)
}

func (st *state) String() string { return "rest request context" }

// sess is the request's session once the core has resolved or opened it (nil before, and
// when it has none).
func (st *state) sess() *sessions.Session {
	if st.req == nil {
		return nil
	}
	return st.req.Current()
}

// sessionTag is how a session appears in logs: a short hash, never the ID itself.
func sessionTag(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

// request returns the core request of r, starting it on first use: it pins the
// generation and takes what the client presented to name its session (a one-time
// passcode, else the verified IDs of its session cookies).
func (s *Server) request(r *http.Request) *core.Request {
	st := stateOf(r)
	if st.req == nil {
		p := core.Presented{OTP: otpToken(r), IDs: st.ids[:0]}
		if p.OTP == "" {
			s.sessionCookies(r, func(value string) {
				if id, ok := s.cfg.Codec.Decode(value); ok {
					p.IDs = append(p.IDs, id)
				}
			})
		}
		s.cfg.App.StartRequest(&st.reqVal, s.clientIP(r), p, r.Method == http.MethodHead)
		st.req = &st.reqVal
	}
	return st.req
}

// sessionCookies calls yield with the value of each of the request's cookies that may
// hold a session ID, in order: the configured name's, and any named 4DSID_…. Without a
// 4DSID_ cookie only the configured name counts, and cookiesNamed then reads its values
// without allocating (or CookiesNamed, when net/http's cookie limit is not the default).
func (s *Server) sessionCookies(r *http.Request, yield func(value string)) {
	lines := r.Header["Cookie"]
	for _, line := range lines {
		if strings.Contains(line, "4DSID_") {
			for _, c := range r.Cookies() {
				if c.Name == s.cfg.CookieName || strings.HasPrefix(c.Name, "4DSID_") {
					yield(c.Value)
				}
			}
			return
		}
	}
	if !s.plainCookies {
		for _, c := range r.CookiesNamed(s.cfg.CookieName) {
			yield(c.Value)
		}
		return
	}
	cookiesNamed(lines, s.cfg.CookieName, yield)
}

// otpToken is the request's one-time passcode ($4DSID), "" when none. The raw query is
// looked at first because parsing it allocates, and most requests carry no passcode ($ may
// come percent-encoded, hence no $ in the test).
func otpToken(r *http.Request) string {
	if !strings.Contains(r.URL.RawQuery, "4DSID") {
		return ""
	}
	return r.URL.Query().Get("$4DSID")
}

// cookieWriter carries out the core's cookie decision just before the answer's headers
// go out, whatever the handler or the error funnel writes: the decision is final only
// then (an error undoes a session the request opened).
type cookieWriter struct {
	http.ResponseWriter
	srv  *Server
	st   *state // the request's (its core request, and the chain's http.Request)
	done bool
}

func (w *cookieWriter) apply() {
	if w.done {
		return
	}
	w.done = true
	switch c := w.st.req.Cookie(); {
	case c.Set != "":
		w.srv.setCookie(w.ResponseWriter, &w.st.httpReq, c.Set)
	case c.Expire:
		w.srv.expireCookie(w.ResponseWriter, &w.st.httpReq)
	}
}

func (w *cookieWriter) WriteHeader(code int) {
	w.apply()
	w.ResponseWriter.WriteHeader(code)
}

func (w *cookieWriter) Write(b []byte) (int, error) {
	w.apply()
	return w.ResponseWriter.Write(b)
}

func (w *cookieWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// setCookie sends the session cookie. It is added before any other Set-Cookie header
// (clients take the first one).
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, id string) {
	value, err := s.cfg.Codec.Encode(id)
	if err != nil {
		s.logger(r).Error("encode session cookie", "err", err)
		return
	}
	s.putCookie(w, r, &http.Cookie{Name: s.cfg.CookieName, Value: value})
}

// expireCookie tells the client to forget its session cookie.
func (s *Server) expireCookie(w http.ResponseWriter, r *http.Request) {
	s.putCookie(w, r, &http.Cookie{Name: s.cfg.CookieName, Value: "", MaxAge: -1})
}

func (s *Server) putCookie(w http.ResponseWriter, r *http.Request, c *http.Cookie) {
	c.Path = "/"
	c.HttpOnly = true
	c.SameSite = s.cfg.CookieSameSite
	switch s.cfg.CookieSecure {
	case "true":
		c.Secure = true
	case "auto":
		c.Secure = r.TLS != nil || s.forwardedTLS(r)
	}
	if c.SameSite == http.SameSiteNoneMode {
		c.Secure = true // browsers drop SameSite=None cookies that are not Secure
	}
	h := w.Header()
	h["Set-Cookie"] = append([]string{c.String()}, h["Set-Cookie"]...)
}

// clientIP is the client's address: the peer's, or — when the peer is one of
// Config.TrustedProxies — the right-most address of X-Forwarded-For that is not a trusted
// proxy (the left part of that header is whatever the client chose to send).
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if _, err := netip.ParseAddr(hop); err != nil {
			return host // a malformed chain: keep the address we know
		}
		if !s.trusted(hop) {
			return hop
		}
	}
	return host
}

// trusted reports whether addr is in one of Config.TrustedProxies.
func (s *Server) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
