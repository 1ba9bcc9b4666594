package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	gatehouse "gatehouse/server"
)

// opsConfig is what serve is told about running in production: HTTPS and metrics.
type opsConfig struct {
	TLSCert     string
	TLSKey      string
	MetricsAddr string
}

func (c *serveConfig) opsFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key; re-read when it changes)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the PEM private key of --tls-cert")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this separate address, e.g. 127.0.0.1:9044 (default: off)")
}

func (c *serveConfig) validateOps() error {
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return fmt.Errorf("--tls-cert %q and --tls-key %q: give both or neither", c.TLSCert, c.TLSKey)
	case c.TLSCert != "":
		for flagName, path := range map[string]string{"tls-cert": c.TLSCert, "tls-key": c.TLSKey} {
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("--%s %s: %w", flagName, path, errors.Unwrap(err))
			}
		}
	}
	if c.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr %q: not host:port (e.g. 127.0.0.1:9044)", c.MetricsAddr)
		}
		if c.MetricsAddr == c.Addr && port != "0" {
			return fmt.Errorf("--metrics-addr %q: must differ from --addr", c.MetricsAddr)
		}
	}
	return nil
}

// warn logs the settings that are valid but probably not what was meant.
func (c *serveConfig) warn(log *slog.Logger) {
	if c.IdleTimeout < c.MinIdleTimeout {
		log.Warn(fmt.Sprintf("--idle-timeout %v is below --min-idle-timeout %v: sessions get %v (lower --min-idle-timeout to allow shorter sessions)",
			c.IdleTimeout, c.MinIdleTimeout, c.MinIdleTimeout))
	}
	if c.IdleTimeout > c.MaxIdleTimeout {
		log.Warn(fmt.Sprintf("--idle-timeout %v is above --max-idle-timeout %v: sessions get %v",
			c.IdleTimeout, c.MaxIdleTimeout, c.MaxIdleTimeout))
	}
	if c.CookieSecure == "false" && c.TLSCert != "" {
		log.Warn("--cookie-secure false with HTTPS: the session cookie may leak over plain HTTP")
	}
}

func (c *serveConfig) ops() gatehouse.Ops {
	return gatehouse.Ops{TLSCert: c.TLSCert, TLSKey: c.TLSKey, Metrics: c.MetricsAddr != ""}
}

// scheme is how clients reach the server.
func (c *serveConfig) scheme() string {
	if c.TLSCert != "" {
		return "https"
	}
	return "http"
}

// serveMetrics serves srv's metrics on --metrics-addr until the returned stop is called.
// Without --metrics-addr it does nothing.
func serveMetrics(c *serveConfig, srv *gatehouse.Server, log *slog.Logger, ready chan<- string) (stop func(), err error) {
	if c.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", c.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.Metrics())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics serving", "addr", "http://"+ln.Addr().String()+"/metrics")
	if ready != nil {
		ready <- ln.Addr().String()
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		<-done
	}, nil
}
