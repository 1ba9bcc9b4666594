package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/core"
	"gatehouse/datastore"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// Datastore is what the REST layer needs from the data layer: its reads, a snapshot that
// makes them in one read transaction, and its writes.
type Datastore interface {
	dataReader
	Model() *datastore.Model
	// Snapshot reads in one read transaction: everything a request that writes nothing
	// answers (dataView.reader).
	Snapshot() *datastore.Snapshot
	Save(ctx context.Context, e *datastore.Entity) (*datastore.Entity, error)
	SaveAll(ctx context.Context, entities []*datastore.Entity) ([]*datastore.Entity, error)
	Drop(ctx context.Context, e *datastore.Entity) error
	DeleteWhere(ctx context.Context, dc *datastore.DataClass, q datastore.Query) (int, error)
	// PutUpload keeps a pending upload for a binary attribute (binary.go).
	PutUpload(ctx context.Context, owner string, b datastore.Binary, ttl time.Duration, maxPending int) (string, error)
}

// dataReader is what data requests read with: the datastore itself, or a snapshot of it.
type dataReader interface {
	Find(ctx context.Context, dc *datastore.DataClass, q datastore.Query) (*datastore.Selection, error)
	FindRows(ctx context.Context, dc *datastore.DataClass, q datastore.Query) (*datastore.Rows, error)
	Get(ctx context.Context, dc *datastore.DataClass, key string) (*datastore.Entity, error)
	Count(ctx context.Context, dc *datastore.DataClass, q datastore.Query) (int, error)
	Aggregate(ctx context.Context, dc *datastore.DataClass, q datastore.Query, attr string) (datastore.Aggregates, error)
	Distinct(ctx context.Context, dc *datastore.DataClass, q datastore.Query, attr string) ([]any, error)
	Explain(ctx context.Context, dc *datastore.DataClass, q datastore.Query, counts bool) (*datastore.PlanStep, error)
	RelatedEntity(ctx context.Context, e *datastore.Entity, attr string) (*datastore.Entity, error)
	RelatedEntities(ctx context.Context, e *datastore.Entity, attr string, q datastore.Query) (*datastore.Selection, error)
	// Entity sets (SPEC §3.7): keys of a query, entities by key.
	FindKeys(ctx context.Context, dc *datastore.DataClass, q datastore.Query) ([]string, error)
	RelatedKeys(ctx context.Context, e *datastore.Entity, attr string, q datastore.Query) ([]string, error)
	GetMany(ctx context.Context, dc *datastore.DataClass, keys []string) ([]*datastore.Entity, error)
	// Binary reads the bytes of one binary attribute (binary.go).
	Binary(ctx context.Context, dc *datastore.DataClass, key, attr string) (*datastore.Binary, int64, error)
}

var (
	_ Datastore  = (*datastore.DB)(nil)
	_ dataReader = (*datastore.Snapshot)(nil)
)

// defaultTop is how many entities a list answers when the client does not say.
const defaultTop = 100

func (s *Server) registerDataRoutes(r *mux.Router) {
	s.fastRoutes.data = s.fast(r, "/{path:[^$].*}", s.handle(core.Member, 0, s.handleData), nil, methods.getPost...)
}

// dataPath is a parsed data URL: /rest/DC, /rest/DC(key) (or DC[key], or DC:attr(value)),
// /rest/DC(key)/attr, /rest/DC/fn, /rest/DC/a,b and /rest/DC(key)/a,b (attribute lists), and
// /rest/DC/$entityset/ID. A trailing slash is ignored (/rest/DC/?$filter=…).
type dataPath struct {
	DataClass string
	Key       string
	HasKey    bool
	// KeyAttribute names the attribute DC:attr(value) looks the entity up by ("": the
	// primary key).
	KeyAttribute string
	Attribute    string // after (key)
	Function     string // DC/fn
	Attributes   string // an attribute list as a path: DC/a,b or DC(key)/a,b
	EntitySet    string // DC/$entityset/<ID>: the set's ID (32 upper-case hex digits)
}

// entitySetSegment starts the path of an entity set after its dataclass.
const entitySetSegment = "$entityset/"

// parseDataPath parses the part of a data URL after /rest/ (already path-decoded).
func parseDataPath(p string) (dataPath, error) {
	var d dataPath
	bad := errorf(http.StatusBadRequest, codeMalformedURL, "Malformed URL")
	if p == "" || len(p) > 1024 {
		return d, bad
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	end := strings.IndexAny(p, "/([:")
	if end < 0 {
		end = len(p)
	}
	d.DataClass = p[:end]
	if d.DataClass == "" || strings.ContainsAny(d.DataClass, "()[]:$ ") {
		return d, bad
	}
	rest := p[end:]
	if rest != "" && rest[0] == ':' {
		open := strings.IndexByte(rest, '(')
		if open < 0 {
			return d, bad
		}
		d.KeyAttribute = rest[1:open]
		if d.KeyAttribute == "" || strings.ContainsAny(d.KeyAttribute, "()[]:$/ ,") {
			return d, bad
		}
		rest = rest[open:]
	}
	if rest != "" && (rest[0] == '(' || rest[0] == '[') {
		closer := byte(')')
		if rest[0] == '[' {
			closer = ']'
		}
		// a key may contain "/": it ends at the first closing bracket
		closeAt := strings.IndexByte(rest, closer)
		if closeAt < 0 {
			return d, bad
		}
		d.Key, d.HasKey = rest[1:closeAt], true
		if len(d.Key) >= 2 && (d.Key[0] == '"' || d.Key[0] == '\'') && d.Key[len(d.Key)-1] == d.Key[0] {
			d.Key = d.Key[1 : len(d.Key)-1]
		}
		if d.Key == "" {
			return d, bad
		}
		rest = rest[closeAt+1:]
	}
	if rest == "" {
		return d, nil
	}
	if rest[0] != '/' {
		return d, bad
	}
	tail := rest[1:]
	if !d.HasKey && strings.HasPrefix(tail, entitySetSegment) {
		id := tail[len(entitySetSegment):]
		if slash := strings.IndexByte(id, '/'); slash >= 0 {
			// DC/$entityset/ID/fn: a selection function on the set (SPEC §3.8)
			d.Function = id[slash+1:]
			id = id[:slash]
			if d.Function == "" || strings.ContainsAny(d.Function, "/$,") {
				return d, bad
			}
		}
		if !sessions.ValidID(id) {
			return d, bad
		}
		d.EntitySet = id
		return d, nil
	}
	if tail == "" || strings.Contains(tail, "/") {
		return d, bad
	}
	if strings.HasPrefix(tail, "$") {
		return d, errorf(http.StatusBadRequest, codeUnknownKeyword, "Unknown keyword")
	}
	switch {
	case strings.Contains(tail, ","):
		d.Attributes = tail
	case d.HasKey:
		d.Attribute = tail
	default:
		d.Function = tail
	}
	return d, nil
}

// handleData handles every data request: "GET|POST /rest/{DC}...". See SPEC §3.5.
func (s *Server) handleData(w http.ResponseWriter, r *http.Request, st *state) error {
	raw, err := pathVar(r, "path")
	if err != nil {
		return err
	}
	p, err := parseDataPath(raw)
	if err != nil {
		return err
	}
	if s.cfg.Data == nil {
		return errUnknownDataClass
	}
	dc := dataClass(st.req.Gen, p.DataClass)
	if dc == nil {
		return errUnknownDataClass
	}
	if p.Function != "" && r.Method != http.MethodPost && dc.Attribute(p.Function) != nil {
		// GET /rest/DC/attr: an attribute list of one, as 4D reads it
		p.Attributes, p.Function = p.Function, ""
	}
	if p.Attributes != "" {
		// DC/a,b and DC(key)/a,b are $attributes=a,b
		q := r.URL.Query()
		q.Set("$attributes", p.Attributes)
		r.URL.RawQuery = q.Encode()
	}
	if p.Function != "" || p.HasKey && p.Attribute != "" && dc.Attribute(p.Attribute) == nil {
		if done, err := s.classFunction(w, r, st, dc, p); done || err != nil {
			return err
		}
	}
	if err := checkDataOptions(r); err != nil {
		return err
	}
	if err := checkBinaryOptions(r, dc, p); err != nil {
		return err
	}
	method := r.URL.Query().Get("$method")
	post := r.Method == http.MethodPost
	var allowed bool
	switch {
	case p.EntitySet != "":
		// subentityset on a set is how wakanda-style clients page it
		allowed = (method == "" || method == "subentityset") && !post || method == "release" || method == "entityset" || method == "delete" && post
	case p.Attribute != "":
		allowed = method == "" && !post || method == "subentityset" && !post
	case p.HasKey:
		allowed = method == "" && !post || method == "update" && post || method == "delete" && post
	default:
		allowed = method == "" && !post || method == "entityset" || (method == "update" || method == "delete") && post
	}
	if !allowed {
		if method == "" {
			return errorf(http.StatusBadRequest, codeUnknownMethod, "POST on a dataclass needs $method=update or $method=delete")
		}
		return errorf(http.StatusBadRequest, codeUnknownMethod, "Unknown $method %q", method)
	}
	var body []byte
	if method == "update" {
		if body, err = readBody(r); err != nil {
			return err
		}
		if err := checkJSON(body); err != nil {
			return err
		}
	}
	// A request that writes nothing reads all it answers in one snapshot (reader).
	v := &dataView{srv: s, st: st, ctx: r.Context(), readOnly: method != "update" && method != "delete"}
	defer v.closeSnapshot()
	if p.KeyAttribute != "" {
		if p.Key, err = v.keyByAttribute(dc, p.KeyAttribute, p.Key); err != nil {
			return err
		}
	}
	if r.URL.Query().Has("$lock") {
		if !p.HasKey || p.Attribute != "" || p.Attributes != "" || method != "" || post {
			return errorf(http.StatusBadRequest, codeUnknownKeyword, "$lock applies to GET /rest/{DC}({key})")
		}
		return v.lock(w, dc, p.Key, queryParam(r, "$lock"))
	}
	if r.URL.Query().Has("$compute") || r.URL.Query().Has("$distinct") {
		if p.HasKey || method != "" || post {
			return errorf(http.StatusBadRequest, codeUnknownKeyword,
				"$compute and $distinct apply to GET /rest/{DC}, /rest/{DC}/{attr} and /rest/{DC}/$entityset/{ID}")
		}
		q, err := s.queryOptions(r)
		if err != nil {
			return err
		}
		if p.EntitySet != "" {
			set, keys, err := s.cfg.App.Sessions().EntitySet(r.Context(), st.sess().ID, p.EntitySet, 0, -1)
			if err != nil {
				return setError(err)
			}
			if set.DataClass != dc.Name {
				return errUnknownEntitySet
			}
			q.InKeys, q.Keys = true, keys
		}
		return v.compute(w, r, dc, p.Attributes, q)
	}
	switch {
	case p.EntitySet != "":
		return v.entitySet(w, r, dc, p.EntitySet, method)
	case method == "update":
		return v.update(w, r, dc, body)
	case method == "delete":
		return v.delete(w, r, dc, p)
	case method == "subentityset":
		return v.subEntitySet(w, r, dc, p)
	case p.Attribute != "":
		return v.getAttribute(w, r, dc, p)
	case p.HasKey:
		return v.getEntity(w, r, dc, p.Key)
	case method == "entityset":
		return v.createEntitySet(w, r, dc)
	default:
		return v.list(w, r, dc)
	}
}

// keyByAttribute finds the key of the entity whose attribute attr is value
// (/rest/DC:attr(value)): the first one in key order, 404 when none.
func (v *dataView) keyByAttribute(dc *datastore.DataClass, attr, value string) (string, error) {
	if err := v.require(roles.Read, roles.DataClassResource(dc.Name)); err != nil {
		return "", err
	}
	a := dc.Attribute(attr)
	if a == nil || !v.readable(dc, a) || a.Kind != datastore.KindStorage {
		return "", errorf(http.StatusNotFound, codeUnknownAttribute, "Unknown attribute %q", attr)
	}
	var param any = value
	if a.Type == datastore.TypeLong || a.Type == datastore.TypeNumber {
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return "", errorf(http.StatusNotFound, codeUnknownDataClass, "Entity not found")
		}
		param = f
	}
	sel, err := v.reader().Find(v.ctx, dc, v.query(datastore.Query{Filter: attr + " === :1", Params: []any{param}, Limit: 1}))
	if err != nil {
		return "", err
	}
	if len(sel.Entities) == 0 {
		return "", errorf(http.StatusNotFound, codeUnknownDataClass, "Entity not found")
	}
	return sel.Entities[0].KeyString(), nil
}

var errUnknownDataClass = errorf(http.StatusNotFound, codeUnknownDataClass, "Unknown dataclass")

// dataClass returns the exposed dataclass name of generation g, or nil.
func dataClass(g *core.Generation, name string) *datastore.DataClass {
	dc := g.Model.DataClass(name)
	if dc == nil || !dc.Exposed {
		return nil
	}
	return dc
}

// exposedDataClass returns the exposed dataclass named by route variable v.
func exposedDataClass(r *http.Request, st *state, v string) (*datastore.DataClass, error) {
	name, err := pathVar(r, v)
	if err != nil {
		return nil, err
	}
	dc := dataClass(st.req.Gen, name)
	if dc == nil {
		return nil, errUnknownDataClass
	}
	return dc, nil
}

// queryParam reads a query option, without the quotes 4D clients put around values.
func queryParam(r *http.Request, name string) string {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	return v
}

// intParam reads a non-negative integer query option.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := queryParam(r, name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, codeMalformedURL, "%s must be a whole number", name)
	}
	return n, nil
}

// queryOptions reads $filter, $params, $orderby, $top/$limit and $skip.
func (s *Server) queryOptions(r *http.Request) (datastore.Query, error) {
	q := datastore.Query{Filter: queryParam(r, "$filter"), OrderBy: queryParam(r, "$orderby")}
	if raw := queryParam(r, "$params"); raw != "" {
		if err := checkJSON([]byte(raw)); err != nil {
			return q, errorf(http.StatusBadRequest, codePlaceholderType, "$params must be a JSON array")
		}
		if err := json.Unmarshal([]byte(raw), &q.Params); err != nil {
			return q, errorf(http.StatusBadRequest, codePlaceholderType, "$params must be a JSON array")
		}
	}
	top, err := intParam(r, "$top", -1)
	if err != nil {
		return q, err
	}
	if top < 0 {
		if top, err = intParam(r, "$limit", defaultTop); err != nil {
			return q, err
		}
	}
	q.Limit = min(top, s.cfg.MaxTop)
	if q.Limit <= 0 { // $top=0: as many as allowed, as the datastore reads 0
		q.Limit = s.cfg.MaxTop
	}
	if q.Skip, err = intParam(r, "$skip", 0); err != nil {
		return q, err
	}
	return q, nil
}
