package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSeriesMove(t *testing.T) {
	snap := Snapshot{Sessions: 3, Guests: 1, Licensed: 2, LicenceCap: 5, Generation: 7}
	m := New(func(context.Context) (Snapshot, error) { return snap, nil })
	m.Request("/rest/{dataClass}", "GET", 200, time.Millisecond)
	m.Request("/rest/{dataClass}", "GET", 200, time.Millisecond)
	m.Login(Refused)
	m.ScriptCall("DataStore.hello", Timeout, time.Second)
	m.Reload(errors.New("roles.json:1:2: bad"))
	m.LicenceRefused()
	m.Throttled()
	for _, c := range []struct {
		got  float64
		want float64
		name string
	}{
		{testutil.ToFloat64(m.httpRequests.WithLabelValues("/rest/{dataClass}", "GET", "200")), 2, "http requests"},
		{testutil.ToFloat64(m.logins.WithLabelValues(Refused)), 1, "refused logins"},
		{testutil.ToFloat64(m.scriptTimeouts), 1, "script timeouts"},
		{testutil.ToFloat64(m.reloads.WithLabelValues("rejected")), 1, "rejected reloads"},
		{testutil.ToFloat64(m.licenceRefused), 1, "licence refusals"},
		{testutil.ToFloat64(m.throttled), 1, "throttled"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{"gatehouse_sessions 3", "gatehouse_licences_held 2", "gatehouse_licences_max 5",
		"gatehouse_generation 7", `gatehouse_script_calls_total{function="DataStore.hello",outcome="timeout"} 1`,
		"go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if problems, err := testutil.GatherAndLint(m.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.Request("/", "GET", 200, 0)
	m.Login(Accepted)
	m.ScriptCall("f", OK, 0)
	m.Reload(nil)
	m.BackendError("store")
	m.AdminAction("close")
}

func TestSourceErrorIsCounted(t *testing.T) {
	m := New(func(context.Context) (Snapshot, error) { return Snapshot{}, errors.New("store down") })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if got := testutil.ToFloat64(m.backendErrors.WithLabelValues("store")); got != 1 {
		t.Fatalf("store errors: got %v, want 1", got)
	}
}
