package rest

import (
	"encoding/json"
	"errors"
	"net/http"

	"strings"
	"time"

	"gatehouse/datastore"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// Entity sets (SPEC §3.7): a session's server-side selections. A set holds the ordered
// primary keys of its entities (in the session store, with the session), never the rows: a
// page is read by its keys, so paging a large set costs the page.

const (
	// defaultSetTimeout is an entity set's lifetime when $timeout does not say (4D's).
	defaultSetTimeout = 7200 * time.Second
	// maxSetTimeout bounds $timeout: a set never outlives its session anyway.
	maxSetTimeout = 7 * 24 * time.Hour
)

var errUnknownEntitySet = errorf(http.StatusNotFound, codeUnknownDataClass, "Unknown entity set")

// setURI is a set's __ENTITYSET.
func setURI(dc *datastore.DataClass, id string) string {
	return "/rest/" + dc.Name + "/" + entitySetSegment + id
}

// sid is the request's session ID (data requests always have a session).
func (v *dataView) sid() string { return v.st.sess().ID }

// setTimeout reads $timeout (seconds).
func setTimeout(r *http.Request) (time.Duration, error) {
	n, err := intParam(r, "$timeout", -1)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return defaultSetTimeout, nil
	}
	return min(time.Duration(n)*time.Second, maxSetTimeout), nil
}

// storeSet keeps keys as a new entity set of dc for the session and returns it. q is the
// query that built it, kept ($savedfilter / $savedorderby when the client gave them) so the
// set can be built again once dropped.
func (v *dataView) storeSet(r *http.Request, dc *datastore.DataClass, keys []string, q datastore.Query) (*sessions.EntitySet, error) {
	timeout, err := setTimeout(r)
	if err != nil {
		return nil, err
	}
	set := &sessions.EntitySet{DataClass: dc.Name, Filter: q.Filter, OrderBy: q.OrderBy, Timeout: timeout}
	if f := queryParam(r, "$savedfilter"); f != "" {
		set.Filter = f
	}
	if o := queryParam(r, "$savedorderby"); o != "" {
		set.OrderBy = o
	}
	if raw := queryParam(r, "$params"); raw != "" && set.Filter == q.Filter {
		set.Params = json.RawMessage(raw)
	}
	if err := v.srv.cfg.App.Sessions().PutEntitySet(v.ctx, v.sid(), set, keys); err != nil {
		return nil, err
	}
	return set, nil
}

// page reads the entities of keys (a window of a set) in their order and answers them as a
// selection of count entities starting at first, with the set's URI when setID is given.
func (v *dataView) page(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, setID string, keys []string, count, first int) error {
	shape, err := parseShape(r)
	if err != nil {
		return err
	}
	read := v.lastReader()
	if v.expands(dc, shape) {
		read = v.reader()
	}
	entities, err := read.GetMany(v.ctx, dc, keys)
	if err != nil {
		return err
	}
	out, err := v.selection(&datastore.Selection{DataClass: dc, Entities: entities, Count: count, First: first}, shape, 0)
	if err != nil {
		return err
	}
	writeSelection(w, r, append(withSet(out, dc, setID), v.extra...))
	return nil
}

// withSet puts __ENTITYSET first in a selection's answer, as 4D does.
func withSet(out object, dc *datastore.DataClass, setID string) object {
	if setID == "" {
		return out
	}
	return append(object{{"__ENTITYSET", setURI(dc, setID)}}, out...)
}

// window returns keys[skip:skip+limit] clamped to keys.
func window(keys []string, skip, limit int) []string {
	skip = min(max(skip, 0), len(keys))
	end := len(keys)
	if limit >= 0 && skip+limit < end {
		end = skip + limit
	}
	return keys[skip:end]
}

// createEntitySet handles "GET|POST /rest/{DC}?$method=entityset": the query's keys become
// a new entity set, answered with its first page.
func (v *dataView) createEntitySet(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass) error {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	q, err := v.srv.queryOptions(r)
	if err != nil {
		return err
	}
	return v.newSetFromQuery(w, r, dc, q)
}

// newSetFromQuery stores the keys q selects as a new set and answers its page q.Skip, q.Limit.
func (v *dataView) newSetFromQuery(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, q datastore.Query) error {
	all := v.query(q)
	all.Skip, all.Limit = 0, 0
	keys, err := v.reader().FindKeys(v.ctx, dc, all)
	if err != nil {
		return err
	}
	set, err := v.storeSet(r, dc, keys, q)
	if err != nil {
		return err
	}
	if v.extra, err = v.queryPlan(r, dc, q); err != nil {
		return err
	}
	return v.page(w, r, dc, set.ID, window(keys, q.Skip, q.Limit), len(keys), q.Skip)
}

// entitySet handles "GET|POST /rest/{DC}/$entityset/{ID}": paging ($skip, $top, $attributes,
// $expand), a query inside the set ($filter, $orderby), combining sets ($logicOperator,
// $otherCollection), $clean, $method=release, $method=delete and, with $method=entityset,
// a new set from the result.
func (v *dataView) entitySet(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, id, method string) error {
	action := roles.Read
	if method == "delete" {
		action = roles.Drop
	}
	if err := v.require(action, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	m := v.srv.cfg.App.Sessions()
	if method == "release" {
		if err := m.ReleaseEntitySet(v.ctx, v.sid(), id); err != nil {
			return setError(err)
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	}
	q, err := v.srv.queryOptions(r)
	if err != nil {
		return err
	}
	sub := q.Filter != "" || q.OrderBy != ""
	op := strings.ToUpper(queryParam(r, "$logicOperator"))
	clean := queryParam(r, "$clean") == "true"
	whole := sub || op != "" || clean || method == "delete"
	from, n := q.Skip, q.Limit
	if whole {
		from, n = 0, -1
	}
	set, keys, err := m.EntitySet(v.ctx, v.sid(), id, from, n)
	if errors.Is(err, sessions.ErrNotFound) && method != "delete" && !whole {
		// Dropped (timeout, bound, another instance lost it): built again by query when
		// the client kept the query with it.
		if f, o := queryParam(r, "$savedfilter"), queryParam(r, "$savedorderby"); f != "" || o != "" {
			saved := q
			saved.Filter, saved.OrderBy = f, o
			return v.newSetFromQuery(w, r, dc, saved)
		}
	}
	if err != nil {
		return setError(err)
	}
	if set.DataClass != dc.Name {
		return errUnknownEntitySet
	}
	switch {
	case method == "delete":
		if err := v.checkUnlocked(dc, keys...); err != nil {
			return err
		}
		if _, err := v.srv.cfg.Data.DeleteWhere(v.ctx, dc, datastore.Query{InKeys: true, Keys: keys}); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	case op != "":
		other := queryParam(r, "$otherCollection")
		if !sessions.ValidID(other) {
			return errorf(http.StatusBadRequest, codeMalformedURL, "$otherCollection must be an entity set ID")
		}
		oset, okeys, err := m.EntitySet(v.ctx, v.sid(), other, 0, -1)
		if err != nil {
			return setError(err)
		}
		if oset.DataClass != dc.Name {
			return errorf(http.StatusBadRequest, codeMalformedURL, "$otherCollection is an entity set of another dataclass")
		}
		if keys, err = combine(keys, okeys, op); err != nil {
			return err
		}
	case clean:
		// Only the entities that still exist, in the set's order.
		live, err := v.reader().FindKeys(v.ctx, dc, datastore.Query{InKeys: true, Keys: keys})
		if err != nil {
			return err
		}
		exists := make(map[string]bool, len(live))
		for _, k := range live {
			exists[k] = true
		}
		kept := keys[:0:0]
		for _, k := range keys {
			if exists[k] {
				kept = append(kept, k)
			}
		}
		keys = kept
		method = "entityset" // $clean answers a new set
	}
	if sub {
		// A query inside the set: the database filters and orders the set's keys.
		inside := v.query(q)
		inside.InKeys, inside.Keys = true, keys
		if method != "entityset" {
			sel, err := v.reader().Find(v.ctx, dc, inside)
			if err != nil {
				return err
			}
			shape, err := parseShape(r)
			if err != nil {
				return err
			}
			out, err := v.selection(sel, shape, 0)
			if err != nil {
				return err
			}
			writeSelection(w, r, out)
			return nil
		}
		inside.Skip, inside.Limit = 0, 0
		if keys, err = v.reader().FindKeys(v.ctx, dc, inside); err != nil {
			return err
		}
	}
	if whole {
		setID := ""
		if method == "entityset" {
			ns, err := v.storeSet(r, dc, keys, datastore.Query{Filter: q.Filter, OrderBy: q.OrderBy})
			if err != nil {
				return err
			}
			setID = ns.ID
		}
		return v.page(w, r, dc, setID, window(keys, q.Skip, q.Limit), len(keys), q.Skip)
	}
	return v.page(w, r, dc, id, keys, set.Count, q.Skip)
}

// combine applies $logicOperator to two sets' keys, keeping a's order (then b's for OR).
func combine(a, b []string, op string) ([]string, error) {
	inB := make(map[string]bool, len(b))
	for _, k := range b {
		inB[k] = true
	}
	var out []string
	switch op {
	case "AND", "INTERSECT":
		for _, k := range a {
			if inB[k] {
				out = append(out, k)
			}
		}
	case "EXCEPT":
		for _, k := range a {
			if !inB[k] {
				out = append(out, k)
			}
		}
	case "OR":
		inA := make(map[string]bool, len(a))
		out = append(out, a...)
		for _, k := range a {
			inA[k] = true
		}
		for _, k := range b {
			if !inA[k] {
				out = append(out, k)
			}
		}
	default:
		return nil, errorf(http.StatusBadRequest, codeMalformedURL, "$logicOperator must be AND, OR, EXCEPT or INTERSECT")
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// setError maps a store's "no such set" to 4D's answer; other errors pass.
func setError(err error) error {
	if errors.Is(err, sessions.ErrNotFound) {
		return errUnknownEntitySet
	}
	return err
}

// subEntitySet handles "GET /rest/{DC}({key})/{rel}?$method=subentityset": the related
// selection of a 1→N relation as a new entity set, ordered by $subOrderby.
func (v *dataView) subEntitySet(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, p dataPath) error {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	a := dc.Attribute(p.Attribute)
	if a == nil || !v.readable(dc, a) {
		return errorf(http.StatusNotFound, codeUnknownAttribute, "Unknown attribute %q", p.Attribute)
	}
	if a.Kind != datastore.KindRelatedEntities {
		return errorf(http.StatusBadRequest, codeMalformedURL, "$method=subentityset needs a related selection (1→N attribute)")
	}
	e, err := v.reader().Get(v.ctx, dc, p.Key)
	if err != nil {
		return err
	}
	q, err := v.srv.queryOptions(r)
	if err != nil {
		return err
	}
	if o := queryParam(r, "$subOrderby"); o != "" {
		q.OrderBy = o
	}
	all := v.query(q)
	all.Skip, all.Limit = 0, 0
	keys, err := v.reader().RelatedKeys(v.ctx, e, a.Name, all)
	if err != nil {
		return err
	}
	set, err := v.storeSet(r, a.Related, keys, datastore.Query{})
	if err != nil {
		return err
	}
	return v.page(w, r, a.Related, set.ID, window(keys, q.Skip, q.Limit), len(keys), q.Skip)
}

// entitySetInfo describes one of the caller's sets in $info (4D's entitySet list).
type entitySetInfo struct {
	ID            string `json:"id"`
	DataClass     string `json:"dataClass"`
	SelectionSize int    `json:"selectionSize"`
	Sorted        bool   `json:"sorted"`
	Refreshed     string `json:"refreshed"`
	Expires       string `json:"expires"`
	Timeout       int64  `json:"timeout"`
}

func describeSets(sets []sessions.EntitySet) []entitySetInfo {
	out := make([]entitySetInfo, 0, len(sets))
	for _, s := range sets {
		out = append(out, entitySetInfo{
			ID: s.ID, DataClass: s.DataClass, SelectionSize: s.Count, Sorted: s.OrderBy != "",
			Refreshed: formatTime(s.Expires.Add(-s.Timeout)), Expires: formatTime(s.Expires),
			Timeout: int64(s.Timeout / time.Second),
		})
	}
	return out
}

// selectionAsSet answers a selection a function returned as a new entity set with its
// first page (SPEC §3.7: clients page it through __ENTITYSET).
func (v *dataView) selectionAsSet(w http.ResponseWriter, r *http.Request, sel scriptSelection) error {
	first, err := sel.DatastoreSelection(v.ctx, 1)
	if err != nil {
		return err
	}
	dc := first.DataClass
	keys, err := sel.DatastoreKeys(v.ctx)
	if err != nil {
		return err
	}
	set := &sessions.EntitySet{DataClass: dc.Name, Timeout: defaultSetTimeout}
	if err := v.srv.cfg.App.Sessions().PutEntitySet(v.ctx, v.sid(), set, keys); err != nil {
		return err
	}
	entities, err := v.reader().GetMany(v.ctx, dc, window(keys, 0, defaultTop))
	if err != nil {
		return err
	}
	out, err := v.selection(&datastore.Selection{DataClass: dc, Entities: entities, Count: len(keys)}, nil, 0)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withDataClass(withSet(out, dc, set.ID)))
	return nil
}

// relatedSet is an expanded 1→N relation of e kept as an entity set: its first page with
// __ENTITYSET (without __entityModel, as 4D nests selections).
func (v *dataView) relatedSet(e *datastore.Entity, a *datastore.Attribute, sub *shape) (object, error) {
	keys, err := v.reader().RelatedKeys(v.ctx, e, a.Name, datastore.Query{})
	if err != nil {
		return nil, err
	}
	set := &sessions.EntitySet{DataClass: a.Related.Name, Timeout: defaultSetTimeout}
	if err := v.srv.cfg.App.Sessions().PutEntitySet(v.ctx, v.sid(), set, keys); err != nil {
		return nil, err
	}
	entities, err := v.reader().GetMany(v.ctx, a.Related, window(keys, 0, v.srv.cfg.MaxTop))
	if err != nil {
		return nil, err
	}
	so, err := v.selection(&datastore.Selection{DataClass: a.Related, Entities: entities, Count: len(keys)}, sub, 1)
	if err != nil {
		return nil, err
	}
	return withSet(so[1:], a.Related, set.ID), nil
}
