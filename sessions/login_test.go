package sessions

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// loginDraft returns a draft as a login leaves it: authenticated, no longer a guest.
func loginDraft(t *testing.T, m *Manager, user string) *Session {
	t.Helper()
	d, err := m.Draft("10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	d.UserName, d.Guest, d.Authenticated = user, false, true
	return d
}

// mustCreate opens an anonymous (licensed, default mode) session.
func mustCreate(t *testing.T, m *Manager) *Session {
	t.Helper()
	s, err := m.Create(context.Background(), "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInsertLogin(t *testing.T) {
	ctx := context.Background()

	t.Run("ReclaimsLeastRecentlyUsedAnonymous", func(t *testing.T) {
		m, c := newTestManager(t, 3, 0)
		a := mustCreate(t, m)
		c.Add(time.Minute)
		b := mustCreate(t, m)
		c.Add(time.Minute)
		cc := mustCreate(t, m)
		c.Add(time.Minute)
		if _, err := m.Touch(ctx, a.ID); err != nil { // b is now the least recently used
			t.Fatal(err)
		}
		d := loginDraft(t, m, "kim")
		if err := m.InsertLogin(ctx, d); err != nil {
			t.Fatalf("InsertLogin with anonymous sessions holding every licence: %v", err)
		}
		if !d.Licensed {
			t.Fatal("the login's session holds no licence")
		}
		if _, err := m.Touch(ctx, b.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Touch of the reclaimed session: got %v, want ErrNotFound", err)
		}
		for _, id := range []string{a.ID, cc.ID, d.ID} {
			if _, err := m.Get(ctx, id); err != nil {
				t.Fatalf("a session that should stay: %v", err)
			}
		}
		if got, want := stats(t, m), (Stats{Sessions: 3, Guests: 2, Licensed: 3}); got != want {
			t.Fatalf("stats: got %+v, want %+v", got, want)
		}
		// The next logins take cc's licence, then a's; then only logged-in users hold one.
		for _, gone := range []string{cc.ID, a.ID} {
			if err := m.InsertLogin(ctx, loginDraft(t, m, "ann")); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Get(ctx, gone); !errors.Is(err, ErrNotFound) {
				t.Fatalf("reclaimed out of order: %v", err)
			}
		}
		if err := m.InsertLogin(ctx, loginDraft(t, m, "bob")); !errors.Is(err, ErrLicenceExhausted) {
			t.Fatalf("every licence held by logged-in users: got %v, want ErrLicenceExhausted", err)
		}
	})

	t.Run("ExhaustedWhenUsersHoldEveryLicence", func(t *testing.T) {
		m, _ := newTestManager(t, 2, 0)
		for _, u := range []string{"kim", "ann"} {
			if err := m.InsertLogin(ctx, loginDraft(t, m, u)); err != nil {
				t.Fatal(err)
			}
		}
		// A force-login guest holds no licence: there is nothing to reclaim from it.
		g, err := m.Create(ctx, "10.0.0.2", false)
		if err != nil {
			t.Fatal(err)
		}
		d := loginDraft(t, m, "bob")
		if err := m.InsertLogin(ctx, d); !errors.Is(err, ErrLicenceExhausted) {
			t.Fatalf("got %v, want ErrLicenceExhausted", err)
		}
		if d.Licensed {
			t.Fatal("the refused draft says it holds a licence")
		}
		if _, err := m.Get(ctx, d.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the refused draft was stored: %v", err)
		}
		if _, err := m.Get(ctx, g.ID); err != nil {
			t.Fatalf("the unlicensed guest was closed: %v", err)
		}
		if got, want := stats(t, m), (Stats{Sessions: 3, Guests: 1, Licensed: 2}); got != want {
			t.Fatalf("stats: got %+v, want %+v", got, want)
		}
	})

	t.Run("GrantedSessionNotReclaimed", func(t *testing.T) {
		// A session a script granted privileges to (not Guest, never authenticated) is
		// a user's: only sessions still Guest are reclaimed.
		m, _ := newTestManager(t, 1, 0)
		s := mustCreate(t, m)
		if _, err := m.Update(ctx, s.ID, func(s *Session) error { s.Guest = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := m.InsertLogin(ctx, loginDraft(t, m, "kim")); !errors.Is(err, ErrLicenceExhausted) {
			t.Fatalf("got %v, want ErrLicenceExhausted", err)
		}
	})

	t.Run("ExpiredAnonymousGoesFirst", func(t *testing.T) {
		// An anonymous session past its expiration that the sweeper has not reached yet
		// holds a licence nobody can use: a login takes that one, not a live client's.
		m, c := newTestManager(t, 2, 0)
		old := mustCreate(t, m)
		c.Add(30 * time.Minute)
		live := mustCreate(t, m)
		c.Add(31 * time.Minute) // old expired a minute ago
		if err := m.InsertLogin(ctx, loginDraft(t, m, "kim")); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Get(ctx, live.ID); err != nil {
			t.Fatalf("a live anonymous session was closed while an expired one held a licence: %v", err)
		}
		if _, err := m.Get(ctx, old.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
	})

	t.Run("FollowsRotationAndTakenLicences", func(t *testing.T) {
		// The store's record of which guests hold a licence follows TakeLicence and
		// Rotate: a guest that took its licence late, under a new ID, is reclaimed.
		m, _ := newTestManager(t, 1, 0)
		g, err := m.Create(ctx, "10.0.0.2", false)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.TakeLicence(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		r, err := m.Rotate(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.InsertLogin(ctx, loginDraft(t, m, "kim")); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Get(ctx, r.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("rotated licensed guest: %v", err)
		}
		if got, want := stats(t, m), (Stats{Sessions: 1, Licensed: 1}); got != want {
			t.Fatalf("stats: got %+v, want %+v", got, want)
		}
	})

	t.Run("UnlimitedNeverReclaims", func(t *testing.T) {
		m, _ := newTestManager(t, 0, 0)
		a := mustCreate(t, m)
		if err := m.InsertLogin(ctx, loginDraft(t, m, "kim")); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Get(ctx, a.ID); err != nil {
			t.Fatalf("an anonymous session was closed with licences unlimited: %v", err)
		}
	})
}

func TestReclaimGuestLicenceNone(t *testing.T) {
	ctx := context.Background()
	st := NewMemoryStore(0)
	now := newClock().Now()
	if _, err := st.ReclaimGuestLicence(ctx, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty store: got %v, want ErrNotFound", err)
	}
	s := &Session{ID: benchID(1), IdleTimeout: time.Hour, LastAccess: now, Expires: now.Add(time.Hour), Guest: true}
	if err := st.Create(ctx, s, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReclaimGuestLicence(ctx, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("only an unlicensed guest: got %v, want ErrNotFound", err)
	}
}

// TestInsertLoginUnderConcurrency races logins against a flood of new anonymous sessions
// (and logouts): the licences held never exceed the cap, a logged-in session is never
// reclaimed, and every licence comes back.
func TestInsertLoginUnderConcurrency(t *testing.T) {
	const (
		cap        = 8
		loginers   = 4
		anonymous  = 4
		opsEach    = 300
		maxStaying = 2 // logged-in sessions each login worker keeps, so that logins keep finding room
	)
	ctx := context.Background()
	m, _ := newTestManager(t, cap, 0)
	// Anonymous sessions hold every licence from the start, and nobody closes these: the
	// first logins have to reclaim them.
	var first []string
	for range cap {
		first = append(first, mustCreate(t, m).ID)
	}

	stop := make(chan struct{})
	watchErr := make(chan error, 1)
	var watcher sync.WaitGroup
	watcher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st, err := m.Stats(ctx); err != nil || st.Licensed > cap {
				watchErr <- fmt.Errorf("stats %+v, %v: more than %d licences held", st, err, cap)
				return
			}
		}
	})

	errs := make(chan error, loginers+anonymous)
	kept := make([][]string, loginers) // logged-in sessions each login worker left open
	var wg sync.WaitGroup
	for w := range loginers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []string
			for range opsEach {
				d, err := m.Draft("10.0.0.9")
				if err != nil {
					errs <- err
					return
				}
				d.Guest, d.Authenticated = false, true
				switch err := m.InsertLogin(ctx, d); {
				case errors.Is(err, ErrLicenceExhausted):
				case err != nil:
					errs <- fmt.Errorf("InsertLogin: %w", err)
					return
				case !d.Licensed:
					errs <- errors.New("InsertLogin: stored without a licence")
					return
				default:
					mine = append(mine, d.ID)
				}
				for len(mine) > maxStaying || (len(mine) > 0 && r.IntN(3) == 0) {
					i := r.IntN(len(mine))
					// A logged-in session is never reclaimed: its logout finds it.
					if _, err := m.store.Delete(ctx, mine[i]); err != nil {
						errs <- fmt.Errorf("logout of a logged-in session: %w", err)
						return
					}
					mine = append(mine[:i], mine[i+1:]...)
				}
			}
			kept[w] = mine
		})
	}
	for w := range anonymous {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			var mine []string
			for range opsEach {
				s, err := m.Create(ctx, "10.0.0.1", true)
				switch {
				case errors.Is(err, ErrLicenceExhausted):
				case err != nil:
					errs <- fmt.Errorf("Create: %w", err)
					return
				default:
					mine = append(mine, s.ID)
				}
				if len(mine) > 0 && r.IntN(4) == 0 {
					i := r.IntN(len(mine))
					if err := m.Delete(ctx, mine[i]); err != nil { // it may have been reclaimed
						errs <- err
						return
					}
					mine = append(mine[:i], mine[i+1:]...)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	watcher.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	select {
	case err := <-watchErr:
		t.Fatal(err)
	default:
	}

	for w, ids := range kept {
		for _, id := range ids {
			s, err := m.Get(ctx, id)
			if err != nil || s.Guest || !s.Licensed {
				t.Fatalf("worker %d's logged-in session: got %+v, %v", w, s, err)
			}
		}
	}
	reclaimed := 0
	for _, id := range first {
		if _, err := m.Get(ctx, id); errors.Is(err, ErrNotFound) {
			reclaimed++
		}
	}
	t.Logf("%d of the %d first anonymous sessions reclaimed", reclaimed, len(first))

	licensed := 0
	var all []string
	m.Range(ctx, func(s *Session) bool {
		if s.Licensed {
			licensed++
		}
		all = append(all, s.ID)
		return true
	})
	if st := stats(t, m); st.Licensed != licensed {
		t.Fatalf("licences held %d, licensed sessions %d", st.Licensed, licensed)
	}
	for _, id := range all {
		if err := m.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if st := stats(t, m); st != (Stats{}) {
		t.Fatalf("after closing every session: %+v (a licence leaked)", st)
	}
}

// settleRecorder is a store that counts the SettleCreate calls made on it; with unwrap it
// says which store it wraps (as the admin console's counter watch does).
type settleRecorder struct {
	Store
	unwrap bool
	calls  int
}

func (r *settleRecorder) SettleCreate(ctx context.Context, unhit, reset []string, now time.Time, s *Session, licence bool, max int) error {
	r.calls++
	return SettleCreate(ctx, r.Store, unhit, reset, now, s, licence, max)
}

func (r *settleRecorder) Unwrap() Store {
	if !r.unwrap {
		return nil
	}
	return r.Store
}

// selfWrapper says it wraps itself: sameStore must not follow it for ever.
type selfWrapper struct{ Store }

func (w *selfWrapper) Unwrap() Store { return w }

func TestInsertAttempt(t *testing.T) {
	ctx := context.Background()

	t.Run("OneCallWhenTheThrottleCountsInTheSameStore", func(t *testing.T) {
		m, c := newTestManager(t, 0, 0)
		rec := &settleRecorder{Store: m.store, unwrap: true}
		th := NewThrottle(rec, ThrottleConfig{Now: c.Now})
		a := begin(t, th, "1.1.1.1", "kim")
		d := loginDraft(t, m, "kim")
		if err := m.InsertAttempt(ctx, d, a); err != nil {
			t.Fatal(err)
		}
		if rec.calls != 1 {
			t.Fatalf("SettleCreate calls: got %d, want 1", rec.calls)
		}
		if s, err := m.Get(ctx, d.ID); err != nil || !s.Licensed {
			t.Fatalf("the login's session: %+v, %v; want it stored with a licence", s, err)
		}
		if n, _, _ := m.store.Hit(ctx, "login-ip:1.1.1.1", c.Now(), time.Minute); n != 1 {
			t.Fatalf("the address's count after a good login: got %d, want 1 (its hit taken back)", n)
		}
	})

	t.Run("SettleThenInsertOtherwise", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			counter func(*Manager) Store
			apart   bool // the counters are not in the manager's store
		}{
			{"AnotherStore", func(*Manager) Store { return NewMemoryStore(0) }, true},
			{"AWrapperOfAnotherStore", func(*Manager) Store { return &settleRecorder{Store: NewMemoryStore(0), unwrap: true} }, true},
			{"AWrapperThatDoesNotSay", func(m *Manager) Store { return &settleRecorder{Store: m.store} }, false},
			{"AWrapperOfItself", func(*Manager) Store { return &selfWrapper{NewMemoryStore(0)} }, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m, c := newTestManager(t, 0, 0)
				counters := tc.counter(m)
				th := NewThrottle(counters, ThrottleConfig{Now: c.Now})
				begin(t, th, "1.1.1.1", "ann") // a failure, which stays counted
				a := begin(t, th, "1.1.1.1", "kim")
				d := loginDraft(t, m, "kim")
				if err := m.InsertAttempt(ctx, d, a); err != nil {
					t.Fatal(err)
				}
				if rec, ok := counters.(*settleRecorder); ok && rec.calls != 0 {
					t.Fatalf("SettleCreate called %d times on a store that is not the manager's", rec.calls)
				}
				if _, err := m.Get(ctx, d.ID); err != nil {
					t.Fatalf("the login's session, in the manager's store: %v", err)
				}
				if tc.apart {
					if _, err := counters.Get(ctx, d.ID, c.Now()); !errors.Is(err, ErrNotFound) {
						t.Fatalf("the login's session in the throttle's store: got %v, want ErrNotFound", err)
					}
				}
				if n, _, _ := counters.Hit(ctx, "login-ip:1.1.1.1", c.Now(), time.Minute); n != 2 {
					t.Fatalf("the address's count: got %d, want 2 (ann's failure, then this hit)", n)
				}
				if n, _, _ := counters.Hit(ctx, "login-user:kim", c.Now(), time.Minute); n != 1 {
					t.Fatalf("kim's count: got %d, want 1 (forgotten on success)", n)
				}
			})
		}
	})

	t.Run("NilAttempt", func(t *testing.T) {
		m, _ := newTestManager(t, 0, 0)
		d := loginDraft(t, m, "kim")
		if err := m.InsertAttempt(ctx, d, nil); err != nil || !d.Licensed {
			t.Fatalf("no throttle: got %v, licensed %v; want the session stored with a licence", err, d.Licensed)
		}
	})
}
