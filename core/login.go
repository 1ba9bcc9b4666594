package core

import (
	"context"
	"errors"
	"time"

	"gatehouse/sessions"
)

// Credentials are what a client sent to log in.
type Credentials struct {
	User, Password string
	Digest         bool          // Password is a digest the client computed (hashed-password-4D)
	IdleTimeout    time.Duration // the session timeout the client asked for; 0 = default
}

// Login is $directory/login (SPEC §3.2): onRESTAuthentication decides, and an accepted
// login opens a session (or upgrades the request's one, under a new ID). It reports whether
// the login was accepted; a refusal leaves no session and no licence behind. In force
// login mode it is ErrForceLoginMode.
func (r *Request) Login(ctx context.Context, c Credentials) (bool, error) {
	if err := r.resolve(ctx); err != nil {
		return false, err
	}
	if r.Gen.ForceLogin() {
		return false, ErrForceLoginMode
	}
	return r.authenticate(ctx, c)
}

// Basic authenticates HTTP Basic credentials sent with a request that has no session
// (default mode, with onRESTAuthentication), as existing clients do on e.g. GET /rest/$info.
// A refusal is ErrLoginFailed. It does nothing for a request that has a session, in force
// login mode, without an authentication script, or for an ephemeral request.
func (r *Request) Basic(ctx context.Context, user, password string) error {
	if err := r.resolve(ctx); err != nil {
		return err
	}
	if r.sess != nil || r.ephemeral || r.Gen.ForceLogin() || !r.Gen.HasAuthentication() {
		return nil
	}
	ok, err := r.authenticate(ctx, Credentials{User: user, Password: password})
	if err != nil {
		return err
	}
	if !ok {
		return ErrLoginFailed
	}
	return nil
}

// authenticate runs onRESTAuthentication for c. The attempt is counted by the throttle
// before the script runs (and taken back on success), so parallel attempts can never get
// more guesses than the limit. A new session is stored only when the script accepts.
func (r *Request) authenticate(ctx context.Context, c Credentials) (bool, error) {
	m := r.app.cfg.Sessions
	if r.sess != nil && r.sess.Authenticated {
		// Once accepted, onRESTAuthentication is not called again for the session.
		return true, r.setIdle(ctx, c.IdleTimeout)
	}
	if !r.Gen.HasAuthentication() {
		// No onRESTAuthentication: a guest session is opened (4D's documented behaviour).
		if _, err := r.Open(ctx, Descriptive); err != nil {
			return false, err
		}
		return true, r.setIdle(ctx, c.IdleTimeout)
	}
	attempt, err := r.app.beginAttempt(ctx, r.IP, c.User)
	if err != nil {
		return false, err
	}

	live := r.sess != nil
	base := r.sess
	if !live {
		if base, err = m.Draft(r.IP); err != nil {
			return false, err
		}
	}
	ss := r.newScriptSession(ctx, base, live, nil)
	accepted, err := r.app.cfg.Engine.Authenticate(ctx, r.Gen.Scripts, ss, c.User, c.Password, c.Digest, r.IP)
	if err != nil || !accepted {
		return false, err
	}

	ss.s.Authenticated, ss.s.Guest = true, false
	if ss.s.UserName == "" {
		ss.s.UserName = c.User
	}
	if c.IdleTimeout > 0 {
		ss.s.IdleTimeout = m.Clamp(c.IdleTimeout)
	}
	if !live {
		// The attempt is settled with the insert (one round trip to a shared store). A
		// login that finds every licence held takes one from an anonymous session.
		if err := m.InsertAttempt(ctx, ss.s, attempt); err != nil {
			return false, err
		}
		r.setSession(ss.s)
		r.created = true
		return true, nil
	}
	if err := attempt.Succeeded(ctx); err != nil {
		return false, err
	}
	// An existing session was upgraded: save what the script and the login changed, and
	// give it a new ID (session-fixation defence).
	ss.privsSet, ss.namesSet, ss.granted = true, true, true
	ss.idleSet = ss.idleSet || c.IdleTimeout > 0
	if err := ss.commit(ctx); err != nil {
		if errors.Is(err, errSessionGone) {
			return false, nil // the session closed during the login: nothing was opened
		}
		return false, err
	}
	return true, nil
}

// beginAttempt counts a login attempt (nil throttle: none).
func (a *App) beginAttempt(ctx context.Context, ip, user string) (*sessions.Attempt, error) {
	if a.cfg.Throttle == nil {
		return nil, nil
	}
	return a.cfg.Throttle.Begin(ctx, ip, user)
}

// setIdle sets the session's idle timeout when the client asked for one.
func (r *Request) setIdle(ctx context.Context, idle time.Duration) error {
	if idle <= 0 || r.sess == nil || r.ephemeral {
		return nil
	}
	sess, err := r.app.cfg.Sessions.Update(ctx, r.sess.ID, func(cur *sessions.Session) error {
		cur.IdleTimeout = idle
		return nil
	})
	if err == nil {
		r.sess = sess
	}
	return err
}

// Logout closes the request's session, releasing its licence, and expires the cookie.
func (r *Request) Logout(ctx context.Context) error {
	if err := r.resolve(ctx); err != nil {
		return err
	}
	if r.sess != nil {
		if err := r.app.cfg.Sessions.Delete(ctx, r.sess.ID); err != nil {
			return err
		}
	}
	r.dropSession()
	return nil
}

// BelongsTo reports whether the request's session holds the role or privilege name (false
// when it has none); nothing is opened.
func (r *Request) BelongsTo(ctx context.Context, name string) (bool, error) {
	if err := r.resolve(ctx); err != nil {
		return false, err
	}
	return r.Holds(name), nil
}
