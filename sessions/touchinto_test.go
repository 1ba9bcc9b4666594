package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TouchInto writes exactly what Touch returns, over whatever dst held, and moves the
// expiration as Touch does.
func TestTouchIntoMatchesTouch(t *testing.T) {
	ctx := context.Background()
	m, c := newTestManager(t, 0, 0)
	plain, err := m.Create(ctx, "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	rich, err := m.Create(ctx, "10.0.0.2", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(ctx, rich.ID, func(s *Session) error {
		s.UserName, s.FullName, s.UserID = "ann", "Ann Archer", "A1"
		s.Privileges, s.Roles = []string{"sales"}, []string{"Seller"}
		s.Storage = json.RawMessage(`{"cart":[1,2]}`)
		s.Guest, s.Authenticated = false, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// junk is what dst holds before: every field set, so that a field TouchInto forgot to
	// overwrite shows.
	junk := Session{ID: "junk", UserName: "junk", FullName: "junk", UserID: "junk",
		Privileges: []string{"junk"}, Roles: []string{"junk"}, Storage: json.RawMessage(`{"junk":1}`),
		IdleTimeout: time.Nanosecond, Created: time.Unix(1, 0), LastAccess: time.Unix(2, 0),
		Expires: time.Unix(3, 0), RemoteAddr: "junk", Guest: true, Authenticated: true, Licensed: true}
	for _, id := range []string{plain.ID, rich.ID} {
		c.Add(time.Minute)
		dst := junk
		got, err := m.TouchInto(ctx, id, &dst)
		if err != nil {
			t.Fatal(err)
		}
		if got != &dst {
			t.Fatal("the memory store's session was not written into dst")
		}
		want, err := m.store.Get(ctx, id, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, *want) {
			t.Errorf("TouchInto gave\n%+v\nthe store holds\n%+v", *got, *want)
		}
		if !got.LastAccess.Equal(c.Now()) || !got.Expires.Equal(c.Now().Add(got.IdleTimeout)) {
			t.Errorf("last access %v, expires %v: want now %v and now + idle", got.LastAccess, got.Expires, c.Now())
		}
		c.Add(time.Minute)
		touched, err := m.Touch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		dst = junk // (the same time as Touch's)
		if _, err := m.TouchInto(ctx, id, &dst); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(dst, *touched) {
			t.Errorf("TouchInto gave\n%+v\nTouch gave\n%+v", dst, *touched)
		}
	}
}

// An unknown or expired session is ErrNotFound, dst untouched, and the expired one is gone
// with its licence.
func TestTouchIntoNotFound(t *testing.T) {
	ctx := context.Background()
	m, c := newTestManager(t, 0, 0)
	s, err := m.Create(ctx, "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	dst := Session{ID: "kept"}
	if _, err := m.TouchInto(ctx, "NOSUCHSESSION", &dst); !errors.Is(err, ErrNotFound) || dst.ID != "kept" {
		t.Fatalf("unknown: %v, dst %q; want ErrNotFound and dst as it was", err, dst.ID)
	}
	c.Add(s.IdleTimeout)
	if _, err := m.TouchInto(ctx, s.ID, &dst); !errors.Is(err, ErrNotFound) || dst.ID != "kept" {
		t.Fatalf("expired: %v, dst %q; want ErrNotFound and dst as it was", err, dst.ID)
	}
	if st := stats(t, m); st.Sessions != 0 || st.Licensed != 0 {
		t.Fatalf("after touching an expired session: %+v, want it removed with its licence", st)
	}
}

// storeOnly hides every capability of a store but Store's.
type storeOnly struct{ Store }

// A store without the capability gives its own copy, and dst is left alone.
func TestTouchIntoWithoutTheCapability(t *testing.T) {
	ctx := context.Background()
	m := NewManager(Config{Store: storeOnly{NewMemoryStore(0)}, IdleTimeout: time.Hour, MinIdle: time.Minute, MaxIdle: time.Hour})
	t.Cleanup(func() { m.Close() })
	s, err := m.Create(ctx, "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	var dst Session
	got, err := m.TouchInto(ctx, s.ID, &dst)
	if err != nil {
		t.Fatal(err)
	}
	if got == &dst || got.ID != s.ID || dst.ID != "" {
		t.Fatalf("got %p (dst %p) with ID %q, dst ID %q: want the store's own copy", got, &dst, got.ID, dst.ID)
	}
}
