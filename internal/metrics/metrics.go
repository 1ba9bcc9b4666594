// Package metrics holds gatehouse's Prometheus series (SPEC §10) on a registry of its own,
// served by Handler on a separate address (--metrics-addr). The parts of the server report
// to it through small methods; gauges of state (sessions, licences, the generation) are read
// from a Source at each scrape, so nothing is kept twice.
//
// Labels are bounded by construction: an HTTP route is the router's pattern
// ("/rest/{dataClass}"), never the raw URL; a script function is one the app folder
// exports; no label ever carries a user name, address or session.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is the state the gauges show, read at each scrape.
type Snapshot struct {
	Sessions   int   // live sessions
	Guests     int   // of which guests (no authentication, no grant)
	Licensed   int   // of which holding a licence
	LicenceCap int   // --licenses; 0 = unlimited
	Generation int64 // the generation in force
}

// Source reads a Snapshot; an error is counted and the gauges are left out of that scrape.
type Source func(ctx context.Context) (Snapshot, error)

// Outcomes of a login and of a script call.
const (
	Accepted = "accepted"
	Refused  = "refused"
	OK       = "ok"
	Failed   = "error"
	Timeout  = "timeout"
)

// Metrics is the set of series. Its methods are safe for concurrent use; a nil *Metrics
// records nothing, so that the parts never test for it.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	logins         *prometheus.CounterVec
	throttled      prometheus.Counter
	licenceRefused prometheus.Counter
	scriptCalls    *prometheus.CounterVec
	scriptDuration *prometheus.HistogramVec
	scriptTimeouts prometheus.Counter
	reloads        *prometheus.CounterVec
	backendErrors  *prometheus.CounterVec
	adminActions   *prometheus.CounterVec
}

// New returns the series, registered with the Go runtime's and the process's, reading the
// gauges from src.
func New(src Source) *Metrics {
	const ns = "gatehouse"
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code."}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "logins_total",
		Help: "Logins checked by onRESTAuthentication, by outcome (accepted, refused, error)."}, []string{"outcome"})
	m.throttled = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "login_throttled_total",
		Help: "Login attempts refused by the throttle (429)."})
	m.licenceRefused = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "licence_refusals_total",
		Help: "Requests refused because every licence was held (402)."})
	m.scriptCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "script_calls_total",
		Help: "Script function calls, by function (module.function) and outcome (ok, error, timeout)."}, []string{"function", "outcome"})
	m.scriptDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "script_call_duration_seconds",
		Help:    "Time a script function call took, by function.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"function"})
	m.scriptTimeouts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "script_timeouts_total",
		Help: "Script calls stopped at --script-timeout (or their memory limit)."})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "reloads_total",
		Help: "Reloads of the app folder, by outcome (accepted, rejected)."}, []string{"outcome"})
	m.backendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backend_errors_total",
		Help: "Requests that failed because the session store or the database failed, by part (store, database)."}, []string{"part"})
	m.adminActions = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "admin_actions_total",
		Help: "Actions taken in the admin console, by action."}, []string{"action"})
	for _, o := range []string{Accepted, Refused, Failed} {
		m.logins.WithLabelValues(o)
	}
	for _, o := range []string{Accepted, "rejected"} {
		m.reloads.WithLabelValues(o)
	}
	for _, p := range []string{"store", "database"} {
		m.backendErrors.WithLabelValues(p)
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.logins, m.throttled, m.licenceRefused,
		m.scriptCalls, m.scriptDuration, m.scriptTimeouts, m.reloads, m.backendErrors, m.adminActions,
		&state{src: src, errors: m.backendErrors.WithLabelValues("store")},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the series in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry the series are on (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request counts an HTTP answer. route is the router's pattern, or a fixed placeholder.
func (m *Metrics) Request(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// Login counts a login by outcome (Accepted, Refused, Failed).
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// Throttled counts a login attempt refused by the throttle.
func (m *Metrics) Throttled() {
	if m != nil {
		m.throttled.Inc()
	}
}

// LicenceRefused counts a request refused for want of a licence.
func (m *Metrics) LicenceRefused() {
	if m != nil {
		m.licenceRefused.Inc()
	}
}

// ScriptCall counts a call of function (module.function) by outcome (OK, Failed, Timeout).
func (m *Metrics) ScriptCall(function, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.scriptCalls.WithLabelValues(function, outcome).Inc()
	m.scriptDuration.WithLabelValues(function).Observe(d.Seconds())
	if outcome == Timeout {
		m.scriptTimeouts.Inc()
	}
}

// Reload counts a reload of the app folder: err nil when accepted.
func (m *Metrics) Reload(err error) {
	if m == nil {
		return
	}
	if err == nil {
		m.reloads.WithLabelValues(Accepted).Inc()
	} else {
		m.reloads.WithLabelValues("rejected").Inc()
	}
}

// BackendError counts a request that failed in part ("store" or "database").
func (m *Metrics) BackendError(part string) {
	if m != nil {
		m.backendErrors.WithLabelValues(part).Inc()
	}
}

// AdminAction counts an action of the admin console.
func (m *Metrics) AdminAction(action string) {
	if m != nil {
		m.adminActions.WithLabelValues(action).Inc()
	}
}

// state is the collector of the gauges read from the Source at each scrape.
type state struct {
	src    Source
	errors prometheus.Counter
}

var (
	descSessions   = prometheus.NewDesc("gatehouse_sessions", "Live sessions.", nil, nil)
	descGuests     = prometheus.NewDesc("gatehouse_guest_sessions", "Live sessions never authenticated nor granted privileges.", nil, nil)
	descLicensed   = prometheus.NewDesc("gatehouse_licences_held", "Sessions holding a licence.", nil, nil)
	descCap        = prometheus.NewDesc("gatehouse_licences_max", "Licences at most (--licenses); 0 = unlimited.", nil, nil)
	descGeneration = prometheus.NewDesc("gatehouse_generation", "Sequence number of the app folder's generation in force.", nil, nil)
)

func (c *state) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descGuests, descLicensed, descCap, descGeneration} {
		ch <- d
	}
}

func (c *state) Collect(ch chan<- prometheus.Metric) {
	if c.src == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.src(ctx)
	if err != nil {
		c.errors.Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(s.Sessions))
	ch <- prometheus.MustNewConstMetric(descGuests, prometheus.GaugeValue, float64(s.Guests))
	ch <- prometheus.MustNewConstMetric(descLicensed, prometheus.GaugeValue, float64(s.Licensed))
	ch <- prometheus.MustNewConstMetric(descCap, prometheus.GaugeValue, float64(s.LicenceCap))
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(s.Generation))
}
