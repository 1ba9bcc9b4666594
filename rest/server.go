package rest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/gorilla/mux"

	"gatehouse/core"
	"gatehouse/sessions"
)

// Config wires a Server. App and Codec are required.
type Config struct {
	// App is the transport-free core: the generation in force, sessions, logins, calls.
	App   *core.App
	Codec *sessions.Codec
	Data  Datastore // nil: no dataclasses

	WebDir      string // static files served at /; "" = none
	WebFormsDir string // pages for $getWebForm; "" = none

	// TrustedProxies are the networks of reverse proxies whose X-Forwarded-For is believed
	// (for login throttling and session addresses); empty: the peer address is the client.
	TrustedProxies []netip.Prefix
	// AllowedOrigins are the origins (scheme://host[:port]), besides the server's own, whose
	// pages may make state-changing requests with the session cookie; they get CORS answers.
	AllowedOrigins []string
	// Ready checks the parts the server needs (session store, database, ...) for /readyz:
	// part name -> nil when it works. Nil: only "started" is checked.
	Ready func(ctx context.Context) map[string]error

	CookieName     string        // default WASID4D
	CookieSecure   string        // auto (default), true, false
	CookieSameSite http.SameSite // default Strict
	MaxBody        int64         // default 1 MiB
	MaxBinary      int64         // $upload body limit (binary attributes); default 8 MiB
	MaxTop         int           // cap on $top / $limit; default 10 000
	Version        string
	Logger         *slog.Logger

	// Metrics receives what the server answers (nil: nothing is recorded).
	Metrics Observer
	// Admin backs the admin console's licence chart and login counters (nil: the console
	// shows sessions and the generation only).
	Admin AdminBackend
}

// Server is gatehouse's HTTP surface: the 4D REST protocol over the core.
type Server struct {
	cfg     Config
	log     *slog.Logger
	router  *mux.Router
	handler http.Handler
	// fastRoutes serve the hot REST paths without mux (fastroute.go); noFast turns them off
	// (tests compare the two).
	fastRoutes fastRoutes
	noFast     bool
	observed   bool // Config.Metrics was given
	// plainCookies: net/http's cookie limit is its default, so that cookiesNamed reads the
	// session cookie as it does (cookie.go).
	plainCookies bool
	userIDs      userIDs // see handleCurrentUser
	ready        chan struct{}
	origins      map[string]bool // AllowedOrigins
}

// New builds the router and middleware chain.
func New(cfg Config) (*Server, error) {
	if cfg.App == nil || cfg.Codec == nil {
		return nil, errors.New("rest: App and Codec are required")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "WASID4D"
	}
	if cfg.CookieSecure == "" {
		cfg.CookieSecure = "auto"
	}
	if cfg.CookieSameSite == 0 {
		cfg.CookieSameSite = http.SameSiteStrictMode
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxTop <= 0 {
		cfg.MaxTop = 10000
	}
	if cfg.MaxBinary <= 0 {
		cfg.MaxBinary = DefaultMaxBinary
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	observed := cfg.Metrics != nil
	if !observed {
		cfg.Metrics = nopObserver{}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), origins: map[string]bool{}, observed: observed,
		plainCookies: cookieLimitIsDefault()}
	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.AllowedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("rest: allowed origin %q: %w", o, err)
		}
		s.origins[o] = true
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errCrossOrigin)
	}))
	s.router = mux.NewRouter()
	s.router.UseEncodedPath()
	s.routes()
	inner := s.accessLog(s.crossOrigin(cop, http.HandlerFunc(s.dispatch)))
	if observed {
		s.router.Use(routeName)
		inner = s.observe(inner)
	}
	s.handler = s.recoverer(s.requestState(inner))
	return s, nil
}

// SetReady marks the server ready: /healthz answers 200 from then on.
func (s *Server) SetReady() {
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route options
type routeOpt int

const (
	// lazySession: the handler resolves or opens the session itself (login, logout,
	// currentUserBelongsTo, function calls), through the core.
	lazySession routeOpt = 1 << iota
	// noBasic: HTTP Basic credentials are not a login here (login reads them itself;
	// opening a session only to close it at logout is pointless).
	noBasic
)

// handlerFunc is a handler that returns its error to the one error funnel.
type handlerFunc func(w http.ResponseWriter, r *http.Request, st *state) error

// handle adapts a handlerFunc. What the route needs of the session is declared here, with
// the route, and checked in one place (core.Request.Open): HTTP Basic credentials of a
// request without a session are authenticated first; then the session is resumed or
// opened for the declared access (unless lazySession). An error is funnelled to
// writeError after the core has undone what the request opened, so that a refused request
// takes no session and no licence; the cookie decision is carried out with the answer.
//
// It is not inlined, nor are the middleware constructors (recoverer, requestState,
// accessLog, crossOrigin, observe): the compiler (Go 1.26) compiles the copy of a closure
// that an inlined constructor leaves in its caller without inlining the calls in the
// closure's body, and these closures run on every request (stateOf, Request.Context and
// the like were real calls).
//
//go:noinline
func (s *Server) handle(access core.Access, opts routeOpt, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r)
		req := s.request(r)
		st.cookieW = cookieWriter{ResponseWriter: w, srv: s, st: st}
		cw := &st.cookieW
		ctx := r.Context()
		err := func() error {
			if user, password, ok := basicAuth(r); ok && opts&noBasic == 0 {
				if err := req.Basic(ctx, user, password); err != nil {
					if errors.Is(err, core.ErrLoginFailed) {
						w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
					}
					return err
				}
			}
			if opts&lazySession == 0 {
				if _, err := req.Open(ctx, access); err != nil {
					return err
				}
			}
			return h(cw, r, st)
		}()
		if err != nil {
			gone := errors.Is(err, context.Canceled) && ctx.Err() != nil
			if aerr := req.Abandon(ctx, gone); aerr != nil {
				s.logger(r).Error("close the session a refused request opened", "err", aerr)
			}
			s.writeError(cw, r, err)
		}
	})
}

// methods is what a GET route answers: HEAD is GET without a body (net/http drops it).
var methods = struct{ get, post, getPost []string }{
	get:     []string{http.MethodGet, http.MethodHead},
	post:    []string{http.MethodPost},
	getPost: []string{http.MethodGet, http.MethodHead, http.MethodPost},
}

func (s *Server) routes() {
	r := s.router
	// /rest first: mux tries routes in order, and REST requests are the many.
	api := r.PathPrefix("/rest").Subrouter()
	s.registerDirectoryRoutes(api)
	s.registerInfoRoutes(api)
	s.registerCatalogRoutes(api)
	s.registerBinaryRoutes(api)
	s.registerDataRoutes(api)
	// Unknown routes open no session: they are answered before any.
	api.NotFoundHandler = s.handle(core.Descriptive, lazySession, s.handleNotFound)
	api.MethodNotAllowedHandler = s.handle(core.Descriptive, lazySession, func(http.ResponseWriter, *http.Request, *state) error {
		return errorf(http.StatusMethodNotAllowed, codeMalformedURL, "Method not allowed")
	})
	r.Handle("/healthz", http.HandlerFunc(s.handleHealth)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", http.HandlerFunc(s.handleReady)).Methods(http.MethodGet, http.MethodHead)
	s.registerAdminRoutes(r)
	if s.cfg.WebDir != "" {
		r.PathPrefix("/").Handler(s.static(s.cfg.WebDir))
	}
}

// handleNotFound answers REST paths that match no route, as 4D does.
func (s *Server) handleNotFound(_ http.ResponseWriter, r *http.Request, _ *state) error {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method || m == http.MethodGet && r.Method == http.MethodHead {
			continue
		}
		other := r.Clone(r.Context())
		other.Method = m
		var match mux.RouteMatch
		if s.router.Match(other, &match) && match.MatchErr == nil {
			return errorf(http.StatusMethodNotAllowed, codeMalformedURL, "Method %s not allowed here", r.Method)
		}
	}
	rest := strings.TrimPrefix(r.URL.Path, "/rest/")
	if strings.HasPrefix(rest, "$") {
		return errorf(http.StatusBadRequest, codeUnknownKeyword, "Unknown keyword")
	}
	return errorf(http.StatusNotFound, codeUnknownDataClass, "Unknown dataclass or resource")
}

// handleHealth handles "GET /healthz".
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	select {
	case <-s.ready:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	}
}

// handleReady handles "GET /readyz": 200 only when the server can do its job — started,
// and every check of Config.Ready passing — else 503 naming each failing part. No session
// is involved.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	failing := map[string]string{}
	select {
	case <-s.ready:
	default:
		failing["server"] = "starting"
	}
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		for part, err := range s.cfg.Ready(ctx) {
			if err != nil {
				s.logger(r).Warn("not ready", "part", part, "err", err)
				failing[part] = "unavailable"
			}
		}
	}
	if len(failing) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failing": failing})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// recoverer turns a panic into a 500 and a log record with the stack, and keeps serving.
//
//go:noinline
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger(r).Error("panic serving request", "panic", fmt.Sprint(v), "stack", stack())
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requestState attaches the per-request state (request ID, logger, session slot) and
// applies the body limit.
//
//go:noinline
func (s *Server) requestState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{parent: r.Context()}
		id := headerValue(r.Header, "X-Request-Id")
		if !validRequestID(id) {
			id = st.newRequestID()
		}
		st.idHeader[0] = id
		// (The key is canonical: no Set needed. The value's slice is the state's, one
		// allocation less.)
		w.Header()["X-Request-Id"] = st.idHeader[:]
		if s.observed || s.log.Enabled(r.Context(), slog.LevelInfo) {
			st.start = time.Now() // (only the access log and the metrics read it)
		}
		// (WithContext's copy does not escape: the request lives in the state.)
		st.httpReq = *r.WithContext(st)
		r = &st.httpReq
		limit, tooLarge := s.cfg.MaxBody, errBodyTooLarge
		if isUploadPath(r.URL.Path) { // raw bytes for a binary attribute: their own limit
			limit, tooLarge = s.cfg.MaxBinary, errBinaryTooLarge
		}
		if r.ContentLength > limit {
			s.writeError(w, r, tooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody { // (the server's empty body needs no limit)
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

var errBodyTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge, Message: "Request body too large"}

// newRequestID returns 16 random hex digits. A request ID only has to be unique enough to
// find a request in the logs, not unguessable: math/rand's per-thread generator costs a few
// nanoseconds where crypto/rand costs a system call (and, unlike a shared counter, it is no
// cache line the cores take turns to own). No allocation: the string's bytes are the
// state's idBuf, written here once and never again.
func (st *state) newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	hex.Encode(st.idBuf[:], b[:])
	return unsafe.String(&st.idBuf[0], len(st.idBuf))
}

// headerValue is h.Get(key) for a key already in canonical form, without canonicalising
// it again (on the path of every request).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// basicAuth is r.BasicAuth, which most requests, without an Authorization header, need
// not call.
func basicAuth(r *http.Request) (user, password string, ok bool) {
	if _, ok := r.Header["Authorization"]; !ok {
		return "", "", false
	}
	return r.BasicAuth()
}

// validRequestID reports whether a client's X-Request-Id may be reused (and logged): 1 to
// 64 of A-Z a-z 0-9 . _ -.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// statusWriter records what was answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one record per request. Query strings are left out: they may carry
// one-time passcodes ($4DSID). With the info level off it costs nothing.
//
//go:noinline
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			next.ServeHTTP(w, r)
			return
		}
		st := stateOf(r)
		if st.start.IsZero() { // (the level changed since requestState looked)
			st.start = time.Now()
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
			slog.Duration("duration", time.Since(st.start)),
		}
		if sess := st.sess(); sess != nil {
			attrs = append(attrs, slog.String("session", sessionTag(sess.ID)))
		}
		st.logger(s.log).LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}
