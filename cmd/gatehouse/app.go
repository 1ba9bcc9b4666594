package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"gatehouse/core"
	gatehouse "gatehouse/server"
)

// hooks let tests follow the server: each channel, when not nil, is sent to.
type hooks struct {
	ready    chan<- string // the listening address, once serving
	reloaded chan<- error  // after each reload of the app folder (nil error: accepted)
	metrics  chan<- string // the metrics address, once serving (--metrics-addr)
	help     io.Writer     // where --help goes (nil: stderr)
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then shuts down
// gracefully: in-flight requests finish, then every part closes.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, h hooks) error {
	help := h.help
	if help == nil {
		help = stderr
	}
	cfg, err := parseServeFlags(args, getenv, help)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	cfg.warn(log)
	sc := cfg.serverConfig(log)
	if h.reloaded != nil {
		sc.OnReload = func(err error) { h.reloaded <- err }
	}
	srv, err := gatehouse.New(ctx, sc)
	if err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(cfg, srv, log, h.metrics)
	if err != nil {
		srv.Close()
		return err
	}
	defer stopMetrics()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("gatehouse serving", "addr", cfg.scheme()+"://"+ln.Addr().String(), "dir", cfg.Dir,
		"version", versionString(), "forceLogin", srv.App().Generation().ForceLogin(), "licenses", cfg.Licenses)
	if h.ready != nil {
		h.ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		srv.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running at shutdown deadline", "err", err)
	}
	return srv.Close()
}

// serverConfig turns the flags into the server's configuration.
func (c *serveConfig) serverConfig(log *slog.Logger) gatehouse.Config {
	sameSite, _ := c.sameSite() // validated with the flags
	proxies, _ := c.proxies()
	return gatehouse.Config{
		Dir: c.Dir, Database: c.Database, Store: c.Store, Licenses: c.Licenses,
		IdleTimeout: c.IdleTimeout, MinIdleTimeout: c.MinIdleTimeout, MaxIdleTimeout: c.MaxIdleTimeout,
		MaxGuestSessions: c.MaxGuestSessions,
		CookieName:       c.CookieName, CookieSecure: c.CookieSecure, CookieSameSite: sameSite,
		CookieHashKey: c.CookieHashKey, CookieBlockKey: c.CookieBlockKey,
		ScriptTimeout: c.ScriptTimeout, ScriptMaxHeap: int64(c.ScriptMaxHeap),
		MaxBody: int64(c.MaxBody), MaxBinary: int64(c.MaxBinary), MaxConns: c.MaxConns,
		TrustedProxies: proxies, AllowedOrigins: c.origins(),
		Version: versionString(), Logger: log,
		Ops: c.ops(),
	}
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

// errCheckFailed makes `gatehouse check` exit 1 after printing its findings.
var errCheckFailed = errors.New("check failed")

// check validates an app folder without serving it and prints every problem: each file on
// its own, then the generation as a whole (permissions naming nothing, reserved names).
func check(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	dir, err := parseCheckFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	warnings, err := core.Check(ctx, dir)
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	if err == nil {
		fmt.Fprintln(stdout, "ok: roles.json, model.json and scripts are valid")
		return nil
	}
	for _, p := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(stdout, p)
	}
	return errCheckFailed
}
