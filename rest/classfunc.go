package rest

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"gatehouse/core"
	"gatehouse/datastore"
	"gatehouse/roles"
)

// errQueryOnFunction refuses a $filter or $orderby on a function that does not run on a
// selection: 4D would ignore it, and the function would then run on the wrong set.
var errQueryOnFunction = errorf(http.StatusBadRequest, codeUnknownKeyword,
	"$filter and $orderby apply only to entity-selection functions")

// hasQuery reports whether the request carries $filter or $orderby.
func hasQuery(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("$filter") || q.Has("$orderby")
}

// classFunction handles the function forms of a data URL (SPEC §3.5, §3.8):
//   - /rest/DC/fn: a dataclass function, else a selection function on every entity;
//     with $filter / $orderby, a selection function on the entities they select;
//   - /rest/DC(key)/fn: an entity function, this = the entity;
//   - /rest/DC/$entityset/ID/fn: a selection function, this = the set.
//
// done is false when the URL names no function after all (DC(key)/x where x is neither an
// attribute nor an entity function): the caller answers it as a data request.
func (s *Server) classFunction(w http.ResponseWriter, r *http.Request, st *state, dc *datastore.DataClass, p dataPath) (done bool, err error) {
	g := st.req.Gen
	v := &dataView{srv: s, st: st, ctx: r.Context()}
	switch {
	case p.EntitySet != "":
		t, err := g.Resolve(core.SelectionFunction, dc.Name, p.Function)
		if err != nil {
			return true, err
		}
		if hasQuery(r) {
			return true, errQueryOnFunction
		}
		if err := st.req.Permit(roles.Execute, t.Resource); err != nil {
			return true, err
		}
		this, err := s.setSelection(r.Context(), st, dc, p.EntitySet)
		if err != nil {
			return true, err
		}
		return true, s.callFunctionOn(w, r, st, t, this)

	case p.HasKey:
		t, err := g.Resolve(core.EntityFunction, dc.Name, p.Attribute)
		if err != nil {
			return false, nil
		}
		if hasQuery(r) {
			return true, errQueryOnFunction
		}
		if err := st.req.Permit(roles.Execute, t.Resource); err != nil {
			return true, err
		}
		key := p.Key
		if p.KeyAttribute != "" {
			if key, err = v.keyByAttribute(dc, p.KeyAttribute, p.Key); err != nil {
				return true, err
			}
		}
		e, err := s.cfg.Data.Get(r.Context(), dc, key)
		if err != nil {
			return true, err
		}
		return true, s.callFunctionOn(w, r, st, t, e)
	}

	if hasQuery(r) {
		t, err := g.Resolve(core.SelectionFunction, dc.Name, p.Function)
		if err != nil {
			if _, derr := g.Resolve(core.DataClassFunction, dc.Name, p.Function); derr == nil {
				return true, errQueryOnFunction
			}
			return true, err
		}
		if err := st.req.Permit(roles.Execute, t.Resource); err != nil {
			return true, err
		}
		this, err := v.querySelection(r, dc)
		if err != nil {
			return true, err
		}
		return true, s.callFunctionOn(w, r, st, t, this)
	}
	t, err := g.Resolve(core.DataClassFunction, dc.Name, p.Function)
	if err == nil {
		return true, s.callFunctionOn(w, r, st, t, nil)
	}
	t, serr := g.Resolve(core.SelectionFunction, dc.Name, p.Function)
	if serr != nil {
		return true, err
	}
	return true, s.callFunctionOn(w, r, st, t, datastore.SelectionRef{DataClass: dc})
}

// querySelection is the selection $filter (with $params on a POST: on a GET they are the
// function's arguments) and $orderby select, as the keys of the entities, in order. The
// caller must be allowed to read the dataclass, and may filter only on attributes it may
// read, as for a list.
func (v *dataView) querySelection(r *http.Request, dc *datastore.DataClass) (datastore.SelectionRef, error) {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return datastore.SelectionRef{}, err
	}
	q := datastore.Query{Filter: queryParam(r, "$filter"), OrderBy: queryParam(r, "$orderby")}
	if r.Method == http.MethodPost {
		opts, err := v.srv.queryOptions(r)
		if err != nil {
			return datastore.SelectionRef{}, err
		}
		q.Params = opts.Params
	}
	keys, err := v.srv.cfg.Data.FindKeys(v.ctx, dc, v.query(q))
	if err != nil {
		return datastore.SelectionRef{}, err
	}
	return datastore.SelectionRef{DataClass: dc, InKeys: true, Keys: keys, OrderBy: q.OrderBy}, nil
}

// setSelection is the entity set id of the caller's session, as a selection of dc: a set
// of another session, or of another dataclass, is unknown (404).
func (s *Server) setSelection(ctx context.Context, st *state, dc *datastore.DataClass, id string) (datastore.SelectionRef, error) {
	sess, err := st.req.Session(ctx) // datastore functions resolve the session lazily
	if err != nil {
		return datastore.SelectionRef{}, err
	}
	if sess == nil {
		return datastore.SelectionRef{}, errUnknownEntitySet
	}
	set, keys, err := s.cfg.App.Sessions().EntitySet(ctx, sess.ID, id, 0, -1)
	if err != nil {
		return datastore.SelectionRef{}, setError(err)
	}
	if dc != nil && set.DataClass != dc.Name {
		return datastore.SelectionRef{}, errUnknownEntitySet
	}
	if dc == nil {
		if dc = dataClass(st.req.Gen, set.DataClass); dc == nil {
			return datastore.SelectionRef{}, errUnknownEntitySet
		}
	}
	return datastore.SelectionRef{DataClass: dc, InKeys: true, Keys: keys, OrderBy: set.OrderBy}, nil
}

// classArgs replaces, in a function's arguments, 4D's entity and selection parameters
// (SPEC §3.8) by what the script receives as an entity and a selection:
// {"__DATACLASS":"DC","__ENTITY":true,"__KEY":k} and {"__DATASET":"<set ID>","__ENTITIES":true}
// (the set must be one of the caller's session). Only top-level arguments are converted,
// as 4D does.
func (s *Server) classArgs(ctx context.Context, st *state, args []any) error {
	for i, a := range args {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		switch {
		case m["__ENTITY"] == true:
			name, _ := m["__DATACLASS"].(string)
			dc := dataClass(st.req.Gen, name)
			if dc == nil || s.cfg.Data == nil {
				return errUnknownDataClass
			}
			key, ok := keyParam(m["__KEY"])
			if !ok {
				return errorf(http.StatusBadRequest, codeBadBody, "An entity parameter needs a __KEY")
			}
			e, err := s.cfg.Data.Get(ctx, dc, key)
			if err != nil {
				return err
			}
			args[i] = e
		case m["__ENTITIES"] == true:
			id, _ := m["__DATASET"].(string)
			id = id[strings.LastIndexByte(id, '/')+1:] // the ID, or the set's URI
			var dc *datastore.DataClass
			if name, ok := m["__DATACLASS"].(string); ok {
				if dc = dataClass(st.req.Gen, name); dc == nil {
					return errUnknownDataClass
				}
			}
			if s.cfg.Data == nil {
				return errUnknownDataClass
			}
			sel, err := s.setSelection(ctx, st, dc, id)
			if err != nil {
				return err
			}
			args[i] = sel
		}
	}
	return nil
}

// keyParam reads an entity parameter's __KEY: a string or a number.
func keyParam(v any) (string, bool) {
	switch k := v.(type) {
	case string:
		return k, k != ""
	case float64:
		return strconv.FormatFloat(k, 'f', -1, 64), true
	}
	return "", false
}
