package sessions

import (
	"context"
	"strings"
	"time"
)

// ThrottleConfig sets the login throttle's limits. Zero values take the defaults.
type ThrottleConfig struct {
	// MaxPerUser failed logins for one user name within Window block that name (default 10).
	MaxPerUser int
	// MaxPerIP failed logins from one client address within Window block that address
	// (default 50: many users may share an address behind a NAT or a proxy, and one of them
	// mistyping must not lock out the others).
	MaxPerIP int
	Window   time.Duration    // default 5 minutes
	Now      func() time.Time // default time.Now
}

// Throttle counts failed logins per client IP and per user name in the session store, so
// that several instances sharing a store share the counts. Past a limit, a key is blocked
// until its window (which starts at its first failure) ends.
type Throttle struct {
	store Store
	cfg   ThrottleConfig
}

// NewThrottle returns a Throttle keeping its counters in store.
func NewThrottle(store Store, cfg ThrottleConfig) *Throttle {
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = 10
	}
	if cfg.MaxPerIP <= 0 {
		cfg.MaxPerIP = 50
	}
	if cfg.Window <= 0 {
		cfg.Window = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{store: store, cfg: cfg}
}

// limit is one key the throttle checks, with its maximum.
type limit struct {
	key string
	max int
}

func (t *Throttle) limits(ip, user string) []limit {
	ls := make([]limit, 0, 2)
	if ip != "" {
		ls = append(ls, limit{"login-ip:" + ip, t.cfg.MaxPerIP})
	}
	if user != "" {
		ls = append(ls, limit{"login-user:" + strings.ToLower(user), t.cfg.MaxPerUser})
	}
	return ls
}

// Blocked reports how long a login attempt from ip for user must wait; 0 means go ahead.
// An empty ip or user is not checked.
func (t *Throttle) Blocked(ctx context.Context, ip, user string) (time.Duration, error) {
	now := t.cfg.Now()
	var wait time.Duration
	for _, c := range t.limits(ip, user) {
		n, reset, err := t.store.Hits(ctx, c.key, now)
		if err != nil {
			return 0, err
		}
		if n >= c.max {
			wait = max(wait, reset.Sub(now))
		}
	}
	return wait, nil
}

// Fail counts one failed attempt against ip and user.
func (t *Throttle) Fail(ctx context.Context, ip, user string) error {
	now := t.cfg.Now()
	for _, c := range t.limits(ip, user) {
		if _, _, err := t.store.Hit(ctx, c.key, now, t.cfg.Window); err != nil {
			return err
		}
	}
	return nil
}

// Succeed forgets the failures counted against user after a good login. The address's
// count stays, so that one good account cannot launder an address's failures.
func (t *Throttle) Succeed(ctx context.Context, user string) error {
	if user == "" {
		return nil
	}
	return t.store.ResetHits(ctx, "login-user:"+strings.ToLower(user))
}
