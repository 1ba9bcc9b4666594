package sessions

import (
	"context"
	"time"
)

// Throttle counts failed logins per key (a client IP, a user name) in the session store,
// so that several instances sharing a store share the counts. Past Max failures within
// Window a key is blocked until its window ends.
type Throttle struct {
	store  Store
	now    func() time.Time
	max    int
	window time.Duration
}

// NewThrottle returns a Throttle blocking after max failures in window (defaults 10 in
// 5 minutes). now may be nil for time.Now.
func NewThrottle(store Store, now func() time.Time, max int, window time.Duration) *Throttle {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = 10
	}
	if window <= 0 {
		window = 5 * time.Minute
	}
	return &Throttle{store: store, now: now, max: max, window: window}
}

// Blocked reports how long the caller must wait when any key has reached the limit; 0
// means go ahead.
func (t *Throttle) Blocked(ctx context.Context, keys ...string) (time.Duration, error) {
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		if k == "" {
			continue
		}
		n, reset, err := t.store.Hits(ctx, "login:"+k, now)
		if err != nil {
			return 0, err
		}
		if n >= t.max {
			wait = max(wait, reset.Sub(now))
		}
	}
	return wait, nil
}

// Fail counts one failed attempt against each key.
func (t *Throttle) Fail(ctx context.Context, keys ...string) error {
	now := t.now()
	for _, k := range keys {
		if k == "" {
			continue
		}
		if _, _, err := t.store.Hit(ctx, "login:"+k, now, t.window); err != nil {
			return err
		}
	}
	return nil
}

// Succeed forgets the failures counted against keys (call it with the user name after a
// good login; keep the IP's count, so one account cannot launder an address's failures).
func (t *Throttle) Succeed(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := t.store.ResetHits(ctx, "login:"+k); err != nil {
			return err
		}
	}
	return nil
}
