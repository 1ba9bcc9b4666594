package sessions

import (
	"context"
	"slices"
	"time"
)

// memSet is one stored entity set. A session's sets are kept in a slice ordered by use,
// least recently used first: a session holds few (the caller's bound), and the slice is
// where eviction looks.
type memSet struct {
	meta EntitySet
	keys []string // never modified once stored
}

// liveSets returns the sets of the live session sid with the expired ones dropped;
// ok false when the session is not live. sh.mu must be held.
func (m *MemoryStore) liveSets(sh *shard, sid string, now time.Time) ([]*memSet, bool) {
	if m.lookup(sh, sid, now) == nil {
		return nil, false
	}
	sets := sh.sets[sid]
	kept := sets[:0]
	for _, s := range sets {
		if !s.meta.Expired(now) {
			kept = append(kept, s)
		}
	}
	clear(sets[len(kept):])
	if len(kept) == 0 {
		delete(sh.sets, sid)
		return nil, true
	}
	sh.sets[sid] = kept
	return kept, true
}

// PutEntitySet implements EntitySets.
func (m *MemoryStore) PutEntitySet(_ context.Context, sid string, set *EntitySet, keys []string, max int, now time.Time) error {
	sh := m.shardOf(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sets, ok := m.liveSets(sh, sid, now)
	if !ok {
		return ErrNotFound
	}
	for _, s := range sets {
		if s.meta.ID == set.ID {
			return ErrExists
		}
	}
	set.Created, set.Expires, set.Count = now, now.Add(set.Timeout), len(keys)
	ms := &memSet{meta: *set, keys: slices.Clone(keys)}
	ms.meta.Params = slices.Clone(set.Params)
	if max > 0 && len(sets) >= max {
		drop := len(sets) - max + 1
		clear(sets[:drop])
		sets = sets[drop:]
	}
	if sh.sets == nil {
		sh.sets = make(map[string][]*memSet)
	}
	sh.sets[sid] = append(sets, ms)
	return nil
}

// EntitySet implements EntitySets.
func (m *MemoryStore) EntitySet(_ context.Context, sid, id string, from, n int, now time.Time) (*EntitySet, []string, error) {
	sh := m.shardOf(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sets, _ := m.liveSets(sh, sid, now)
	i := slices.IndexFunc(sets, func(s *memSet) bool { return s.meta.ID == id })
	if i < 0 {
		return nil, nil, ErrNotFound
	}
	s := sets[i]
	s.meta.Expires = now.Add(s.meta.Timeout)
	// most recently used last
	copy(sets[i:], sets[i+1:])
	sets[len(sets)-1] = s
	meta := s.meta
	meta.Params = slices.Clone(s.meta.Params)
	return &meta, slices.Clone(window(s.keys, from, n)), nil
}

// window returns keys[from:from+n] clamped to keys (n < 0: to the end).
func window(keys []string, from, n int) []string {
	from = min(max(from, 0), len(keys))
	end := len(keys)
	if n >= 0 && from+n < end {
		end = from + n
	}
	return keys[from:end]
}

// DeleteEntitySet implements EntitySets.
func (m *MemoryStore) DeleteEntitySet(_ context.Context, sid, id string) error {
	sh := m.shardOf(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sets := sh.sets[sid]
	i := slices.IndexFunc(sets, func(s *memSet) bool { return s.meta.ID == id })
	if i < 0 {
		return ErrNotFound
	}
	sets = slices.Delete(sets, i, i+1)
	if len(sets) == 0 {
		delete(sh.sets, sid)
	} else {
		sh.sets[sid] = sets
	}
	return nil
}

// ListEntitySets implements EntitySets.
func (m *MemoryStore) ListEntitySets(_ context.Context, sid string, now time.Time) ([]EntitySet, error) {
	sh := m.shardOf(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sets, ok := m.liveSets(sh, sid, now)
	if !ok {
		return nil, ErrNotFound
	}
	out := make([]EntitySet, 0, len(sets))
	for _, s := range sets {
		meta := s.meta
		meta.Params = slices.Clone(s.meta.Params)
		out = append(out, meta)
	}
	slices.SortStableFunc(out, func(a, b EntitySet) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// EntitySetCount returns how many entity sets the store holds, expired ones included
// (tests: sets never outlive their sessions).
func (m *MemoryStore) EntitySetCount() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for _, sets := range sh.sets {
			n += len(sets)
		}
		sh.mu.Unlock()
	}
	return n
}
