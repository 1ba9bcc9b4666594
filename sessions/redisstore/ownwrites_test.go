package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"gatehouse/internal/redistest"
	"gatehouse/sessions"
	"gatehouse/sessions/redisstore"
)

// TestReadsOwnWrites: many goroutines of one instance create, read (caching), rotate and
// close sessions; a rotated or closed ID never answers again from the instance that
// changed it, cache or not.
func TestReadsOwnWrites(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, redisstore.Options{})
	m := sessions.NewManager(sessions.Config{Store: st})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				s, err := m.Create(ctx, "x", false)
				if err != nil {
					t.Error(err)
					return
				}
				m.Get(ctx, s.ID)
				n, err := m.Rotate(ctx, s.ID)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := m.Get(ctx, s.ID); !errors.Is(err, sessions.ErrNotFound) {
					t.Errorf("old answers after rotate: %v", err)
				}
				m.Get(ctx, n.ID)
				m.Delete(ctx, n.ID)
				if _, err := m.Get(ctx, n.ID); !errors.Is(err, sessions.ErrNotFound) {
					t.Errorf("answers after delete: %v", err)
				}
			}
		})
	}
	wg.Wait()
}
