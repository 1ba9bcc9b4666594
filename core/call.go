package core

import (
	"context"
	"errors"

	"gatehouse/roles"
	"gatehouse/sessions"
)

// Call runs the script function t for the request (SPEC §3.3, §3.5): the session is opened
// if needed; a force-login guest may only call the entry point (authentify), which every
// session may call whatever roles.json says; any other function needs execute permission on
// its resource and runs with the privileges roles.json promotes for it. authentify is a
// login: its attempts are counted by the throttle before it runs, and taken back when it
// grants privileges. What the script did to the session is saved whether it returned or
// threw (as in 4D, setPrivileges takes effect at once).
func (r *Request) Call(ctx context.Context, t Target, args []any) (any, error) {
	return r.CallOn(ctx, t, nil, args)
}

// CallOn is Call for an entity or selection function: this is the function's this (a
// *datastore.Entity, or a datastore.SelectionRef), made into the script's ds object. It is
// ignored for datastore and dataclass functions.
func (r *Request) CallOn(ctx context.Context, t Target, this any, args []any) (any, error) {
	access := Member
	if t.entry {
		access = Descriptive
	}
	sess, err := r.Open(ctx, access)
	if err != nil {
		return nil, err
	}
	var attempt *sessions.Attempt
	if t.entry {
		if attempt, err = r.app.beginAttempt(ctx, r.IP, ""); err != nil {
			return nil, err
		}
	} else if err := r.Permit(roles.Execute, t.Resource); err != nil {
		return nil, err
	}

	ss := r.newScriptSession(ctx, sess, !r.ephemeral, r.Gen.Roles.Promoted(t.Resource))
	result, callErr := r.app.cfg.Engine.CallOn(ctx, r.Gen.Scripts, ss, t.Module, t.Kind.scope(), t.Function, this, args)
	if err := ss.commit(ctx); err != nil && !errors.Is(err, errSessionGone) {
		return nil, errors.Join(callErr, err)
	}
	if callErr != nil {
		return nil, callErr
	}
	if t.entry && ss.granted {
		if err := attempt.Succeeded(ctx); err != nil {
			return nil, err
		}
	}
	if ss.licenceRefused && !ss.granted {
		// setPrivileges found no licence free: the caller is still a guest and must hear why.
		return nil, sessions.ErrLicenceExhausted
	}
	return result, nil
}
