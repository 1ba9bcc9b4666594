package sessions

import (
	"context"
	"time"
)

// dropLocks releases every lock session id holds. Called with its shard lock held.
func (m *MemoryStore) dropLocks(id string) {
	m.locksMu.Lock()
	defer m.locksMu.Unlock()
	for res := range m.heldLock[id] {
		delete(m.locks, res)
	}
	delete(m.heldLock, id)
}

// moveLocks gives session newID the locks of oldID (Rotate, both shards locked).
func (m *MemoryStore) moveLocks(oldID, newID string) {
	m.locksMu.Lock()
	defer m.locksMu.Unlock()
	held, ok := m.heldLock[oldID]
	if !ok {
		return
	}
	delete(m.heldLock, oldID)
	m.heldLock[newID] = held
	for res := range held {
		m.locks[res] = newID
	}
}

// LockEntity implements Locks. A lock whose holder expired but was not swept yet still
// holds until the sweep (or a lookup) removes the holder.
func (m *MemoryStore) LockEntity(_ context.Context, sid, resource string, now time.Time) error {
	sh := m.shardOf(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m.lookup(sh, sid, now) == nil {
		return ErrNotFound
	}
	m.locksMu.Lock()
	defer m.locksMu.Unlock()
	if holder, ok := m.locks[resource]; ok && holder != sid {
		return ErrLocked
	}
	if m.locks == nil {
		m.locks, m.heldLock = map[string]string{}, map[string]map[string]bool{}
	}
	m.locks[resource] = sid
	if m.heldLock[sid] == nil {
		m.heldLock[sid] = map[string]bool{}
	}
	m.heldLock[sid][resource] = true
	return nil
}

// UnlockEntity implements Locks.
func (m *MemoryStore) UnlockEntity(_ context.Context, sid, resource string) error {
	m.locksMu.Lock()
	defer m.locksMu.Unlock()
	if m.locks[resource] != sid || sid == "" {
		return ErrNotFound
	}
	delete(m.locks, resource)
	delete(m.heldLock[sid], resource)
	if len(m.heldLock[sid]) == 0 {
		delete(m.heldLock, sid)
	}
	return nil
}

// LockedByOther implements Locks.
func (m *MemoryStore) LockedByOther(_ context.Context, sid, resource string, _ time.Time) (bool, error) {
	m.locksMu.Lock()
	defer m.locksMu.Unlock()
	holder, ok := m.locks[resource]
	return ok && holder != sid, nil
}

// LockCount returns how many entity locks the store holds (tests: locks never outlive
// their sessions).
func (m *MemoryStore) LockCount() int {
	m.locksMu.Lock()
	defer m.locksMu.Unlock()
	return len(m.locks)
}
