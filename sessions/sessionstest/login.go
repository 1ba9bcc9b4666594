package sessionstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/sessions"
)

// counts hits each of keys once more and returns their new counts: a way to read counters
// through the Counters interface (which has no read).
func counts(t *testing.T, st sessions.Store, now time.Time, keys ...string) []int {
	t.Helper()
	cs, err := sessions.HitAll(context.Background(), st, keys, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.N
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testSettleCreate: sessions.SettleCreate (one call for a store that is a
// sessions.SettleCreator, Settle then Create otherwise) settles the counters and stores the
// session; when the create is refused the settle still stands, and nothing is stored.
func testSettleCreate(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c := NewClock()
	st := newStore(t, Options{Now: c.Now})
	t.Cleanup(func() { st.Close() })
	hit := func(keys ...string) {
		t.Helper()
		if _, err := sessions.HitAll(ctx, st, keys, c.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	draft := func(id string) *sessions.Session {
		now := c.Now()
		return &sessions.Session{ID: id, UserName: "kim", IdleTimeout: time.Hour, Created: now,
			LastAccess: now, Expires: now.Add(time.Hour), RemoteAddr: "10.0.0.1", Authenticated: true}
	}

	t.Run("SettlesAndStores", func(t *testing.T) {
		hit("ip1", "user1")
		hit("ip1", "user1")
		c.Add(time.Second)
		s := draft("settle-create-1")
		if err := sessions.SettleCreate(ctx, st, []string{"ip1", "missing1"}, []string{"user1"}, c.Now(), s, true, 0); err != nil {
			t.Fatal(err)
		}
		if !s.Licensed || !s.LastAccess.Equal(c.Now()) || s.Expires.Before(c.Now().Add(time.Hour)) {
			t.Fatalf("the stored session: licensed %v, last access %v, expires %v; want licensed, %v, from %v",
				s.Licensed, s.LastAccess, s.Expires, c.Now(), c.Now().Add(time.Hour))
		}
		got, err := st.Get(ctx, s.ID, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got.UserName != "kim" || !got.Licensed || !got.Expires.Equal(s.Expires) {
			t.Fatalf("read back: %+v, want kim's licensed session expiring %v", got, s.Expires)
		}
		// ip1 was taken one back (2 → 1, then this hit: 2), user1 dropped (a fresh 1),
		// and missing1 not made by the take-back (a fresh 1).
		if n := counts(t, st, c.Now(), "ip1", "user1", "missing1"); !equalInts(n, []int{2, 1, 1}) {
			t.Fatalf("counts after the settle: got %v, want [2 1 1]", n)
		}
	})

	t.Run("RefusedCreateStillSettles", func(t *testing.T) {
		full := draft("settle-create-holder")
		if err := st.Create(ctx, full, true, 2); err != nil {
			t.Fatal(err)
		}
		hit("ip2", "user2")
		hit("ip2", "user2")
		before, err := st.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = sessions.SettleCreate(ctx, st, []string{"ip2"}, []string{"user2"}, c.Now(), draft("settle-create-2"), true, before.Licensed)
		if !errors.Is(err, sessions.ErrLicenceExhausted) {
			t.Fatalf("every licence held: got %v, want ErrLicenceExhausted", err)
		}
		if after, _ := st.Stats(ctx); after != before {
			t.Fatalf("a refused create stored something: stats %+v, then %+v", before, after)
		}
		if _, err := st.Get(ctx, "settle-create-2", c.Now()); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("the refused session: got %v, want ErrNotFound", err)
		}
		if n := counts(t, st, c.Now(), "ip2", "user2"); !equalInts(n, []int{2, 1}) {
			t.Fatalf("counts after a refused create: got %v, want [2 1] (settled all the same)", n)
		}

		hit("ip3", "user3")
		err = sessions.SettleCreate(ctx, st, []string{"ip3"}, []string{"user3"}, c.Now(), draft(full.ID), false, 0)
		if !errors.Is(err, sessions.ErrExists) {
			t.Fatalf("an ID in use: got %v, want ErrExists", err)
		}
		if n := counts(t, st, c.Now(), "ip3", "user3"); !equalInts(n, []int{1, 1}) {
			t.Fatalf("counts after an ID in use: got %v, want [1 1] (settled all the same)", n)
		}
	})

	t.Run("NothingToSettle", func(t *testing.T) {
		s := draft("settle-create-3")
		if err := sessions.SettleCreate(ctx, st, nil, nil, c.Now(), s, false, 0); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Get(ctx, s.ID, c.Now()); err != nil || got.Licensed {
			t.Fatalf("read back: %+v, %v; want an unlicensed session", got, err)
		}
	})
}

// testLoginSettlesOnce: a login's attempt is settled once, with its first insert, even when
// that insert finds every licence held and the login takes one from an anonymous session
// (sessions.Manager.InsertAttempt); and when authenticated sessions hold every licence, the
// login is refused but its attempt settled all the same.
func testLoginSettlesOnce(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c := NewClock()
	st := newStore(t, Options{Now: c.Now})
	m := sessions.NewManager(sessions.Config{Store: st, Now: c.Now, Licences: 1,
		IdleTimeout: time.Hour, MinIdle: time.Minute, MaxIdle: 24 * time.Hour})
	t.Cleanup(func() { m.Close() })
	th := sessions.NewThrottle(st, sessions.ThrottleConfig{MaxPerUser: 10, MaxPerIP: 10, Now: c.Now})
	const ip = "10.7.7.7"
	login := func(user string) *sessions.Session {
		d, err := m.Draft(ip)
		if err != nil {
			t.Fatal(err)
		}
		d.UserName, d.Guest, d.Authenticated = user, false, true
		return d
	}

	// An anonymous session holds the only licence; another attempt from the address is
	// under way (counted, not settled).
	anon, err := m.Create(ctx, ip, true)
	if err != nil {
		t.Fatal(err)
	}
	other, err := th.Begin(ctx, ip, "bob")
	if err != nil {
		t.Fatal(err)
	}
	a, err := th.Begin(ctx, ip, "kim")
	if err != nil {
		t.Fatal(err)
	}
	kim := login("kim")
	if err := m.InsertAttempt(ctx, kim, a); err != nil {
		t.Fatalf("a login with an anonymous session holding the licence: %v", err)
	}
	if !kim.Licensed {
		t.Fatal("the login's session holds no licence")
	}
	if _, err := m.Get(ctx, anon.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("the anonymous session: got %v, want ErrNotFound (its licence reclaimed)", err)
	}
	if err := a.Succeeded(ctx); err != nil { // already settled: does nothing
		t.Fatal(err)
	}
	// The address keeps bob's attempt (1), plus this read's hit; kim's name is forgotten.
	if n := counts(t, st, c.Now(), "login-ip:"+ip, "login-user:kim"); !equalInts(n, []int{2, 1}) {
		t.Fatalf("counts after the login: got %v, want [2 1] (kim's attempt settled once)", n)
	}
	if err := other.Succeeded(ctx); err != nil {
		t.Fatal(err)
	}

	// kim (authenticated) holds the only licence now: the next login is refused, its
	// attempt settled.
	a, err = th.Begin(ctx, ip, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.InsertAttempt(ctx, login("ann"), a); !errors.Is(err, sessions.ErrLicenceExhausted) {
		t.Fatalf("every licence held by authenticated sessions: got %v, want ErrLicenceExhausted", err)
	}
	if n := counts(t, st, c.Now(), "login-ip:"+ip, "login-user:ann"); !equalInts(n, []int{2, 1}) {
		t.Fatalf("counts after the refused login: got %v, want [2 1]", n)
	}
}
