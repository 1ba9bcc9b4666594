package redisstore

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"gatehouse/sessions"
)

func (s *Store) esKey(sid string) string { return s.p + "es:" + sid }

// PutEntitySet implements sessions.EntitySets. The keys go to one Redis list, so that a
// page is read with LRANGE and costs the page.
func (s *Store) PutEntitySet(ctx context.Context, sid string, set *sessions.EntitySet, keys []string, max int, _ time.Time) error {
	set.Count = len(keys)
	meta, err := json.Marshal(set)
	if err != nil {
		return err
	}
	args := make([]string, 0, 5+len(keys))
	args = append(args, sid, set.ID, string(meta), us(set.Timeout), strconv.Itoa(max))
	args = append(args, keys...)
	r, err := s.status(ctx, "put entity set", putSetScript, []string{s.esKey(sid)}, args...)
	if err != nil {
		return err
	}
	if len(r) < 2 {
		return s.fail("put entity set", nil)
	}
	c, _ := r[0].ToString()
	e, _ := r[1].ToString()
	set.Created, set.Expires = micros(c), micros(e)
	return nil
}

// EntitySet implements sessions.EntitySets.
func (s *Store) EntitySet(ctx context.Context, sid, id string, from, n int, _ time.Time) (*sessions.EntitySet, []string, error) {
	from = max(from, 0)
	last := -1 // to the end
	switch {
	case n == 0:
		last = -2 // nothing (from+n-1 would read -1, the end, when from is 0)
	case n > 0:
		last = from + n - 1
	}
	r, err := s.status(ctx, "entity set", getSetScript, []string{s.esKey(sid)}, sid, id, strconv.Itoa(from), strconv.Itoa(last))
	if err != nil {
		return nil, nil, err
	}
	if len(r) < 3 {
		return nil, nil, s.fail("entity set", nil)
	}
	set, err := s.decodeSet(r[0], r[1], r[2])
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, 0, len(r)-3)
	for _, m := range r[3:] {
		k, err := m.ToString()
		if err != nil {
			return nil, nil, s.fail("entity set", err)
		}
		keys = append(keys, k)
	}
	if n == 0 {
		keys = keys[:0]
	}
	return set, keys, nil
}

func (s *Store) decodeSet(meta, created, expires rueidis.RedisMessage) (*sessions.EntitySet, error) {
	raw, err := meta.ToString()
	if err != nil {
		return nil, s.fail("entity set", err)
	}
	var set sessions.EntitySet
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return nil, s.fail("entity set", err)
	}
	c, _ := created.ToString()
	e, _ := expires.ToString()
	set.Created, set.Expires = micros(c), micros(e)
	return &set, nil
}

// DeleteEntitySet implements sessions.EntitySets.
func (s *Store) DeleteEntitySet(ctx context.Context, sid, id string) error {
	_, err := s.status(ctx, "delete entity set", deleteSetScript, []string{s.esKey(sid)}, sid, id)
	return err
}

// ListEntitySets implements sessions.EntitySets.
func (s *Store) ListEntitySets(ctx context.Context, sid string, _ time.Time) ([]sessions.EntitySet, error) {
	r, err := s.status(ctx, "list entity sets", listSetsScript, []string{s.esKey(sid)}, sid)
	if err != nil {
		return nil, err
	}
	out := make([]sessions.EntitySet, 0, len(r)/3)
	for i := 0; i+2 < len(r); i += 3 {
		set, err := s.decodeSet(r[i], r[i+1], r[i+2])
		if err != nil {
			return nil, err
		}
		out = append(out, *set)
	}
	slices.SortStableFunc(out, func(a, b sessions.EntitySet) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// EntitySetCount returns how many entity-set keys the store holds under its prefix
// (tests: sets never outlive their sessions).
func (s *Store) EntitySetCount() int { return s.countKeys(s.p+"es:*", s.p+"ek:*") }

// countKeys counts the keys matching any of patterns (SCAN: never blocks Redis), -1 on error.
// It is for tests and diagnostics, not for a request's path.
func (s *Store) countKeys(patterns ...string) int {
	ctx, cancel := s.ctx(context.Background())
	defer cancel()
	n := 0
	for _, pat := range patterns {
		var cursor uint64
		for {
			e, err := s.c.Do(ctx, s.c.B().Scan().Cursor(cursor).Match(pat).Count(1000).Build()).AsScanEntry()
			if err != nil {
				return -1
			}
			n += len(e.Elements)
			cursor = e.Cursor
			if cursor == 0 {
				break
			}
		}
	}
	return n
}
