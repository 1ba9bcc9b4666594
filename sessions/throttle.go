package sessions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/errkind"
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

// Throttle counts login attempts per client IP and per user name in the session store, so
// that several instances sharing a store share the counts. Past a limit, a key is refused
// until its window (which starts at its first counted attempt) ends.
//
// An attempt is counted before the credentials are checked, not after they failed: a check
// followed by a count later lets every attempt made in parallel pass the check before the
// first failure is counted (SPEC §8). Counting first makes the store's atomic Hit the one
// decision: of N attempts racing, the ones that get a count past the limit are refused,
// whatever the interleaving. A success then takes its count back (Attempt.Succeeded), so
// that what stays counted is the failures.
type Throttle struct {
	store Counters
	cfg   ThrottleConfig
}

// NewThrottle returns a Throttle keeping its counters in store.
func NewThrottle(store Counters, cfg ThrottleConfig) *Throttle {
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

// ThrottledError refuses an attempt past a limit; RetryAfter is how long until its window ends.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("sessions: too many login attempts, retry in %v", e.RetryAfter)
}

// ErrorKind classifies the refusal: attempts are a bounded resource, used up for now.
func (e *ThrottledError) ErrorKind() errkind.Kind { return errkind.Exhausted }

// Attempt is one login attempt, counted before the credentials are checked. It belongs to
// the request that began it (it is not safe for concurrent use).
type Attempt struct {
	t    *Throttle
	hits [2]hit // the keys counted, hits[:n]
	n    int
	done bool // Succeeded has run: a second call must not take back someone else's count
}

// hit is one counter an attempt added to.
type hit struct {
	key   string
	reset time.Time // the end of the window the hit was counted in
	user  bool      // the user-name key (forgotten on success) rather than the address's
}

// Begin counts an attempt from ip for user (empty ip or user: that key is not counted),
// before the caller checks the credentials: the store's Hit returns the new count, and
// when any count is past its limit Begin returns a *ThrottledError and the attempt must not
// go on. So with N parallel attempts at most the limit ever get past Begin.
//
// A refused attempt takes its counts back: it checked no credentials, so it is no failed
// login, and counting it would let one address's refused attempts lock out a user name
// (or the reverse) that never failed. Taking back cannot let more through: the counts of
// the attempts that went on stay, so a later attempt still sees them.
func (t *Throttle) Begin(ctx context.Context, ip, user string) (*Attempt, error) {
	now := t.cfg.Now()
	a := &Attempt{t: t}
	var (
		keys   [2]string
		limits [2]int
	)
	for _, l := range [...]struct {
		key  string
		max  int
		user bool
	}{
		{keyIP(ip), t.cfg.MaxPerIP, false},
		{keyUser(user), t.cfg.MaxPerUser, true},
	} {
		if l.key == "" {
			continue
		}
		a.hits[a.n] = hit{key: l.key, user: l.user}
		keys[a.n], limits[a.n] = l.key, l.max
		a.n++
	}
	if a.n == 0 {
		return a, nil
	}
	// One step for both keys: with a networked store, one round trip instead of two.
	counts, err := HitAll(ctx, t.store, keys[:a.n], now, t.cfg.Window)
	refused, wait := false, time.Duration(0)
	for i, c := range counts {
		a.hits[i].reset = c.Reset
		if c.N > limits[i] {
			refused = true
			wait = max(wait, c.Reset.Sub(now))
		}
	}
	if err != nil {
		a.n = len(counts) // the keys counted before the error
		a.takeBack(ctx)
		return nil, err
	}
	if refused {
		a.takeBack(ctx)
		if wait <= 0 {
			// Only when the store's clock is ahead of ours (a shared store keeps its own):
			// the window is about to end, but the client must still be told to wait.
			wait = time.Second
		}
		return nil, &ThrottledError{RetryAfter: wait}
	}
	return a, nil
}

// takeBack undoes the hits of an attempt that does not go on. It runs even when ctx is
// cancelled (a count left behind would only be conservative, but needlessly so), and its
// errors are dropped for the same reason.
func (a *Attempt) takeBack(ctx context.Context) {
	now := a.t.cfg.Now()
	Settle(context.WithoutCancel(ctx), a.t.store, a.open(now, func(hit) bool { return true }), nil, now)
}

// open returns the keys of the attempt's hits that pass keep and whose window is still open
// at now. The hit of a window that is over is not taken back: its counter is gone or
// belongs to a later window, whose hits are not this attempt's to take.
func (a *Attempt) open(now time.Time, keep func(hit) bool) []string {
	var keys []string
	for _, h := range a.hits[:a.n] {
		if keep(h) && now.Before(h.reset) {
			keys = append(keys, h.key)
		}
	}
	return keys
}

// Succeeded undoes what a successful attempt counted: the address's hit is taken back (one
// good login does not count as a failure) and the user name's failures are forgotten, in
// one step. A failed attempt needs no call: it is already counted.
//
// Only the first call acts. The address's earlier failures stay counted, so that one good
// account cannot launder an address's failures.
func (a *Attempt) Succeeded(ctx context.Context) error {
	unhit, reset, now, ok := a.succeed()
	if !ok {
		return nil
	}
	return Settle(ctx, a.t.store, unhit, reset, now)
}

// succeed marks the attempt succeeded and returns what its success settles: the keys to
// take one back from and the keys to drop, at now. ok is false when there is nothing to do
// (no attempt, or its success was settled already).
func (a *Attempt) succeed() (unhit, reset []string, now time.Time, ok bool) {
	if a == nil || a.done {
		return nil, nil, time.Time{}, false
	}
	a.done = true
	now = a.t.cfg.Now()
	for _, h := range a.hits[:a.n] {
		if h.user {
			reset = append(reset, h.key)
		}
	}
	return a.open(now, func(h hit) bool { return !h.user }), reset, now, true
}

func keyIP(ip string) string {
	if ip == "" {
		return ""
	}
	return "login-ip:" + ip
}

// keyUser is the counter of a user name, whatever its case (4D's names are case-insensitive).
func keyUser(user string) string {
	if user == "" {
		return ""
	}
	return "login-user:" + strings.ToLower(user)
}
