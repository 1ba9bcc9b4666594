package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/engine"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// scriptSession is the engine.Session a script acts on during one call. It works on a
// copy of the session; commit writes what the script changed back to the store in one
// atomic update (merging storage key by key, so that concurrent requests of one session
// changing different keys both keep their change), then rotates the ID if privileges
// were granted, and closes the session if the script asked to.
//
// A draft (live == false) is a session not stored yet: login builds one, and only stores
// it when onRESTAuthentication accepts.
type scriptSession struct {
	req    *Request
	ctx    context.Context
	policy *roles.Config
	s      *sessions.Session
	live   bool

	origStorage []byte
	promoted    []string

	privsSet, storageSet, idleSet, namesSet bool
	granted, logout, licenceRefused         bool
	restored                                *sessions.Session
}

var _ engine.Session = (*scriptSession)(nil)

func (r *Request) newScriptSession(ctx context.Context, sess *sessions.Session, live bool, promoted []string) *scriptSession {
	c := sess.Clone()
	return &scriptSession{req: r, ctx: ctx, policy: r.Gen.Roles, s: c, live: live, origStorage: c.Storage, promoted: promoted}
}

func (ss *scriptSession) ID() string       { return ss.s.ID }
func (ss *scriptSession) UserName() string { return ss.s.UserName }
func (ss *scriptSession) IsGuest() bool    { return ss.s.Guest }

// SetPrivileges implements engine.Session. Undeclared names are ignored. In force login
// mode the licence is taken here; false means none was free and nothing changed.
func (ss *scriptSession) SetPrivileges(g engine.Grant) (bool, error) {
	if ss.live && !ss.s.Licensed && ss.policy.ForceLogin() {
		err := ss.req.app.cfg.Sessions.TakeLicence(ss.ctx, ss.s.ID)
		if errors.Is(err, sessions.ErrLicenceExhausted) {
			ss.licenceRefused = true
			return false, nil
		}
		if err != nil {
			return false, err
		}
		ss.s.Licensed = true
	}
	ss.s.Privileges = declared(g.Privileges, ss.policy.IsPrivilege, ss.policy)
	ss.s.Roles = declared(g.Roles, ss.policy.IsRole, ss.policy)
	if g.UserName != "" || g.FullName != "" || g.UserID != "" {
		ss.namesSet = true
		if g.UserName != "" {
			ss.s.UserName = g.UserName
		}
		if g.FullName != "" {
			ss.s.FullName = g.FullName
		}
		if g.UserID != "" {
			ss.s.UserID = g.UserID
		}
	}
	ss.s.Guest = false
	ss.privsSet, ss.granted = true, true
	return true, nil
}

// declared keeps the names roles.json declares, in their declared spelling.
func declared(names []string, ok func(string) bool, policy *roles.Config) []string {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || !ok(n) {
			continue
		}
		if c, found := policy.Canonical(n); found {
			n = c
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// ClearPrivileges implements engine.Session. The session does not become a guest again.
func (ss *scriptSession) ClearPrivileges() error {
	ss.s.Privileges, ss.s.Roles = nil, nil
	ss.privsSet = true
	return nil
}

// Privileges implements engine.Session: expanded, plus what the running function promotes.
func (ss *scriptSession) Privileges() []string {
	held := ss.policy.Expand(ss.s.Privileges, ss.s.Roles)
	for _, p := range ss.promoted {
		if !slices.Contains(held, p) {
			held = append(held, p)
		}
	}
	slices.Sort(held)
	return held
}

// HasPrivilege implements engine.Session, with the same answer as Request.Holds.
func (ss *scriptSession) HasPrivilege(name string) bool {
	return holds(ss.policy, ss.Privileges(), ss.s.Roles, name)
}

// Storage implements engine.Session.
func (ss *scriptSession) Storage() []byte {
	if len(ss.s.Storage) == 0 {
		return []byte("{}")
	}
	return ss.s.Storage
}

// SetStorage implements engine.Session.
func (ss *scriptSession) SetStorage(b []byte) error {
	if !json.Valid(b) || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		return errors.New("storage must be a JSON object")
	}
	ss.s.Storage = slices.Clone(b)
	ss.storageSet = true
	return nil
}

// IdleTimeout implements engine.Session.
func (ss *scriptSession) IdleTimeout() time.Duration { return ss.s.IdleTimeout }

// SetIdleTimeout implements engine.Session; the value is clamped to the configured range.
func (ss *scriptSession) SetIdleTimeout(d time.Duration) error {
	ss.s.IdleTimeout = ss.req.app.cfg.Sessions.Clamp(d)
	ss.s.Expires = ss.s.LastAccess.Add(ss.s.IdleTimeout)
	ss.idleSet = true
	return nil
}

// Expiration implements engine.Session.
func (ss *scriptSession) Expiration() time.Time { return ss.s.Expires }

// Info implements engine.Session (4D's Session.info, plus gatehouse's fields).
func (ss *scriptSession) Info() map[string]any {
	return map[string]any{
		"id":                  ss.s.ID,
		"type":                "rest",
		"userName":            ss.s.UserName,
		"IPAddress":           ss.s.RemoteAddr,
		"creationDateTime":    ss.s.Created.UTC().Format(time.RFC3339),
		"lastRequestDateTime": ss.s.LastAccess.UTC().Format(time.RFC3339),
		"expiration":          ss.s.Expires.UTC().Format(time.RFC3339),
		"guest":               ss.s.Guest,
		"licensed":            ss.s.Licensed,
		"privileges":          ss.Privileges(),
	}
}

// CreateOTP implements engine.Session.
func (ss *scriptSession) CreateOTP(lifespan time.Duration) (string, error) {
	if !ss.live {
		return "", errors.New("the session is not open yet")
	}
	return ss.req.app.cfg.Sessions.CreateOTP(ss.ctx, ss.s.ID, lifespan)
}

// Restore implements engine.Session: the request goes on in the session the passcode
// names (4D's Session.restore); the current session is closed after the call if it is a
// guest, so nothing is left behind.
func (ss *scriptSession) Restore(token string) (bool, error) {
	sess, err := ss.req.app.cfg.Sessions.RedeemOTP(ss.ctx, token)
	if errors.Is(err, sessions.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ss.restored = sess
	return true, nil
}

// Logout implements engine.Session: the session closes after the call.
func (ss *scriptSession) Logout() error {
	ss.logout = true
	return nil
}

func (ss *scriptSession) changed() bool {
	return ss.privsSet || ss.storageSet || ss.idleSet || ss.namesSet
}

// errSessionGone: the session a script acted on was closed while the script ran.
var errSessionGone = errors.New("core: the session closed during the call")

// commit writes a live session's changes back to the store in one atomic update, renames
// it when privileges were granted, closes it when the script asked to, and moves the
// request to the session a passcode restored. It runs whether the script returned or threw.
// A draft (not stored) has nothing to commit.
func (ss *scriptSession) commit(ctx context.Context) error {
	if !ss.live {
		return nil
	}
	r := ss.req
	m := r.app.cfg.Sessions
	if ss.logout {
		if err := m.Delete(ctx, ss.s.ID); err != nil {
			return err
		}
		r.dropSession()
		return nil
	}
	// The session may have gone while the script ran (a logout from another tab, expiry):
	// its changes are then moot, and the request goes on without a session.
	gone := func() error {
		r.dropSession()
		return errSessionGone
	}
	if ss.changed() {
		updated, err := m.Update(ctx, ss.s.ID, func(cur *sessions.Session) error {
			return ss.apply(cur)
		})
		if errors.Is(err, sessions.ErrNotFound) {
			return gone()
		}
		if err != nil {
			return fmt.Errorf("core: save session: %w", err)
		}
		r.sess = updated
	}
	if ss.granted {
		rotated, err := m.Rotate(ctx, ss.s.ID)
		if errors.Is(err, sessions.ErrNotFound) {
			return gone()
		}
		if err != nil {
			return fmt.Errorf("core: rotate session: %w", err)
		}
		r.setSession(rotated)
		r.renamed = true
	}
	if ss.restored != nil {
		// The client's cookie now names the restored session: a guest session it leaves
		// behind is abandoned, so close it (and free its licence) now.
		if cur := r.sess; cur != nil && cur.Guest && cur.ID != ss.restored.ID {
			if err := m.Delete(ctx, cur.ID); err != nil {
				return err
			}
		}
		r.setSession(ss.restored)
		r.created, r.renamed = false, false // the client's own session, which it knows
	}
	return nil
}

// apply copies the script's changes onto cur, the session as stored now.
func (ss *scriptSession) apply(cur *sessions.Session) error {
	if ss.privsSet {
		cur.Privileges, cur.Roles = ss.s.Privileges, ss.s.Roles
		cur.Guest = cur.Guest && ss.s.Guest
	}
	cur.Authenticated = cur.Authenticated || ss.s.Authenticated
	if ss.namesSet {
		cur.UserName, cur.FullName, cur.UserID = ss.s.UserName, ss.s.FullName, ss.s.UserID
	}
	if ss.idleSet {
		cur.IdleTimeout = ss.s.IdleTimeout
	}
	if ss.storageSet {
		merged, err := mergeStorage(cur.Storage, ss.origStorage, ss.s.Storage)
		if err != nil {
			return err
		}
		cur.Storage = merged
	}
	return nil
}

// mergeStorage applies the top-level keys that changed between orig and next onto cur.
func mergeStorage(cur, orig, next []byte) ([]byte, error) {
	var c, o, n map[string]json.RawMessage
	for _, p := range []struct {
		b []byte
		m *map[string]json.RawMessage
	}{{cur, &c}, {orig, &o}, {next, &n}} {
		*p.m = map[string]json.RawMessage{}
		if len(p.b) > 0 {
			if err := json.Unmarshal(p.b, p.m); err != nil {
				return nil, fmt.Errorf("core: session storage: %w", err)
			}
		}
	}
	for k, v := range n {
		if ov, ok := o[k]; !ok || !bytes.Equal(ov, v) {
			c[k] = v
		}
	}
	for k := range o {
		if _, ok := n[k]; !ok {
			delete(c, k)
		}
	}
	if len(c) == 0 {
		return nil, nil
	}
	return json.Marshal(c)
}
