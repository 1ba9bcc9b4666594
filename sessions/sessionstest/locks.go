package sessionstest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/sessions"
)

// testLocks: an entity lock belongs to one session at a time (also when sessions race for
// it), is idempotent for its holder, is released by its holder only, follows Rotate, and
// goes with the session (logout, expiry).
func testLocks(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c := NewClock()
	store := newStore(t, Options{Now: c.Now})
	m := sessions.NewManager(sessions.Config{Store: store, Now: c.Now, IdleTimeout: time.Hour, MinIdle: time.Minute})
	t.Cleanup(func() { m.Close() })
	newSession := func() string {
		s, err := m.Create(ctx, "10.0.0.1", false)
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	a, b := newSession(), newSession()
	const r = "Employees(1)"
	if err := m.LockEntity(ctx, a, r); err != nil {
		t.Fatal(err)
	}
	if err := m.LockEntity(ctx, a, r); err != nil {
		t.Fatalf("holder locks again: %v", err)
	}
	if err := m.LockEntity(ctx, b, r); !errors.Is(err, sessions.ErrLocked) {
		t.Fatalf("other session: got %v, want ErrLocked", err)
	}
	if by, err := m.LockedByOther(ctx, b, r); err != nil || !by {
		t.Fatalf("LockedByOther(b) = %v, %v; want true", by, err)
	}
	if by, err := m.LockedByOther(ctx, a, r); err != nil || by {
		t.Fatalf("LockedByOther(holder) = %v, %v; want false", by, err)
	}
	if err := m.UnlockEntity(ctx, b, r); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("unlock by another session: got %v, want ErrNotFound", err)
	}
	if err := m.UnlockEntity(ctx, a, r); err != nil {
		t.Fatal(err)
	}
	if err := m.LockEntity(ctx, b, r); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	// Rotate carries the lock.
	nb, err := m.Rotate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if by, _ := m.LockedByOther(ctx, nb.ID, r); by {
		t.Fatal("after rotate the lock is not the session's")
	}
	if err := m.LockEntity(ctx, a, r); !errors.Is(err, sessions.ErrLocked) {
		t.Fatalf("after rotate: got %v, want ErrLocked", err)
	}
	// Logout releases.
	if err := m.Delete(ctx, nb.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.LockEntity(ctx, a, r); err != nil {
		t.Fatalf("after the holder's logout: %v", err)
	}
	if err := m.LockEntity(ctx, nb.ID, "Employees(2)"); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("lock for a closed session: got %v, want ErrNotFound", err)
	}
	// Racing sessions: exactly one wins.
	var ids []string
	for range 8 {
		ids = append(ids, newSession())
	}
	var wg sync.WaitGroup
	won := make(chan string, len(ids))
	for _, id := range ids {
		wg.Go(func() {
			if err := m.LockEntity(ctx, id, "Race(1)"); err == nil {
				won <- id
			} else if !errors.Is(err, sessions.ErrLocked) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(won)
	if len(won) != 1 {
		t.Fatalf("%d sessions hold one lock", len(won))
	}
	// Expiry releases: every session times out, the sweep removes them and their locks.
	c.Add(2 * time.Hour)
	for {
		n, err := m.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if lc, ok := store.(interface{ LockCount() int }); ok {
		if n := lc.LockCount(); n != 0 {
			t.Fatalf("%d locks left after every session expired", n)
		}
	}
	d := newSession()
	if err := m.LockEntity(ctx, d, r); err != nil {
		t.Fatalf("after the holder expired: %v", err)
	}
}
