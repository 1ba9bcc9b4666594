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
	"sync"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/core"
)

func (s *Server) registerDirectoryRoutes(r *mux.Router) {
	s.fastExact(r, "/$directory/login", s.handle(core.Descriptive, lazySession|noBasic, s.handleLogin), methods.post...)
	s.fastExact(r, "/$directory/logout", s.handle(core.Descriptive, lazySession|noBasic, s.handleLogout), methods.getPost...)
	s.fastExact(r, "/$directory/currentUser", s.handle(core.Descriptive, 0, s.handleCurrentUser), methods.get...)
	s.fastExact(r, "/$directory/currentUserBelongsTo", s.handle(core.Descriptive, lazySession, s.handleCurrentUserBelongsTo), methods.post...)
}

// handleLogin handles "POST /rest/$directory/login".
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, st *state) error {
	creds, err := loginCredentials(r)
	if err != nil {
		return err
	}
	ok, err := st.req.Login(r.Context(), creds)
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
func loginCredentials(r *http.Request) (core.Credentials, error) {
	var c core.Credentials
	h := r.Header
	if v := h.Get("session-4D-length"); v != "" {
		minutes, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return c, errorf(http.StatusBadRequest, codeBadBody, "session-4D-length must be a whole number of minutes")
		}
		c.IdleTimeout = minutesToDuration(minutes)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return c, bodyReadError(err)
	}
	switch {
	case h.Get("username-4D") != "" || h.Get("password-4D") != "" || h.Get("hashed-password-4D") != "":
		c.User = h.Get("username-4D")
		if hp := h.Get("hashed-password-4D"); hp != "" {
			c.Password, c.Digest = hp, true
		} else {
			c.Password = h.Get("password-4D")
		}
	case len(bytes.TrimSpace(body)) > 0:
		if err := parseLoginBody(body, &c); err != nil {
			return c, err
		}
	default:
		if u, p, ok := r.BasicAuth(); ok {
			c.User, c.Password = u, p
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

func parseLoginBody(body []byte, c *core.Credentials) error {
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
		if c.User, ok = arr[0].(string); !ok {
			return errLoginBody
		}
		if len(arr) > 1 {
			if c.Password, ok = arr[1].(string); !ok {
				return errLoginBody
			}
		}
		if len(arr) > 2 && arr[2] != nil {
			secs, ok := arr[2].(float64)
			if !ok || secs < 0 || secs != math.Trunc(secs) {
				return errLoginBody
			}
			if secs > float64(math.MaxInt64/int64(time.Second)) {
				c.IdleTimeout = time.Duration(math.MaxInt64)
			} else {
				c.IdleTimeout = time.Duration(secs) * time.Second
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
		c.User = *obj.Username
		if obj.Password != nil {
			c.Password = *obj.Password
		}
	default:
		return errLoginBody
	}
	return nil
}

// handleLogout handles "GET|POST /rest/$directory/logout".
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, st *state) error {
	if err := st.req.Logout(r.Context()); err != nil {
		return err
	}
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
	sess := st.sess()
	if sess.UserName == "" {
		writeJSON(w, http.StatusOK, map[string]any{"result": nil})
		return nil
	}
	u := currentUser{UserName: sess.UserName, FullName: sess.FullName, ID: sess.UserID}
	if u.FullName == "" {
		u.FullName = u.UserName
	}
	if u.ID == "" {
		u.ID = s.userIDs.of(u.UserName)
	}
	writeCurrentUser(w, u)
	return nil
}

// writeCurrentUser answers {"result": u}, the hot authenticated request: written straight
// into a pooled buffer with the list encoder's string writer, whose bytes are encoding/json's
// (TestCurrentUserAnswerMatchesEncodingJSON).
func writeCurrentUser(w http.ResponseWriter, u currentUser) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	buf.Grow(64 + 2*(len(u.UserName)+len(u.FullName)+len(u.ID))) // so that the appends below stay in it
	b := append(buf.AvailableBuffer(), `{"result":{"userName":`...)
	b = appendJSONString(b, u.UserName)
	b = append(b, `,"fullName":`...)
	b = appendJSONString(b, u.FullName)
	b = append(b, `,"ID":`...)
	b = appendJSONString(b, u.ID)
	b = append(b, "}}\n"...)
	writeJSONBytes(w, http.StatusOK, b)
	jsonBuffers.Put(buf)
}

// userIDs remembers the IDs userIDFor derived, so that the session check of a user a
// script named without an ID hashes nothing. Bounded like the cookie codec's cache: when
// full it starts over, which only costs a hash per user.
type userIDs struct {
	mu  sync.RWMutex
	ids map[string]string // user name -> userIDFor(name)
}

// userIDsMax bounds the cache (about 100 bytes an entry with short names).
const userIDsMax = 1 << 16

func (c *userIDs) of(name string) string {
	c.mu.RLock()
	id, ok := c.ids[name]
	c.mu.RUnlock()
	if ok {
		return id
	}
	id = userIDFor(name)
	c.mu.Lock()
	if c.ids == nil || len(c.ids) >= userIDsMax {
		c.ids = make(map[string]string)
	}
	c.ids[name] = id
	c.mu.Unlock()
	return id
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
	held, err := st.req.BelongsTo(r.Context(), args[0])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"result": held})
	return nil
}
