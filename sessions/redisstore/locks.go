package redisstore

import (
	"context"
	"time"
)

// LockEntity implements sessions.Locks.
func (s *Store) LockEntity(ctx context.Context, sid, resource string, _ time.Time) error {
	_, err := s.status(ctx, "lock", lockScript, []string{s.p + "lk:" + resource}, sid, resource)
	return err
}

// UnlockEntity implements sessions.Locks.
func (s *Store) UnlockEntity(ctx context.Context, sid, resource string) error {
	_, err := s.status(ctx, "unlock", unlockScript, []string{s.p + "lk:" + resource}, sid, resource)
	return err
}

// LockedByOther implements sessions.Locks.
func (s *Store) LockedByOther(ctx context.Context, sid, resource string, _ time.Time) (bool, error) {
	r, err := s.status(ctx, "locked", lockedScript, []string{s.p + "lk:" + resource}, sid, resource)
	if err != nil {
		return false, err
	}
	if len(r) < 1 {
		return false, s.fail("locked", nil)
	}
	v, _ := r[0].ToString()
	return v == "1", nil
}

// LockCount returns how many entity locks the store holds under its prefix (tests: locks
// never outlive their sessions).
func (s *Store) LockCount() int { return s.countKeys(s.p+"lk:*", s.p+"ls:*") }
