// Package server assembles a whole gatehouse — database, script engine, sessions, the core,
// the REST protocol, the file watcher and the HTTP server — from one Config. It is the one
// place where the parts are wired: the gatehouse command, the end-to-end tests and the
// benchmarks all build their server with New.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"gatehouse/core"
	"gatehouse/datastore"
	"gatehouse/datastore/dsjs"
	"gatehouse/engine"
	"gatehouse/internal/appfile"
	"gatehouse/internal/watch"
	"gatehouse/rest"
	"gatehouse/sessions"
)

// Config is everything a server is told. The zero value of each field takes the default
// of the matching gatehouse serve flag (SPEC §2).
type Config struct {
	Dir string // the app folder (default ".")
	// Database is the datastore: a SQLite file, relative to Dir unless absolute (default
	// data/gatehouse.db), or a postgres:// URL shared by every instance of a cluster.
	Database string

	Licenses         int           // licences at most; 0 = unlimited
	IdleTimeout      time.Duration // default 60m
	MinIdleTimeout   time.Duration // default 60m
	MaxIdleTimeout   time.Duration // default 24h
	MaxGuestSessions int           // default 100 000

	// Store is where sessions, licences, login counters and one-time tokens live:
	// "" or "memory" (this process), or redis://… / rediss://… shared by every instance
	// pointing at it (SPEC §4.4; see store.go). Entity sets will live there too.
	Store string
	// StoreNamespace is the Redis hash tag of the keys (default "gatehouse"); instances
	// that share sessions use the same.
	StoreNamespace string

	CookieName     string        // default WASID4D
	CookieSecure   string        // auto (default), true, false
	CookieSameSite http.SameSite // default Strict
	// CookieHashKey / CookieBlockKey (hex) sign and encrypt the cookie; without them the
	// keys are read from (or created in) data/cookie.keys.
	CookieHashKey, CookieBlockKey string

	ScriptTimeout time.Duration // default 5s
	ScriptMaxHeap int64         // see engine.Options.MaxHeap

	MaxBody        int64 // default 1 MiB
	MaxBinary      int64 // $upload body limit (blob and picture attributes); default 8 MiB
	MaxConns       int   // open client connections at most; default 10 000
	TrustedProxies []netip.Prefix
	AllowedOrigins []string

	Version string
	Logger  *slog.Logger // nil discards

	// Throttle sets the login throttle's limits (zero values: the defaults).
	Throttle sessions.ThrottleConfig
	// Now is the clock of sessions and the throttle (nil: time.Now). Tests move it.
	Now func() time.Time
	// OnReload, when set, is called after each reload attempt with its result.
	OnReload func(error)
	// NoWatch turns off the file watcher (reloads then happen only through Reload).
	NoWatch bool

	Ops // HTTPS and metrics (ops.go)
}

func (c *Config) defaults() {
	if c.Dir == "" {
		c.Dir = "."
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Minute
	}
	if c.MinIdleTimeout <= 0 {
		c.MinIdleTimeout = 60 * time.Minute
	}
	if c.MaxIdleTimeout <= 0 {
		c.MaxIdleTimeout = 24 * time.Hour
	}
	if c.MaxGuestSessions == 0 {
		c.MaxGuestSessions = 100000
	}
	if c.ScriptTimeout <= 0 {
		c.ScriptTimeout = engine.DefaultTimeout
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxBinary <= 0 {
		c.MaxBinary = rest.DefaultMaxBinary
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is a whole gatehouse, opened.
type Server struct {
	cfg       Config
	log       *slog.Logger
	db        *datastore.DB
	engine    *engine.Engine
	sessions  *sessions.Manager
	store     sessions.Store
	app       *core.App
	rest      *rest.Server
	http      *http.Server
	watcher   *watch.Watcher
	reload    context.CancelFunc // cancels a reload in progress at Close
	reloadCtx context.Context    // ends at Close: reloads and background work
	ops       ops                // metrics, TLS, the admin console's history and counters (ops.go)
	jobs      sync.WaitGroup     // background work, waited for at Close
}

// uploadSweepEvery is how often expired pending uploads are deleted (uploads live 120 s
// by default).
const uploadSweepEvery = time.Minute

// New opens the app folder cfg.Dir and every part of the server. It refuses to start, with
// the file and line, when roles.json, model.json or a script is invalid. The caller serves
// it (Serve, or Handler) and closes it.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg.defaults()
	s := &Server{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("app folder %s: not a folder", cfg.Dir)
	}
	if err := os.MkdirAll(s.path("data"), 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	if err := s.openOps(); err != nil {
		return nil, err
	}
	if err := s.openDatabase(ctx); err != nil {
		return nil, err
	}
	s.engine, err = engine.New(engine.Options{
		Dir: s.path("scripts"), Timeout: cfg.ScriptTimeout, MaxHeap: cfg.ScriptMaxHeap,
		Logger:  s.log.With("component", "scripts"),
		Globals: []engine.Global{dsjs.New(s.db)},
	})
	if err != nil {
		return nil, err
	}
	store, err := s.openStore(ctx)
	if err != nil {
		return nil, err
	}
	s.store = store
	s.sessions = sessions.NewManager(sessions.Config{
		Store: store, IdleTimeout: cfg.IdleTimeout, MinIdle: cfg.MinIdleTimeout, MaxIdle: cfg.MaxIdleTimeout,
		Licences: cfg.Licenses, Logger: s.log.With("component", "sessions"), Now: cfg.Now,
	})
	throttle := cfg.Throttle
	if throttle.Now == nil {
		throttle.Now = cfg.Now
	}
	s.app, err = core.New(ctx, core.Config{
		Dir: cfg.Dir, Engine: s.scriptHost(), Sessions: s.sessions,
		Throttle: sessions.NewThrottle(s.watchCounters(store, throttle), throttle),
		Schema:   s.db.SetModel,
		Logger:   s.log, OnReload: s.onReload,
	})
	if err != nil {
		return nil, err
	}
	if err := s.sessions.Open(); err != nil {
		return nil, err
	}
	s.ops.history.Open()
	keys, err := s.cookieKeys(ctx)
	if err != nil {
		return nil, err
	}
	codec, err := sessions.NewCodec(keys)
	if err != nil {
		return nil, err
	}
	s.rest, err = rest.New(rest.Config{
		App: s.app, Codec: codec, Data: s.db,
		WebDir: s.existing("web"), WebFormsDir: s.existing("webforms"),
		TrustedProxies: cfg.TrustedProxies, AllowedOrigins: cfg.AllowedOrigins,
		CookieName: cfg.CookieName, CookieSecure: cfg.CookieSecure, CookieSameSite: cfg.CookieSameSite,
		MaxBody: cfg.MaxBody, MaxBinary: cfg.MaxBinary, Version: cfg.Version, Logger: s.log,
		Ready:   s.ready,
		Metrics: s.observer(), Admin: s.adminBackend(),
	})
	if err != nil {
		return nil, err
	}
	s.http = HTTPServer(s.rest, cfg.ScriptTimeout, s.log)
	s.reloadCtx, s.reload = context.WithCancel(context.WithoutCancel(ctx))
	if s.db != nil {
		s.jobs.Go(func() { s.sweepUploads(s.reloadCtx, uploadSweepEvery) })
	}
	if !cfg.NoWatch {
		s.watcher = watch.New(watch.Options{
			Paths:    []string{s.path("scripts"), s.path(core.RolesFile), s.path(core.ModelFile)},
			OnChange: func() { s.app.Reload(s.reloadCtx) },
			Logger:   s.log.With("component", "watch"),
		})
		if err := s.watcher.Open(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// DefaultMaxConns is --max-conns's default: connections served at once.
const DefaultMaxConns = 10000

// HTTPServer is the net/http server gatehouse serves handler with: its connection timeouts
// (SPEC §8) for a server whose scripts may run scriptTimeout, and its limits. The load
// tool's bare baseline is served by the same, so that comparisons measure handlers.
func HTTPServer(handler http.Handler, scriptTimeout time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// A script call may take scriptTimeout, and waiting for a script slot as long again.
		WriteTimeout:   2*scriptTimeout + 60*time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// sweepUploads deletes expired pending uploads every interval until ctx ends, so that a
// quiet server does not keep their bytes until its next upload (each upload sweeps too).
func (s *Server) sweepUploads(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.db.SweepUploads(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("deleting expired uploads failed", "err", err)
		case n > 0:
			s.log.Info("expired uploads deleted", "count", n)
		}
	}
}

func (s *Server) path(parts ...string) string {
	return filepath.Join(append([]string{s.cfg.Dir}, parts...)...)
}

// existing returns the app folder's sub-folder name if it exists, else "".
func (s *Server) existing(name string) string {
	p := s.path(name)
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p
	}
	return ""
}

// openDatabase opens Config.Database (data/gatehouse.db by default) with the app folder's
// model as it is now (the core validates the model again, with the rest of the generation),
// seeding it on first start from seed.json. A failed seed leaves no database file behind (on
// PostgreSQL: nothing, and the next start seeds again).
func (s *Server) openDatabase(ctx context.Context) error {
	root, err := os.OpenRoot(s.cfg.Dir)
	if err != nil {
		return err
	}
	defer root.Close()
	model, _ := datastore.ParseModel([]byte(`{"dataClasses":[]}`))
	if data, err := appfile.Read(root, core.ModelFile, 0); err == nil {
		if model, err = datastore.ParseModelFile(s.path(core.ModelFile), data); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", core.ModelFile, err)
	}
	seed, err := appfile.Read(root, "seed.json", 64<<20)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("seed.json: %w", err)
	}
	var n int
	s.db, n, err = datastore.OpenSeeded(ctx, s.databasePath(), model, seed,
		datastore.Options{Logger: s.log.With("component", "datastore"), Now: s.cfg.Now})
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("database seeded", "file", "seed.json", "entities", n)
	}
	return nil
}

// databasePath resolves Config.Database: a URL as it is, a relative file in the app folder.
func (s *Server) databasePath() string {
	d := s.cfg.Database
	switch {
	case d == "":
		return s.path("data", "gatehouse.db")
	case strings.Contains(d, "://") || filepath.IsAbs(d):
		return d
	}
	return filepath.Join(s.cfg.Dir, d)
}

// cookieKeys come from Config (the environment), else from a shared store (the first
// instance of a cluster creates them), else data/cookie.keys (created with a random key on
// first start).
func (s *Server) cookieKeys(ctx context.Context) ([]sessions.KeyPair, error) {
	if s.cfg.CookieHashKey != "" {
		return sessions.ParseKeys(s.cfg.CookieHashKey, s.cfg.CookieBlockKey)
	}
	if s.cfg.CookieBlockKey != "" {
		return nil, errors.New("GATEHOUSE_COOKIE_BLOCK_KEY is set without GATEHOUSE_COOKIE_HASH_KEY")
	}
	if keys, ok, err := s.storeKeys(ctx); ok {
		return keys, err
	}
	return sessions.LoadOrCreateKeyFile(s.path("data", "cookie.keys"))
}

// ready checks the parts a request needs, for /readyz.
func (s *Server) ready(ctx context.Context) map[string]error {
	_, storeErr := s.sessions.Stats(ctx)
	return map[string]error{"database": s.db.Ping(ctx), "sessions": storeErr}
}

// Handler is the server's HTTP handler (for httptest and benchmarks).
func (s *Server) Handler() http.Handler { return s.rest }

// App is the server's core.
func (s *Server) App() *core.App { return s.app }

// Sessions is the server's session manager.
func (s *Server) Sessions() *sessions.Manager { return s.sessions }

// Reload loads the app folder again now (the watcher does this by itself on changes).
func (s *Server) Reload(ctx context.Context) error { return s.app.Reload(ctx) }

// Serve accepts connections on ln (at most MaxConns open at once; more wait in the kernel's
// backlog) until Shutdown. /healthz answers 200 from now on.
func (s *Server) Serve(ln net.Listener) error {
	s.rest.SetReady()
	err := s.http.Serve(s.tlsListener(netutil.LimitListener(ln, s.cfg.MaxConns)))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for the requests in flight, at most
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.reload()
	return s.http.Shutdown(ctx)
}

// Close stops every part, in reverse order of dependence. It releases what this process
// holds — the memory store's sessions and licences go with it; a shared store's stay for
// the other instances.
func (s *Server) Close() error {
	errs := []error{s.closeOps()}
	if s.reload != nil {
		s.reload()
	}
	s.jobs.Wait()
	if s.watcher != nil {
		errs = append(errs, s.watcher.Close())
	}
	if s.sessions != nil {
		if _, shared := s.store.(sessions.Secrets); shared {
			// A shared store: nothing to release, the other instances serve on.
		} else if st, err := s.sessions.Stats(context.Background()); err == nil && st.Licensed > 0 {
			s.log.Info("releasing licences", "count", st.Licensed)
		}
		errs = append(errs, s.sessions.Close())
	} else if s.store != nil { // New failed between opening the store and the manager
		errs = append(errs, s.store.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}
