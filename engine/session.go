package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// Session is what a script's Session global acts on. The REST layer
// implements it; the engine never keeps it beyond a call. Methods are called
// only from the goroutine running the call.
type Session interface {
	ID() string
	UserName() string
	IsGuest() bool
	// SetPrivileges returns false when no licence is free (force login mode);
	// an error is an internal failure.
	SetPrivileges(g Grant) (bool, error)
	ClearPrivileges() error
	// HasPrivilege answers after includes expansion and roles.
	HasPrivilege(name string) bool
	// Privileges returns every held privilege, expanded.
	Privileges() []string
	// Storage returns the session storage as JSON object text ("{}" when empty).
	Storage() []byte
	// SetStorage replaces the whole storage object.
	SetStorage(json []byte) error
	IdleTimeout() time.Duration
	// SetIdleTimeout sets the idle timeout; the implementation clamps it.
	SetIdleTimeout(d time.Duration) error
	Expiration() time.Time
	// Info returns JSON-compatible data shown as Session.info.
	Info() map[string]any
	// CreateOTP returns a one-time passcode; lifespan 0 means the
	// implementation's default.
	CreateOTP(lifespan time.Duration) (string, error)
	Restore(token string) (bool, error)
	// Logout closes the session after the call.
	Logout() error
}

// Grant is the argument of Session.setPrivileges in all its JavaScript forms:
//
//	"a"  |  "a, b"  |  ["a", "b"]  |  {privileges: "a"|["a"], roles: "r"|["r"], userName, fullName, userID}
//
// "" and [] are valid: no privileges (in force login mode the licence is
// still taken).
type Grant struct {
	Privileges, Roles          []string
	UserName, FullName, UserID string
}

// storage is Session.storage during a call: parsed on first use, written
// back at the end of the call when its JSON changed.
type storage struct {
	obj  goja.Value
	orig string // JSON at load, as JSON.stringify writes it
}

// getSession is the getter of the Session global.
func (rt *runtime) getSession(goja.FunctionCall) goja.Value {
	if rt.cur == nil || rt.cur.session == nil {
		return goja.Null()
	}
	return rt.session
}

// sess returns the call's session; the Session global is null without one,
// so this only fails for a reference kept from another call.
func (rt *runtime) sess() Session {
	if rt.cur == nil || rt.cur.session == nil {
		panic(rt.vm.NewTypeError("Session is not available"))
	}
	return rt.cur.session
}

// newSessionObject builds the object behind the Session global. It is made
// once per runtime and frozen; its members act on the current call's session.
func (rt *runtime) newSessionObject() *goja.Object {
	vm := rt.vm
	o := vm.NewObject()
	methods := []struct {
		name string
		f    func(goja.FunctionCall) goja.Value
	}{
		{"setPrivileges", rt.setPrivileges},
		{"hasPrivilege", func(fc goja.FunctionCall) goja.Value {
			name := rt.stringArg(fc, 0, "Session.hasPrivilege", "name")
			return vm.ToValue(rt.sess().HasPrivilege(name))
		}},
		{"getPrivileges", func(goja.FunctionCall) goja.Value {
			return rt.stringArray(rt.sess().Privileges())
		}},
		{"clearPrivileges", func(goja.FunctionCall) goja.Value {
			if err := rt.sess().ClearPrivileges(); err != nil {
				return rt.fail(fmt.Errorf("engine: Session.clearPrivileges: %w", err))
			}
			return goja.Undefined()
		}},
		{"isGuest", func(goja.FunctionCall) goja.Value {
			return vm.ToValue(rt.sess().IsGuest())
		}},
		{"createOTP", rt.createOTP},
		{"restore", func(fc goja.FunctionCall) goja.Value {
			token := rt.stringArg(fc, 0, "Session.restore", "token")
			ok, err := rt.sess().Restore(token)
			if err != nil {
				return rt.fail(fmt.Errorf("engine: Session.restore: %w", err))
			}
			return vm.ToValue(ok)
		}},
		{"logout", func(goja.FunctionCall) goja.Value {
			if err := rt.sess().Logout(); err != nil {
				return rt.fail(fmt.Errorf("engine: Session.logout: %w", err))
			}
			rt.cur.loggedOut = true
			return goja.Undefined()
		}},
	}
	for _, m := range methods {
		_ = rt.method(o, m.name, m.f)
	}
	props := []struct {
		name     string
		get, set func(goja.FunctionCall) goja.Value
	}{
		{"id", func(goja.FunctionCall) goja.Value { return vm.ToValue(rt.sess().ID()) }, nil},
		{"userName", func(goja.FunctionCall) goja.Value { return vm.ToValue(rt.sess().UserName()) }, nil},
		{"idleTimeout", rt.getIdleTimeout, rt.setIdleTimeout},
		{"expirationDate", rt.getExpirationDate, nil},
		{"info", rt.getInfo, nil},
		{"storage", rt.getStorage, rt.setStorage},
	}
	for _, p := range props {
		var set goja.Value
		if p.set != nil {
			set = rt.fn("set "+p.name, p.set)
		}
		_ = o.DefineAccessorProperty(p.name, rt.fn("get "+p.name, p.get), set, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	return o
}

// setPrivileges implements Session.setPrivileges(p).
func (rt *runtime) setPrivileges(fc goja.FunctionCall) goja.Value {
	s := rt.sess()
	g, err := rt.grant(fc.Argument(0))
	if err != nil {
		return rt.throw("TypeError", "Session.setPrivileges: %v", err)
	}
	ok, err := s.SetPrivileges(g)
	if err != nil {
		return rt.fail(fmt.Errorf("engine: Session.setPrivileges: %w", err))
	}
	return rt.vm.ToValue(ok)
}

// grant parses every accepted form of the setPrivileges argument.
func (rt *runtime) grant(v goja.Value) (Grant, error) {
	var g Grant
	if s, ok := asString(v); ok {
		g.Privileges = splitNames(s)
		return g, nil
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return g, errors.New("want a privilege name, a list of names, or an object")
	}
	if obj.ClassName() == "Array" {
		names, err := rt.names(obj)
		g.Privileges = names
		return g, err
	}
	if _, isFn := goja.AssertFunction(obj); isFn {
		return g, errors.New("want a privilege name, a list of names, or an object")
	}
	var err error
	// Own names rather than Keys: Keys checks each name's enumerability through a property
	// descriptor (a dozen allocations per login), and a grant object has no property, hidden
	// or not, that may be ignored.
	for _, key := range obj.GetOwnPropertyNames() {
		val := obj.Get(key)
		switch key {
		case "privileges":
			g.Privileges, err = rt.nameList(val, key)
		case "roles":
			g.Roles, err = rt.nameList(val, key)
		case "userName":
			g.UserName, err = textProp(val, key)
		case "fullName":
			g.FullName, err = textProp(val, key)
		case "userID":
			g.UserID, err = idProp(val)
		default:
			err = fmt.Errorf("unknown property %q (want privileges, roles, userName, fullName, userID)", key)
		}
		if err != nil {
			return Grant{}, err
		}
	}
	return g, nil
}

// nameList accepts "a", "a, b" or ["a", "b"]; undefined and null mean none.
func (rt *runtime) nameList(v goja.Value, key string) ([]string, error) {
	if absent(v) {
		return nil, nil
	}
	if s, ok := asString(v); ok {
		return splitNames(s), nil
	}
	if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Array" {
		return rt.names(obj)
	}
	return nil, fmt.Errorf("%s: want a string or an array of strings", key)
}

// names reads an array of strings.
func (rt *runtime) names(arr *goja.Object) ([]string, error) {
	n := arr.Get("length").ToInteger()
	if n > 10000 {
		return nil, errors.New("too many names")
	}
	var out []string
	for i := range n {
		s, ok := asString(arr.Get(strconv.FormatInt(i, 10)))
		if !ok {
			return nil, fmt.Errorf("element %d is not a string", i)
		}
		out = appendName(out, s)
	}
	return out, nil
}

// splitNames splits a comma-separated list, dropping blanks and repeats.
func splitNames(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		out = appendName(out, part)
	}
	return out
}

func appendName(list []string, name string) []string {
	name = strings.TrimSpace(name)
	if name == "" {
		return list
	}
	for _, have := range list {
		if have == name {
			return list
		}
	}
	return append(list, name)
}

func textProp(v goja.Value, key string) (string, error) {
	if absent(v) {
		return "", nil
	}
	s, ok := asString(v)
	if !ok {
		return "", fmt.Errorf("%s: want a string", key)
	}
	return s, nil
}

// idProp accepts a string or an integer (a dataclass key), as text.
func idProp(v goja.Value) (string, error) {
	if absent(v) {
		return "", nil
	}
	if s, ok := asString(v); ok {
		return s, nil
	}
	if f, ok := asNumber(v); ok && f == math.Trunc(f) && !math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	return "", errors.New("userID: want a string or an integer")
}

// createOTP implements Session.createOTP(lifespanSeconds).
func (rt *runtime) createOTP(fc goja.FunctionCall) goja.Value {
	s := rt.sess()
	var lifespan time.Duration
	if v := fc.Argument(0); !absent(v) {
		secs, ok := asNumber(v)
		if !ok || math.IsNaN(secs) || secs < 0 || secs > math.MaxInt64/float64(time.Second) {
			return rt.throw("TypeError", "Session.createOTP: lifespan must be a number of seconds")
		}
		lifespan = time.Duration(secs * float64(time.Second))
	}
	token, err := s.CreateOTP(lifespan)
	if err != nil {
		return rt.fail(fmt.Errorf("engine: Session.createOTP: %w", err))
	}
	return rt.vm.ToValue(token)
}

// getIdleTimeout returns the idle timeout in minutes (4D's unit).
func (rt *runtime) getIdleTimeout(goja.FunctionCall) goja.Value {
	return rt.vm.ToValue(rt.sess().IdleTimeout().Minutes())
}

func (rt *runtime) setIdleTimeout(fc goja.FunctionCall) goja.Value {
	s := rt.sess()
	minutes, ok := asNumber(fc.Argument(0))
	if !ok || math.IsNaN(minutes) || minutes <= 0 || minutes > math.MaxInt64/float64(time.Minute) {
		return rt.throw("TypeError", "Session.idleTimeout: want a positive number of minutes")
	}
	if err := s.SetIdleTimeout(time.Duration(minutes * float64(time.Minute))); err != nil {
		return rt.fail(fmt.Errorf("engine: Session.idleTimeout: %w", err))
	}
	return goja.Undefined()
}

// getExpirationDate returns the expiration as an ISO-8601 string in UTC.
func (rt *runtime) getExpirationDate(goja.FunctionCall) goja.Value {
	t := rt.sess().Expiration()
	if t.IsZero() {
		return goja.Null()
	}
	return rt.vm.ToValue(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// getInfo returns a fresh plain copy of Session.info.
func (rt *runtime) getInfo(goja.FunctionCall) goja.Value {
	b, err := json.Marshal(rt.sess().Info())
	if err != nil {
		return rt.fail(fmt.Errorf("engine: Session.info: %w", err))
	}
	v, err := rt.parse(goja.Undefined(), rt.vm.ToValue(string(b)))
	if err != nil {
		return rt.fail(fmt.Errorf("engine: Session.info: %w", err))
	}
	return v
}

// getStorage returns the call's Session.storage object, parsing the
// session's storage on first use.
func (rt *runtime) getStorage(goja.FunctionCall) goja.Value {
	st := rt.loadStorage()
	if st == nil {
		return goja.Undefined()
	}
	return st.obj
}

// setStorage replaces Session.storage with another object.
func (rt *runtime) setStorage(fc goja.FunctionCall) goja.Value {
	v := fc.Argument(0)
	obj, ok := v.(*goja.Object)
	if !ok || obj.ClassName() != "Object" {
		return rt.throw("TypeError", "Session.storage: want an object")
	}
	if _, isFn := goja.AssertFunction(obj); isFn {
		return rt.throw("TypeError", "Session.storage: want an object")
	}
	if st := rt.loadStorage(); st != nil {
		st.obj = obj
	}
	return goja.Undefined()
}

// loadStorage parses the session's storage once per call. It returns nil
// after failing the call (corrupt storage is an internal error).
func (rt *runtime) loadStorage() *storage {
	c := rt.cur
	if c.storage != nil {
		return c.storage
	}
	text := rt.sess().Storage()
	if len(text) == 0 {
		text = []byte("{}")
	}
	v, err := rt.parse(goja.Undefined(), rt.vm.ToValue(string(text)))
	if err == nil {
		if obj, ok := v.(*goja.Object); !ok || obj.ClassName() != "Object" {
			err = errors.New("not a JSON object")
		}
	}
	var orig goja.Value
	if err == nil {
		orig, err = rt.stringify(goja.Undefined(), v)
	}
	if err != nil {
		rt.fail(fmt.Errorf("engine: session storage: %w", err))
		return nil
	}
	c.storage = &storage{obj: v, orig: orig.String()}
	return c.storage
}

// flushStorage writes Session.storage back when its JSON changed. It runs
// at the end of a call, also when the script threw (like 4D, changes to the
// storage made before an error are kept).
func (rt *runtime) flushStorage(file string) error {
	c := rt.cur
	if c.storage == nil || c.session == nil || c.loggedOut {
		return nil
	}
	var text goja.Value
	err := rt.protect(func() {
		var err error
		if text, err = rt.stringify(goja.Undefined(), c.storage.obj); err != nil {
			rethrowErr(err)
		}
	})
	if err != nil {
		return err
	}
	s, ok := asString(text)
	if !ok || !strings.HasPrefix(s, "{") {
		return &ScriptError{File: file, Message: "Session.storage must remain a JSON object"}
	}
	if s == c.storage.orig {
		return nil
	}
	if err := c.session.SetStorage([]byte(s)); err != nil {
		return fmt.Errorf("engine: session storage: %w", err)
	}
	return nil
}

// stringArg returns argument i, which must be a string.
func (rt *runtime) stringArg(fc goja.FunctionCall, i int, fn, name string) string {
	s, ok := asString(fc.Argument(i))
	if !ok {
		rt.throw("TypeError", "%s: %s must be a string", fn, name)
	}
	return s
}

// stringArray makes a JavaScript array of strings.
func (rt *runtime) stringArray(list []string) goja.Value {
	items := make([]any, len(list))
	for i, s := range list {
		items[i] = s
	}
	return rt.vm.NewArray(items...)
}
