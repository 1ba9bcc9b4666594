package admin

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"gatehouse/sessions"
)

// Counters is a session store seen through a watch on its login counters: the keys
// (login-ip:<address>, login-user:<name>) that the login throttle counts in the store, as
// this instance last saw them. sessions.Store has no way to list counters (a shared store
// would need a scan), so the watch keeps the counts Hit returned; the console lists them
// and clears one through the store itself (ResetHits), so a clear holds for every instance.
// With a shared store, counts made by other instances show here once this one counts the
// same key.
type Counters struct {
	sessions.Store
	limits Limits

	mu   sync.Mutex
	keys map[string]seen
}

// Limits are the throttle's limits: a key whose failures reach its limit is refused.
type Limits struct{ PerUser, PerIP int }

type seen struct {
	n     int
	reset time.Time
}

// Counter is one login counter.
type Counter struct {
	Key       string    `json:"key"`
	Kind      string    `json:"kind"` // "address" or "user"
	Subject   string    `json:"subject"`
	Failures  int       `json:"failures"`
	Limit     int       `json:"limit"`
	Throttled bool      `json:"throttled"` // the next attempt is refused
	Until     time.Time `json:"until"`     // when the window ends
}

var _ sessions.Store = (*Counters)(nil)

// WatchCounters returns store with its login counters watched.
func WatchCounters(store sessions.Store, limits Limits) *Counters {
	return &Counters{Store: store, limits: limits, keys: map[string]seen{}}
}

var _ sessions.CounterBatch = (*Counters)(nil)

// Hit implements sessions.Store.
func (c *Counters) Hit(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	n, reset, err := c.Store.Hit(ctx, key, now, window)
	if err == nil {
		c.saw(key, n, reset)
	}
	return n, reset, err
}

// HitAll implements sessions.CounterBatch, in one step when the store can (the watch
// must not cost the store its batches).
func (c *Counters) HitAll(ctx context.Context, keys []string, now time.Time, window time.Duration) ([]sessions.Count, error) {
	counts, err := sessions.HitAll(ctx, c.Store, keys, now, window)
	for i, n := range counts {
		c.saw(keys[i], n.N, n.Reset)
	}
	return counts, err
}

// Unhit implements sessions.Store.
func (c *Counters) Unhit(ctx context.Context, key string, now time.Time) error {
	err := c.Store.Unhit(ctx, key, now)
	if err == nil {
		c.unhit(key)
	}
	return err
}

// ResetHits implements sessions.Store.
func (c *Counters) ResetHits(ctx context.Context, key string) error {
	err := c.Store.ResetHits(ctx, key)
	if err == nil {
		c.forget(key)
	}
	return err
}

// Settle implements sessions.CounterBatch, in one step when the store can.
func (c *Counters) Settle(ctx context.Context, unhit, reset []string, now time.Time) error {
	err := sessions.Settle(ctx, c.Store, unhit, reset, now)
	if err == nil {
		for _, k := range unhit {
			c.unhit(k)
		}
		for _, k := range reset {
			c.forget(k)
		}
	}
	return err
}

// SettleCreate implements sessions.SettleCreator, in one step when the store can. The
// settle stands whenever the create got an answer, even a refusal.
func (c *Counters) SettleCreate(ctx context.Context, unhit, reset []string, now time.Time, s *sessions.Session, licence bool, max int) error {
	err := sessions.SettleCreate(ctx, c.Store, unhit, reset, now, s, licence, max)
	if err == nil || errors.Is(err, sessions.ErrExists) || errors.Is(err, sessions.ErrLicenceExhausted) {
		for _, k := range unhit {
			c.unhit(k)
		}
		for _, k := range reset {
			c.forget(k)
		}
	}
	return err
}

var _ sessions.SettleCreator = (*Counters)(nil)

// Unwrap returns the store watched: a login settles its attempt and creates its session in
// one call only on the store the session manager uses (sessions.Manager.InsertAttempt).
func (c *Counters) Unwrap() sessions.Store { return c.Store }

func (c *Counters) saw(key string, n int, reset time.Time) {
	c.mu.Lock()
	c.keys[key] = seen{n: n, reset: reset}
	c.mu.Unlock()
}

func (c *Counters) unhit(key string) {
	c.mu.Lock()
	if s, ok := c.keys[key]; ok {
		if s.n <= 1 {
			delete(c.keys, key)
		} else {
			s.n--
			c.keys[key] = s
		}
	}
	c.mu.Unlock()
}

func (c *Counters) forget(key string) {
	c.mu.Lock()
	delete(c.keys, key)
	c.mu.Unlock()
}

// List returns the counters whose window is still open at now, throttled ones first.
func (c *Counters) List(now time.Time) []Counter {
	c.mu.Lock()
	out := make([]Counter, 0, len(c.keys))
	for key, s := range c.keys {
		if !now.Before(s.reset) {
			delete(c.keys, key)
			continue
		}
		ct := Counter{Key: key, Failures: s.n, Until: s.reset}
		switch {
		case strings.HasPrefix(key, "login-ip:"):
			ct.Kind, ct.Subject, ct.Limit = "address", strings.TrimPrefix(key, "login-ip:"), c.limits.PerIP
		case strings.HasPrefix(key, "login-user:"):
			ct.Kind, ct.Subject, ct.Limit = "user", strings.TrimPrefix(key, "login-user:"), c.limits.PerUser
		default:
			ct.Kind, ct.Subject = "other", key
		}
		ct.Throttled = ct.Limit > 0 && ct.Failures >= ct.Limit
		out = append(out, ct)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Throttled != out[j].Throttled {
			return out[i].Throttled
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Known reports whether key is a counter the watch has seen (the console clears only those).
func (c *Counters) Known(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.keys[key]
	return ok
}
