package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/datastore"
	"gatehouse/roles"
)

// maxExpandDepth bounds how deep $expand / $attributes paths go.
const maxExpandDepth = 4

// dataView answers data requests for one request's session: it checks permissions and
// serialises entities into 4D's JSON, leaving out what the session may not read.
type dataView struct {
	srv *Server
	st  *state
	ctx context.Context
	// extra are fields added to a selection's answer ($queryplan, $querypath).
	extra object
	// readOnly is set for a request that writes nothing: its reads share one snapshot, snap,
	// made at the first read (reader) and closed by handleData (closeSnapshot).
	readOnly bool
	snap     *datastore.Snapshot
}

// reader is what the request reads with: for a request that writes nothing, its snapshot, so
// that all its answer comes from one committed state; else the datastore. Every read of a
// request that has a snapshot goes through it: the snapshot holds a connection of the reader
// pool until the request ends, and requests holding one while waiting for another could
// exhaust the pool.
func (v *dataView) reader() dataReader {
	if v.snap == nil && v.readOnly {
		v.snap = v.srv.cfg.Data.Snapshot()
	}
	if v.snap != nil {
		return v.snap
	}
	return v.srv.cfg.Data
}

// lastReader is reader for a read nothing follows. When nothing was read through the snapshot
// before it, that read is the request's only one, and one statement sees one committed state
// by itself: it runs on the datastore, saving the transaction (a BEGIN and a ROLLBACK; on
// PostgreSQL two round trips). expands tells whether an entity's answer reads more.
func (v *dataView) lastReader() dataReader {
	if v.snap.Begun() {
		return v.snap
	}
	return v.srv.cfg.Data
}

// closeSnapshot ends the request's snapshot, if it made one.
func (v *dataView) closeSnapshot() {
	if err := v.snap.Close(); err != nil {
		v.st.logger(v.srv.log).Warn("closing the request's read snapshot", "err", err)
	}
}

// expands reports whether answering an entity of dc in shape sh reads more than the entity:
// whether it expands a relation (entity).
func (v *dataView) expands(dc *datastore.DataClass, sh *shape) bool {
	for _, a := range dc.Attributes {
		if a.Kind != datastore.KindRelatedEntity && a.Kind != datastore.KindRelatedEntities {
			continue
		}
		if ok, sub := sh.wants(a.Name); ok && sub != nil && v.readable(dc, a) {
			return true
		}
	}
	return false
}

func (v *dataView) allowed(a roles.Action, r roles.Resource) bool {
	return v.st.req.Allowed(a, r)
}

// readableDataClass reports whether the session may read entities of dc at all.
func (v *dataView) readableDataClass(dc *datastore.DataClass) bool {
	return v.allowed(roles.Read, roles.DataClassResource(dc.Name))
}

// readable reports whether attribute a of dc appears in answers to this session.
func (v *dataView) readable(dc *datastore.DataClass, a *datastore.Attribute) bool {
	if !a.Exposed || !v.allowed(roles.Read, roles.AttributeResource(dc.Name, a.Name)) {
		return false
	}
	if a.Related != nil {
		return a.Related.Exposed && v.readableDataClass(a.Related)
	}
	return true
}

// require returns the permission error when action a on r is not allowed.
func (v *dataView) require(a roles.Action, r roles.Resource) error {
	return v.st.req.Permit(a, r)
}

// query attaches the readability rule to q: a filter or sort on an attribute the
// session may not read is refused as if the attribute did not exist.
func (v *dataView) query(q datastore.Query) datastore.Query {
	q.Visible = v.readable
	return q
}

// list handles "GET /rest/{DC}": the page, its count and the relations it expands are read
// in the request's snapshot, and written from typed rows (writeRows).
func (v *dataView) list(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass) error {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	q, err := v.srv.queryOptions(r)
	if err != nil {
		return err
	}
	shape, err := parseShape(r)
	if err != nil {
		return err
	}
	rows, err := v.reader().FindRows(v.ctx, dc, v.query(q))
	if err != nil {
		return err
	}
	plan, err := v.queryPlan(r, dc, q)
	if err != nil {
		return err
	}
	return v.writeRows(w, r, rows, shape, plan)
}

// getEntity handles "GET /rest/{DC}({key})".
func (v *dataView) getEntity(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, key string) error {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	shape, err := parseShape(r)
	if err != nil {
		return err
	}
	read := v.lastReader()
	if v.expands(dc, shape) {
		read = v.reader()
	}
	e, err := read.Get(v.ctx, dc, key)
	if err != nil {
		return err
	}
	out, err := v.entity(e, shape, 0, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getAttribute handles "GET /rest/{DC}({key})/{attr}".
func (v *dataView) getAttribute(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, p dataPath) error {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	a := dc.Attribute(p.Attribute)
	if a == nil || !v.readable(dc, a) {
		return errorf(http.StatusNotFound, codeUnknownAttribute, "Unknown attribute %q", p.Attribute)
	}
	if a.IsBinary() && wantsBytes(r, a) {
		return v.binary(w, r, dc, p, a)
	}
	read := v.lastReader() // for a storage attribute, the entity is all it reads
	if a.Kind != datastore.KindStorage {
		read = v.reader()
	}
	e, err := read.Get(v.ctx, dc, p.Key)
	if err != nil {
		return err
	}
	shape, err := parseShape(r)
	if err != nil {
		return err
	}
	var out any
	switch a.Kind {
	case datastore.KindRelatedEntity:
		rel, err := v.reader().RelatedEntity(v.ctx, e, a.Name)
		if err != nil {
			return err
		}
		if rel == nil {
			out = object{{a.Name, nil}}
		} else if out, err = v.entity(rel, shape, 0, true); err != nil {
			return err
		}
	case datastore.KindRelatedEntities:
		q, err := v.srv.queryOptions(r)
		if err != nil {
			return err
		}
		sel, err := v.reader().RelatedEntities(v.ctx, e, a.Name, v.query(q))
		if err != nil {
			return err
		}
		if out, err = v.selection(sel, shape, 0); err != nil {
			return err
		}
	default:
		if a.IsBinary() {
			out = object{{a.Name, binaryDeferred(dc, e.KeyString(), a, e.Values[a.Name], e.Stamp)}}
			break
		}
		out = object{{a.Name, jsonValue(e.Values[a.Name])}}
	}
	writeSelection(w, r, out)
	return nil
}

// update handles "POST /rest/{DC}?$method=update" as 4D does (SPEC §3.5): one object or an
// array; objects with __KEY update (with __STAMP, only if it is still the stored one), others
// create. With $atomic=true (or $atOnce) an array is saved all or nothing in one
// transaction; otherwise each entity is saved on its own and one that fails comes back with
// its own __ERROR stack inside __ENTITIES. $refresh=true answers the entities as they would
// be saved, saving nothing. $expand and $attributes shape the answer.
func (v *dataView) update(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, body []byte) error {
	var items []map[string]json.RawMessage
	single := len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '{'
	if single {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(body, &one); err != nil {
			return errorf(http.StatusBadRequest, codeBadBody, "Body must be an entity object or an array of them")
		}
		items = append(items, one)
	} else if err := json.Unmarshal(body, &items); err != nil || len(items) == 0 {
		return errorf(http.StatusBadRequest, codeBadBody, "Body must be an entity object or an array of them")
	}
	shape, err := parseShape(r)
	if err != nil {
		return err
	}
	atomic := single || queryParam(r, "$atomic") == "true" || queryParam(r, "$atOnce") == "true"
	refresh := queryParam(r, "$refresh") == "true"
	var saved []*datastore.Entity
	var failed []error // per entity, when not atomic
	if atomic {
		entities := make([]*datastore.Entity, 0, len(items))
		for i, item := range items {
			e, err := v.entityFromBody(dc, item)
			if err != nil {
				if ae, ok := err.(*Error); ok && len(items) > 1 {
					ae.Message = fmt.Sprintf("entity %d: %s", i+1, ae.Message)
				}
				return err
			}
			entities = append(entities, e)
		}
		if refresh {
			saved = entities
		} else if saved, err = v.srv.cfg.Data.SaveAll(v.ctx, entities); err != nil {
			return err
		}
	} else {
		saved, failed = make([]*datastore.Entity, len(items)), make([]error, len(items))
		for i, item := range items {
			e, err := v.entityFromBody(dc, item)
			if err == nil && !refresh {
				e, err = v.srv.cfg.Data.Save(v.ctx, e)
			}
			if err != nil {
				if toError(err).Status >= 500 {
					return err // the server failed, not this entity
				}
				failed[i] = err
				continue
			}
			saved[i] = e
		}
	}
	if single {
		out, err := v.entity(saved[0], shape, 0, true)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	list := make([]any, 0, len(saved))
	for i, e := range saved {
		if e == nil {
			list = append(list, entityError(items[i], failed[i]))
			continue
		}
		o, err := v.entity(e, shape, 0, false)
		if err != nil {
			return err
		}
		list = append(list, o)
	}
	writeJSON(w, http.StatusOK, object{{"__entityModel", dc.Name}, {"__COUNT", len(list)}, {"__ENTITIES", list}})
	return nil
}

// entityError is one entity of a batch that could not be saved: its __KEY and __STAMP as
// sent, and its 4D error stack.
func entityError(item map[string]json.RawMessage, err error) object {
	e := toError(err)
	o := object{}
	for _, name := range []string{"__KEY", "__STAMP"} {
		if raw, ok := item[name]; ok {
			o = append(o, field{name, raw})
		}
	}
	return append(o, field{"__ERROR", []any{object{{"message", e.Message}, {"componentSignature", "dbmg"}, {"errCode", e.Code}}}})
}

// entityFromBody builds the entity one body object asks to save, checking permissions. The
// body may repeat the primary key with its current value (4D clients send it back); a
// different value is an error. With __KEY and no __STAMP the update is made whatever the
// stored stamp is.
func (v *dataView) entityFromBody(dc *datastore.DataClass, item map[string]json.RawMessage) (*datastore.Entity, error) {
	rawKey, hasKey := item["__KEY"]
	rawStamp, hasStamp := item["__STAMP"]
	var e *datastore.Entity
	action := roles.Create
	if hasKey {
		action = roles.Update
		if err := v.require(roles.Update, roles.DataClassResource(dc.Name)); err != nil {
			return nil, err
		}
		key, err := keyText(rawKey)
		if err != nil {
			return nil, err
		}
		if e, err = v.srv.cfg.Data.Get(v.ctx, dc, key); err != nil {
			return nil, err
		}
		if err := v.checkUnlocked(dc, e.KeyString()); err != nil {
			return nil, err
		}
		if hasStamp {
			var stamp int64
			if err := json.Unmarshal(rawStamp, &stamp); err != nil {
				return nil, errorf(http.StatusBadRequest, codeBadBody, "__STAMP must be a whole number")
			}
			e.Stamp = stamp
		} // else: e.Stamp is the stored stamp, so no stamp check
	} else {
		if err := v.require(roles.Create, roles.DataClassResource(dc.Name)); err != nil {
			return nil, err
		}
		e = dc.NewEntity()
	}
	for name, raw := range item {
		if strings.HasPrefix(name, "__") {
			continue
		}
		a := dc.Attribute(name)
		if a == nil || !a.Exposed {
			return nil, errorf(http.StatusNotFound, codeUnknownAttribute, "Unknown attribute %q", name)
		}
		if a.PrimaryKey && hasKey {
			same, err := sameKey(e, raw)
			if err != nil {
				return nil, err
			}
			if !same {
				return nil, errorf(http.StatusBadRequest, codeBadBody, "the key %s cannot be changed", name)
			}
			continue
		}
		if err := v.require(action, roles.AttributeResource(dc.Name, a.Name)); err != nil {
			return nil, err
		}
		if a.Kind == datastore.KindRelatedEntities {
			return nil, errorf(http.StatusBadRequest, codeBadBody, "%s is a related selection and cannot be set", name)
		}
		var val any
		if err := json.Unmarshal(raw, &val); err != nil {
			return nil, errBadJSON
		}
		if a.IsBinary() {
			bv, keep, err := v.binaryBodyValue(a, val)
			if err != nil {
				return nil, err
			}
			if keep {
				continue
			}
			val = bv
		}
		if m, ok := val.(map[string]any); ok && a.Kind == datastore.KindRelatedEntity {
			k, ok := m["__KEY"]
			if !ok {
				return nil, errorf(http.StatusBadRequest, codeBadBody, `%s must be {"__KEY": key} or a key`, name)
			}
			val = k
		}
		e.Values[a.Name] = val
	}
	return e, nil
}

// sameKey reports whether raw (the primary key attribute in a body) is e's key.
func sameKey(e *datastore.Entity, raw json.RawMessage) (bool, error) {
	k, err := keyText(raw)
	if err != nil {
		return false, err
	}
	return k == e.KeyString(), nil
}

// keyText reads a __KEY given as a JSON string or number.
func keyText(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", errBadJSON
	}
	switch k := v.(type) {
	case string:
		return k, nil
	case float64:
		return strconv.FormatFloat(k, 'f', -1, 64), nil
	}
	return "", errorf(http.StatusBadRequest, codeBadBody, "__KEY must be a string or a number")
}

// delete handles "POST /rest/{DC}({key})?$method=delete" and
// "POST /rest/{DC}?$filter=...&$method=delete".
func (v *dataView) delete(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, p dataPath) error {
	if err := v.require(roles.Drop, roles.DataClassResource(dc.Name)); err != nil {
		return err
	}
	data := v.srv.cfg.Data
	switch {
	case p.HasKey && p.Attribute == "":
		e, err := data.Get(v.ctx, dc, p.Key)
		if err != nil {
			return err
		}
		if err := v.checkUnlocked(dc, e.KeyString()); err != nil {
			return err
		}
		if err := data.Drop(v.ctx, e); err != nil {
			return err
		}
	case !p.HasKey && queryParam(r, "$filter") != "":
		q, err := v.srv.queryOptions(r)
		if err != nil {
			return err
		}
		q.Limit, q.Skip = 0, 0
		keys, err := data.FindKeys(v.ctx, dc, v.query(q))
		if err != nil {
			return err
		}
		if err := v.checkUnlocked(dc, keys...); err != nil {
			return err
		}
		if _, err := data.DeleteWhere(v.ctx, dc, datastore.Query{InKeys: true, Keys: keys}); err != nil {
			return err
		}
	default:
		return errorf(http.StatusBadRequest, codeMalformedURL, "$method=delete needs an entity key or a $filter")
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

// shape is what $attributes and $expand ask of each entity: nil attrs means every
// attribute; a child shape for a relation means "expand it, with that shape".
type shape struct {
	attrs  map[string]*shape // nil = all
	all    bool              // "*" listed: every attribute, whatever else attrs lists
	expand map[string]*shape
}

// parseShape reads $attributes=a,b,rel.c and $expand=rel,rel2.
func parseShape(r *http.Request) (*shape, error) {
	sh := &shape{}
	add := func(param string, into func(*shape) *map[string]*shape) error {
		v := queryParam(r, param)
		if v == "" {
			return nil
		}
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			parts := strings.Split(item, ".")
			if len(parts) > maxExpandDepth {
				return errorf(http.StatusBadRequest, codeMalformedURL, "%s path %q is too deep", param, item)
			}
			cur := sh
			for i, part := range parts {
				if part == "*" && param == "$attributes" && i == len(parts)-1 {
					cur.all = true // $attributes=* or rel.*: every readable attribute
					break
				}
				m := into(cur)
				if *m == nil {
					*m = map[string]*shape{}
				}
				next := (*m)[part]
				if next == nil && (i < len(parts)-1 || param == "$expand") {
					next = &shape{}
				}
				(*m)[part] = next
				if next == nil {
					break
				}
				cur = next
			}
		}
		return nil
	}
	if err := add("$attributes", func(s *shape) *map[string]*shape { return &s.attrs }); err != nil {
		return nil, err
	}
	if err := add("$expand", func(s *shape) *map[string]*shape { return &s.expand }); err != nil {
		return nil, err
	}
	return sh, nil
}

// wants reports whether attribute name is in the answer, and with which expansion shape
// (nil: not expanded).
func (sh *shape) wants(name string) (bool, *shape) {
	if sh == nil {
		return true, nil
	}
	sub, listed := sh.attrs[name]
	if sh.attrs != nil && !listed && !sh.all {
		return false, nil
	}
	if sub != nil {
		return true, sub // $attributes=rel.a,rel.b: expanded with those attributes
	}
	if exp, ok := sh.expand[name]; ok {
		return true, exp
	}
	return true, nil
}

// selection serialises a selection in 4D's list shape.
func (v *dataView) selection(sel *datastore.Selection, sh *shape, depth int) (object, error) {
	list := make([]any, 0, len(sel.Entities))
	for _, e := range sel.Entities {
		o, err := v.entity(e, sh, depth, false)
		if err != nil {
			return nil, err
		}
		list = append(list, o)
	}
	return object{
		{"__entityModel", sel.DataClass.Name}, {"__COUNT", sel.Count}, {"__SENT", len(list)},
		{"__FIRST", sel.First}, {"__ENTITIES", list},
	}, nil
}

// entity serialises one entity: __KEY, __TIMESTAMP, __STAMP, then each attribute the
// session may read (relations deferred unless expanded).
func (v *dataView) entity(e *datastore.Entity, sh *shape, depth int, top bool) (object, error) {
	dc := e.DataClass
	o := make(object, 0, len(dc.Attributes)+4)
	if top {
		o = append(o, field{"__entityModel", dc.Name})
	}
	key := e.KeyString()
	o = append(o, field{"__KEY", key}, field{"__TIMESTAMP", formatTime(e.Timestamp)}, field{"__STAMP", e.Stamp})
	for _, a := range dc.Attributes {
		ok, sub := sh.wants(a.Name)
		if !ok || !v.readable(dc, a) {
			continue
		}
		if a.IsBinary() { // a deferred URI, never the bytes
			o = append(o, field{a.Name, binaryDeferred(dc, key, a, e.Values[a.Name], e.Stamp)})
			continue
		}
		switch a.Kind {
		case datastore.KindRelatedEntity:
			fk := e.Values[a.Name]
			if fk == nil {
				o = append(o, field{a.Name, nil})
				continue
			}
			if sub == nil || depth >= maxExpandDepth {
				k := keyString(fk)
				o = append(o, field{a.Name, object{{"__deferred", object{
					{"uri", "/rest/" + a.Related.Name + "(" + url.PathEscape(k) + ")"}, {"__KEY", k}}}}})
				continue
			}
			rel, err := v.reader().RelatedEntity(v.ctx, e, a.Name)
			if err != nil {
				return nil, err
			}
			if rel == nil {
				o = append(o, field{a.Name, nil})
				continue
			}
			ro, err := v.entity(rel, sub, depth+1, false)
			if err != nil {
				return nil, err
			}
			o = append(o, field{a.Name, ro})
		case datastore.KindRelatedEntities:
			if sub == nil || depth >= maxExpandDepth {
				o = append(o, field{a.Name, object{{"__deferred", object{
					{"uri", "/rest/" + dc.Name + "(" + url.PathEscape(key) + ")/" + a.Name + "?$expand=" + a.Name}}}}})
				continue
			}
			if top && depth == 0 && v.st.sess() != nil {
				// One entity's related selection: kept as an entity set, so that a client
				// can page it (a list's would make a set per entity).
				so, err := v.relatedSet(e, a, sub)
				if err != nil {
					return nil, err
				}
				o = append(o, field{a.Name, so})
				continue
			}
			sel, err := v.reader().RelatedEntities(v.ctx, e, a.Name, datastore.Query{Limit: v.srv.cfg.MaxTop})
			if err != nil {
				return nil, err
			}
			so, err := v.selection(sel, sub, depth+1)
			if err != nil {
				return nil, err
			}
			o = append(o, field{a.Name, so[1:]}) // without __entityModel
		default:
			o = append(o, field{a.Name, jsonValue(e.Values[a.Name])})
		}
	}
	return o, nil
}

// writeResult answers a function's return value: an entity or a selection in 4D's
// shapes, anything else as {"result": value}. Entities and selections nested anywhere in
// the value are serialised the same way, so unreadable attributes are left out of every
// function result.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, st *state, result any) error {
	v := &dataView{srv: s, st: st, ctx: r.Context()}
	if sel, ok := result.(scriptSelection); ok && st.sess() != nil {
		return v.selectionAsSet(w, r, sel)
	}
	switch result.(type) {
	case *datastore.Entity, *datastore.Selection, scriptEntity, scriptSelection:
		out, err := v.resultValue(result, 0, true)
		if err != nil {
			return err
		}
		if o, ok := out.(object); ok {
			out = withDataClass(o)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out, err := v.resultValue(result, 0, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
	return nil
}

// withDataClass adds 4D's __DATACLASS to an entity or a selection a function returned,
// after __entityModel (and __ENTITYSET), the names of its dataclass.
func withDataClass(o object) object {
	for i, f := range o {
		if f.k == "__entityModel" {
			out := make(object, 0, len(o)+1)
			out = append(out, o[:i+1]...)
			out = append(out, field{"__DATACLASS", f.v})
			return append(out, o[i+1:]...)
		}
	}
	return o
}

// maxResultDepth bounds the walk over a function's result.
const maxResultDepth = 64

// resultValue replaces the entities and selections inside a function's result with
// their permission-filtered 4D form.
func (v *dataView) resultValue(x any, depth int, top bool) (any, error) {
	if depth > maxResultDepth {
		return nil, errorf(http.StatusInternalServerError, codeScriptThrew, "The function's result is nested too deeply")
	}
	switch x := x.(type) {
	case *datastore.Entity:
		return v.entity(x, nil, 0, top)
	case scriptEntity:
		return v.entity(x.DatastoreEntity(), nil, 0, top)
	case *datastore.Selection:
		return v.selection(x, nil, 0)
	case scriptSelection:
		sel, err := x.DatastoreSelection(v.ctx, v.srv.cfg.MaxTop)
		if err != nil {
			return nil, err
		}
		return v.selection(sel, nil, 0)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := v.resultValue(e, depth+1, false)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := v.resultValue(e, depth+1, false)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return x, nil
}

// scriptEntity and scriptSelection are what a script's entity and selection objects
// export as (see datastore/dsjs).
type scriptEntity interface {
	DatastoreEntity() *datastore.Entity
}

type scriptSelection interface {
	DatastoreSelection(ctx context.Context, limit int) (*datastore.Selection, error)
	DatastoreKeys(ctx context.Context) ([]string, error)
}

// keyString writes a key value as in URLs and __KEY.
func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(k)
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// jsonValue turns a stored value into its JSON form (dates as ISO-8601).
func jsonValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return formatTime(t)
	}
	return v
}

// object is a JSON object that keeps its fields in order (4D clients read __KEY first).
type object []field

type field struct {
	k string
	v any
}

func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := o.encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encode writes o to buf. Nested objects and lists are written in place, not through
// MarshalJSON: encoding/json validates and compacts a Marshaler's output again at every
// level of nesting, which was most of the cost of answering a list of entities.
func (o object) encode(buf *bytes.Buffer) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return o.encodeWith(buf, enc)
}

func (o object) encodeWith(buf *bytes.Buffer, enc *json.Encoder) error {
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := encodeValue(buf, enc, f.k); err != nil {
			return err
		}
		buf.WriteByte(':')
		if err := encodeValue(buf, enc, f.v); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// encodeValue writes v as encoding/json would (enc writes into buf).
func encodeValue(buf *bytes.Buffer, enc *json.Encoder, v any) error {
	switch v := v.(type) {
	case object:
		return v.encodeWith(buf, enc)
	case []any:
		if v == nil {
			buf.WriteString("null")
			return nil
		}
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, enc, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}
