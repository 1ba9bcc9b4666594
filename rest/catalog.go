package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"gatehouse/datastore"
	"gatehouse/roles"
)

// dataStoreModule is the script file holding datastore functions (scripts/DataStore.js).
const dataStoreModule = "DataStore"

func (s *Server) registerCatalogRoutes(r *mux.Router) {
	r.Handle("/$catalog", s.handle(descriptive, s.handleCatalog)).Methods(http.MethodGet)
	r.Handle("/$catalog/$all", s.handle(descriptive, s.handleCatalogAll)).Methods(http.MethodGet)
	r.Handle("/$catalog/{name}", s.handle(descriptive, s.handleCatalogDataClass)).Methods(http.MethodGet).
		MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool {
			return r.URL.Query().Get("$params") == "" && !s.isFunction(r)
		})
	r.Handle("/$catalog/{name}", s.handle(lazySession, s.handleDataStoreFunction)).Methods(http.MethodGet, http.MethodPost)
	r.Handle("/$getWebForm/{name}", s.handle(descriptive, s.handleGetWebForm)).Methods(http.MethodGet)
}

// isFunction reports whether "GET /rest/$catalog/{name}" names a datastore function
// (rather than a dataclass).
func (s *Server) isFunction(r *http.Request) bool {
	if s.cfg.Scripts == nil {
		return false
	}
	// Route variables are not set while matching: read the name from the path.
	name, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/rest/$catalog/"))
	if err != nil {
		return false
	}
	_, ok := s.cfg.Scripts.Function(dataStoreModule, name)
	return ok
}

// catalogEntry is one dataclass in "GET /rest/$catalog".
type catalogEntry struct {
	Name    string `json:"name"`
	URI     string `json:"uri"`
	DataURI string `json:"dataURI"`
}

// handleCatalog handles "GET /rest/$catalog".
func (s *Server) handleCatalog(w http.ResponseWriter, _ *http.Request, _ *state) error {
	list := []catalogEntry{}
	for _, dc := range s.exposedDataClasses() {
		list = append(list, catalogEntry{Name: dc.Name, URI: "/rest/$catalog/" + dc.Name, DataURI: "/rest/" + dc.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"dataClasses": list})
	return nil
}

// handleCatalogAll handles "GET /rest/$catalog/$all".
func (s *Server) handleCatalogAll(w http.ResponseWriter, _ *http.Request, st *state) error {
	list := []dataClassDescription{}
	for _, dc := range s.exposedDataClasses() {
		list = append(list, s.describeDataClass(dc, st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"dataClasses": list})
	return nil
}

// handleCatalogDataClass handles "GET /rest/$catalog/{DC}".
func (s *Server) handleCatalogDataClass(w http.ResponseWriter, r *http.Request, st *state) error {
	dc, err := s.exposedDataClass(r, "name")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.describeDataClass(dc, st))
	return nil
}

func (s *Server) exposedDataClasses() []*datastore.DataClass {
	if s.cfg.Data == nil {
		return nil
	}
	var out []*datastore.DataClass
	for _, dc := range s.cfg.Data.Model().DataClasses {
		if dc.Exposed {
			out = append(out, dc)
		}
	}
	return out
}

// dataClassDescription is 4D's description of a dataclass.
type dataClassDescription struct {
	Name           string                 `json:"name"`
	ClassName      string                 `json:"className"`
	CollectionName string                 `json:"collectionName"`
	Scope          string                 `json:"scope"`
	DataURI        string                 `json:"dataURI"`
	Attributes     []attributeDescription `json:"attributes"`
	Key            []map[string]string    `json:"key"`
	Methods        []methodDescription    `json:"methods"`
}

type attributeDescription struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Type        string `json:"type"`
	Scope       string `json:"scope"`
	Identifying bool   `json:"identifying,omitempty"`
	Indexed     bool   `json:"indexed,omitempty"`
	Path        string `json:"path,omitempty"`
}

type methodDescription struct {
	Name      string `json:"name"`
	ApplyTo   string `json:"applyTo"`
	Scope     string `json:"scope"`
	Exposed   bool   `json:"exposed"`
	AllowedOn string `json:"allowedOnHTTPGET,omitempty"`
}

// describeDataClass builds 4D's description; attributes the session may not read are
// left out, as everywhere.
func (s *Server) describeDataClass(dc *datastore.DataClass, st *state) dataClassDescription {
	d := dataClassDescription{
		Name: dc.Name, ClassName: dc.Name, CollectionName: dc.Name + "Selection", Scope: "public",
		DataURI: "/rest/" + dc.Name, Attributes: []attributeDescription{}, Methods: []methodDescription{},
	}
	held := st.privileges()
	for _, a := range dc.Attributes {
		if !a.Exposed || !st.policy.Allowed(held, roles.Read, roles.AttributeResource(dc.Name, a.Name)) {
			continue
		}
		ad := attributeDescription{Name: a.Name, Kind: a.Kind, Type: a.Type, Scope: "public",
			Identifying: a.PrimaryKey, Indexed: a.Indexed}
		switch a.Kind {
		case datastore.KindRelatedEntity:
			ad.Path = a.Type
		case datastore.KindRelatedEntities:
			ad.Type = a.Related.Name + "Selection"
			ad.Path = a.Path
		}
		d.Attributes = append(d.Attributes, ad)
	}
	if dc.Key != nil {
		d.Key = []map[string]string{{"name": dc.Key.Name}}
	}
	if s.cfg.Scripts != nil {
		for _, f := range s.cfg.Scripts.Functions(dc.Name) {
			md := methodDescription{Name: f.Name, ApplyTo: "dataClass", Scope: "public", Exposed: true}
			if f.OnHTTPGet {
				md.AllowedOn = "true"
			}
			d.Methods = append(d.Methods, md)
		}
	}
	return d
}

// handleDataStoreFunction handles "POST /rest/$catalog/{fn}" (and GET for functions
// opened with onHttpGet): a function exported by scripts/DataStore.js.
func (s *Server) handleDataStoreFunction(w http.ResponseWriter, r *http.Request, st *state) error {
	name, err := pathVar(r, "name")
	if err != nil {
		return err
	}
	return s.callFunction(w, r, st, dataStoreModule, name, roles.MethodResource("", name))
}

// callFunction runs an exported script function for a REST caller: arguments from the body
// (or $params for GET), the guest rule, execute permission, promote, login throttling for
// authentify, then the call and the session changes it made.
func (s *Server) callFunction(w http.ResponseWriter, r *http.Request, st *state, module, name string, res roles.Resource) error {
	if s.cfg.Scripts == nil {
		return &Error{Status: http.StatusNotFound, Code: codeUnknownDataClass, Message: "Unknown function"}
	}
	info, ok := s.cfg.Scripts.Function(module, name)
	if !ok {
		return &Error{Status: http.StatusNotFound, Code: codeUnknownDataClass, Message: "Unknown function"}
	}
	if r.Method == http.MethodGet && !info.OnHTTPGet {
		return errorf(http.StatusMethodNotAllowed, codeGetNotAllowed, "This function cannot be called with GET")
	}
	args, err := functionArgs(r)
	if err != nil {
		return err
	}
	authentify := module == dataStoreModule && name == "authentify"
	st.descriptive = authentify
	if err := s.ensureSession(w, r, st); err != nil {
		return err
	}
	if !authentify && !st.policy.Allowed(st.privileges(), roles.Execute, res) {
		return errorf(http.StatusUnauthorized, codeNoExecutePerm, "No permission to execute %s", name)
	}
	ctx := r.Context()
	ip := s.clientIP(r)
	if authentify && s.cfg.Throttle != nil {
		wait, err := s.cfg.Throttle.Blocked(ctx, ip, "")
		if err != nil {
			return err
		}
		if wait > 0 {
			return &Error{Status: http.StatusTooManyRequests, Code: codeTooManyLogins,
				Message: "Too many failed logins: try again later", RetryAfter: wait}
		}
	}

	ss := s.newScriptSession(ctx, st, st.sess, true)
	ss.promoted = st.policy.Promoted(res)
	result, callErr := s.cfg.Scripts.Call(ctx, ss, module, name, args)
	if err := ss.commit(w, r, st); err != nil && !errors.Is(err, errSessionGone) {
		return errors.Join(callErr, err)
	}
	if authentify && s.cfg.Throttle != nil && callErr == nil {
		if ss.granted {
			err = nil
		} else {
			err = s.cfg.Throttle.Fail(ctx, ip, "")
		}
		if err != nil {
			return err
		}
	}
	if callErr != nil {
		return callErr
	}
	if ss.licenceRefused && !ss.granted {
		// setPrivileges found no licence free: the caller is still a guest and must
		// hear why.
		return errNoLicence
	}
	return s.writeResult(w, r, st, result)
}

// functionArgs reads a function's arguments: the JSON array body, or $params for GET.
func functionArgs(r *http.Request) ([]any, error) {
	var raw []byte
	if r.Method == http.MethodGet {
		raw = []byte(unquoteParam(r.URL.Query().Get("$params")))
	} else {
		b, err := readBody(r)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if len(raw) == 0 {
		return nil, nil
	}
	if err := checkJSON(raw); err != nil {
		return nil, err
	}
	var args []any
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, errorf(http.StatusBadRequest, codeBadBody, "Function arguments must be a JSON array")
	}
	return args, nil
}

// unquoteParam strips the single quotes 4D clients put around $params and $filter values.
func unquoteParam(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	return v
}

func urlUnescape(s string) (string, error) { return url.PathUnescape(s) }
