package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

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
