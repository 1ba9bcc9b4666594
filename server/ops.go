package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"gatehouse/admin"
	"gatehouse/core"
	"gatehouse/engine"
	"gatehouse/internal/metrics"
	"gatehouse/internal/watch"
	"gatehouse/rest"
	"gatehouse/sessions"
)

// Ops are the operational parts of a server's Config: HTTPS, metrics.
type Ops struct {
	// TLSCert and TLSKey are PEM files (certificate chain, private key): when set, Serve
	// speaks HTTPS, and the files are read again whenever they change (a renewal needs no
	// restart; a half-written pair keeps the certificate in use until the pair is whole).
	TLSCert, TLSKey string
	// Metrics turns the Prometheus series on; Server.Metrics serves them.
	Metrics bool
	// OnTLSReload, when set, is called after each reload of the certificate (tests).
	OnTLSReload func(error)
}

// ops is what a Server holds for its operational parts.
type ops struct {
	metrics  *metrics.Metrics // nil when off
	history  *admin.History
	counters *admin.Counters
	cert     *certificate // nil without TLS
}

// openOps sets up metrics and loads the TLS certificate (a bad pair refuses the start).
// The parts that read sessions only do so once New has opened them.
func (s *Server) openOps() error {
	if s.cfg.Metrics {
		s.ops.metrics = metrics.New(s.snapshot)
	}
	s.ops.history = admin.NewHistory(admin.HistoryConfig{
		Read: func(ctx context.Context) (int, error) {
			st, err := s.sessions.Stats(ctx)
			return st.Licensed, err
		},
		Now: s.cfg.Now, Log: s.log.With("component", "admin"),
	})
	if s.cfg.TLSCert != "" || s.cfg.TLSKey != "" {
		if s.cfg.TLSCert == "" || s.cfg.TLSKey == "" {
			return errors.New("TLS needs both a certificate and a key (--tls-cert and --tls-key)")
		}
		c, err := openCertificate(s.cfg.TLSCert, s.cfg.TLSKey, s.log.With("component", "tls"), s.cfg.OnTLSReload)
		if err != nil {
			return err
		}
		s.ops.cert = c
	}
	return nil
}

// closeOps stops what openOps and New started.
func (s *Server) closeOps() error {
	var errs []error
	if s.ops.history != nil {
		errs = append(errs, s.ops.history.Close())
	}
	if s.ops.cert != nil {
		errs = append(errs, s.ops.cert.Close())
	}
	return errors.Join(errs...)
}

// snapshot is what the metrics' gauges show.
func (s *Server) snapshot(ctx context.Context) (metrics.Snapshot, error) {
	if s.sessions == nil || s.app == nil {
		return metrics.Snapshot{}, errors.New("server: starting")
	}
	st, err := s.sessions.Stats(ctx)
	if err != nil {
		return metrics.Snapshot{}, err
	}
	return metrics.Snapshot{
		Sessions: st.Sessions, Guests: st.Guests, Licensed: st.Licensed,
		LicenceCap: s.sessions.Licences(), Generation: int64(s.app.Generation().Seq),
	}, nil
}

// Metrics serves the Prometheus series; nil when Config.Metrics is off.
func (s *Server) Metrics() http.Handler {
	if s.ops.metrics == nil {
		return nil
	}
	return s.ops.metrics.Handler()
}

// TLS reports whether Serve speaks HTTPS.
func (s *Server) TLS() bool { return s.ops.cert != nil }

// tlsListener wraps ln in TLS when a certificate is configured.
func (s *Server) tlsListener(ln net.Listener) net.Listener {
	if s.ops.cert == nil {
		return ln
	}
	return tls.NewListener(ln, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.ops.cert.get,
		NextProtos:     []string{"h2", "http/1.1"},
	})
}

// observer is what rest reports answers to (nil: nothing, and no cost).
func (s *Server) observer() rest.Observer {
	if s.ops.metrics == nil {
		return nil
	}
	return s.ops.metrics
}

// onReload counts a reload and passes it on to Config.OnReload.
func (s *Server) onReload(err error) {
	s.ops.metrics.Reload(err)
	if s.cfg.OnReload != nil {
		s.cfg.OnReload(err)
	}
}

// watchCounters watches the login counters the throttle keeps in store, for the console.
func (s *Server) watchCounters(store sessions.Store, t sessions.ThrottleConfig) sessions.Store {
	// The throttle's defaults (sessions.NewThrottle), for the console's "throttled" mark.
	limits := admin.Limits{PerUser: t.MaxPerUser, PerIP: t.MaxPerIP}
	if limits.PerUser <= 0 {
		limits.PerUser = 10
	}
	if limits.PerIP <= 0 {
		limits.PerIP = 50
	}
	s.ops.counters = admin.WatchCounters(store, limits)
	return s.ops.counters
}

// adminBackend backs the admin console.
func (s *Server) adminBackend() rest.AdminBackend { return consoleBackend{s} }

type consoleBackend struct{ s *Server }

func (b consoleBackend) LicenceHistory() []admin.Sample { return b.s.ops.history.Samples() }

func (b consoleBackend) LoginCounters(now time.Time) []admin.Counter {
	if b.s.ops.counters == nil {
		return []admin.Counter{}
	}
	return b.s.ops.counters.List(now)
}

func (b consoleBackend) ClearLoginCounter(ctx context.Context, key string) (bool, error) {
	c := b.s.ops.counters
	if c == nil || !c.Known(key) {
		return false, nil
	}
	return true, c.ResetHits(ctx, key)
}

// scriptHost is the engine as the core sees it: measured when metrics are on.
func (s *Server) scriptHost() core.ScriptHost {
	if s.ops.metrics == nil {
		return s.engine
	}
	return measuredHost{s.engine, s.ops.metrics}
}

// measuredHost counts logins and script calls.
type measuredHost struct {
	*engine.Engine
	m *metrics.Metrics
}

var _ core.ScriptHost = measuredHost{}

func outcome(err error) string {
	switch {
	case err == nil:
		return metrics.OK
	case errors.Is(err, engine.ErrTimeout), errors.Is(err, engine.ErrMemoryLimit):
		return metrics.Timeout
	}
	return metrics.Failed
}

func (h measuredHost) Authenticate(ctx context.Context, sc *engine.Scripts, ss engine.Session, user, password string, isDigest bool, ip string) (bool, error) {
	start := time.Now()
	ok, err := h.Engine.Authenticate(ctx, sc, ss, user, password, isDigest, ip)
	h.m.ScriptCall("onRESTAuthentication", outcome(err), time.Since(start))
	switch {
	case err != nil:
		h.m.Login(metrics.Failed)
	case ok:
		h.m.Login(metrics.Accepted)
	default:
		h.m.Login(metrics.Refused)
	}
	return ok, err
}

func (h measuredHost) CallOn(ctx context.Context, sc *engine.Scripts, ss engine.Session, module string, scope engine.Scope, name string, this any, args []any) (any, error) {
	start := time.Now()
	v, err := h.Engine.CallOn(ctx, sc, ss, module, scope, name, this, args)
	h.m.ScriptCall(module+"."+name, outcome(err), time.Since(start))
	return v, err
}

// certificate is a TLS key pair read from files, read again when they change.
type certificate struct {
	certFile, keyFile string
	log               *slog.Logger
	onReload          func(error)
	watcher           *watch.Watcher

	mu   sync.RWMutex
	pair *tls.Certificate
}

func openCertificate(certFile, keyFile string, log *slog.Logger, onReload func(error)) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile, log: log, onReload: onReload}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.watcher = watch.New(watch.Options{
		Paths:    []string{certFile, keyFile},
		OnChange: c.reload,
		Logger:   log,
	})
	if err := c.watcher.Open(); err != nil {
		return nil, fmt.Errorf("tls: watch %s: %w", certFile, err)
	}
	return c, nil
}

func (c *certificate) load() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: --tls-cert %s, --tls-key %s: %w", c.certFile, c.keyFile, err)
	}
	c.mu.Lock()
	c.pair = &pair
	c.mu.Unlock()
	return nil
}

// reload reads the pair again; a pair that does not load (half written, mismatched)
// keeps the one in use.
func (c *certificate) reload() {
	err := c.load()
	if err != nil {
		c.log.Warn("certificate not reloaded: keeping the one in use", "err", err)
	} else {
		c.log.Info("certificate reloaded", "cert", c.certFile)
	}
	if c.onReload != nil {
		c.onReload(err)
	}
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.pair, nil
}

func (c *certificate) Close() error { return c.watcher.Close() }
