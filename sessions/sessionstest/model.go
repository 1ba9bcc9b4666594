package sessionstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse/sessions"
)

// This file checks the session store and the licence pool against a simple model: random
// sequences of create / touch / get / login (take a licence, grant privileges, rotate) /
// take-licence / rotate / set the idle timeout / logout / expire / sweep / evict (a burst
// of guests) / login into a new session (which may reclaim an anonymous session's
// licence), first one at a time against an exact model, then from many goroutines at
// once against the invariants that must hold whatever the interleaving.
//
// The seeds are fixed so that a failure can be replayed; every failure message names the
// seed and the step.

// modelSession is what the model expects of one stored session.
type modelSession struct {
	licensed, guest bool
	lastAccess      time.Time
	expires         time.Time
	idle            time.Duration
}

func (ms *modelSession) expired(now time.Time) bool { return !now.Before(ms.expires) }

// storeModel is the reference: a map of stored sessions (expired ones included until a
// lookup or a sweep removes them, as the Store contract says) and the guest LRU order.
type storeModel struct {
	cap, maxGuests int
	min, max       time.Duration
	sessions       map[string]*modelSession
	lru            []string // guests, most recently used first
	dead           []string // IDs that must never work again (rotated, closed, evicted, expired)
}

func newStoreModel(cap, maxGuests int, min, max time.Duration) *storeModel {
	return &storeModel{cap: cap, maxGuests: maxGuests, min: min, max: max, sessions: map[string]*modelSession{}}
}

func (md *storeModel) clamp(d time.Duration) time.Duration { return min(max(d, md.min), md.max) }

func (md *storeModel) licensed() int {
	n := 0
	for _, ms := range md.sessions {
		if ms.licensed {
			n++
		}
	}
	return n
}

func (md *storeModel) remove(id string) {
	delete(md.sessions, id)
	md.dropGuest(id)
	md.dead = append(md.dead, id)
}

func (md *storeModel) dropGuest(id string) {
	if i := slices.Index(md.lru, id); i >= 0 {
		md.lru = slices.Delete(md.lru, i, i+1)
	}
}

func (md *storeModel) front(id string) {
	if i := slices.Index(md.lru, id); i >= 0 {
		md.lru = slices.Delete(md.lru, i, i+1)
		md.lru = slices.Insert(md.lru, 0, id)
	}
}

// lookup is the store's lookup: an expired session is removed on the spot.
func (md *storeModel) lookup(id string, now time.Time) *modelSession {
	ms, ok := md.sessions[id]
	if !ok {
		return nil
	}
	if ms.expired(now) {
		md.remove(id)
		return nil
	}
	return ms
}

// add stores a new guest session and evicts least recently used guests past the bound.
func (md *storeModel) add(id string, ms *modelSession) {
	md.sessions[id] = ms
	if ms.guest {
		md.lru = slices.Insert(md.lru, 0, id)
	}
	for md.maxGuests > 0 && len(md.lru) > md.maxGuests {
		md.remove(md.lru[len(md.lru)-1])
	}
}

func (md *storeModel) ids() []string {
	ids := make([]string, 0, len(md.sessions))
	for id := range md.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// pick returns a stored ID, now and then a dead one, or "" when there is nothing to pick.
func (md *storeModel) pick(r *rand.Rand) string {
	if len(md.dead) > 0 && r.IntN(8) == 0 {
		return md.dead[r.IntN(len(md.dead))]
	}
	ids := md.ids()
	if len(ids) == 0 {
		return ""
	}
	return ids[r.IntN(len(ids))]
}

// snapshot reads every stored session (expired ones not yet removed included).
func snapshot(t *testing.T, m *sessions.Manager) map[string]sessions.Session {
	t.Helper()
	got := map[string]sessions.Session{}
	if err := m.Range(context.Background(), func(s *sessions.Session) bool {
		if _, dup := got[s.ID]; dup {
			t.Fatalf("Range gave session %s twice", s.ID)
		}
		got[s.ID] = *s
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// compare checks the store against the model: the same sessions with the same licence,
// guest flag and expiration, counts that agree, and the caps respected.
func (md *storeModel) compare(t *testing.T, m *sessions.Manager, where string) {
	t.Helper()
	got := snapshot(t, m)
	for id, ms := range md.sessions {
		s, ok := got[id]
		switch {
		case !ok:
			t.Fatalf("%s: session %s missing from the store", where, id)
		case s.Licensed != ms.licensed || s.Guest != ms.guest:
			t.Fatalf("%s: session %s: got licensed %v guest %v, want %v %v", where, id, s.Licensed, s.Guest, ms.licensed, ms.guest)
		case !s.Expires.Equal(ms.expires):
			t.Fatalf("%s: session %s: got expiration %v, want %v", where, id, s.Expires, ms.expires)
		}
	}
	for id := range got {
		if _, ok := md.sessions[id]; !ok {
			t.Fatalf("%s: the store holds session %s the model does not know (dead: %v)", where, id, slices.Contains(md.dead, id))
		}
	}
	st := stats(t, m)
	want := sessions.Stats{Sessions: len(md.sessions), Guests: len(md.lru), Licensed: md.licensed()}
	if st != want {
		t.Fatalf("%s: stats: got %+v, want %+v", where, st, want)
	}
	if md.cap > 0 && st.Licensed > md.cap {
		t.Fatalf("%s: %d licences held, cap %d", where, st.Licensed, md.cap)
	}
	if md.maxGuests > 0 && st.Guests > md.maxGuests {
		t.Fatalf("%s: %d guests, bound %d", where, st.Guests, md.maxGuests)
	}
}

// reclaimVictim is the session ReclaimGuestLicence must close: the least recently used
// guest holding a licence (expired or not: the store keeps expired sessions until a lookup
// or a sweep removes them), "" when there is none.
func (md *storeModel) reclaimVictim() string {
	for i := len(md.lru) - 1; i >= 0; i-- {
		if md.sessions[md.lru[i]].licensed {
			return md.lru[i]
		}
	}
	return ""
}

// insertLogin stores a draft that has just logged in (sessions.Manager.InsertLogin) and applies it
// to the model: a free licence if there is one, else the licence of the least recently
// used anonymous session, else sessions.ErrLicenceExhausted and nothing stored. A draft still a
// guest (a login without onRESTAuthentication) joins the guests, and their bound.
func (md *storeModel) insertLogin(t *testing.T, m *sessions.Manager, guest bool, now time.Time, where string) {
	t.Helper()
	d, err := m.Draft("10.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	d.Guest, d.Authenticated = guest, !guest
	err = m.InsertLogin(context.Background(), d)
	if md.licensed() >= md.cap {
		victim := md.reclaimVictim()
		if victim == "" {
			if !errors.Is(err, sessions.ErrLicenceExhausted) {
				t.Fatalf("%s: got %v, want sessions.ErrLicenceExhausted", where, err)
			}
			return
		}
		md.remove(victim)
	}
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if !d.Licensed || d.Guest != guest {
		t.Fatalf("%s: got licensed %v guest %v, want true %v", where, d.Licensed, d.Guest, guest)
	}
	md.add(d.ID, &modelSession{licensed: true, guest: guest, lastAccess: now, expires: now.Add(time.Hour), idle: time.Hour})
}

// wantFound checks an operation's error against whether the model found the session.
func wantFound(t *testing.T, where string, err error, found bool) {
	t.Helper()
	switch {
	case found && err != nil:
		t.Fatalf("%s: got %v, want success", where, err)
	case !found && !errors.Is(err, sessions.ErrNotFound):
		t.Fatalf("%s: got %v, want sessions.ErrNotFound", where, err)
	}
}

// login does what a script's setPrivileges does to a stored session (take a licence, grant
// privileges, rotate the ID) and applies it to the model.
func (md *storeModel) login(t *testing.T, m *sessions.Manager, id string, now time.Time, where string) {
	t.Helper()
	ctx := context.Background()
	ms, stored := md.sessions[id]
	err := m.TakeLicence(ctx, id)
	switch {
	case !stored:
		wantFound(t, where, err, false)
		return
	case !ms.licensed && md.licensed() >= md.cap:
		if !errors.Is(err, sessions.ErrLicenceExhausted) {
			t.Fatalf("%s: got %v, want sessions.ErrLicenceExhausted", where, err)
		}
		return
	case err != nil:
		t.Fatalf("%s: take licence: %v", where, err)
	}
	ms.licensed = true
	_, err = m.Update(ctx, id, func(s *sessions.Session) error {
		s.Privileges, s.Guest, s.Authenticated = []string{"reader"}, false, true
		return nil
	})
	if ms = md.lookup(id, now); ms == nil {
		wantFound(t, where+": update", err, false)
		return
	}
	wantFound(t, where+": update", err, true)
	ms.guest = false
	md.dropGuest(id)
	s, err := m.Rotate(ctx, id)
	if err != nil {
		t.Fatalf("%s: rotate: %v", where, err)
	}
	delete(md.sessions, id)
	md.dead = append(md.dead, id)
	md.sessions[s.ID] = ms
	if _, err := m.Get(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("%s: the old ID still works after rotation: %v", where, err)
	}
}

// TestStoreMatchesModel runs long random sequences of operations, one at a time, and
// compares the whole store with the model after each.
func testMatchesModel(t *testing.T, newStore NewStore) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprintf("Seed%d", seed), func(t *testing.T) {
			const cap, maxGuests = 4, 6
			ctx := context.Background()
			m, c := newTestManager(t, newStore, cap, maxGuests)
			md := newStoreModel(cap, maxGuests, time.Minute, 24*time.Hour)
			r := rand.New(rand.NewPCG(seed, 99))
			idles := []time.Duration{30 * time.Second, 2 * time.Minute, 45 * time.Minute, 3 * time.Hour, 48 * time.Hour}
			for step := range 1500 {
				now := c.Now()
				var where string
				switch op := r.IntN(14); op {
				case 0, 1: // create: a guest, licensed or not (default or force login mode)
					licence := r.IntN(2) == 0
					where = fmt.Sprintf("step %d: create(licence %v)", step, licence)
					s, err := m.Create(ctx, "10.0.0.1", licence)
					if licence && md.licensed() >= cap {
						if !errors.Is(err, sessions.ErrLicenceExhausted) {
							t.Fatalf("%s: got %v, want sessions.ErrLicenceExhausted", where, err)
						}
						break
					}
					if err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					if s.Licensed != licence || !s.Guest {
						t.Fatalf("%s: got licensed %v guest %v", where, s.Licensed, s.Guest)
					}
					md.add(s.ID, &modelSession{licensed: licence, guest: true, lastAccess: now, expires: now.Add(time.Hour), idle: time.Hour})
				case 2: // touch
					id := md.pick(r)
					where = fmt.Sprintf("step %d: touch", step)
					s, err := m.Touch(ctx, id)
					ms := md.lookup(id, now)
					wantFound(t, where, err, ms != nil)
					if ms != nil {
						ms.lastAccess, ms.expires = now, now.Add(ms.idle)
						md.front(id)
						if s.ID != id || !s.Expires.Equal(ms.expires) {
							t.Fatalf("%s: got %s expiring %v, want %s expiring %v", where, s.ID, s.Expires, id, ms.expires)
						}
					}
				case 3: // get: no effect on the expiration nor on the guest order
					id := md.pick(r)
					where = fmt.Sprintf("step %d: get", step)
					_, err := m.Get(ctx, id)
					wantFound(t, where, err, md.lookup(id, now) != nil)
				case 4, 5: // login as a script does it: licence, privileges, new ID
					where = fmt.Sprintf("step %d: login", step)
					md.login(t, m, md.pick(r), now, where)
				case 6: // take a licence alone
					id := md.pick(r)
					where = fmt.Sprintf("step %d: take licence", step)
					err := m.TakeLicence(ctx, id)
					ms, stored := md.sessions[id]
					switch {
					case !stored:
						wantFound(t, where, err, false)
					case ms.licensed:
						if err != nil {
							t.Fatalf("%s: a licensed session taking its licence again: %v", where, err)
						}
					case md.licensed() >= cap:
						if !errors.Is(err, sessions.ErrLicenceExhausted) {
							t.Fatalf("%s: got %v, want sessions.ErrLicenceExhausted", where, err)
						}
					default:
						if err != nil {
							t.Fatalf("%s: %v", where, err)
						}
						ms.licensed = true
					}
				case 7: // rotate
					id := md.pick(r)
					where = fmt.Sprintf("step %d: rotate", step)
					s, err := m.Rotate(ctx, id)
					ms := md.lookup(id, now)
					wantFound(t, where, err, ms != nil)
					if ms != nil {
						delete(md.sessions, id)
						md.dead = append(md.dead, id)
						md.sessions[s.ID] = ms
						if i := slices.Index(md.lru, id); i >= 0 {
							md.lru[i] = s.ID
						}
					}
				case 8: // a script sets the idle timeout
					id := md.pick(r)
					idle := idles[r.IntN(len(idles))]
					where = fmt.Sprintf("step %d: idle %v", step, idle)
					_, err := m.Update(ctx, id, func(s *sessions.Session) error { s.IdleTimeout = idle; return nil })
					ms := md.lookup(id, now)
					wantFound(t, where, err, ms != nil)
					if ms != nil {
						ms.idle = md.clamp(idle)
						ms.expires = ms.lastAccess.Add(ms.idle)
					}
				case 9: // logout
					id := md.pick(r)
					where = fmt.Sprintf("step %d: logout", step)
					if err := m.Delete(ctx, id); err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					if _, ok := md.sessions[id]; ok {
						md.remove(id)
					}
				case 10: // time passes; sub-second parts exercise the edges of expiry
					d := time.Duration(r.IntN(90))*time.Minute + time.Duration(r.Int64N(int64(time.Second)))
					where = fmt.Sprintf("step %d: advance %v", step, d)
					c.Add(d)
				case 11: // sweep
					where = fmt.Sprintf("step %d: sweep", step)
					n, err := m.Sweep(ctx)
					if err != nil {
						t.Fatal(err)
					}
					md.sweep(t, m, where, now, n)
				case 12: // evict: a burst of guests pushes the least recently used ones out
					k := 1 + r.IntN(maxGuests)
					where = fmt.Sprintf("step %d: %d guests", step, k)
					for range k {
						s, err := m.Create(ctx, "10.0.0.2", false)
						if err != nil {
							t.Fatalf("%s: %v", where, err)
						}
						md.add(s.ID, &modelSession{guest: true, lastAccess: now, expires: now.Add(time.Hour), idle: time.Hour})
					}
				case 13: // a login into a new session, reclaiming an anonymous one's licence if need be
					guest := r.IntN(4) == 0
					where = fmt.Sprintf("step %d: insert login (guest %v)", step, guest)
					md.insertLogin(t, m, guest, now, where)
				}
				md.compare(t, m, where)
				for _, id := range md.dead[max(0, len(md.dead)-3):] {
					if _, err := m.Get(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
						t.Fatalf("%s: dead session %s answers: %v", where, id, err)
					}
				}
			}
			// In the end everything expires, and every licence comes back.
			c.Add(25 * time.Hour)
			if _, err := m.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if st := stats(t, m); st != (sessions.Stats{}) {
				t.Fatalf("after everything expired: %+v", st)
			}
		})
	}
}

// sweep applies a Sweep at now to the model. The store keys its expiry heap by whole
// seconds, so a session that expired less than a second ago may survive one sweep (it is
// still never served: lookups check the exact time); one expired longer ago must be gone.
// n, the count the store reported, must match what went.
func (md *storeModel) sweep(t *testing.T, m *sessions.Manager, where string, now time.Time, n int) {
	t.Helper()
	got := snapshot(t, m)
	removed := 0
	for _, id := range md.ids() {
		ms := md.sessions[id]
		if !ms.expired(now) {
			continue
		}
		if _, still := got[id]; still {
			if now.Sub(ms.expires) >= time.Second {
				t.Fatalf("%s: session %s expired %v ago and survived a sweep", where, id, now.Sub(ms.expires))
			}
			continue
		}
		md.remove(id)
		removed++
	}
	if n != removed {
		t.Fatalf("%s: the sweep reported %d removed, %d went", where, n, removed)
	}
}

// TestStoreInvariantsUnderConcurrency lets many goroutines run random operations on their
// own sessions at once, while the licence cap and the guest bound are shared. Between
// rounds (all workers stopped) the clock moves, the sweeper runs, and the store is checked
// against the union of the workers' models. During a round a watcher checks that the
// licences held never exceed the cap.
func testInvariantsUnderConcurrency(t *testing.T, newStore NewStore) {
	const (
		workers   = 8
		rounds    = 30
		opsRound  = 150
		cap       = 6
		maxGuests = 12
		seed      = 2026
	)
	ctx := context.Background()
	m, c := newTestManager(t, newStore, cap, maxGuests)
	models := make([]*storeModel, workers)
	rngs := make([]*rand.Rand, workers)
	for w := range workers {
		models[w] = newStoreModel(cap, maxGuests, time.Minute, 24*time.Hour)
		rngs[w] = rand.New(rand.NewPCG(seed, uint64(w)))
	}
	main := rand.New(rand.NewPCG(seed, 1000))

	for round := range rounds {
		stop := make(chan struct{})
		watchErr := make(chan error, 1)
		var watcher sync.WaitGroup
		watcher.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := m.Stats(ctx)
				if err == nil && st.Licensed > cap {
					err = fmt.Errorf("round %d: %d licences held, cap %d", round, st.Licensed, cap)
				}
				if err != nil {
					watchErr <- err
					return
				}
			}
		})
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				if err := runWorker(ctx, m, models[w], rngs[w], c.Now(), opsRound); err != nil {
					errs <- fmt.Errorf("round %d, worker %d: %w", round, w, err)
				}
			})
		}
		wg.Wait()
		close(stop)
		watcher.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		select {
		case err := <-watchErr:
			t.Fatal(err)
		default:
		}
		checkUnion(t, m, models, c.Now(), fmt.Sprintf("round %d", round))

		// Between rounds: time passes, and now and then the sweeper runs.
		c.Add(time.Duration(main.IntN(40))*time.Minute + time.Duration(main.Int64N(int64(time.Second))))
		if main.IntN(2) == 0 {
			if _, err := m.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			now := c.Now()
			got := snapshot(t, m)
			for _, md := range models {
				for _, id := range md.ids() {
					ms := md.sessions[id]
					if _, still := got[id]; ms.expired(now) && !still {
						md.remove(id)
					} else if still && ms.expired(now) && now.Sub(ms.expires) >= time.Second {
						t.Fatalf("round %d: session expired %v ago survived a sweep", round, now.Sub(ms.expires))
					}
				}
			}
		}
	}
	c.Add(25 * time.Hour)
	if _, err := m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if st := stats(t, m); st != (sessions.Stats{}) {
		t.Fatalf("after everything expired: %+v", st)
	}
}

// runWorker runs n random operations on the worker's own sessions. The clock does not
// move during a round, so expiry is decided; what other workers do shows only as a full
// licence pool (any licence request may be refused) and as guests evicted to make room or
// closed for their licence by a login (any guest may vanish). Everything else must go as the worker's model says.
func runWorker(ctx context.Context, m *sessions.Manager, md *storeModel, r *rand.Rand, now time.Time, n int) error {
	// gone handles sessions.ErrNotFound for a session the model holds: fine for an expired one or
	// a guest (evicted by someone's new guest), a failure for any other.
	gone := func(id, op string) error {
		ms := md.sessions[id]
		if ms == nil || ms.expired(now) || ms.guest {
			if ms != nil {
				md.remove(id)
			}
			return nil
		}
		return fmt.Errorf("%s: live session %s not found", op, id)
	}
	check := func(op, id string, s *sessions.Session, err error) (bool, error) {
		ms := md.sessions[id]
		switch {
		case errors.Is(err, sessions.ErrNotFound):
			return false, gone(id, op)
		case err != nil:
			return false, fmt.Errorf("%s: %w", op, err)
		case ms == nil:
			return false, fmt.Errorf("%s: dead session %s answered", op, id)
		case ms.expired(now):
			return false, fmt.Errorf("%s: expired session %s was served", op, id)
		case s != nil && (s.Licensed != ms.licensed || s.Guest != ms.guest):
			return false, fmt.Errorf("%s: session %s: got licensed %v guest %v, want %v %v", op, id, s.Licensed, s.Guest, ms.licensed, ms.guest)
		}
		return true, nil
	}
	for range n {
		id := md.pick(r)
		var err error
		switch r.IntN(10) {
		case 0, 1: // create
			licence := r.IntN(2) == 0
			s, cerr := m.Create(ctx, "10.1.1.1", licence)
			switch {
			case errors.Is(cerr, sessions.ErrLicenceExhausted) && licence:
			case cerr != nil:
				err = fmt.Errorf("create: %w", cerr)
			default:
				md.sessions[s.ID] = &modelSession{licensed: licence, guest: true, lastAccess: now, expires: now.Add(time.Hour), idle: time.Hour}
			}
		case 2: // touch
			s, terr := m.Touch(ctx, id)
			var ok bool
			if ok, err = check("touch", id, s, terr); ok {
				ms := md.sessions[id]
				ms.lastAccess, ms.expires = now, now.Add(ms.idle)
			}
		case 3: // login: licence, privileges, rotation
			err = md.workerLogin(ctx, m, id, now, check, gone)
		case 4: // take a licence
			ms := md.sessions[id]
			lerr := m.TakeLicence(ctx, id)
			switch {
			case errors.Is(lerr, sessions.ErrLicenceExhausted):
				if ms != nil && ms.licensed {
					err = fmt.Errorf("take licence: a licensed session was refused its own licence")
				}
			case errors.Is(lerr, sessions.ErrNotFound):
				err = gone(id, "take licence")
			case lerr != nil:
				err = fmt.Errorf("take licence: %w", lerr)
			case ms == nil:
				err = fmt.Errorf("take licence: dead session %s took a licence", id)
			default:
				ms.licensed = true
			}
		case 5: // rotate
			s, rerr := m.Rotate(ctx, id)
			var ok bool
			if ok, err = check("rotate", id, s, rerr); ok {
				ms := md.sessions[id]
				delete(md.sessions, id)
				md.dead = append(md.dead, id)
				md.sessions[s.ID] = ms
				if _, gerr := m.Get(ctx, id); !errors.Is(gerr, sessions.ErrNotFound) {
					err = fmt.Errorf("rotate: old ID still answers: %v", gerr)
				}
			}
		case 6: // idle timeout
			idle := []time.Duration{time.Second, 10 * time.Minute, 2 * time.Hour}[r.IntN(3)]
			s, uerr := m.Update(ctx, id, func(s *sessions.Session) error { s.IdleTimeout = idle; return nil })
			var ok bool
			if ok, err = check("set idle", id, s, uerr); ok {
				ms := md.sessions[id]
				ms.idle = md.clamp(idle)
				ms.expires = ms.lastAccess.Add(ms.idle)
			}
		case 7: // logout
			if derr := m.Delete(ctx, id); derr != nil {
				err = fmt.Errorf("logout: %w", derr)
			} else if _, ok := md.sessions[id]; ok {
				md.remove(id)
			}
		case 8: // get
			s, gerr := m.Get(ctx, id)
			_, err = check("get", id, s, gerr)
		case 9: // a login into a new session: may close any worker's licensed guest
			d, derr := m.Draft("10.1.1.2")
			if derr != nil {
				return derr
			}
			d.Guest, d.Authenticated = false, true
			switch lerr := m.InsertLogin(ctx, d); {
			case errors.Is(lerr, sessions.ErrLicenceExhausted):
			case lerr != nil:
				err = fmt.Errorf("insert login: %w", lerr)
			case !d.Licensed:
				err = errors.New("insert login: stored without a licence")
			default:
				md.sessions[d.ID] = &modelSession{licensed: true, lastAccess: now, expires: now.Add(time.Hour), idle: time.Hour}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// workerLogin is login for a worker of the concurrent test: another worker may hold the
// last licence, and a guest may be evicted at any moment.
func (md *storeModel) workerLogin(ctx context.Context, m *sessions.Manager, id string, now time.Time,
	check func(op, id string, s *sessions.Session, err error) (bool, error), gone func(id, op string) error) error {
	ms := md.sessions[id]
	err := m.TakeLicence(ctx, id)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return gone(id, "login")
	case errors.Is(err, sessions.ErrLicenceExhausted) && ms != nil && !ms.licensed:
		return nil // another worker holds the last licence
	case err != nil:
		return fmt.Errorf("login: take licence: %w", err)
	case ms == nil:
		return fmt.Errorf("login: dead session %s took a licence", id)
	}
	ms.licensed = true
	s, err := m.Update(ctx, id, func(s *sessions.Session) error { s.Guest, s.Privileges = false, []string{"vip"}; return nil })
	if ok, err := check("login: update", id, nil, err); !ok || err != nil {
		return err
	}
	if s.Guest || !s.Licensed {
		return fmt.Errorf("login: after the update: guest %v licensed %v", s.Guest, s.Licensed)
	}
	ms.guest = false
	s, err = m.Rotate(ctx, id)
	if err != nil {
		return fmt.Errorf("login: rotate a live non-guest session: %w", err)
	}
	delete(md.sessions, id)
	md.dead = append(md.dead, id)
	md.sessions[s.ID] = ms
	return nil
}

// checkUnion compares the store with the workers' models while nobody runs: every stored
// session belongs to exactly one worker, every live non-guest session of a model is
// stored, and licences and counts agree. Guests a model holds but the store lost were
// evicted: the model forgets them.
func checkUnion(t *testing.T, m *sessions.Manager, models []*storeModel, now time.Time, where string) {
	t.Helper()
	got := snapshot(t, m)
	owner := map[string]int{}
	for w, md := range models {
		for _, id := range md.ids() {
			ms := md.sessions[id]
			s, ok := got[id]
			switch {
			case !ok && (ms.guest || ms.expired(now)):
				md.remove(id) // evicted, or expired and removed by a lookup elsewhere
				continue
			case !ok:
				t.Fatalf("%s: worker %d's live session %s is missing", where, w, id)
			case s.Licensed != ms.licensed || s.Guest != ms.guest:
				t.Fatalf("%s: session %s: got licensed %v guest %v, want %v %v", where, id, s.Licensed, s.Guest, ms.licensed, ms.guest)
			}
			owner[id] = w
		}
	}
	licensed, guests := 0, 0
	for id, s := range got {
		if _, ok := owner[id]; !ok {
			t.Fatalf("%s: the store holds session %s that no worker owns", where, id)
		}
		if s.Licensed {
			licensed++
		}
		if s.Guest {
			guests++
		}
	}
	st := stats(t, m)
	if want := (sessions.Stats{Sessions: len(got), Guests: guests, Licensed: licensed}); st != want {
		t.Fatalf("%s: stats: got %+v, want %+v", where, st, want)
	}
	if st.Licensed > models[0].cap || st.Guests > models[0].maxGuests {
		t.Fatalf("%s: over a bound: %+v", where, st)
	}
}
