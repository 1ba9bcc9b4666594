package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"
)

// Config configures a Manager. Zero durations take the documented defaults.
type Config struct {
	Store       Store
	Now         func() time.Time // default time.Now
	IdleTimeout time.Duration    // default 60m
	MinIdle     time.Duration    // lowest timeout a client or script may ask for; default 60m
	MaxIdle     time.Duration    // highest; default 24h
	Licences    int              // licences that may be held at once; 0 = unlimited
	// SweepEvery is how often the background sweeper runs; default 5s.
	SweepEvery time.Duration
	Logger     *slog.Logger
	// MaxEntitySets bounds the entity sets one session holds (the least recently used
	// goes first); default 100.
	MaxEntitySets int
}

// Manager applies gatehouse's session policy on top of a Store.
type Manager struct {
	store    Store
	now      func() time.Time
	idle     time.Duration
	minIdle  time.Duration
	maxIdle  time.Duration
	licences int
	every    time.Duration
	log      *slog.Logger
	maxSets  int

	stop   chan struct{}
	done   sync.WaitGroup
	closed sync.Once
}

// NewManager returns a Manager; call Open to start its sweeper.
func NewManager(cfg Config) *Manager {
	m := &Manager{
		store: cfg.Store, now: cfg.Now, idle: cfg.IdleTimeout, minIdle: cfg.MinIdle,
		maxIdle: cfg.MaxIdle, licences: cfg.Licences, every: cfg.SweepEvery, log: cfg.Logger,
		maxSets: cfg.MaxEntitySets,
	}
	if m.maxSets <= 0 {
		m.maxSets = 100
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.idle <= 0 {
		m.idle = 60 * time.Minute
	}
	if m.minIdle <= 0 {
		m.minIdle = 60 * time.Minute
	}
	if m.maxIdle <= 0 {
		m.maxIdle = 24 * time.Hour
	}
	if m.maxIdle < m.minIdle {
		m.maxIdle = m.minIdle
	}
	m.idle = m.Clamp(m.idle)
	if m.every <= 0 {
		m.every = 5 * time.Second
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m
}

// Open starts the background sweeper.
func (m *Manager) Open() error {
	if m.stop != nil {
		return errors.New("sessions: manager already open")
	}
	m.stop = make(chan struct{})
	m.done.Add(1)
	go m.sweepLoop()
	return nil
}

// Close stops the sweeper, waits for it, and closes the store: what this instance holds
// is released; a shared store's sessions and licences stay for the other instances.
// A second Close does nothing.
func (m *Manager) Close() error {
	var err error
	m.closed.Do(func() {
		if m.stop != nil {
			close(m.stop)
			m.done.Wait()
		}
		err = m.store.Close()
	})
	return err
}

func (m *Manager) sweepLoop() {
	defer m.done.Done()
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if n, err := m.Sweep(context.Background()); err != nil {
				m.log.Error("session sweep failed", "err", err)
			} else if n > 0 {
				m.log.Debug("expired sessions removed", "count", n)
			}
		}
	}
}

// Now is the manager's clock.
func (m *Manager) Now() time.Time { return m.now() }

// Licences is the licence cap (0 = unlimited).
func (m *Manager) Licences() int { return m.licences }

// DefaultIdleTimeout is the timeout of a session nobody asked otherwise for.
func (m *Manager) DefaultIdleTimeout() time.Duration { return m.idle }

// Clamp brings a requested idle timeout within [MinIdle, MaxIdle].
func (m *Manager) Clamp(d time.Duration) time.Duration {
	return min(max(d, m.minIdle), m.maxIdle)
}

// Draft returns a new guest session for a client at remote, with a fresh ID and the
// default timeout, not yet stored: Insert stores it. Login builds on a draft so that a
// failed attempt leaves nothing behind.
func (m *Manager) Draft(remote string) (*Session, error) {
	id, err := NewID()
	if err != nil {
		return nil, fmt.Errorf("sessions: new id: %w", err)
	}
	now := m.now()
	return &Session{
		ID: id, IdleTimeout: m.idle, Created: now, LastAccess: now, Expires: now.Add(m.idle),
		RemoteAddr: remote, Guest: true,
	}, nil
}

// Insert stores a draft (its timeout clamped, its life starting now). With licence true it
// takes a licence (default login mode), failing with ErrLicenceExhausted when none is free.
func (m *Manager) Insert(ctx context.Context, s *Session, licence bool) error {
	m.prepare(s)
	return m.store.Create(ctx, s, licence, m.licences)
}

// prepare clamps a draft's timeout and starts its life now, for its insert.
func (m *Manager) prepare(s *Session) {
	now := m.now()
	s.IdleTimeout = m.Clamp(s.IdleTimeout)
	s.LastAccess, s.Expires = now, now.Add(s.IdleTimeout)
}

// reclaimTries bounds how many anonymous sessions one login closes for a licence. More
// than one may be needed: between the reclaim and the insert, a new anonymous session may
// take the licence just released. Past the bound the login gives up rather than close
// anonymous sessions without end during a flood of them.
const reclaimTries = 5

// InsertLogin stores a draft that has just logged in, with a licence. When every licence is
// held it closes the least recently used licensed session that never authenticated (Guest
// still true) and takes its licence, retrying a few times under contention; it fails with
// ErrLicenceExhausted only when authenticated (non-guest) sessions hold every licence.
//
// This is default login mode's answer to anonymous clients holding every licence (SPEC
// §4.2): the client whose session is closed simply gets a new one on its next request.
// The draft should already say what the login granted (Guest false); a draft still a guest
// takes a licence the next login may reclaim in turn.
func (m *Manager) InsertLogin(ctx context.Context, s *Session) error {
	return m.InsertAttempt(ctx, s, nil)
}

// InsertAttempt is InsertLogin for the draft of a login whose throttle attempt a succeeded
// (nil: none): a's success is settled as Attempt.Succeeded does, and the draft stored as
// InsertLogin does. When the throttle keeps its counters in this manager's store and the
// store can (SettleCreator), the settle and the first insert are one store call: with
// Redis, one round trip instead of two. The settle happens once, before or with the
// first insert, whatever the inserts answer; if it fails nothing is inserted.
func (m *Manager) InsertAttempt(ctx context.Context, s *Session, a *Attempt) error {
	err := m.insertSettling(ctx, s, a)
	for try := 0; errors.Is(err, ErrLicenceExhausted) && try < reclaimTries; try++ {
		gone, rerr := m.store.ReclaimGuestLicence(ctx, m.now())
		if errors.Is(rerr, ErrNotFound) {
			// Nobody to reclaim from. A licence may have been released since the insert
			// failed (a logout, an expiry): one last try.
			return m.Insert(ctx, s, true)
		}
		if rerr != nil {
			return rerr
		}
		m.log.Debug("licence reclaimed from an anonymous session for a login", "session", sessionTag(gone.ID))
		err = m.Insert(ctx, s, true)
	}
	return err
}

// insertSettling settles a's success and inserts s with a licence (see InsertAttempt).
func (m *Manager) insertSettling(ctx context.Context, s *Session, a *Attempt) error {
	unhit, reset, now, ok := a.succeed()
	if !ok {
		return m.Insert(ctx, s, true)
	}
	if st, can := a.t.store.(Store); can && sameStore(st, m.store) {
		m.prepare(s)
		return SettleCreate(ctx, st, unhit, reset, now, s, true, m.licences)
	}
	if err := Settle(ctx, a.t.store, unhit, reset, now); err != nil {
		return err
	}
	return m.Insert(ctx, s, true)
}

// sameStore reports whether c is the store s, or a wrapper of it (a type with an Unwrap()
// Store method, as the admin console's counter watch): only then can one call on c both
// settle c's counters and create a session in s.
func sameStore(c, s Store) bool {
	for range 8 { // wrappers of wrappers, but never a loop of them
		if t := reflect.TypeOf(c); t == reflect.TypeOf(s) && t.Comparable() && c == s {
			return true
		}
		w, ok := c.(interface{ Unwrap() Store })
		if !ok {
			return false
		}
		c = w.Unwrap()
	}
	return false
}

// sessionTag is how a session appears in logs: a short hash, never the ID itself (SPEC §8),
// the same tag the REST layer logs.
func sessionTag(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

// Create opens a new guest session for a client at remote (Draft + Insert).
func (m *Manager) Create(ctx context.Context, remote string, licence bool) (*Session, error) {
	s, err := m.Draft(remote)
	if err != nil {
		return nil, err
	}
	if err := m.Insert(ctx, s, licence); err != nil {
		return nil, err
	}
	return s, nil
}

// Touch returns the live session id, extending its life (ErrNotFound when gone).
func (m *Manager) Touch(ctx context.Context, id string) (*Session, error) {
	return m.store.Touch(ctx, id, m.now())
}

// Get returns the live session id without extending its life.
func (m *Manager) Get(ctx context.Context, id string) (*Session, error) {
	return m.store.Get(ctx, id, m.now())
}

// Update changes a live session atomically (see Store.Update). IdleTimeout values set
// by fn are clamped.
func (m *Manager) Update(ctx context.Context, id string, fn func(*Session) error) (*Session, error) {
	return m.store.Update(ctx, id, m.now(), func(s *Session) error {
		if err := fn(s); err != nil {
			return err
		}
		s.IdleTimeout = m.Clamp(s.IdleTimeout)
		return nil
	})
}

// TakeLicence gives the session a licence if it has none (ErrLicenceExhausted).
func (m *Manager) TakeLicence(ctx context.Context, id string) error {
	return m.store.TakeLicence(ctx, id, m.licences)
}

// Rotate gives the session a fresh ID (session-fixation defence) and returns it under
// that ID; the old ID stops working.
func (m *Manager) Rotate(ctx context.Context, id string) (*Session, error) {
	newID, err := NewID()
	if err != nil {
		return nil, fmt.Errorf("sessions: new id: %w", err)
	}
	return m.store.Rotate(ctx, id, newID, m.now())
}

// Delete closes a session and releases its licence. Closing a session that is already
// gone is not an error.
func (m *Manager) Delete(ctx context.Context, id string) error {
	if _, err := m.store.Delete(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// PutEntitySet stores a new entity set for session sid, under a new ID it sets in set.ID,
// dropping the session's least recently used set past the bound.
func (m *Manager) PutEntitySet(ctx context.Context, sid string, set *EntitySet, keys []string) error {
	for {
		id, err := NewID()
		if err != nil {
			return fmt.Errorf("sessions: new id: %w", err)
		}
		set.ID = id
		err = m.store.PutEntitySet(ctx, sid, set, keys, m.maxSets, m.now())
		if !errors.Is(err, ErrExists) { // (a repeated random ID: draw again)
			return err
		}
	}
}

// EntitySet returns entity set id of session sid with n of its keys from index from
// (n < 0: all), and restarts its lifetime.
func (m *Manager) EntitySet(ctx context.Context, sid, id string, from, n int) (*EntitySet, []string, error) {
	return m.store.EntitySet(ctx, sid, id, from, n, m.now())
}

// ReleaseEntitySet drops entity set id of session sid.
func (m *Manager) ReleaseEntitySet(ctx context.Context, sid, id string) error {
	return m.store.DeleteEntitySet(ctx, sid, id)
}

// EntitySets lists the live entity sets of session sid.
func (m *Manager) EntitySets(ctx context.Context, sid string) ([]EntitySet, error) {
	return m.store.ListEntitySets(ctx, sid, m.now())
}

// LockEntity gives session sid the lock of resource (ErrLocked: another session holds it).
func (m *Manager) LockEntity(ctx context.Context, sid, resource string) error {
	return m.store.LockEntity(ctx, sid, resource, m.now())
}

// UnlockEntity releases the lock of resource held by session sid (ErrNotFound: it holds none).
func (m *Manager) UnlockEntity(ctx context.Context, sid, resource string) error {
	return m.store.UnlockEntity(ctx, sid, resource)
}

// LockedByOther reports whether a session other than sid holds the lock of resource.
func (m *Manager) LockedByOther(ctx context.Context, sid, resource string) (bool, error) {
	return m.store.LockedByOther(ctx, sid, resource, m.now())
}

// Sweep removes what has expired now.
func (m *Manager) Sweep(ctx context.Context) (int, error) { return m.store.Sweep(ctx, m.now()) }

// Stats reports the store's counts.
func (m *Manager) Stats(ctx context.Context) (Stats, error) { return m.store.Stats(ctx) }

// Range calls fn for each live session.
func (m *Manager) Range(ctx context.Context, fn func(*Session) bool) error {
	return m.store.Range(ctx, fn)
}

// CreateOTP returns a one-time passcode that brings a request back into session id within
// lifespan (4D's Session.createOTP).
func (m *Manager) CreateOTP(ctx context.Context, id string, lifespan time.Duration) (string, error) {
	if lifespan <= 0 {
		lifespan = m.idle
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sessions: otp: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	if err := m.store.PutToken(ctx, tok, id, m.now().Add(lifespan)); err != nil {
		return "", err
	}
	return tok, nil
}

// RedeemOTP spends a one-time passcode and returns the live session it names, touched.
// A used, unknown or expired token, or one whose session is gone, gives ErrNotFound.
func (m *Manager) RedeemOTP(ctx context.Context, tok string) (*Session, error) {
	id, err := m.store.TakeToken(ctx, tok, m.now())
	if err != nil {
		return nil, err
	}
	return m.Touch(ctx, id)
}
