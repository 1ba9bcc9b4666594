package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSetPrivilegesForms(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.grant = function (src) { return Session.setPrivileges(eval('(' + src + ')')); };
	`})
	tests := []struct {
		arg  string
		want Grant
	}{
		{`"reader"`, Grant{Privileges: []string{"reader"}}},
		{`"reader, vip ,,vip"`, Grant{Privileges: []string{"reader", "vip"}}},
		{`""`, Grant{}},
		{`[]`, Grant{}},
		{`["reader", "vip"]`, Grant{Privileges: []string{"reader", "vip"}}},
		{`{privileges: "reader"}`, Grant{Privileges: []string{"reader"}}},
		{`{privileges: ["a", "b"], roles: "Sales"}`, Grant{Privileges: []string{"a", "b"}, Roles: []string{"Sales"}}},
		{`{roles: ["Sales", "Admin"], userName: "bob", fullName: "Bob B.", userID: "u-1"}`,
			Grant{Roles: []string{"Sales", "Admin"}, UserName: "bob", FullName: "Bob B.", UserID: "u-1"}},
		{`{userID: 42, privileges: null}`, Grant{UserID: "42"}},
		{`{}`, Grant{}},
	}
	for _, tt := range tests {
		s := newFakeSession()
		got, err := e.Call(context.Background(), sc, s, "DataStore", "grant", []any{tt.arg})
		if err != nil {
			t.Errorf("setPrivileges(%s): %v", tt.arg, err)
			continue
		}
		if got != true {
			t.Errorf("setPrivileges(%s) = %v, want true", tt.arg, got)
		}
		if len(s.grants) != 1 || !reflect.DeepEqual(s.grants[0], tt.want) {
			t.Errorf("setPrivileges(%s): session got %#v, want %#v", tt.arg, s.grants, tt.want)
		}
	}
	refused := []string{
		`undefined`, `null`, `42`, `true`, `["a", 1]`, `{privileges: 1}`, `{roles: [null]}`,
		`{userName: 7}`, `{userID: 1.5}`, `{privilege: "typo"}`, `function () {}`, `Symbol("a")`,
	}
	for _, arg := range refused {
		s := newFakeSession()
		_, err := e.Call(context.Background(), sc, s, "DataStore", "grant", []any{arg})
		var se *ScriptError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Message, "Session.setPrivileges:") {
			t.Errorf("setPrivileges(%s): got %v, want a TypeError from Session.setPrivileges", arg, err)
		}
		if len(s.grants) != 0 {
			t.Errorf("setPrivileges(%s) reached the session: %v", arg, s.grants)
		}
	}
}

func TestSetPrivilegesWithoutLicence(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.authentify = function () { return Session.setPrivileges('reader'); };
	`})
	s := newFakeSession()
	s.licence = false
	if got := mustCall(t, e, sc, s, "authentify"); got != false {
		t.Errorf("setPrivileges without a licence = %v, want false", got)
	}
}

func TestSessionMembers(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.read = function () {
			return {
				id: Session.id, userName: Session.userName, guest: Session.isGuest(),
				idle: Session.idleTimeout, exp: Session.expirationDate, info: Session.info,
				has: [Session.hasPrivilege('reader'), Session.hasPrivilege('admin')],
				privileges: Session.getPrivileges(),
			};
		};
		exports.act = function () {
			Session.idleTimeout = 90;
			const otp = Session.createOTP(30);
			const otpDefault = Session.createOTP();
			const restored = [Session.restore('good'), Session.restore('bad')];
			Session.clearPrivileges();
			return {otp: otp, otpDefault: otpDefault, restored: restored, after: Session.getPrivileges()};
		};
		exports.logout = function () { Session.storage.x = 1; Session.logout(); return true; };
		exports.isNull = function () { return Session === null; };
		exports.badIdle = function () { Session.idleTimeout = 'long'; };
		exports.assign = function () { Session = 1; };
		exports.infoIsCopy = function () { Session.info.type = 'changed'; return Session.info.type; };
	`})
	s := newFakeSession()
	got := mustCall(t, e, sc, s, "read")
	want := map[string]any{
		"id": s.id, "userName": "bob", "guest": true, "idle": float64(60), "exp": "2030-01-02T03:04:05.000Z",
		"info": map[string]any{"type": "remote", "count": float64(3)}, "has": []any{true, false},
		"privileges": []any{"reader"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read = %#v\nwant %#v", got, want)
	}

	got = mustCall(t, e, sc, s, "act")
	want = map[string]any{"otp": "OTP123", "otpDefault": "OTP123", "restored": []any{true, false}, "after": []any{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("act = %#v, want %#v", got, want)
	}
	if s.idle != 90*time.Minute || s.otpLifespan != 0 || s.cleared != 1 || s.restored != "bad" {
		t.Errorf("session after act: idle %v, last OTP lifespan %v, cleared %d, restored %q", s.idle, s.otpLifespan, s.cleared, s.restored)
	}

	if got := mustCall(t, e, sc, s, "logout"); got != true || !s.loggedOut {
		t.Errorf("logout = %v, loggedOut %v; want true, true", got, s.loggedOut)
	}
	if len(s.stored) != 0 {
		t.Errorf("storage written after logout: %q", s.stored)
	}
	if got := mustCall(t, e, sc, nil, "isNull"); got != true {
		t.Errorf("without a session: Session === null is %v, want true", got)
	}
	if got := mustCall(t, e, sc, s, "infoIsCopy"); got != "remote" {
		t.Errorf("Session.info after a change = %v, want a fresh copy (remote)", got)
	}
	for _, name := range []string{"badIdle", "assign"} {
		_, err := e.Call(context.Background(), sc, s, "DataStore", name, nil)
		scriptError(t, err)
	}
}

func TestSessionFailuresAreInternal(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.grant = function () { try { Session.setPrivileges('a'); } catch (e) { return 'caught'; } return 'went on'; };
		exports.store = function () { Session.storage.x = 1; };
	`})
	cause := errors.New("store unreachable")
	for _, name := range []string{"grant", "store"} {
		s := newFakeSession()
		s.err = cause
		_, err := e.Call(context.Background(), sc, s, "DataStore", name, nil)
		var se *ScriptError
		if !errors.Is(err, cause) || errors.As(err, &se) {
			t.Errorf("%s: got %v, want the session's error, not a script error", name, err)
		}
	}
}

func TestStorageRoundTrip(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.count = function () {
			const st = Session.storage;
			st.visits = (st.visits || 0) + 1;
			st.dropped = function () {};
			st.nothing = undefined;
			return st.visits;
		};
		exports.read = function () { return Session.storage.visits; };
		exports.replace = function () { Session.storage = {fresh: true}; };
		exports.replaceBad = function () { Session.storage = [1]; };
		exports.thenThrow = function () { Session.storage.before = 'error'; throw new Error('after'); };
		exports.cyclic = function () { const st = Session.storage; st.self = st; };
		exports.toArray = function () { Session.storage.toJSON = function () { return [1]; }; };
	`})
	s := newFakeSession()
	s.storage = []byte(`{ "visits" : 1 }`) // not in JSON.stringify's layout: still "unchanged" when read
	if got := mustCall(t, e, sc, s, "read"); got != float64(1) || len(s.stored) != 0 {
		t.Errorf("read = %v, writes %q; want 1 and no write", got, s.stored)
	}
	for want := 2; want <= 3; want++ {
		if got := mustCall(t, e, sc, s, "count"); got != float64(want) {
			t.Errorf("count = %v, want %d", got, want)
		}
	}
	if got, want := string(s.storage), `{"visits":3}`; got != want {
		t.Errorf("storage = %s, want %s", got, want)
	}
	mustCall(t, e, sc, s, "replace")
	if got, want := string(s.storage), `{"fresh":true}`; got != want {
		t.Errorf("storage after replace = %s, want %s", got, want)
	}
	_, err := e.Call(context.Background(), sc, s, "DataStore", "thenThrow", nil)
	scriptError(t, err)
	if got, want := string(s.storage), `{"fresh":true,"before":"error"}`; got != want {
		t.Errorf("storage after a throw = %s, want %s", got, want)
	}
	writes := len(s.stored)
	for _, name := range []string{"replaceBad", "cyclic", "toArray"} {
		_, err := e.Call(context.Background(), sc, s, "DataStore", name, nil)
		scriptError(t, err)
	}
	if len(s.stored) != writes {
		t.Errorf("invalid storage was written: %q", s.stored[writes:])
	}

	s.storage = []byte(`[1, 2]`)
	_, err = e.Call(context.Background(), sc, s, "DataStore", "read", nil)
	var se *ScriptError
	if err == nil || errors.As(err, &se) {
		t.Errorf("corrupt session storage: got %v, want an internal error", err)
	}
}
