package sessions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/errkind"
)

func newTestThrottle(t *testing.T, cfg ThrottleConfig) (*Throttle, *MemoryStore, *clock) {
	t.Helper()
	c := newClock()
	store := NewMemoryStore(0)
	cfg.Now = c.Now
	if cfg.Window == 0 {
		cfg.Window = 5 * time.Minute
	}
	return NewThrottle(store, cfg), store, c
}

// begin calls Begin and fails the test on anything but success.
func begin(t *testing.T, th *Throttle, ip, user string) *Attempt {
	t.Helper()
	a, err := th.Begin(context.Background(), ip, user)
	if err != nil {
		t.Fatalf("Begin(%q, %q): %v, want the attempt to go on", ip, user, err)
	}
	return a
}

// refused calls Begin, checks that it is refused, and returns how long it says to wait.
func refused(t *testing.T, th *Throttle, ip, user string) time.Duration {
	t.Helper()
	a, err := th.Begin(context.Background(), ip, user)
	var te *ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("Begin(%q, %q): got %v, %v; want a *ThrottledError", ip, user, a, err)
	}
	if a != nil {
		t.Fatalf("Begin(%q, %q): refused, but returned an attempt", ip, user)
	}
	return te.RetryAfter
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()

	t.Run("UserRefusedPastItsLimitFromAnyAddress", func(t *testing.T) {
		th, _, c := newTestThrottle(t, ThrottleConfig{MaxPerUser: 3, MaxPerIP: 50})
		for range 3 {
			begin(t, th, "1.1.1.1", "Kim") // each fails: no call, it stays counted
		}
		if got, want := refused(t, th, "9.9.9.9", "kim"), 5*time.Minute; got != want {
			t.Fatalf("RetryAfter: got %v, want %v (the user name in any case, from any address)", got, want)
		}
		c.Add(4 * time.Minute)
		if got, want := refused(t, th, "", "KIM"), time.Minute; got != want {
			t.Fatalf("RetryAfter 4m into the window: got %v, want %v", got, want)
		}
		begin(t, th, "1.1.1.1", "ann") // another user from the same address goes on
	})

	t.Run("AddressRefusedPastItsLimitForAnyUser", func(t *testing.T) {
		th, _, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 10, MaxPerIP: 3})
		for _, u := range []string{"ann", "bob", "kim"} {
			begin(t, th, "1.1.1.1", u)
		}
		if got, want := refused(t, th, "1.1.1.1", "carl"), 5*time.Minute; got != want {
			t.Fatalf("RetryAfter: got %v, want %v", got, want)
		}
		begin(t, th, "2.2.2.2", "carl") // another address goes on
	})

	t.Run("RefusedAttemptIsNotCounted", func(t *testing.T) {
		// carl is refused three times because of his address; none of that counts
		// against his name, which checked no password.
		th, _, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 3, MaxPerIP: 1})
		begin(t, th, "1.1.1.1", "ann")
		for range 3 {
			refused(t, th, "1.1.1.1", "carl")
		}
		for i := range 3 {
			begin(t, th, fmt.Sprintf("2.2.2.%d", i), "carl")
		}
		refused(t, th, "3.3.3.3", "carl")
	})

	t.Run("ExactlyTheLimitGoesOn", func(t *testing.T) {
		th, _, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 10, MaxPerIP: 50})
		for range 10 {
			begin(t, th, "", "kim")
		}
		refused(t, th, "", "kim") // the 11th
	})

	t.Run("EmptyKeysAreNotCounted", func(t *testing.T) {
		th, store, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 1, MaxPerIP: 1})
		for range 3 {
			a := begin(t, th, "", "")
			if err := a.Succeeded(ctx); err != nil {
				t.Fatal(err)
			}
		}
		store.countersMu.Lock()
		n := len(store.counters)
		store.countersMu.Unlock()
		if n != 0 {
			t.Fatalf("counters: got %d, want 0", n)
		}
	})

	t.Run("WindowEndsThenCountsStartAgain", func(t *testing.T) {
		th, _, c := newTestThrottle(t, ThrottleConfig{MaxPerUser: 2, MaxPerIP: 50, Window: time.Minute})
		begin(t, th, "1.1.1.1", "kim")
		c.Add(30 * time.Second)
		begin(t, th, "1.1.1.1", "kim")
		// The window started at the first attempt, not the last.
		if got, want := refused(t, th, "1.1.1.1", "kim"), 30*time.Second; got != want {
			t.Fatalf("RetryAfter: got %v, want %v", got, want)
		}
		c.Add(30*time.Second - time.Nanosecond)
		if got := refused(t, th, "1.1.1.1", "kim"); got != time.Nanosecond {
			t.Fatalf("RetryAfter at the window's last instant: got %v, want 1ns", got)
		}
		c.Add(time.Nanosecond)
		begin(t, th, "1.1.1.1", "kim")
		begin(t, th, "1.1.1.1", "kim")
		if got, want := refused(t, th, "1.1.1.1", "kim"), time.Minute; got != want {
			t.Fatalf("RetryAfter in the new window: got %v, want %v", got, want)
		}
	})
}

func TestAttemptSucceeded(t *testing.T) {
	ctx := context.Background()

	t.Run("ForgetsTheUsersFailures", func(t *testing.T) {
		th, _, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 3, MaxPerIP: 50})
		begin(t, th, "1.1.1.1", "kim")
		begin(t, th, "1.1.1.1", "kim")
		good := begin(t, th, "1.1.1.1", "kim")
		refused(t, th, "1.1.1.1", "kim")
		if err := good.Succeeded(ctx); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			begin(t, th, "1.1.1.1", "KIM")
		}
		refused(t, th, "1.1.1.1", "kim")
	})

	t.Run("TakesBackTheAddressHitOnly", func(t *testing.T) {
		// A good login does not count against its address; the address's failures stay.
		th, _, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 10, MaxPerIP: 2})
		begin(t, th, "1.1.1.1", "ann") // fails
		for range 5 {
			if err := begin(t, th, "1.1.1.1", "bob").Succeeded(ctx); err != nil {
				t.Fatal(err)
			}
		}
		begin(t, th, "1.1.1.1", "carl") // fails: the second failure
		refused(t, th, "1.1.1.1", "dan")
	})

	t.Run("OnlyTheFirstCallActs", func(t *testing.T) {
		th, _, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 10, MaxPerIP: 2})
		good := begin(t, th, "1.1.1.1", "ann")
		begin(t, th, "1.1.1.1", "bob") // fails
		for range 3 {
			if err := good.Succeeded(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// bob's failure is still counted: one more attempt goes on, the next does not.
		begin(t, th, "1.1.1.1", "carl")
		refused(t, th, "1.1.1.1", "dan")
	})

	t.Run("AfterTheWindowTakesBackNothingOfTheNext", func(t *testing.T) {
		th, _, c := newTestThrottle(t, ThrottleConfig{MaxPerUser: 10, MaxPerIP: 1, Window: time.Minute})
		slow := begin(t, th, "1.1.1.1", "ann")
		c.Add(time.Minute)
		begin(t, th, "1.1.1.1", "bob") // fails, in a new window
		if err := slow.Succeeded(ctx); err != nil {
			t.Fatal(err)
		}
		refused(t, th, "1.1.1.1", "carl") // bob's failure was not taken back
	})

	t.Run("NilAttempt", func(t *testing.T) {
		var a *Attempt
		if err := a.Succeeded(ctx); err != nil {
			t.Fatalf("nil attempt: got %v, want nil", err)
		}
	})
}

// TestThrottleParallel is the race SPEC §8 closes: attempts made at once must not all pass
// before the first failure is counted. Exactly the limit go on, whatever the interleaving.
func TestThrottleParallel(t *testing.T) {
	tests := []struct {
		name     string
		ip, user string
		n, limit int
	}{
		{"User", "", "kim", 40, 10},
		{"Address", "10.0.0.1", "", 200, 50},
		{"UserFromItsOwnAddress", "10.0.0.1", "kim", 40, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			th, _, _ := newTestThrottle(t, ThrottleConfig{MaxPerUser: 10, MaxPerIP: 50})
			start := make(chan struct{})
			type result struct {
				a   *Attempt
				err error
			}
			results := make(chan result, tt.n)
			var wg sync.WaitGroup
			for range tt.n {
				wg.Go(func() {
					<-start
					a, err := th.Begin(ctx, tt.ip, tt.user)
					results <- result{a, err}
				})
			}
			close(start)
			wg.Wait()
			close(results)
			went := 0
			for r := range results {
				var te *ThrottledError
				switch {
				case r.err == nil && r.a != nil:
					went++
				case errors.As(r.err, &te) && r.a == nil:
					if te.RetryAfter <= 0 {
						t.Fatalf("RetryAfter %v, want > 0", te.RetryAfter)
					}
				default:
					t.Fatalf("Begin: got %v, %v; want an attempt or a *ThrottledError", r.a, r.err)
				}
			}
			if went != tt.limit {
				t.Fatalf("attempts that went on: got %d, want %d", went, tt.limit)
			}
			refused(t, th, tt.ip, tt.user) // and the limit is still reached
		})
	}
}

func TestThrottledError(t *testing.T) {
	var err error = &ThrottledError{RetryAfter: 90 * time.Second}
	if got, want := errkind.Of(fmt.Errorf("login: %w", err)), errkind.Exhausted; got != want {
		t.Fatalf("kind: got %v, want %v", got, want)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "sessions: ") || !strings.Contains(msg, "1m30s") {
		t.Fatalf("message %q: want the package prefix and the wait", msg)
	}
}

// failingHits is a store whose Hit fails for keys with a prefix: a store that stops
// answering halfway through an attempt, which the memory store cannot do by itself.
type failingHits struct {
	Store
	prefix string
}

var errStoreDown = errors.New("store down")

func (f failingHits) Hit(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if strings.HasPrefix(key, f.prefix) {
		return 0, time.Time{}, errStoreDown
	}
	return f.Store.Hit(ctx, key, now, window)
}

func TestBeginStoreErrorTakesBackItsHits(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := NewMemoryStore(0)
	broken := NewThrottle(failingHits{store, "login-user:"}, ThrottleConfig{MaxPerIP: 1, Now: c.Now})
	if a, err := broken.Begin(ctx, "1.1.1.1", "kim"); !errors.Is(err, errStoreDown) || a != nil {
		t.Fatalf("Begin with the store failing: got %v, %v; want the store's error", a, err)
	}
	// The address's hit, made before the failure, was taken back.
	th := NewThrottle(store, ThrottleConfig{MaxPerIP: 1, Now: c.Now})
	begin(t, th, "1.1.1.1", "")
}

func TestMemoryStoreUnhit(t *testing.T) {
	ctx := context.Background()
	now := newClock().Now()
	st := NewMemoryStore(0)
	hit := func(key string, at time.Time) int {
		t.Helper()
		n, _, err := st.Hit(ctx, key, at, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	unhit := func(key string, at time.Time) {
		t.Helper()
		if err := st.Unhit(ctx, key, at); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("TakesOneBack", func(t *testing.T) {
		hit("a", now)
		hit("a", now)
		unhit("a", now)
		if got := hit("a", now); got != 2 {
			t.Fatalf("count: got %d, want 2", got)
		}
	})
	t.Run("NeverBelowZero", func(t *testing.T) {
		hit("b", now)
		unhit("b", now)
		unhit("b", now)
		if got := hit("b", now); got != 1 {
			t.Fatalf("count: got %d, want 1", got)
		}
	})
	t.Run("MissingLeftAlone", func(t *testing.T) {
		unhit("c", now)
		st.countersMu.Lock()
		_, made := st.counters["c"]
		st.countersMu.Unlock()
		if made {
			t.Fatal("Unhit of a missing counter created it")
		}
	})
	t.Run("ExpiredLeftAlone", func(t *testing.T) {
		hit("d", now)
		hit("d", now)
		unhit("d", now.Add(time.Minute))
		if got := hit("d", now); got != 3 {
			t.Fatalf("count: got %d, want 3 (the expired window untouched)", got)
		}
		if got := hit("d", now.Add(time.Minute)); got != 1 {
			t.Fatalf("count in the next window: got %d, want 1", got)
		}
	})
}
