package rest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/sessions"
)

func (s *Server) registerDirectoryRoutes(r *mux.Router) {
	r.Handle("/$directory/login", s.handle(lazySession, s.handleLogin)).Methods(http.MethodPost)
	r.Handle("/$directory/logout", s.handle(descriptive|lazySession, s.handleLogout)).Methods(http.MethodGet, http.MethodPost)
	r.Handle("/$directory/currentUser", s.handle(descriptive, s.handleCurrentUser)).Methods(http.MethodGet)
	r.Handle("/$directory/currentUserBelongsTo", s.handle(descriptive|lazySession, s.handleCurrentUserBelongsTo)).Methods(http.MethodPost)
}

// credentials are what a client sent to log in.
type credentials struct {
	user, password string
	digest         bool          // password is hashed-password-4D
	idle           time.Duration // requested session timeout; 0 = default
}

// handleLogin handles "POST /rest/$directory/login".
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, st *state) error {
	creds, err := s.loginCredentials(r)
	if err != nil {
		return err
	}
	if err := s.resolveSession(w, r, st); err != nil {
		return err
	}
	if st.policy.ForceLogin() {
		return errorf(http.StatusUnauthorized, codeGuestNotAllowed,
			"This server authenticates through /rest/$catalog/authentify (force login mode)")
	}
	ok, err := s.authenticate(w, r, st, creds)
	if err != nil {
		return err
	}
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]bool{"result": false})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]bool{"result": true})
	return nil
}

// loginCredentials reads credentials from the 4D headers, else a JSON body (array
// ["user","password",timeoutSeconds] or object {"username","password"}), else HTTP Basic.
func (s *Server) loginCredentials(r *http.Request) (credentials, error) {
	var c credentials
	h := r.Header
	if v := h.Get("session-4D-length"); v != "" {
		minutes, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return c, errorf(http.StatusBadRequest, codeBadBody, "session-4D-length must be a whole number of minutes")
		}
		c.idle = minutesToDuration(minutes)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return c, bodyReadError(err)
	}
	switch {
	case h.Get("username-4D") != "" || h.Get("password-4D") != "" || h.Get("hashed-password-4D") != "":
		c.user = h.Get("username-4D")
		if hp := h.Get("hashed-password-4D"); hp != "" {
			c.password, c.digest = hp, true
		} else {
			c.password = h.Get("password-4D")
		}
	case len(bytes.TrimSpace(body)) > 0:
		if err := parseLoginBody(body, &c); err != nil {
			return c, err
		}
	default:
		if u, p, ok := r.BasicAuth(); ok {
			c.user, c.password = u, p
		}
	}
	return c, nil
}

func minutesToDuration(minutes uint64) time.Duration {
	if minutes > uint64(math.MaxInt64/int64(time.Minute)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(minutes) * time.Minute
}

var errLoginBody = errorf(http.StatusBadRequest, codeBadBody,
	`Login body must be ["user","password",timeoutSeconds] or {"username":"..","password":".."}`)

func parseLoginBody(body []byte, c *credentials) error {
	if err := checkJSON(body); err != nil {
		return err
	}
	switch bytes.TrimSpace(body)[0] {
	case '[':
		var arr []any
		if err := json.Unmarshal(body, &arr); err != nil || len(arr) < 1 || len(arr) > 3 {
			return errLoginBody
		}
		var ok bool
		if c.user, ok = arr[0].(string); !ok {
			return errLoginBody
		}
		if len(arr) > 1 {
			if c.password, ok = arr[1].(string); !ok {
				return errLoginBody
			}
		}
		if len(arr) > 2 && arr[2] != nil {
			secs, ok := arr[2].(float64)
			if !ok || secs < 0 || secs != math.Trunc(secs) {
				return errLoginBody
			}
			if secs > float64(math.MaxInt64/int64(time.Second)) {
				c.idle = time.Duration(math.MaxInt64)
			} else {
				c.idle = time.Duration(secs) * time.Second
			}
		}
	case '{':
		var obj struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
		}
		if err := json.Unmarshal(body, &obj); err != nil || obj.Username == nil {
			return errLoginBody
		}
		c.user = *obj.Username
		if obj.Password != nil {
			c.password = *obj.Password
		}
	default:
		return errLoginBody
	}
	return nil
}

// authenticate runs onRESTAuthentication for creds and, when it accepts, opens (or
// upgrades) the session: it is stored only now, so a failed attempt leaves no session and
// no licence behind. It reports whether the login was accepted.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, st *state, c credentials) (bool, error) {
	ctx := r.Context()
	m := s.cfg.Sessions
	if st.sess != nil && st.sess.Authenticated {
		// Once accepted, onRESTAuthentication is not called again for the session.
		return true, s.applyIdle(r, st, c.idle)
	}
	if s.cfg.Scripts == nil || !s.cfg.Scripts.HasAuthentication() {
		// No onRESTAuthentication: a guest session is opened (4D's documented behaviour).
		if err := s.ensureSession(w, r, st); err != nil {
			return false, err
		}
		return true, s.applyIdle(r, st, c.idle)
	}
	ip := s.clientIP(r)
	if s.cfg.Throttle != nil {
		wait, err := s.cfg.Throttle.Blocked(ctx, ip, c.user)
		if err != nil {
			return false, err
		}
		if wait > 0 {
			return false, &Error{Status: http.StatusTooManyRequests, Code: codeTooManyLogins,
				Message: "Too many failed logins: try again later", RetryAfter: wait}
		}
	}

	live := st.sess != nil
	base := st.sess
	if !live {
		draft, err := m.Draft(ip)
		if err != nil {
			return false, err
		}
		base = draft
	}
	ss := s.newScriptSession(ctx, st, base, live)
	accepted, err := s.cfg.Scripts.Authenticate(ctx, ss, c.user, c.password, c.digest, ip)
	if err != nil {
		return false, err
	}
	if !accepted {
		if s.cfg.Throttle != nil {
			if err := s.cfg.Throttle.Fail(ctx, ip, c.user); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	if s.cfg.Throttle != nil {
		if err := s.cfg.Throttle.Succeed(ctx, c.user); err != nil {
			return false, err
		}
	}

	ss.s.Authenticated, ss.s.Guest = true, false
	if ss.s.UserName == "" {
		ss.s.UserName = c.user
	}
	if c.idle > 0 {
		ss.s.IdleTimeout = m.Clamp(c.idle)
	}
	if !live {
		if err := m.Insert(ctx, ss.s, true); err != nil {
			return false, err
		}
		st.sess = ss.s
		s.setCookie(w, r, ss.s.ID)
		return true, nil
	}
	// An existing session was upgraded: save what the script and the login changed, and
	// give it a new ID (session-fixation defence).
	ss.privsSet, ss.namesSet, ss.granted = true, true, true
	ss.idleSet = ss.idleSet || c.idle > 0
	if err := ss.commit(w, r, st); err != nil {
		if errors.Is(err, errSessionGone) {
			return false, nil // the session closed during the login: nothing was opened
		}
		return false, err
	}
	return true, nil
}

// applyIdle sets the session's idle timeout when the client asked for one.
func (s *Server) applyIdle(r *http.Request, st *state, idle time.Duration) error {
	if idle <= 0 || st.sess == nil {
		return nil
	}
	sess, err := s.cfg.Sessions.Update(r.Context(), st.sess.ID, func(cur *sessions.Session) error {
		cur.IdleTimeout = idle
		return nil
	})
	if err == nil {
		st.sess = sess
	}
	return err
}

// basicAuth authenticates a request that carries HTTP Basic credentials and no valid
// session through onRESTAuthentication (default mode), as existing clients expect on
// e.g. "GET /rest/$info". A refusal is 401.
func (s *Server) basicAuth(w http.ResponseWriter, r *http.Request, st *state) error {
	user, password, ok := r.BasicAuth()
	if !ok || r.URL.Path == "/rest/$directory/login" || r.URL.Path == "/rest/$directory/logout" {
		return nil // login reads Basic itself; opening a session to close it is pointless
	}
	if err := s.resolveSession(w, r, st); err != nil {
		return err
	}
	if st.sess != nil || st.policy.ForceLogin() || s.cfg.Scripts == nil || !s.cfg.Scripts.HasAuthentication() {
		return nil
	}
	accepted, err := s.authenticate(w, r, st, credentials{user: user, password: password})
	if err != nil {
		return err
	}
	if !accepted {
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
		return errLoginFailed
	}
	return nil
}

// handleLogout handles "GET|POST /rest/$directory/logout".
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, st *state) error {
	if err := s.resolveSession(w, r, st); err != nil {
		return err
	}
	if st.sess != nil {
		if err := s.cfg.Sessions.Delete(r.Context(), st.sess.ID); err != nil {
			return err
		}
		st.sess = nil
	}
	s.expireCookie(w, r)
	writeJSON(w, http.StatusOK, map[string]bool{"result": true})
	return nil
}

// currentUser is the answer of $directory/currentUser.
type currentUser struct {
	UserName string `json:"userName"`
	FullName string `json:"fullName"`
	ID       string `json:"ID"`
}

// handleCurrentUser handles "GET /rest/$directory/currentUser".
func (s *Server) handleCurrentUser(w http.ResponseWriter, _ *http.Request, st *state) error {
	sess := st.sess
	if sess.UserName == "" {
		writeJSON(w, http.StatusOK, map[string]any{"result": nil})
		return nil
	}
	u := currentUser{UserName: sess.UserName, FullName: sess.FullName, ID: sess.UserID}
	if u.FullName == "" {
		u.FullName = u.UserName
	}
	if u.ID == "" {
		u.ID = userIDFor(u.UserName)
	}
	// A struct, not a map: this is the hot authenticated request, and maps encode slowly.
	writeJSON(w, http.StatusOK, struct {
		Result currentUser `json:"result"`
	}{u})
	return nil
}

// userIDFor derives a stable user ID from a user name (for users a script named
// without giving an ID).
func userIDFor(name string) string {
	sum := sha256.Sum256([]byte(name))
	const digits = "0123456789ABCDEF"
	var id [32]byte
	for i, b := range sum[:16] {
		id[2*i], id[2*i+1] = digits[b>>4], digits[b&15]
	}
	return string(id[:])
}

// handleCurrentUserBelongsTo handles "POST /rest/$directory/currentUserBelongsTo".
func (s *Server) handleCurrentUserBelongsTo(w http.ResponseWriter, r *http.Request, st *state) error {
	var args []string
	if err := decodeBody(r, &args); err != nil || len(args) != 1 {
		return errorf(http.StatusBadRequest, codeBadBody, `Body must be ["role or privilege name"]`)
	}
	if err := s.resolveSession(w, r, st); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"result": st.holds(args[0])})
	return nil
}
