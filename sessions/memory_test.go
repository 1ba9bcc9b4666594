package sessions

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestManager(t *testing.T, licences, maxGuests int) (*Manager, *clock) {
	t.Helper()
	c := newClock()
	m := NewManager(Config{
		Store: NewMemoryStore(maxGuests), Now: c.Now, Licences: licences,
		IdleTimeout: time.Hour, MinIdle: time.Minute, MaxIdle: 24 * time.Hour,
	})
	t.Cleanup(func() { m.Close() })
	return m, c
}

func stats(t *testing.T, m *Manager) Stats {
	t.Helper()
	st, err := m.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLicenceCap(t *testing.T) {
	ctx := context.Background()
	m, _ := newTestManager(t, 2, 0)
	a, err := m.Create(ctx, "a", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, "c", true); !errors.Is(err, ErrLicenceExhausted) {
		t.Fatalf("third licensed session: got %v, want ErrLicenceExhausted", err)
	}
	if got := stats(t, m); got.Sessions != 2 || got.Licensed != 2 {
		t.Fatalf("after refusal: got %+v, want 2 sessions 2 licences", got)
	}
	// An unlicensed (force-login guest) session is still allowed.
	g, err := m.Create(ctx, "g", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.TakeLicence(ctx, g.ID); !errors.Is(err, ErrLicenceExhausted) {
		t.Fatalf("TakeLicence with none free: got %v", err)
	}
	if err := m.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.TakeLicence(ctx, g.ID); err != nil {
		t.Fatalf("TakeLicence after a logout: %v", err)
	}
	if err := m.TakeLicence(ctx, g.ID); err != nil {
		t.Fatalf("TakeLicence twice must be idempotent: %v", err)
	}
	if got := stats(t, m); got.Licensed != 2 {
		t.Fatalf("licences: got %d, want 2", got.Licensed)
	}
}

func TestExpiredSessionReleasesLicence(t *testing.T) {
	ctx := context.Background()
	m, c := newTestManager(t, 1, 0)
	s, err := m.Create(ctx, "a", true)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(59 * time.Minute)
	if _, err := m.Touch(ctx, s.ID); err != nil {
		t.Fatalf("touch before expiry: %v", err)
	}
	c.Add(59 * time.Minute) // touched: still alive
	if _, err := m.Get(ctx, s.ID); err != nil {
		t.Fatalf("get within the extended life: %v", err)
	}
	c.Add(time.Minute)
	if _, err := m.Touch(ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("touch after expiry: got %v, want ErrNotFound", err)
	}
	if got := stats(t, m); got.Licensed != 0 || got.Sessions != 0 {
		t.Fatalf("after expiry on lookup: %+v", got)
	}
	if _, err := m.Create(ctx, "b", true); err != nil {
		t.Fatalf("licence must be free again: %v", err)
	}
}

func TestSweepRemovesOnlyExpired(t *testing.T) {
	ctx := context.Background()
	m, c := newTestManager(t, 0, 0)
	var keep []string
	for i := range 100 {
		s, err := m.Create(ctx, "x", true)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			keep = append(keep, s.ID)
		}
	}
	c.Add(30 * time.Minute)
	for _, id := range keep {
		if _, err := m.Touch(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(31 * time.Minute)
	n, err := m.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 50 {
		t.Fatalf("swept %d, want 50", n)
	}
	if got := stats(t, m); got.Sessions != 50 || got.Licensed != 50 {
		t.Fatalf("after sweep: %+v", got)
	}
	c.Add(30 * time.Minute)
	if n, _ := m.Sweep(ctx); n != 50 {
		t.Fatalf("second sweep removed %d, want 50", n)
	}
	if got := stats(t, m); got != (Stats{}) {
		t.Fatalf("after all expired: %+v", got)
	}
}

func TestUpdateClampsAndShortensExpiry(t *testing.T) {
	ctx := context.Background()
	m, c := newTestManager(t, 0, 0)
	s, _ := m.Create(ctx, "a", true)
	got, err := m.Update(ctx, s.ID, func(s *Session) error { s.IdleTimeout = time.Second; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.IdleTimeout != time.Minute {
		t.Fatalf("idle timeout: got %v, want clamped to 1m", got.IdleTimeout)
	}
	c.Add(2 * time.Minute)
	if n, _ := m.Sweep(ctx); n != 1 {
		t.Fatalf("sweep after a shortened timeout removed %d, want 1", n)
	}
	if _, err := m.Update(ctx, s.ID, func(*Session) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a gone session: %v", err)
	}
}

func TestUpdateErrorStoresNothing(t *testing.T) {
	ctx := context.Background()
	m, _ := newTestManager(t, 0, 0)
	s, _ := m.Create(ctx, "a", true)
	boom := errors.New("boom")
	_, err := m.Update(ctx, s.ID, func(s *Session) error { s.UserName = "x"; s.Privileges = append(s.Privileges, "p"); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	got, _ := m.Get(ctx, s.ID)
	if got.UserName != "" || len(got.Privileges) != 0 {
		t.Fatalf("failed update leaked: %+v", got)
	}
}

func TestRotateKeepsContentAndLicence(t *testing.T) {
	ctx := context.Background()
	m, _ := newTestManager(t, 1, 0)
	s, _ := m.Create(ctx, "a", true)
	m.Update(ctx, s.ID, func(s *Session) error { s.UserName = "kim"; s.Storage = []byte(`{"a":1}`); return nil })
	r, err := m.Rotate(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == s.ID || !ValidID(r.ID) {
		t.Fatalf("rotated ID %q", r.ID)
	}
	if _, err := m.Get(ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old ID still works: %v", err)
	}
	got, err := m.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserName != "kim" || string(got.Storage) != `{"a":1}` || !got.Licensed {
		t.Fatalf("content not carried over: %+v", got)
	}
	if st := stats(t, m); st.Licensed != 1 || st.Sessions != 1 {
		t.Fatalf("stats after rotate: %+v", st)
	}
	m.Delete(ctx, r.ID)
	if st := stats(t, m); st.Licensed != 0 {
		t.Fatalf("licence leaked after rotate+delete: %+v", st)
	}
}

func TestGuestBoundEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	m, _ := newTestManager(t, 0, 3)
	var ids []string
	for range 3 {
		s, err := m.Create(ctx, "g", true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	m.Touch(ctx, ids[0]) // ids[1] is now the least recently used
	// A session that stops being a guest is no longer bounded.
	m.Update(ctx, ids[2], func(s *Session) error { s.Guest = false; s.UserName = "u"; return nil })
	for range 3 {
		if _, err := m.Create(ctx, "g", true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Get(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("least recently used guest not evicted: %v", err)
	}
	if _, err := m.Get(ctx, ids[2]); err != nil {
		t.Fatalf("authenticated session evicted: %v", err)
	}
	st := stats(t, m)
	if st.Guests != 3 || st.Sessions != 4 || st.Licensed != 4 {
		t.Fatalf("stats: got %+v, want 3 guests, 4 sessions, 4 licences", st)
	}
}

func TestOTPWorksOnce(t *testing.T) {
	ctx := context.Background()
	m, c := newTestManager(t, 0, 0)
	s, _ := m.Create(ctx, "a", false)
	tok, err := m.CreateOTP(ctx, s.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.RedeemOTP(ctx, tok)
	if err != nil || got.ID != s.ID {
		t.Fatalf("redeem: %v %v", got, err)
	}
	if _, err := m.RedeemOTP(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second use: %v", err)
	}
	tok2, _ := m.CreateOTP(ctx, s.ID, time.Minute)
	c.Add(time.Minute)
	if _, err := m.RedeemOTP(ctx, tok2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
}

// TestLicencesUnderConcurrency hammers create/touch/take/rotate/delete/sweep and checks
// that licences held never exceed the cap and all come back.
func TestLicencesUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	const cap = 5
	m, c := newTestManager(t, cap, 50)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var over sync.Once
	overErr := make(chan error, 1)
	wg.Add(1)
	go func() { // watcher: licences never above the cap
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st := stats(t, m); st.Licensed > cap {
				over.Do(func() { overErr <- fmt.Errorf("licences %d > cap %d", st.Licensed, cap) })
			}
		}
	}()
	var workers sync.WaitGroup
	for w := range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []string
			for range 2000 {
				switch r.IntN(7) {
				case 0, 1:
					if s, err := m.Create(ctx, "x", r.IntN(2) == 0); err == nil {
						mine = append(mine, s.ID)
					}
				case 2:
					if len(mine) > 0 {
						m.TakeLicence(ctx, mine[r.IntN(len(mine))])
					}
				case 3:
					if len(mine) > 0 {
						i := r.IntN(len(mine))
						if s, err := m.Rotate(ctx, mine[i]); err == nil {
							mine[i] = s.ID
						}
					}
				case 4:
					if len(mine) > 0 {
						i := r.IntN(len(mine))
						m.Delete(ctx, mine[i])
						mine = append(mine[:i], mine[i+1:]...)
					}
				case 5:
					if len(mine) > 0 {
						m.Touch(ctx, mine[r.IntN(len(mine))])
					}
				case 6:
					c.Add(time.Duration(r.IntN(10)) * time.Minute)
					m.Sweep(ctx)
				}
			}
		}()
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	select {
	case err := <-overErr:
		t.Fatal(err)
	default:
	}
	// Licences held must equal licensed live sessions.
	licensed := 0
	m.Range(ctx, func(s *Session) bool {
		if s.Licensed {
			licensed++
		}
		return true
	})
	if st := stats(t, m); st.Licensed != licensed {
		t.Fatalf("licence count %d != licensed sessions %d", st.Licensed, licensed)
	}
	c.Add(48 * time.Hour)
	m.Sweep(ctx)
	if st := stats(t, m); st != (Stats{}) {
		t.Fatalf("after everything expired: %+v", st)
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(0)
	m := NewManager(Config{Store: store, Licences: 3})
	for range 3 {
		m.Create(ctx, "x", true)
	}
	if err := m.Open(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := store.Stats(ctx); st != (Stats{}) {
		t.Fatalf("after Close: %+v", st)
	}
}

func TestNewIDForm(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidID(id) || id[12] != '4' {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "abc", "ea0400c4d58ff04f94c0a4000000000a", "EA0400C4-58FF-04F9-4C0A-40000000"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

// TestInternedListsStayPerSession: sessions with the same privileges and roles share one
// copy of the lists, yet what the caller does to its slices, or an update of one session,
// never shows in another.
func TestInternedListsStayPerSession(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := NewMemoryStore(0)
	privs, roles := []string{"vip", "reader"}, []string{"Sales"}
	for i := range 2 {
		s := &Session{ID: benchID(i), Privileges: privs, Roles: roles, IdleTimeout: time.Hour,
			Created: now, LastAccess: now, Expires: now.Add(time.Hour)}
		if err := st.Create(ctx, s, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	privs[0] = "changed by the caller"
	a, _ := st.Get(ctx, benchID(0), now)
	b, _ := st.Get(ctx, benchID(1), now)
	if &a.Privileges[0] != &b.Privileges[0] || &a.Roles[0] != &b.Roles[0] {
		t.Error("equal lists are not shared")
	}
	if _, err := st.Update(ctx, benchID(0), now, func(s *Session) error {
		s.Privileges[1] = "writer" // a clone: the update's own
		s.Roles = append(s.Roles, "Admin")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a, _ = st.Get(ctx, benchID(0), now)
	b, _ = st.Get(ctx, benchID(1), now)
	if got, want := a.Privileges, []string{"vip", "writer"}; !slices.Equal(got, want) {
		t.Errorf("updated session: privileges %v, want %v", got, want)
	}
	if got, want := a.Roles, []string{"Sales", "Admin"}; !slices.Equal(got, want) {
		t.Errorf("updated session: roles %v, want %v", got, want)
	}
	if got, want := b.Privileges, []string{"vip", "reader"}; !slices.Equal(got, want) {
		t.Errorf("other session: privileges %v, want %v", got, want)
	}
	if got, want := b.Roles, []string{"Sales"}; !slices.Equal(got, want) {
		t.Errorf("other session: roles %v, want %v", got, want)
	}
	if !a.Created.Equal(now) || !a.Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("times: created %v expires %v, want %v and %v", a.Created, a.Expires, now, now.Add(time.Hour))
	}
}
