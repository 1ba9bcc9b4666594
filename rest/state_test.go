package rest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type otherKey struct{}

// stateServer is the least a Server needs to run requestState.
func stateServer() *Server {
	return &Server{log: slog.New(slog.DiscardHandler), cfg: Config{MaxBody: 1 << 20, MaxBinary: 1 << 20}}
}

// The state is the request's context: it answers for itself and passes everything else to
// the server's context, so that what is derived from it is cancelled with the request.
func TestStateIsTheRequestContext(t *testing.T) {
	s := stateServer()
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadlineCause(context.WithValue(context.Background(), otherKey{}, "v"), deadline, nil)
	defer cancel()
	cause := errors.New("client went away")
	parent, cancelCause := context.WithCancelCause(parent)

	var ran bool
	h := s.requestState(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		st := stateOf(r)
		if st == nil {
			t.Fatal("no state")
		}
		ctx := r.Context()
		if got := ctx.Value(stateKey{}); got != st {
			t.Errorf("Value(stateKey) = %v, want the state", got)
		}
		if got := ctx.Value(otherKey{}); got != "v" {
			t.Errorf("Value(otherKey) = %v, want the server context's value", got)
		}
		if got, ok := ctx.Deadline(); !ok || !got.Equal(deadline) {
			t.Errorf("Deadline = %v, %v; want %v, true", got, ok, deadline)
		}
		// A request that mux copies (route variables in a context value) still finds it.
		copied := r.WithContext(context.WithValue(ctx, otherKey{}, "w"))
		if stateOf(copied) != st {
			t.Error("a copied request lost the state")
		}
		child, stop := context.WithCancel(ctx)
		defer stop()
		after := make(chan struct{})
		context.AfterFunc(ctx, func() { close(after) })
		if child.Err() != nil || ctx.Err() != nil {
			t.Fatal("cancelled before the server cancelled")
		}
		cancelCause(cause)
		// Cancellation reaches what was derived from the state when the cancel returns (as
		// from the server's context itself): nothing to wait for but the AfterFunc's goroutine.
		if !errors.Is(child.Err(), context.Canceled) || !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("after cancel: child %v, request %v; want both cancelled", child.Err(), ctx.Err())
		}
		if got := context.Cause(child); got != cause {
			t.Errorf("Cause = %v, want %v", got, cause)
		}
		select {
		case <-ctx.Done():
		default:
			t.Error("Done not closed")
		}
		<-after
	}))
	r := httptest.NewRequest(http.MethodGet, "/rest/$directory/currentUser", nil).WithContext(parent)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !ran {
		t.Fatal("the handler did not run")
	}
}

// The chain passes on its own request, not the server's: the body limit replaces Body in
// it, never in the request the server holds.
func TestStateLeavesTheServersRequestAlone(t *testing.T) {
	s := stateServer()
	r := httptest.NewRequest(http.MethodPost, "/rest/$directory/login", strings.NewReader(`["a","b"]`))
	body := r.Body
	var inner *http.Request
	h := s.requestState(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { inner = r }))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if inner == r || inner == nil {
		t.Fatal("the handler got the server's request")
	}
	if r.Body != body || r.Context() != context.Background() {
		t.Error("the server's request was changed")
	}
	if inner.Body == body {
		t.Error("the chain's request has no body limit")
	}
}

// A request ID is the client's when valid, else 16 new hex digits, different each time,
// and answered in X-Request-Id.
func TestRequestIDs(t *testing.T) {
	s := stateServer()
	var id string
	h := s.requestState(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { id = stateOf(r).id() }))
	seen := map[string]bool{}
	for range 100 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/rest/$info", nil))
		if len(id) != 16 || !validRequestID(id) || w.Header().Get("X-Request-Id") != id {
			t.Fatalf("id %q, header %q: want 16 hex digits in both", id, w.Header().Get("X-Request-Id"))
		}
		for _, c := range []byte(id) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				t.Fatalf("id %q is not hex", id)
			}
		}
		if seen[id] {
			t.Fatalf("id %q given twice", id)
		}
		seen[id] = true
	}
	// Every ID stays as it was given, whatever came after it.
	for old := range seen {
		if len(old) != 16 || !validRequestID(old) {
			t.Fatalf("id %q changed", old)
		}
	}
	for _, tc := range []struct{ sent, want string }{
		{"abc-DEF_1.2", "abc-DEF_1.2"},
		{"bad id", ""},
		{"", ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/rest/$info", nil)
		if tc.sent != "" {
			r.Header.Set("X-Request-Id", tc.sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if tc.want != "" && id != tc.want || tc.want == "" && (id == tc.sent || len(id) != 16) {
			t.Errorf("sent %q: id %q", tc.sent, id)
		}
		if got := w.Header().Get("X-Request-Id"); got != id {
			t.Errorf("sent %q: header %q, want %q", tc.sent, got, id)
		}
	}
}

func TestRouteVars(t *testing.T) {
	for _, tc := range []struct {
		vars      routeVars
		name, val string
		ok        bool
	}{
		{routeVars{}, "name", "", false},
		{routeVars{}, "", "", false},
		{routeVars{names: &nameVarNames, values: [2]string{"f"}}, "name", "f", true},
		{routeVars{names: &nameVarNames, values: [2]string{"f"}}, "fn", "", false},
		{routeVars{names: &nameVarNames, values: [2]string{"f"}}, "", "", false},
		{routeVars{names: &singletonVarNames, values: [2]string{"Cart", "add"}}, "fn", "add", true},
		{routeVars{names: &singletonVarNames, values: [2]string{"Cart", "add"}}, "name", "Cart", true},
		{routeVars{names: &pathVarNames, values: [2]string{"Employees(1)"}}, "path", "Employees(1)", true},
	} {
		if val, ok := tc.vars.get(tc.name); val != tc.val || ok != tc.ok {
			t.Errorf("%v get(%q) = %q, %v; want %q, %v", tc.vars.names, tc.name, val, ok, tc.val, tc.ok)
		}
	}
}
