package rest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"gatehouse/roles"
	"gatehouse/sessions"
)

// state is what one request carries through the chain.
type state struct {
	id    string
	log   *slog.Logger // built on first use by logger: most requests log nothing
	start time.Time

	resolved    bool
	policy      *roles.Config     // roles.json as it was when the request started
	sess        *sessions.Session // the live session, nil when none
	held        []string          // expanded privileges of sess (cached)
	heldFor     *sessions.Session
	descriptive bool
	// opened is true when this request opened sess or gave it a new ID: then only this
	// request's answer can tell the client the ID (see dropUnreachable).
	opened bool
}

type stateKey struct{}

// logger is the request's logger: base with the request ID.
func (st *state) logger(base *slog.Logger) *slog.Logger {
	if st.log == nil {
		st.log = base.With("request_id", st.id)
	}
	return st.log
}

func stateOf(r *http.Request) *state {
	st, _ := r.Context().Value(stateKey{}).(*state)
	return st
}

// sessionTag is how a session appears in logs: a short hash, never the ID itself.
func sessionTag(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

// resolveSession finds the request's live session, once: from a one-time passcode
// ($4DSID), else from the cookie. Nothing is created here.
func (s *Server) resolveSession(w http.ResponseWriter, r *http.Request, st *state) error {
	if st.resolved {
		return nil
	}
	st.resolved = true
	st.policy = s.cfg.Roles()
	ctx := r.Context()
	if tok := otpToken(r); tok != "" {
		// A used, unknown or expired passcode means a fresh session: never an error, and
		// never the cookie's session either (the caller asked for another one).
		if sess, err := s.cfg.Sessions.RedeemOTP(ctx, tok); err == nil {
			st.sess = sess
			s.setCookie(w, r, sess.ID)
		} else if !errors.Is(err, sessions.ErrNotFound) {
			return err
		}
		return nil
	}
	for _, c := range s.sessionCookies(r) {
		if c.Name != s.cfg.CookieName && !strings.HasPrefix(c.Name, "4DSID_") {
			continue
		}
		id, ok := s.cfg.Codec.Decode(c.Value)
		if !ok {
			continue
		}
		sess, err := s.cfg.Sessions.Touch(ctx, id)
		if errors.Is(err, sessions.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		st.sess = sess
		return nil
	}
	return nil
}

// sessionCookies returns the request's cookies that may hold a session ID, in order.
// Without a 4DSID_ cookie only the configured name counts, and CookiesNamed then spares
// allocating every other cookie the client sends.
func (s *Server) sessionCookies(r *http.Request) []*http.Cookie {
	for _, line := range r.Header["Cookie"] {
		if strings.Contains(line, "4DSID_") {
			return r.Cookies()
		}
	}
	return r.CookiesNamed(s.cfg.CookieName)
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

// ensureSession gives the request a session, opening one if needed (taking a licence in
// default login mode: 402 when none is free), and applies the force-login guest rule.
func (s *Server) ensureSession(w http.ResponseWriter, r *http.Request, st *state) error {
	if err := s.resolveSession(w, r, st); err != nil {
		return err
	}
	if st.sess == nil {
		sess, err := s.cfg.Sessions.Create(r.Context(), s.clientIP(r), !st.policy.ForceLogin())
		if err != nil {
			return err
		}
		st.sess = sess
		st.opened = true
		s.setCookie(w, r, sess.ID)
	}
	// An unlicensed guest is a force-login guest (default mode licenses every session at
	// creation), so a change of forceLogin only applies to sessions opened after it.
	if !st.descriptive && st.sess.Guest && !st.sess.Licensed {
		return errGuest
	}
	return nil
}

// privileges returns the expanded privileges the request's session holds under the
// roles.json in force.
func (st *state) privileges() []string {
	if st.sess == nil {
		return nil
	}
	if st.heldFor != st.sess {
		st.held = st.policy.Expand(st.sess.Privileges, st.sess.Roles)
		st.heldFor = st.sess
	}
	return st.held
}

// holds reports whether the session holds name as a role or (expanded) privilege.
func (st *state) holds(name string) bool {
	if st.sess == nil {
		return false
	}
	if strings.EqualFold(name, roles.Guest) {
		return true
	}
	for _, p := range st.privileges() {
		if strings.EqualFold(p, name) {
			return true
		}
	}
	for _, role := range st.sess.Roles {
		if strings.EqualFold(role, name) && st.policy.IsRole(role) {
			return true
		}
	}
	return false
}

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
		c.Secure = r.TLS != nil
	}
	if c.SameSite == http.SameSiteNoneMode {
		c.Secure = true // browsers drop SameSite=None cookies that are not Secure
	}
	line := c.String()
	h := w.Header()
	// Replace an earlier session cookie of this response (e.g. new session, then rotated).
	prefix := s.cfg.CookieName + "="
	var others []string
	for _, v := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(v, prefix) {
			others = append(others, v)
		}
	}
	h["Set-Cookie"] = append([]string{line}, others...)
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
