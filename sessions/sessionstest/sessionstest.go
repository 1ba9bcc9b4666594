// Package sessionstest is the conformance suite of session stores: every sessions.Store
// implementation runs Run against itself (the memory store in package sessions, the Redis
// store against a real redis-server in package redisstore).
//
// The suite drives time through a Clock it owns. A store that decides expiry with a clock
// of its own (Redis: the server's TIME) must take the suite's clock as its own for the
// test (the Redis store's Options.Now): expiry is then decided by the same clock the model
// uses, while every other part of the store runs as in production. The clock moves in
// whole microseconds, the finest step a server clock gives.
package sessionstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse/sessions"
)

// Options are what the suite asks of a store it creates.
type Options struct {
	// MaxGuests bounds the guest sessions the store holds (0 = no bound).
	MaxGuests int
	// Now is the clock the store must take for its own (see the package comment).
	Now func() time.Time
}

// NewStore returns a new, empty store for one test; the suite closes it at the test's end
// (register other cleanups with t.Cleanup). Stores made in one run must not share state.
type NewStore func(t *testing.T, o Options) sessions.Store

// Run runs the whole suite against the stores newStore makes.
func Run(t *testing.T, newStore NewStore) {
	t.Run("MatchesModel", func(t *testing.T) { testMatchesModel(t, newStore) })
	t.Run("InvariantsUnderConcurrency", func(t *testing.T) { testInvariantsUnderConcurrency(t, newStore) })
	t.Run("LicenceRace", func(t *testing.T) { testLicenceRace(t, newStore) })
	t.Run("Counters", func(t *testing.T) { testCounters(t, newStore) })
	t.Run("ConcurrentHitsGetDistinctCounts", func(t *testing.T) { testConcurrentHits(t, newStore) })
	t.Run("CounterBatches", func(t *testing.T) { testCounterBatches(t, newStore) })
	t.Run("SettleCreate", func(t *testing.T) { testSettleCreate(t, newStore) })
	t.Run("LoginSettlesOnce", func(t *testing.T) { testLoginSettlesOnce(t, newStore) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, newStore) })
	t.Run("UpdateRetriesOnConflict", func(t *testing.T) { testUpdateConflicts(t, newStore) })
	t.Run("EntitySets", func(t *testing.T) { testEntitySets(t, newStore) })
	t.Run("EntitySetsDoNotLeak", func(t *testing.T) { testEntitySetsDoNotLeak(t, newStore) })
	t.Run("Locks", func(t *testing.T) { testLocks(t, newStore) })
}

// Clock is the suite's settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed date.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now reads the clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock by d, in whole microseconds.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d.Truncate(time.Microsecond))
	c.mu.Unlock()
}

// newTestManager builds a Manager on a new store with the suite's limits: idle timeout one
// hour, clamped to [1 minute, 24 hours].
func newTestManager(t *testing.T, newStore NewStore, licences, maxGuests int) (*sessions.Manager, *Clock) {
	t.Helper()
	c := NewClock()
	m := sessions.NewManager(sessions.Config{
		Store: newStore(t, Options{MaxGuests: maxGuests, Now: c.Now}), Now: c.Now, Licences: licences,
		IdleTimeout: time.Hour, MinIdle: time.Minute, MaxIdle: 24 * time.Hour,
	})
	t.Cleanup(func() { m.Close() })
	return m, c
}

func stats(t *testing.T, m *sessions.Manager) sessions.Stats {
	t.Helper()
	st, err := m.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testLicenceRace: many goroutines create licensed sessions and log out at once; the cap
// holds at every moment and, when all are gone, no licence is left.
func testLicenceRace(t *testing.T, newStore NewStore) {
	const cap, workers, each = 5, 32, 20
	ctx := context.Background()
	m, _ := newTestManager(t, newStore, cap, 0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	var mu sync.Mutex
	held, most := 0, 0
	for range workers {
		wg.Go(func() {
			for range each {
				s, err := m.Create(ctx, "10.9.9.9", true)
				if errors.Is(err, sessions.ErrLicenceExhausted) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				held++
				most = max(most, held)
				mu.Unlock()
				if st, err := m.Stats(ctx); err != nil || st.Licensed > cap {
					errs <- fmt.Errorf("stats %+v, err %v: over the cap %d", st, err, cap)
					return
				}
				mu.Lock()
				held--
				mu.Unlock()
				if err := m.Delete(ctx, s.ID); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if most > cap {
		t.Fatalf("%d sessions held a licence at once, cap %d", most, cap)
	}
	if st := stats(t, m); st != (sessions.Stats{}) {
		t.Fatalf("after every logout: %+v, want nothing held", st)
	}
}

func testCounters(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c := NewClock()
	st := newStore(t, Options{Now: c.Now})
	t.Cleanup(func() { st.Close() })
	const window = 5 * time.Minute
	for i := 1; i <= 3; i++ {
		n, reset, err := st.Hit(ctx, "k", c.Now(), window)
		if err != nil {
			t.Fatal(err)
		}
		if n != i || !reset.Equal(NewClock().Now().Add(window)) {
			t.Fatalf("hit %d: got %d ending %v", i, n, reset)
		}
		c.Add(time.Second)
	}
	if err := st.Unhit(ctx, "k", c.Now()); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := st.Hit(ctx, "k", c.Now(), window); n != 3 {
		t.Fatalf("after an unhit and a hit: got %d, want 3", n)
	}
	if err := st.ResetHits(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := st.Hit(ctx, "k", c.Now(), window); n != 1 {
		t.Fatalf("after a reset: got %d, want 1", n)
	}
	c.Add(window)
	if err := st.Unhit(ctx, "k", c.Now()); err != nil {
		t.Fatal(err)
	}
	if n, reset, _ := st.Hit(ctx, "k", c.Now(), window); n != 1 || !reset.Equal(c.Now().Add(window)) {
		t.Fatalf("after the window: got %d ending %v, want a new window", n, reset)
	}
	for range 3 {
		st.Unhit(ctx, "other", c.Now()) // never below zero, and no counter made
	}
	if n, _, _ := st.Hit(ctx, "other", c.Now(), window); n != 1 {
		t.Fatalf("unhits of a missing counter count: got %d, want 1", n)
	}
}

func testConcurrentHits(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c := NewClock()
	st := newStore(t, Options{Now: c.Now})
	t.Cleanup(func() { st.Close() })
	const n = 64
	seen := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			k, _, err := st.Hit(ctx, "race", c.Now(), time.Minute)
			if err != nil {
				t.Error(err)
			}
			seen <- k
		})
	}
	wg.Wait()
	close(seen)
	wantEachCountOnce(t, seen, n)
}

// wantEachCountOnce checks that the counts racing hits got are 1 to n, each given once.
func wantEachCountOnce(t *testing.T, seen <-chan int, n int) {
	t.Helper()
	got := map[int]bool{}
	for k := range seen {
		if got[k] {
			t.Fatalf("count %d given twice", k)
		}
		got[k] = true
	}
	for k := 1; k <= n; k++ {
		if !got[k] {
			t.Fatalf("count %d never given", k)
		}
	}
}

// testCounterBatches checks sessions.HitAll and sessions.Settle: a store's CounterBatch
// when it has one, one call per key otherwise. Both must act as the single calls do.
func testCounterBatches(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c := NewClock()
	st := newStore(t, Options{Now: c.Now})
	t.Cleanup(func() { st.Close() })
	const window = 5 * time.Minute
	start := c.Now()
	for i := 1; i <= 3; i++ {
		counts, err := sessions.HitAll(ctx, st, []string{"ip", "user"}, c.Now(), window)
		if err != nil {
			t.Fatal(err)
		}
		want := sessions.Count{N: i, Reset: start.Add(window)}
		if len(counts) != 2 || counts[0] != want || counts[1] != want {
			t.Fatalf("batch %d: got %+v, want two of %+v", i, counts, want)
		}
		c.Add(time.Second)
	}
	// A batch and a single hit count the same counter.
	if n, _, _ := st.Hit(ctx, "ip", c.Now(), window); n != 4 {
		t.Fatalf("a single hit after three batches: got %d, want 4", n)
	}
	if err := sessions.Settle(ctx, st, []string{"ip", "missing"}, []string{"user"}, c.Now()); err != nil {
		t.Fatal(err)
	}
	counts, err := sessions.HitAll(ctx, st, []string{"ip", "user", "missing"}, c.Now(), window)
	if err != nil {
		t.Fatal(err)
	}
	if counts[0].N != 4 || counts[1].N != 1 || counts[2].N != 1 {
		t.Fatalf("after settling (ip taken back, user reset, missing never made): got %+v, want counts 4, 1, 1", counts)
	}
	if !counts[1].Reset.Equal(c.Now().Add(window)) {
		t.Fatalf("a reset counter's new window ends %v, want %v", counts[1].Reset, c.Now().Add(window))
	}
	// Past the window, a take-back leaves the next window alone.
	c.Add(window)
	if err := sessions.Settle(ctx, st, []string{"ip"}, nil, c.Now()); err != nil {
		t.Fatal(err)
	}
	if counts, _ := sessions.HitAll(ctx, st, []string{"ip"}, c.Now(), window); len(counts) != 1 || counts[0].N != 1 {
		t.Fatalf("after the window: got %+v, want a new count of 1", counts)
	}
	if err := sessions.Settle(ctx, st, nil, nil, c.Now()); err != nil {
		t.Fatalf("an empty settle: %v", err)
	}

	// Batches racing on one key get distinct counts, as single hits do.
	const n = 32
	seen := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			counts, err := sessions.HitAll(ctx, st, []string{"race", "race-other"}, c.Now(), window)
			if err != nil || len(counts) != 2 {
				t.Error(counts, err)
				return
			}
			seen <- counts[0].N
		})
	}
	wg.Wait()
	close(seen)
	wantEachCountOnce(t, seen, n)
}

func testTokens(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	m, c := newTestManager(t, newStore, 0, 0)
	s, err := m.Create(ctx, "10.0.0.1", false)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.CreateOTP(ctx, s.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Many racing redeemers: exactly one gets the session.
	var wg sync.WaitGroup
	won := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			if got, err := m.RedeemOTP(ctx, tok); err == nil {
				won <- got.ID
			} else if !errors.Is(err, sessions.ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(won)
	if n := len(won); n != 1 {
		t.Fatalf("a token worked %d times, want once", n)
	}
	if id := <-won; id != s.ID {
		t.Fatalf("token gave session %s, want %s", id, s.ID)
	}
	tok, err = m.CreateOTP(ctx, s.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	if _, err := m.RedeemOTP(ctx, tok); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("expired token: got %v, want ErrNotFound", err)
	}
	if _, err := m.RedeemOTP(ctx, "unknown"); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("unknown token: got %v, want ErrNotFound", err)
	}
}

// testUpdateConflicts: concurrent updates of one session each add a privilege; none is
// lost, however often a store runs fn again.
func testUpdateConflicts(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	m, _ := newTestManager(t, newStore, 0, 0)
	s, err := m.Create(ctx, "10.0.0.1", false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := m.Update(ctx, s.ID, func(s *sessions.Session) error {
				s.Privileges = append(s.Privileges, fmt.Sprint("p", i))
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := m.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Privileges) != n {
		t.Fatalf("got %d privileges after %d concurrent updates: %v", len(got.Privileges), n, got.Privileges)
	}
	if _, err := m.Update(ctx, s.ID, func(*sessions.Session) error { return errors.New("no") }); err == nil {
		t.Fatal("an update whose fn failed succeeded")
	}
	if after, _ := m.Get(ctx, s.ID); len(after.Privileges) != n {
		t.Fatal("a failed update changed the session")
	}
}
