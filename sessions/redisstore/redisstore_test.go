package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/redistest"
	"gatehouse/sessions"
	"gatehouse/sessions/redisstore"
	"gatehouse/sessions/sessionstest"
)

var namespaces atomic.Int64

// open opens a store in a namespace of its own on srv.
func open(t *testing.T, srv *redistest.Server, o redisstore.Options) *redisstore.Store {
	t.Helper()
	o.URL = srv.URL()
	if o.Namespace == "" {
		o.Namespace = fmt.Sprintf("test%d", namespaces.Add(1))
	}
	st, err := redisstore.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRedisStoreConformance runs the store conformance suite against a real redis-server,
// with and without the client-side cache.
func TestRedisStoreConformance(t *testing.T) {
	srv := redistest.Start(t)
	for _, noCache := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoCache=%v", noCache), func(t *testing.T) {
			sessionstest.Run(t, func(t *testing.T, o sessionstest.Options) sessions.Store {
				return open(t, srv, redisstore.Options{MaxGuests: o.MaxGuests, Now: o.Now, ExactTouch: true, NoCache: noCache})
			})
		})
	}
}

// TestTouchWritesOncePerSlack: with the server's clock, touches within the slack are
// served without a write; the deadline is never before last use + idle, nor more than the
// slack after.
func TestTouchWritesOncePerSlack(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, redisstore.Options{})
	ctx := context.Background()
	m := sessions.NewManager(sessions.Config{Store: st, IdleTimeout: time.Hour})
	s, err := m.Create(ctx, "10.0.0.1", false)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Expires
	for range 50 {
		got, err := m.Touch(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Expires.Equal(first) {
			t.Fatalf("a touch within the slack wrote a new deadline: %v, then %v", first, got.Expires)
		}
		if d := got.Expires.Sub(time.Now()); d < time.Hour-5*time.Second || d > time.Hour+time.Minute+5*time.Second {
			t.Fatalf("deadline %v from now, want within [idle, idle+slack]", d)
		}
	}
}

// TestLogoutSeenByOtherInstanceAtOnce: two stores (two instances) on one Redis; B caches the
// session, A deletes it, and B stops serving it as soon as Redis's invalidation arrives.
func TestLogoutSeenByOtherInstanceAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, srv, redisstore.Options{Namespace: "shared"})
	b := open(t, srv, redisstore.Options{Namespace: "shared"})
	ctx := context.Background()
	ma := sessions.NewManager(sessions.Config{Store: a})
	mb := sessions.NewManager(sessions.Config{Store: b})
	s, err := ma.Create(ctx, "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // now in B's cache
		if _, err := mb.Touch(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := ma.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, err := mb.Touch(ctx, s.ID)
		if errors.Is(err, sessions.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still serves the session a second after A closed it: %v", err)
		}
	}
	// A's own delete is seen by A at once (read-your-writes through its own cache).
	if _, err := ma.Get(ctx, s.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("A serves the session it closed: %v", err)
	}
}

// TestOpenRefusesEvictionPolicy: Redis must not evict keys.
func TestOpenRefusesEvictionPolicy(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
	_, err := redisstore.Open(context.Background(), redisstore.Options{URL: srv.URL()})
	if err == nil || !strings.Contains(err.Error(), "noeviction") {
		t.Fatalf("got %v, want a refusal naming noeviction", err)
	}
}

// TestOpenRefusesDifferentLicences: the cap is the cluster's.
func TestOpenRefusesDifferentLicences(t *testing.T) {
	srv := redistest.Start(t)
	open(t, srv, redisstore.Options{Namespace: "cap", Licences: 3})
	open(t, srv, redisstore.Options{Namespace: "cap", Licences: 3})
	_, err := redisstore.Open(context.Background(), redisstore.Options{URL: srv.URL(), Namespace: "cap", Licences: 4})
	if err == nil || !strings.Contains(err.Error(), "--licenses 4 differs from the cluster's 3") {
		t.Fatalf("got %v, want a refusal", err)
	}
}

// TestCloseKeepsSharedState: an instance closing leaves every session and licence.
func TestCloseKeepsSharedState(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, srv, redisstore.Options{Namespace: "close", Licences: 5})
	ctx := context.Background()
	ma := sessions.NewManager(sessions.Config{Store: a, Licences: 5})
	s, err := ma.Create(ctx, "10.0.0.1", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := ma.Close(); err != nil {
		t.Fatal(err)
	}
	b := open(t, srv, redisstore.Options{Namespace: "close", Licences: 5})
	if got, err := b.Get(ctx, s.ID, time.Now()); err != nil || !got.Licensed {
		t.Fatalf("after A closed: %+v, %v; want the licensed session", got, err)
	}
	if st, _ := b.Stats(ctx); st.Licensed != 1 {
		t.Fatalf("after A closed: %+v, want 1 licence held", st)
	}
}

// TestUnavailable: with Redis gone, every operation fails with ErrUnavailable (never "not
// found" or "no licence"), and the store works again when Redis is back.
func TestUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, redisstore.Options{Timeout: 2 * time.Second})
	ctx := context.Background()
	m := sessions.NewManager(sessions.Config{Store: st, Licences: 2})
	srv.Stop()
	if _, err := m.Create(ctx, "x", true); !errors.Is(err, sessions.ErrUnavailable) {
		t.Fatalf("create: got %v, want ErrUnavailable", err)
	}
	if _, err := m.Touch(ctx, strings.Repeat("A", 32)); !errors.Is(err, sessions.ErrUnavailable) {
		t.Fatalf("touch: got %v, want ErrUnavailable", err)
	}
	if _, err := m.Stats(ctx); !errors.Is(err, sessions.ErrUnavailable) {
		t.Fatalf("stats: got %v, want ErrUnavailable", err)
	}
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := m.Create(ctx, "x", true)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling for recovery
	}
}

// TestRestartedRedisGetsClusterStateBack: a Redis that lost everything (restarted without
// persistence) gets the cluster's licence cap and cookie keys back from the running
// instances at their next sweep, so that an instance started afterwards joins the same
// cluster: same cookie keys, and its --licenses checked against the cap.
func TestRestartedRedisGetsClusterStateBack(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := open(t, srv, redisstore.Options{Namespace: "lost", Licences: 3})
	keys, err := sessions.LoadOrCreateStoreKeys(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sweep(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := redisstore.Open(ctx, redisstore.Options{URL: srv.URL(), Namespace: "lost", Licences: 4}); err == nil {
		t.Fatal("an instance with another cap joined after Redis lost its state")
	}
	b := open(t, srv, redisstore.Options{Namespace: "lost", Licences: 3})
	got, err := sessions.LoadOrCreateStoreKeys(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Hash) != string(keys[0].Hash) {
		t.Fatal("an instance started after Redis lost its state got other cookie keys")
	}
}
