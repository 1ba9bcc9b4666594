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

// Store keeps sessions, their licences, login-attempt counters and one-time tokens.
//
// It is written so that a networked store (Redis) fits: every operation is on whole
// sessions, values are serialisable, and each method is atomic on its own — in particular
// taking a licence is one check-and-take. Methods return copies; callers never share
// memory with the store.
type Store interface {
	// Create inserts s. With licence true it also takes a licence, atomically with the
	// insert: ErrLicenceExhausted when max licences (0 = unlimited) are already held,
	// and then nothing is stored. s.Licensed is set accordingly.
	Create(ctx context.Context, s *Session, licence bool, max int) error

	// Touch returns the live session and moves its expiration to now + its idle timeout.
	// An unknown or expired session gives ErrNotFound (an expired one is removed and its
	// licence released on the spot).
	Touch(ctx context.Context, id string, now time.Time) (*Session, error)

	// Get is Touch without moving the expiration.
	Get(ctx context.Context, id string, now time.Time) (*Session, error)

	// Update applies fn to a copy of the live session and stores the result atomically
	// (no other update of that session interleaves). If fn returns an error nothing is
	// stored. fn cannot change ID or Licensed; the expiration follows IdleTimeout and
	// LastAccess as fn leaves them.
	Update(ctx context.Context, id string, now time.Time, fn func(*Session) error) (*Session, error)

	// TakeLicence gives the session a licence if it has none: ErrLicenceExhausted when
	// max (0 = unlimited) are held. Idempotent for a session that already holds one.
	TakeLicence(ctx context.Context, id string, max int) error

	// Rotate moves the session to a new ID, with its licence; the old ID stops working.
	Rotate(ctx context.Context, oldID, newID string, now time.Time) (*Session, error)

	// Delete removes the session and releases its licence. It returns the removed
	// session, or ErrNotFound.
	Delete(ctx context.Context, id string) (*Session, error)

	// Sweep removes every session, counter and token expired at now and reports how
	// many sessions went. Its cost follows what expires, not what is stored.
	Sweep(ctx context.Context, now time.Time) (int, error)

	// Stats counts sessions, guests among them, and licences held.
	Stats(ctx context.Context) (Stats, error)

	// Range calls fn with a copy of each live session until fn returns false.
	Range(ctx context.Context, fn func(*Session) bool) error

	// ReclaimGuestLicence closes the least recently used session that holds a licence and
	// has never been authenticated nor granted anything (Guest true), releasing its
	// licence, and returns it; ErrNotFound when no session is such. Choosing and deleting
	// are one atomic step: the session returned is gone, and nobody else removed it. A
	// licensed guest that has expired but was not swept yet may be the one chosen (it is
	// gone for every other purpose; what the caller wants is its licence). It is how a
	// login in default mode takes its licence back from anonymous clients (SPEC §4.2).
	ReclaimGuestLicence(ctx context.Context, now time.Time) (*Session, error)

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

	// PutToken stores a one-time token for a session until expires.
	PutToken(ctx context.Context, token, sessionID string, expires time.Time) error
	// TakeToken returns the session ID of a live token and deletes the token (a token
	// works once). An unknown, used or expired token gives ErrNotFound.
	TakeToken(ctx context.Context, token string, now time.Time) (string, error)

	// Close releases every licence and drops every session (shutdown).
	Close() error
}

// Stats is a snapshot of a store's counts.
type Stats struct {
	Sessions int `json:"sessions"`
	Guests   int `json:"guests"`
	Licensed int `json:"licensed"`
}
