package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"gatehouse/internal/redistest"
	"gatehouse/sessions"
	"gatehouse/sessions/redisstore"
)

// scriptRuns returns how many scripts the Redis behind c has run since its statistics were
// last reset.
func scriptRuns(t *testing.T, c rueidis.Client) int {
	t.Helper()
	info, err := c.Do(context.Background(), c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(info) {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		k, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		n += k
	}
	return n
}

// TestLoginRunsTwoScripts: a successful login (throttle counters in the store, a new
// licensed session) costs two script runs, so two round trips: the attempt counted before
// the credentials are checked, then the settle and the create in one.
func TestLoginRunsTwoScripts(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, redisstore.Options{})
	m := sessions.NewManager(sessions.Config{Store: st, Licences: 10})
	th := sessions.NewThrottle(st, sessions.ThrottleConfig{})
	admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	login := func(user string) {
		t.Helper()
		a, err := th.Begin(ctx, "10.0.0.1", user)
		if err != nil {
			t.Fatal(err)
		}
		d, err := m.Draft("10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		d.UserName, d.Guest, d.Authenticated = user, false, true
		if err := m.InsertAttempt(ctx, d, a); err != nil {
			t.Fatal(err)
		}
	}
	login("warm") // loads the scripts (EVALSHA, then EVAL on NOSCRIPT)
	if err := admin.Do(ctx, admin.B().ConfigResetstat().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	login("kim")
	if n := scriptRuns(t, admin); n != 2 {
		t.Fatalf("a login ran %d scripts, want 2", n)
	}
}

// TestCounterKeysExpire: a counter's key carries an expiry from its first hit, a second past
// its window, and later hits in the window (one HINCRBY each) keep it: no counter outlives
// its window in Redis, swept or not.
func TestCounterKeysExpire(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, redisstore.Options{Namespace: "expiry"})
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	const window = time.Minute
	pttl := func(key string) time.Duration {
		t.Helper()
		ms, err := c.Do(ctx, c.B().Pttl().Key("{expiry}:c:"+key).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ms) * time.Millisecond
	}
	for i := 1; i <= 3; i++ {
		if _, err := sessions.HitAll(ctx, st, []string{"a", "b"}, time.Now(), window); err != nil {
			t.Fatal(err)
		}
		if n, _, err := st.Hit(ctx, "c", time.Now(), window); err != nil || n != i {
			t.Fatalf("hit %d: got %d, %v", i, n, err)
		}
		for _, k := range []string{"a", "b", "c"} {
			if d := pttl(k); d <= 0 || d > window+time.Second {
				t.Fatalf("after hit %d, key %s expires in %v, want within (0, %v]", i, k, d, window+time.Second)
			}
		}
	}
	if err := st.Unhit(ctx, "c", time.Now()); err != nil {
		t.Fatal(err)
	}
	if d := pttl("c"); d <= 0 {
		t.Fatalf("after a take-back, key c expires in %v, want an expiry kept", d)
	}
}
