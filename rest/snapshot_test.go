package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/datastore"
	"gatehouse/sessions"
)

// snapshotModel puts a team's members (1→N) before its league (N→1): answering
// GET /rest/Teams(1)?$expand=members,league reads the team and its members' keys, stores
// them as an entity set, then reads the members and the league.
const snapshotModel = `{"dataClasses":[
 {"name":"Leagues","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string"}]},
 {"name":"Teams","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string"},
   {"name":"members","kind":"relatedEntities","path":"team"},
   {"name":"league","kind":"relatedEntity","type":"Leagues"}]},
 {"name":"Members","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string"},
   {"name":"team","kind":"relatedEntity","type":"Teams"}]}
]}`

const snapshotSeed = `{
 "Leagues":[{"ID":1,"name":"League One"}],
 "Teams":[{"ID":1,"name":"Reds","league":1}],
 "Members":[{"ID":1,"name":"Ann","team":1},{"ID":2,"name":"Ben","team":1},{"ID":3,"name":"Cid","team":1}]}`

// setHookStore is the memory store, calling its hook (when armed) each time an entity set
// is stored: within a request, after the set's keys were read and before its entities are.
type setHookStore struct {
	*sessions.MemoryStore
	hook atomic.Pointer[func() error]
}

func (s *setHookStore) PutEntitySet(ctx context.Context, sid string, set *sessions.EntitySet, keys []string, max int, now time.Time) error {
	if h := s.hook.Load(); h != nil {
		if err := (*h)(); err != nil {
			return err
		}
	}
	return s.MemoryStore.PutEntitySet(ctx, sid, set, keys, max, now)
}

// arm makes the next entity set stored call f, once.
func (s *setHookStore) arm(f func() error) {
	once := func() error {
		s.hook.Store(nil)
		return f()
	}
	s.hook.Store(&once)
}

func snapshotHarness(t *testing.T) (*harness, *setHookStore) {
	var store *setHookStore
	h := newHarness(t, harnessOptions{model: snapshotModel, seed: snapshotSeed,
		wrapStore: func(m *sessions.MemoryStore) sessions.Store {
			store = &setHookStore{MemoryStore: m}
			return store
		}})
	return h, store
}

// commitBetweenReads is a hook that commits, on other connections, a change to everything
// the tests read: Ann renamed, Ben deleted, the league renamed. It records how many
// snapshots were open then.
func commitBetweenReads(h *harness, open *atomic.Int64) func() error {
	return func() error {
		open.Store(int64(h.db.OpenSnapshots()))
		ctx := context.Background()
		m := h.db.Model()
		ann, err := h.db.Get(ctx, m.DataClass("Members"), "1")
		if err != nil {
			return err
		}
		ann.Values = map[string]any{"name": "Ann 2"}
		if _, err := h.db.Save(ctx, ann); err != nil {
			return err
		}
		if err := h.db.Drop(ctx, &datastore.Entity{DataClass: m.DataClass("Members"), Key: int64(2)}); err != nil {
			return err
		}
		league, err := h.db.Get(ctx, m.DataClass("Leagues"), "1")
		if err != nil {
			return err
		}
		league.Values = map[string]any{"name": "League 2"}
		_, err = h.db.Save(ctx, league)
		return err
	}
}

// TestReadOnlyRequestsReadOneSnapshot: a request that writes nothing answers one committed
// state, although another connection commits between its reads (while the request stores
// an entity set): a single entity with its expanded relations, a new entity set's first
// page, a related selection made an entity set. The next request sees the commit.
func TestReadOnlyRequestsReadOneSnapshot(t *testing.T) {
	q := url.QueryEscape
	tests := []struct {
		name, path string
		has        []string
		after      []string // what the same request answers once the commit is done
	}{
		{"EntityWithExpandedRelations", "/rest/Teams(1)?$expand=members,league",
			[]string{`"__COUNT":3,"__SENT":3`, `"name":"Ann"`, `"name":"Ben"`, `"name":"League One"`},
			[]string{`"__COUNT":2,"__SENT":2`, `"name":"Ann 2"`, `"name":"League 2"`}},
		{"NewEntitySetPage", "/rest/Members?$method=entityset&$orderby=" + q("name"),
			[]string{`"__COUNT":3,"__SENT":3`, `"name":"Ann"`, `"name":"Ben"`, `"name":"Cid"`},
			[]string{`"__COUNT":2,"__SENT":2`, `"name":"Ann 2"`}},
		{"RelatedSelectionAsEntitySet", "/rest/Teams(1)/members?$method=subentityset&$expand=team",
			[]string{`"__COUNT":3,"__SENT":3`, `"name":"Ann"`, `"name":"Ben"`},
			[]string{`"__COUNT":2,"__SENT":2`, `"name":"Ann 2"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store := snapshotHarness(t)
			c := h.client()
			var open atomic.Int64
			open.Store(-1)
			store.arm(commitBetweenReads(h, &open))
			r := c.get(tt.path)
			wantStatus(t, r, http.StatusOK, 0)
			if n := open.Load(); n != 1 {
				t.Errorf("snapshots open between the reads: %d, want 1 (the request's)", n)
			}
			for _, s := range tt.has {
				if !strings.Contains(string(r.body), s) {
					t.Errorf("answer lacks %s (the state of its first read):\n%s", s, r.body)
				}
			}
			for _, s := range []string{"Ann 2", "League 2"} {
				if strings.Contains(string(r.body), s) {
					t.Errorf("answer has %q, committed after its first read:\n%s", s, r.body)
				}
			}
			r = c.get(tt.path)
			wantStatus(t, r, http.StatusOK, 0)
			for _, s := range tt.after {
				if !strings.Contains(string(r.body), s) {
					t.Errorf("the next answer lacks %s (the commit):\n%s", s, r.body)
				}
			}
		})
	}
}

// TestFailedRequestsLeaveNoSnapshotOpen: a request that fails or panics after its snapshot
// began (a read made) still ends it: no read transaction is left holding a connection.
// Requests are served in the test's goroutine, so the handler is done when it returns.
func TestFailedRequestsLeaveNoSnapshotOpen(t *testing.T) {
	q := url.QueryEscape
	tests := []struct {
		name, path string
		hook       func() error
		status     int
	}{
		{"StoreFailsBetweenReads", "/rest/Teams(1)?$expand=members", func() error { return errors.New("store down") }, 500},
		{"PanicBetweenReads", "/rest/Members?$method=entityset", func() error { panic("hook panics") }, 500},
		{"RefusedAfterAKeyLookup", "/rest/Members:name(Ann)?$compute=count", nil, 400},
		{"BadFilterAfterReads", "/rest/Teams:name(Reds)/members?$filter=" + q("nosuch = 1"), nil, 404},
		{"NotFoundAfterAKeyLookup", "/rest/Members:name(Nobody)", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store := snapshotHarness(t)
			open := -1
			if tt.hook != nil {
				store.arm(func() error { open = h.db.OpenSnapshots(); return tt.hook() })
			}
			w := newRecorder()
			h.rest.ServeHTTP(w, mustRequest(http.MethodGet, tt.path))
			if w.Code != tt.status {
				t.Fatalf("GET %s: status %d, want %d; body %s", tt.path, w.Code, tt.status, w.Body)
			}
			if tt.hook != nil && open != 1 {
				t.Errorf("snapshots open when the request failed: %d, want 1 (the request's)", open)
			}
			if n := h.db.OpenSnapshots(); n != 0 {
				t.Errorf("snapshots open after the request: %d, want 0", n)
			}
		})
	}
}
