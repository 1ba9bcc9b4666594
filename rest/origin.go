package rest

import (
	"net/http"
	"net/url"
	"strings"
)

// corsHeaders are the request headers a cross-origin page may send: the 4D login headers,
// JSON bodies, HTTP Basic and request IDs.
const corsHeaders = "Content-Type, Authorization, X-Request-Id, username-4D, password-4D, hashed-password-4D, session-4D-length"

var errCrossOrigin = errorf(http.StatusForbidden, codeCrossOrigin, "Cross-site request refused: this origin is not allowed")

// crossOrigin protects the session cookie from other sites (SPEC §8) and answers CORS for
// Config.AllowedOrigins. cop (net/http's CrossOriginProtection, with the allowed origins
// trusted) refuses state-changing requests that a browser says come from another origin,
// whatever the cookie's SameSite; a request with neither Sec-Fetch-Site nor Origin but a
// foreign Referer and a cookie is refused too. OPTIONS requests end here, answered without
// a session: they are CORS pre-flights, or questions about the allowed methods.
//
//go:noinline
func (s *Server) crossOrigin(cop *http.CrossOriginProtection, next http.Handler) http.Handler {
	checked := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := headerValue(r.Header, "Origin")
		allowed := origin != "" && s.origins[origin]
		h := w.Header()
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
		}
		if len(s.origins) > 0 {
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			if allowed && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", corsHeaders)
				h.Set("Access-Control-Max-Age", "600")
			}
			h.Set("Allow", "GET, HEAD, POST, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if s.foreignReferer(r) {
			s.writeError(w, r, errCrossOrigin)
			return
		}
		checked.ServeHTTP(w, r)
	})
}

// foreignReferer reports a state-changing request that carries cookies, no Sec-Fetch-Site
// and no Origin (older browsers), and a Referer from an origin that is neither the
// server's own nor allowed.
func (s *Server) foreignReferer(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Origin") != "" || r.Header.Get("Cookie") == "" {
		return false
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return false
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return true
	}
	if strings.EqualFold(u.Host, r.Host) {
		return false
	}
	return !s.origins[u.Scheme+"://"+u.Host]
}
