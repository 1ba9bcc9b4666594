package sessions

import (
	"context"
	"errors"
	"time"
)

// ErrLocked: another live session holds the entity lock.
var ErrLocked = errors.New("sessions: locked by another session")

// Locks are pessimistic entity locks held by sessions ($lock=true, SPEC §3.5): the sixth
// concern of a store. A lock names a resource (the REST layer uses "DC(key)") and belongs
// to one session; it is released by that session (UnlockEntity) or with it (Delete,
// expiry — at the latest by the Sweep that removes it —, eviction, reclaim), follows it
// through Rotate, and never outlives it.
type Locks interface {
	// LockEntity gives session sid the lock of resource. ErrLocked when another session
	// holds it; idempotent for the holder; ErrNotFound when sid is not live.
	LockEntity(ctx context.Context, sid, resource string, now time.Time) error
	// UnlockEntity releases the lock of resource held by sid; ErrNotFound when sid does
	// not hold it.
	UnlockEntity(ctx context.Context, sid, resource string) error
	// LockedByOther reports whether a session other than sid holds the lock of resource.
	LockedByOther(ctx context.Context, sid, resource string, now time.Time) (bool, error)
}
