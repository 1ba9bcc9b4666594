package rest

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/internal/errkind"
	"gatehouse/sessions"
)

// Observer receives what the server answers, for metrics (*metrics.Metrics). Routes are
// reported by their pattern, never their URL.
type Observer interface {
	Request(route, method string, code int, d time.Duration)
	LicenceRefused()
	Throttled()
	BackendError(part string)
	AdminAction(action string)
}

// nopObserver records nothing.
type nopObserver struct{}

func (nopObserver) Request(string, string, int, time.Duration) {}
func (nopObserver) LicenceRefused()                            {}
func (nopObserver) Throttled()                                 {}
func (nopObserver) BackendError(string)                        {}
func (nopObserver) AdminAction(string)                         {}

// Route labels for requests no route matched.
const (
	routeUnmatchedREST = "/rest/(unmatched)"
	routeUnmatched     = "(unmatched)"
)

// routeName is a router middleware: it notes the pattern of the route that matched, for
// the metrics (mux runs it only when a route matched).
func routeName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateOf(r); st != nil {
			if route := mux.CurrentRoute(r); route != nil {
				tmpl, _ := route.GetPathTemplate()
				st.route = plainTemplate(tmpl)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// observe reports each answer to the Observer: route pattern, method, status, duration.
//
//go:noinline
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		st := stateOf(r)
		route := st.route
		if route == "" {
			route = routeUnmatched
			if strings.HasPrefix(r.URL.Path, "/rest/") {
				route = routeUnmatchedREST
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		default:
			method = "other" // a label value per invented method would be unbounded
		}
		s.cfg.Metrics.Request(route, method, status, time.Since(st.start))
	})
}

// observeError reports the refusals and failures the metrics count separately.
func (s *Server) observeError(err error, e *Error) {
	var te *sessions.ThrottledError
	switch {
	case e.Code == codeNoLicence:
		s.cfg.Metrics.LicenceRefused()
	case errors.As(err, &te):
		s.cfg.Metrics.Throttled()
	case e.Code == codeStoreUnavailable:
		s.cfg.Metrics.BackendError("store")
	case e.Code == codeDatabaseBusy, e.Status >= 500 && errkind.Of(err) == errkind.Unavailable:
		s.cfg.Metrics.BackendError("database")
	}
}

// forwardedTLS reports a request that a trusted proxy says reached it over HTTPS
// (X-Forwarded-Proto: https, the value the nearest proxy set being the last one).
func (s *Server) forwardedTLS(r *http.Request) bool {
	values := r.Header.Values("X-Forwarded-Proto")
	if len(values) == 0 || len(s.cfg.TrustedProxies) == 0 {
		return false
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = strings.Trim(host[:i], "[]")
	}
	if !s.trusted(host) {
		return false
	}
	all := strings.Split(strings.Join(values, ","), ",")
	return strings.EqualFold(strings.TrimSpace(all[len(all)-1]), "https")
}

// plainTemplate drops the patterns of a route template's variables, for a readable label:
// "/rest/{path:[^$].*}" is "/rest/{path}".
func plainTemplate(tmpl string) string {
	if !strings.Contains(tmpl, ":") {
		return tmpl
	}
	var b strings.Builder
	depth, skipping := 0, false
	for _, c := range tmpl {
		switch {
		case c == '{':
			depth++
			if depth == 1 {
				skipping = false
			}
		case c == '}':
			depth--
			if depth == 0 {
				skipping = false
			}
		case c == ':' && depth == 1:
			skipping = true
		}
		if !skipping || c == '}' && depth == 0 {
			b.WriteRune(c)
		}
	}
	return b.String()
}
