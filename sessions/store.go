package sessions

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/errkind"
)

var (
	// ErrNotFound: no live session has that ID (unknown, expired, closed or evicted).
	ErrNotFound = errors.New("sessions: no such session")
	// ErrLicenceExhausted: every licence is held.
	ErrLicenceExhausted = errors.New("sessions: maximum number of sessions reached")
	// ErrExists: a session with that ID already exists.
	ErrExists = errors.New("sessions: session ID already in use")
	// ErrUnavailable: the store cannot be reached now (a networked store's server is down
	// or too slow). Requests that need a session fail closed with it; it is never taken
	// for "no session" or "no licence". Wrap it: fmt.Errorf("%w: %v", ErrUnavailable, err).
	ErrUnavailable = errkind.New(errkind.Unavailable, "sessions: the session store is unavailable")
)

// The store is cut into one small interface per concern (SPEC §4.4), each with its
// contract; Store is all of them, what a Manager needs. Package sessionstest holds the
// conformance suite every implementation passes (the memory store here, the Redis store in
// package redisstore).
//
// Contract common to every method:
//
//   - Atomic: each call is one indivisible step against the state every user of the store
//     shares (with a networked store, every instance of a cluster). No caller sees half of
//     it, and two calls never interleave inside one another.
//   - Copies: sessions are returned as copies; callers never share memory with the store.
//   - Time: now is the caller's clock. A store that keeps its own clock (Redis: the server's
//     TIME, so that no instance's clock can keep or steal a licence) decides expiry with
//     that clock and may ignore now; durations (idle timeouts, windows, lifespans) are then
//     measured from its own now. Expired means !now.Before(Expires).
//   - Errors: ErrNotFound, ErrExists and ErrLicenceExhausted are answers; any failure to
//     reach a networked store wraps ErrUnavailable, and the operation may or may not have
//     happened.
//
// Entity sets (SPEC §3.7) are the fifth concern: EntitySets, in entityset.go; entity locks
// the sixth: Locks, in locks.go.

// Sessions keeps session records. A session is stored with or without a licence, and the
// store bounds the guests it holds (Guest true): past its bound the least recently used
// guest is evicted (deleted, its licence released) to make room. The bound is the store's
// (given to its constructor), not the caller's.
type Sessions interface {
	// Create inserts s. With licence true it also takes a licence, atomically with the
	// insert: ErrLicenceExhausted when max licences (0 = unlimited) are already held,
	// and then nothing is stored. s.Licensed, s.LastAccess and s.Expires are set to what
	// was stored (a store with its own clock starts the session's life at its now).
	Create(ctx context.Context, s *Session, licence bool, max int) error

	// Touch returns the live session and moves its expiration to now + its idle timeout.
	// An unknown or expired session gives ErrNotFound (an expired one is removed and its
	// licence released on the spot). A networked store may write the new expiration at
	// most once per slack interval: the session then expires no earlier than its idle
	// timeout after its last use and at most the slack later.
	Touch(ctx context.Context, id string, now time.Time) (*Session, error)

	// Get is Touch without moving the expiration.
	Get(ctx context.Context, id string, now time.Time) (*Session, error)

	// Update applies fn to a copy of the live session and stores the result atomically:
	// no other change of that session is lost. fn may run more than once (a networked store
	// reads, applies fn, and stores only if the session did not change meanwhile, else
	// tries again), so it must only compute the new session from the one it is given. If
	// fn returns an error nothing is stored. fn cannot change ID or Licensed, nor make a
	// session a guest again; the expiration follows IdleTimeout and LastAccess as fn
	// leaves them.
	Update(ctx context.Context, id string, now time.Time, fn func(*Session) error) (*Session, error)

	// Rotate moves the session to a new ID, with its licence; the old ID stops working.
	// The session is never visible under both IDs, nor under neither.
	Rotate(ctx context.Context, oldID, newID string, now time.Time) (*Session, error)

	// Delete removes the session and releases its licence. It returns the removed
	// session, or ErrNotFound.
	Delete(ctx context.Context, id string) (*Session, error)

	// Sweep removes every session, counter and token expired at now and reports how
	// many sessions went. Its cost follows what expires, not what is stored. Several
	// instances may sweep one shared store at once; each expired session is removed, and
	// its licence released, by exactly one of them.
	Sweep(ctx context.Context, now time.Time) (int, error)

	// Stats counts sessions, guests among them, and licences held.
	Stats(ctx context.Context) (Stats, error)

	// Range calls fn with a copy of each stored session until fn returns false.
	Range(ctx context.Context, fn func(*Session) bool) error
}

// Licences is the licence pool. A licence belongs to a session: it is taken with the
// session's creation (Sessions.Create) or by TakeLicence, and released exactly once, when
// the session is deleted, expires, is evicted or is reclaimed; licences held is always
// licensed sessions stored. The cap max is the cluster's: every instance sharing a store
// passes the same (a networked store refuses at start an instance whose cap differs).
type Licences interface {
	// TakeLicence gives the session a licence if it has none: ErrLicenceExhausted when
	// max (0 = unlimited) are held. Idempotent for a session that already holds one.
	TakeLicence(ctx context.Context, id string, max int) error

	// ReclaimGuestLicence closes the least recently used session that holds a licence and
	// has never been authenticated nor granted anything (Guest true), releasing its
	// licence, and returns it; ErrNotFound when no session is such. Choosing and deleting
	// are one atomic step: the session returned is gone, and nobody else removed it. A
	// licensed guest that has expired but was not swept yet may be the one chosen (it is
	// gone for every other purpose; what the caller wants is its licence). It is how a
	// login in default mode takes its licence back from anonymous clients (SPEC §4.2).
	// "Least recently used" may be approximate to the store's touch slack.
	ReclaimGuestLicence(ctx context.Context, now time.Time) (*Session, error)
}

// Counters are rate counters with a fixed window (the login throttle's).
type Counters interface {
	// Hit adds one to the counter key, whose window starts at the first hit and lasts
	// window; it returns the new count and when the window ends. Concurrent hits get
	// distinct counts: the count is the decision (a login throttle refuses the hits
	// past its limit).
	Hit(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error)
	// Unhit takes one back from the counter key, never below zero. A missing or expired
	// counter is left alone (its window, and the hit with it, is over).
	Unhit(ctx context.Context, key string, now time.Time) error
	// ResetHits drops the counter key.
	ResetHits(ctx context.Context, key string) error
}

// CounterBatch is an optional capability of Counters, for a store where every call costs a
// round trip and a script run of its own (Redis): the throttle's counter operations of one
// step of a login, in one call. Use it through HitAll and Settle, which fall back to one
// call per key for a store without it.
type CounterBatch interface {
	// HitAll is Hit on each of keys, as one atomic step; it returns their counts in order.
	HitAll(ctx context.Context, keys []string, now time.Time, window time.Duration) ([]Count, error)
	// Settle is Unhit on each of unhit and ResetHits on each of reset, as one atomic step.
	Settle(ctx context.Context, unhit, reset []string, now time.Time) error
}

// SettleCreator is an optional capability of a Store whose every call costs a round trip
// and a script run of its own (Redis): the two store steps that end a successful login in
// one call. Use it through Manager.InsertAttempt, which falls back to Settle and Create
// for a store without it.
type SettleCreator interface {
	// SettleCreate is Settle(unhit, reset) followed by Create(s, licence, max). The settle
	// stands whatever Create answers (ErrExists, ErrLicenceExhausted: the login was good,
	// whether or not its session could be stored), so a caller that retries the create
	// must not settle again. Like any call, it may or may not have happened when it fails
	// with ErrUnavailable.
	SettleCreate(ctx context.Context, unhit, reset []string, now time.Time, s *Session, licence bool, max int) error
}

// Count is a counter after a hit: its new value and when its window ends.
type Count struct {
	N     int
	Reset time.Time
}

// HitAll hits each of keys in c: in one call when c is a CounterBatch, else one by one. On
// an error, the counts returned are those of the keys hit before it (the caller takes them
// back); a batch is all or nothing.
func HitAll(ctx context.Context, c Counters, keys []string, now time.Time, window time.Duration) ([]Count, error) {
	if b, ok := c.(CounterBatch); ok {
		return b.HitAll(ctx, keys, now, window)
	}
	counts := make([]Count, 0, len(keys))
	for _, k := range keys {
		n, reset, err := c.Hit(ctx, k, now, window)
		if err != nil {
			return counts, err
		}
		counts = append(counts, Count{N: n, Reset: reset})
	}
	return counts, nil
}

// Settle takes one back from each of unhit and drops each of reset in c: in one call when
// c is a CounterBatch, else one by one (every key is tried; the errors are joined).
func Settle(ctx context.Context, c Counters, unhit, reset []string, now time.Time) error {
	if len(unhit) == 0 && len(reset) == 0 {
		return nil
	}
	if b, ok := c.(CounterBatch); ok {
		return b.Settle(ctx, unhit, reset, now)
	}
	var errs []error
	for _, k := range unhit {
		if err := c.Unhit(ctx, k, now); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range reset {
		if err := c.ResetHits(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SettleCreate settles counters and creates a session in st: in one call when st is a
// SettleCreator, else Settle and then, if it succeeded, Create.
func SettleCreate(ctx context.Context, st Store, unhit, reset []string, now time.Time, s *Session, licence bool, max int) error {
	if sc, ok := st.(SettleCreator); ok {
		return sc.SettleCreate(ctx, unhit, reset, now, s, licence, max)
	}
	if err := Settle(ctx, st, unhit, reset, now); err != nil {
		return err
	}
	return st.Create(ctx, s, licence, max)
}

// Tokens are one-time tokens naming a session (SPEC §4.5).
type Tokens interface {
	// PutToken stores a one-time token for a session until expires (a store with its own
	// clock keeps it for expires minus the caller's now).
	PutToken(ctx context.Context, token, sessionID string, expires time.Time) error
	// TakeToken returns the session ID of a live token and deletes the token (a token
	// works once, even when instances race for it). An unknown, used or expired token
	// gives ErrNotFound.
	TakeToken(ctx context.Context, token string, now time.Time) (string, error)
}

// Store is everything a Manager keeps: sessions, licences, counters, tokens, entity sets and
// entity locks.
type Store interface {
	Sessions
	Licences
	Counters
	Tokens
	EntitySets
	Locks

	// Close releases what this instance holds (connections, caches, goroutines). It never
	// deletes state that other instances share: with a networked store, the sessions and
	// licences an instance served go on in the others. (The memory store's state is this
	// process's alone: closing it drops every session and with it every licence.)
	Close() error
}

// Secrets is an optional capability of a shared store: values every instance of a
// cluster must agree on, like the cookie keys.
type Secrets interface {
	// LoadOrCreateSecret returns the secret name; when there is none yet it stores the
	// value create returns. Concurrent callers all get the one value stored first.
	LoadOrCreateSecret(ctx context.Context, name string, create func() (string, error)) (string, error)
}

// Stats is a snapshot of a store's counts.
type Stats struct {
	Sessions int `json:"sessions"`
	Guests   int `json:"guests"`
	Licensed int `json:"licensed"`
}
