package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/datastore"
	"gatehouse/roles"
)

// Datastore is what the REST layer needs from the data layer.
type Datastore interface {
	Model() *datastore.Model
	Find(ctx context.Context, dc *datastore.DataClass, q datastore.Query) (*datastore.Selection, error)
	Get(ctx context.Context, dc *datastore.DataClass, key string) (*datastore.Entity, error)
	SaveAll(ctx context.Context, entities []*datastore.Entity) ([]*datastore.Entity, error)
	Drop(ctx context.Context, e *datastore.Entity) error
	DeleteWhere(ctx context.Context, dc *datastore.DataClass, q datastore.Query) (int, error)
	RelatedEntity(ctx context.Context, e *datastore.Entity, attr string) (*datastore.Entity, error)
	RelatedEntities(ctx context.Context, e *datastore.Entity, attr string, q datastore.Query) (*datastore.Selection, error)
}

// defaultTop is how many entities a list answers when the client does not say.
const defaultTop = 100

func (s *Server) registerDataRoutes(r *mux.Router) {
	r.Handle("/{path:[^$].*}", s.handle(lazySession, s.handleData)).Methods(http.MethodGet, http.MethodPost)
}

// dataPath is a parsed data URL: /rest/DC, /rest/DC(key), /rest/DC(key)/attr, /rest/DC/fn.
type dataPath struct {
	DataClass string
	Key       string
	HasKey    bool
	Attribute string // after (key)
	Function  string // DC/fn
}

// parseDataPath parses the part of a data URL after /rest/ (already path-decoded).
func parseDataPath(p string) (dataPath, error) {
	var d dataPath
	bad := errorf(http.StatusBadRequest, codeMalformedURL, "Malformed URL")
	if p == "" || len(p) > 1024 {
		return d, bad
	}
	head, tail, hasTail := strings.Cut(p, "/")
	if open := strings.IndexByte(head, '('); open >= 0 {
		if !strings.HasSuffix(head, ")") {
			// a key may contain "/": find the closing parenthesis in the whole path
			closeAt := strings.Index(p, ")")
			if closeAt < open {
				return d, bad
			}
			head, tail = p[:closeAt+1], strings.TrimPrefix(p[closeAt+1:], "/")
			hasTail = tail != ""
			if len(p) > closeAt+1 && p[closeAt+1] != '/' {
				return d, bad
			}
		}
		d.DataClass, d.Key, d.HasKey = head[:open], head[open+1:len(head)-1], true
		if len(d.Key) >= 2 && (d.Key[0] == '"' || d.Key[0] == '\'') && d.Key[len(d.Key)-1] == d.Key[0] {
			d.Key = d.Key[1 : len(d.Key)-1]
		}
		if d.Key == "" {
			return d, bad
		}
	} else {
		d.DataClass = head
	}
	if d.DataClass == "" || strings.ContainsAny(d.DataClass, "()$ ") {
		return d, bad
	}
	if hasTail {
		if tail == "" || strings.Contains(tail, "/") {
			return d, bad
		}
		if strings.HasPrefix(tail, "$") {
			return d, errorf(http.StatusBadRequest, codeUnknownKeyword, "Unknown keyword")
		}
		if d.HasKey {
			d.Attribute = tail
		} else {
			d.Function = tail
		}
	}
	return d, nil
}

// handleData handles every data request: "GET|POST /rest/{DC}...". See SPEC §3.5.
func (s *Server) handleData(w http.ResponseWriter, r *http.Request, st *state) error {
	raw, err := pathVar(r, "path")
	if err != nil {
		return err
	}
	// Force-login guests are refused before anything else (a guest session costs no
	// licence, so opening one here leaves nothing behind that matters).
	if err := s.resolveSession(w, r, st); err != nil {
		return err
	}
	guest := st.sess != nil && st.sess.Guest && !st.sess.Licensed
	if guest || st.sess == nil && st.policy.ForceLogin() {
		if err := s.ensureSession(w, r, st); err != nil {
			return err
		}
	}
	p, err := parseDataPath(raw)
	if err != nil {
		return err
	}
	dc := s.dataClass(p.DataClass)
	if dc == nil {
		return errUnknownDataClass
	}
	if p.Function != "" {
		return s.callFunction(w, r, st, dc.Name, p.Function, roles.MethodResource(dc.Name, p.Function))
	}
	method := r.URL.Query().Get("$method")
	switch {
	case r.Method == http.MethodGet && method == "":
	case r.Method == http.MethodPost && (method == "update" || method == "delete"):
	case method != "":
		return errorf(http.StatusBadRequest, codeUnknownMethod, "Unknown $method %q", method)
	default:
		return errorf(http.StatusBadRequest, codeUnknownMethod, "POST on a dataclass needs $method=update or $method=delete")
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
	if err := s.ensureSession(w, r, st); err != nil {
		return err
	}
	v := &dataView{srv: s, st: st, ctx: r.Context()}
	switch {
	case method == "update":
		return v.update(w, dc, body)
	case method == "delete":
		return v.delete(w, r, dc, p)
	case p.Attribute != "":
		return v.getAttribute(w, r, dc, p)
	case p.HasKey:
		return v.getEntity(w, r, dc, p.Key)
	default:
		return v.list(w, r, dc)
	}
}

var errUnknownDataClass = errorf(http.StatusNotFound, codeUnknownDataClass, "Unknown dataclass")

// dataClass returns the exposed dataclass name, or nil.
func (s *Server) dataClass(name string) *datastore.DataClass {
	if s.cfg.Data == nil {
		return nil
	}
	dc := s.cfg.Data.Model().DataClass(name)
	if dc == nil || !dc.Exposed {
		return nil
	}
	return dc
}

// exposedDataClass returns the exposed dataclass named by route variable v.
func (s *Server) exposedDataClass(r *http.Request, v string) (*datastore.DataClass, error) {
	name, err := pathVar(r, v)
	if err != nil {
		return nil, err
	}
	dc := s.dataClass(name)
	if dc == nil {
		return nil, errUnknownDataClass
	}
	return dc, nil
}

// dataError maps datastore errors to their 4D answers (nil for other errors).
func dataError(err error) *Error {
	var qe *datastore.QueryError
	var ve *datastore.ValueError
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: codeUnknownDataClass, Message: "Entity not found", Err: err}
	case errors.Is(err, datastore.ErrStampChanged):
		return &Error{Status: http.StatusConflict, Code: codeStampChanged,
			Message: "The entity was modified by someone else (stamp changed): reload it and try again", Err: err}
	case errors.Is(err, datastore.ErrDuplicateKey):
		return &Error{Status: http.StatusConflict, Code: codeStampChanged, Message: "An entity with that key already exists", Err: err}
	case datastore.IsBusy(err):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeDatabaseBusy,
			Message: "The database is busy: try again", Err: err, RetryAfter: time.Second}
	case errors.Is(err, datastore.ErrUnknownDataClass):
		return &Error{Status: http.StatusNotFound, Code: codeUnknownDataClass, Message: "Unknown dataclass", Err: err}
	case errors.As(err, &qe):
		status := http.StatusBadRequest
		if qe.Code == codeUnknownAttribute {
			status = http.StatusNotFound
		}
		return &Error{Status: status, Code: qe.Code, Message: qe.Error(), Err: err}
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: codeBadBody, Message: ve.Error(), Err: err}
	}
	return nil
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
	if q.Skip, err = intParam(r, "$skip", 0); err != nil {
		return q, err
	}
	return q, nil
}
