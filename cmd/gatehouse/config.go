package main

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// serveConfig is everything `gatehouse serve` is told by flags and environment.
type serveConfig struct {
	Dir              string
	Addr             string
	Licenses         int
	IdleTimeout      time.Duration
	MinIdleTimeout   time.Duration
	MaxIdleTimeout   time.Duration
	CookieName       string
	CookieSecure     string
	CookieSameSite   string
	ScriptTimeout    time.Duration
	ScriptMaxHeap    byteSize
	MaxGuestSessions int
	MaxBody          byteSize
	MaxBinary        byteSize
	TrustedProxies   string
	AllowedOrigins   string
	MaxConns         int
	LogFormat        string
	LogLevel         string
	Database         string // a SQLite file (relative to Dir) or a postgres:// URL
	Store            string // memory, or a redis:// / rediss:// URL shared by a cluster
	opsConfig               // TLS, metrics (ops.go)

	CookieHashKey  string // GATEHOUSE_COOKIE_HASH_KEY (environment only: secrets stay out of argv)
	CookieBlockKey string // GATEHOUSE_COOKIE_BLOCK_KEY
}

// parseServeFlags reads the serve flags; each may also come from GATEHOUSE_<NAME> in env
// (flags win).
// Usage goes to help on -h; other flag errors are returned, not printed.
func parseServeFlags(args []string, getenv func(string) string, help io.Writer) (*serveConfig, error) {
	c := &serveConfig{MaxBody: 1 << 20, MaxBinary: 8 << 20} // (rest.DefaultMaxBinary)
	fs := newFlagSet("serve", "gatehouse [serve] [flags]", "Serve the app folder: the 4D REST API under /rest, web/ at /, the admin console at /admin/.", help)
	fs.StringVar(&c.Dir, "dir", ".", "app folder")
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8044", "listen address: 127.0.0.1:8044 listens on this machine only, :8044 on every interface, :0 on every interface on a free port (logged)")
	fs.IntVar(&c.Licenses, "licenses", 0, "maximum sessions holding a licence at once (0 = unlimited)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 60*time.Minute, "default session inactivity timeout")
	fs.DurationVar(&c.MinIdleTimeout, "min-idle-timeout", 60*time.Minute, "lowest timeout a client or script may ask for")
	fs.DurationVar(&c.MaxIdleTimeout, "max-idle-timeout", 24*time.Hour, "highest timeout a client or script may ask for")
	fs.StringVar(&c.CookieName, "cookie-name", "WASID4D", "session cookie name")
	fs.StringVar(&c.CookieSecure, "cookie-secure", "auto", "auto, true or false")
	fs.StringVar(&c.CookieSameSite, "cookie-samesite", "strict", "strict, lax or none")
	fs.DurationVar(&c.ScriptTimeout, "script-timeout", 5*time.Second, "wall-clock limit for one script call")
	fs.Var(&c.ScriptMaxHeap, "script-max-heap", "Go heap size past which running script calls are stopped (default: 3/4 of GOMEMLIMIT, else 1GiB)")
	fs.IntVar(&c.MaxGuestSessions, "max-guest-sessions", 100000, "guest sessions kept in memory (least recently used evicted)")
	fs.Var(&c.MaxBody, "max-body", "request body limit (e.g. 1MiB, 512KiB)")
	fs.Var(&c.MaxBinary, "max-binary", "largest upload ($upload) for a blob or picture attribute (e.g. 8MiB); --max-body does not apply to it")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated networks (CIDR or address) of reverse proxies whose X-Forwarded-For is believed")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", "", "comma-separated origins (https://app.example.com) besides the server's own whose pages may make requests with the session cookie; they get CORS answers")
	fs.IntVar(&c.MaxConns, "max-conns", 10000, "open client connections at most (more wait in the kernel backlog)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Database, "database", "data/gatehouse.db", "the datastore: a SQLite file (relative to --dir) or postgres://user:password@host:port/dbname (several instances may share it)")
	fs.StringVar(&c.Store, "store", "memory", "where sessions, licences, login counters and one-time tokens live: memory (this process) or redis://[user:pass@]host:port/db, rediss://… (shared by every instance pointing at it)")
	c.opsFlags(fs.FlagSet)
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	c.CookieHashKey = getenv("GATEHOUSE_COOKIE_HASH_KEY")
	c.CookieBlockKey = getenv("GATEHOUSE_COOKIE_BLOCK_KEY")
	return c, c.validate()
}

func (c *serveConfig) validate() error {
	switch {
	case c.Licenses < 0:
		return fmt.Errorf("--licenses %d: must be 0 or more", c.Licenses)
	case c.IdleTimeout <= 0 || c.MinIdleTimeout <= 0 || c.MaxIdleTimeout <= 0:
		return fmt.Errorf("--idle-timeout %v, --min-idle-timeout %v, --max-idle-timeout %v: each must be positive", c.IdleTimeout, c.MinIdleTimeout, c.MaxIdleTimeout)
	case c.MinIdleTimeout > c.MaxIdleTimeout:
		return fmt.Errorf("--min-idle-timeout (%v) is above --max-idle-timeout (%v)", c.MinIdleTimeout, c.MaxIdleTimeout)
	case c.ScriptTimeout <= 0:
		return fmt.Errorf("--script-timeout %v: must be positive", c.ScriptTimeout)
	case c.MaxGuestSessions < 0:
		return fmt.Errorf("--max-guest-sessions %d: must be 0 or more", c.MaxGuestSessions)
	case c.MaxBody <= 0:
		return fmt.Errorf("--max-body must be positive")
	case c.MaxBinary <= 0:
		return fmt.Errorf("--max-binary must be positive")
	case c.MaxConns <= 0:
		return fmt.Errorf("--max-conns %d: must be positive", c.MaxConns)
	case c.CookieName == "" || strings.ContainsAny(c.CookieName, " ;,=\t\r\n"):
		return fmt.Errorf("--cookie-name %q is not a valid cookie name", c.CookieName)
	case c.Store != "memory" && !strings.HasPrefix(c.Store, "redis://") && !strings.HasPrefix(c.Store, "rediss://"):
		// Only the scheme: the rest may hold a password.
		return fmt.Errorf("--store %s: want memory, redis://host:port/db or rediss://…", strings.SplitN(c.Store, "://", 2)[0])
	case c.Database == "":
		return fmt.Errorf("--database is empty: give a SQLite file path or a postgres:// URL")
	case strings.Contains(c.Database, "://") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://"):
		// Only the scheme: the rest may hold a password.
		return fmt.Errorf("--database %s://…: only postgres:// (or postgresql://) URLs and SQLite file paths are supported", strings.SplitN(c.Database, "://", 2)[0])
	}
	if _, err := c.sameSite(); err != nil {
		return err
	}
	if _, err := c.proxies(); err != nil {
		return err
	}
	for _, o := range c.origins() {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return fmt.Errorf("--allowed-origins: %q is not an origin (scheme://host[:port], e.g. https://app.example.com)", o)
		}
	}
	switch c.CookieSecure {
	case "auto", "true", "false":
	default:
		return fmt.Errorf("--cookie-secure %q: must be auto, true or false", c.CookieSecure)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: must be text or json", c.LogFormat)
	}
	return c.validateOps()
}

func (c *serveConfig) sameSite() (http.SameSite, error) {
	switch strings.ToLower(c.CookieSameSite) {
	case "strict":
		return http.SameSiteStrictMode, nil
	case "lax":
		return http.SameSiteLaxMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("--cookie-samesite %q: must be strict, lax or none", c.CookieSameSite)
}

// byteSize is a flag value like "1MiB", "512KiB", "2MB" or "1048576".
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return fmt.Errorf("invalid size (want e.g. 1MiB, 512KiB or a number of bytes)")
	}
	*b = byteSize(n * mult)
	return nil
}

// origins parses --allowed-origins.
func (c *serveConfig) origins() []string {
	var out []string
	for _, o := range strings.Split(c.AllowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// proxies parses --trusted-proxies: CIDR networks or single addresses, comma-separated.
func (c *serveConfig) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(c.TrustedProxies, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither a network (10.0.0.0/8) nor an address", item)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
