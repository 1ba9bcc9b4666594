package rest

import (
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/core"
	"gatehouse/sessions"
)

func (s *Server) registerInfoRoutes(r *mux.Router) {
	s.fastExact(r, "/$info", s.handle(core.Admin, 0, s.handleInfo), methods.get...)
	s.fastExact(r, "/$info/privileges", s.handle(core.Descriptive, 0, s.handleInfoPrivileges), methods.get...)
}

// sessionInfo describes one session in $info.
type sessionInfo struct {
	SessionID  string   `json:"sessionID"`
	UserName   string   `json:"userName"`
	LifeTime   int64    `json:"lifeTime"`
	Expiration string   `json:"expiration"`
	Privileges []string `json:"privileges"`
	Licensed   bool     `json:"licensed"`
	Guest      bool     `json:"guest"`
	Current    bool     `json:"current,omitempty"`
}

// maxInfoSessions bounds the session list of $info.
const maxInfoSessions = 1000

// handleInfo handles "GET /rest/$info" (WebAdmin only). As in 4D, sessionInfo lists the
// live sessions; only the caller's own carries its real ID (the others' IDs would let an
// administrator's page leak sessions), the rest a short tag.
func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request, st *state) error {
	ctx := r.Context()
	g := st.req.Gen
	m := s.cfg.App.Sessions()
	cur := st.sess()
	now := m.Now()
	describe := func(sess *sessions.Session, current bool) sessionInfo {
		id := sessionTag(sess.ID)
		if current {
			id = sess.ID
		}
		privs := g.Roles.Expand(sess.Privileges, sess.Roles)
		if privs == nil {
			privs = []string{}
		}
		return sessionInfo{
			SessionID: id, UserName: sess.UserName, LifeTime: int64(sess.IdleTimeout / time.Second),
			Expiration: sess.Expires.UTC().Format(time.RFC3339), Privileges: privs,
			Licensed: sess.Licensed, Guest: sess.Guest, Current: current,
		}
	}
	list := []sessionInfo{describe(cur, true)}
	err := m.Range(ctx, func(sess *sessions.Session) bool {
		if sess.ID != cur.ID && !sess.Expired(now) {
			list = append(list, describe(sess, false))
		}
		return len(list) < maxInfoSessions
	})
	if err != nil {
		return err
	}
	stats, err := m.Stats(ctx)
	if err != nil {
		return err
	}
	lastError := func(err error) map[string]any {
		if err == nil {
			return map[string]any{"lastError": nil}
		}
		return map[string]any{"lastError": err.Error()}
	}
	sets, err := m.EntitySets(ctx, cur.ID)
	if err != nil && !errors.Is(err, sessions.ErrNotFound) {
		return err
	}
	info := map[string]any{
		"version": s.cfg.Version,
		// the caller's entity sets (SPEC §3.7): another session's are not its business
		"entitySetCount": len(sets),
		"entitySet":      describeSets(sets),
		"sessionInfo":    list,
		"sessions":       stats,
		"licences":       map[string]int{"max": m.Licences(), "used": stats.Licensed},
		"forceLogin":     g.ForceLogin(),
		"generation":     map[string]any{"seq": g.Seq, "loaded": g.Loaded.UTC().Format(time.RFC3339)},
	}
	// roles.json, model.json and the scripts are one generation: a rejected reload names
	// every file that failed, and each part reports it (scripts.lastError is 4D's place).
	rejected := lastError(s.cfg.App.LastReloadError())
	for _, part := range []string{"scripts", "roles", "model"} {
		info[part] = rejected
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// handleInfoPrivileges handles "GET /rest/$info/privileges": the caller's own privileges.
func (s *Server) handleInfoPrivileges(w http.ResponseWriter, _ *http.Request, st *state) error {
	type privilege struct {
		Privilege string `json:"privilege"`
	}
	list := []privilege{}
	for _, p := range st.req.Privileges() {
		list = append(list, privilege{p})
	}
	writeJSON(w, http.StatusOK, map[string]any{"privileges": list})
	return nil
}
