package sessionstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"gatehouse/sessions"
)

func keysN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(n - i) // an order that is not the sorted one
	}
	return out
}

// testEntitySets: sets keep their keys in order and page them, belong to their session
// (another session cannot reach them), follow it through Rotate, expire after their
// timeout unless used, are bounded per session (least recently used dropped), and go
// with the session however it ends.
func testEntitySets(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	m, c := newTestManager(t, newStore, 0, 0)
	a, err := m.Create(ctx, "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(ctx, "10.0.0.2", true)
	if err != nil {
		t.Fatal(err)
	}
	keys := keysN(2500)
	set := &sessions.EntitySet{DataClass: "People", Filter: "age > :1", Params: []byte(`[3]`), OrderBy: "name", Timeout: 10 * time.Minute}
	if err := m.PutEntitySet(ctx, a.ID, set, keys); err != nil {
		t.Fatal(err)
	}
	if !sessions.ValidID(set.ID) || set.Count != len(keys) {
		t.Fatalf("stored set %+v: want a 32-hex ID and count %d", set, len(keys))
	}
	t.Run("PagesInOrder", func(t *testing.T) {
		got, page, err := m.EntitySet(ctx, a.ID, set.ID, 1000, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(page, keys[1000:1100]) {
			t.Fatalf("page = %v…, want %v…", page[:3], keys[1000:1003])
		}
		if got.DataClass != "People" || got.Filter != "age > :1" || string(got.Params) != "[3]" || got.OrderBy != "name" ||
			got.Count != len(keys) || got.Timeout != 10*time.Minute {
			t.Fatalf("set = %+v", got)
		}
		if _, page, _ = m.EntitySet(ctx, a.ID, set.ID, 2450, 100); !slices.Equal(page, keys[2450:]) {
			t.Fatalf("last page has %d keys, want 50", len(page))
		}
		if _, page, _ = m.EntitySet(ctx, a.ID, set.ID, 0, -1); !slices.Equal(page, keys) {
			t.Fatalf("whole set has %d keys, want %d", len(page), len(keys))
		}
		if _, page, _ = m.EntitySet(ctx, a.ID, set.ID, 0, 0); len(page) != 0 {
			t.Fatalf("n = 0: %d keys", len(page))
		}
		if _, page, _ = m.EntitySet(ctx, a.ID, set.ID, 5000, 10); len(page) != 0 {
			t.Fatalf("past the end: %d keys", len(page))
		}
	})
	t.Run("OtherSessionGetsNotFound", func(t *testing.T) {
		if _, _, err := m.EntitySet(ctx, b.ID, set.ID, 0, 1); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
		if err := m.ReleaseEntitySet(ctx, b.ID, set.ID); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("release from another session: got %v, want ErrNotFound", err)
		}
		if l, err := m.EntitySets(ctx, b.ID); err != nil || len(l) != 0 {
			t.Fatalf("other session lists %v, %v", l, err)
		}
	})
	t.Run("UseResetsTimeout", func(t *testing.T) {
		c.Add(9 * time.Minute)
		if _, _, err := m.EntitySet(ctx, a.ID, set.ID, 0, 1); err != nil {
			t.Fatal(err)
		}
		c.Add(9 * time.Minute)
		l, err := m.EntitySets(ctx, a.ID)
		if err != nil || len(l) != 1 || l[0].ID != set.ID {
			t.Fatalf("list = %v, %v; want the set", l, err)
		}
		c.Add(time.Minute)
		if _, _, err := m.EntitySet(ctx, a.ID, set.ID, 0, 1); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("expired set: got %v, want ErrNotFound", err)
		}
		if l, _ := m.EntitySets(ctx, a.ID); len(l) != 0 {
			t.Fatalf("expired set still listed: %v", l)
		}
	})
	t.Run("Release", func(t *testing.T) {
		s := &sessions.EntitySet{DataClass: "People", Timeout: time.Hour}
		if err := m.PutEntitySet(ctx, a.ID, s, []string{"1"}); err != nil {
			t.Fatal(err)
		}
		if err := m.ReleaseEntitySet(ctx, a.ID, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.EntitySet(ctx, a.ID, s.ID, 0, 1); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("released set: got %v, want ErrNotFound", err)
		}
		if err := m.ReleaseEntitySet(ctx, a.ID, s.ID); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("second release: got %v, want ErrNotFound", err)
		}
	})
	t.Run("BoundDropsLeastRecentlyUsed", func(t *testing.T) {
		const bound = 100 // the Manager's default
		var ids []string
		for i := range bound + 5 {
			s := &sessions.EntitySet{DataClass: "People", Timeout: time.Hour}
			if err := m.PutEntitySet(ctx, a.ID, s, []string{fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s.ID)
			c.Add(time.Microsecond)
			if i == 0 {
				continue
			}
			// keep the first one in use: it must survive
			if _, _, err := m.EntitySet(ctx, a.ID, ids[0], 0, 1); err != nil {
				t.Fatalf("set 0 after %d more: %v", i, err)
			}
		}
		l, err := m.EntitySets(ctx, a.ID)
		if err != nil || len(l) != bound {
			t.Fatalf("session holds %d sets (%v), want %d", len(l), err, bound)
		}
		for _, gone := range ids[1:6] {
			if _, _, err := m.EntitySet(ctx, a.ID, gone, 0, 1); !errors.Is(err, sessions.ErrNotFound) {
				t.Fatalf("least recently used set %s: got %v, want ErrNotFound", gone, err)
			}
		}
	})
	t.Run("FollowRotate", func(t *testing.T) {
		s := &sessions.EntitySet{DataClass: "People", Timeout: time.Hour}
		if err := m.PutEntitySet(ctx, b.ID, s, []string{"7", "8"}); err != nil {
			t.Fatal(err)
		}
		nb, err := m.Rotate(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, page, err := m.EntitySet(ctx, nb.ID, s.ID, 0, -1); err != nil || !slices.Equal(page, []string{"7", "8"}) {
			t.Fatalf("after rotate: %v, %v", page, err)
		}
		if _, _, err := m.EntitySet(ctx, b.ID, s.ID, 0, -1); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("old ID still reaches the set: %v", err)
		}
		b = nb
	})
	t.Run("GoWithTheSession", func(t *testing.T) {
		s := &sessions.EntitySet{DataClass: "People", Timeout: 48 * time.Hour}
		if err := m.PutEntitySet(ctx, b.ID, s, keys); err != nil {
			t.Fatal(err)
		}
		if err := m.Delete(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.EntitySet(ctx, b.ID, s.ID, 0, 1); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("set of a closed session: %v", err)
		}
		if err := m.PutEntitySet(ctx, b.ID, s, keys); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("put on a closed session: got %v, want ErrNotFound", err)
		}
		// expiry: session a times out (idle one hour), swept
		c.Add(2 * time.Hour)
		if _, err := m.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.EntitySets(ctx, a.ID); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("sets of an expired session: got %v, want ErrNotFound", err)
		}
	})
}

// testEntitySetsDoNotLeak: thousands of sessions each leave sets behind and end (logout
// or expiry); afterwards no session can reach any set and, when the store can tell, it
// holds none.
func testEntitySetsDoNotLeak(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c := NewClock()
	store := newStore(t, Options{Now: c.Now})
	m := sessions.NewManager(sessions.Config{Store: store, Now: c.Now, IdleTimeout: time.Hour, MinIdle: time.Minute, MaxEntitySets: 3})
	t.Cleanup(func() { m.Close() })
	const n = 2000
	var ids []string
	for i := range n {
		s, err := m.Create(ctx, "10.0.0.1", false)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if err := m.PutEntitySet(ctx, s.ID, &sessions.EntitySet{DataClass: "X", Timeout: time.Hour}, keysN(3)); err != nil {
				t.Fatal(err)
			}
		}
		if l, err := m.EntitySets(ctx, s.ID); err != nil || len(l) != 3 {
			t.Fatalf("session holds %d sets (%v), want the bound 3", len(l), err)
		}
		if i%2 == 0 {
			if err := m.Delete(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, s.ID)
	}
	c.Add(2 * time.Hour)
	for {
		k, err := m.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	for _, id := range ids {
		if _, err := m.EntitySets(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("session %s still has sets: %v", id[:6], err)
		}
	}
	if cs, ok := store.(interface{ EntitySetCount() int }); ok {
		if got := cs.EntitySetCount(); got != 0 {
			t.Fatalf("store still holds %d entity sets", got)
		}
	}
}
