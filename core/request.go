package core

import (
	"context"
	"errors"
	"strings"

	"gatehouse/roles"
	"gatehouse/sessions"
)

// Access is what a request needs of its session. Every route declares one; the check is
// made in one place (Request.Open), never remembered inside a handler.
type Access uint8

const (
	// Descriptive requests are open to force-login guests ($catalog, currentUser, ...).
	Descriptive Access = iota
	// Member requests are refused to force-login guests (401 / 1901).
	Member
	// Admin requests need the WebAdmin privilege ($info).
	Admin
)

// Presented is what a client presented to name its session: a one-time passcode ($4DSID),
// else the session IDs of its cookies, in order (already verified by the cookie codec).
type Presented struct {
	OTP string
	IDs []string
}

// CookieAction is what the client must be told about its session cookie once the request
// is answered.
type CookieAction struct {
	Set    string // a session ID to send in the cookie; "" for none
	Expire bool   // tell the client to forget its cookie
}

// Request is one client request as the core sees it: the generation it pinned, its
// session, and the cookie decision. It is used by one goroutine.
type Request struct {
	app *App
	// Gen is the generation pinned for the whole request.
	Gen *Generation
	// IP is the client's address (for session records and login throttling).
	IP string

	presented Presented
	ephemeral bool // never store a session (HEAD)

	resolved bool
	created  bool // this request stored sess: a refusal must not leave it behind
	renamed  bool // this request gave sess a new ID: only its answer can tell the client
	sess     *sessions.Session
	// touched holds the session resolve found, when the store writes it here (the
	// memory store does): a request's session check then allocates no Session.
	touched sessions.Session
	cookie  CookieAction

	held    []string // expanded privileges of heldFor
	heldFor *sessions.Session
}

// NewRequest starts a request from a client at ip, pinning the generation in force.
// ephemeral requests (HEAD) are answered like any other but never store a session.
func (a *App) NewRequest(ip string, p Presented, ephemeral bool) *Request {
	r := new(Request)
	a.StartRequest(r, ip, p, ephemeral)
	return r
}

// StartRequest is NewRequest into a Request the caller holds (the protocol layer keeps it
// in its per-request state, sparing an allocation on every request).
func (a *App) StartRequest(r *Request, ip string, p Presented, ephemeral bool) {
	*r = Request{app: a, Gen: a.gen.Load(), IP: ip, presented: p, ephemeral: ephemeral}
}

// Cookie returns what the client must be told about its cookie.
func (r *Request) Cookie() CookieAction { return r.cookie }

// Current returns the session the request has now, without resolving or opening one.
func (r *Request) Current() *sessions.Session { return r.sess }

// Session returns the request's live session, nil when it has none (nothing is opened).
func (r *Request) Session(ctx context.Context) (*sessions.Session, error) {
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	return r.sess, nil
}

// resolve finds the session the client presented, once: from a one-time passcode, else
// from its cookies. An unknown, expired or spent one is no session, never an error.
func (r *Request) resolve(ctx context.Context) error {
	if r.resolved {
		return nil
	}
	r.resolved = true
	m := r.app.cfg.Sessions
	if r.presented.OTP != "" {
		// The client asked for the passcode's session: never fall back to the cookie's.
		sess, err := m.RedeemOTP(ctx, r.presented.OTP)
		if err == nil {
			r.setSession(sess)
		} else if !errors.Is(err, sessions.ErrNotFound) {
			return err
		}
		return nil
	}
	for _, id := range r.presented.IDs {
		sess, err := m.TouchInto(ctx, id, &r.touched)
		if errors.Is(err, sessions.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		r.sess = sess
		return nil
	}
	return nil
}

// setSession makes sess the request's session and sends its ID to the client.
func (r *Request) setSession(sess *sessions.Session) {
	r.sess = sess
	r.cookie = CookieAction{Set: sess.ID}
}

// dropSession forgets the request's session and tells the client to forget its cookie.
func (r *Request) dropSession() {
	r.sess, r.created, r.renamed = nil, false, false
	r.cookie = CookieAction{Expire: true}
}

// Open gives the request a session — the one it presented, else a new one (in default
// login mode it takes a licence: sessions.ErrLicenceExhausted when none is free; in force
// login mode it is a guest) — and checks that the session may make a request of this
// access. A session opened here and a refusal later are undone by Abandon.
func (r *Request) Open(ctx context.Context, access Access) (*sessions.Session, error) {
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	if r.sess == nil {
		if err := r.create(ctx); err != nil {
			return nil, err
		}
	}
	switch access {
	case Member:
		if r.sess.State() == sessions.StateGuest {
			return nil, ErrGuest
		}
	case Admin:
		if !r.Holds(roles.WebAdmin) {
			if r.sess.State() == sessions.StateGuest {
				return nil, ErrGuest
			}
			return nil, ErrNotAdmin
		}
	}
	return r.sess, nil
}

// create opens a new session for the request.
func (r *Request) create(ctx context.Context) error {
	m := r.app.cfg.Sessions
	licence := !r.Gen.ForceLogin()
	if r.ephemeral {
		// Answered like the same GET, but nothing is kept: the session lives in this
		// request only and the client is not told of it.
		draft, err := m.Draft(r.IP)
		if err != nil {
			return err
		}
		draft.Licensed = licence // (as the stored session would be; no licence is taken)
		r.sess = draft
		return nil
	}
	sess, err := m.Create(ctx, r.IP, licence)
	if err != nil {
		return err
	}
	r.setSession(sess)
	r.created = true
	return nil
}

// Abandon undoes what a request that ends in an error opened, so that a refused request
// takes nothing (SPEC §4.2): a session it created is closed, releasing its licence, and the
// client is not told of it. A session it only renamed (privileges granted) keeps working
// and its new cookie is sent — unless the client went away, when nobody can ever learn the
// new ID and the session would hold its licence until it expired.
func (r *Request) Abandon(ctx context.Context, clientGone bool) error {
	if r.sess == nil || !(r.created || r.renamed && clientGone) {
		return nil
	}
	id := r.sess.ID
	r.sess, r.created, r.renamed = nil, false, false
	if r.cookie.Set == id {
		r.cookie = CookieAction{}
	}
	return r.app.cfg.Sessions.Delete(context.WithoutCancel(ctx), id)
}

// Privileges returns the expanded privileges the session holds under the pinned roles.json.
func (r *Request) Privileges() []string {
	if r.sess == nil {
		return nil
	}
	if r.heldFor != r.sess {
		r.held = r.Gen.Roles.Expand(r.sess.Privileges, r.sess.Roles)
		r.heldFor = r.sess
	}
	return r.held
}

// Holds reports whether the request's session holds name (see holds).
func (r *Request) Holds(name string) bool {
	if r.sess == nil {
		return false
	}
	return holds(r.Gen.Roles, r.Privileges(), r.sess.Roles, name)
}

// holds is the one answer to "does this session hold name": the guest pseudo-privilege
// (every session), a privilege among the expanded ones, or a role it was granted that
// roles.json declares. Names are case-insensitive.
func holds(policy *roles.Config, expanded, granted []string, name string) bool {
	if strings.EqualFold(name, roles.Guest) {
		return true
	}
	for _, p := range expanded {
		if strings.EqualFold(p, name) {
			return true
		}
	}
	for _, role := range granted {
		if strings.EqualFold(role, name) && policy.IsRole(role) {
			return true
		}
	}
	return false
}

// Allowed reports whether the session may do action on resource (roles.json, SPEC §6).
func (r *Request) Allowed(action roles.Action, resource roles.Resource) bool {
	return r.Gen.Roles.Allowed(r.Privileges(), action, resource)
}

// Permit is Allowed as an error: a *PermissionError when the action is not allowed.
func (r *Request) Permit(action roles.Action, resource roles.Resource) error {
	if r.Allowed(action, resource) {
		return nil
	}
	return &PermissionError{Action: action, Resource: resource}
}
