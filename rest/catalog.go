package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"gatehouse/core"
	"gatehouse/datastore"
	"gatehouse/engine"
	"gatehouse/roles"
)

func (s *Server) registerCatalogRoutes(r *mux.Router) {
	s.fastExact(r, "/$catalog", s.handle(core.Descriptive, 0, s.handleCatalog), methods.get...)
	s.fastExact(r, "/$catalog/$all", s.handle(core.Descriptive, 0, s.handleCatalogAll), methods.get...)
	describesDataClass := func(r *http.Request) bool { return r.URL.Query().Get("$params") == "" && !s.isFunction(r) }
	s.fastRoutes.catalogDataClass = s.fast(r, "/$catalog/{name}", s.handle(core.Descriptive, 0, s.handleCatalogDataClass), describesDataClass, methods.get...)
	s.fastRoutes.catalogFunction = s.fast(r, "/$catalog/{name}", s.handle(core.Member, lazySession, s.handleDataStoreFunction), nil, methods.getPost...)
	s.fastRoutes.singleton = s.fast(r, "/$singleton/{name}/{fn}", s.handle(core.Member, lazySession, s.handleSingletonFunction), nil, methods.getPost...)
	r.Handle("/$getWebForm/{name}", s.handle(core.Descriptive, 0, s.handleGetWebForm)).Methods(methods.get...)
}

// isFunction reports whether "GET /rest/$catalog/{name}" names a datastore function
// (rather than a dataclass), in the request's generation.
func (s *Server) isFunction(r *http.Request) bool {
	// Route variables are not set while matching: read the name from the path.
	name, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/rest/$catalog/"))
	if err != nil {
		return false
	}
	_, err = s.request(r).Gen.Resolve(core.DatastoreFunction, "", name)
	return err == nil
}

// catalogEntry is one dataclass in "GET /rest/$catalog".
type catalogEntry struct {
	Name    string `json:"name"`
	URI     string `json:"uri"`
	DataURI string `json:"dataURI"`
}

// handleCatalog handles "GET /rest/$catalog".
func (s *Server) handleCatalog(w http.ResponseWriter, _ *http.Request, st *state) error {
	list := []catalogEntry{}
	for _, dc := range exposedDataClasses(st.req.Gen) {
		list = append(list, catalogEntry{Name: dc.Name, URI: "/rest/$catalog/" + dc.Name, DataURI: "/rest/" + dc.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"dataClasses": list, "singletons": singletons(st.req.Gen)})
	return nil
}

// singletonDescription is one singleton in $catalog: its name and exposed functions.
type singletonDescription struct {
	Name    string                   `json:"name"`
	Methods []singletonMethodSummary `json:"methods"`
}

type singletonMethodSummary struct {
	Name             string `json:"name"`
	Exposed          bool   `json:"exposed"`
	AllowedOnHTTPGET bool   `json:"allowedOnHTTPGET"`
}

// singletons lists the singletons of generation g for $catalog (SPEC §3.8).
func singletons(g *core.Generation) []singletonDescription {
	out := []singletonDescription{}
	for _, sg := range g.Singletons() {
		d := singletonDescription{Name: sg.Name, Methods: []singletonMethodSummary{}}
		for _, f := range sg.Functions {
			if f.Scope == engine.ModuleScope {
				d.Methods = append(d.Methods, singletonMethodSummary{Name: f.Name, Exposed: true, AllowedOnHTTPGET: f.OnHTTPGet})
			}
		}
		out = append(out, d)
	}
	return out
}

// handleSingletonFunction handles "POST /rest/$singleton/{Name}/{fn}" (and GET for
// functions opened with onHttpGet): a function exported by scripts/singletons/{Name}.js.
func (s *Server) handleSingletonFunction(w http.ResponseWriter, r *http.Request, st *state) error {
	name, err := pathVar(r, "name")
	if err != nil {
		return err
	}
	fn, err := pathVar(r, "fn")
	if err != nil {
		return err
	}
	t, err := st.req.Gen.Resolve(core.SingletonFunction, name, fn)
	if err != nil {
		return err
	}
	if hasQuery(r) {
		return errQueryOnFunction
	}
	return s.callFunction(w, r, st, t)
}

// handleCatalogAll handles "GET /rest/$catalog/$all".
func (s *Server) handleCatalogAll(w http.ResponseWriter, _ *http.Request, st *state) error {
	list := []dataClassDescription{}
	for _, dc := range exposedDataClasses(st.req.Gen) {
		list = append(list, describeDataClass(dc, st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"dataClasses": list, "singletons": singletons(st.req.Gen)})
	return nil
}

// handleCatalogDataClass handles "GET /rest/$catalog/{DC}".
func (s *Server) handleCatalogDataClass(w http.ResponseWriter, r *http.Request, st *state) error {
	dc, err := exposedDataClass(r, st, "name")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, describeDataClass(dc, st))
	return nil
}

func exposedDataClasses(g *core.Generation) []*datastore.DataClass {
	var out []*datastore.DataClass
	for _, dc := range g.Model.DataClasses {
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
	Name             string `json:"name"`
	ApplyTo          string `json:"applyTo"`
	Scope            string `json:"scope"`
	Exposed          bool   `json:"exposed"`
	AllowedOnHTTPGET bool   `json:"allowedOnHTTPGET"`
}

// applyTo is 4D's applyTo of a function of scope s: what the function runs on.
func applyTo(s engine.Scope) string {
	switch s {
	case engine.EntityScope:
		return "entity"
	case engine.SelectionScope:
		return "entityCollection"
	}
	return "dataClass"
}

// describeDataClass builds 4D's description; attributes the session may not read are
// left out, as everywhere.
func describeDataClass(dc *datastore.DataClass, st *state) dataClassDescription {
	d := dataClassDescription{
		Name: dc.Name, ClassName: dc.Name, CollectionName: dc.Name + "Selection", Scope: "public",
		DataURI: "/rest/" + dc.Name, Attributes: []attributeDescription{}, Methods: []methodDescription{},
	}
	for _, a := range dc.Attributes {
		if !a.Exposed || !st.req.Allowed(roles.Read, roles.AttributeResource(dc.Name, a.Name)) {
			continue
		}
		ad := attributeDescription{Name: a.Name, Kind: a.Kind, Type: a.Type, Scope: "public",
			Identifying: a.PrimaryKey, Indexed: a.Indexed}
		if a.Type == datastore.TypePicture && a.IsStorage() {
			ad.Type = "image" // 4D's name
		}
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
	for _, f := range st.req.Gen.DataClassFunctions(dc.Name) {
		d.Methods = append(d.Methods, methodDescription{Name: f.Name, ApplyTo: applyTo(f.Scope),
			Scope: "public", Exposed: true, AllowedOnHTTPGET: f.OnHTTPGet})
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
	t, err := st.req.Gen.Resolve(core.DatastoreFunction, "", name)
	if err != nil {
		return err
	}
	if hasQuery(r) {
		return errQueryOnFunction
	}
	return s.callFunction(w, r, st, t)
}

// callFunction runs the script function t for a REST caller: arguments from the body (or
// $params for GET), then the core's call (guest rule, permission, promote, throttle) and
// the answer.
func (s *Server) callFunction(w http.ResponseWriter, r *http.Request, st *state, t core.Target) error {
	return s.callFunctionOn(w, r, st, t, nil)
}

// callFunctionOn is callFunction for an entity or selection function: this is the entity
// (*datastore.Entity) or the selection (datastore.SelectionRef) it runs on.
func (s *Server) callFunctionOn(w http.ResponseWriter, r *http.Request, st *state, t core.Target, this any) error {
	if r.Method != http.MethodPost && !t.OnHTTPGet {
		return errorf(http.StatusMethodNotAllowed, codeGetNotAllowed, "This function cannot be called with GET")
	}
	args, err := functionArgs(r)
	if err != nil {
		return err
	}
	if err := s.classArgs(r.Context(), st, args); err != nil {
		return err
	}
	result, err := st.req.CallOn(r.Context(), t, this, args)
	if err != nil {
		return err
	}
	return s.writeResult(w, r, st, result)
}

// functionArgs reads a function's arguments: the JSON array body, or $params for GET.
func functionArgs(r *http.Request) ([]any, error) {
	var raw []byte
	if r.Method != http.MethodPost {
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
