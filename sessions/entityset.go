package sessions

import (
	"context"
	"encoding/json"
	"time"
)

// EntitySet is a session's server-side selection (SPEC §3.7): the ordered primary keys of
// a dataclass's entities, not the rows, with what it takes to rebuild it by query. Keys are
// written as in URLs (Entity.KeyString), so every store can hold them as strings.
type EntitySet struct {
	ID        string `json:"id"` // 32 upper-case hex digits (NewID)
	DataClass string `json:"dataClass"`
	// Filter, Params and OrderBy are the query that built the set ($savedfilter,
	// $savedorderby): a dropped set can be built again from them.
	Filter  string          `json:"filter,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	OrderBy string          `json:"orderBy,omitempty"`
	// Timeout is the set's lifetime, reset at each use; Expires is when it ends.
	Timeout time.Duration `json:"timeout"`
	Expires time.Time     `json:"expires"`
	Created time.Time     `json:"created"`
	// Count is how many keys the set holds.
	Count int `json:"count"`
}

// Expired reports whether the set is past its expiration at now.
func (s *EntitySet) Expired(now time.Time) bool { return !now.Before(s.Expires) }

// EntitySets keeps the entity sets of sessions: the fifth concern of a store.
//
// A set belongs to one session: it is reached only through that session's ID, follows the
// session through Rotate, and goes with it (Delete, expiry, eviction, reclaim, Sweep). A
// session holds at most max sets (given at each Put, the caller's policy): storing one more
// drops its least recently used set. An expired set is gone for every purpose, and is
// removed no later than the next Put for its session or its session's end, so a session's
// sets never take more than max sets' room.
type EntitySets interface {
	// PutEntitySet stores set with its ordered keys for session sid, its expiration at
	// now + set.Timeout (set.Expires, set.Created and set.Count are set to what was
	// stored). ErrNotFound when the session is not live; ErrExists when the session
	// already holds a set with that ID.
	PutEntitySet(ctx context.Context, sid string, set *EntitySet, keys []string, max int, now time.Time) error

	// EntitySet returns the live set id of session sid and its keys from index from, n
	// of them (n < 0: to the end), and moves its expiration to now + its timeout. Its cost
	// follows n, not the set's size. ErrNotFound when the session or the set is not live.
	EntitySet(ctx context.Context, sid, id string, from, n int, now time.Time) (*EntitySet, []string, error)

	// DeleteEntitySet drops set id of session sid; ErrNotFound when there is none.
	DeleteEntitySet(ctx context.Context, sid, id string) error

	// ListEntitySets returns the live sets of session sid (without keys), oldest first.
	ListEntitySets(ctx context.Context, sid string, now time.Time) ([]EntitySet, error)
}
