package rest

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// fastRoutes answers the hot REST paths without gorilla/mux: the fixed $directory, $info
// and $catalog paths, the function calls ($catalog/{name}, $singleton/{name}/{fn}) and
// the data routes. mux tries its routes in order, each a regular expression on the
// escaped path, and copies the request twice to carry the route and its variables; on
// the paths of the session check that was a quarter of gatehouse's own work.
//
// A fast route gives exactly the answer mux would: it serves the very handler mux has
// for the route, only when mux would pick that route (the same escaped path, a path mux
// would not redirect to its clean form, a method the route accepts, the same matchers),
// and names the route for the metrics as mux's routeName middleware does. Anything else
// (another method, an unusual path, a 404 or a 405) goes to mux, which stays the one
// authority on what is not a hot path.
type fastRoutes struct {
	exact map[string]*fastRoute // escaped path -> route

	// /rest/$catalog/{name}: a dataclass's description for GET unless $params is given
	// or the name is a datastore function; a datastore function otherwise.
	catalogDataClass, catalogFunction fastRoute
	// /rest/$singleton/{name}/{fn}
	singleton fastRoute
	// /rest/{path:[^$].*}
	data fastRoute
}

// fastRoute is one route of the router, as the fast path serves it.
type fastRoute struct {
	h       http.Handler
	name    string // the metrics label (routeName's)
	methods []string
	match   func(*http.Request) bool // the route's matcher besides path and method; nil: none
}

func (f *fastRoute) accepts(method string) bool {
	for _, m := range f.methods {
		if m == method {
			return true
		}
	}
	return false
}

// fast registers h at path on the /rest subrouter api, for the methods ms and, when match is
// not nil, the requests it accepts, and returns the route as the fast path serves it.
func (s *Server) fast(api *mux.Router, path string, h http.Handler, match func(*http.Request) bool, ms ...string) fastRoute {
	route := api.Handle(path, h).Methods(ms...)
	if match != nil {
		route.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool { return match(r) })
	}
	tmpl, _ := route.GetPathTemplate()
	return fastRoute{h: h, name: plainTemplate(tmpl), methods: ms, match: match}
}

// fastExact registers a route of a fixed path (no variables, no matcher), which the fast
// path finds by its path.
func (s *Server) fastExact(api *mux.Router, path string, h http.Handler, ms ...string) {
	f := s.fast(api, path, h, nil, ms...)
	if s.fastRoutes.exact == nil {
		s.fastRoutes.exact = map[string]*fastRoute{}
	}
	s.fastRoutes.exact[f.name] = &f
}

// dispatch serves r through its fast route when it has one, else through mux.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if st := stateOf(r); st != nil && !s.noFast {
		if f, vars := s.fastRoute(r); f != nil {
			st.route, st.vars = f.name, vars
			f.h.ServeHTTP(w, r)
			return
		}
	}
	s.router.ServeHTTP(w, r)
}

// fastRoute returns the route mux would serve r with, and its variables, or nil when r is
// not on a hot path (or when telling needs mux).
func (s *Server) fastRoute(r *http.Request) (*fastRoute, routeVars) {
	// What mux matches (UseEncodedPath): the escaped path. It costs nothing when the path
	// needs no escaping, which is the case of the hot paths.
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, "/rest/")
	if !ok || !cleanPath(rest) {
		return nil, routeVars{}
	}
	method := r.Method
	if f, ok := s.fastRoutes.exact[p]; ok {
		if f.accepts(method) {
			return f, routeVars{}
		}
		return nil, routeVars{}
	}
	if rest[0] != '$' {
		if f := &s.fastRoutes.data; f.h != nil && f.accepts(method) {
			return f, routeVars{names: &pathVarNames, values: [2]string{rest}}
		}
		return nil, routeVars{}
	}
	if name, ok := strings.CutPrefix(rest, "$catalog/"); ok && segment(name) {
		vars := routeVars{names: &nameVarNames, values: [2]string{name}}
		dc, fn := &s.fastRoutes.catalogDataClass, &s.fastRoutes.catalogFunction
		if dc.h == nil || fn.h == nil {
			return nil, routeVars{}
		}
		// The dataclass route comes first, with its matcher.
		if dc.accepts(method) && dc.match(r) {
			return dc, vars
		}
		if fn.accepts(method) {
			return fn, vars
		}
		return nil, routeVars{}
	}
	if names, ok := strings.CutPrefix(rest, "$singleton/"); ok {
		name, fn, ok := strings.Cut(names, "/")
		if f := &s.fastRoutes.singleton; ok && f.h != nil && segment(name) && segment(fn) && f.accepts(method) {
			return f, routeVars{names: &singletonVarNames, values: [2]string{name, fn}}
		}
	}
	return nil, routeVars{}
}

// segment reports whether s matches a mux variable of the default pattern ([^/]+).
func segment(s string) bool { return s != "" && !strings.Contains(s, "/") }

// cleanPath reports whether "/rest/"+rest is a path mux serves as it is, without
// redirecting to its clean form. It is conservative: a path it refuses goes to mux, which
// decides.
func cleanPath(rest string) bool {
	return rest != "" && !strings.Contains(rest, "//") && !strings.Contains(rest, "/.") && rest[0] != '.'
}

// routeVars are the variables of a route the fast path served (mux keeps its own in the
// request's context).
type routeVars struct {
	names  *[2]string // one of the …VarNames, "" past the last (shared: a request's state stays small)
	values [2]string
}

// The variable names of the fast routes.
var (
	pathVarNames      = [2]string{"path"}
	nameVarNames      = [2]string{"name"}
	singletonVarNames = [2]string{"name", "fn"}
)

func (v *routeVars) get(name string) (string, bool) {
	if v.names == nil || name == "" {
		return "", false
	}
	for i, n := range v.names {
		if n == name {
			return v.values[i], true
		}
	}
	return "", false
}
