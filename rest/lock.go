package rest

import (
	"errors"
	"net/http"

	"gatehouse/datastore"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// lockResource names an entity's lock in the session store.
func lockResource(dc *datastore.DataClass, key string) string { return dc.Name + "(" + key + ")" }

// lock handles "GET /rest/{DC}({key})?$lock=true|false": a pessimistic lock the session
// holds until it unlocks it, logs out or expires (SPEC §3.5), answered with 4D's __STATUS.
// While it holds it, other sessions cannot update or delete the entity (409 / 1914).
func (v *dataView) lock(w http.ResponseWriter, dc *datastore.DataClass, key, want string) error {
	if err := v.require(roles.Update, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	e, err := v.lastReader().Get(v.ctx, dc, key)
	if err != nil {
		return err
	}
	res := lockResource(dc, e.KeyString())
	m := v.srv.cfg.App.Sessions()
	status := func(code int, text string, ok bool) {
		writeJSON(w, http.StatusOK, object{{"__STATUS", object{{"status", code}, {"statusText", text}, {"success", ok}}}})
	}
	switch want {
	case "true":
		err := m.LockEntity(v.ctx, v.sid(), res)
		if errors.Is(err, sessions.ErrLocked) {
			writeJSON(w, http.StatusOK, object{{"__STATUS", object{{"status", 3}, {"statusText", "Already Locked"},
				{"lockKind", 7}, {"lockKindText", "Locked By Session"}, {"success", false}}}})
			return nil
		}
		if err != nil {
			return err
		}
		status(0, "OK", true)
	case "false":
		err := m.UnlockEntity(v.ctx, v.sid(), res)
		if errors.Is(err, sessions.ErrNotFound) {
			status(0, "Not Locked", false)
			return nil
		}
		if err != nil {
			return err
		}
		status(0, "OK", true)
	default:
		return errorf(http.StatusBadRequest, codeMalformedURL, "$lock must be true or false")
	}
	return nil
}

// checkUnlocked refuses to change entities of dc (keys as in URLs) that another session
// has locked.
func (v *dataView) checkUnlocked(dc *datastore.DataClass, keys ...string) error {
	m := v.srv.cfg.App.Sessions()
	for _, k := range keys {
		locked, err := m.LockedByOther(v.ctx, v.sid(), lockResource(dc, k))
		if err != nil {
			return err
		}
		if locked {
			return sessions.ErrLocked
		}
	}
	return nil
}
