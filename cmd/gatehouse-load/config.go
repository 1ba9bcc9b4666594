package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds of a run: load stays modest and finite whatever the flags say.
const (
	maxClients  = 1000
	maxDuration = 10 * time.Minute
	maxRequests = 10_000_000
)

// config is what the flags say.
type config struct {
	Scenario    string
	Clients     int
	Duration    time.Duration
	Requests    int // total across clients; 0 = run for Duration
	URL         string
	App         string
	User        string
	Password    string
	CompareBare bool
	Timeout     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("gatehouse-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Scenario, "scenario", "login", "login, authentify, list or function")
	fs.IntVar(&c.Clients, "clients", 8, "concurrent keep-alive clients, each with its own cookie jar")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to run (at most 10m)")
	fs.IntVar(&c.Requests, "requests", 0, "run this many requests in all instead of for --duration")
	fs.StringVar(&c.URL, "url", "", "a running gatehouse on a loopback address (default: start one in this process)")
	fs.StringVar(&c.App, "app", ".", "the demo app folder copied for the in-process gatehouse")
	fs.StringVar(&c.User, "user", "", "user name (default: the demo's, for the scenario)")
	fs.StringVar(&c.Password, "password", "", "password (default: the demo's, for the scenario)")
	fs.BoolVar(&c.CompareBare, "compare-bare", false, "also run against a bare gorilla/mux handler and print the ratio")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "limit for one request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gatehouse-load [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

func (c *config) validate() error {
	if _, ok := scenarios[c.Scenario]; !ok {
		names := make([]string, 0, len(scenarios))
		for n := range scenarios {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("--scenario %q: want one of %s", c.Scenario, strings.Join(names, ", "))
	}
	switch {
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("--clients must be between 1 and %d", maxClients)
	case c.Requests < 0 || c.Requests > maxRequests:
		return fmt.Errorf("--requests must be between 0 and %d", maxRequests)
	case c.Requests == 0 && (c.Duration <= 0 || c.Duration > maxDuration):
		return fmt.Errorf("--duration must be positive and at most %v", maxDuration)
	case c.Timeout <= 0:
		return errors.New("--timeout must be positive")
	case (c.User == "") != (c.Password == ""):
		return errors.New("--user and --password go together")
	}
	if c.URL != "" {
		return checkLoopback(c.URL)
	}
	return nil
}

// checkLoopback refuses any URL that is not http on a loopback address: the tool is for
// measuring one's own server, not for loading anyone else's.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("--url %q: want http://<loopback address>:<port>", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--url %q: only loopback addresses (127.0.0.1, ::1, localhost) may be loaded", raw)
}

// bound says how long the run lasts.
func (c *config) bound() string {
	if c.Requests > 0 {
		return fmt.Sprintf("%d requests", c.Requests)
	}
	return c.Duration.String()
}

// credentials are --user/--password, else the demo account the scenario logs in with.
func (c *config) credentials() credentials {
	if c.User != "" {
		return credentials{c.User, c.Password}
	}
	return scenarios[c.Scenario].demo
}
