package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/datastore"
	"gatehouse/datastore/dsjs"
	"gatehouse/engine"
	"gatehouse/internal/watch"
	"gatehouse/rest"
	"gatehouse/roles"
	"gatehouse/sessions"
)

// app is one served app folder: every part, wired.
type app struct {
	cfg *serveConfig
	log *slog.Logger

	roles atomic.Pointer[roles.Config]
	// rejected holds why the last reload of roles.json / model.json was refused.
	rejectedMu sync.Mutex
	rejected   map[string]error
	seen       map[string]bool // app files the server has run with (see checkRemoved)
	sessions   *sessions.Manager
	engine     *engine.Engine
	db         *datastore.DB
	watcher    *watch.Watcher
	server     *rest.Server
	http       *http.Server

	hooks hooks
}

// hooks let tests follow the server: each channel, when not nil, is sent to.
type hooks struct {
	ready    chan<- string // the listening address, once serving
	reloaded chan<- error  // after each reload of the scripts (nil error: accepted)
}

func (a *app) path(parts ...string) string {
	return filepath.Join(append([]string{a.cfg.Dir}, parts...)...)
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then shuts down
// gracefully: in-flight requests finish, then every licence is released.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, h hooks) error {
	cfg, err := parseServeFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	a := &app{cfg: cfg, log: log, hooks: h}
	if err := a.open(ctx); err != nil {
		a.close()
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.close()
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.http.Serve(ln) }()
	a.server.SetReady()
	log.Info("gatehouse serving", "addr", "http://"+ln.Addr().String(), "dir", cfg.Dir,
		"version", versionString(), "forceLogin", a.roles.Load().ForceLogin(), "licenses", cfg.Licenses)
	if h.ready != nil {
		h.ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		a.close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.http.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running at shutdown deadline", "err", err)
	}
	return a.close()
}

func newLogger(cfg *serveConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// open loads and validates everything, refusing to start on any invalid file.
func (a *app) open(ctx context.Context) error {
	cfg := a.cfg
	if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("--dir %s is not a folder", cfg.Dir)
	}
	for _, name := range []string{"roles.json", "model.json"} {
		_ = a.checkRemoved(name) // nothing was seen before the start: this only notes the files
	}
	pol, err := roles.Load(a.path("roles.json"))
	if err != nil {
		return err
	}
	a.roles.Store(pol)

	model, err := datastore.LoadModel(a.path("model.json"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.path("data"), 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	dbPath := a.path("data", "gatehouse.db")
	_, statErr := os.Stat(dbPath)
	firstStart := errors.Is(statErr, os.ErrNotExist)
	a.db, err = datastore.Open(ctx, dbPath, model, datastore.Options{Logger: a.log.With("component", "datastore")})
	if err != nil {
		return err
	}
	if firstStart {
		if err := a.seed(ctx); err != nil {
			return err
		}
	}

	a.engine, err = engine.New(engine.Options{
		Dir: a.path("scripts"), Timeout: cfg.ScriptTimeout, MaxHeap: int64(cfg.ScriptMaxHeap),
		Logger:  a.log.With("component", "scripts"),
		Globals: []engine.Global{dsjs.New(a.db)},
	})
	if err != nil {
		return err
	}

	a.warnDangling()

	keys, err := a.cookieKeys()
	if err != nil {
		return err
	}
	codec, err := sessions.NewCodec(keys)
	if err != nil {
		return err
	}
	store := sessions.NewMemoryStore(cfg.MaxGuestSessions)
	a.sessions = sessions.NewManager(sessions.Config{
		Store: store, IdleTimeout: cfg.IdleTimeout, MinIdle: cfg.MinIdleTimeout, MaxIdle: cfg.MaxIdleTimeout,
		Licences: cfg.Licenses, Logger: a.log.With("component", "sessions"),
	})
	if err := a.sessions.Open(); err != nil {
		return err
	}
	sameSite, _ := cfg.sameSite()
	proxies, _ := cfg.proxies() // validated with the flags
	a.server, err = rest.New(rest.Config{
		Sessions: a.sessions, Codec: codec, Throttle: sessions.NewThrottle(store, sessions.ThrottleConfig{}),
		Roles: a.roles.Load, Scripts: a.engine, Data: a.db, ReloadErrors: a.reloadErrors,
		WebDir: a.existing("web"), WebFormsDir: a.existing("webforms"),
		CookieName: cfg.CookieName, CookieSecure: cfg.CookieSecure, CookieSameSite: sameSite, TrustedProxies: proxies,
		MaxBody: int64(cfg.MaxBody), Version: versionString(), Logger: a.log,
	})
	if err != nil {
		return err
	}
	a.http = &http.Server{
		Handler:           a.server,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}

	a.watcher = watch.New(watch.Options{
		Paths:    []string{a.path("scripts"), a.path("roles.json"), a.path("model.json")},
		OnChange: func() { a.reload(context.Background()) },
		Logger:   a.log.With("component", "watch"),
	})
	return a.watcher.Open()
}

// seed loads seed.json into the new database (first start only), so the demo app has
// data to show.
func (a *app) seed(ctx context.Context) error {
	data, err := os.ReadFile(a.path("seed.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := a.db.Seed(ctx, data)
	if err != nil {
		return fmt.Errorf("seed.json: %w", err)
	}
	a.log.Info("database seeded", "file", "seed.json", "entities", n)
	return nil
}

// existing returns the app folder's sub-folder name if it exists, else "".
func (a *app) existing(name string) string {
	p := a.path(name)
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p
	}
	return ""
}

// cookieKeys come from GATEHOUSE_COOKIE_HASH_KEY / _BLOCK_KEY, else data/cookie.keys
// (created with a random key on first start).
func (a *app) cookieKeys() ([]sessions.KeyPair, error) {
	if a.cfg.CookieHashKey != "" {
		return sessions.ParseKeys(a.cfg.CookieHashKey, a.cfg.CookieBlockKey)
	}
	if a.cfg.CookieBlockKey != "" {
		return nil, errors.New("GATEHOUSE_COOKIE_BLOCK_KEY is set without GATEHOUSE_COOKIE_HASH_KEY")
	}
	return sessions.LoadOrCreateKeyFile(a.path("data", "cookie.keys"))
}

// reload re-reads roles.json, model.json and the scripts after a change. Each part that
// does not validate keeps its last good version: gatehouse never fails open.
func (a *app) reload(ctx context.Context) {
	err := a.checkRemoved("roles.json")
	var pol *roles.Config
	if err == nil {
		pol, err = roles.Load(a.path("roles.json"))
	}
	if err != nil {
		a.log.Error("roles.json rejected: keeping the last good version", "err", err)
	} else if old := a.roles.Swap(pol); old.ForceLogin() != pol.ForceLogin() {
		a.log.Info("login mode changed for new sessions", "forceLogin", pol.ForceLogin())
	}
	a.setRejected("roles", err)

	err = a.checkRemoved("model.json")
	var model *datastore.Model
	if err == nil {
		model, err = datastore.LoadModel(a.path("model.json"))
	}
	if err == nil {
		err = a.db.SetModel(ctx, model)
	}
	if err != nil {
		a.log.Error("model.json rejected: keeping the last good version", "err", err)
	}
	a.setRejected("model", err)

	err = a.engine.Reload()
	if err != nil {
		a.log.Error("scripts rejected: keeping the last good version", "err", err)
	} else {
		a.log.Info("scripts reloaded")
	}
	a.warnDangling()
	if a.hooks.reloaded != nil {
		a.hooks.reloaded <- err
	}
}

// warnDangling logs the permissions that name nothing (gatehouse check reports them as
// errors; a running server only warns, since a model or script may be mid-edit).
func (a *app) warnDangling() {
	for _, p := range danglingPermissions(a.roles.Load(), a.db.Model(), hasFunction(a.engine)) {
		a.log.Warn("permission names nothing", "problem", p)
	}
}

// checkRemoved reports, as an error, that the app file name was removed after the server
// ran with it. Falling back to a missing file's default would open everything (no
// roles.json) or hide every dataclass (no model.json) because of a mistake or an editor
// that deletes before it writes, so a reload keeps the last good version instead; a
// restart accepts the absence. It runs on the watcher's goroutine (and once in open).
func (a *app) checkRemoved(name string) error {
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	if _, err := os.Stat(a.path(name)); !errors.Is(err, os.ErrNotExist) {
		a.seen[name] = true
		return nil
	}
	if a.seen[name] {
		return fmt.Errorf("%s was removed: keeping the last good version (restart to serve without it)", name)
	}
	return nil
}

func (a *app) setRejected(part string, err error) {
	a.rejectedMu.Lock()
	defer a.rejectedMu.Unlock()
	if a.rejected == nil {
		a.rejected = map[string]error{}
	}
	a.rejected[part] = err
}

// reloadErrors is what $info shows of rejected reloads.
func (a *app) reloadErrors() map[string]error {
	a.rejectedMu.Lock()
	defer a.rejectedMu.Unlock()
	out := map[string]error{"roles": nil, "model": nil}
	for k, v := range a.rejected {
		out[k] = v
	}
	return out
}

// close stops every part, in reverse order of dependence; the session manager's close
// releases every licence still held.
func (a *app) close() error {
	var errs []error
	if a.watcher != nil {
		errs = append(errs, a.watcher.Close())
	}
	if a.sessions != nil {
		if st, err := a.sessions.Stats(context.Background()); err == nil && st.Licensed > 0 {
			a.log.Info("releasing licences", "count", st.Licensed)
		}
		errs = append(errs, a.sessions.Close())
	}
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	return errors.Join(errs...)
}

// errCheckFailed makes `gatehouse check` exit 1 after printing its findings.
var errCheckFailed = errors.New("check failed")

// check validates an app folder without serving it and prints every problem.
func check(args []string, stdout io.Writer) error {
	cfg, err := parseServeFlags(args, func(string) string { return "" }, stdout)
	if err != nil {
		return err
	}
	var problems []string
	add := func(err error) {
		if err == nil {
			return
		}
		problems = append(problems, strings.Split(err.Error(), "\n")...)
	}
	pol, rolesErr := roles.Load(filepath.Join(cfg.Dir, "roles.json"))
	add(rolesErr)
	model, modelErr := datastore.LoadModel(filepath.Join(cfg.Dir, "model.json"))
	add(modelErr)
	scriptsErr := engine.Check(filepath.Join(cfg.Dir, "scripts"))
	add(scriptsErr)
	if rolesErr == nil && modelErr == nil && scriptsErr == nil {
		// Everything loads: check that the permissions name things that exist.
		eng, err := engine.New(engine.Options{Dir: filepath.Join(cfg.Dir, "scripts")})
		if err != nil {
			add(err)
		} else {
			problems = append(problems, danglingPermissions(pol, model, hasFunction(eng))...)
		}
	}
	if len(problems) == 0 {
		fmt.Fprintln(stdout, "ok: roles.json, model.json and scripts are valid")
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	return errCheckFailed
}
