package sessions

import (
	"container/heap"
	"container/list"
	"context"
	"encoding/json"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const shardCount = 64

// MemoryStore is the in-memory Store. Sessions are spread over shards, each with its own
// lock, map and expiry heap, so that requests of different sessions rarely contend.
//
// Expiry is lazy on the heap: a touch only updates the entry's expiration, and the heap
// keeps the expiration the entry had when it was last placed. The sweeper pops entries
// whose heap time has passed and either removes them or re-places them at their real
// expiration; each live session is re-placed at most once per idle period, so sweeping
// costs what expires, and a touch costs O(1).
type MemoryStore struct {
	seed     maphash.Seed
	shards   [shardCount]shard
	licensed atomic.Int64

	grants grants

	maxGuests int
	guestMu   sync.Mutex
	guests    list.List // of IDs (see guestValue); front = most recently used

	countersMu sync.Mutex
	counters   map[string]counter

	tokensMu sync.Mutex
	tokens   map[string]token

	// locksMu is taken after a shard lock, never before one.
	locksMu  sync.Mutex
	locks    map[string]string          // resource -> holder's session ID
	heldLock map[string]map[string]bool // session ID -> resources it holds
}

var (
	_ Store       = (*MemoryStore)(nil)
	_ ToucherInto = (*MemoryStore)(nil)
)

type shard struct {
	mu      sync.Mutex
	entries map[string]*entry
	expiry  expiryHeap
	sets    map[string][]*memSet // entity sets by session ID (see memory_entitysets.go)
}

// entry is one stored session, in a compact form: at a million sessions every byte of it
// is a megabyte. Times are Unix nanoseconds, the privilege and role lists are interned (most
// sessions share a handful of them), the storage is a string, and the flags are bits; the
// entry fits the 160-byte allocation class (a Session is 240 bytes).
type entry struct {
	id, userName, fullName, userID, remoteAddr string

	grant   *grant // privileges and roles; nil for none
	storage string // Session.Storage; "" for nil
	idle    time.Duration

	created, lastAccess, expires int64 // see nanos

	heapAt  uint32 // expiration second (rounded up, see expirySecond) the heap orders this entry by
	heapIdx int32
	flags   uint8
	guest   *list.Element // position in the guest LRU; nil when not a guest
}

// Flags of an entry.
const (
	flagGuest uint8 = 1 << iota
	flagAuthenticated
	flagLicensed
)

func (e *entry) is(f uint8) bool { return e.flags&f != 0 }

func (e *entry) setFlag(f uint8, on bool) {
	if on {
		e.flags |= f
	} else {
		e.flags &^= f
	}
}

// set stores s in e (all but the licence, which only the store changes).
func (e *entry) set(m *MemoryStore, s *Session) {
	e.id, e.userName, e.fullName, e.userID, e.remoteAddr = s.ID, s.UserName, s.FullName, s.UserID, s.RemoteAddr
	e.grant = m.grants.intern(s.Privileges, s.Roles)
	e.storage = string(s.Storage)
	e.idle = s.IdleTimeout
	e.created, e.lastAccess, e.expires = nanos(s.Created), nanos(s.LastAccess), nanos(s.Expires)
	e.setFlag(flagGuest, s.Guest)
	e.setFlag(flagAuthenticated, s.Authenticated)
}

// session returns the session e holds. Its lists and storage share the store's memory,
// which is never written in place (Session's rule).
func (e *entry) session() *Session {
	s := new(Session)
	e.sessionInto(s)
	return s
}

// sessionInto writes the session e holds into s, every field of it (as session).
func (e *entry) sessionInto(s *Session) {
	*s = Session{
		ID: e.id, UserName: e.userName, FullName: e.fullName, UserID: e.userID, RemoteAddr: e.remoteAddr,
		IdleTimeout: e.idle, Created: unnanos(e.created), LastAccess: unnanos(e.lastAccess), Expires: unnanos(e.expires),
		Guest: e.is(flagGuest), Authenticated: e.is(flagAuthenticated), Licensed: e.is(flagLicensed),
	}
	if e.grant != nil {
		s.Privileges, s.Roles = e.grant.privileges, e.grant.roles
	}
	if e.storage != "" {
		s.Storage = json.RawMessage(unsafe.Slice(unsafe.StringData(e.storage), len(e.storage)))
	}
}

// expired reports whether the session is past its expiration at now (Session.Expired).
func (e *entry) expired(now time.Time) bool { return nanos(now) >= e.expires }

// noTime is the nanos of the zero time, which Unix nanoseconds cannot express.
const noTime = math.MinInt64

// nanos is t in Unix nanoseconds (the monotonic reading and the location are not kept, as
// in any store that serialises sessions).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func unnanos(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// grant is an interned pair of privilege and role lists.
type grant struct{ privileges, roles []string }

// maxGrants bounds the interned lists: past it, new pairs are kept per session.
const maxGrants = 4096

// grants interns privilege and role lists.
type grants struct {
	mu sync.Mutex
	m  map[string]*grant
}

// intern returns the shared grant of privileges and roles (nil when both are empty).
func (g *grants) intern(privileges, roles []string) *grant {
	if len(privileges) == 0 && len(roles) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range privileges {
		b.WriteString(p)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, r := range roles {
		b.WriteString(r)
		b.WriteByte(0)
	}
	key := b.String()
	g.mu.Lock()
	defer g.mu.Unlock()
	if gr := g.m[key]; gr != nil {
		return gr
	}
	gr := &grant{privileges: slices.Clip(slices.Clone(privileges)), roles: slices.Clip(slices.Clone(roles))}
	if g.m == nil {
		g.m = map[string]*grant{}
	}
	if len(g.m) < maxGrants {
		g.m[key] = gr
	}
	return gr
}

// licensedID is the guest list's value for a guest that holds a licence; a plain string is
// one that does not. Keeping the licence in the value's type lets ReclaimGuestLicence find
// the least recently used licensed guest under the guest lock alone, at no cost in memory
// (both box the same string header). The value's type changes only with the shard lock of
// its session held, then the guest lock, like every other change to a session's licence.
type licensedID string

func guestValue(id string, licensed bool) any {
	if licensed {
		return licensedID(id)
	}
	return id
}

// guestID is the session ID of an element of the guest list.
func guestID(el *list.Element) string {
	if id, ok := el.Value.(licensedID); ok {
		return string(id)
	}
	return el.Value.(string)
}

// expirySecond is an expiration (see nanos) as a heap key: Unix seconds rounded up, so that
// an entry the sweeper reaches (heapAt <= the current second, rounded down) has really
// expired unless it was touched; clamped to the uint32 range (until 2106).
func expirySecond(n int64) uint32 {
	if n <= 0 {
		return 0
	}
	sec := n / 1e9
	if n%1e9 > 0 {
		sec++
	}
	return uint32(min(sec, math.MaxUint32))
}

type counter struct {
	n     int
	reset time.Time
}

type token struct {
	sessionID string
	expires   time.Time
}

// NewMemoryStore returns an empty store that holds at most maxGuests guest sessions
// (0 = no bound), evicting the least recently used guest to make room.
func NewMemoryStore(maxGuests int) *MemoryStore {
	m := &MemoryStore{
		seed:      maphash.MakeSeed(),
		maxGuests: maxGuests,
		counters:  make(map[string]counter),
		tokens:    make(map[string]token),
	}
	for i := range m.shards {
		m.shards[i].entries = make(map[string]*entry)
	}
	return m
}

func (m *MemoryStore) shardIndex(id string) uint64 {
	return maphash.String(m.seed, id) % shardCount
}

func (m *MemoryStore) shardOf(id string) *shard { return &m.shards[m.shardIndex(id)] }

// takeLicence reserves one licence unless max (> 0) are held.
func (m *MemoryStore) takeLicence(max int) bool {
	for {
		n := m.licensed.Load()
		if max > 0 && n >= int64(max) {
			return false
		}
		if m.licensed.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Create implements Store.
func (m *MemoryStore) Create(_ context.Context, s *Session, licence bool, max int) error {
	if licence && !m.takeLicence(max) {
		return ErrLicenceExhausted
	}
	e := &entry{}
	e.set(m, s)
	e.setFlag(flagLicensed, licence)
	sh := m.shardOf(s.ID)
	sh.mu.Lock()
	if _, dup := sh.entries[s.ID]; dup {
		sh.mu.Unlock()
		if licence {
			m.licensed.Add(-1)
		}
		return ErrExists
	}
	sh.entries[s.ID] = e
	sh.place(e)
	guest := e.is(flagGuest)
	if guest {
		m.guestMu.Lock()
		e.guest = m.guests.PushFront(guestValue(s.ID, licence))
		m.guestMu.Unlock()
	}
	sh.mu.Unlock()
	s.Licensed = licence
	if guest {
		m.evictGuests()
	}
	return nil
}

// evictGuests removes least recently used guests while there are more than maxGuests.
// The guest lock is never held while taking a shard lock (shards take it the other way).
func (m *MemoryStore) evictGuests() {
	if m.maxGuests <= 0 {
		return
	}
	for {
		m.guestMu.Lock()
		if m.guests.Len() <= m.maxGuests {
			m.guestMu.Unlock()
			return
		}
		id := guestID(m.guests.Back())
		m.guestMu.Unlock()
		sh := m.shardOf(id)
		sh.mu.Lock()
		if e, ok := sh.entries[id]; ok && e.guest != nil {
			m.remove(sh, e)
		}
		sh.mu.Unlock()
	}
}

// lookup returns the live entry for id; an expired one is removed. sh.mu must be held.
func (m *MemoryStore) lookup(sh *shard, id string, now time.Time) *entry {
	e, ok := sh.entries[id]
	if !ok {
		return nil
	}
	if e.expired(now) {
		m.remove(sh, e)
		return nil
	}
	return e
}

// remove deletes e from its shard, the guest list and the licence count. sh.mu must be held.
func (m *MemoryStore) remove(sh *shard, e *entry) {
	delete(sh.entries, e.id)
	delete(sh.sets, e.id)
	m.dropLocks(e.id)
	if e.heapIdx >= 0 {
		heap.Remove(&sh.expiry, int(e.heapIdx))
	}
	m.dropGuest(e)
	if e.is(flagLicensed) {
		e.setFlag(flagLicensed, false)
		m.licensed.Add(-1)
	}
}

func (m *MemoryStore) dropGuest(e *entry) {
	if e.guest == nil {
		return
	}
	m.guestMu.Lock()
	m.guests.Remove(e.guest)
	m.guestMu.Unlock()
	e.guest = nil
}

// Touch implements Store.
func (m *MemoryStore) Touch(_ context.Context, id string, now time.Time) (*Session, error) {
	sh := m.shardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := m.touch(sh, id, now)
	if e == nil {
		return nil, ErrNotFound
	}
	return e.session(), nil
}

// TouchInto implements ToucherInto.
func (m *MemoryStore) TouchInto(_ context.Context, id string, now time.Time, dst *Session) error {
	sh := m.shardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := m.touch(sh, id, now)
	if e == nil {
		return ErrNotFound
	}
	e.sessionInto(dst)
	return nil
}

// touch returns the live entry for id with its expiration moved (nil when there is
// none). sh.mu must be held.
func (m *MemoryStore) touch(sh *shard, id string, now time.Time) *entry {
	e := m.lookup(sh, id, now)
	if e == nil {
		return nil
	}
	e.lastAccess = nanos(now)
	e.expires = nanos(now.Add(e.idle))
	if e.guest != nil {
		m.guestMu.Lock()
		m.guests.MoveToFront(e.guest)
		m.guestMu.Unlock()
	}
	return e
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, id string, now time.Time) (*Session, error) {
	sh := m.shardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := m.lookup(sh, id, now)
	if e == nil {
		return nil, ErrNotFound
	}
	return e.session(), nil
}

// Update implements Store.
func (m *MemoryStore) Update(_ context.Context, id string, now time.Time, fn func(*Session) error) (*Session, error) {
	sh := m.shardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := m.lookup(sh, id, now)
	if e == nil {
		return nil, ErrNotFound
	}
	c := e.session().Clone()
	if err := fn(c); err != nil {
		return nil, err
	}
	c.ID, c.Licensed = e.id, e.is(flagLicensed)
	c.Guest = c.Guest && e.is(flagGuest) // a session never becomes a guest again
	c.Expires = c.LastAccess.Add(c.IdleTimeout)
	e.set(m, c)
	if !c.Guest {
		m.dropGuest(e)
	}
	sh.place(e) // the expiration may have moved earlier
	return e.session(), nil
}

// TakeLicence implements Store.
func (m *MemoryStore) TakeLicence(_ context.Context, id string, max int) error {
	sh := m.shardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.entries[id]
	if !ok {
		return ErrNotFound
	}
	if e.is(flagLicensed) {
		return nil
	}
	if !m.takeLicence(max) {
		return ErrLicenceExhausted
	}
	e.setFlag(flagLicensed, true)
	if e.guest != nil {
		m.guestMu.Lock()
		e.guest.Value = guestValue(id, true)
		m.guestMu.Unlock()
	}
	return nil
}

// ReclaimGuestLicence implements Store.
//
// Cost: the guest list is walked from its least recently used end to the first licensed
// guest, so a reclaim costs the unlicensed guests used less recently than that one. In
// default login mode every guest holds a licence and that is O(1); unlicensed guests exist
// only in force login mode (where no guest holds a licence and nothing reclaims) or for a
// while after forceLogin changed, and the guest bound caps them. The walk holds the guest
// lock (guest creations and touches wait), never a shard lock; it is made twice, the
// second time with the chosen session's shard locked, to check that the choice still holds.
func (m *MemoryStore) ReclaimGuestLicence(_ context.Context, _ time.Time) (*Session, error) {
	for {
		m.guestMu.Lock()
		el := m.lruLicensedGuest()
		var id string
		if el != nil {
			id = guestID(el)
		}
		m.guestMu.Unlock()
		if el == nil {
			return nil, ErrNotFound
		}
		// The guest lock cannot be held while taking a shard lock (shards take them the
		// other way round): lock the shard, then check under both that the element is
		// still this session's and still the least recently used licensed guest. If it
		// is not (touched, granted, rotated or closed meanwhile), choose again.
		sh := m.shardOf(id)
		sh.mu.Lock()
		if e, ok := sh.entries[id]; ok && e.guest == el && e.is(flagGuest) && e.is(flagLicensed) {
			m.guestMu.Lock()
			still := m.lruLicensedGuest() == el
			m.guestMu.Unlock()
			if still {
				s := e.session()
				m.remove(sh, e)
				sh.mu.Unlock()
				return s, nil
			}
		}
		sh.mu.Unlock()
	}
}

// lruLicensedGuest is the least recently used guest holding a licence, nil when there is
// none. m.guestMu must be held.
func (m *MemoryStore) lruLicensedGuest() *list.Element {
	for el := m.guests.Back(); el != nil; el = el.Prev() {
		if _, ok := el.Value.(licensedID); ok {
			return el
		}
	}
	return nil
}

// Rotate implements Store. Both shards are locked (in index order) so the session is
// never visible under both IDs, nor under neither.
func (m *MemoryStore) Rotate(_ context.Context, oldID, newID string, now time.Time) (*Session, error) {
	a, b := m.shardOf(oldID), m.shardOf(newID)
	if a == b {
		a.mu.Lock()
		defer a.mu.Unlock()
	} else {
		first, second := a, b
		if m.shardIndex(newID) < m.shardIndex(oldID) {
			first, second = b, a
		}
		first.mu.Lock()
		defer first.mu.Unlock()
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	e := m.lookup(a, oldID, now)
	if e == nil {
		return nil, ErrNotFound
	}
	if _, dup := b.entries[newID]; dup {
		return nil, ErrExists
	}
	delete(a.entries, oldID)
	heap.Remove(&a.expiry, int(e.heapIdx))
	e.id = newID
	b.entries[newID] = e
	m.moveLocks(oldID, newID)
	if sets, ok := a.sets[oldID]; ok {
		delete(a.sets, oldID)
		if b.sets == nil {
			b.sets = make(map[string][]*memSet)
		}
		b.sets[newID] = sets
	}
	b.place(e)
	if e.guest != nil {
		m.guestMu.Lock()
		e.guest.Value = guestValue(newID, e.is(flagLicensed))
		m.guestMu.Unlock()
	}
	return e.session(), nil
}

// Delete implements Store.
func (m *MemoryStore) Delete(_ context.Context, id string) (*Session, error) {
	sh := m.shardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.entries[id]
	if !ok {
		return nil, ErrNotFound
	}
	s := e.session()
	m.remove(sh, e)
	return s, nil
}

// Sweep implements Store.
func (m *MemoryStore) Sweep(_ context.Context, now time.Time) (int, error) {
	removed := 0
	at := uint32(min(max(now.Unix(), 0), math.MaxUint32))
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for len(sh.expiry) > 0 && sh.expiry[0].heapAt <= at {
			e := sh.expiry[0]
			if e.expired(now) {
				m.remove(sh, e)
				removed++
				continue
			}
			next := expirySecond(e.expires)
			if next <= at {
				break // only past 2106, when keys saturate: stop rather than spin
			}
			e.heapAt = next
			heap.Fix(&sh.expiry, 0)
		}
		sh.mu.Unlock()
	}

	m.countersMu.Lock()
	for k, c := range m.counters {
		if !now.Before(c.reset) {
			delete(m.counters, k)
		}
	}
	m.countersMu.Unlock()
	m.tokensMu.Lock()
	for k, t := range m.tokens {
		if !now.Before(t.expires) {
			delete(m.tokens, k)
		}
	}
	m.tokensMu.Unlock()
	return removed, nil
}

// Stats implements Store.
func (m *MemoryStore) Stats(context.Context) (Stats, error) {
	var st Stats
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		st.Sessions += len(sh.entries)
		sh.mu.Unlock()
	}
	m.guestMu.Lock()
	st.Guests = m.guests.Len()
	m.guestMu.Unlock()
	st.Licensed = int(m.licensed.Load())
	return st, nil
}

// Range implements Store.
func (m *MemoryStore) Range(_ context.Context, fn func(*Session) bool) error {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		batch := make([]*Session, 0, len(sh.entries))
		for _, e := range sh.entries {
			batch = append(batch, e.session())
		}
		sh.mu.Unlock()
		for j := range batch {
			if !fn(batch[j]) {
				return nil
			}
		}
	}
	return nil
}

// Hit implements Store.
func (m *MemoryStore) Hit(_ context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	m.countersMu.Lock()
	defer m.countersMu.Unlock()
	c, ok := m.counters[key]
	if !ok || !now.Before(c.reset) {
		c = counter{reset: now.Add(window)}
	}
	c.n++
	m.counters[key] = c
	return c.n, c.reset, nil
}

// Unhit implements Store.
func (m *MemoryStore) Unhit(_ context.Context, key string, now time.Time) error {
	m.countersMu.Lock()
	defer m.countersMu.Unlock()
	c, ok := m.counters[key]
	if !ok || !now.Before(c.reset) || c.n == 0 {
		return nil
	}
	c.n--
	m.counters[key] = c
	return nil
}

// ResetHits implements Store.
func (m *MemoryStore) ResetHits(_ context.Context, key string) error {
	m.countersMu.Lock()
	delete(m.counters, key)
	m.countersMu.Unlock()
	return nil
}

// PutToken implements Store.
func (m *MemoryStore) PutToken(_ context.Context, tok, sessionID string, expires time.Time) error {
	m.tokensMu.Lock()
	m.tokens[tok] = token{sessionID: sessionID, expires: expires}
	m.tokensMu.Unlock()
	return nil
}

// TakeToken implements Store.
func (m *MemoryStore) TakeToken(_ context.Context, tok string, now time.Time) (string, error) {
	m.tokensMu.Lock()
	defer m.tokensMu.Unlock()
	t, ok := m.tokens[tok]
	if !ok {
		return "", ErrNotFound
	}
	delete(m.tokens, tok)
	if !now.Before(t.expires) {
		return "", ErrNotFound
	}
	return t.sessionID, nil
}

// Close implements Store: every session goes, and with it every licence.
func (m *MemoryStore) Close() error {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for _, e := range sh.entries {
			m.remove(sh, e)
		}
		sh.mu.Unlock()
	}
	return nil
}

// place puts e in the expiry heap at its current expiration (or moves it there).
func (sh *shard) place(e *entry) {
	e.heapAt = expirySecond(e.expires)
	if e.heapIdx >= 0 && int(e.heapIdx) < len(sh.expiry) && sh.expiry[e.heapIdx] == e {
		heap.Fix(&sh.expiry, int(e.heapIdx))
		return
	}
	heap.Push(&sh.expiry, e)
}

// expiryHeap is a min-heap of entries by heapAt.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].heapAt < h[j].heapAt }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = int32(i)
	h[j].heapIdx = int32(j)
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = int32(len(*h))
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}
