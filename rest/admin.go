package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/admin"
	"gatehouse/core"
	"gatehouse/sessions"
)

// AdminBackend is what the admin console needs besides the core: the licence history and
// the login counters (package admin provides both).
type AdminBackend interface {
	LicenceHistory() []admin.Sample
	LoginCounters(now time.Time) []admin.Counter
	// ClearLoginCounter forgets a counter; ok is false when the console never saw it.
	ClearLoginCounter(ctx context.Context, key string) (ok bool, err error)
}

// maxAdminSessions bounds the session list of the console.
const maxAdminSessions = 1000

// registerAdminRoutes registers the admin console (SPEC §10). The page and its assets need
// no session and create none; the API needs a session holding WebAdmin (core.Admin), so
// a request without one is refused and leaves nothing behind, and its actions are
// state-changing POSTs behind the same cross-site protection as the REST API.
func (s *Server) registerAdminRoutes(r *mux.Router) {
	r.Handle("/admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently)).Methods(methods.get...)
	r.Handle("/admin/", http.HandlerFunc(s.handleAdminPage)).Methods(methods.get...)
	r.PathPrefix("/admin/assets/").Handler(s.adminAssets()).Methods(methods.get...)
	api := r.PathPrefix("/admin/api").Subrouter()
	api.Handle("/state", s.handle(core.Admin, 0, s.handleAdminState)).Methods(methods.get...)
	api.Handle("/sessions/close", s.handle(core.Admin, 0, s.handleAdminClose)).Methods(methods.post...)
	api.Handle("/sessions/close-all", s.handle(core.Admin, 0, s.handleAdminCloseAll)).Methods(methods.post...)
	api.Handle("/throttle/clear", s.handle(core.Admin, 0, s.handleAdminClearKey)).Methods(methods.post...)
	api.NotFoundHandler = s.handle(core.Descriptive, lazySession, func(http.ResponseWriter, *http.Request, *state) error {
		return errorf(http.StatusNotFound, codeUnknownKeyword, "Unknown admin request")
	})
	api.MethodNotAllowedHandler = s.handle(core.Descriptive, lazySession, func(http.ResponseWriter, *http.Request, *state) error {
		return errorf(http.StatusMethodNotAllowed, codeMalformedURL, "Method not allowed")
	})
}

// adminHeaders keep the console's pages out of frames and caches, and limit what they may load.
func adminHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// handleAdminPage handles "GET /admin/": the console's page, which signs in by itself.
func (s *Server) handleAdminPage(w http.ResponseWriter, r *http.Request) {
	adminHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	data := admin.PageData{Version: s.cfg.Version, ForceLogin: s.cfg.App.Generation().ForceLogin()}
	if err := admin.Page.Execute(w, data); err != nil {
		s.logger(r).Error("admin page", "err", err)
	}
}

// adminAssets serves "GET /admin/assets/{file}".
func (s *Server) adminAssets() http.Handler {
	files := http.StripPrefix("/admin/assets/", http.FileServerFS(admin.Assets()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(admin.Assets(), strings.TrimPrefix(r.URL.Path, "/admin/assets/")); err != nil || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		adminHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// adminSession is one session as the console shows it: its ID only as a short hash.
type adminSession struct {
	Session    string    `json:"session"`
	UserName   string    `json:"userName"`
	FullName   string    `json:"fullName,omitempty"`
	Privileges []string  `json:"privileges"`
	Roles      []string  `json:"roles"`
	State      string    `json:"state"`
	Licensed   bool      `json:"licensed"`
	Guest      bool      `json:"guest"`
	Created    time.Time `json:"created"`
	LastAccess time.Time `json:"lastAccess"`
	Expires    time.Time `json:"expires"`
	RemoteAddr string    `json:"remoteAddr"`
	You        bool      `json:"you,omitempty"`
}

// handleAdminState handles "GET /admin/api/state": everything the console shows.
func (s *Server) handleAdminState(w http.ResponseWriter, r *http.Request, st *state) error {
	ctx := r.Context()
	g := st.req.Gen
	m := s.cfg.App.Sessions()
	cur := st.sess()
	now := m.Now()
	describe := func(sess *sessions.Session) adminSession {
		privs := g.Roles.Expand(sess.Privileges, sess.Roles)
		return adminSession{
			Session: sessionTag(sess.ID), UserName: sess.UserName, FullName: sess.FullName,
			Privileges: nonNil(privs), Roles: nonNil(sess.Roles), State: sess.State().String(),
			Licensed: sess.Licensed, Guest: sess.Guest, Created: sess.Created.UTC(),
			LastAccess: sess.LastAccess.UTC(), Expires: sess.Expires.UTC(), RemoteAddr: sess.RemoteAddr,
			You: sess.ID == cur.ID,
		}
	}
	list := []adminSession{describe(cur)}
	truncated := false
	err := m.Range(ctx, func(sess *sessions.Session) bool {
		if sess.ID == cur.ID || sess.Expired(now) {
			return true
		}
		if len(list) == maxAdminSessions {
			truncated = true
			return false
		}
		list = append(list, describe(sess))
		return true
	})
	if err != nil {
		return err
	}
	stats, err := m.Stats(ctx)
	if err != nil {
		return err
	}
	var lastErr any
	if err := s.cfg.App.LastReloadError(); err != nil {
		lastErr = err.Error()
	}
	out := map[string]any{
		"version":         s.cfg.Version,
		"now":             now.UTC(),
		"you":             map[string]string{"session": sessionTag(cur.ID), "userName": cur.UserName},
		"licences":        map[string]int{"used": stats.Licensed, "max": m.Licences()},
		"sessions":        stats,
		"sessionList":     list,
		"truncated":       truncated,
		"generation":      map[string]any{"seq": g.Seq, "loaded": g.Loaded.UTC(), "forceLogin": g.ForceLogin()},
		"lastReloadError": lastErr,
		"history":         []admin.Sample{},
		"throttled":       []admin.Counter{},
	}
	if b := s.cfg.Admin; b != nil {
		hist := append(b.LicenceHistory(), admin.Sample{At: now.UTC(), Used: stats.Licensed})
		out["history"] = hist
		out["throttled"] = b.LoginCounters(now)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// adminBody reads an action's small JSON body into v.
func adminBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errorf(http.StatusBadRequest, codeBadBody, "The body must be a JSON object")
	}
	return nil
}

// handleAdminClose handles "POST /admin/api/sessions/close" {"session": "<short hash>"}:
// closes that session (its licence is released; its client gets a new session next time).
func (s *Server) handleAdminClose(w http.ResponseWriter, r *http.Request, st *state) error {
	var body struct {
		Session string `json:"session"`
	}
	if err := adminBody(r, &body); err != nil {
		return err
	}
	ctx := r.Context()
	m := s.cfg.App.Sessions()
	var ids []string
	err := m.Range(ctx, func(sess *sessions.Session) bool {
		if sessionTag(sess.ID) == body.Session {
			ids = append(ids, sess.ID)
		}
		return true
	})
	if err != nil {
		return err
	}
	switch {
	case len(ids) == 0:
		return errorf(http.StatusNotFound, codeUnknownDataClass, "No such session: it may have ended already")
	case len(ids) > 1:
		return errorf(http.StatusConflict, codeStampChanged, "Several sessions share this short ID: close them all instead")
	}
	if err := m.Delete(ctx, ids[0]); err != nil {
		return err
	}
	s.adminLog(r, st, "admin: session closed", "closed", body.Session)
	s.cfg.Metrics.AdminAction("close_session")
	writeJSON(w, http.StatusOK, map[string]any{"closed": 1})
	return nil
}

// handleAdminCloseAll handles "POST /admin/api/sessions/close-all": closes every session
// but the administrator's own.
func (s *Server) handleAdminCloseAll(w http.ResponseWriter, r *http.Request, st *state) error {
	ctx := r.Context()
	m := s.cfg.App.Sessions()
	own := st.sess().ID
	var ids []string
	// The IDs first, then the deletions: a store need not support deleting while ranging.
	if err := m.Range(ctx, func(sess *sessions.Session) bool {
		if sess.ID != own {
			ids = append(ids, sess.ID)
		}
		return true
	}); err != nil {
		return err
	}
	closed := 0
	var errs []error
	for _, id := range ids {
		if err := m.Delete(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		closed++
	}
	s.adminLog(r, st, "admin: all other sessions closed", "closed", closed)
	s.cfg.Metrics.AdminAction("close_all")
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"closed": closed})
	return nil
}

// handleAdminClearKey handles "POST /admin/api/throttle/clear" {"key": "login-user:ann"}:
// forgets a login counter, so that the address or user may try again at once.
func (s *Server) handleAdminClearKey(w http.ResponseWriter, r *http.Request, st *state) error {
	var body struct {
		Key string `json:"key"`
	}
	if err := adminBody(r, &body); err != nil {
		return err
	}
	if s.cfg.Admin == nil {
		return errorf(http.StatusNotFound, codeUnknownKeyword, "Login counters are not watched here")
	}
	ok, err := s.cfg.Admin.ClearLoginCounter(r.Context(), body.Key)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, codeUnknownDataClass, "No such login counter: its window may have ended")
	}
	// The key names an address or a user: it is what the administrator acted on, and what
	// the log must show (it carries no secret).
	s.adminLog(r, st, "admin: login counter cleared", "key", body.Key)
	s.cfg.Metrics.AdminAction("clear_counter")
	writeJSON(w, http.StatusOK, map[string]any{"cleared": body.Key})
	return nil
}

// adminLog records an administrator's action with who took it.
func (s *Server) adminLog(r *http.Request, st *state, msg string, args ...any) {
	sess := st.sess()
	args = append(args, "admin", sess.UserName, "admin_session", sessionTag(sess.ID), "ip", st.req.IP)
	s.logger(r).Info(msg, args...)
}
