package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// writeFiles writes files (path relative to dir, with slashes) into dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newTestEngine writes files into a new scripts folder, makes an engine and
// loads the set.
func newTestEngine(t testing.TB, files map[string]string, opts ...func(*Options)) (*Engine, *Scripts) {
	t.Helper()
	o := Options{Dir: t.TempDir()}
	for _, f := range opts {
		f(&o)
	}
	writeFiles(t, o.Dir, files)
	e, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sc, err := e.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return e, sc
}

// load makes an engine for dir and loads its set: the engine is nil when New
// fails, the set when Load does.
func load(opts Options) (*Engine, *Scripts, error) {
	e, err := New(opts)
	if err != nil {
		return nil, nil, err
	}
	sc, err := e.Load(context.Background())
	return e, sc, err
}

// mustCall calls DataStore.name of sc and fails the test on error.
func mustCall(t testing.TB, e *Engine, sc *Scripts, s Session, name string, args ...any) any {
	t.Helper()
	out, err := e.Call(context.Background(), sc, s, "DataStore", name, args)
	if err != nil {
		t.Fatalf("Call(%s): %v", name, err)
	}
	return out
}

// fakeSession records what scripts do to a session. It stands for the REST
// layer's session, the boundary of this package.
type fakeSession struct {
	mu          sync.Mutex
	id, user    string
	guest       bool
	licence     bool // SetPrivileges succeeds
	held        []string
	grants      []Grant
	cleared     int
	storage     []byte
	stored      [][]byte // every SetStorage
	idle        time.Duration
	exp         time.Time
	info        map[string]any
	otpLifespan time.Duration
	restored    string
	loggedOut   bool
	err         error // returned by every method that can fail
}

func newFakeSession() *fakeSession {
	return &fakeSession{
		id: "8A2F0C1E6B9D4F7A8C3E5B1D2F4A6C8E", user: "bob", guest: true, licence: true,
		held: []string{"reader"}, storage: []byte(`{}`), idle: time.Hour,
		exp:  time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		info: map[string]any{"type": "remote", "count": 3},
	}
}

func (s *fakeSession) ID() string       { return s.id }
func (s *fakeSession) UserName() string { return s.user }
func (s *fakeSession) IsGuest() bool    { return s.guest }
func (s *fakeSession) SetPrivileges(g Grant) (bool, error) {
	if s.err != nil {
		return false, s.err
	}
	s.grants = append(s.grants, g)
	if !s.licence {
		return false, nil
	}
	s.guest = false
	s.held = g.Privileges
	if g.UserName != "" {
		s.user = g.UserName
	}
	return true, nil
}
func (s *fakeSession) ClearPrivileges() error {
	s.cleared++
	s.held = nil
	return s.err
}
func (s *fakeSession) HasPrivilege(name string) bool { return slices.Contains(s.held, name) }
func (s *fakeSession) Privileges() []string          { return s.held }
func (s *fakeSession) Storage() []byte               { return s.storage }
func (s *fakeSession) SetStorage(b []byte) error {
	if s.err != nil {
		return s.err
	}
	s.storage = b
	s.stored = append(s.stored, b)
	return nil
}
func (s *fakeSession) IdleTimeout() time.Duration { return s.idle }
func (s *fakeSession) SetIdleTimeout(d time.Duration) error {
	s.idle = d
	return s.err
}
func (s *fakeSession) Expiration() time.Time { return s.exp }
func (s *fakeSession) Info() map[string]any  { return s.info }
func (s *fakeSession) CreateOTP(d time.Duration) (string, error) {
	s.otpLifespan = d
	return "OTP123", s.err
}
func (s *fakeSession) Restore(token string) (bool, error) {
	s.restored = token
	return token == "good", s.err
}
func (s *fakeSession) Logout() error {
	s.loggedOut = true
	return s.err
}

var _ Session = (*fakeSession)(nil)

// scriptError asserts that err is a *ScriptError and returns it.
func scriptError(t *testing.T, err error) *ScriptError {
	t.Helper()
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("got error %v (%T), want a *ScriptError", err, err)
	}
	return se
}
