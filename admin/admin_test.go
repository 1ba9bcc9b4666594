package admin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/sessions"
)

func TestHistoryKeepsTheLastSpan(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h := NewHistory(HistoryConfig{Read: func(context.Context) (int, error) { return 0, nil }, Span: time.Hour})
	for i := range 130 {
		h.Add(Sample{At: t0.Add(time.Duration(i) * 30 * time.Second), Used: i})
	}
	got := h.Samples()
	if len(got) != 121 || got[0].Used != 9 || got[len(got)-1].Used != 129 {
		t.Fatalf("got %d samples, %+v .. %+v; want 121, from 9 to 129", len(got), got[0], got[len(got)-1])
	}
}

func TestHistoryOpenSamplesAtOnceAndCloseWaits(t *testing.T) {
	h := NewHistory(HistoryConfig{Read: func(context.Context) (int, error) { return 3, nil }, Every: time.Hour})
	h.Open()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if got := h.Samples(); len(got) != 1 || got[0].Used != 3 {
		t.Fatalf("got %+v, want one sample of 3", got)
	}
	h.Close() // a second Close is harmless
}

func TestCountersFollowTheStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := WatchCounters(sessions.NewMemoryStore(10), Limits{PerUser: 2, PerIP: 5})
	for range 2 {
		c.Hit(ctx, "login-user:ann", now, time.Minute)
	}
	c.Hit(ctx, "login-ip:10.0.0.1", now, time.Minute)
	c.Hit(ctx, "login-ip:10.0.0.2", now, time.Minute)
	c.Unhit(ctx, "login-ip:10.0.0.2", now)
	list := c.List(now)
	if len(list) != 2 || list[0].Key != "login-user:ann" || !list[0].Throttled || list[0].Subject != "ann" || list[0].Kind != "user" {
		t.Fatalf("list: %+v", list)
	}
	if list[1].Key != "login-ip:10.0.0.1" || list[1].Throttled || list[1].Failures != 1 || list[1].Limit != 5 {
		t.Fatalf("address counter: %+v", list[1])
	}
	if err := c.ResetHits(ctx, "login-user:ann"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.Store.Hit(ctx, "login-user:ann", now, time.Minute); n != 1 {
		t.Fatalf("the store still counts %d after a clear, want a fresh count of 1", n)
	}
	if got := c.List(now.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("counters past their window are listed: %+v", got)
	}
}

// TestCountersFollowSettleCreate: a login's settle made together with its session's create
// (sessions.Manager.InsertAttempt) updates the watch, even when the create is refused.
func TestCountersFollowSettleCreate(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	store := sessions.NewMemoryStore(10)
	c := WatchCounters(store, Limits{PerUser: 2, PerIP: 5})
	m := sessions.NewManager(sessions.Config{Store: store, Now: func() time.Time { return now }, Licences: 1})
	th := sessions.NewThrottle(c, sessions.ThrottleConfig{MaxPerUser: 2, MaxPerIP: 5, Now: func() time.Time { return now }})
	login := func(user string) error {
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
		return m.InsertAttempt(ctx, d, a)
	}
	th.Begin(ctx, "10.0.0.1", "ann") // ann fails once
	if err := login("ann"); err != nil {
		t.Fatal(err)
	}
	if list := c.List(now); len(list) != 1 || list[0].Key != "login-ip:10.0.0.1" || list[0].Failures != 1 {
		t.Fatalf("after ann's login: %+v, want the address's one failure only (ann's name forgotten)", list)
	}
	// ann holds the only licence: bob's good login is refused, and settled all the same.
	if err := login("bob"); !errors.Is(err, sessions.ErrLicenceExhausted) {
		t.Fatalf("bob's login: got %v, want ErrLicenceExhausted", err)
	}
	if list := c.List(now); len(list) != 1 || list[0].Failures != 1 {
		t.Fatalf("after bob's refused login: %+v, want the address's one failure only", list)
	}
}

func TestPageRendersTheLoginMode(t *testing.T) {
	for _, force := range []bool{false, true} {
		var b bytes.Buffer
		if err := Page.Execute(&b, PageData{Version: "v1", ForceLogin: force}); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: `content="default"`, true: `content="force"`}[force]
		if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), `name="viewport"`) {
			t.Fatalf("force %v: page lacks %s", force, want)
		}
	}
}
