package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"gatehouse/datastore"
	"gatehouse/engine"
	"gatehouse/sessions"
)

// ScriptHost is what the core needs of the JavaScript engine (*engine.Engine).
type ScriptHost interface {
	Load(ctx context.Context) (*engine.Scripts, error)
	Authenticate(ctx context.Context, sc *engine.Scripts, s engine.Session, user, password string, isDigest bool, ip string) (bool, error)
	CallOn(ctx context.Context, sc *engine.Scripts, s engine.Session, module string, scope engine.Scope, name string, this any, args []any) (any, error)
}

var _ ScriptHost = (*engine.Engine)(nil)

// Config wires an App. Dir, Engine and Sessions are required.
type Config struct {
	Dir      string // the app folder
	Engine   ScriptHost
	Sessions *sessions.Manager
	Throttle *sessions.Throttle // nil: logins are not throttled
	// Schema applies a new model to the database before the generation holding it comes
	// into force (nil: no database). It must leave the database unchanged when it fails.
	Schema func(ctx context.Context, m *datastore.Model) error
	Logger *slog.Logger
	// OnReload, when set, is called after each reload attempt with its result (tests).
	OnReload func(error)
}

// App is gatehouse's transport-free core: the generation in force and the use cases that
// act on sessions — open or resume a session, log in, call a function, log out — and the
// permission gate. It knows nothing of HTTP: it returns decisions (set the cookie to this
// ID, expire it) that the protocol layer carries out.
type App struct {
	cfg    Config
	log    *slog.Logger
	loader *loader
	gen    atomic.Pointer[Generation]

	reloadMu sync.Mutex // one reload at a time
	errMu    sync.Mutex
	lastErr  error // why the last reload was rejected; nil when it was accepted
}

// New loads the app folder's first generation and applies its model: an invalid file
// refuses the start.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Engine == nil || cfg.Sessions == nil {
		return nil, errors.New("core: Engine and Sessions are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: cfg.Logger, loader: &loader{dir: cfg.Dir, engine: cfg.Engine}}
	g, err := a.loader.load(ctx, nil)
	if err != nil {
		return nil, err
	}
	if cfg.Schema != nil {
		if err := cfg.Schema(ctx, g.Model); err != nil {
			return nil, err
		}
	}
	g.Seq = 1
	for _, w := range g.Warnings {
		a.log.Warn(w)
	}
	a.gen.Store(g)
	return a, nil
}

// Generation returns the generation in force. A request calls it once, and keeps the value.
func (a *App) Generation() *Generation { return a.gen.Load() }

// Sessions returns the session manager.
func (a *App) Sessions() *sessions.Manager { return a.cfg.Sessions }

// Reload loads the app folder again and, when every part loads and validates together,
// applies the new model's schema (only when model.json changed) and swaps the whole
// generation in at once. Any failure keeps the generation in force — gatehouse never fails
// open — and is kept for LastReloadError. Requests in flight finish on the generation they
// pinned. ctx cancels the reload (shutdown).
func (a *App) Reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	prev := a.gen.Load()
	g, err := a.loader.load(ctx, prev)
	if err == nil && a.cfg.Schema != nil && g.ModelChanged(prev) {
		err = a.cfg.Schema(ctx, g.Model)
	}
	if err == nil {
		g.Seq = prev.Seq + 1
		a.gen.Store(g)
		if prev.ForceLogin() != g.ForceLogin() {
			a.log.Info("login mode changed for new sessions", "forceLogin", g.ForceLogin())
		}
		for _, w := range g.Warnings {
			a.log.Warn(w)
		}
		a.log.Info("app reloaded", "generation", g.Seq)
	} else {
		a.log.Error("reload rejected: keeping the last good version", "generation", prev.Seq, "err", err)
	}
	a.errMu.Lock()
	a.lastErr = err
	a.errMu.Unlock()
	if a.cfg.OnReload != nil {
		a.cfg.OnReload(err)
	}
	return err
}

// LastReloadError is why the last reload was rejected (nil when it was accepted, or when
// there was none).
func (a *App) LastReloadError() error {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.lastErr
}
